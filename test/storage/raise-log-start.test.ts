// Raising log start offsets (Kafka's DeleteRecords) in the log manager, on the simulated disk
// (test/sim/memory-fs.ts): each log is flushed through its new start before the start is
// checkpointed, so a power loss right after the answer neither loses the new start nor brings
// the records below it back; one request writes the checkpoints once however many logs it names;
// a failed checkpoint is a KAFKA_STORAGE_ERROR that deletes no segment, and a repeated call
// checkpoints again; partitions fail one by one.

import { describe, expect, it } from 'vitest';
import { isWeirError } from '../../proto/errors.js';
import { encodeBatch } from '../../proto/record-batch.js';
import {
  DEFAULT_LOG_MANAGER_CONFIG,
  LogManager,
  ManualClock,
  PartitionLog,
  type LogConfig,
  type LogManagerEvent,
} from '../../storage/index.js';
import { LOG_START_CHECKPOINT } from '../../storage/checkpoint.js';
import { MemoryFs } from '../sim/memory-fs.js';
import { testLogConfig } from './helpers.js';

const DATA = '/data';
/** Every batch in one segment: nothing flushes it behind the test's back (a roll would). */
const ONE_SEGMENT = testLogConfig({ 'segment.bytes': 1 << 20 });
/** About three batches per segment. */
const SMALL_SEGMENTS = testLogConfig({ 'segment.bytes': 1024 });

/** A disk whose data directory is durable already, as a broker's is. */
function newDisk(): MemoryFs {
  const disk = new MemoryFs();
  disk.mkdirSync(DATA);
  disk.fsyncDirSync('/');
  return disk;
}

function open(fs: MemoryFs, config: LogConfig = ONE_SEGMENT) {
  const events: LogManagerEvent[] = [];
  const manager = LogManager.open(
    { dataDir: DATA, ...DEFAULT_LOG_MANAGER_CONFIG },
    { fs, clock: new ManualClock(), configFor: () => config, log: (e) => events.push(e) },
  );
  return { manager, events };
}

function appendRecords(log: PartitionLog, count: number): void {
  for (let i = 0; i < count; i++)
    log.append(encodeBatch([{ timestamp: 1000, key: null, value: Buffer.alloc(250, i) }]));
}

/** The code a read at `offset` fails with, or null when it succeeds. */
function readError(log: PartitionLog, offset: number): string | null {
  try {
    log.read(offset, 1 << 20);
    return null;
  } catch (err) {
    return isWeirError(err) ? err.code : String(err);
  }
}

function codeOf(outcome: number | Error | undefined): string | number | undefined {
  return isWeirError(outcome) ? outcome.code : (outcome as number | undefined);
}

/** Counts the checkpoint files the disk sees replaced (each write ends with a rename over it). */
function countCheckpointWrites(fs: MemoryFs): { starts: number } {
  const counts = { starts: 0 };
  const rename = fs.renameSync.bind(fs);
  fs.renameSync = (from: string, to: string): void => {
    rename(from, to);
    if (to.endsWith(`/${LOG_START_CHECKPOINT}`)) counts.starts++;
  };
  return counts;
}

