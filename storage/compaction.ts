// Compaction (cleanup.policy=compact): keep only the latest record of each key in the closed
// segments, drop tombstones older than delete.retention.ms, keep every kept record's offset.
//
// Pass 1 reads the closed segments and maps each key to the offset of its latest record. Pass 2
// rewrites runs of closed segments (each run at most segment.bytes) into one `.cleaned` segment:
//   - a batch with nothing to drop is copied byte for byte;
//   - an uncompressed batch with records to drop keeps its header (base offset, last offset delta,
//     timestamps, producer fields) and the kept records' bytes as they were, with a new count,
//     length and CRC: record bytes carry their own offset and timestamp deltas, so they need no
//     re-encoding;
//   - a compressed batch with records to drop keeps its header too, with its kept records' bytes
//     compressed again with its codec;
//   - a batch left with no records is dropped, except the last of a run, which stays as an empty
//     batch so the run's last offset is still known when a crash leaves a `.swap` behind.
// The cleaned segment is fsynced, then swapped in by PartitionLog.replaceSegments
// (`.cleaned` -> `.swap` -> live). A crash before the `.swap` rename loses only the cleaned copy; a
// crash after it completes the swap on the next open. Either way no record is lost or duplicated.
//
// Both passes read a segment a bounded chunk of whole batches at a time, and a compressed batch is
// inflated and compressed again on the thread pool (compaction-filter.ts): the walk awaits, so the log is
// checked for changes after every await, as around pause().
//
// The active segment is never compacted, and records without a key are kept. Which closed bytes
// are dirty (written since the last compaction) is kept in memory: after a restart the first pass
// treats the whole log as dirty.

import assert from 'node:assert/strict';
import { RECORDS_COUNT_OFFSET, batchIsControl, batchSize } from '../proto/batch-header.js';
import { MAX_DECOMPRESSED_BYTES } from '../proto/record-batch.js';
import {
  filterBatch,
  mapBatch,
  type BatchFilter,
  type KeyMap,
  type KeyMapWalk,
  type WalkState,
} from './compaction-filter.js';
import { CLEANED_SUFFIX } from './log-loader.js';
import type { PartitionLog } from './partition-log.js';
import { INT32_MAX, LogSegment, type SegmentRead } from './segment.js';
import type { StorageFs } from './fs.js';

export interface CompactionOutcome {
  readonly segmentsRewritten: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly recordsRemoved: number;
  readonly tombstonesRemoved: number;
  /** True when the log changed under the compaction (truncation, retention) and it stopped early. */
  readonly aborted: boolean;
}

