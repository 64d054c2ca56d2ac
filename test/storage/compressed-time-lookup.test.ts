// A time lookup lands on the exact record inside a compressed batch, for every codec: the index
// finds the batch, and the batch's records are inflated to find the first at or after the time.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBatch, type RecordInput } from '../../proto/record-batch.js';
import { ManualClock, PartitionLog, logConfigFrom, nodeFs } from '../../storage/index.js';

const root = mkdtempSync(join(tmpdir(), 'weir-time-lookup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = logConfigFrom({ 'segment.bytes': '4096', 'index.interval.bytes': '100' });

/** `count` records from `from` on, with timestamps 10 ms apart starting at `t0`. */
function records(count: number, t0: number): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    timestamp: t0 + 10 * i,
    key: Buffer.from(`k${i}`),
    value: Buffer.alloc(60, 97 + (i % 26)),
  }));
}

describe.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)(
  'given %s batches over several segments',
  (codec) => {
    it('offsetForTimestamp finds the first record at or after each time, inside batches', async () => {
      const log = PartitionLog.open(
        join(root, codec),
        config,
        { fs: nodeFs, clock: new ManualClock() },
        { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: true },
      );
      // 12 batches of 25 records: timestamps 100000 + 10 * offset.
      for (let b = 0; b < 12; b++)
        log.append(encodeBatch(records(25, 100_000 + 250 * b), { compression: codec }));
      expect(log.segments.length).toBeGreaterThan(1);
      for (const offset of [0, 1, 24, 25, 137, 299]) {
        expect(log.offsetForTimestamp(100_000 + 10 * offset), `at ${offset}`).toBe(offset);
        // Between two records: the later one.
        if (offset > 0)
          expect(log.offsetForTimestamp(100_000 + 10 * offset - 5), `before ${offset}`).toBe(offset);
      }
      expect(log.offsetForTimestamp(100_000 + 10 * 299 + 1)).toBeNull();
      await log.close();
    });
  },
);
