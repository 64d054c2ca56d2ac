// The broker's metadata on one broker: topics (partition count, replication factor, config
// overrides), the cluster id, and the producer-id blocks handed out. Kept in
// `<data-dir>/weir-metadata.json`, replaced atomically on every change (temp file, fsync, rename).
//
// Order of operations keeps it consistent with the logs across a crash: a topic is written here
// before its logs are created, and removed here before its logs are deleted. At start-up the broker
// creates any log a topic lacks and deletes any log no topic owns.
//
// Producer ids are handed out in blocks: the end of the current block is written here before any
// id of it is used, so ids are never reused after a restart.

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { WeirError } from '../proto/errors.js';
import { assertTopicName, writeFileAtomic, type StorageFs } from '../storage/index.js';

export const METADATA_FILE = 'weir-metadata.json';
const VERSION = 1;
const PRODUCER_ID_BLOCK = 1000;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface TopicRecord {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Only the keys set on this topic, Kafka-style names. */
  readonly configs: Readonly<Record<string, string>>;
  readonly internal: boolean;
  readonly createdAt: number;
}

interface MetadataFile {
  version: number;
  clusterId: string;
  producerIdBlockEnd: number;
  topics: TopicRecord[];
}

export class TopicRegistry {
  private readonly fs: StorageFs;
  private readonly dir: string;
  private readonly topics = new Map<string, TopicRecord>();
  readonly clusterId: string;
  private nextProducerId: number;
  private producerIdBlockEnd: number;

  private constructor(fs: StorageFs, dir: string, file: MetadataFile) {
    this.fs = fs;
    this.dir = dir;
    this.clusterId = file.clusterId;
    this.producerIdBlockEnd = file.producerIdBlockEnd;
    this.nextProducerId = file.producerIdBlockEnd;
    for (const t of file.topics) this.topics.set(t.name, t);
  }

  /** Loads the registry of `dataDir`, or starts an empty one. A malformed file is an error. */
  static open(fs: StorageFs, dataDir: string): TopicRegistry {
    fs.mkdirSync(dataDir);
    const path = join(dataDir, METADATA_FILE);
    if (!fs.existsSync(path)) {
      const registry = new TopicRegistry(fs, dataDir, {
        version: VERSION,
        clusterId: randomUUID(),
        producerIdBlockEnd: 0,
        topics: [],
      });
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
    return new TopicRegistry(fs, dataDir, file);
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
    const record: TopicRecord = { ...topic, topicId: randomUUID(), createdAt: now };
    this.topics.set(topic.name, record);
    this.save();
    return record;
  }

  update(name: string, change: Partial<Pick<TopicRecord, 'partitions' | 'configs'>>): TopicRecord {
    const current = this.require(name);
    const next: TopicRecord = { ...current, ...change };
    assert.ok(next.partitions >= current.partitions, 'partitions are never removed');
    this.topics.set(name, next);
    this.save();
    return next;
  }

  remove(name: string): void {
    this.require(name);
    this.topics.delete(name);
    this.save();
  }

  /** A producer id never handed out before, on this broker. */
  allocateProducerId(): number {
    if (this.nextProducerId >= this.producerIdBlockEnd) {
      this.producerIdBlockEnd = this.nextProducerId + PRODUCER_ID_BLOCK;
      this.save();
    }
    return this.nextProducerId++;
  }

  private save(): void {
    const file: MetadataFile = {
      version: VERSION,
      clusterId: this.clusterId,
      producerIdBlockEnd: this.producerIdBlockEnd,
      topics: this.all(),
    };
    writeFileAtomic(this.fs, this.dir, METADATA_FILE, Buffer.from(JSON.stringify(file, null, 2) + '\n'));
  }
}
