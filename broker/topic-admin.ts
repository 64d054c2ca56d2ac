// Topic administration: create, delete, alter, grow and describe topics, over the topic registry
// (the metadata file) and the log manager (the partitions' directories), within the open-file
// budget. At start-up it makes the logs match the metadata. The partitions it opens are handed to
// the replica manager, which serves them.

import { WeirError } from '../proto/errors.js';
import {
  logConfigEntries,
  logConfigFrom,
  invalidTopicName,
  toStorageError,
  type Clock,
  type LogManager,
  type LogStartRaise,
  type PartitionLog,
} from '../storage/index.js';
import type { BrokerConfig } from './config.js';
import { checkFileBudget } from './file-budget.js';
import { OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIGS } from './group/coordinator.js';
import type { Ids } from './ids.js';
import type { Lifecycle } from './lifecycle.js';
import { reconcileLogs, type MetadataEvent, type PendingDeletes } from './log-reconcile.js';
import type { PartitionStats, ReplicaManager } from './replica/replica-manager.js';
import { INTERNAL_PREFIX, holdersOf, type TopicRecord, type TopicRegistry } from './topic-registry.js';

export const MAX_PARTITIONS_PER_TOPIC = 10_000;

export interface TopicDescription {
  readonly name: string;
  readonly partitions: PartitionStats[];
  readonly configs: Record<string, string>;
  readonly overrides: Record<string, string>;
  readonly internal: boolean;
  readonly replicationFactor: number;
}

export interface TopicAdminDeps {
  readonly config: BrokerConfig;
  readonly clock: Clock;
  readonly registry: TopicRegistry;
  readonly logs: LogManager;
  readonly lifecycle: Lifecycle;
  readonly ids: Ids;
  readonly report: (event: MetadataEvent) => void;
}

export class TopicAdmin {
  private readonly config: BrokerConfig;
  private readonly clock: Clock;
  private readonly registry: TopicRegistry;
  private readonly logs: LogManager;
  private readonly lifecycle: Lifecycle;
  private readonly ids: Ids;
  private readonly report: (event: MetadataEvent) => void;
  private readonly replicas: ReplicaManager;
  /** Moved-away partitions whose logs are being deleted (topic/partition), so none is deleted twice. */
  private readonly removingMoved = new Set<string>();
  private readonly topicListeners: (() => void)[] = [];

  constructor(deps: TopicAdminDeps, replicas: ReplicaManager) {
    this.config = deps.config;
    this.clock = deps.clock;
    this.registry = deps.registry;
    this.logs = deps.logs;
    this.lifecycle = deps.lifecycle;
    this.ids = deps.ids;
    this.report = deps.report;
    this.replicas = replicas;
  }

