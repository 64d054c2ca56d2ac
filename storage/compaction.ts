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
//   - a gzip batch is decoded and re-encoded with the same header fields;
//   - a batch left with no records is dropped, except the last of a run, which stays as an empty
//     batch so the run's last offset is still known when a crash leaves a `.swap` behind.
// The cleaned segment is fsynced, then swapped in by PartitionLog.replaceSegments
// (`.cleaned` -> `.swap` -> live). A crash before the `.swap` rename loses only the cleaned copy; a
// crash after it completes the swap on the next open. Either way no record is lost or duplicated.
//
// The active segment is never compacted, and records without a key are kept. Which closed bytes
// are dirty (written since the last compaction) is kept in memory: after a restart the first pass
// treats the whole log as dirty.

import assert from 'node:assert/strict';
import {
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_MASK,
  CRC_OFFSET,
  LOG_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  batchAttributes,
  batchIsControl,
  batchSize,
  computeBatchCrc,
} from '../proto/batch-header.js';
import { WeirError } from '../proto/errors.js';
import { decodeBatch, encodeBatch, forEachRecord, type RecordEntry } from '../proto/record-batch.js';
import type { PartitionLog } from './partition-log.js';
import { CLEANED_SUFFIX } from './partition-log.js';
import { INT32_MAX, LogSegment } from './segment.js';
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
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function keyOf(entry: RecordEntry): string | null {
  const { view, data } = entry;
  return view.keyLength < 0 ? null : data.toString('latin1', view.keyStart, view.keyStart + view.keyLength);
}

interface KeyMap {
  /** Latest offset of each key in the closed segments. */
  readonly latest: Map<string, number>;
  /** Timestamp of each key whose latest record is a tombstone. */
  readonly tombstones: Map<string, number>;
  records: number;
  superseded: number;
}

function corrupt(seg: LogSegment, reason: string): never {
  throw new WeirError('KAFKA_STORAGE_ERROR', `compaction of ${seg.path('.log')}: ${reason}`);
}

function buildKeyMap(segments: readonly LogSegment[]): KeyMap {
  const map: KeyMap = { latest: new Map(), tombstones: new Map(), records: 0, superseded: 0 };
  for (const seg of segments) {
    seg.forEachBatch((buf, off) => {
      if (batchIsControl(buf, off)) return true;
      const reason = forEachRecord(
        buf,
        off,
        (entry, m: KeyMap) => {
          m.records++;
          const key = keyOf(entry);
          if (key === null) return;
          if (m.latest.has(key)) m.superseded++;
          m.latest.set(key, entry.offset);
          if (entry.view.valueLength < 0) m.tombstones.set(key, entry.timestamp);
          else m.tombstones.delete(key);
        },
        map,
        off + batchSize(buf, off),
      );
      if (reason !== null) corrupt(seg, reason);
      return true;
    });
  }
  return map;
}

/** Whether the record is kept: the latest of its key, and not a tombstone past its retention. */
function keeps(entry: RecordEntry, map: KeyMap, tombstoneHorizon: number): boolean {
  const key = keyOf(entry);
  if (key === null) return true;
  if (map.latest.get(key) !== entry.offset) return false;
  return !(entry.view.valueLength < 0 && entry.timestamp < tombstoneHorizon);
}

interface BatchFilter {
  readonly map: KeyMap;
  readonly horizon: number;
  /** Byte ranges (start, end pairs) of the records kept, in the batch's (decompressed) records. */
  ranges: number[];
  /** Offsets of the records kept: a compressed batch is rebuilt from exactly these. */
  kept: number[];
  dropped: number;
  tombstonesDropped: number;
}

/** The batch at `off` with only the records `keeps` allows, or null when every record is kept. */
function filterBatch(buf: Buffer, off: number, state: BatchFilter, seg: LogSegment): Buffer | null {
  state.ranges.length = 0;
  state.kept.length = 0;
  state.dropped = 0;
  const size = batchSize(buf, off);
  const reason = forEachRecord(
    buf,
    off,
    (entry, s: BatchFilter) => {
      if (keeps(entry, s.map, s.horizon)) {
        s.ranges.push(entry.view.start, entry.view.end);
        s.kept.push(entry.offset);
      } else {
        s.dropped++;
        if (entry.view.valueLength < 0 && s.map.latest.get(keyOf(entry) as string) === entry.offset)
          s.tombstonesDropped++;
      }
    },
    state,
    off + size,
  );
  if (reason !== null) corrupt(seg, reason);
  if (state.dropped === 0) return null;
  const compressed = (batchAttributes(buf, off) & COMPRESSION_MASK) !== 0;
  if (compressed && state.ranges.length > 0) return reencode(buf, off, state, seg);
  // Header as it was (compression bits cleared if nothing is left to compress), then kept records.
  let length = BATCH_HEADER_SIZE;
  for (let i = 0; i < state.ranges.length; i += 2)
    length += (state.ranges[i + 1] as number) - (state.ranges[i] as number);
  const out = Buffer.allocUnsafe(length);
  buf.copy(out, 0, off, off + BATCH_HEADER_SIZE);
  let pos = BATCH_HEADER_SIZE;
  for (let i = 0; i < state.ranges.length; i += 2)
    pos += buf.copy(out, pos, state.ranges[i], state.ranges[i + 1]);
  if (compressed) out.writeInt16BE(batchAttributes(out, 0) & ~COMPRESSION_MASK, 21);
  out.writeInt32BE(length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(state.ranges.length / 2, RECORDS_COUNT_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0), CRC_OFFSET);
  return out;
}

