// The broker's core, independent of any transport: topics, produce, fetch, offsets, metadata.
// gRPC handlers and HTTP routes decode their input, call these methods and map the WeirErrors they
// throw; they hold no logic of their own (STYLE 14).

import assert from 'node:assert/strict';
import { WeirError } from '../proto/errors.js';
import { encodeBatch, type RecordInput } from '../proto/record-batch.js';
import { partitionForKey } from '../proto/partitioner.js';
import {
  LogManager,
  logConfigEntries,
  logConfigFrom,
  nodeFs,
  systemClock,
  invalidTopicName,
  toStorageError,
  type Clock,
  type LogConfig,
  type LogManagerEvent,
  type StorageFs,
} from '../storage/index.js';
import type { BrokerConfig } from './config.js';
import { cachedFilesOf, checkFileBudget } from './file-budget.js';
import { Partition, type Acks, type LogStats, type ProduceOutcome } from './partition.js';
import { TopicRegistry, type TopicRecord } from './topic-registry.js';
import { GroupCoordinator, OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIGS } from './group/coordinator.js';
import { reconcileLogs, type MetadataEvent, type PendingDeletes } from './log-reconcile.js';
import { StorageHealth, type StorageReport } from './storage-health.js';

export const MAX_PARTITIONS_PER_TOPIC = 10_000;
export const INTERNAL_PREFIX = '__';

export interface BrokerDeps {
  readonly fs?: StorageFs;
  readonly clock?: Clock;
  readonly onStorageEvent?: (event: LogManagerEvent | MetadataEvent) => void;
  /** Group coordinator news: evictions, offsets loaded at start-up. */
  readonly onGroupEvent?: (message: string) => void;
  /** Storage failures, already rate-limited to a line per episode (see storage-health.ts). */
  readonly onStorageReport?: (report: StorageReport) => void;
}

export interface PartitionStats extends LogStats {
  readonly partition: number;
  readonly leader: number;
  readonly replicas: number[];
}

export interface TopicDescription {
  readonly name: string;
  readonly partitions: PartitionStats[];
  readonly configs: Record<string, string>;
  readonly overrides: Record<string, string>;
  readonly internal: boolean;
  readonly replicationFactor: number;
}

export interface FetchPartitionRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxBytes: number;
}

export interface FetchPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly batches: Buffer;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly nextOffset: number;
  readonly error: WeirError | null;
}

export interface ProducedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: { key: string; value: Buffer | null }[];
  /** 0 = now. */
  readonly timestamp: number;
}

export interface BrokerInfo {
  readonly nodeId: number;
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
}

export interface ClusterView {
  readonly clusterId: string;
  readonly controllerId: number;
  readonly brokers: BrokerInfo[];
}

export const EARLIEST = -2;
export const LATEST = -1;

export class Broker {
  readonly config: BrokerConfig;
  readonly clock: Clock;
  /** Consumer groups this broker coordinates, and their committed offsets. */
  readonly groups: GroupCoordinator;
  /** Storage errors: episodes, counts, and whether storage is failing now. */
  readonly storageHealth: StorageHealth;
  private readonly registry: TopicRegistry;
  private readonly logs: LogManager;
  private readonly partitions = new Map<string, Partition[]>();
  private closing = false;
  private readonly topicListeners: (() => void)[] = [];
  private readonly report: (event: MetadataEvent) => void;
  /** Where records without a key go when the broker partitions them: round robin per request. */
  private roundRobin = 0;

  private constructor(
    config: BrokerConfig,
    clock: Clock,
    registry: TopicRegistry,
    logs: LogManager,
    storageHealth: StorageHealth,
    onGroupEvent: ((message: string) => void) | undefined,
    report: (event: MetadataEvent) => void,
  ) {
    this.config = config;
    this.clock = clock;
    this.registry = registry;
    this.logs = logs;
    this.storageHealth = storageHealth;
    this.report = report;
    this.groups = new GroupCoordinator(this, onGroupEvent);
  }

