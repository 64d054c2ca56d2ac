// The broker's metadata on one broker: topics (partition count, replication factor, config
// overrides), the cluster id, and the producer-id blocks handed out. Kept in
// `<data-dir>/weir-metadata.json`, replaced atomically on every change (temp file, fsync, rename).
//
// Order of operations keeps it consistent with the logs across a crash: a topic is written here
// before its logs are created, and removed here before its logs are deleted. A removed topic's id
// is kept in `deletedTopicIds` until its directories are gone: that record is what lets start-up
// finish a delete a crash interrupted. Nothing else is ever deleted at start-up (see
// log-reconcile.ts). Every change is saved before it takes effect in memory, so a failed save
// (a full disk) changes nothing.
//
// Entries are validated on load: an invalid one stops the broker with KAFKA_STORAGE_ERROR naming
// it, rather than breaking every request that lists topics later.
//
// Producer ids are handed out in blocks: the end of the current block is written here before any
// id of it is used, so ids are never reused after a restart.

import { join } from 'node:path';
import assert from 'node:assert/strict';
import { WeirError } from '../proto/errors.js';
import {
  assertTopicName,
  invalidTopicId,
  invalidTopicName,
  logConfigFrom,
  writeFileAtomic,
  type LogConfig,
  type StorageFs,
} from '../storage/index.js';
import type { Ids } from './ids.js';

export const METADATA_FILE = 'weir-metadata.json';
const VERSION = 1;
const PRODUCER_ID_BLOCK = 1000;
const MAX_REPLICATION_FACTOR = 32_767;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Topic names starting with it are the broker's own (`__consumer_offsets`): users cannot make them. */
export const INTERNAL_PREFIX = '__';

export interface TopicRecord {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Only the keys set on this topic, Kafka-style names. */
  readonly configs: Readonly<Record<string, string>>;
  readonly internal: boolean;
  readonly createdAt: number;
  /**
   * With peers: each partition's replicas (node ids, the preferred leader first) as the metadata
   * log placed them, which are its Raft group's voters. Absent on one broker: every partition is
   * this broker's alone.
   */
  readonly replicas?: readonly (readonly number[])[];
  /**
   * With peers: where each partition is moving (a reassignment in flight), null where none is.
   * The brokers a move adds hold the partition too; its replicas stay the group's first voters
   * (what a replica that has heard no config entry yet takes the group to be), so a replica that
   * joins for a move never counts itself a voter before the leader makes it one. Absent: no move.
   */
  readonly targets?: readonly (readonly number[] | null)[];
}

/** Every broker holding a replica of partition `p` of `topic`: its replicas and a move's new ones. */
export function holdersOf(topic: TopicRecord, p: number): number[] | undefined {
  const replicas = topic.replicas?.[p];
  return replicas === undefined ? undefined : replicasWithTarget(replicas, topic.targets?.[p]);
}

/**
 * A partition's replicas, then those a move in flight to `target` adds: while it moves, both the
 * old and the new replicas hold it.
 */
export function replicasWithTarget(replicas: readonly number[], target?: readonly number[] | null): number[] {
  const out = [...replicas];
  for (const id of target ?? []) if (!out.includes(id)) out.push(id);
  return out;
}

interface MetadataFile {
  version: number;
  clusterId: string;
  producerIdBlockEnd: number;
  topics: TopicRecord[];
  /** Ids of deleted topics whose directories may still exist; absent in files of older brokers. */
  deletedTopicIds?: string[];
  /**
   * With peers: the end of the metadata log this file reflects (its topics are that log's, applied
   * up to there). Start-up does not apply an older state of the log over it (see cluster-topics.ts).
   */
  metadataOffset?: number;
}

/** What entries are checked against on load. */
export interface TopicLimits {
  readonly maxPartitions: number;
  readonly topicDefaults: LogConfig;
}

