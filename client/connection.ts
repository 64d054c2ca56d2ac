// The connection layer shared by Producer, Consumer and Admin: a gRPC channel per broker it needs
// (broker-pool.ts), per-call deadlines, and every failure mapped to a WeirError from the one error
// table.
//
// Why one small class and not a generic proxy: each RPC gets a typed method here, so the rest of
// the SDK never touches grpc-js call signatures or its error objects, and a test can swap the
// whole class for a fake at one seam. A Connection may be shared by several clients (pass it as
// `connection`); a client closes only a connection it made itself.
//
// Where a call goes. With `broker` in its CallOptions, to that node (a partition's leader, a
// group's coordinator: the caller learnt the id from Metadata or FindCoordinator, and on
// NOT_LEADER_OR_FOLLOWER or a broker gone it looks again). Without, to any broker: the one last
// used, moving on through the bootstrap list and the known brokers when one cannot be reached,
// within the call's deadline. Every Metadata answer that passes through here updates the brokers'
// addresses, so the clients' metadata lookups are all it takes to follow the cluster.

import * as grpc from '@grpc/grpc-js';
import { WeirError } from '../proto/errors.js';
import { fromServiceError, weirProto } from '../proto/grpc.js';
import type { AlterTopicConfigRequest } from '../proto/generated/weir/v1/AlterTopicConfigRequest.js';
import type { CreatePartitionsRequest } from '../proto/generated/weir/v1/CreatePartitionsRequest.js';
import type { ReassignPartitionsRequest } from '../proto/generated/weir/v1/ReassignPartitionsRequest.js';
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
import type { BrokerInfo } from '../proto/generated/weir/v1/BrokerInfo.js';
import { resolveBootstrap } from './bootstrap.js';
import { BrokerPool, type BrokerChannel } from './broker-pool.js';
import { intOption } from './options.js';

export {
  BOOTSTRAP_ENV,
  DEFAULT_BOOTSTRAP,
  parseBootstrap,
  parseBootstrapList,
  resolveBootstrap,
} from './bootstrap.js';
/** Per-call deadline unless a call says otherwise (Kafka's request.timeout.ms). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * grpc-js caps received messages at 4 MiB by default, less than one fetch may carry (fetch
 * maxBytes is 16 MiB by default, and at least one whole batch is always returned however large).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface ConnectionOptions {
  /**
   * Brokers to start from: `host:port`, a comma-separated list of them, or an array. Any one that
   * answers is enough; the others are tried in order until one does. Default: env WEIR_BOOTSTRAP
   * (the same list form), else 127.0.0.1:9093.
   */
  bootstrap?: string | readonly string[];
  /** Deadline of each call, ms. Default 30000. */
  requestTimeoutMs?: number;
  /** Largest gRPC message sent or received, bytes. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Extra grpc-js channel options (keepalive, proxies...), applied after weir's own. */
  channelOptions?: grpc.ChannelOptions;
}

/** An open produce stream and the broker address it runs to. */
export interface ProduceStreamCall {
  address: string;
  call: grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;
}

/** Per-call overrides. */
export interface CallOptions {
  timeoutMs?: number;
  /** Aborting cancels the call; it then fails with REQUEST_CANCELLED. */
  signal?: AbortSignal;
  /** The node id of the broker to ask. Default: any broker. */
  broker?: number;
}

/** Options of a client that may share a connection made elsewhere. */
export interface ClientConnectionOptions extends ConnectionOptions {
  /** Use this connection instead of opening one; the client will not close it. */
  connection?: Connection;
}

/** HTTP/2 receive window of the client's channel (the broker widens its own the same way). */
const FLOW_CONTROL_WINDOW_BYTES = 32 * 1024 * 1024;

