// Produce and fetch through the real gRPC server: batches and the records form, offsets, long-poll.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchSize } from '../../proto/batch-header.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import { decodeBatch, encodeBatch } from '../../proto/record-batch.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';

let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker();
  await b.call('CreateTopic', { name: 'orders', partitions: 3 });
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

function values(batches: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off < batches.length; off += batchSize(batches, off)) {
    const d = decodeBatch(batches, off, off + batchSize(batches, off));
    if (!d.ok) throw new Error(d.reason);
    out.push(...d.batch.records.map((r) => r.value?.toString() ?? '<null>'));
  }
  return out;
}

describe('produce and fetch', () => {
  it('given batches, when produced, then a fetch returns them at the offsets assigned', async () => {
    const batch = encodeBatch(
      ['a', 'b', 'c'].map((v) => ({ timestamp: 1000, key: null, value: Buffer.from(v) })),
    );
    const res = await b.call<unknown, ProduceResponse__Output>('Produce', {
      acks: 'ACKS_LEADER',
      partitions: [{ topic: 'orders', partition: 1, batches: batch }],
    });
    expect(res.results[0]).toMatchObject({ topic: 'orders', partition: 1, baseOffset: 0, lastOffset: 2 });
    const fetched = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 'orders', partition: 1, offset: 0 }],
      maxBytes: 1 << 20,
    });
    expect(fetched.results[0]?.highWatermark).toBe(3);
    expect(fetched.results[0]?.nextOffset).toBe(3);
    expect(values(fetched.results[0]!.batches)).toEqual(['a', 'b', 'c']);
  });

  it('given the records form, when produced with partition -1, then keys land by murmur2 and read back as records', async () => {
    const res = await b.call<unknown, ProduceResponse__Output>('Produce', {
      partitions: [
        {
          topic: 'orders',
          partition: -1,
          records: [
            {
              key: Buffer.from('k1'),
              value: Buffer.from('v1'),
              headers: [{ key: 'h', value: Buffer.from('x') }],
            },
          ],
        },
      ],
    });
    const { partition, baseOffset } = res.results[0]!;
    const { partitionForKey } = await import('../../proto/partitioner.js');
    expect(partition).toBe(partitionForKey(Buffer.from('k1'), 3));
    const fetched = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 'orders', partition, offset: baseOffset }],
      asRecords: true,
    });
    const rec = fetched.results[0]!.records[0]!;
    expect(rec.key?.toString()).toBe('k1');
    expect(rec.value?.toString()).toBe('v1');
    expect(rec.headers).toEqual([expect.objectContaining({ key: 'h', value: Buffer.from('x') })]);
    expect(rec.timestamp).toBeGreaterThan(0);
  });

  it('given a fetch waiting at the end, when a record arrives, then it returns with it before max wait', async () => {
    const latest = await b.call<unknown, { results: { offset: number }[] }>('ListOffsets', {
      partitions: [{ topic: 'orders', partition: 2, timestamp: -1 }],
    });
    const started = Date.now();
    const pending = b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 'orders', partition: 2, offset: latest.results[0]!.offset }],
      maxWaitMs: 20_000,
      minBytes: 1,
    });
    await new Promise((r) => setTimeout(r, 100));
    await b.call('Produce', {
      partitions: [{ topic: 'orders', partition: 2, records: [{ value: Buffer.from('late') }] }],
    });
    const fetched = await pending;
    expect(values(fetched.results[0]!.batches)).toEqual(['late']);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('lists earliest, latest and by-timestamp offsets', async () => {
    const res = await b.call<unknown, { results: { offset: number; timestamp: number }[] }>('ListOffsets', {
      partitions: [
        { topic: 'orders', partition: 1, timestamp: -2 },
        { topic: 'orders', partition: 1, timestamp: -1 },
        { topic: 'orders', partition: 1, timestamp: 1000 },
        { topic: 'orders', partition: 1, timestamp: 5000 },
        { topic: 'orders', partition: 1, timestamp: 400 },
      ],
    });
    expect(res.results.map((r) => r.offset)).toEqual([0, 3, 0, -1, 0]);
    // By time, the timestamp is the found record's own, not the one asked for.
    expect(res.results[4]).toMatchObject({ offset: 0, timestamp: 1000 });
  });
});

