// Retention deletes whole segments, oldest first, by time and by size, and advances the log start.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../proto/record-batch.js';
import {
  ManualClock,
  PartitionLog,
  applyRetention,
  excessBySize,
  expiredByTime,
  logConfigFrom,
  nodeFs,
} from '../../storage/index.js';

const root = mkdtempSync(join(tmpdir(), 'weir-retention-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function openLog(overrides: Record<string, string>, clock = new ManualClock()): PartitionLog {
  const config = logConfigFrom({ 'segment.bytes': '1100', ...overrides });
  return PartitionLog.open(
    join(root, `r-${n++}`),
    config,
    { fs: nodeFs, clock },
    { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: true },
  );
}

/** One ~1 KiB batch per call, so every segment holds exactly one batch. */
function appendAt(log: PartitionLog, timestamp: number): void {
  log.append(encodeBatch([{ timestamp, key: null, value: Buffer.alloc(1000) }]));
}

describe('retention by time', () => {
  it('deletes the leading segments whose newest record is older than retention.ms', () => {
    const clock = new ManualClock(100_000);
    const log = openLog({ 'retention.ms': '10000' }, clock);
    for (const ts of [80_000, 85_000, 95_000, 99_000]) appendAt(log, ts);
    expect(log.segments.length).toBe(4);
    const outcome = applyRetention(log, clock.now());
    expect(outcome.deletedByTime).toBe(2);
    expect(log.logStartOffset).toBe(2);
    expect(log.segments.map((s) => s.baseOffset)).toEqual([2, 3]);
    expect(() => log.read(1, 100)).toThrow(/OFFSET_OUT_OF_RANGE/);
    expect(log.read(2, 100).firstOffset).toBe(2);
  });

  it('stops at the first segment that is not expired, even if later ones are', () => {
    const log = openLog({ 'retention.ms': '10000' });
    for (const ts of [1_000, 500_000, 1_000]) appendAt(log, ts);
    expect(applyRetention(log, 100_000).deletedByTime).toBe(1);
    expect(log.logStartOffset).toBe(1);
  });

  it('rolls and empties a log whose every segment expired, keeping its end offset', () => {
    const log = openLog({ 'retention.ms': '10' });
    for (const ts of [1, 2, 3]) appendAt(log, ts);
    applyRetention(log, 1_000_000);
    expect(log.logStartOffset).toBe(3);
    expect(log.logEndOffset).toBe(3);
    expect(log.segments.length).toBe(1);
    appendAt(log, 1_000_000);
    expect(log.logEndOffset).toBe(4);
  });

  it('keeps everything with retention.ms=-1 and under cleanup.policy=compact', () => {
    const cases: Record<string, string>[] = [
      { 'retention.ms': '-1' },
      { 'retention.ms': '1', 'cleanup.policy': 'compact' },
    ];
    for (const overrides of cases) {
      const log = openLog(overrides);
      for (const ts of [1, 2, 3]) appendAt(log, ts);
      expect(applyRetention(log, 1_000_000)).toEqual({ deletedByTime: 0, deletedBySize: 0 });
      expect(log.logStartOffset).toBe(0);
    }
  });
});

describe('retention by size', () => {
  it('deletes the oldest closed segments while the rest stays at least retention.bytes', () => {
    const log = openLog({ 'retention.bytes': '2500', 'retention.ms': '-1' });
    for (let i = 0; i < 5; i++) appendAt(log, i);
    const sizes = log.segments.map((s) => s.size);
    const outcome = applyRetention(log, 0);
    const kept = log.segments.map((s) => s.size).reduce((a, b) => a + b, 0);
    expect(outcome.deletedBySize).toBe(sizes.length - log.segments.length);
    expect(kept).toBeGreaterThanOrEqual(2500);
    // One more deletion would have gone under the limit.
    expect(kept - (log.segments[0]?.size ?? 0)).toBeLessThan(2500);
    expect(log.logStartOffset).toBe(outcome.deletedBySize);
  });

  it('never deletes the active segment', () => {
    expect(excessBySize([{ size: 5000, largestTimestamp: 0, isEmpty: false }], 10)).toBe(0);
  });

  it('agrees with a direct computation for random segment sizes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: -1, max: 20000 }),
        (sizes, limit) => {
          const segs = sizes.map((size) => ({ size, largestTimestamp: 0, isEmpty: false }));
          const n = excessBySize(segs, limit);
          const rest = sizes.slice(n).reduce((a, b) => a + b, 0);
          if (limit < 0) return n === 0;
          expect(n).toBeLessThanOrEqual(sizes.length - 1);
          if (n > 0) expect(rest).toBeGreaterThanOrEqual(limit);
          if (n < sizes.length - 1) expect(rest - (sizes[n] as number)).toBeLessThan(limit);
          return true;
        },
      ),
      { seed: 5, numRuns: 300 },
    );
    expect(expiredByTime([{ size: 1, largestTimestamp: 5, isEmpty: false }], 100, -1)).toBe(0);
  });
});
