// `weir bench produce|consume` with small counts: the reports' fields and that the records really
// went through (speed is not asserted here; benchmarks are run by hand, see the README).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../client/index.js';
import { COMPRESSION_MASK, batchAttributes } from '../../proto/batch-header.js';
import { COMPRESSION_ZSTD } from '../../proto/compression.js';
import { expectFailure, okLines, startCliBroker, weir, type CliBroker } from './cli-support.js';

let broker: CliBroker;
let admin: Admin;
let b: string[];

beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
  admin = new Admin({ bootstrap: broker.bootstrap });
});
afterAll(async () => {
  await admin?.close();
  await broker?.close();
});

function report(result: { code: number | null; stdout: string; stderr: string }): Record<string, unknown> {
  const lines = okLines({ ...result, signal: null, stdoutBytes: Buffer.alloc(0), ms: 0 });
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

function expectLatency(value: unknown, samples: number): void {
  const l = value as { samples: number; p50: number; p99: number; p999: number; max: number };
  expect(l.samples).toBe(samples);
  expect(l.p50).toBeGreaterThan(0);
  expect(l.p50).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.p999);
  expect(l.p999).toBeLessThanOrEqual(l.max);
}

describe('weir bench', () => {
  it('produce creates the topic, sends the records and reports throughput and latency as JSON', async () => {
    const r = report(
      await weir([
        'bench',
        'produce',
        '--topic',
        'bench',
        '--records',
        '5000',
        '--record-size',
        '64',
        '--acks',
        'leader',
        '--records-per-send',
        '1000',
        '--json',
        ...b,
      ]),
    );
    expect(r).toMatchObject({
      bench: 'produce',
      topic: 'bench',
      partitions: 1,
      records: 5000,
      recordSize: 64,
      acks: 'leader',
      rate: null,
      latencyPer: 'send-call',
      recordsPerSend: 1000,
      node: process.version,
    });
    expect(r['recordsPerSec']).toBeGreaterThan(0);
    expect(r['mbPerSec']).toBeCloseTo(((r['recordsPerSec'] as number) * 64) / 1024 / 1024, 6);
    expectLatency(r['latencyMs'], 5);
    const topic = await admin.describeTopic('bench');
    expect(topic.partitions.map((p) => p.highWatermark)).toEqual([5000]);
  });

  it('produce --compression sends batches in that codec, which consume reads back', async () => {
    const r = report(
      await weir([
        'bench',
        'produce',
        '--topic',
        'bench-zstd',
        '--records',
        '3000',
        '--record-size',
        '100',
        '--compression',
        'zstd',
        '--json',
        ...b,
      ]),
    );
    expect(r).toMatchObject({ records: 3000, compression: 'zstd' });
    const c = report(await weir(['bench', 'consume', '--topic', 'bench-zstd', '--json', ...b]));
    expect(c['records']).toBe(3000);
    const [stored] = await broker.running.broker.fetch(
      [{ topic: 'bench-zstd', partition: 0, offset: 0, maxBytes: 0 }],
      0,
      0,
      0,
    );
    expect(batchAttributes(stored!.batches, 0) & COMPRESSION_MASK).toBe(COMPRESSION_ZSTD);
  });

  it('produce --rate sends one record per send() and measures each', async () => {
    const r = report(
      await weir([
        'bench',
        'produce',
        '--topic',
        'bench',
        '--records',
        '300',
        '--rate',
        '3000',
        '--json',
        ...b,
      ]),
    );
    expect(r).toMatchObject({ records: 300, rate: 3000, latencyPer: 'record', recordsPerSend: 1 });
    expectLatency(r['latencyMs'], 300);
    // 300 records at 3000/s take at least ~0.1 s: the rate was held, not exceeded.
    expect(r['elapsedMs']).toBeGreaterThanOrEqual(90);
  });

  it('produce prints a readable report without --json', async () => {
    const lines = okLines(
      await weir([
        'bench',
        'produce',
        '--topic',
        'bench-text',
        '--records',
        '1000',
        '--partitions',
        '2',
        ...b,
      ]),
    );
    expect(lines[0]).toBe('produce 1,000 records of 100 B to bench-text (2 partitions), acks=all');
    expect(lines[1]).toMatch(/^ {2}[\d,]+ records\/s {2}[\d.]+ MB\/s {2}\([\d.]+ s\)$/);
    expect(lines[2]).toMatch(
      /^ {2}latency per send\(\) of 1,000 records, ms: p50 [\d.]+ {2}p99 [\d.]+ {2}p99\.9 [\d.]+ {2}max [\d.]+$/,
    );
    expect(lines[3]).toBe(`  node ${process.version}`);
  });

  it('consume reads N records, or all of them, from the beginning', async () => {
    const some = report(
      await weir(['bench', 'consume', '--topic', 'bench', '--records', '4000', '--json', ...b]),
    );
    expect(some).toMatchObject({ bench: 'consume', topic: 'bench', records: 4000, bytes: 4000 * 64 });
    expect(some['recordsPerSec']).toBeGreaterThan(0);
    const all = report(await weir(['bench', 'consume', '--topic', 'bench', '--json', ...b]));
    expect(all).toMatchObject({ records: 5300, bytes: 5000 * 64 + 300 * 100 });
    const text = okLines(await weir(['bench', 'consume', '--topic', 'bench', ...b]));
    expect(text[1]).toMatch(/records\/s .* MB\/s/);
  });

  it('consume refuses to wait for records that are not there', async () => {
    const r = await weir(['bench', 'consume', '--topic', 'bench', '--records', '999999', ...b]);
    expectFailure(r, 1, /bench holds 5,300 records, not 999,999.*lower --records/);
    await admin.createTopic('empty', { partitions: 1 });
    expectFailure(
      await weir(['bench', 'consume', '--topic', 'empty', ...b]),
      1,
      /weir bench produce --topic empty/,
    );
  });

  it('needs --topic (exit 2)', async () => {
    expectFailure(await weir(['bench', 'produce', ...b]), 2, /--topic/);
  });
});
