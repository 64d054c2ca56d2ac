// A single broker (every partition a group of one) started on a data directory where one
// partition's closed segment was damaged at rest after a clean stop: a corrupt batch length early
// in the segment, where a clean start does not read but a new leader's producer-state rebuild does.
// The broker must start, serve its other partitions, answer the damaged one with an error that is
// not retriable and says where the damage is, and keep every byte of it: with one replica there
// is nothing to repair from.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { removeDir, startTestBroker, tempDir, type TestBroker } from './support.js';

const started: TestBroker[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const b of started.splice(0)) await b.close().catch(() => undefined);
  for (const d of dirs.splice(0)) removeDir(d);
});

async function start(dataDir: string): Promise<TestBroker> {
  const b = await startTestBroker({}, dataDir);
  started.push(b);
  return b;
}

/** Each `.log` file of the partition directory and its bytes. */
function logFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(dir).sort())
    if (name.endsWith('.log')) out.set(name, readFileSync(join(dir, name)));
  return out;
}

describe('a broker whose one partition is damaged at rest', () => {
  it('starts, serves the others, and keeps the damaged partition offline with every byte', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await start(dataDir);
    const configs = { 'segment.bytes': '16384', 'index.interval.bytes': '1024' };
    for (const name of ['damaged', 'healthy']) {
      await first.call('CreateTopic', { name, partitions: 1, configs });
      for (let i = 0; i < 120; i++) {
        const records = [0, 1].map((j) => ({
          timestamp: 1_700_000_000_000 + i,
          key: null,
          value: Buffer.alloc(100, i + j),
        }));
        await first.call('Produce', {
          acks: 'ACKS_ALL',
          partitions: [{ topic: name, partition: 0, batches: encodeBatch(records) }],
        });
      }
    }
    await first.close();
    started.length = 0;

    const dir = join(dataDir, 'damaged-0');
    const files = logFiles(dir);
    const names = [...files.keys()];
    expect(names.length).toBeGreaterThanOrEqual(3);
    // The first batch of the newer closed segment: before its last index entry (a clean start reads
    // only past that), and inside the two newest segments (what a new leader's rebuild reads).
    const victim = names.at(-2)!;
    const bytes = Buffer.from(files.get(victim)!);
    bytes[8] = bytes[8]! ^ 0x40; // batchLength's top byte
    writeFileSync(join(dir, victim), bytes);
    const before = logFiles(dir);

    const b = await start(dataDir);
    const healthy = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 'healthy', partition: 0, offset: 0 }],
    });
    expect(healthy.results[0]?.error ?? null).toBeNull();
    expect(Number(healthy.results[0]?.highWatermark)).toBe(240);

    const damaged = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 'damaged', partition: 0, offset: 0 }],
    });
    const error = damaged.results[0]?.error;
    expect(error?.code).toBe('KAFKA_STORAGE_ERROR');
    expect(error?.retriable).toBe(false);
    expect(error?.message).toContain(`segment ${Number(victim.slice(0, 20))}`);
    await b.close();
    started.length = 0;
    expect(logFiles(dir)).toEqual(before);
  });
});
