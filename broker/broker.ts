// The broker's core, independent of any transport, as one facade over its parts: topic
// administration (topic-admin.ts), the replicas and the requests served from them
// (replica/replica-manager.ts), the cluster view (metadata-cache.ts) and the group coordinator
// (group/coordinator.ts). It opens the data directory, wires the parts and stops them in order.
// gRPC handlers and HTTP routes decode their input, call these methods and map the WeirErrors they
// throw; they hold no logic of their own (STYLE 14).

import { realClock } from '../proto/clock.js';
import { WeirError } from '../proto/errors.js';
import {
  LogManager,
  nodeFs,
  systemClock,
  logConfigFrom,
  type Clock,
  type LogConfig,
  type LogManagerEvent,
  type LogStartRaise,
  type StorageFs,
} from '../storage/index.js';
import { procBootId, type HostBoot } from './boot-id.js';
import { clusterPeers, peerAddress, type BrokerConfig } from './config.js';
import { cachedFilesOf } from './file-budget.js';
import { GroupCoordinator, OFFSETS_TOPIC } from './group/coordinator.js';
import type { GroupBroker } from './group/group-broker.js';
import { randomIds, type Ids } from './ids.js';
import { Lifecycle } from './lifecycle.js';
import type { MetadataEvent } from './log-reconcile.js';
import { MetadataCache, type BrokerInfo, type ClusterView } from './metadata-cache.js';
import type { Acks, Partition, ProduceOutcome } from './partition.js';
import {
  ReplicaManager,
  type FetchPartitionRequest,
  type FetchPartitionResult,
  type PartitionStats,
} from './replica/replica-manager.js';
import type { ProducedRecord, ProducerFields } from './replica/produced-records.js';
import { GrpcRaftTransport } from './replica/grpc-raft-transport.js';
import { ClusterMember } from './cluster-member.js';
import type { HeartbeatRequest__Output } from '../proto/generated/weir/replication/v1/HeartbeatRequest.js';
import type { Envelope } from './replica/raft-groups.js';
import { StorageHealth, type StorageReport } from './storage-health.js';
import { MAX_PARTITIONS_PER_TOPIC, TopicAdmin, type TopicDescription } from './topic-admin.js';
import { TopicRegistry } from './topic-registry.js';

export { MAX_PARTITIONS_PER_TOPIC, type TopicDescription } from './topic-admin.js';
export { INTERNAL_PREFIX } from './topic-registry.js';
export type { BrokerInfo, ClusterView } from './metadata-cache.js';
export {
  EARLIEST,
  LATEST,
  type FetchPartitionRequest,
  type FetchPartitionResult,
  type PartitionStats,
} from './replica/replica-manager.js';
export {
  DEFAULT_FETCH_MAX_BYTES,
  DEFAULT_PARTITION_FETCH_MAX_BYTES,
  fetchMaxBytes,
} from './replica/fetch-limits.js';
export type { ProducedRecord, ProducerFields } from './replica/produced-records.js';

export interface BrokerDeps {
  readonly fs?: StorageFs;
  /** Uniform in [0, 1): Raft election timeouts. Default Math.random. */
  readonly random?: () => number;
  readonly clock?: Clock;
  /**
   * Timers of long-poll waits. Real time even when `clock` is simulated: they bound how long a
   * client waits. Foreground timers, as a waiting request keeps the process alive.
   */
  readonly waitClock?: Clock;
  /** Cluster, topic and member ids, and the ids of new replicas. */
  readonly ids?: Ids;
  /** The host's boot identity: did the host reboot since a replica last wrote its state. */
  readonly host?: HostBoot;
  readonly onStorageEvent?: (event: LogManagerEvent | MetadataEvent) => void;
  /** Group coordinator news: evictions, offsets loaded at start-up. */
  readonly onGroupEvent?: (message: string) => void;
  /** Cluster membership news: metadata records ignored, heartbeats that failed. */
  readonly onClusterEvent?: (message: string) => void;
  /** Storage failures, already rate-limited to a line per episode (see storage-health.ts). */
  readonly onStorageReport?: (report: StorageReport) => void;
}

/**
 * The cluster's metadata log: with peers, one partition whose Raft group is every peer, and whose
 * leader is the controller. Kept whole (nothing deletes it) until the controller snapshots it.
 */
export const METADATA_TOPIC = '__cluster_metadata';
const METADATA_TOPIC_CONFIGS = {
  'cleanup.policy': 'delete',
  'retention.ms': '-1',
  'retention.bytes': '-1',
};