function reencode(buf: Buffer, off: number, state: BatchFilter, seg: LogSegment): Buffer {
  const decoded = decodeBatch(buf, off, off + batchSize(buf, off));
  if (!decoded.ok) corrupt(seg, decoded.reason);
  const b = decoded.batch;
  const keep = new Set(state.kept);
  const kept = b.records.filter((r) => keep.has(r.offset));
  return encodeBatch(
    kept.map((r) => ({
      timestamp: r.timestamp,
      key: r.key,
      value: r.value,
      headers: r.headers,
      offsetDelta: r.offset - b.baseOffset,
    })),
    {
      baseOffset: b.baseOffset,
      partitionLeaderEpoch: b.partitionLeaderEpoch,
      producerId: b.producerId,
      producerEpoch: b.producerEpoch,
      baseSequence: b.baseSequence,
      compression: 'gzip',
      timestampType: b.timestampType,
      maxTimestamp: b.maxTimestamp,
      lastOffsetDelta: b.lastOffsetDelta,
      transactional: b.transactional,
    },
  );
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
  let epoch = log.dataEpoch;
  let outcome = {
    segmentsRewritten: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    aborted: false,
  };
  if (closed.length === 0) return outcome;
  const map = buildKeyMap(closed);
  await pause();
  const config = log.logConfig;
  const filter: BatchFilter = {
    map,
    horizon: now - config.deleteRetentionMs,
    ranges: [],
    kept: [],
    dropped: 0,
    tombstonesDropped: 0,
  };
  for (const group of groupSegments(closed, config.segmentBytes)) {
    if (log.isClosed || log.dataEpoch !== epoch) return { ...outcome, aborted: true };
    const first = group[0] as LogSegment;
    const cleaned = LogSegment.create(
      deps.fs,
      log.dir,
      first.baseOffset,
      config,
      CLEANED_SUFFIX,
      log.fdCache,
    );
    let dropped = 0;
    let pendingEmpty: Buffer | null = null;
    try {
      for (const seg of group) {
        seg.forEachBatch((buf, off) => {
          const size = batchSize(buf, off);
          const out = batchIsControl(buf, off) ? null : filterBatch(buf, off, filter, seg);
          dropped += filter.dropped;
          if (out !== null && out.readInt32BE(RECORDS_COUNT_OFFSET) === 0) {
            // Held back: written only if it turns out to be the last batch of the run.
            pendingEmpty = out;
            return true;
          }
          pendingEmpty = null;
          if (out === null) cleaned.append(buf, off, size);
          else cleaned.append(out, 0, out.length);
          return true;
        });
      }
      const lastEmpty = pendingEmpty as Buffer | null;
      if (lastEmpty !== null) cleaned.append(lastEmpty, 0, lastEmpty.length);
      const groupNext = (group[group.length - 1] as LogSegment).nextOffset;
      assert.ok(dropped === 0 || cleaned.nextOffset === groupNext, 'a cleaned run keeps its last offset');
      if (dropped === 0 || log.isClosed || log.dataEpoch !== epoch) {
        cleaned.delete();
        if (dropped !== 0) return { ...outcome, aborted: true };
        continue;
      }
      cleaned.onRoll();
      await cleaned.flush();
      if (log.isClosed || log.dataEpoch !== epoch) {
        cleaned.delete();
        return { ...outcome, aborted: true };
      }
      const before = group.reduce((n, s) => n + s.size, 0);
      log.replaceSegments(cleaned, group);
      // Our own swap changed the log; only someone else's change aborts the rest.
      epoch = log.dataEpoch;
      outcome = {
        segmentsRewritten: outcome.segmentsRewritten + group.length,
        bytesBefore: outcome.bytesBefore + before,
        bytesAfter: outcome.bytesAfter + cleaned.size,
        recordsRemoved: outcome.recordsRemoved + dropped,
        tombstonesRemoved: filter.tombstonesDropped,
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