describe('LogManager.raiseLogStartOffsets', () => {
  it('flushes through the new start first: after a power loss the start holds and the records below stay gone', async () => {
    const disk = newDisk();
    const { manager } = open(disk);
    const log = manager.createLog('orders', 0);
    appendRecords(log, 10);
    await log.flush();
    appendRecords(log, 5);
    expect(log.flushedOffset).toBe(10);

    expect(await manager.raiseLogStartOffsets([{ topic: 'orders', partition: 0, offset: 15 }])).toEqual([15]);
    // The power goes before anything else is written: every unsynced write is lost.
    const after = open(disk.crash(() => 0)).manager;
    const reopened = after.getLog('orders', 0) as PartitionLog;
    expect(reopened.logStartOffset).toBe(15);
    expect(reopened.logEndOffset).toBe(15);
    expect(readError(reopened, 0)).toBe('OFFSET_OUT_OF_RANGE');
    expect(readError(reopened, 14)).toBe('OFFSET_OUT_OF_RANGE');
    await after.close();
  });

  it('writes the checkpoints once for a request over several logs, then deletes the segments below each start', async () => {
    const disk = newDisk();
    const { manager, events } = open(disk, SMALL_SEGMENTS);
    for (let p = 0; p < 3; p++) appendRecords(manager.createLog('orders', p), 12);
    const segmentsBefore = [0, 1, 2].map((p) => manager.getLog('orders', p)?.segments.length ?? 0);
    expect(segmentsBefore[0]).toBeGreaterThan(3);
    const writes = countCheckpointWrites(disk);

    const answer = await manager.raiseLogStartOffsets([
      { topic: 'orders', partition: 0, offset: 9 },
      { topic: 'orders', partition: 1, offset: 12 },
      { topic: 'orders', partition: 2, offset: 1 },
    ]);
    expect(answer).toEqual([9, 12, 1]);
    expect(writes.starts).toBe(1);
    const starts = [9, 12, 1];
    for (const [p, start] of starts.entries()) {
      const log = manager.getLog('orders', p) as PartitionLog;
      expect(log.logStartOffset).toBe(start);
      // Of the segments below the start, only the one holding it is left.
      expect(log.segments[0]?.baseOffset).toBeLessThanOrEqual(start);
      expect(log.segments[1]?.baseOffset ?? Infinity).toBeGreaterThan(start);
    }
    // One event per log, with the count of segments deleted, as retention reports.
    expect(events.filter((e) => e.kind === 'records-deleted')).toEqual(
      starts.map((start, p) => ({
        kind: 'records-deleted',
        topic: 'orders',
        partition: p,
        logStartOffset: start,
        deletedSegments: (segmentsBefore[p] ?? 0) - (manager.getLog('orders', p)?.segments.length ?? 0),
      })),
    );
    expect(manager.getLog('orders', 0)?.segments.length).toBeLessThan(segmentsBefore[0] ?? 0);
    // The same request again changes nothing, and says nothing.
    expect(await manager.raiseLogStartOffsets([{ topic: 'orders', partition: 1, offset: 12 }])).toEqual([12]);
    expect(events.filter((e) => e.kind === 'records-deleted')).toHaveLength(3);

    await manager.close();
    const reopened = open(disk).manager;
    expect([0, 1, 2].map((p) => reopened.getLog('orders', p)?.logStartOffset)).toEqual([9, 12, 1]);
    await reopened.close();
  });

  it('answers a failed checkpoint with KAFKA_STORAGE_ERROR and deletes no segment; a repeated call checkpoints again', async () => {
    const disk = newDisk();
    const { manager } = open(disk, SMALL_SEGMENTS);
    const log = manager.createLog('orders', 0);
    appendRecords(log, 12);
    await log.flush();
    const segments = log.segments.map((s) => s.baseOffset);
    // The disk is full: the checkpoint's temp file cannot be written.
    disk.capacityBytes = disk.usedBytes;

    const [failed] = await manager.raiseLogStartOffsets([{ topic: 'orders', partition: 0, offset: 8 }]);
    expect(codeOf(failed)).toBe('KAFKA_STORAGE_ERROR');
    expect(log.segments.map((s) => s.baseOffset)).toEqual(segments);
    // Raised in memory all the same: nothing below it is served while the disk lags.
    expect(readError(log, 7)).toBe('OFFSET_OUT_OF_RANGE');

    disk.capacityBytes = Number.POSITIVE_INFINITY;
    // Below the start now: the start does not move, but it is checkpointed and the segments go.
    expect(await manager.raiseLogStartOffsets([{ topic: 'orders', partition: 0, offset: 3 }])).toEqual([8]);
    expect(log.segments.length).toBeLessThan(segments.length);
    const after = open(disk.crash(() => 0)).manager;
    expect(after.getLog('orders', 0)?.logStartOffset).toBe(8);
    await after.close();
  });

  it('refuses partitions one by one: an unknown log, an offset past the end, a log whose flush fails', async () => {
    const disk = newDisk();
    const { manager } = open(disk);
    const good = manager.createLog('orders', 0);
    const bad = manager.createLog('orders', 1);
    appendRecords(good, 4);
    appendRecords(bad, 4);
    await good.flush();
    // The next fdatasync (the one the unflushed log needs) fails: that log goes offline.
    disk.failSyncs = 1;

    const answer = await manager.raiseLogStartOffsets([
      { topic: 'orders', partition: 0, offset: 2 },
      { topic: 'orders', partition: 1, offset: 2 },
      { topic: 'orders', partition: 7, offset: 0 },
      { topic: 'orders', partition: 0, offset: 5 },
    ]);
    expect(answer.map(codeOf)).toEqual([
      2,
      'KAFKA_STORAGE_ERROR',
      'UNKNOWN_TOPIC_OR_PARTITION',
      'OFFSET_OUT_OF_RANGE',
    ]);
    expect(good.logStartOffset).toBe(2);
    expect(bad.logStartOffset).toBe(0);
    expect(bad.failed?.code).toBe('KAFKA_STORAGE_ERROR');

    // An offline log answers its failure, whatever the offset.
    const [again] = await manager.raiseLogStartOffsets([{ topic: 'orders', partition: 1, offset: 99 }]);
    expect(codeOf(again)).toBe('KAFKA_STORAGE_ERROR');
    await manager.close();
  });
});

describe('PartitionLog.raiseLogStartOffset', () => {
  it('moves the start only: never down, the durability marks left to a flush, the segments to deleteSegmentsBelowStart', () => {
    const disk = newDisk();
    const log = PartitionLog.open(
      `${DATA}/orders-0`,
      SMALL_SEGMENTS,
      { fs: disk, clock: new ManualClock() },
      { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: true },
    );
    appendRecords(log, 8);
    const bases = log.segments.map((seg) => seg.baseOffset);
    expect(bases.length).toBeGreaterThan(2);

    expect(log.raiseLogStartOffset(5)).toBe(5);
    // Nothing below 5 was fsynced: the marks must not say it was.
    expect(log.flushedOffset).toBe(0);
    expect(log.recoveryPoint).toBe(0);
    expect(log.segments.map((seg) => seg.baseOffset)).toEqual(bases);
    expect(readError(log, 4)).toBe('OFFSET_OUT_OF_RANGE');
    expect(readError(log, 5)).toBeNull();
    expect(log.raiseLogStartOffset(2)).toBe(5);
    expect(log.logStartOffset).toBe(5);

    const below = bases.filter((_, i) => (bases[i + 1] ?? Infinity) <= 5).length;
    expect(below).toBeGreaterThan(0);
    expect(log.deleteSegmentsBelowStart()).toBe(below);
    expect(log.segments.map((seg) => seg.baseOffset)).toEqual(bases.slice(below));
    expect(log.deleteSegmentsBelowStart()).toBe(0);
    log.closeNow();
  });
});