export class Broker implements GroupBroker {
  readonly config: BrokerConfig;
  readonly clock: Clock;
  readonly ids: Ids;
  /** Consumer groups this broker coordinates, and their committed offsets. */
  readonly groups: GroupCoordinator;
  /** Storage errors: episodes, counts, and whether storage is failing now. */
  readonly storageHealth: StorageHealth;
  private readonly logs: LogManager;
  private readonly lifecycle = new Lifecycle();
  private readonly topics: TopicAdmin;
  private readonly replicas: ReplicaManager;
  private readonly metadataCache: MetadataCache;
  /** The Raft messages' way to peer brokers; null on one broker. */
  private readonly transport: GrpcRaftTransport | null;
  /** This broker's part in its cluster (the metadata log, heartbeats, the controller); null alone. */
  private readonly member: ClusterMember | null;

  private constructor(
    config: BrokerConfig,
    clock: Clock,
    waitClock: Clock,
    ids: Ids,
    fs: StorageFs,
    random: () => number,
    bootId: string | null,
    registry: TopicRegistry,
    logs: LogManager,
    storageHealth: StorageHealth,
    onGroupEvent: ((message: string) => void) | undefined,
    report: (event: MetadataEvent) => void,
    onClusterEvent: (message: string) => void,
  ) {
    this.config = config;
    this.clock = clock;
    this.ids = ids;
    this.logs = logs;
    this.storageHealth = storageHealth;
    const lifecycle = this.lifecycle;
    const peers = clusterPeers(config);
    this.transport =
      peers === null
        ? null
        : new GrpcRaftTransport({
            self: config.nodeId,
            clusterId: config.clusterId,
            peers: new Map(
              peers.filter((p) => p.nodeId !== config.nodeId).map((p) => [p.nodeId, peerAddress(p)]),
            ),
            clock,
          });
    const quorum = peers?.map((p) => p.nodeId) ?? [config.nodeId];
    const incarnation = ids.uuid();
    this.member =
      peers === null
        ? null
        : new ClusterMember({
            self: config.nodeId,
            clusterId: config.clusterId,
            peers,
            clock,
            partition: () => this.replicas.find(METADATA_TOPIC, 0),
            registration: () => ({
              nodeId: this.config.nodeId,
              incarnation,
              host: this.config.advertisedHost,
              grpcPort: this.config.grpcPort,
              httpPort: this.config.httpPort,
              replicationPort: this.config.replicationPort,
            }),
            report: onClusterEvent,
          });
    this.replicas = new ReplicaManager({
      config,
      clock,
      waitClock,
      lifecycle,
      ensureTopic: (topic) => this.topics.ensureTopic(topic),
      fs,
      random,
      start: { bootId, cleanShutdown: logs.cleanShutdown, newReplicaId: () => ids.uuid() },
      ...(this.transport === null ? {} : { transport: this.transport }),
      // Until the controller places replicas, only the metadata log is replicated: every other
      // partition is this broker's alone.
      votersOf: (topic) => (topic === METADATA_TOPIC ? quorum : [config.nodeId]),
      onGroupFailed: (group, err) =>
        onClusterEvent(
          `Raft group ${group} failed and left: ${err instanceof Error ? err.message : String(err)}`,
        ),
    });
    this.topics = new TopicAdmin({ config, clock, registry, logs, lifecycle, ids, report }, this.replicas);
    this.metadataCache = new MetadataCache({
      config: () => this.config,
      controller: () =>
        peers === null ? config.nodeId : (this.replicas.find(METADATA_TOPIC, 0)?.leaderId ?? -1),
      registered: () => this.member?.image.liveBrokers() ?? null,
      lifecycle,
      topics: registry,
      requirePartition: (topic, partition) => void this.replicas.partition(topic, partition),
    });
    const groups = new GroupCoordinator(this, onGroupEvent);
    this.groups = groups;
    // The coordinator serves the partitions of its topic that this broker leads; subscribed before
    // the logs are opened, so it hears of every partition led from start-up on.
    this.replicas.onLeadership({
      becameLeader(topic, partitions) {
        if (topic === OFFSETS_TOPIC) groups.onBecomeLeader(partitions);
      },
      resigned(topic, partitions) {
        if (topic === OFFSETS_TOPIC) groups.onResign(partitions);
      },
    });
  }