  /**
   * Makes the logs match the metadata (see log-reconcile.ts: nothing is deleted that no explicit
   * delete asked for), then creates the logs a topic lacks and hands every partition to the
   * replica manager.
   */
  reconcile(): void {
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
      ids: this.ids,
    });
    for (const topic of this.registry.all()) {
      const config = logConfigFrom(topic.configs, this.config.topicDefaults);
      const logs: { id: number; log: PartitionLog }[] = [];
      for (const p of this.heldPartitions(topic, 0)) {
        const log =
          this.logs.getLog(topic.name, p) ?? this.logs.createLog(topic.name, p, config, topic.topicId);
        // A rebuilt topic's logs were opened before its configs existed.
        log.updateConfig(config);
        logs.push({ id: p, log });
      }
      this.replicas.addPartitions(topic.name, logs);
    }
    this.forgetWhenRemoved(pending);
  }

  /** Drops the record of deleted topics once their directories are gone. */
  private forgetWhenRemoved(pending: PendingDeletes): void {
    if (pending.topicIds.length === 0) return;
    void Promise.all(pending.removed).then(() => {
      if (this.lifecycle.closing) return; // the next start-up drops them
      try {
        this.registry.forgetDeleted(pending.topicIds);
      } catch (error) {
        this.report({ kind: 'metadata-error', task: 'forget deleted topic ids', error });
      }
    });
  }

  createTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Readonly<Record<string, string>>,
    validateOnly = false,
  ): TopicDescription {
    this.lifecycle.assertOpen();
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
    this.lifecycle.assertOpen();
    if (!name.startsWith(INTERNAL_PREFIX)) throw new Error(`internal topic '${name}' must start with '__'`);
    if (this.registry.get(name) === undefined) this.addTopic(name, partitions, 0, configs, true, false);
  }

  /**
   * For a topic this broker has no partitions of: creates it when auto-create is on, else throws
   * why it cannot be served.
   */
  ensureTopic(topic: string): void {
    const reason = invalidTopicName(topic);
    if (reason !== null) throw new WeirError('INVALID_TOPIC_EXCEPTION', reason);
    if (!this.config.autoCreateTopics || topic.startsWith(INTERNAL_PREFIX)) {
      throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist`);
    }
    this.createTopic(topic, this.config.defaultPartitions, 0, {});
  }

  /** Calls `listener` after a topic is created or deleted, or its partition count grows. */
  onTopicsChanged(listener: () => void): void {
    this.topicListeners.push(listener);
  }

  /** Tells the topic listeners (the group coordinator) that topics changed. */
  topicsChanged(): void {
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
    this.replicas.addPartitions(
      name,
      this.openLogs(record, this.heldPartitions(record, 0), () => this.registry.remove(name)),
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
    this.lifecycle.assertOpen();
    const topic = this.registry.require(name);
    if (topic.internal) throw new WeirError('POLICY_VIOLATION', `internal topic '${name}' cannot be deleted`);
    this.registry.remove(name);
    await this.removeLogs(topic);
  }

  /**
   * Stops serving a topic the registry no longer holds and deletes its logs: each directory is
   * renamed aside and removed in the background; a failure is reported, and the next start-up
   * finishes it (the directory carries a deleted id).
   */
  async removeLogs(topic: TopicRecord): Promise<void> {
    const name = topic.name;
    const list = this.replicas.removeTopic(name);
    this.topicsChanged();
    let outcomes: Awaited<ReturnType<LogManager['deleteLogs']>>;
    try {
      outcomes = await this.logs.deleteLogs(
        name,
        list.map((p) => p.id),
      );
    } finally {
      this.replicas.wake(list);
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

  /** The partitions of `topic` this broker has a log of, served or not. */
  localLogIds(topic: string): number[] {
    return this.logs
      .allLogs()
      .filter((l) => l.topic === topic)
      .map((l) => l.partition);
  }

  /**
   * Stops serving partitions `ids` of a topic moved to other brokers, and deletes their logs as
   * removeLogs does (renamed aside, removed in the background). The registry already does not
   * place them here, so a crash before the rename is finished at the next start-up's apply.
   */
  async removePartitionLogs(topic: string, asked: readonly number[]): Promise<void> {
    const ids = asked.filter((id) => !this.removingMoved.has(`${topic}/${id}`));
    if (ids.length === 0) return;
    for (const id of ids) this.removingMoved.add(`${topic}/${id}`);
    try {
      await this.removeMoved(topic, ids);
    } finally {
      for (const id of ids) this.removingMoved.delete(`${topic}/${id}`);
    }
  }

  private async removeMoved(topic: string, ids: readonly number[]): Promise<void> {
    const list = this.replicas.removePartitions(topic, ids);
    this.topicsChanged();
    let outcomes: Awaited<ReturnType<LogManager['deleteLogs']>>;
    try {
      outcomes = await this.logs.deleteLogs(topic, ids);
    } finally {
      this.replicas.wake(list);
    }
    outcomes.forEach((outcome, i) => {
      if (outcome instanceof Error)
        this.report({ kind: 'metadata-error', task: `delete moved ${topic}-${ids[i]}`, error: outcome });
      else
        outcome.removed.catch((error: unknown) =>
          this.report({ kind: 'metadata-error', task: `delete moved ${topic}-${ids[i]}`, error }),
        );
    });
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
    this.lifecycle.assertOpen();
    const topic = this.registry.require(name);
    const overrides: Record<string, string> = { ...topic.configs, ...set };
    for (const key of remove) delete overrides[key];
    const config = logConfigFrom(overrides, this.config.topicDefaults);
    this.registry.update(name, { configs: overrides });
    for (const p of this.replicas.partitionsOf(name)) p.updateConfig(config);
    return this.describeTopic(name);
  }

  createPartitions(name: string, count: number): TopicDescription {
    this.lifecycle.assertOpen();
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
    this.replicas.addPartitions(
      name,
      this.openLogs(record, this.heldPartitions(record, topic.partitions), () =>
        this.registry.revertUpdate(topic),
      ),
    );
    this.topicsChanged();
    return this.describeTopic(name);
  }

  /** One partition's stats and offsets; never creates a topic. */
  describePartition(
    topic: string,
    partition: number,
  ): PartitionStats & { earliestOffset: number; latestOffset: number } {
    this.registry.require(topic);
    const p = this.replicas.find(topic, partition);
    if (p === undefined)
      throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' has no partition ${partition}`);
    return { ...this.replicas.statsOf(p), earliestOffset: p.logStartOffset, latestOffset: p.highWatermark };
  }

  /**
   * Raises partitions' log start offsets (Kafka's DeleteRecords; offset -1: the high watermark).
   * Records below a new start can no longer be read, the segments wholly below it are deleted, and
   * every new start of the request is flushed and checkpointed, in one checkpoint, before the
   * answer. Offsets below the current start change nothing. Answers, in order, each partition's log
   * start offset now (Kafka's low watermark) or why it was refused: partitions are applied or
   * refused one by one, so a request can be partly applied.
   */
  async deleteRecords(requests: readonly LogStartRaise[]): Promise<(number | Error)[]> {
    this.lifecycle.assertOpen();
    const results: (number | Error)[] = [];
    const raises: LogStartRaise[] = [];
    const positions: number[] = [];
    for (const request of requests) {
      try {
        raises.push({ ...request, offset: this.deleteRecordsTarget(request) });
        positions.push(results.length);
        results.push(-1);
      } catch (err) {
        results.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (raises.length === 0) return results;
    const raised = await this.logs.raiseLogStartOffsets(raises);
    raised.forEach((outcome, i) => (results[positions[i] as number] = outcome));
    return results;
  }

  /** The log start a DeleteRecords request asks for, or why it is refused. */
  private deleteRecordsTarget({ topic, partition, offset }: LogStartRaise): number {
    if (this.registry.require(topic).internal)
      throw new WeirError('POLICY_VIOLATION', `records of internal topic '${topic}' cannot be deleted`);
    const p = this.replicas.find(topic, partition);
    if (p === undefined)
      throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' has no partition ${partition}`);
    // An offline log cannot tell its range: its failure is the answer.
    if (p.failed !== null) throw p.failed;
    const hw = p.highWatermark;
    const target = offset === -1 ? hw : offset;
    if (!Number.isSafeInteger(target) || target < 0 || target > hw) {
      throw new WeirError(
        'OFFSET_OUT_OF_RANGE',
        `cannot delete records of ${topic}/${partition} before offset ${offset}: it must be from 0 to the high watermark ${hw} (or -1 for the high watermark)`,
      );
    }
    return target;
  }

  initProducerId(): { producerId: number; producerEpoch: number } {
    this.lifecycle.assertOpen();
    return { producerId: this.registry.allocateProducerId(), producerEpoch: 0 };
  }

  /** Refuses (FILE_BUDGET_EXCEEDED) partitions whose active segments would pass maxOpenFiles. */
  private checkFileBudget(adding: number, what: string): void {
    let inUse = 0;
    for (const t of this.registry.all()) inUse += t.partitions;
    checkFileBudget(this.config.maxOpenFiles, inUse, adding, what);
  }

  /**
   * Creates the logs of partitions `wanted`. If one fails, the request is undone
   * whole: the logs it made are removed, then `undoRegistry` puts the metadata back, and the
   * failure is a KAFKA_STORAGE_ERROR.
   */
  openLogs(
    topic: TopicRecord,
    wanted: readonly number[],
    undoRegistry: () => void,
  ): { id: number; log: PartitionLog }[] {
    const config = logConfigFrom(topic.configs, this.config.topicDefaults);
    const list: { id: number; log: PartitionLog }[] = [];
    try {
      for (const p of wanted)
        list.push({ id: p, log: this.logs.createLog(topic.name, p, config, topic.topicId) });
    } catch (err) {
      // Logs first: the likely failure is running out of descriptors, and removing the new logs
      // gives them back for the metadata write. A crash in between leaves a topic whose missing
      // logs the next start creates, never a log without a topic.
      let undone = 'the request was undone';
      try {
        for (const { id } of list) this.logs.discardLog(topic.name, id);
        undoRegistry();
      } catch (undoErr) {
        undone = `undoing it failed too (${String(undoErr)}); the next start repairs it`;
      }
      throw new WeirError(
        'KAFKA_STORAGE_ERROR',
        `creating partition ${wanted[list.length]} of topic '${topic.name}' failed (${String(err)}); ${undone}`,
        // As retriable as the failure behind it: a full disk can drain, a read-only one cannot.
        { cause: err, retriable: (toStorageError(err, 'create') as Partial<WeirError>).retriable ?? false },
      );
    }
    return list;
  }

  /**
   * The partitions of `topic` from `from` on that this broker holds: all of them on one broker,
   * with peers those the metadata log placed here, or a move in flight is bringing here.
   */
  heldPartitions(topic: TopicRecord, from: number): number[] {
    const out: number[] = [];
    for (let p = from; p < topic.partitions; p++)
      if (holdersOf(topic, p)?.includes(this.config.nodeId) ?? true) out.push(p);
    return out;
  }

  private describeRecord(topic: TopicRecord, dryRun: boolean): TopicDescription {
    const config = logConfigFrom(topic.configs, this.config.topicDefaults);
    const list = dryRun ? [] : this.replicas.partitionsOf(topic.name);
    return {
      name: topic.name,
      internal: topic.internal,
      replicationFactor: topic.replicationFactor,
      configs: logConfigEntries(config),
      overrides: { ...topic.configs },
      partitions: list.map((p) => this.replicas.statsOf(p)),
    };
  }
}
