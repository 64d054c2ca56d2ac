// A segment's three files (`.log`, `.index`, `.timeindex`) are on disk from the moment it is
// created, whatever happens to the log afterwards (rolls, flushes, compaction, retention,
// truncation), and the index files hold whole entries, a prefix of the ones in memory.

import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../proto/record-batch.js';
import { compactLog, logConfigFrom, nodeFs, type PartitionLog } from '../../storage/index.js';
import { OffsetIndex } from '../../storage/offset-index.js';
import { segmentFileName, type LogSegment } from '../../storage/segment.js';
import { TimeIndex } from '../../storage/time-index.js';
import { openLog, testLogConfig, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const MAX_INDEX_BYTES = 1 << 20;

/** The names a live segment at each of `bases` must have on disk, sorted as a listing is. */
function segmentFiles(...bases: number[]): string[] {
  return bases
    .flatMap((b) => ['.index', '.log', '.timeindex'].map((suffix) => segmentFileName(b, suffix)))
    .sort();
}

function listing(log: PartitionLog): string[] {
  return readdirSync(log.dir).sort();
}

function bases(log: PartitionLog): number[] {
  return log.segments.map((s) => s.baseOffset);
}

function append(log: PartitionLog, i: number): void {
  log.append(
    encodeBatch([
      { timestamp: 1_000 + i, key: Buffer.from(`k${i % 5}`), value: Buffer.from('v'.repeat(200)) },
    ]),
  );
}

/** The entries of a segment's index files as a reader from outside the broker sees them now. */
function onDisk(seg: LogSegment): { offsets: number[][]; times: number[][] } {
  const offsets = new OffsetIndex(nodeFs, seg.path('.index'), MAX_INDEX_BYTES, true);
  const times = new TimeIndex(nodeFs, seg.path('.timeindex'), MAX_INDEX_BYTES, true);
  expect(offsets.file.fileBytes % 8).toBe(0);
  expect(times.file.fileBytes % 12).toBe(0);
  return {
    offsets: Array.from({ length: offsets.entries }, (_, i) => [
      offsets.relativeOffsetAt(i),
      offsets.positionAt(i),
    ]),
    times: Array.from({ length: times.entries }, (_, i) => [times.timestampAt(i), times.relativeOffsetAt(i)]),
  };
}

function inMemory(seg: LogSegment): { offsets: number[][]; times: number[][] } {
  const { offsetIndex, timeIndex } = seg;
  return {
    offsets: Array.from({ length: offsetIndex.entries }, (_, i) => [
      offsetIndex.relativeOffsetAt(i),
      offsetIndex.positionAt(i),
    ]),
    times: Array.from({ length: timeIndex.entries }, (_, i) => [
      timeIndex.timestampAt(i),
      timeIndex.relativeOffsetAt(i),
    ]),
  };
}

function expectPrefixOnDisk(seg: LogSegment): void {
  const disk = onDisk(seg);
  const memory = inMemory(seg);
  expect(disk.offsets).toEqual(memory.offsets.slice(0, disk.offsets.length));
  expect(disk.times).toEqual(memory.times.slice(0, disk.times.length));
}

describe('segment files', () => {
  it('given a new log, then its segment shows all three files, and each segment a roll starts', async () => {
    const { log } = openLog(tempDir(), testLogConfig());
    expect(listing(log)).toEqual(segmentFiles(0));
    let i = 0;
    while (log.segments.length < 3) append(log, i++);
    expect(listing(log)).toEqual(segmentFiles(...bases(log)));
    await log.close();
  });

  it('given appends, then the index files hold a prefix while running and every entry after a roll or flush', async () => {
    const { log } = openLog(tempDir(), testLogConfig());
    let i = 0;
    while (log.segments.length < 2) {
      append(log, i++);
      expectPrefixOnDisk(log.activeSegment);
    }
    const rolled = log.segments[0] as LogSegment;
    expect(onDisk(rolled)).toEqual(inMemory(rolled));
    expect(onDisk(rolled).offsets.length).toBeGreaterThan(0);
    while (log.activeSegment.offsetIndex.entries < 3) append(log, i++);
    await log.flush();
    expect(onDisk(log.activeSegment)).toEqual(inMemory(log.activeSegment));
    expect(onDisk(log.activeSegment).offsets.length).toBe(3);
    await log.close();
  });

  it('given compaction, retention and truncation, then only live segments have files, three each', async () => {
    const config = logConfigFrom({
      'cleanup.policy': 'compact,delete',
      'segment.bytes': '2000',
      'index.interval.bytes': '100',
    });
    const { log } = openLog(tempDir(), config);
    for (let i = 0; i < 60; i++) append(log, i);
    const outcome = await compactLog(log, 1_500, { fs: nodeFs, pause: () => Promise.resolve() });
    expect(outcome.segmentsRewritten).toBeGreaterThan(0);
    expect(listing(log)).toEqual(segmentFiles(...bases(log)));
    expect(log.deleteOldestSegments(1)).toBe(1);
    expect(listing(log)).toEqual(segmentFiles(...bases(log)));
    log.truncateTo(log.activeSegment.baseOffset - 1);
    expect(listing(log)).toEqual(segmentFiles(...bases(log)));
    log.truncateFullyAndStartAt(500);
    expect(listing(log)).toEqual(segmentFiles(500));
    await log.close();
  });
});
