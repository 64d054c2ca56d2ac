// Starting a log afresh (truncateFullyAndStartAt) leaves, at a crash in any step, either the old
// log or the empty one at the new start, and opening completes a reset found half done; moving the
// log start up (advanceLogStart, DeleteRecords) deletes the segments wholly below it.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../proto/record-batch.js';
import { ManualClock, PartitionLog, nodeFs, type LogEvent, type StorageFs } from '../../storage/index.js';
import { FaultyFs } from './faulty-fs.js';
import { readAllBatches, testLogConfig, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const config = testLogConfig({ 'segment.bytes': 1100 });

function open(dir: string, fs: StorageFs = nodeFs, events: LogEvent[] = []): PartitionLog {
  return PartitionLog.open(
    dir,
    config,
    { fs, clock: new ManualClock(), log: (e) => events.push(e) },
    { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false },
  );
}

/** Three ~1 KiB batches of 2 offsets each: one segment each, at 0, 2 and 4; the log ends at 6. */
function threeSegments(dir: string): Buffer[] {
  const log = open(dir);
  for (let i = 0; i < 3; i++) {
    const value = Buffer.alloc(500, i);
    log.append(encodeBatch([0, 1].map(() => ({ timestamp: 1, key: null, value }))));
  }
  expect(log.segments.map((s) => s.baseOffset)).toEqual([0, 2, 4]);
  const bytes = readAllBatches(log).map((b) => b.bytes);
  log.closeNow();
  return bytes;
}

type Outcome = 'old' | 'new';

function outcomeOf(dir: string, old: Buffer[], start: number): Outcome {
  const log = open(dir);
  try {
    const batches = readAllBatches(log).map((b) => b.bytes);
    if (log.logStartOffset === start && log.logEndOffset === start && batches.length === 0) return 'new';
    expect([log.logStartOffset, log.logEndOffset]).toEqual([0, 6]);
    expect(batches).toEqual(old);
    return 'old';
  } finally {
    log.closeNow();
  }
}

describe('truncateFullyAndStartAt', () => {
  it.each([
    ['past the end', 10],
    ['inside the log, at a segment base', 2],
    ['inside the log, inside a segment', 3],
  ])('starts an empty log %s that stays so after a reopen', (_name, start) => {
    const dir = tempDir();
    threeSegments(dir);
    const log = open(dir);
    log.truncateFullyAndStartAt(start);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([start, start]);
    log.append(encodeBatch([{ timestamp: 1, key: null, value: Buffer.from('x') }]));
    expect(log.logEndOffset).toBe(start + 1);
    log.closeNow();
    const again = open(dir);
    expect([again.logStartOffset, again.logEndOffset]).toEqual([start, start + 1]);
    expect(readAllBatches(again).map((b) => b.baseOffset)).toEqual([start]);
    again.closeNow();
  });

  it('leaves the old log or the new empty one at a crash in any step', () => {
    const seen: Outcome[] = [];
    for (let step = 1; ; step++) {
      const dir = tempDir();
      const old = threeSegments(dir);
      const fs = new FaultyFs();
      const log = open(dir, fs);
      fs.crashAt(step);
      let threw = false;
      try {
        log.truncateFullyAndStartAt(3);
      } catch {
        threw = true;
      }
      log.closeNow();
      const outcome = outcomeOf(dir, old, 3);
      if (!threw) {
        expect(outcome).toBe('new');
        break;
      }
      seen.push(outcome);
      expect(step).toBeLessThan(50);
    }
    // Before the new segment's directory entry is durable the old log stays; after, the new one.
    expect(seen[0]).toBe('old');
    expect(seen.at(-1)).toBe('new');
    expect(seen.indexOf('new')).toBeGreaterThan(seen.lastIndexOf('old'));
  });

  it('is completed at open when the new segment is there and old files remain', () => {
    const dir = tempDir();
    threeSegments(dir);
    // As a crash past the point of no return leaves it: the `.reset` segment, some old files.
    for (const suffix of ['.log.reset', '.index.reset', '.timeindex.reset'])
      writeFileSync(join(dir, `${'4'.padStart(20, '0')}${suffix}`), '');
    const events: LogEvent[] = [];
    const log = open(dir, nodeFs, events);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([4, 4]);
    expect(log.segments.map((s) => s.baseOffset)).toEqual([4]);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'reset-completed', offset: 4, baseOffsets: [0, 2, 4] }),
    );
    log.closeNow();
  });
});

describe('advanceLogStart', () => {
  it('moves the start inside a segment, deleting the segments wholly below it', () => {
    const dir = tempDir();
    threeSegments(dir);
    const log = open(dir);
    log.advanceLogStart(3);
    expect(log.logStartOffset).toBe(3);
    expect(log.segments.map((s) => s.baseOffset)).toEqual([2, 4]);
    expect(() => log.read(2, 1 << 20)).toThrow(/OFFSET_OUT_OF_RANGE/);
    expect(log.read(3, 1 << 20).firstOffset).toBe(2);
    log.advanceLogStart(1);
    expect(log.logStartOffset).toBe(3);
    log.advanceLogStart(6);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([6, 6]);
    expect(log.segments.map((s) => s.baseOffset)).toEqual([4]);
    log.closeNow();
    // Without a checkpointed start, the log reopens at its first segment, its records still there.
    const again = open(dir);
    expect([again.logStartOffset, again.logEndOffset]).toEqual([4, 6]);
    again.closeNow();
  });
});
