// The connection layer shared by Producer, Consumer and Admin: one gRPC channel to the bootstrap
// broker, per-call deadlines, and every failure mapped to a WeirError from the one error table.
//
// Why one small class and not a generic proxy: each RPC gets a typed method here, so the rest of
// the SDK never touches grpc-js call signatures or its error objects, and a test can swap the
// whole class for a fake at one seam. A Connection may be shared by several clients (pass it as
// `connection`); a client closes only a connection it made itself.

import * as grpc from '@grpc/grpc-js';
import { WeirError } from '../proto/errors.js';
import { fromServiceError, weirProto } from '../proto/grpc.js';
import type { AlterTopicConfigRequest } from '../proto/generated/weir/v1/AlterTopicConfigRequest.js';
import type { CreatePartitionsRequest } from '../proto/generated/weir/v1/CreatePartitionsRequest.js';
import type { CreateTopicRequest } from '../proto/generated/weir/v1/CreateTopicRequest.js';
import type { DeleteOffsetsRequest } from '../proto/generated/weir/v1/DeleteOffsetsRequest.js';
import type { DeleteOffsetsResponse__Output } from '../proto/generated/weir/v1/DeleteOffsetsResponse.js';
import type { DeleteRecordsRequest } from '../proto/generated/weir/v1/DeleteRecordsRequest.js';
import type { DeleteRecordsResponse__Output } from '../proto/generated/weir/v1/DeleteRecordsResponse.js';
import type { DeleteTopicResponse__Output } from '../proto/generated/weir/v1/DeleteTopicResponse.js';
import type { DescribeGroupRequest } from '../proto/generated/weir/v1/DescribeGroupRequest.js';
import type { FindCoordinatorResponse__Output } from '../proto/generated/weir/v1/FindCoordinatorResponse.js';
import type { GroupDescription__Output } from '../proto/generated/weir/v1/GroupDescription.js';
import type { GroupHeartbeatRequest } from '../proto/generated/weir/v1/GroupHeartbeatRequest.js';
import type { GroupHeartbeatResponse__Output } from '../proto/generated/weir/v1/GroupHeartbeatResponse.js';
import type { ListGroupsResponse__Output } from '../proto/generated/weir/v1/ListGroupsResponse.js';
import type { OffsetCommitRequest } from '../proto/generated/weir/v1/OffsetCommitRequest.js';
import type { OffsetCommitResponse__Output } from '../proto/generated/weir/v1/OffsetCommitResponse.js';
import type { OffsetFetchRequest } from '../proto/generated/weir/v1/OffsetFetchRequest.js';
import type { OffsetFetchResponse__Output } from '../proto/generated/weir/v1/OffsetFetchResponse.js';
import type { ResetOffsetsRequest } from '../proto/generated/weir/v1/ResetOffsetsRequest.js';
import type { ResetOffsetsResponse__Output } from '../proto/generated/weir/v1/ResetOffsetsResponse.js';
import type { FetchRequest } from '../proto/generated/weir/v1/FetchRequest.js';
import type { FetchResponse__Output } from '../proto/generated/weir/v1/FetchResponse.js';
import type { InitProducerIdResponse__Output } from '../proto/generated/weir/v1/InitProducerIdResponse.js';
import type { ListOffsetsRequest } from '../proto/generated/weir/v1/ListOffsetsRequest.js';
import type { ListOffsetsResponse__Output } from '../proto/generated/weir/v1/ListOffsetsResponse.js';
import type { ListTopicsResponse__Output } from '../proto/generated/weir/v1/ListTopicsResponse.js';
import type { MetadataResponse__Output } from '../proto/generated/weir/v1/MetadataResponse.js';
import type { ProduceRequest } from '../proto/generated/weir/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../proto/generated/weir/v1/ProduceResponse.js';
import type { TopicDescription__Output } from '../proto/generated/weir/v1/TopicDescription.js';
import type { WeirClient } from '../proto/generated/weir/v1/Weir.js';
import { intOption } from './options.js';

/** The DESIGN's default bootstrap address, used when neither the option nor WEIR_BOOTSTRAP is set. */
export const DEFAULT_BOOTSTRAP = '127.0.0.1:9093';
export const BOOTSTRAP_ENV = 'WEIR_BOOTSTRAP';
/** Per-call deadline unless a call says otherwise (Kafka's request.timeout.ms). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * grpc-js caps received messages at 4 MiB by default, less than one fetch may carry (fetch
 * maxBytes is 16 MiB by default, and at least one whole batch is always returned however large).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface ConnectionOptions {
  /** `host:port` of a broker. Default: env WEIR_BOOTSTRAP, else 127.0.0.1:9093. */
  bootstrap?: string;
  /** Deadline of each call, ms. Default 30000. */
  requestTimeoutMs?: number;
  /** Largest gRPC message sent or received, bytes. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Extra grpc-js channel options (keepalive, proxies...), applied after weir's own. */
  channelOptions?: grpc.ChannelOptions;
}

