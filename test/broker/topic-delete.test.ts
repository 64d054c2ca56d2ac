// Deleting a topic is crash- and space-safe: the metadata save is the commit point, directories are
// renamed aside (no space needed) without writing their indexes, and removed in the background. A
// topic created again under the same name never serves the old records, whatever failed or crashed
// during the delete, and no other topic loses anything.

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchSize } from '../../proto/batch-header.js';
import { isWeirError } from '../../proto/errors.js';
import { decodeBatch } from '../../proto/record-batch.js';
import { Broker } from '../../broker/broker.js';
import { resolveBrokerConfig } from '../../broker/config.js';
import { METADATA_FILE } from '../../broker/topic-registry.js';
import {
  DELETE_RETRY_MS,
  ManualClock,
  nodeFs,
  readPartitionTopicId,
  type StorageFs,
} from '../../storage/index.js';
import { FaultyFs } from '../storage/faulty-fs.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weir-delete-'));
  dirs.push(dir);
  return dir;
}

type Events = { kind: string }[];

function open(dir: string, fs: StorageFs, clock = new ManualClock()): { broker: Broker; events: Events } {
  const events: Events = [];
  const config = resolveBrokerConfig({ overrides: { dataDir: dir } });
  const broker = Broker.open(config, { fs, clock, onStorageEvent: (e) => events.push(e) });
  return { broker, events };
}

/** Small index intervals, so closing a log has index entries to write. */
const CONFIGS = { 'index.interval.bytes': '64', 'segment.bytes': '4096' };

async function produce(broker: Broker, topic: string, partition: number, values: string[]): Promise<void> {
  for (const v of values)
    await broker.produceRecords(
      topic,
      partition,
      [{ key: null, value: Buffer.from(v), headers: [], timestamp: 0 }],
      'all',
    );
}

/** Every value the broker serves from a partition, from its log start. */
async function served(broker: Broker, topic: string, partition: number): Promise<string[]> {
  const out: string[] = [];
  let offset = broker.listOffset(topic, partition, -2).offset;
  for (;;) {
    const [r] = await broker.fetch([{ topic, partition, offset, maxBytes: 1 << 20 }], 1 << 20, 0, 0);
    if (r === undefined || r.error !== null) throw r?.error ?? new Error('no result');
    if (r.batches.length === 0) return out;
    for (let off = 0; off < r.batches.length; off += batchSize(r.batches, off)) {
      const d = decodeBatch(r.batches, off, off + batchSize(r.batches, off));
      if (!d.ok) throw new Error(d.reason);
      for (const rec of d.batch.records) out.push(rec.value?.toString() ?? '');
    }
    offset = r.nextOffset;
  }
}

const OLD = ['old-a', 'old-b', 'old-c', 'old-d', 'old-e', 'old-f'];
const KEPT = ['kept-1', 'kept-2', 'kept-3'];

/** Given: topics `victim` and `other`, two partitions each, with records. */
async function givenTwoTopics(broker: Broker): Promise<void> {
  broker.createTopic('victim', 2, 0, CONFIGS);
  broker.createTopic('other', 2, 0, CONFIGS);
  for (const p of [0, 1]) {
    await produce(broker, 'victim', p, OLD);
    await produce(broker, 'other', p, KEPT);
  }
}

function topicIdOf(dir: string, name: string): string {
  const file = JSON.parse(readFileSync(join(dir, METADATA_FILE), 'utf8')) as {
    topics: { name: string; topicId: string }[];
  };
  const found = file.topics.find((t) => t.name === name);
  if (found === undefined) throw new Error(`no topic ${name}`);
  return found.topicId;
}

function deletedIds(dir: string): string[] {
  return (
    (JSON.parse(readFileSync(join(dir, METADATA_FILE), 'utf8')) as { deletedTopicIds?: string[] })
      .deletedTopicIds ?? []
  );
}

/** Live partition directories of `topic` that carry `topicId`. */
function liveDirsWithId(dir: string, topic: string, topicId: string): string[] {
  return readdirSync(dir).filter((name) => {
    if (!/^.+-\d+$/.test(name) || !name.startsWith(`${topic}-`)) return false;
    const found = readPartitionTopicId(nodeFs, join(dir, name));
    return typeof found !== 'string' && found.topicId === topicId;
  });
}