  /** Opens the data directory: metadata, every log (recovering as needed), background tasks. */
  static open(config: BrokerConfig, deps: BrokerDeps = {}): Broker {
    const fs = deps.fs ?? nodeFs;
    const clock = deps.clock ?? systemClock;
    const ids = deps.ids ?? randomIds;
    const registry = TopicRegistry.open(
      fs,
      config.dataDir,
      { maxPartitions: MAX_PARTITIONS_PER_TOPIC, topicDefaults: config.topicDefaults },
      ids,
      config.clusterId === '' ? null : config.clusterId,
    );
    const configFor = (topic: string): LogConfig =>
      logConfigFrom(registry.get(topic)?.configs ?? {}, config.topicDefaults);
    const storageHealth = new StorageHealth(clock, deps.onStorageReport ?? (() => undefined));
    const onStorageEvent = (event: LogManagerEvent): void => {
      storageHealth.observe(event);
      deps.onStorageEvent?.(event);
    };
    const logs = LogManager.open(
      {
        dataDir: config.dataDir,
        checkpointIntervalMs: config.checkpointIntervalMs,
        retentionCheckIntervalMs: config.retentionCheckIntervalMs,
        cleanerBackoffMs: config.cleanerBackoffMs,
        maxCachedFiles: cachedFilesOf(config.maxOpenFiles),
        maxInflatedBatchBytes: config.maxInflatedBatchBytes,
      },
      { fs, clock, configFor, log: onStorageEvent },
    );
    const broker = new Broker(
      config,
      clock,
      deps.waitClock ?? realClock(false),
      ids,
      fs,
      deps.random ?? Math.random,
      (deps.host ?? procBootId).bootId(),
      registry,
      logs,
      storageHealth,
      deps.onGroupEvent,
      (event) => deps.onStorageEvent?.(event),
      deps.onClusterEvent ?? ((): void => undefined),
    );
    broker.topics.reconcile();
    if (config.peers !== '' && registry.get(METADATA_TOPIC) === undefined)
      broker.createInternalTopic(METADATA_TOPIC, 1, METADATA_TOPIC_CONFIGS);
    broker.groups.start();
    logs.startBackgroundTasks();
    return broker;
  }

  get clusterId(): string {
    return this.metadataCache.clusterId;
  }

  /**
   * The leader (-1 when none is known) and replicas of a partition this broker holds; for one it
   * does not hold (a topic still being made), this broker alone.
   */
  placement(topic: string, partition: number): { leader: number; replicas: number[] } {
    const p = this.replicas.find(topic, partition);
    return p === undefined
      ? { leader: this.config.nodeId, replicas: [this.config.nodeId] }
      : this.replicas.placementOf(p);
  }

  /**
   * Starts this broker's part in its cluster, once its listeners are bound (its registration
   * carries their ports). Nothing to start on one broker.
   */
  startClusterMember(): void {
    this.member?.start();
  }

  /** A peer's heartbeat to the controller (the replication listener's); NOT_CONTROLLER if not it. */
  clusterHeartbeat(request: HeartbeatRequest__Output): { live: boolean } {
    if (this.member === null)
      throw new WeirError('NOT_CONTROLLER', `broker ${this.config.nodeId} has no peers`);
    const { nodeId, incarnation, host, grpcPort, httpPort, replicationPort } = request;
    return this.member.heartbeat(
      { nodeId, incarnation, host, grpcPort, httpPort, replicationPort },
      this.clock.now(),
    );
  }

  /** Takes an envelope of Raft messages a peer broker sent (the replication listener's). */
  receiveReplication(envelope: Envelope): void {
    this.replicas.receive(envelope);
  }

  get cleanShutdown(): boolean {
    return this.logs.cleanShutdown;
  }

  // ---- topics ----

  createTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Readonly<Record<string, string>>,
    validateOnly = false,
  ): TopicDescription {
    return this.topics.createTopic(name, partitions, replicationFactor, configs, validateOnly);
  }

  /** Creates one of the broker's own topics (`__consumer_offsets`); users cannot. */
  createInternalTopic(name: string, partitions: number, configs: Readonly<Record<string, string>>): void {
    this.topics.createInternalTopic(name, partitions, configs);
  }

  /** Calls `listener` after a topic is created or deleted, or its partition count grows. */
  onTopicsChanged(listener: () => void): void {
    this.topics.onTopicsChanged(listener);
  }

  deleteTopic(name: string): Promise<void> {
    return this.topics.deleteTopic(name);
  }

  listTopics(includeInternal: boolean): { name: string; partitions: number; internal: boolean }[] {
    return this.topics.listTopics(includeInternal);
  }

  describeTopic(name: string): TopicDescription {
    return this.topics.describeTopic(name);
  }

  alterTopicConfig(
    name: string,
    set: Readonly<Record<string, string>>,
    remove: readonly string[],
  ): TopicDescription {
    return this.topics.alterTopicConfig(name, set, remove);
  }

  createPartitions(name: string, count: number): TopicDescription {
    return this.topics.createPartitions(name, count);
  }

  /**
   * Raises partitions' log start offsets (offset -1: to the high watermark), answering each one's
   * start now or its error; see TopicAdmin.
   */
  deleteRecords(requests: readonly LogStartRaise[]): Promise<(number | Error)[]> {
    return this.topics.deleteRecords(requests);
  }

  /** The partition, creating the topic first when auto-create is on. */
  partition(topic: string, partition: number): Partition {
    return this.replicas.partition(topic, partition);
  }

  /** The partition if this broker has it (never creates a topic). */
  find(topic: string, partition: number): Partition | undefined {
    return this.replicas.find(topic, partition);
  }

  partitionCount(topic: string): number {
    return this.replicas.partitionCount(topic);
  }

  // ---- producing ----

  initProducerId(): { producerId: number; producerEpoch: number } {
    return this.topics.initProducerId();
  }

  /** Appends RecordBatch bytes to one partition. */
  produce(topic: string, partition: number, batches: Buffer, acks: Acks): Promise<ProduceOutcome> {
    return this.replicas.produce(topic, partition, batches, acks);
  }

  /** Appends to one of the broker's own topics (the group coordinator's commits); see Partition. */
  appendInternal(
    topic: string,
    partition: number,
    batch: Buffer,
  ): { baseOffset: number; flushed: Promise<void> } {
    return this.replicas.appendInternal(topic, partition, batch);
  }

  /**
   * Appends plain records, partitioned by the broker with partition -1, idempotent with producer
   * fields (see ReplicaManager).
   */
  produceRecords(
    topic: string,
    partition: number,
    records: readonly ProducedRecord[],
    acks: Acks,
    producer: ProducerFields = {},
  ): Promise<{ partition: number; outcome: ProduceOutcome }[]> {
    return this.replicas.produceRecords(topic, partition, records, acks, producer);
  }

  // ---- fetching ----

  /** Reads partitions, waiting up to `maxWaitMs` for `minBytes` (see ReplicaManager.fetch). */
  fetch(
    requests: readonly FetchPartitionRequest[],
    maxBytes: number,
    minBytes: number,
    maxWaitMs: number,
    signal?: AbortSignal,
  ): Promise<FetchPartitionResult[]> {
    return this.replicas.fetch(requests, maxBytes, minBytes, maxWaitMs, signal);
  }

  /** Resolves when any of the partitions gets data, after `ms`, or when `signal` aborts. */
  waitForData(
    requests: readonly { topic: string; partition: number }[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.replicas.waitForData(requests, ms, signal);
  }

  /** Earliest (-2), latest (-1), or the first record at or after a timestamp. */
  listOffset(topic: string, partition: number, timestamp: number): { offset: number; timestamp: number } {
    return this.replicas.listOffset(topic, partition, timestamp);
  }

  // ---- metadata ----

  /** The brokers of the cluster and its controller (one broker: this one). */
  cluster(): ClusterView {
    return this.metadataCache.cluster();
  }

  /** The broker leading a partition (one broker: this one, for every partition). */
  leaderOf(topic: string, partition: number): BrokerInfo {
    return this.metadataCache.leaderOf(topic, partition);
  }

  /** One partition's stats and offsets; never creates a topic. */
  describePartition(
    topic: string,
    partition: number,
  ): PartitionStats & { earliestOffset: number; latestOffset: number } {
    return this.topics.describePartition(topic, partition);
  }

  /** Every partition's stats, for a metrics scrape (no configs computed). */
  allPartitionStats(): { topic: string; stats: PartitionStats }[] {
    return this.replicas.allPartitionStats();
  }

  metadata(
    topics: readonly string[],
  ): { name: string; partitions: number; internal: boolean; error: WeirError | null }[] {
    return this.metadataCache.metadata(topics);
  }

  /** Refuses new work (BROKER_SHUTTING_DOWN) and wakes waiting fetches and subscriptions. */
  stopAccepting(): void {
    this.lifecycle.stop();
    this.groups.close();
    this.replicas.stop();
    this.member?.stop();
    this.transport?.close();
  }

  /** Stops taking work and closes the logs cleanly (flush, checkpoints, clean-shutdown marker). */
  async close(): Promise<void> {
    this.stopAccepting();
    this.storageHealth.close();
    // Produces accepted before the stop may still be inflating: they append before the logs'
    // final flush, not after it.
    await this.replicas.appended();
    await this.logs.close();
  }

  /** Partitions whose log went offline (a failed fsync, a device error) until the next restart. */
  offlinePartitions(): { topic: string; partition: number; reason: string }[] {
    return this.replicas.offlinePartitions();
  }

  get isClosing(): boolean {
    return this.lifecycle.closing;
  }
}