/** Per-call overrides. */
export interface CallOptions {
  timeoutMs?: number;
  /** Aborting cancels the call; it then fails with REQUEST_CANCELLED. */
  signal?: AbortSignal;
}

/** Options of a client that may share a connection made elsewhere. */
export interface ClientConnectionOptions extends ConnectionOptions {
  /** Use this connection instead of opening one; the client will not close it. */
  connection?: Connection;
}

/** HTTP/2 receive window of the client's channel (the broker widens its own the same way). */
const FLOW_CONTROL_WINDOW_BYTES = 32 * 1024 * 1024;

/** Validates `host:port` (IPv6 hosts in brackets) and returns it. */
export function parseBootstrap(value: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/,[\]]+):(\d{1,5})$/.exec(value.trim());
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port < 1 || port > 65535) {
    throw new WeirError('INVALID_CONFIG', `bootstrap must be host:port, got '${value}'`);
  }
  return `${match[1]}:${port}`;
}

export function resolveBootstrap(option: string | undefined, env = process.env): string {
  if (option !== undefined) {
    if (typeof option !== 'string') throw new WeirError('INVALID_CONFIG', 'bootstrap must be a string');
    return parseBootstrap(option);
  }
  const fromEnv = env[BOOTSTRAP_ENV];
  return parseBootstrap(fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_BOOTSTRAP);
}