describe('a partition directory', () => {
  it('given a new topic, shows the .log, .index and .timeindex of its segment while the broker runs', async () => {
    await b.call('CreateTopic', { name: 'listed', partitions: 1 });
    const dir = join(b.dataDir, 'listed-0');
    const segment = (suffix: string): string => `${'0'.repeat(20)}${suffix}`;
    expect(readdirSync(dir).filter((name) => name.startsWith('0'))).toEqual(
      [segment('.index'), segment('.log'), segment('.timeindex')].sort(),
    );
  });
});

describe('auto-create', () => {
  it('creates a topic named in a metadata request or a produce, only when it is on', async () => {
    const auto = await startTestBroker({ autoCreateTopics: true, defaultPartitions: 2 });
    try {
      const meta = await auto.call<
        unknown,
        { topics: { name: string; partitions: unknown[]; error?: unknown }[] }
      >('GetMetadata', { topics: ['fresh'] });
      expect(meta.topics[0]).toMatchObject({
        name: 'fresh',
        partitions: [expect.anything(), expect.anything()],
      });
      expect(meta.topics[0]?.error).toBeFalsy();
      const produced = await auto.call<unknown, ProduceResponse__Output>('Produce', {
        partitions: [{ topic: 'also-fresh', partition: 1, records: [{ value: Buffer.from('x') }] }],
      });
      expect(produced.results[0]).toMatchObject({ partition: 1, baseOffset: 0 });
    } finally {
      await auto.close();
      removeDir(auto.dataDir);
    }
    const meta = await b.call<unknown, { topics: { error?: { code: string } }[] }>('GetMetadata', {
      topics: ['not-auto'],
    });
    expect(meta.topics[0]?.error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('a fetch outside the log', () => {
  it("answers OFFSET_OUT_OF_RANGE with the partition's real high watermark and log start", async () => {
    // Given a partition whose oldest segments retention has deleted, so its log starts past 0.
    // Retention is switched on only once every record is written, so one pass deletes all it will
    // and the log start stays put once it has moved.
    const r = await startTestBroker({ retentionCheckIntervalMs: 20 });
    try {
      await r.call('CreateTopic', { name: 'short', partitions: 1, configs: { 'segment.bytes': '1024' } });
      for (let i = 0; i < 20; i++)
        await r.call('Produce', {
          partitions: [{ topic: 'short', partition: 0, records: [{ value: Buffer.alloc(300, i) }] }],
        });
      await r.call('AlterTopicConfig', { name: 'short', set: { 'retention.bytes': '1024' } });
      const earliest = async (): Promise<number> =>
        (
          await r.call<unknown, { results: { offset: number }[] }>('ListOffsets', {
            partitions: [{ topic: 'short', partition: 0, timestamp: -2 }],
          })
        ).results[0]!.offset;
      for (let tries = 0; (await earliest()) === 0; tries++) {
        if (tries > 500) throw new Error('retention never advanced the log start');
        await new Promise((done) => setTimeout(done, 20));
      }
      const logStart = await earliest();

      // When fetching below the log start and past the high watermark.
      const fetched = await r.call<unknown, FetchResponse__Output>('Fetch', {
        partitions: [
          { topic: 'short', partition: 0, offset: 0 },
          { topic: 'short', partition: 0, offset: 25 },
        ],
      });

      // Then both answers carry the offsets a client resets to.
      for (const result of fetched.results) {
        expect(result.error?.code).toBe('OFFSET_OUT_OF_RANGE');
        expect(Number(result.highWatermark)).toBe(20);
        expect(Number(result.logStartOffset)).toBe(logStart);
      }
      expect(logStart).toBeGreaterThan(0);
    } finally {
      await r.close();
      removeDir(r.dataDir);
    }
  });
});
