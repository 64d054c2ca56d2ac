// Given a real broker and a topic of small segments, Admin.deleteRecords raises the log start
// offset: reads below it fail with OFFSET_OUT_OF_RANGE, the segments wholly below it are gone, and
// the new start holds over a restart (over a power loss: test/storage/raise-log-start.test.ts).
// Offsets past the high watermark, unknown partitions and offline logs are refused per partition
// with the error table's codes, and every partition of a call gets its own answer.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { Admin, Connection, Producer, isWeirError, type DeletedRecords } from '../../client/index.js';
import { FaultyFs } from '../storage/faulty-fs.js';

const TOPIC = 'deleted';
const RECORDS = 30;

let dataDir: string;
let running: RunningBroker | null = null;
/** Every broker and temp dir a test made: afterAll ends and removes them even after a failure. */
const brokers: RunningBroker[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weir-delete-records-'));
  dirs.push(dir);
  return dir;
}

async function start(dir = dataDir): Promise<{ admin: Admin; connection: Connection }> {
  running = await startBroker({ dataDir: dir, grpcPort: 0, httpPort: 0 });
  brokers.push(running);
  const connection = new Connection({ bootstrap: running.grpcAddress });
  return { admin: new Admin({ connection }), connection };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  return isWeirError(err) ? err.code : String(err);
}

/** Each partition's answer as [partition, low watermark, error code or null]. */
function outcomes(results: readonly DeletedRecords[]): [number, number, string | null][] {
  return results.map((r) => [r.partition, r.lowWatermark, r.error?.code ?? null]);
}

/** The base offsets of the partition's segment files, in order. */
function segmentBases(): number[] {
  return readdirSync(join(dataDir, `${TOPIC}-0`))
    .filter((f) => f.endsWith('.log'))
    .map((f) => Number(f.slice(0, -4)))
    .sort((a, b) => a - b);
}

async function fetchError(connection: Connection, offset: number): Promise<string | null> {
  const answer = await connection.fetch({
    partitions: [{ topic: TOPIC, partition: 0, offset, maxBytes: 0 }],
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1024 * 1024,
  });
  return answer.results[0]?.error?.code ?? null;
}

beforeAll(() => {
  dataDir = tempDir();
});