describe('deleting a topic on a full disk', () => {
  it('does not write index files, so it completes; the name used again serves no old record', async () => {
    const dir = dataDir();
    const fs = new FaultyFs();
    const { broker } = open(dir, fs);
    try {
      await givenTwoTopics(broker);
      // Given: the disk is full for the partition directories' files.
      fs.failWithEnospc((call, path) => call === 'write' && /\/victim-\d+\//.test(path));
      // When: the topic is deleted and created again.
      await broker.deleteTopic('victim');
      fs.heal();
      broker.createTopic('victim', 2, 0, CONFIGS);
      // Then: nothing of the old topic is served, and the other topic keeps everything.
      expect(await served(broker, 'victim', 0)).toEqual([]);
      expect(await served(broker, 'victim', 1)).toEqual([]);
      expect(await served(broker, 'other', 1)).toEqual(KEPT);
    } finally {
      await broker.close();
    }
  });

  it('fails cleanly when the metadata cannot be saved: the topic stays whole', async () => {
    const dir = dataDir();
    const fs = new FaultyFs();
    const { broker } = open(dir, fs);
    try {
      await givenTwoTopics(broker);
      fs.failWithEnospc((call) => call === 'write' || call === 'open-write');
      const thrown = await broker.deleteTopic('victim').catch((err: unknown) => err);
      expect(isWeirError(thrown, 'KAFKA_STORAGE_ERROR')).toBe(true);
      fs.heal();
      expect(broker.listTopics(false).map((t) => t.name)).toEqual(['other', 'victim']);
      expect(await served(broker, 'victim', 1)).toEqual(OLD);
    } finally {
      await broker.close();
    }
    const again = open(dir, nodeFs).broker;
    try {
      expect(await served(again, 'victim', 0)).toEqual(OLD);
    } finally {
      await again.close();
    }
  });

  it('retries removing the directories on the clock, then forgets the deleted id', async () => {
    const dir = dataDir();
    const fs = new FaultyFs();
    const clock = new ManualClock();
    const { broker, events } = open(dir, fs, clock);
    try {
      await givenTwoTopics(broker);
      const oldId = topicIdOf(dir, 'victim');
      fs.failWithEnospc((call) => call === 'rm' || call === 'unlink');
      await broker.deleteTopic('victim');
      expect(events.filter((e) => e.kind === 'delete-retry').length).toBe(2);
      expect(
        readdirSync(dir)
          .filter((n) => n.endsWith(`.${oldId}-delete`))
          .sort(),
      ).toEqual([`victim-0.${oldId}-delete`, `victim-1.${oldId}-delete`]);
      expect(deletedIds(dir)).toEqual([oldId]);
      broker.createTopic('victim', 2, 0, CONFIGS);
      expect(await served(broker, 'victim', 0)).toEqual([]);

      fs.heal();
      clock.advance(DELETE_RETRY_MS);
      await new Promise((resolve) => setImmediate(resolve));
      expect(readdirSync(dir).filter((n) => n.endsWith('-delete'))).toEqual([]);
      expect(deletedIds(dir)).toEqual([]);
      expect(await served(broker, 'other', 0)).toEqual(KEPT);
    } finally {
      await broker.close();
    }
  });
});

describe('a crash at each step of a delete', () => {
  it('never serves the old topic again and loses nothing of another topic', async () => {
    let completed = false;
    let k = 0;
    while (!completed) {
      k++;
      const dir = dataDir();
      const fs = new FaultyFs();
      const first = open(dir, fs).broker;
      await givenTwoTopics(first);
      const oldId = topicIdOf(dir, 'victim');
      // When: the process dies at the k-th change to the disk during the delete.
      fs.crashAt(k);
      await first.deleteTopic('victim').catch(() => undefined);
      completed = !fs.crashed;
      fs.crashed = true; // whatever happens from here on never reaches the disk
      await first.close();

      // Then: the next process sees the topic whole (the delete did not commit) or not at all.
      const second = open(dir, nodeFs).broker;
      try {
        const names = second.listTopics(false).map((t) => t.name);
        if (names.includes('victim')) {
          expect(await served(second, 'victim', 0), `step ${k}`).toEqual(OLD);
          expect(await served(second, 'victim', 1), `step ${k}`).toEqual(OLD);
          await second.deleteTopic('victim');
        }
        expect(
          names.filter((n) => n !== 'victim'),
          `step ${k}`,
        ).toEqual(['other']);
        expect(liveDirsWithId(dir, 'victim', oldId), `step ${k}`).toEqual([]);
        second.createTopic('victim', 2, 0, CONFIGS);
        expect(await served(second, 'victim', 0), `step ${k}`).toEqual([]);
        expect(await served(second, 'victim', 1), `step ${k}`).toEqual([]);
        expect(await served(second, 'other', 0), `step ${k}`).toEqual(KEPT);
        expect(await served(second, 'other', 1), `step ${k}`).toEqual(KEPT);
      } finally {
        await second.close();
      }
      expect(existsSync(dir)).toBe(true);
      rmSync(dir, { recursive: true, force: true });
    }
    // The delete has more steps than the metadata save alone: the loop went past the commit point.
    expect(k).toBeGreaterThan(8);
  });
});

describe('a topic created again while its delete waits for background work', () => {
  it('keeps the new topic whole: the delete takes only the old logs', async () => {
    const dir = dataDir();
    const fs = new FaultyFs();
    const clock = new ManualClock();
    const { broker } = open(dir, fs, clock);
    await givenTwoTopics(broker);
    // Given the periodic flush held at its fsync, so the delete has to wait for it,
    const gate = fs.holdSyncs();
    clock.advance(broker.config.checkpointIntervalMs);
    const deleting = broker.deleteTopic('victim');
    // when the name is used again before the delete goes on,
    broker.createTopic('victim', 2, 0, CONFIGS);
    const fresh = ['new-1', 'new-2'];
    for (const p of [0, 1])
      await produce(
        broker,
        'victim',
        p,
        fresh.map((v) => `${v}/${p}`),
      );
    gate.open();
    await deleting;
    // then both new partitions serve exactly what was written to them, now and after a restart.
    for (const p of [0, 1]) expect(await served(broker, 'victim', p)).toEqual(fresh.map((v) => `${v}/${p}`));
    expect(readdirSync(dir).filter((n) => n.endsWith('-orphaned'))).toEqual([]);
    await broker.close();
    const again = open(dir, nodeFs).broker;
    for (const p of [0, 1]) expect(await served(again, 'victim', p)).toEqual(fresh.map((v) => `${v}/${p}`));
    expect(await served(again, 'other', 1)).toEqual(KEPT);
    await again.close();
  });
});
