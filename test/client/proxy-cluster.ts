// A stand-in cluster for routing tests, until brokers replicate topics: N gRPC servers ("nodes")
// on ports from the OS, each speaking the whole weir.v1 API in front of one real broker. Their
// Metadata names every live node and says who leads each partition and coordinates each group, as
// the test sets it; a node answers NOT_LEADER_OR_FOLLOWER for a partition it does not lead and
// NOT_COORDINATOR for a group it does not coordinate, exactly as a clustered broker does, and
// forwards the rest to the real broker. Storage, idempotence and groups are therefore the real
// ones, shared by every node the way replication shares them; only where a client sends what is
// under test. Every call is logged with the node it reached, the partitions it carried and, for
// produce, each batch's producer id and sequence.
//
// Stopping a node shuts its server down with calls in flight (a broker that dies): clients see
// their connection drop and must find the new leader.

import * as grpc from '@grpc/grpc-js';
import { WeirError } from '../../proto/errors.js';
import { toServiceError, toWireError, weirProto } from '../../proto/grpc.js';
import type { Error__Output } from '../../proto/generated/weir/v1/Error.js';
import type { FetchRequest__Output } from '../../proto/generated/weir/v1/FetchRequest.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { ListOffsetsRequest__Output } from '../../proto/generated/weir/v1/ListOffsetsRequest.js';
import type { ListOffsetsResponse__Output } from '../../proto/generated/weir/v1/ListOffsetsResponse.js';
import type { MetadataResponse__Output } from '../../proto/generated/weir/v1/MetadataResponse.js';
import type { ProduceRequest__Output } from '../../proto/generated/weir/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import type { WeirClient } from '../../proto/generated/weir/v1/Weir.js';

/** One call as a node saw it. */
export interface NodeCall {
  node: number;
  rpc: string;
  /** `topic-partition` of each partition the call carried. */
  partitions: string[];
  /** For Produce: each batch's `topic-partition pid/seq`, and whether the node took it. */
  batches: { tp: string; producerId: number; baseSequence: number; bytes: Buffer; led: boolean }[];
  groupId: string;
}

const GROUP_RPCS = new Set([
  'GroupHeartbeat',
  'OffsetCommit',
  'OffsetFetch',
  'DescribeGroup',
  'DeleteGroup',
  'ResetOffsets',
  'DeleteOffsets',
]);