afterAll(async () => {
  for (const b of brokers) await b.close().catch(() => undefined);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('deleteRecords', () => {
  it('raises the log start, deletes whole segments below it, and keeps it over a restart', async () => {
    let { admin, connection } = await start();
    await admin.createTopic(TOPIC, { partitions: 1, configs: { 'segment.bytes': 1024 } });
    const producer = new Producer({ connection, lingerMs: 0 });
    // One record per send: one batch each, a few batches per 1 KiB segment.
    for (let i = 0; i < RECORDS; i++)
      await producer.send({ topic: TOPIC, records: [{ value: Buffer.alloc(200, i), partition: 0 }] });
    await producer.close();
    const before = segmentBases();
    expect(before[0]).toBe(0);
    expect(before.length).toBeGreaterThan(4);

    expect(await admin.deleteRecords([{ topic: TOPIC, partition: 0, offset: 20 }])).toEqual([
      { topic: TOPIC, partition: 0, lowWatermark: 20, error: null },
    ]);
    const after = segmentBases();
    // Every segment whose successor starts at or below 20 is gone; the one holding 20 stays.
    expect(after).toEqual(before.filter((base, i) => (before[i + 1] ?? Infinity) > 20));
    expect(after[0]).toBeLessThan(20);
    const described = await admin.describeTopic(TOPIC);
    expect(described.partitions[0]).toMatchObject({ logStartOffset: 20, highWatermark: RECORDS });
    expect(await fetchError(connection, 19)).toBe('OFFSET_OUT_OF_RANGE');
    expect(await fetchError(connection, 20)).toBeNull();
    const [earliest] = await admin.listOffsets([{ topic: TOPIC, partition: 0 }], 'earliest');
    expect(earliest?.offset).toBe(20);

    // Lower than the start now: nothing changes, the answer is the start.
    expect(await admin.deleteRecords([{ topic: TOPIC, partition: 0, offset: 5 }])).toEqual([
      { topic: TOPIC, partition: 0, lowWatermark: 20, error: null },
    ]);

    connection.close();
    await running?.close();
    ({ admin, connection } = await start());
    // After a restart the first segment on disk starts below 20, so only the checkpointed start
    // keeps 19 unreadable.
    expect((await admin.describeTopic(TOPIC)).partitions[0]?.logStartOffset).toBe(20);
    expect(await fetchError(connection, 19)).toBe('OFFSET_OUT_OF_RANGE');

    // -1: up to the high watermark, as Kafka.
    expect(await admin.deleteRecords([{ topic: TOPIC, partition: 0, offset: -1 }])).toEqual([
      { topic: TOPIC, partition: 0, lowWatermark: RECORDS, error: null },
    ]);
    expect((await admin.describeTopic(TOPIC)).partitions[0]).toMatchObject({
      logStartOffset: RECORDS,
      logEndOffset: RECORDS,
    });
    connection.close();
  });

  it('refuses an offset past the high watermark, unknown partitions and internal topics, each in its own answer', async () => {
    const connection = new Connection({ bootstrap: running!.grpcAddress });
    const admin = new Admin({ connection });
    try {
      // A commit makes the broker create its offsets topic.
      await admin.commitOffsets('deleter', [{ topic: TOPIC, partition: 0, offset: RECORDS }]);
      const results = await admin.deleteRecords([
        { topic: TOPIC, partition: 0, offset: RECORDS + 1 },
        { topic: TOPIC, partition: 1, offset: 0 },
        { topic: 'no-such-topic', partition: 0, offset: 0 },
        { topic: '__consumer_offsets', partition: 0, offset: 0 },
        { topic: TOPIC, partition: 0, offset: RECORDS },
      ]);
      expect(outcomes(results)).toEqual([
        [0, -1, 'OFFSET_OUT_OF_RANGE'],
        [1, -1, 'UNKNOWN_TOPIC_OR_PARTITION'],
        [0, -1, 'UNKNOWN_TOPIC_OR_PARTITION'],
        [0, -1, 'POLICY_VIOLATION'],
        [0, RECORDS, null],
      ]);
      expect(results[0]?.error?.message).toMatch(/high watermark 30/);
      // Bad arguments are refused before anything is sent.
      expect(await codeOf(admin.deleteRecords([{ topic: TOPIC, partition: 0, offset: -2 }]))).toBe(
        'INVALID_REQUEST',
      );
    } finally {
      connection.close();
    }
  });
});

describe('deleteRecords on a broker with an offline log', () => {
  it('applies the partitions it can, and answers the offline one with its storage error', async () => {
    const fs = new FaultyFs();
    const b = await startBroker({ dataDir: tempDir(), grpcPort: 0, httpPort: 0, logLevel: 'silent', fs });
    brokers.push(b);
    const admin = new Admin({ bootstrap: b.grpcAddress });
    try {
      await admin.createTopic('split', { partitions: 2, configs: { 'flush.messages': 1 } });
      const producer = new Producer({ bootstrap: b.grpcAddress, lingerMs: 0 });
      try {
        for (const partition of [0, 1])
          await producer.send({
            topic: 'split',
            records: [
              { value: 'a', partition },
              { value: 'b', partition },
            ],
          });
        // The next fsync fails: partition 1 goes offline (until a restart recovers it).
        fs.failSyncs = 1;
        await expect(
          producer.send({ topic: 'split', records: [{ value: 'c', partition: 1 }] }),
        ).rejects.toThrow(/KAFKA_STORAGE_ERROR/);
      } finally {
        await producer.close().catch(() => undefined);
      }

      // Partition 1's offset is past its high watermark too: being offline is the answer.
      const results = await admin.deleteRecords([
        { topic: 'split', partition: 0, offset: 1 },
        { topic: 'split', partition: 1, offset: 99 },
      ]);
      expect(outcomes(results)).toEqual([
        [0, 1, null],
        [1, -1, 'KAFKA_STORAGE_ERROR'],
      ]);
      expect((await admin.describeTopic('split')).partitions[0]?.logStartOffset).toBe(1);
    } finally {
      await admin.close();
    }
  });
});