type Start<Res> = (
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

export class Connection {
  readonly address: string;
  readonly requestTimeoutMs: number;
  private readonly client: WeirClient;
  private closed = false;

  constructor(options: ConnectionOptions = {}) {
    this.address = resolveBootstrap(options.bootstrap);
    this.requestTimeoutMs = intOption(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      DEFAULT_REQUEST_TIMEOUT_MS,
      1,
      2 ** 31 - 1,
    );
    const maxMessageBytes = intOption(
      'maxMessageBytes',
      options.maxMessageBytes,
      DEFAULT_MAX_MESSAGE_BYTES,
      1024,
      2 ** 31 - 1,
    );
    const Weir = weirProto().weir.v1.Weir;
    this.client = new Weir(this.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
      // A produce stream or a long-poll can sit idle for a while; keepalive pings find a dead
      // peer (a killed broker, a cut network) instead of waiting on it until the deadline.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // Reconnect as Kafka clients do (reconnect.backoff.ms 50, .max.ms 1000) rather than grpc's
      // 1 s growing to 2 min: a producer retrying through a broker restart would otherwise wait
      // long after the broker is back.
      'grpc.initial_reconnect_backoff_ms': 50,
      'grpc.max_reconnect_backoff_ms': 1000,
      // HTTP/2 lets the broker send only 64 KiB per stream before this client grants more, so a
      // 1 MiB fetch answer would take many round trips; a wide window lets it arrive at once.
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
      ...options.channelOptions,
    });
  }

  /** The caller's connection, or a new one the caller owns (and must close). */
  static from(options: ClientConnectionOptions): { connection: Connection; owned: boolean } {
    if (options.connection !== undefined) {
      if (!(options.connection instanceof Connection)) {
        throw new WeirError('INVALID_CONFIG', 'connection must be a Connection');
      }
      return { connection: options.connection, owned: false };
    }
    return { connection: new Connection(options), owned: true };
  }

  getMetadata(topics: readonly string[], call?: CallOptions): Promise<MetadataResponse__Output> {
    return this.unary((m, o, cb) => this.client.GetMetadata({ topics: [...topics] }, m, o, cb), call);
  }

  createTopic(request: CreateTopicRequest, call?: CallOptions): Promise<TopicDescription__Output> {
    return this.unary((m, o, cb) => this.client.CreateTopic(request, m, o, cb), call);
  }

  deleteTopic(name: string, call?: CallOptions): Promise<DeleteTopicResponse__Output> {
    return this.unary((m, o, cb) => this.client.DeleteTopic({ name }, m, o, cb), call);
  }

  listTopics(includeInternal: boolean, call?: CallOptions): Promise<ListTopicsResponse__Output> {
    return this.unary((m, o, cb) => this.client.ListTopics({ includeInternal }, m, o, cb), call);
  }

  describeTopic(name: string, call?: CallOptions): Promise<TopicDescription__Output> {
    return this.unary((m, o, cb) => this.client.DescribeTopic({ name }, m, o, cb), call);
  }

  alterTopicConfig(request: AlterTopicConfigRequest, call?: CallOptions): Promise<TopicDescription__Output> {
    return this.unary((m, o, cb) => this.client.AlterTopicConfig(request, m, o, cb), call);
  }

  createPartitions(request: CreatePartitionsRequest, call?: CallOptions): Promise<TopicDescription__Output> {
    return this.unary((m, o, cb) => this.client.CreatePartitions(request, m, o, cb), call);
  }

  initProducerId(call?: CallOptions): Promise<InitProducerIdResponse__Output> {
    return this.unary((m, o, cb) => this.client.InitProducerId({}, m, o, cb), call);
  }

  produce(request: ProduceRequest, call?: CallOptions): Promise<ProduceResponse__Output> {
    return this.unary((m, o, cb) => this.client.Produce(request, m, o, cb), call);
  }

  fetch(request: FetchRequest, call?: CallOptions): Promise<FetchResponse__Output> {
    return this.unary((m, o, cb) => this.client.Fetch(request, m, o, cb), call);
  }

  listOffsets(request: ListOffsetsRequest, call?: CallOptions): Promise<ListOffsetsResponse__Output> {
    return this.unary((m, o, cb) => this.client.ListOffsets(request, m, o, cb), call);
  }

  deleteRecords(request: DeleteRecordsRequest, call?: CallOptions): Promise<DeleteRecordsResponse__Output> {
    return this.unary((m, o, cb) => this.client.DeleteRecords(request, m, o, cb), call);
  }

  /** A new bidirectional produce stream; no deadline, since it lives as long as the producer. */
  openProduceStream(): grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output> {
    this.checkOpen();
    return this.client.ProduceStream();
  }

  // ---- consumer groups ----

  findCoordinator(groupId: string, call?: CallOptions): Promise<FindCoordinatorResponse__Output> {
    return this.unary((m, o, cb) => this.client.FindCoordinator({ groupId }, m, o, cb), call);
  }

  groupHeartbeat(
    request: GroupHeartbeatRequest,
    call?: CallOptions,
  ): Promise<GroupHeartbeatResponse__Output> {
    return this.unary((m, o, cb) => this.client.GroupHeartbeat(request, m, o, cb), call);
  }

  offsetCommit(request: OffsetCommitRequest, call?: CallOptions): Promise<OffsetCommitResponse__Output> {
    return this.unary((m, o, cb) => this.client.OffsetCommit(request, m, o, cb), call);
  }

  offsetFetch(request: OffsetFetchRequest, call?: CallOptions): Promise<OffsetFetchResponse__Output> {
    return this.unary((m, o, cb) => this.client.OffsetFetch(request, m, o, cb), call);
  }

  listGroups(call?: CallOptions): Promise<ListGroupsResponse__Output> {
    return this.unary((m, o, cb) => this.client.ListGroups({}, m, o, cb), call);
  }

  describeGroup(request: DescribeGroupRequest, call?: CallOptions): Promise<GroupDescription__Output> {
    return this.unary((m, o, cb) => this.client.DescribeGroup(request, m, o, cb), call);
  }

  async deleteGroup(groupId: string, call?: CallOptions): Promise<void> {
    await this.unary((m, o, cb) => this.client.DeleteGroup({ groupId }, m, o, cb), call);
  }

  resetOffsets(request: ResetOffsetsRequest, call?: CallOptions): Promise<ResetOffsetsResponse__Output> {
    return this.unary((m, o, cb) => this.client.ResetOffsets(request, m, o, cb), call);
  }

  deleteOffsets(request: DeleteOffsetsRequest, call?: CallOptions): Promise<DeleteOffsetsResponse__Output> {
    return this.unary((m, o, cb) => this.client.DeleteOffsets(request, m, o, cb), call);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new WeirError('REQUEST_CANCELLED', 'connection is closed');
  }

  private unary<Res>(start: Start<Res>, call: CallOptions | undefined): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.checkOpen();
      const signal = call?.signal;
      if (signal?.aborted === true) {
        reject(new WeirError('REQUEST_CANCELLED', 'aborted before the call started'));
        return;
      }
      const deadline = Date.now() + (call?.timeoutMs ?? this.requestTimeoutMs);
      let onAbort: (() => void) | null = null;
      const pending = start(new grpc.Metadata(), { deadline }, (err, response) => {
        if (onAbort !== null) signal!.removeEventListener('abort', onAbort);
        if (err !== null) reject(fromServiceError(err));
        else if (response === undefined) reject(new WeirError('UNKNOWN_SERVER_ERROR', 'empty response'));
        else resolve(response);
      });
      if (signal !== undefined) {
        onAbort = () => pending.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }
}
