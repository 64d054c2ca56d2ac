// What compaction keeps of one batch, and the key map that decides it (see compaction.ts).
//
// Uncompressed batches are walked synchronously: their records are read in place. A compressed
// batch can inflate to tens of MiB, so its records are walked while they inflate on libuv's thread
// pool (forEachInflatedRecord), never past a limit, and its rebuilt records are compressed there
// again, with the batch's own codec: the
// event loop keeps serving produce and fetch while compaction works through large batches.
//
// The inflating walk trusts the records of a stored batch (checked on produce, covered by the CRC)
// except for their order: the key map's "latest offset wins" needs offsets that increase, so a
// batch whose offsets do not is corrupt rather than silently mis-compacted.

import assert from 'node:assert/strict';
import {
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_MASK,
  CRC_OFFSET,
  LOG_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  ATTRIBUTES_OFFSET,
  batchAttributes,
  batchLastOffset,
  batchSize,
  computeBatchCrc,
  invalidBatch,
} from '../proto/batch-header.js';
import { INFLATED_TOO_LARGE, forEachInflatedRecord, isCompressed } from '../proto/batch-inflate.js';
import { compress, compressionName } from '../proto/compression.js';
import { WeirError } from '../proto/errors.js';
import { forEachRecord, type RecordEntry } from '../proto/record-batch.js';
import type { LogSegment } from './segment.js';

export interface KeyMap {
  /** Latest offset of each key in the closed segments. */
  readonly latest: Map<string, number>;
  /** Timestamp of each key whose latest record is a tombstone. */
  readonly tombstones: Map<string, number>;
  records: number;
  superseded: number;
}

/** Where a walk is and how far it may inflate; what goes wrong ends in corrupt(). */
export interface WalkState {
  seg: LogSegment;
  readonly maxInflatedBytes: number;
  /** Offset of the previous record of the batch, and the batch's last offset. */
  previous: number;
  last: number;
  /** Set by a visitor that stops an inflating walk on a bad record. */
  reason: string | null;
}

export interface KeyMapWalk extends WalkState {
  readonly map: KeyMap;
}

export interface BatchFilter extends WalkState {
  readonly map: KeyMap;
  readonly horizon: number;
  /** Byte ranges (start, end pairs) of the records kept, in an uncompressed batch. */
  ranges: number[];
  /** The kept records of a compressed batch, copied out as they inflate: plain[0, plainBytes). */
  plain: Buffer;
  plainBytes: number;
  kept: number;
  dropped: number;
  tombstonesDropped: number;
}

export function corrupt(seg: LogSegment, reason: string): never {
  throw new WeirError('KAFKA_STORAGE_ERROR', `compaction of ${seg.path('.log')}: ${reason}`);
}

function keyOf(entry: RecordEntry): string | null {
  const { view, data } = entry;
  return view.keyLength < 0 ? null : data.toString('latin1', view.keyStart, view.keyStart + view.keyLength);
}

/** The kept records compressed again with the batch's codec (a stored batch's codec is 1-4). */
function recompress(buf: Buffer, off: number, plain: Buffer): Promise<Buffer> {
  const codec = compressionName(batchAttributes(buf, off) & COMPRESSION_MASK);
  assert(codec !== null && codec !== 'none', 'a batch checked on produce has codec 1-4');
  return compress(codec, plain);
}

/** Starts the walk of the batch at off; for a compressed batch, checks what the walk will not. */
function beginBatch(buf: Buffer, off: number, s: WalkState): void {
  s.previous = -1;
  s.last = batchLastOffset(buf, off);
  s.reason = null;
  if (!isCompressed(buf, off)) return;
  const invalid = invalidBatch(buf, off, off + batchSize(buf, off));
  if (invalid !== null) corrupt(s.seg, invalid);
}

/** Whether the record's offset follows the previous one inside the batch; if not, the reason. */
function inOrder(entry: RecordEntry, s: WalkState): boolean {
  if (entry.offset > s.previous && entry.offset <= s.last) {
    s.previous = entry.offset;
    return true;
  }
  s.reason = `record offset ${entry.offset} not in (${s.previous}, ${s.last}]`;
  return false;
}

/** Ends the walk of a batch: the walk's reason, or a visitor's. */
function endWalk(s: WalkState, result: string | null | typeof INFLATED_TOO_LARGE): void {
  if (result === INFLATED_TOO_LARGE) corrupt(s.seg, `records inflate past ${s.maxInflatedBytes} bytes`);
  const reason = result ?? s.reason;
  if (reason !== null) corrupt(s.seg, reason);
}

function mapRecord(entry: RecordEntry, s: KeyMapWalk): boolean {
  if (!inOrder(entry, s)) return false;
  const m = s.map;
  m.records++;
  const key = keyOf(entry);
  if (key === null) return true;
  if (m.latest.has(key)) m.superseded++;
  m.latest.set(key, entry.offset);
  if (entry.view.valueLength < 0) m.tombstones.set(key, entry.timestamp);
  else m.tombstones.delete(key);
  return true;
}