type Unary = (req: unknown, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => void;

function batchHeader(bytes: Buffer): { producerId: number; baseSequence: number } {
  if (bytes.length < 61) return { producerId: -1, baseSequence: -1 };
  return { producerId: Number(bytes.readBigInt64BE(43)), baseSequence: bytes.readInt32BE(53) };
}

export class ProxyNode {
  readonly nodeId: number;
  port = 0;
  running = false;
  private readonly cluster: ProxyCluster;
  private server: grpc.Server | null = null;

  constructor(cluster: ProxyCluster, nodeId: number) {
    this.cluster = cluster;
    this.nodeId = nodeId;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    const service = weirProto().weir.v1.Weir.service;
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(service)) {
      if (method.requestStream || method.responseStream) continue;
      handlers[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        this.unary(name, call.request, cb);
    }
    handlers.ProduceStream = (
      call: grpc.ServerDuplexStream<ProduceRequest__Output, ProduceResponse__Output>,
    ) => this.produceStream(call);
    server.addService(service, handlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err === null ? resolve(p) : reject(err),
      ),
    );
    this.port = port;
    this.server = server;
    this.running = true;
  }

  /** Dies: every connection and call in flight is cut. */
  stop(): void {
    this.running = false;
    this.server?.forceShutdown();
    this.server = null;
  }

  private log(rpc: string, partitions: string[] = [], groupId = ''): NodeCall {
    const entry: NodeCall = { node: this.nodeId, rpc, partitions, batches: [], groupId };
    this.cluster.calls.push(entry);
    return entry;
  }

  private unary(name: string, request: unknown, cb: grpc.sendUnaryData<unknown>): void {
    const upstream = this.cluster.upstream;
    const forward = (req: unknown, then: (res: unknown) => unknown = (r) => r): void =>
      (upstream[name as keyof WeirClient] as unknown as Unary).call(upstream, req, (err, res) =>
        err !== null ? cb(err) : cb(null, then(res)),
      );
    switch (name) {
      case 'GetMetadata':
        this.log(name);
        return forward(request, (res) => this.cluster.rewriteMetadata(res as MetadataResponse__Output));
      case 'Produce':
        void this.produce(request as ProduceRequest__Output).then(
          (res) => cb(null, res),
          (err: grpc.ServiceError) => cb(err),
        );
        return;
      case 'Fetch':
        return this.fetch(request as FetchRequest__Output, cb);
      case 'ListOffsets':
        return this.listOffsets(request as ListOffsetsRequest__Output, cb);
      case 'FindCoordinator': {
        const { groupId } = request as { groupId: string };
        this.log(name, [], groupId);
        const node = this.cluster.node(this.cluster.coordinatorOf(groupId));
        cb(null, {
          coordinator: { nodeId: node.nodeId, host: '127.0.0.1', grpcPort: node.port, httpPort: 0 },
          partition: 0,
        });
        return;
      }
      default: {
        const groupId = (request as { groupId?: string }).groupId ?? '';
        this.log(name, [], groupId);
        if (GROUP_RPCS.has(name) && this.cluster.coordinatorOf(groupId) !== this.nodeId) {
          const err = new WeirError('NOT_COORDINATOR', `node ${this.nodeId} does not coordinate ${groupId}`);
          cb(toServiceError(err));
          return;
        }
        forward(request);
      }
    }
  }

  /** Takes the partitions this node leads to the broker; answers NOT_LEADER_OR_FOLLOWER for the rest. */
  private async produce(request: ProduceRequest__Output): Promise<ProduceResponse__Output> {
    const entry = this.log(
      'Produce',
      request.partitions.map((p) => `${p.topic}-${p.partition}`),
    );
    const led = request.partitions.filter((p) => this.cluster.leaderOf(p.topic, p.partition) === this.nodeId);
    for (const p of request.partitions) {
      entry.batches.push({
        tp: `${p.topic}-${p.partition}`,
        ...batchHeader(p.batches),
        bytes: Buffer.from(p.batches),
        led: led.includes(p),
      });
    }
    let answered: ProduceResponse__Output = { correlationId: 0, results: [] };
    if (led.length > 0) {
      answered = await new Promise<ProduceResponse__Output>((resolve, reject) =>
        this.cluster.upstream.Produce({ ...request, partitions: led }, (err, res) =>
          err !== null ? reject(err) : resolve(res!),
        ),
      );
    }
    const results = request.partitions.map((p) => {
      const mine = answered.results.find((r) => r.topic === p.topic && r.partition === p.partition);
      if (mine !== undefined && led.includes(p)) return mine;
      return {
        topic: p.topic,
        partition: p.partition,
        baseOffset: -1,
        lastOffset: -1,
        logAppendTime: -1,
        logStartOffset: -1,
        error: this.notLeader(p.topic, p.partition),
      };
    });
    return { correlationId: request.correlationId, results };
  }

  /** Requests one at a time, so the broker sees a stream's batches in the order they came. */
  private produceStream(
    call: grpc.ServerDuplexStream<ProduceRequest__Output, ProduceResponse__Output>,
  ): void {
    let chain = Promise.resolve();
    call.on('data', (request: ProduceRequest__Output) => {
      chain = chain.then(async () => {
        try {
          const response = await this.produce(request);
          if (request.acks !== 'ACKS_NONE') call.write(response);
        } catch (err) {
          call.destroy(err as Error);
        }
      });
    });
    call.on('end', () => void chain.then(() => call.end()));
    call.on('error', () => {});
  }

  private fetch(request: FetchRequest__Output, cb: grpc.sendUnaryData<unknown>): void {
    this.log(
      'Fetch',
      request.partitions.map((p) => `${p.topic}-${p.partition}`),
    );
    const led = request.partitions.filter((p) => this.cluster.leaderOf(p.topic, p.partition) === this.nodeId);
    const merge = (answered: FetchResponse__Output): FetchResponse__Output => ({
      results: request.partitions.map((p) => {
        const mine = answered.results.find((r) => r.topic === p.topic && r.partition === p.partition);
        if (mine !== undefined && led.includes(p)) return mine;
        return {
          topic: p.topic,
          partition: p.partition,
          batches: Buffer.alloc(0),
          records: [],
          highWatermark: -1,
          logStartOffset: -1,
          nextOffset: -1,
          error: this.notLeader(p.topic, p.partition),
        };
      }),
    });
    if (led.length === 0) return cb(null, merge({ results: [] }));
    this.cluster.upstream.Fetch({ ...request, partitions: led }, (err, res) =>
      err !== null ? cb(err) : cb(null, merge(res!)),
    );
  }

  private listOffsets(request: ListOffsetsRequest__Output, cb: grpc.sendUnaryData<unknown>): void {
    this.log(
      'ListOffsets',
      request.partitions.map((p) => `${p.topic}-${p.partition}`),
    );
    const led = request.partitions.filter((p) => this.cluster.leaderOf(p.topic, p.partition) === this.nodeId);
    const merge = (answered: ListOffsetsResponse__Output): ListOffsetsResponse__Output => ({
      results: request.partitions.map((p) => {
        const mine = answered.results.find((r) => r.topic === p.topic && r.partition === p.partition);
        if (mine !== undefined && led.includes(p)) return mine;
        const error = this.notLeader(p.topic, p.partition);
        return { topic: p.topic, partition: p.partition, offset: -1, timestamp: -1, error };
      }),
    });
    if (led.length === 0) return cb(null, merge({ results: [] }));
    this.cluster.upstream.ListOffsets({ partitions: led }, (err, res) =>
      err !== null ? cb(err) : cb(null, merge(res!)),
    );
  }

  private notLeader(topic: string, partition: number): Error__Output {
    const err = new WeirError(
      'NOT_LEADER_OR_FOLLOWER',
      `node ${this.nodeId} does not lead ${topic}-${partition}`,
    );
    return toWireError(err) as Error__Output;
  }
}

