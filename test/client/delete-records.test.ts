// Given a real broker and a topic of small segments, Admin.deleteRecords raises the log start
// offset: reads below it fail with OFFSET_OUT_OF_RANGE, the segments wholly below it are gone, and
// the new start survives a restart. Offsets past the high watermark and unknown partitions are
// refused per partition with the error table's codes.

import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { Admin, Connection, Producer, isWeirError } from '../../client/index.js';

const TOPIC = 'deleted';
const RECORDS = 30;

let dataDir: string;
let running: RunningBroker | null = null;

async function start(dir = dataDir): Promise<{ admin: Admin; connection: Connection }> {
  running = await startBroker({ dataDir: dir, grpcPort: 0, httpPort: 0 });
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
  dataDir = mkdtempSync(join(tmpdir(), 'weir-delete-records-'));
});

afterAll(async () => {
  await running?.close();
  rmSync(dataDir, { recursive: true, force: true });
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
      { topic: TOPIC, partition: 0, lowWatermark: 20 },
    ]);
    // A copy of the data directory as it is now is what a crash (kill -9) would leave.
    const crashed = `${dataDir}-crashed`;
    cpSync(dataDir, crashed, { recursive: true });
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
      { topic: TOPIC, partition: 0, lowWatermark: 20 },
    ]);

    connection.close();
    await running?.close();
    ({ admin, connection } = await start());
    // After a clean stop and after a crash: the first segment on disk starts below 20, so only the
    // checkpointed start keeps 19 unreadable.
    expect((await admin.describeTopic(TOPIC)).partitions[0]?.logStartOffset).toBe(20);
    expect(await fetchError(connection, 19)).toBe('OFFSET_OUT_OF_RANGE');

    connection.close();
    await running?.close();
    ({ admin, connection } = await start(crashed));
    expect((await admin.describeTopic(TOPIC)).partitions[0]?.logStartOffset).toBe(20);
    connection.close();
    await running?.close();
    rmSync(crashed, { recursive: true, force: true });
    ({ admin, connection } = await start());

    // -1: up to the high watermark, as Kafka.
    expect(await admin.deleteRecords([{ topic: TOPIC, partition: 0, offset: -1 }])).toEqual([
      { topic: TOPIC, partition: 0, lowWatermark: RECORDS },
    ]);
    expect((await admin.describeTopic(TOPIC)).partitions[0]).toMatchObject({
      logStartOffset: RECORDS,
      logEndOffset: RECORDS,
    });
    connection.close();
  });

  it('refuses an offset past the high watermark, unknown partitions and internal topics', async () => {
    const connection = new Connection({ bootstrap: running!.grpcAddress });
    const admin = new Admin({ connection });
    try {
      expect(await codeOf(admin.deleteRecords([{ topic: TOPIC, partition: 0, offset: RECORDS + 1 }]))).toBe(
        'OFFSET_OUT_OF_RANGE',
      );
      expect(await codeOf(admin.deleteRecords([{ topic: TOPIC, partition: 1, offset: 0 }]))).toBe(
        'UNKNOWN_TOPIC_OR_PARTITION',
      );
      expect(await codeOf(admin.deleteRecords([{ topic: 'no-such-topic', partition: 0, offset: 0 }]))).toBe(
        'UNKNOWN_TOPIC_OR_PARTITION',
      );
      // A commit makes the broker create its offsets topic.
      await admin.commitOffsets('deleter', [{ topic: TOPIC, partition: 0, offset: RECORDS }]);
      expect(
        await codeOf(admin.deleteRecords([{ topic: '__consumer_offsets', partition: 0, offset: 0 }])),
      ).toBe('POLICY_VIOLATION');
      expect(await codeOf(admin.deleteRecords([{ topic: TOPIC, partition: 0, offset: -2 }]))).toBe(
        'INVALID_REQUEST',
      );
      // Per partition: the good one is answered even when another fails.
      const answer = await connection.deleteRecords({
        partitions: [
          { topic: TOPIC, partition: 0, offset: RECORDS },
          { topic: TOPIC, partition: 0, offset: RECORDS + 5 },
        ],
      });
      expect(answer.results.map((r) => [r.lowWatermark, r.error?.code ?? null])).toEqual([
        [RECORDS, null],
        [-1, 'OFFSET_OUT_OF_RANGE'],
      ]);
    } finally {
      connection.close();
    }
  });
});