/** Adds the records of the batch at off to the key map; a promise while a compressed batch inflates. */
export function mapBatch(buf: Buffer, off: number, s: KeyMapWalk): Promise<void> | undefined {
  beginBatch(buf, off, s);
  if (isCompressed(buf, off)) return mapInflated(buf, off, s);
  endWalk(s, forEachRecord(buf, off, mapRecord, s, off + batchSize(buf, off)));
  return undefined;
}

async function mapInflated(buf: Buffer, off: number, s: KeyMapWalk): Promise<void> {
  endWalk(s, await forEachInflatedRecord(buf, off, s.maxInflatedBytes, mapRecord, s));
}

/** Whether the record is kept: the latest of its key, and not a tombstone past its retention. */
function keeps(entry: RecordEntry, map: KeyMap, tombstoneHorizon: number): boolean {
  const key = keyOf(entry);
  if (key === null) return true;
  if (map.latest.get(key) !== entry.offset) return false;
  return !(entry.view.valueLength < 0 && entry.timestamp < tombstoneHorizon);
}

function countDropped(entry: RecordEntry, s: BatchFilter): void {
  s.dropped++;
  if (entry.view.valueLength < 0 && s.map.latest.get(keyOf(entry) as string) === entry.offset)
    s.tombstonesDropped++;
}

function filterRecord(entry: RecordEntry, s: BatchFilter): void {
  if (!keeps(entry, s.map, s.horizon)) return countDropped(entry, s);
  s.ranges.push(entry.view.start, entry.view.end);
  s.kept++;
}

/** Keeps a copy of each kept record: the inflated bytes it lies in are not the walk's to keep. */
function filterInflatedRecord(entry: RecordEntry, s: BatchFilter): boolean {
  if (!inOrder(entry, s)) return false;
  if (!keeps(entry, s.map, s.horizon)) {
    countDropped(entry, s);
    return true;
  }
  const { start, end } = entry.view;
  const needed = s.plainBytes + end - start;
  if (needed > s.plain.length) {
    const grown = Buffer.allocUnsafe(Math.max(needed, s.plain.length * 2));
    s.plain.copy(grown, 0, 0, s.plainBytes);
    s.plain = grown;
  }
  s.plainBytes += entry.data.copy(s.plain, s.plainBytes, start, end);
  s.kept++;
  return true;
}

function resetFilter(buf: Buffer, off: number, s: BatchFilter): void {
  s.ranges.length = 0;
  s.plainBytes = 0;
  s.kept = 0;
  s.dropped = 0;
  beginBatch(buf, off, s);
}

/**
 * The batch at off with only the records `keeps` allows, or null when every record is kept; a
 * promise of it while a compressed batch inflates and is compressed again. Either way the header stays as it was
 * (base offset, last offset delta, timestamps, producer fields): record bytes carry their offset
 * and timestamp deltas from it, so kept records need no re-encoding.
 */
export function filterBatch(
  buf: Buffer,
  off: number,
  s: BatchFilter,
): Promise<Buffer | null> | Buffer | null {
  resetFilter(buf, off, s);
  if (isCompressed(buf, off)) return filterInflated(buf, off, s);
  const reason = forEachRecord(buf, off, filterRecord, s, off + batchSize(buf, off));
  if (reason !== null) corrupt(s.seg, reason);
  if (s.dropped === 0) return null;
  let length = BATCH_HEADER_SIZE;
  for (let i = 0; i < s.ranges.length; i += 2)
    length += (s.ranges[i + 1] as number) - (s.ranges[i] as number);
  const out = Buffer.allocUnsafe(length);
  let pos = BATCH_HEADER_SIZE;
  for (let i = 0; i < s.ranges.length; i += 2) pos += buf.copy(out, pos, s.ranges[i], s.ranges[i + 1]);
  return withHeader(buf, off, out, s.kept);
}

async function filterInflated(buf: Buffer, off: number, s: BatchFilter): Promise<Buffer | null> {
  endWalk(s, await forEachInflatedRecord(buf, off, s.maxInflatedBytes, filterInflatedRecord, s));
  if (s.dropped === 0) return null;
  // Nothing left to compress: an empty batch, with the compression bits cleared.
  if (s.kept === 0) return withHeader(buf, off, Buffer.allocUnsafe(BATCH_HEADER_SIZE), 0);
  const compressed = await recompress(buf, off, s.plain.subarray(0, s.plainBytes));
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + compressed.length);
  compressed.copy(out, BATCH_HEADER_SIZE);
  return withHeader(buf, off, out, s.kept);
}

/** Fills in out's header from the batch at off, for `count` records already in place. */
function withHeader(buf: Buffer, off: number, out: Buffer, count: number): Buffer {
  buf.copy(out, 0, off, off + BATCH_HEADER_SIZE);
  if (count === 0) out.writeInt16BE(batchAttributes(out, 0) & ~COMPRESSION_MASK, ATTRIBUTES_OFFSET);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(count, RECORDS_COUNT_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0), CRC_OFFSET);
  return out;
}