export class ProxyCluster {
  readonly nodes: ProxyNode[] = [];
  readonly calls: NodeCall[] = [];
  readonly upstream: WeirClient;
  /** Who leads a partition; default: partitions spread round-robin over the nodes. */
  private readonly leaders = new Map<string, number>();
  private readonly coordinators = new Map<string, number>();
  defaultCoordinator = 1;
  /** Keep naming stopped nodes in Metadata, as a cluster does until it fences a broker gone. */
  listStopped = false;

  private constructor(brokerAddress: string) {
    const Weir = weirProto().weir.v1.Weir;
    this.upstream = new Weir(brokerAddress, grpc.credentials.createInsecure());
  }

  /** `count` nodes (ids 1..count) in front of the broker at `brokerAddress`. */
  static async start(brokerAddress: string, count = 3): Promise<ProxyCluster> {
    const cluster = new ProxyCluster(brokerAddress);
    for (let id = 1; id <= count; id++) cluster.nodes.push(new ProxyNode(cluster, id));
    await Promise.all(cluster.nodes.map((n) => n.start()));
    return cluster;
  }

  node(nodeId: number): ProxyNode {
    const node = this.nodes.find((n) => n.nodeId === nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId}`);
    return node;
  }

  get bootstrap(): string {
    return this.nodes.map((n) => n.address).join(',');
  }

  leaderOf(topic: string, partition: number): number {
    return this.leaders.get(`${topic}-${partition}`) ?? (partition % this.nodes.length) + 1;
  }

  setLeader(topic: string, partition: number, nodeId: number): void {
    this.leaders.set(`${topic}-${partition}`, nodeId);
  }

  coordinatorOf(groupId: string): number {
    return this.coordinators.get(groupId) ?? this.defaultCoordinator;
  }

  setCoordinator(groupId: string, nodeId: number): void {
    this.coordinators.set(groupId, nodeId);
  }

  /** The calls of one kind, optionally only those one node saw. */
  callsOf(rpc: string, node?: number): NodeCall[] {
    return this.calls.filter((c) => c.rpc === rpc && (node === undefined || c.node === node));
  }

  /** The broker's answer, as a cluster of the live nodes would give it. */
  rewriteMetadata(res: MetadataResponse__Output): MetadataResponse__Output {
    const live = this.nodes.filter((n) => n.running || this.listStopped);
    const ids = this.nodes.map((n) => n.nodeId);
    return {
      ...res,
      controllerId: live[0]?.nodeId ?? -1,
      brokers: live.map((n) => ({ nodeId: n.nodeId, host: '127.0.0.1', grpcPort: n.port, httpPort: 0 })),
      topics: res.topics.map((t) => ({
        ...t,
        partitions: t.partitions.map((p) => ({
          ...p,
          leader: this.leaderOf(t.name, p.partition),
          replicas: ids,
        })),
      })),
    };
  }

  close(): void {
    for (const node of this.nodes) node.stop();
    this.upstream.close();
  }
}