  /** Opens the data directory: metadata, every log (recovering as needed), background tasks. */
  static open(config: BrokerConfig, deps: BrokerDeps = {}): Broker {
    const fs = deps.fs ?? nodeFs;
    const clock = deps.clock ?? systemClock;
    const registry = TopicRegistry.open(fs, config.dataDir, {
      maxPartitions: MAX_PARTITIONS_PER_TOPIC,
      topicDefaults: config.topicDefaults,
    });
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
    const broker = new Broker(config, clock, registry, logs, storageHealth, deps.onGroupEvent, (event) =>
      deps.onStorageEvent?.(event),
    );
    broker.reconcile();
    broker.groups.start();
    logs.startBackgroundTasks();
    return broker;
  }

  get clusterId(): string {
    return this.registry.clusterId;
  }

  get cleanShutdown(): boolean {
    return this.logs.cleanShutdown;
  }

  /**
   * Makes the logs match the metadata (see log-reconcile.ts: nothing is deleted that no explicit
   * delete asked for), then creates the logs a topic lacks.
   */
  private reconcile(): void {
    const pending = reconcileLogs(this.registry, this.logs, {
      now: this.clock.now(),
      maxPartitions: MAX_PARTITIONS_PER_TOPIC,
      metadataMissing: this.registry.fileWasMissing,
      rebuiltAs: (name): { configs: Record<string, string>; internal: boolean } =>
        name === OFFSETS_TOPIC
          ? { configs: { ...OFFSETS_TOPIC_CONFIGS }, internal: true }
          : // Its configs are lost: nothing is deleted by retention until an operator sets them.
            {
              configs: { 'retention.ms': '-1', 'retention.bytes': '-1' },
              internal: name.startsWith(INTERNAL_PREFIX),
            },
      report: this.report,
    });
    for (const topic of this.registry.all()) {
      const config = logConfigFrom(topic.configs, this.config.topicDefaults);
      const list: Partition[] = [];
      for (let p = 0; p < topic.partitions; p++) {
        const log =
          this.logs.getLog(topic.name, p) ?? this.logs.createLog(topic.name, p, config, topic.topicId);
        // A rebuilt topic's logs were opened before its configs existed.
        log.updateConfig(config);
        list.push(new Partition(topic.name, p, log));
      }
      this.partitions.set(topic.name, list);
    }
    this.forgetWhenRemoved(pending);
  }

  /** Drops the record of deleted topics once their directories are gone. */
  private forgetWhenRemoved(pending: PendingDeletes): void {
    if (pending.topicIds.length === 0) return;
    void Promise.all(pending.removed).then(() => {
      if (this.closing) return; // the next start-up drops them
      try {
        this.registry.forgetDeleted(pending.topicIds);
      } catch (error) {
        this.report({ kind: 'metadata-error', task: 'forget deleted topic ids', error });
      }
    });
  }

  // ---- topics ----

  createTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Readonly<Record<string, string>>,
    validateOnly = false,
  ): TopicDescription {
    this.assertOpen();
    const reason = invalidTopicName(name);
    if (reason !== null) throw new WeirError('INVALID_TOPIC_EXCEPTION', reason);
    if (name.startsWith(INTERNAL_PREFIX)) {
      throw new WeirError(
        'POLICY_VIOLATION',
        `topic names starting with '${INTERNAL_PREFIX}' are reserved for the broker`,
      );
    }
    return this.addTopic(name, partitions, replicationFactor, configs, false, validateOnly);
  }

  /** Creates one of the broker's own topics (`__consumer_offsets`); users cannot. */
  createInternalTopic(name: string, partitions: number, configs: Readonly<Record<string, string>>): void {
    this.assertOpen();
    if (!name.startsWith(INTERNAL_PREFIX)) throw new Error(`internal topic '${name}' must start with '__'`);
    if (this.registry.get(name) === undefined) this.addTopic(name, partitions, 0, configs, true, false);
  }

  /** Calls `listener` after a topic is created or deleted, or its partition count grows. */
  onTopicsChanged(listener: () => void): void {
    this.topicListeners.push(listener);
  }

  private topicsChanged(): void {
    for (const listener of this.topicListeners) listener();
  }

  private addTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Readonly<Record<string, string>>,
    internal: boolean,
    validateOnly: boolean,
  ): TopicDescription {
    if (this.registry.get(name) !== undefined)
      throw new WeirError('TOPIC_ALREADY_EXISTS', `topic '${name}' already exists`);
    // '.' and '_' collide in metric names, as in Kafka.
    const normal = name.replaceAll('.', '_');
    const clash = this.registry.all().find((t) => t.name.replaceAll('.', '_') === normal);
    if (clash !== undefined) {
      throw new WeirError(
        'INVALID_TOPIC_EXCEPTION',
        `topic '${name}' collides with '${clash.name}' ('.' and '_' are the same in metric names)`,
      );
    }
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS_PER_TOPIC) {
      throw new WeirError(
        'INVALID_PARTITIONS',
        `a topic needs 1 to ${MAX_PARTITIONS_PER_TOPIC} partitions, got ${partitions}`,
      );
    }
    const rf = replicationFactor === 0 ? this.config.defaultReplicationFactor : replicationFactor;
    if (rf !== 1)
      throw new WeirError(
        'INVALID_REPLICATION_FACTOR',
        `this cluster has 1 broker; replication factor ${rf} is impossible`,
      );
    logConfigFrom(configs, this.config.topicDefaults);
    // The broker's own topics are exempt: it needs them to start, whatever the budget.
    if (!internal) this.checkFileBudget(partitions, `topic '${name}'`);
    if (validateOnly)
      return this.describeRecord(
        {
          name,
          partitions,
          replicationFactor: rf,
          configs: { ...configs },
          internal: false,
          topicId: '',
          createdAt: 0,
        },
        true,
      );
    const record = this.registry.add(
      { name, partitions, replicationFactor: rf, configs: { ...configs }, internal },
      this.clock.now(),
    );
    this.partitions.set(
      name,
      this.openPartitions(record, 0, () => this.registry.remove(name)),
    );
    this.topicsChanged();
    return this.describeTopic(name);
  }

  /**
   * The registry's save (topic gone, its id recorded as deleted) is the commit point: a failure
   * before it leaves the topic as it was. Each directory is then renamed aside, which needs no
   * free space, and removed in the background; a crash at any step is finished at start-up.
   */
  async deleteTopic(name: string): Promise<void> {
    this.assertOpen();
    const topic = this.registry.require(name);
    if (topic.internal) throw new WeirError('POLICY_VIOLATION', `internal topic '${name}' cannot be deleted`);
    this.registry.remove(name);
    const list = this.partitions.get(name) ?? [];
    this.partitions.delete(name);
    this.topicsChanged();
    let outcomes: Awaited<ReturnType<LogManager['deleteLogs']>>;
    try {
      outcomes = await this.logs.deleteLogs(
        name,
        list.map((p) => p.id),
      );
    } finally {
      for (const p of list) p.wakeAll();
    }
    const removed: Promise<void>[] = [];
    let failed = false;
    outcomes.forEach((outcome, i) => {
      if (!(outcome instanceof Error)) return void removed.push(outcome.removed);
      // Past the commit point: the directory left behind carries a deleted id, so the next
      // start-up removes it.
      failed = true;
      this.report({ kind: 'metadata-error', task: `delete ${name}-${list[i]?.id}`, error: outcome });
    });
    if (!failed) this.forgetWhenRemoved({ topicIds: [topic.topicId], removed });
  }

  listTopics(includeInternal: boolean): { name: string; partitions: number; internal: boolean }[] {
    return this.registry
      .all()
      .filter((t) => includeInternal || !t.internal)
      .map((t) => ({ name: t.name, partitions: t.partitions, internal: t.internal }));
  }

  describeTopic(name: string): TopicDescription {
    return this.describeRecord(this.registry.require(name), false);
  }

  alterTopicConfig(
    name: string,
    set: Readonly<Record<string, string>>,
    remove: readonly string[],
  ): TopicDescription {
    this.assertOpen();
    const topic = this.registry.require(name);
    const overrides: Record<string, string> = { ...topic.configs, ...set };
    for (const key of remove) delete overrides[key];
    const config = logConfigFrom(overrides, this.config.topicDefaults);
    this.registry.update(name, { configs: overrides });
    for (const p of this.partitions.get(name) ?? []) p.updateConfig(config);
    return this.describeTopic(name);
  }

  createPartitions(name: string, count: number): TopicDescription {
    this.assertOpen();
    const topic = this.registry.require(name);
    if (!Number.isInteger(count) || count <= topic.partitions || count > MAX_PARTITIONS_PER_TOPIC) {
      throw new WeirError(
        'INVALID_PARTITIONS',
        `topic '${name}' has ${topic.partitions} partitions; the new count must be larger (and at most ${MAX_PARTITIONS_PER_TOPIC}), got ${count}`,
      );
    }
    this.checkFileBudget(
      count - topic.partitions,
      `${count - topic.partitions} more partitions of '${name}'`,
    );
    const record = this.registry.update(name, { partitions: count });
    const list = this.partitions.get(name) ?? [];
    list.push(...this.openPartitions(record, list.length, () => this.registry.revertUpdate(topic)));
    this.partitions.set(name, list);
    this.topicsChanged();
    return this.describeTopic(name);
  }

  /** The partition, creating the topic first when auto-create is on. */
  partition(topic: string, partition: number): Partition {
    let list = this.partitions.get(topic);
    if (list === undefined) {
      const reason = invalidTopicName(topic);
      if (reason !== null) throw new WeirError('INVALID_TOPIC_EXCEPTION', reason);
      if (!this.config.autoCreateTopics || topic.startsWith(INTERNAL_PREFIX)) {
        throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist`);
      }
      this.createTopic(topic, this.config.defaultPartitions, 0, {});
      list = this.partitions.get(topic) as Partition[];
    }
    const p = Number.isInteger(partition) ? list[partition] : undefined;
    if (p === undefined) {
      throw new WeirError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `topic '${topic}' has no partition ${partition} (it has ${list.length})`,
      );
    }
    return p;
  }

  partitionCount(topic: string): number {
    return this.partitions.get(topic)?.length ?? 0;
  }

  // ---- producing ----

  initProducerId(): { producerId: number; producerEpoch: number } {
    this.assertOpen();
    return { producerId: this.registry.allocateProducerId(), producerEpoch: 0 };
  }

  /** Appends RecordBatch bytes to one partition. */
  produce(topic: string, partition: number, batches: Buffer, acks: Acks): Promise<ProduceOutcome> {
    this.assertOpen();
    if (topic.startsWith(INTERNAL_PREFIX))
      throw new WeirError('POLICY_VIOLATION', `only the broker writes to internal topic '${topic}'`);
    return this.partition(topic, partition).produce(
      batches,
      acks,
      this.clock.now(),
      this.config.maxInflatedBatchBytes,
    );
  }

  /** Appends to one of the broker's own topics (the group coordinator's commits); see Partition. */
  appendInternal(
    topic: string,
    partition: number,
    batch: Buffer,
  ): { baseOffset: number; flushed: Promise<void> } {
    this.assertOpen();
    assert(topic.startsWith(INTERNAL_PREFIX), `'${topic}' is not an internal topic`);
    return this.partition(topic, partition).appendInternal(batch);
  }

  /**
   * Appends plain records. With partition -1 the broker partitions them: by Kafka's murmur2 of the
   * key, and records without a key all to one partition chosen round robin per request.
   */
  async produceRecords(
    topic: string,
    partition: number,
    records: readonly ProducedRecord[],
    acks: Acks,
  ): Promise<{ partition: number; outcome: ProduceOutcome }[]> {
    this.assertOpen();
    if (records.length === 0) throw new WeirError('INVALID_REQUEST', 'no records to produce');
    const now = this.clock.now();
    const groups = new Map<number, RecordInput[]>();
    let count = 0;
    let unkeyed = partition;
    if (partition === -1) {
      this.partition(topic, 0); // the topic must exist (or be auto-created) before it is counted
      count = this.partitionCount(topic);
      unkeyed = this.roundRobin++ % count;
    }
    for (const r of records) {
      const target = partition !== -1 ? partition : r.key === null ? unkeyed : partitionForKey(r.key, count);
      let group = groups.get(target);
      if (group === undefined) groups.set(target, (group = []));
      group.push({
        key: r.key,
        value: r.value,
        headers: r.headers,
        timestamp: r.timestamp === 0 ? now : r.timestamp,
      });
    }
    // All groups are appended before any fsync is awaited, in one synchronous pass.
    const appends = [...groups].map(([p, group]) =>
      this.produce(topic, p, encodeBatch(group), acks).then((outcome) => ({ partition: p, outcome })),
    );
    return Promise.all(appends);
  }

  // ---- fetching ----

  /**
   * Reads each requested partition from its offset, up to its max bytes and the response's. If fewer
   * than `minBytes` came back, waits up to `maxWaitMs` for new data, then reads once more.
   */
  async fetch(
    requests: readonly FetchPartitionRequest[],
    maxBytes: number,
    minBytes: number,
    maxWaitMs: number,
    signal?: AbortSignal,
  ): Promise<FetchPartitionResult[]> {
    this.assertOpen();
    if (!Number.isInteger(maxBytes) || maxBytes < 0)
      throw new WeirError('INVALID_REQUEST', `max_bytes ${maxBytes}`);
    let results = this.readAll(requests, maxBytes);
    const wait = Math.min(Math.max(0, maxWaitMs), this.config.maxFetchWaitMs);
    if (wait === 0 || bytesOf(results) >= Math.max(1, minBytes) || results.some((r) => r.error !== null))
      return results;
    await this.waitForData(requests, wait, signal);
    if (!this.closing) results = this.readAll(requests, maxBytes);
    return results;
  }

  private readAll(requests: readonly FetchPartitionRequest[], maxBytes: number): FetchPartitionResult[] {
    let budget = maxBytes === 0 ? Number.MAX_SAFE_INTEGER : maxBytes;
    let nothingYet = true;
    const results: FetchPartitionResult[] = [];
    for (const req of requests) {
      try {
        const p = this.partition(req.topic, req.partition);
        const limit = Math.min(req.maxBytes > 0 ? req.maxBytes : budget, budget);
        // The first partition with data always gets at least one batch, as Kafka's fetch does.
        const read = p.read(req.offset, limit, { maxOffset: p.highWatermark, minOneBatch: nothingYet });
        budget = Math.max(0, budget - read.records.length);
        if (read.records.length > 0) nothingYet = false;
        results.push({
          topic: req.topic,
          partition: req.partition,
          batches: read.records,
          highWatermark: p.highWatermark,
          logStartOffset: read.logStartOffset,
          nextOffset: read.records.length > 0 ? read.lastOffset + 1 : req.offset,
          error: null,
        });
      } catch (err) {
        if (!(err instanceof WeirError)) throw err;
        // A client told OFFSET_OUT_OF_RANGE resets from these, so they are the partition's own
        // whenever it exists; -1 only when there is no such partition.
        const known = Number.isInteger(req.partition)
          ? this.partitions.get(req.topic)?.[req.partition]
          : undefined;
        results.push({
          topic: req.topic,
          partition: req.partition,
          batches: EMPTY,
          highWatermark: known?.highWatermark ?? -1,
          logStartOffset: known?.logStartOffset ?? -1,
          nextOffset: req.offset,
          error: err,
        });
      }
    }
    return results;
  }

  /** Resolves when any of the partitions gets data, after `ms`, or when `signal` aborts. */
  waitForData(
    requests: readonly { topic: string; partition: number }[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      const unsubscribes: (() => void)[] = [];
      let timer: ReturnType<typeof setTimeout> | null = null;
      const done = (): void => {
        for (const u of unsubscribes) u();
        if (timer !== null) clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      for (const req of requests) {
        const p = this.partitions.get(req.topic)?.[req.partition];
        if (p !== undefined) unsubscribes.push(p.onData(done));
      }
      // Long-poll waits are real time even under a simulated clock: they bound a client's wait.
      timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      if (signal?.aborted || this.closing) done();
    });
  }

  /**
   * Earliest (-2), latest (-1), or the first record at or after a timestamp: its offset and its own
   * timestamp (-1 and -1 if there is none).
   */
  listOffset(topic: string, partition: number, timestamp: number): { offset: number; timestamp: number } {
    const p = this.partition(topic, partition);
    if (timestamp === EARLIEST) return { offset: p.logStartOffset, timestamp: -1 };
    if (timestamp === LATEST) return { offset: p.highWatermark, timestamp: -1 };
    if (!Number.isSafeInteger(timestamp) || timestamp < 0)
      throw new WeirError('INVALID_TIMESTAMP', `timestamp ${timestamp}`);
    const found = p.recordAtOrAfter(timestamp);
    if (found === null || found.offset >= p.highWatermark) return { offset: -1, timestamp: -1 };
    return found;
  }

  // ---- metadata ----

  /** The brokers of the cluster and its controller (one broker: this one). */
  cluster(): ClusterView {
    const { nodeId, host, grpcPort, httpPort } = this.config;
    return {
      clusterId: this.clusterId,
      controllerId: nodeId,
      brokers: [{ nodeId, host, grpcPort, httpPort }],
    };
  }

  /** The broker leading a partition (one broker: this one, for every partition). */
  leaderOf(topic: string, partition: number): BrokerInfo {
    this.partition(topic, partition);
    const self = this.cluster().brokers.find((b) => b.nodeId === this.config.nodeId);
    assert(self !== undefined, 'this broker is missing from its own cluster view');
    return self;
  }

  /** One partition's stats and offsets; never creates a topic. */
  describePartition(
    topic: string,
    partition: number,
  ): PartitionStats & { earliestOffset: number; latestOffset: number } {
    this.registry.require(topic);
    const p = Number.isInteger(partition) ? this.partitions.get(topic)?.[partition] : undefined;
    if (p === undefined)
      throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' has no partition ${partition}`);
    return { ...this.statsOf(p), earliestOffset: p.logStartOffset, latestOffset: p.highWatermark };
  }

  /** Every partition's stats, for a metrics scrape (no configs computed). */
  allPartitionStats(): { topic: string; stats: PartitionStats }[] {
    const out: { topic: string; stats: PartitionStats }[] = [];
    for (const [topic, list] of this.partitions)
      for (const p of list) out.push({ topic, stats: this.statsOf(p) });
    return out;
  }

  metadata(
    topics: readonly string[],
  ): { name: string; partitions: number; internal: boolean; error: WeirError | null }[] {
    const names = topics.length === 0 ? this.registry.all().map((t) => t.name) : topics;
    return names.map((name) => {
      // As Kafka's metadata request: a topic asked for by name is created when auto-create is on.
      if (this.config.autoCreateTopics && !this.closing && this.registry.get(name) === undefined) {
        try {
          this.partition(name, 0);
        } catch (err) {
          if (!(err instanceof WeirError)) throw err;
        }
      }
      const t = this.registry.get(name);
      if (t !== undefined) return { name, partitions: t.partitions, internal: t.internal, error: null };
      const reason = invalidTopicName(name);
      const error =
        reason !== null
          ? new WeirError('INVALID_TOPIC_EXCEPTION', reason)
          : new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
      return { name, partitions: 0, internal: false, error };
    });
  }

  /** Refuses new work (BROKER_SHUTTING_DOWN) and wakes waiting fetches and subscriptions. */
  stopAccepting(): void {
    this.closing = true;
    this.groups.close();
    for (const list of this.partitions.values()) for (const p of list) p.wakeAll();
  }

  /** Stops taking work and closes the logs cleanly (flush, checkpoints, clean-shutdown marker). */
  async close(): Promise<void> {
    this.stopAccepting();
    this.storageHealth.close();
    // Produces accepted before the stop may still be inflating: they append before the logs'
    // final flush, not after it.
    const accepted: Promise<void>[] = [];
    for (const list of this.partitions.values()) for (const p of list) accepted.push(p.appended());
    await Promise.all(accepted);
    await this.logs.close();
  }

  /** Partitions whose log went offline (a failed fsync, a device error) until the next restart. */
  offlinePartitions(): { topic: string; partition: number; reason: string }[] {
    const out: { topic: string; partition: number; reason: string }[] = [];
    for (const [topic, list] of this.partitions)
      for (const p of list) {
        const failure = p.failed;
        if (failure !== null) out.push({ topic, partition: p.id, reason: failure.message });
      }
    return out;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new WeirError('BROKER_SHUTTING_DOWN', 'the broker is shutting down');
  }

  /** Refuses (FILE_BUDGET_EXCEEDED) partitions whose active segments would pass maxOpenFiles. */
  private checkFileBudget(adding: number, what: string): void {
    let inUse = 0;
    for (const t of this.registry.all()) inUse += t.partitions;
    checkFileBudget(this.config.maxOpenFiles, inUse, adding, what);
  }

  /**
   * Opens the logs of partitions [from, topic.partitions). If one fails, the request is undone
   * whole: the logs it made are removed, then `undoRegistry` puts the metadata back, and the
   * failure is a KAFKA_STORAGE_ERROR.
   */
  private openPartitions(topic: TopicRecord, from: number, undoRegistry: () => void): Partition[] {
    const config = logConfigFrom(topic.configs, this.config.topicDefaults);
    const list: Partition[] = [];
    try {
      for (let p = from; p < topic.partitions; p++)
        list.push(new Partition(topic.name, p, this.logs.createLog(topic.name, p, config, topic.topicId)));
    } catch (err) {
      // Logs first: the likely failure is running out of descriptors, and removing the new logs
      // gives them back for the metadata write. A crash in between leaves a topic whose missing
      // logs the next start creates, never a log without a topic.
      let undone = 'the request was undone';
      try {
        for (const p of list) this.logs.discardLog(topic.name, p.id);
        undoRegistry();
      } catch (undoErr) {
        undone = `undoing it failed too (${String(undoErr)}); the next start repairs it`;
      }
      throw new WeirError(
        'KAFKA_STORAGE_ERROR',
        `creating partition ${from + list.length} of topic '${topic.name}' failed (${String(err)}); ${undone}`,
        // As retriable as the failure behind it: a full disk can drain, a read-only one cannot.
        { cause: err, retriable: (toStorageError(err, 'create') as Partial<WeirError>).retriable ?? false },
      );
    }
    return list;
  }

  private describeRecord(topic: TopicRecord, dryRun: boolean): TopicDescription {
    const config = logConfigFrom(topic.configs, this.config.topicDefaults);
    const list = dryRun ? [] : (this.partitions.get(topic.name) ?? []);
    return {
      name: topic.name,
      internal: topic.internal,
      replicationFactor: topic.replicationFactor,
      configs: logConfigEntries(config),
      overrides: { ...topic.configs },
      partitions: list.map((p) => this.statsOf(p)),
    };
  }

  private statsOf(p: Partition): PartitionStats {
    return {
      partition: p.id,
      leader: this.config.nodeId,
      replicas: [this.config.nodeId],
      ...p.stats(),
    };
  }
}

const EMPTY = Buffer.alloc(0);

function bytesOf(results: readonly FetchPartitionResult[]): number {
  let n = 0;
  for (const r of results) n += r.batches.length;
  return n;
}