export interface CompactionDeps {
  readonly fs: StorageFs;
  /** Lets other work run between segments; the default yields to the event loop. */
  readonly pause?: () => Promise<void>;
  /** Past this many inflated bytes a compressed batch is corrupt; default MAX_DECOMPRESSED_BYTES. */
  readonly maxInflatedBytes?: number;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Bytes of whole batches read at a time: bounds a walk's memory (a larger batch is read alone). */
const WALK_READ_BYTES = 1024 * 1024;

/** The log a walk reads and the data epoch it started from. */
interface Watch {
  readonly log: PartitionLog;
  epoch: number;
}

/** The log changed under the run, or went offline: either way the run stops and writes nothing more. */
function changed(w: Watch): boolean {
  return w.log.isClosed || w.log.failed !== null || w.log.dataEpoch !== w.epoch;
}

/**
 * Visits the batches of state.seg in order, awaiting a visit that returns a promise. Returns false if
 * the log changed during an await: the segment may be gone, and the walk stopped there.
 */
async function walkBatches<S extends WalkState>(
  watch: Watch,
  visit: (buf: Buffer, off: number, state: S) => Promise<unknown> | unknown,
  state: S,
): Promise<boolean> {
  const seg = state.seg;
  const read: SegmentRead = { buf: Buffer.alloc(0), firstOffset: 0, lastOffset: 0 };
  // Offsets may have gaps (an earlier compaction): each read starts past the last one returned.
  let next = seg.baseOffset;
  while (seg.read(next, WALK_READ_BYTES, Number.MAX_SAFE_INTEGER, true, read)) {
    const chunk = read.buf;
    for (let off = 0; off < chunk.length; off += batchSize(chunk, off)) {
      const pending = visit(chunk, off, state);
      if (pending instanceof Promise) {
        await pending;
        if (changed(watch)) return false;
      }
    }
    assert.ok(read.lastOffset >= next, 'a segment read moves forward');
    next = read.lastOffset + 1;
  }
  return true;
}

function mapUnlessControl(buf: Buffer, off: number, s: KeyMapWalk): Promise<void> | undefined {
  return batchIsControl(buf, off) ? undefined : mapBatch(buf, off, s);
}

/** The key map of the closed segments, or null if the log changed while it was built. */
async function buildKeyMap(
  watch: Watch,
  segments: readonly LogSegment[],
  maxInflatedBytes: number,
): Promise<KeyMap | null> {
  const map: KeyMap = { latest: new Map(), tombstones: new Map(), records: 0, superseded: 0 };
  const walk: KeyMapWalk = {
    seg: segments[0] as LogSegment,
    maxInflatedBytes,
    previous: -1,
    last: -1,
    reason: null,
    map,
  };
  for (const seg of segments) {
    walk.seg = seg;
    if (!(await walkBatches(watch, mapUnlessControl, walk))) return null;
  }
  return map;
}

/** A run being rewritten into one cleaned segment. */
interface Run extends BatchFilter {
  readonly watch: Watch;
  cleaned: LogSegment;
  /** Records dropped from the run so far. */
  droppedInRun: number;
  /** An empty batch held back: written only if it turns out to be the last batch of the run. */
  pendingEmpty: Buffer | null;
}

function place(buf: Buffer, off: number, out: Buffer | null, run: Run): void {
  run.droppedInRun += out === null ? 0 : run.dropped;
  if (out !== null && out.readInt32BE(RECORDS_COUNT_OFFSET) === 0) {
    run.pendingEmpty = out;
    return;
  }
  run.pendingEmpty = null;
  if (out === null) run.cleaned.append(buf, off, batchSize(buf, off));
  else run.cleaned.append(out, 0, out.length);
}

async function placeInflated(
  buf: Buffer,
  off: number,
  pending: Promise<Buffer | null>,
  run: Run,
): Promise<void> {
  const out = await pending;
  // The walk stops on a change; until then the cleaned segment is still ours to write.
  if (!changed(run.watch)) place(buf, off, out, run);
}

function copyFiltered(buf: Buffer, off: number, run: Run): Promise<void> | undefined {
  const out = batchIsControl(buf, off) ? null : filterBatch(buf, off, run);
  if (out instanceof Promise) return placeInflated(buf, off, out, run);
  place(buf, off, out, run);
  return undefined;
}

/** Consecutive closed segments that fit one cleaned segment. */
function groupSegments(segments: readonly LogSegment[], maxBytes: number): LogSegment[][] {
  const groups: LogSegment[][] = [];
  let group: LogSegment[] = [];
  let bytes = 0;
  for (const seg of segments) {
    const first = group[0];
    const fits =
      first !== undefined &&
      bytes + seg.size <= maxBytes &&
      seg.nextOffset - 1 - first.baseOffset <= INT32_MAX;
    if (first !== undefined && !fits) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(seg);
    bytes += seg.size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Compacts the closed segments of `log` once. Returns what it did; stops early (aborted) if the log
 * removes data or replaces segments while it runs.
 */
export async function compactLog(
  log: PartitionLog,
  now: number,
  deps: CompactionDeps,
): Promise<CompactionOutcome> {
  const pause = deps.pause ?? yieldToLoop;
  const closed = log.segments.slice(0, -1);
  const watch: Watch = { log, epoch: log.dataEpoch };
  let outcome = {
    segmentsRewritten: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    aborted: false,
  };
  if (closed.length === 0) return outcome;
  const maxInflatedBytes = deps.maxInflatedBytes ?? MAX_DECOMPRESSED_BYTES;
  const map = await buildKeyMap(watch, closed, maxInflatedBytes);
  if (map === null) return { ...outcome, aborted: true };
  await pause();
  const config = log.logConfig;
  const run: Run = {
    watch,
    seg: closed[0] as LogSegment,
    maxInflatedBytes,
    previous: -1,
    last: -1,
    reason: null,
    map,
    horizon: now - config.deleteRetentionMs,
    ranges: [],
    plain: Buffer.alloc(0),
    plainBytes: 0,
    kept: 0,
    dropped: 0,
    tombstonesDropped: 0,
    cleaned: closed[0] as LogSegment,
    droppedInRun: 0,
    pendingEmpty: null,
  };
  for (const group of groupSegments(closed, config.segmentBytes)) {
    if (changed(watch)) return { ...outcome, aborted: true };
    const first = group[0] as LogSegment;
    const cleaned = LogSegment.create(
      deps.fs,
      log.dir,
      first.baseOffset,
      config,
      CLEANED_SUFFIX,
      log.fdCache,
    );
    run.cleaned = cleaned;
    run.droppedInRun = 0;
    run.pendingEmpty = null;
    try {
      let complete = true;
      for (const seg of group) {
        run.seg = seg;
        complete = await walkBatches(watch, copyFiltered, run);
        if (!complete) break;
      }
      const dropped = run.droppedInRun;
      const lastEmpty = run.pendingEmpty as Buffer | null;
      if (complete && lastEmpty !== null) cleaned.append(lastEmpty, 0, lastEmpty.length);
      const groupNext = (group[group.length - 1] as LogSegment).nextOffset;
      assert.ok(
        !complete || dropped === 0 || cleaned.nextOffset === groupNext,
        'a cleaned run keeps its last offset',
      );
      if (!complete || dropped === 0 || changed(watch)) {
        cleaned.delete();
        if (!complete || dropped !== 0) return { ...outcome, aborted: true };
        continue;
      }
      cleaned.onRoll();
      await cleaned.flush();
      if (changed(watch)) {
        cleaned.delete();
        return { ...outcome, aborted: true };
      }
      const before = group.reduce((n, s) => n + s.size, 0);
      log.replaceSegments(cleaned, group);
      // Our own swap changed the log; only someone else's change aborts the rest.
      watch.epoch = log.dataEpoch;
      outcome = {
        segmentsRewritten: outcome.segmentsRewritten + group.length,
        bytesBefore: outcome.bytesBefore + before,
        bytesAfter: outcome.bytesAfter + cleaned.size,
        recordsRemoved: outcome.recordsRemoved + dropped,
        tombstonesRemoved: run.tombstonesDropped,
        aborted: false,
      };
    } catch (err) {
      // Before the `.swap` rename the cleaned copy is disposable; after it, it is the data.
      if (cleaned.suffix === CLEANED_SUFFIX) cleaned.delete();
      throw err;
    }
    await pause();
  }
  return outcome;
}

/** The share of closed-segment bytes written since `firstDirtyOffset`. */
export function dirtyRatio(log: PartitionLog, firstDirtyOffset: number): number {
  let total = 0;
  let dirty = 0;
  const segs = log.segments;
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i] as LogSegment;
    total += seg.size;
    if (seg.baseOffset >= firstDirtyOffset) dirty += seg.size;
  }
  return total === 0 ? 0 : dirty / total;
}
