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
import {
  MetadataCache,
  type BrokerInfo,
  type ClusterView,
  type KafkaAddress,
  type TopicMetadata,
} from './metadata-cache.js';
import type { Acks, Partition, ProduceOutcome } from './partition.js';
import {
  ReplicaManager,
  type FetchPartitionRequest,
  type FetchPartitionResult,
  type PartitionStats,
} from './replica/replica-manager.js';
import type { ProducedRecord, ProducerFields } from './replica/produced-records.js';
import type { RaftTotals } from './replica/raft-totals.js';
import { GrpcRaftTransport } from './replica/grpc-raft-transport.js';
import { ClusterMember } from './cluster-member.js';
import { ClusterTopics } from './cluster-topics.js';
import { ClusterAdmin } from './cluster-admin.js';
import { Reassigner } from './cluster-reassign.js';
import type { ControllerRequest__Output } from '../proto/generated/weir/replication/v1/ControllerRequest.js';
import { commandFromWire } from './controller-wire.js';
import type { HeartbeatRequest__Output } from '../proto/generated/weir/replication/v1/HeartbeatRequest.js';
import type { Envelope } from './replica/raft-groups.js';
import { StorageHealth, type StorageReport } from './storage-health.js';
import { MAX_PARTITIONS_PER_TOPIC, TopicAdmin, type TopicDescription } from './topic-admin.js';
import { INTERNAL_PREFIX, TopicRegistry, holdersOf, type TopicRecord } from './topic-registry.js';
import { servingReplicas, type MetadataImage } from './cluster/metadata-image.js';

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
  /** With peers: makes this broker's replicas match the topics of the metadata log. */
  private readonly clusterTopics: ClusterTopics | null;
  /** With peers: carries out the moves of the partitions this broker leads. */
  private readonly reassigner: Reassigner | null;
  /** With peers: topic administration through the controller, and reads from the image. */
  private readonly clusterAdmin: ClusterAdmin | null;
  private readonly registry: TopicRegistry;
  /** With peers: the position of this broker among them, and their count (producer ids). */
  private readonly peerSlot: { readonly index: number; readonly count: number } | null;

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
    this.registry = registry;
    const lifecycle = this.lifecycle;
    const peers = clusterPeers(config);
    this.peerSlot =
      peers === null
        ? null
        : { index: peers.findIndex((p) => p.nodeId === config.nodeId), count: peers.length };
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
              // Kafka clients are told every broker's listener (kafka/metadata-handler.ts).
              ...(this.config.kafkaPort > 0 ? { kafkaPort: this.config.kafkaPort } : {}),
            }),
            report: onClusterEvent,
            newTopicId: () => ids.uuid(),
            limits: { maxPartitions: MAX_PARTITIONS_PER_TOPIC, topicDefaults: config.topicDefaults },
            onTopicsApplied: (topics, end) => this.clusterTopics?.applied(topics, end),
            // The controller stays where its election put it, as in KRaft; a moving partition's
            // leadership is the move's to hand over.
            balanceLeaders: (live) =>
              void this.replicas.balanceLeaders(
                live,
                (topic, partition) =>
                  topic === METADATA_TOPIC || this.reassigner?.moving(topic, partition) === true,
              ),
            reassignRound: () => this.reassigner?.round(),
          });
    this.replicas = new ReplicaManager({
      config,
      clock,
      waitClock,
      lifecycle,
      ensureTopic: (topic) =>
        this.clusterAdmin === null ? this.topics.ensureTopic(topic) : this.clusterAdmin.ensureTopic(topic),
      fs,
      random,
      start: {
        bootId,
        cleanShutdown: logs.cleanShutdown,
        newReplicaId: () => ids.uuid(),
        // Grows with every start: a leader forgets what this broker's replicas said before it.
        incarnation: clock.now(),
      },
      ...(this.transport === null ? {} : { transport: this.transport }),
      // The metadata log's group is every peer; a topic's partitions have the replicas the
      // controller placed (one broker: this broker alone).
      votersOf: (topic, partition) =>
        topic === METADATA_TOPIC ? quorum : (registry.get(topic)?.replicas?.[partition] ?? [config.nodeId]),
      holdersOf: (topic, partition) => {
        if (topic === METADATA_TOPIC) return quorum;
        const record = registry.get(topic);
        return (record === undefined ? undefined : holdersOf(record, partition)) ?? [config.nodeId];
      },
      ...(this.member === null ? {} : { topicPartitions: (topic: string) => this.partitionCount(topic) }),
      onGroupFailed: (group, err) =>
        onClusterEvent(
          `Raft group ${group} failed and left: ${err instanceof Error ? err.message : String(err)}`,
        ),
    });
    this.topics = new TopicAdmin({ config, clock, registry, logs, lifecycle, ids, report }, this.replicas);
    this.clusterTopics =
      this.member === null
        ? null
        : new ClusterTopics({
            self: config.nodeId,
            image: this.member.image,
            registry,
            admin: this.topics,
            replicas: this.replicas,
            topicDefaults: config.topicDefaults,
            clock,
            report: onClusterEvent,
          });
    this.reassigner =
      this.member === null
        ? null
        : new Reassigner({
            self: config.nodeId,
            image: this.member.image,
            replicas: this.replicas,
            request: (command) => this.member!.request(command),
            report: onClusterEvent,
          });
    this.clusterAdmin =
      this.member === null
        ? null
        : new ClusterAdmin({
            config,
            member: this.member,
            replicas: this.replicas,
            lifecycle,
            peerCount: peers?.length ?? 1,
            report: onClusterEvent,
          });
    const image = this.member?.image;
    this.metadataCache = new MetadataCache({
      config: () => this.config,
      controller: () =>
        peers === null ? config.nodeId : (this.replicas.find(METADATA_TOPIC, 0)?.leaderId ?? -1),
      registered: () => this.member?.image.liveBrokers() ?? null,
      lifecycle,
      // With peers the topics are the metadata log's, whether this broker holds them or not.
      topics: image === undefined ? registry : imageTopics(registry.clusterId, image),
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
      // Every broker's own, not the metadata log's: it is that log.
      broker.topics.createInternalTopic(METADATA_TOPIC, 1, METADATA_TOPIC_CONFIGS);
    broker.groups.start();
    logs.startBackgroundTasks();
    return broker;
  }

  get clusterId(): string {
    return this.metadataCache.clusterId;
  }

  /**
   * The leader (-1 when none is known), replicas and in-sync replicas of a partition this broker
   * holds; of one it does not hold, the leader and replicas the metadata log names (no in-sync
   * set: only the leader knows it); with one broker, this broker alone.
   */
  placement(topic: string, partition: number): { leader: number; replicas: number[]; isr?: number[] } {
    const p = this.replicas.find(topic, partition);
    if (p !== undefined) return this.replicas.placementOf(p);
    return (
      this.clusterAdmin?.placementElsewhere(topic, partition) ?? {
        leader: this.config.nodeId,
        replicas: [this.config.nodeId],
      }
    );
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
    const { nodeId, incarnation, host, grpcPort, httpPort, replicationPort, kafkaPort } = request;
    return this.member.heartbeat(
      // The wire's 0: no Kafka listener.
      {
        nodeId,
        incarnation,
        host,
        grpcPort,
        httpPort,
        replicationPort,
        ...(kafkaPort > 0 ? { kafkaPort } : {}),
      },
      this.clock.now(),
    );
  }

  /** An admin request a peer forwarded to the controller (the replication listener's). */
  async controllerRequest(request: ControllerRequest__Output): Promise<{ metadataEnd: number }> {
    if (this.member === null)
      throw new WeirError('NOT_CONTROLLER', `broker ${this.config.nodeId} has no peers`);
    return { metadataEnd: await this.member.submit(commandFromWire(request)) };
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

  /**
   * The admin API's topic requests. On one broker they are createTopic and the rest below; with
   * peers they go through the controller (cluster-admin.ts), and answer once this broker has
   * applied the change.
   */
  adminCreateTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Readonly<Record<string, string>>,
    validateOnly = false,
  ): Promise<TopicDescription> {
    if (this.clusterAdmin === null)
      return Promise.resolve(this.createTopic(name, partitions, replicationFactor, configs, validateOnly));
    return this.clusterAdmin.createTopic(name, partitions, replicationFactor, configs, validateOnly);
  }

  adminDeleteTopic(name: string): Promise<void> {
    return this.clusterAdmin === null ? this.deleteTopic(name) : this.clusterAdmin.deleteTopic(name);
  }

  async adminAlterTopicConfig(
    name: string,
    set: Readonly<Record<string, string>>,
    remove: readonly string[],
  ): Promise<TopicDescription> {
    if (this.clusterAdmin === null) return this.alterTopicConfig(name, set, remove);
    return this.clusterAdmin.alterTopicConfig(name, set, remove);
  }

  async adminCreatePartitions(name: string, count: number): Promise<TopicDescription> {
    if (this.clusterAdmin === null) return this.createPartitions(name, count);
    return this.clusterAdmin.createPartitions(name, count);
  }

  /** Starts moving partitions of a topic to other brokers (see ClusterAdmin.reassign). Needs peers. */
  async adminReassign(
    name: string,
    moves: readonly { readonly partition: number; readonly replicas: readonly number[] }[],
  ): Promise<TopicDescription> {
    if (this.clusterAdmin === null)
      throw new WeirError(
        'INVALID_REQUEST',
        'a broker without peers has nowhere to move partitions to; start it with --peers',
      );
    return this.clusterAdmin.reassign(name, moves);
  }

  /**
   * Creates one of the broker's own topics (`__consumer_offsets`) if it does not exist; users
   * cannot. With peers the controller creates it, in the background: COORDINATOR_NOT_AVAILABLE
   * (retriable) until it exists.
   */
  createInternalTopic(name: string, partitions: number, configs: Readonly<Record<string, string>>): void {
    if (this.clusterAdmin === null) return this.topics.createInternalTopic(name, partitions, configs);
    this.clusterAdmin.createInternalTopic(name, partitions, configs);
  }

  /** Calls `listener` after a topic is created or deleted, or its partition count grows. */
  onTopicsChanged(listener: () => void): void {
    this.topics.onTopicsChanged(listener);
  }

  deleteTopic(name: string): Promise<void> {
    return this.topics.deleteTopic(name);
  }

  listTopics(includeInternal: boolean): { name: string; partitions: number; internal: boolean }[] {
    return this.clusterAdmin === null
      ? this.topics.listTopics(includeInternal)
      : this.clusterAdmin.listTopics(includeInternal);
  }

  describeTopic(name: string): TopicDescription {
    return this.clusterAdmin === null
      ? this.topics.describeTopic(name)
      : this.clusterAdmin.describeTopic(name);
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

  /** The partitions of `topic` this broker holds (with peers, those placed on it). */
  partitionsHeld(topic: string): readonly Partition[] {
    return this.replicas.partitionsOf(topic);
  }

  /** The topic's partition count (0: no such topic), whether this broker holds them or not. */
  partitionCount(topic: string): number {
    if (this.member !== null) return this.member.image.topic(topic)?.partitions.length ?? 0;
    return this.registry.get(topic)?.partitions ?? 0;
  }

  // ---- producing ----

  /**
   * A new producer id. With peers, each broker hands out its own residue of the ids modulo the peer
   * count, so two brokers never hand out the same id (the peer list is fixed).
   */
  initProducerId(): { producerId: number; producerEpoch: number } {
    const local = this.topics.initProducerId();
    const slot = this.peerSlot;
    if (slot === null) return local;
    return { ...local, producerId: local.producerId * slot.count + slot.index };
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

  /** Where Kafka clients reach another live broker, if it has a Kafka listener (see MetadataCache). */
  kafkaAddressOf(nodeId: number): KafkaAddress | undefined {
    return this.metadataCache.kafkaAddressOf(nodeId);
  }

  /**
   * The broker leading a partition (one broker: this one, for every partition); with peers,
   * LEADER_NOT_AVAILABLE while no live broker is known to lead it.
   */
  leaderOf(topic: string, partition: number): BrokerInfo {
    if (this.member === null) return this.metadataCache.leaderOf(topic, partition);
    // A partition the cluster does not have: the error a request for it gets (or auto-create).
    if (this.member.image.topic(topic)?.partitions[partition] === undefined)
      this.replicas.partition(topic, partition);
    const { leader } = this.placement(topic, partition);
    const info = this.cluster().brokers.find((b) => b.nodeId === leader);
    if (info === undefined)
      throw new WeirError('LEADER_NOT_AVAILABLE', `${topic}/${partition} has no live leader known here`);
    return info;
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

  /** What this broker's Raft groups did since it started (elections, commit latency). */
  raftTotals(): RaftTotals {
    return this.replicas.raftTotals;
  }

  metadata(topics: readonly string[], autoCreate = true): TopicMetadata[] {
    return this.metadataCache.metadata(topics, autoCreate);
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

/** The metadata image's topics as the metadata cache reads them (with peers). */
function imageTopics(
  clusterId: string,
  image: MetadataImage,
): { clusterId: string; get(name: string): TopicRecord | undefined; all(): TopicRecord[] } {
  const recordOf = (name: string): TopicRecord | undefined => {
    const t = image.topic(name);
    if (t === undefined) return undefined;
    return {
      name,
      topicId: t.topicId,
      partitions: t.partitions.length,
      replicationFactor: t.replicationFactor,
      configs: t.configs,
      internal: name.startsWith(INTERNAL_PREFIX),
      createdAt: 0,
      replicas: t.partitions.map(servingReplicas),
    };
  };
  return {
    clusterId,
    get: recordOf,
    all: () => image.topics().flatMap((t) => recordOf(t.name) ?? []),
  };
}