export class TopicRegistry {
  private readonly fs: StorageFs;
  private readonly dir: string;
  private readonly ids: Ids;
  private readonly topics = new Map<string, TopicRecord>();
  readonly clusterId: string;
  private nextProducerId: number;
  private producerIdBlockEnd: number;
  private readonly deleted = new Set<string>();
  /** The file was missing at open: the registry started empty. */
  readonly fileWasMissing: boolean;
  private metadataEnd: number;

  private constructor(fs: StorageFs, dir: string, ids: Ids, file: MetadataFile, fileWasMissing = false) {
    this.fs = fs;
    this.dir = dir;
    this.ids = ids;
    this.fileWasMissing = fileWasMissing;
    this.clusterId = file.clusterId;
    this.producerIdBlockEnd = file.producerIdBlockEnd;
    this.nextProducerId = file.producerIdBlockEnd;
    for (const t of file.topics) this.topics.set(t.name, t);
    for (const id of file.deletedTopicIds ?? []) this.deleted.add(id);
    this.metadataEnd = file.metadataOffset ?? 0;
  }

  /**
   * Loads the registry of `dataDir`, or starts an empty one. A malformed file is an error. With a
   * `clusterId` (a cluster's brokers share one), a new registry takes it and an existing one must
   * hold it: a data directory of another cluster is refused (INCONSISTENT_CLUSTER_ID).
   */
  static open(
    fs: StorageFs,
    dataDir: string,
    limits: TopicLimits,
    ids: Ids,
    clusterId: string | null = null,
  ): TopicRegistry {
    fs.mkdirSync(dataDir);
    const path = join(dataDir, METADATA_FILE);
    if (!fs.existsSync(path)) {
      const registry = new TopicRegistry(
        fs,
        dataDir,
        ids,
        { version: VERSION, clusterId: clusterId ?? ids.uuid(), producerIdBlockEnd: 0, topics: [] },
        true,
      );
      registry.save();
      return registry;
    }
    let text: string;
    try {
      text = fs.readFileSync(path).toString('utf8');
    } catch (err) {
      throw new WeirError('KAFKA_STORAGE_ERROR', `cannot read ${path}: ${messageOf(err)}`, { cause: err });
    }
    let file: MetadataFile;
    try {
      file = JSON.parse(text) as MetadataFile;
    } catch (err) {
      // The parser's message says where the file went wrong, which tells a torn write from an edit.
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path} is not valid JSON (${messageOf(err)})`, {
        cause: err,
      });
    }
    if (
      file.version !== VERSION ||
      !Array.isArray(file.topics) ||
      !Number.isSafeInteger(file.producerIdBlockEnd)
    ) {
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: unknown version or malformed content`);
    }
    const metadataOffset: unknown = file.metadataOffset ?? 0;
    if (!Number.isSafeInteger(metadataOffset) || (metadataOffset as number) < 0)
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: metadataOffset is not an offset`);
    const deleted: unknown = file.deletedTopicIds ?? [];
    if (!Array.isArray(deleted) || deleted.some((id) => invalidTopicId(id) !== null))
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: deletedTopicIds is not a list of topic ids`);
    const names = new Set<string>();
    file.topics.forEach((entry: unknown, i) => {
      const reason = invalidEntry(entry, limits, names);
      if (reason === null) return;
      const name = (entry as { name?: unknown } | null)?.name;
      throw new WeirError(
        'KAFKA_STORAGE_ERROR',
        `${path}: topic entry ${i} (${JSON.stringify(name ?? null)}): ${reason}`,
      );
    });
    if (clusterId !== null && file.clusterId !== clusterId) {
      throw new WeirError(
        'INCONSISTENT_CLUSTER_ID',
        `${dataDir} belongs to cluster ${String(file.clusterId)}, not ${clusterId}`,
      );
    }
    return new TopicRegistry(fs, dataDir, ids, file);
  }

  get(name: string): TopicRecord | undefined {
    return this.topics.get(name);
  }

  /** The topic, or UNKNOWN_TOPIC_OR_PARTITION. */
  require(name: string): TopicRecord {
    assertTopicName(name);
    const topic = this.topics.get(name);
    if (topic === undefined)
      throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
    return topic;
  }

  all(): TopicRecord[] {
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  add(topic: Omit<TopicRecord, 'topicId' | 'createdAt'>, now: number): TopicRecord {
    if (this.topics.has(topic.name))
      throw new WeirError('TOPIC_ALREADY_EXISTS', `topic '${topic.name}' already exists`);
    const record: TopicRecord = { ...topic, topicId: this.ids.uuid(), createdAt: now };
    this.commit(() => this.topics.set(topic.name, record));
    return record;
  }

  /**
   * With peers: the topics as the metadata log has them up to `metadataOffset`, in one save: `put`
   * replaces (or adds) whole records, `remove` removes topics as remove() does.
   */
  mirror(put: readonly TopicRecord[], remove: readonly string[], metadataOffset: number): void {
    assert.ok(metadataOffset >= this.metadataEnd, 'the metadata log is applied forward only');
    const gone = remove.map((name) => this.require(name));
    this.commit(() => {
      for (const t of gone) {
        this.topics.delete(t.name);
        this.deleted.add(t.topicId);
      }
      for (const r of put) this.topics.set(r.name, r);
      this.metadataEnd = metadataOffset;
    });
  }

  /** With peers: the end of the metadata log the topics here reflect (0 before any). */
  get metadataOffset(): number {
    return this.metadataEnd;
  }

  /** Puts back topics rebuilt from their directories (their ids and configs chosen by the caller). */
  restore(records: readonly TopicRecord[]): void {
    for (const r of records) assert.ok(!this.topics.has(r.name), `topic '${r.name}' is already known`);
    this.commit(() => {
      for (const r of records) this.topics.set(r.name, r);
    });
  }

  update(name: string, change: Partial<Pick<TopicRecord, 'partitions' | 'configs'>>): TopicRecord {
    const current = this.require(name);
    const next: TopicRecord = { ...current, ...change };
    assert.ok(next.partitions >= current.partitions, 'partitions are never removed');
    this.commit(() => this.topics.set(name, next));
    return next;
  }

  /**
   * Removes a topic and records its id as deleted, in one save: the delete's commit point. Its
   * directories are removed after; see forgetDeleted.
   */
  remove(name: string): TopicRecord {
    const topic = this.require(name);
    this.commit(() => {
      this.topics.delete(name);
      this.deleted.add(topic.topicId);
    });
    return topic;
  }

  /** Whether `topicId` is of a topic deleted whose directories may still exist. */
  isDeleted(topicId: string): boolean {
    return this.deleted.has(topicId);
  }

  get deletedTopicIds(): readonly string[] {
    return [...this.deleted];
  }

  /** Drops the record of deleted topics whose directories are gone. */
  forgetDeleted(topicIds: readonly string[]): void {
    const known = topicIds.filter((id) => this.deleted.has(id));
    if (known.length === 0) return;
    this.commit(() => {
      for (const id of known) this.deleted.delete(id);
    });
  }

  /** Puts a topic back as it was before an update whose logs could not be created. */
  revertUpdate(previous: TopicRecord): void {
    this.require(previous.name);
    this.commit(() => {
      this.topics.set(previous.name, previous);
    });
  }

  /** A producer id never handed out before, on this broker. */
  allocateProducerId(): number {
    if (this.nextProducerId >= this.producerIdBlockEnd) {
      const end = this.nextProducerId + PRODUCER_ID_BLOCK;
      this.commit(() => (this.producerIdBlockEnd = end));
    }
    return this.nextProducerId++;
  }

  /** Applies `change`, saves, and undoes the change if the save fails. */
  private commit(change: () => void): void {
    const topics = new Map(this.topics);
    const deleted = new Set(this.deleted);
    const blockEnd = this.producerIdBlockEnd;
    const metadataEnd = this.metadataEnd;
    change();
    try {
      this.save();
    } catch (err) {
      this.topics.clear();
      for (const [k, v] of topics) this.topics.set(k, v);
      this.deleted.clear();
      for (const id of deleted) this.deleted.add(id);
      this.producerIdBlockEnd = blockEnd;
      this.metadataEnd = metadataEnd;
      if (err instanceof WeirError) throw err;
      throw new WeirError('KAFKA_STORAGE_ERROR', `cannot save ${METADATA_FILE}: ${String(err)}`, {
        cause: err,
      });
    }
  }

  private save(): void {
    const file: MetadataFile = {
      version: VERSION,
      clusterId: this.clusterId,
      producerIdBlockEnd: this.producerIdBlockEnd,
      topics: this.all(),
      deletedTopicIds: [...this.deleted],
      ...(this.metadataEnd > 0 ? { metadataOffset: this.metadataEnd } : {}),
    };
    writeFileAtomic(this.fs, this.dir, METADATA_FILE, Buffer.from(JSON.stringify(file, null, 2) + '\n'));
  }
}