type Start<Res> = (
  client: WeirClient,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

/** Errors after which an "any broker" call may go to another broker: it did not reach this one. */
function unreachable(err: WeirError): boolean {
  return err.code === 'NETWORK_EXCEPTION' || err.code === 'BROKER_SHUTTING_DOWN';
}

export class Connection {
  /** The bootstrap addresses, in the order they are tried. */
  readonly bootstrap: readonly string[];
  readonly requestTimeoutMs: number;
  private readonly pool: BrokerPool;
  private closed = false;

  constructor(options: ConnectionOptions = {}) {
    this.bootstrap = resolveBootstrap(options.bootstrap);
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
    const channelOptions: grpc.ChannelOptions = {
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
    };
    this.pool = new BrokerPool(
      this.bootstrap,
      (address) => new Weir(address, grpc.credentials.createInsecure(), channelOptions),
    );
  }

  /** The bootstrap list as given (for messages): `host:port[,host:port...]`. */
  get address(): string {
    return this.bootstrap.join(',');
  }

  /** The address of a broker by node id, when Metadata or FindCoordinator named it. */
  addressOf(nodeId: number): string | undefined {
    return this.pool.addressOf(nodeId);
  }

  /** Whether a Metadata answer has named the cluster's brokers yet. */
  get knowsCluster(): boolean {
    return this.pool.knowsCluster;
  }

  /** Remembers where a broker is (a FindCoordinator answer names the coordinator). */
  learnBroker(broker: BrokerInfo | null | undefined): void {
    if (broker === null || broker === undefined || broker.nodeId === undefined) return;
    if (typeof broker.host !== 'string' || broker.host === '' || !broker.grpcPort) return;
    this.pool.learnBroker({ nodeId: broker.nodeId, host: broker.host, grpcPort: broker.grpcPort });
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

  async getMetadata(topics: readonly string[], call?: CallOptions): Promise<MetadataResponse__Output> {
    const response = await this.unary<MetadataResponse__Output>(
      (c, m, o, cb) => c.GetMetadata({ topics: [...topics] }, m, o, cb),
      call,
    );
    if (!this.closed) this.pool.learnCluster(response.brokers);
    return response;
  }

  createTopic(request: CreateTopicRequest, call?: CallOptions): Promise<TopicDescription__Output> {
    return this.unary((c, m, o, cb) => c.CreateTopic(request, m, o, cb), call);
  }

  deleteTopic(name: string, call?: CallOptions): Promise<DeleteTopicResponse__Output> {
    return this.unary((c, m, o, cb) => c.DeleteTopic({ name }, m, o, cb), call);
  }

  listTopics(includeInternal: boolean, call?: CallOptions): Promise<ListTopicsResponse__Output> {
    return this.unary((c, m, o, cb) => c.ListTopics({ includeInternal }, m, o, cb), call);
  }

  describeTopic(name: string, call?: CallOptions): Promise<TopicDescription__Output> {
    return this.unary((c, m, o, cb) => c.DescribeTopic({ name }, m, o, cb), call);
  }

  alterTopicConfig(request: AlterTopicConfigRequest, call?: CallOptions): Promise<TopicDescription__Output> {
    return this.unary((c, m, o, cb) => c.AlterTopicConfig(request, m, o, cb), call);
  }

  createPartitions(request: CreatePartitionsRequest, call?: CallOptions): Promise<TopicDescription__Output> {
    return this.unary((c, m, o, cb) => c.CreatePartitions(request, m, o, cb), call);
  }

  reassignPartitions(
    request: ReassignPartitionsRequest,
    call?: CallOptions,
  ): Promise<TopicDescription__Output> {
    return this.unary((c, m, o, cb) => c.ReassignPartitions(request, m, o, cb), call);
  }

  initProducerId(call?: CallOptions): Promise<InitProducerIdResponse__Output> {
    return this.unary((c, m, o, cb) => c.InitProducerId({}, m, o, cb), call);
  }

  produce(request: ProduceRequest, call?: CallOptions): Promise<ProduceResponse__Output> {
    return this.unary((c, m, o, cb) => c.Produce(request, m, o, cb), call);
  }

  fetch(request: FetchRequest, call?: CallOptions): Promise<FetchResponse__Output> {
    return this.unary((c, m, o, cb) => c.Fetch(request, m, o, cb), call);
  }

  listOffsets(request: ListOffsetsRequest, call?: CallOptions): Promise<ListOffsetsResponse__Output> {
    return this.unary((c, m, o, cb) => c.ListOffsets(request, m, o, cb), call);
  }

  deleteRecords(request: DeleteRecordsRequest, call?: CallOptions): Promise<DeleteRecordsResponse__Output> {
    return this.unary((c, m, o, cb) => c.DeleteRecords(request, m, o, cb), call);
  }

  /**
   * The address a call to `broker` (default: any) goes to now. It changes as Metadata answers come
   * in: a node not known yet goes to any broker until one names it.
   */
  addressFor(broker?: number): string {
    this.checkOpen();
    return this.target(broker).address;
  }

  /**
   * A new bidirectional produce stream to a broker (default: any), and the address it went to; no
   * deadline, since it lives as long as the producer.
   */
  openProduceStream(broker?: number): ProduceStreamCall {
    this.checkOpen();
    const channel = this.target(broker);
    return { address: channel.address, call: channel.client.ProduceStream() };
  }

  // ---- consumer groups ----

  findCoordinator(groupId: string, call?: CallOptions): Promise<FindCoordinatorResponse__Output> {
    return this.unary((c, m, o, cb) => c.FindCoordinator({ groupId }, m, o, cb), call);
  }

  groupHeartbeat(
    request: GroupHeartbeatRequest,
    call?: CallOptions,
  ): Promise<GroupHeartbeatResponse__Output> {
    return this.unary((c, m, o, cb) => c.GroupHeartbeat(request, m, o, cb), call);
  }

  offsetCommit(request: OffsetCommitRequest, call?: CallOptions): Promise<OffsetCommitResponse__Output> {
    return this.unary((c, m, o, cb) => c.OffsetCommit(request, m, o, cb), call);
  }

  offsetFetch(request: OffsetFetchRequest, call?: CallOptions): Promise<OffsetFetchResponse__Output> {
    return this.unary((c, m, o, cb) => c.OffsetFetch(request, m, o, cb), call);
  }

  listGroups(call?: CallOptions): Promise<ListGroupsResponse__Output> {
    return this.unary((c, m, o, cb) => c.ListGroups({}, m, o, cb), call);
  }

  describeGroup(request: DescribeGroupRequest, call?: CallOptions): Promise<GroupDescription__Output> {
    return this.unary((c, m, o, cb) => c.DescribeGroup(request, m, o, cb), call);
  }

  async deleteGroup(groupId: string, call?: CallOptions): Promise<void> {
    await this.unary((c, m, o, cb) => c.DeleteGroup({ groupId }, m, o, cb), call);
  }

  resetOffsets(request: ResetOffsetsRequest, call?: CallOptions): Promise<ResetOffsetsResponse__Output> {
    return this.unary((c, m, o, cb) => c.ResetOffsets(request, m, o, cb), call);
  }

  deleteOffsets(request: DeleteOffsetsRequest, call?: CallOptions): Promise<DeleteOffsetsResponse__Output> {
    return this.unary((c, m, o, cb) => c.DeleteOffsets(request, m, o, cb), call);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new WeirError('REQUEST_CANCELLED', 'connection is closed');
  }

  private target(broker: number | undefined): BrokerChannel {
    return broker === undefined ? this.pool.any() : this.pool.node(broker);
  }

  /**
   * One call, with one deadline for all its tries. A call to any broker that cannot reach the one
   * it went to goes to the next, until each was tried once; a call to a given broker is tried once.
   */
  private async unary<Res>(start: Start<Res>, call: CallOptions | undefined): Promise<Res> {
    const deadline = Date.now() + (call?.timeoutMs ?? this.requestTimeoutMs);
    const tries = call?.broker === undefined ? this.pool.candidateCount : 1;
    for (let attempt = 1; ; attempt++) {
      this.checkOpen();
      const channel = this.target(call?.broker);
      try {
        return await this.once(channel, start, deadline, call?.signal);
      } catch (err) {
        if (!(err instanceof WeirError) || !unreachable(err)) throw err;
        this.pool.unreachable(channel.address);
        if (attempt >= tries || Date.now() >= deadline || this.closed) throw err;
      }
    }
  }

  private once<Res>(
    channel: BrokerChannel,
    start: Start<Res>,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(new WeirError('REQUEST_CANCELLED', 'aborted before the call started'));
        return;
      }
      let onAbort: (() => void) | null = null;
      const pending = start(channel.client, new grpc.Metadata(), { deadline }, (err, response) => {
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