/** Why a metadata entry cannot be a topic, or null; `names` collects the names seen so far. */
function invalidEntry(entry: unknown, limits: TopicLimits, names: Set<string>): string | null {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'not an object';
  const t = entry as Record<string, unknown>;
  if (typeof t.name !== 'string') return 'name is not a string';
  const badName = invalidTopicName(t.name);
  if (badName !== null) return badName;
  if (names.has(t.name)) return `a second entry named '${t.name}'`;
  names.add(t.name);
  const badId = invalidTopicId(t.topicId);
  if (badId !== null) return badId;
  const { partitions, replicationFactor, configs } = t;
  if (
    !Number.isInteger(partitions) ||
    (partitions as number) < 1 ||
    (partitions as number) > limits.maxPartitions
  )
    return `partitions ${JSON.stringify(partitions)} is not an integer from 1 to ${limits.maxPartitions}`;
  if (
    !Number.isInteger(replicationFactor) ||
    (replicationFactor as number) < 1 ||
    (replicationFactor as number) > MAX_REPLICATION_FACTOR
  )
    return `replicationFactor ${JSON.stringify(replicationFactor)} is not an integer from 1 to ${MAX_REPLICATION_FACTOR}`;
  if (
    typeof configs !== 'object' ||
    configs === null ||
    Array.isArray(configs) ||
    Object.values(configs).some((v) => typeof v !== 'string')
  )
    return 'configs is not an object of strings';
  try {
    logConfigFrom(configs as Record<string, string>, limits.topicDefaults);
  } catch (err) {
    if (!(err instanceof WeirError)) throw err;
    return `configs: ${err.message}`;
  }
  if (typeof t.internal !== 'boolean') return 'internal is not a boolean';
  if (t.replicas !== undefined) {
    const r: unknown = t.replicas;
    if (!Array.isArray(r) || r.length !== partitions) return `replicas is not a list of ${partitions} lists`;
    for (const ids of r as unknown[])
      if (
        !Array.isArray(ids) ||
        ids.length === 0 ||
        ids.some((id) => !Number.isInteger(id) || (id as number) < 0) ||
        new Set(ids).size !== ids.length
      )
        return `replicas ${JSON.stringify(ids)} is not a list of distinct node ids`;
  }
  if (t.targets !== undefined) {
    const r: unknown = t.targets;
    if (t.replicas === undefined) return 'targets without replicas';
    if (!Array.isArray(r) || r.length !== partitions) return `targets is not a list of ${partitions} entries`;
    for (const ids of r as unknown[])
      if (
        ids !== null &&
        (!Array.isArray(ids) ||
          ids.length === 0 ||
          ids.some((id) => !Number.isInteger(id) || (id as number) < 0) ||
          new Set(ids).size !== ids.length)
      )
        return `targets ${JSON.stringify(ids)} is neither null nor a list of distinct node ids`;
  }
  if (typeof t.createdAt !== 'number' || !Number.isFinite(t.createdAt)) return 'createdAt is not a number';
  return null;
}
