// One log segment: `<base>.log` (record batches, append only), `<base>.index` and `<base>.timeindex`,
// where <base> is the segment's base offset padded to 20 digits so that names sort by offset.
//
// The segment tracks what an append needs without touching the disk: its size, the next offset,
// the largest timestamp and the bytes since the last index entry. Index entries are added every
// index.interval.bytes (see offset-index.ts and time-index.ts). Loading a segment after a clean
// stop trusts its indexes and reads only the tail past the last offset-index entry; recovery after
// an unclean stop re-reads the whole segment, checks every batch (length, magic, CRC, offsets) and
// truncates at the first bad one; recover(false) finds the same batch but cuts nothing (a segment
// that was trusted, where a bad batch is damage to repair, not a torn write: log-loader.ts).
// check() reads the whole segment with every CRC and changes nothing (a replicated log's start-up
// verification, partition-log.ts).
//
// Base offsets lie outside the batch CRC, so a flipped bit there is seen only by the order of
// offsets (OffsetOrder below): a batch whose offsets run into the next one's means one of the two
// is wrong. A raised base offset leaves a gap before its batch, a lowered one does not, so the
// earlier batch is blamed unless it followed its predecessor exactly; either way the cut is at or
// before the damaged batch (in a compacted log, whose gaps are normal, it may be one batch early).
//
// Compaction builds a segment under a suffix (`.cleaned`, then `.swap`) and renames it live.
//
// The `.log` descriptor comes from the data directory's FdCache (fd-cache.ts): a new segment is
// created pinned (it takes appends), onRoll() hands it to the cache's LRU order, and a segment
// opened from disk starts unpinned, so loading thousands of segments holds few descriptors. Every
// use of the descriptor is bracketed by acquire/release, so the cache never closes it mid-use.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  BATCH_HEADER_SIZE,
  batchBaseOffset,
  batchLastOffset,
  batchMaxTimestamp,
  batchSize,
  invalidBatchHeader,
} from '../proto/batch-header.js';
import { WeirError } from '../proto/errors.js';
import { forEachRecord, type RecordEntry } from '../proto/record-batch.js';
import { SCAN_CHUNK_BYTES, readAt, scanBatches, type ScanOutcome } from './batch-scan.js';
import { FdCache, type CachedFile } from './fd-cache.js';
import type { StorageFs } from './fs.js';
import { OFFSET_INDEX_SUFFIX, OffsetIndex } from './offset-index.js';
import { TIME_INDEX_SUFFIX, TimeIndex } from './time-index.js';

export const LOG_SUFFIX = '.log';
/** A lookup from an index entry reads the interval plus this much in its first read. */
const LOOKUP_SLACK_BYTES = 64 * 1024;

interface TimestampSearch {
  target: number;
  found: number | null;
  foundTimestamp: number;
}

function findTimestamp(entry: RecordEntry, search: TimestampSearch): boolean {
  if (entry.timestamp < search.target) return true;
  search.found = entry.offset;
  search.foundTimestamp = entry.timestamp;
  return false;
}
export const INT32_MAX = 0x7fff_ffff;

export interface SegmentConfig {
  readonly indexIntervalBytes: number;
  readonly segmentIndexBytes: number;
}

export type SegmentRecovery =
  | { readonly kind: 'ok'; readonly bytes: number }
  | {
      readonly kind: 'corrupt';
      readonly reason: string;
      readonly validBytes: number;
      readonly truncatedBytes: number;
    };

/** A bad batch found while serving a read: where it lies, for the log to go offline with. */
export class SegmentCorruption extends Error {
  constructor(
    readonly segment: number,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`segment ${segment} at byte ${position}: ${reason}`);
    this.name = 'SegmentCorruption';
  }
}

/**
 * The offset rules of batches walked in file order: each starts past the last one's end and not
 * below the segment's base. visit() says why a batch breaks them and which batch to cut at (see
 * the file comment for which of two overlapping batches is blamed), or null.
 */
class OffsetOrder {
  private prevLast = -1;
  private prevPos = -1;
  /** The previous batch started exactly after its predecessor (known only walking from byte 0). */
  private prevFollowed = false;
  /** Walking from byte 0: the first batch must follow the segment's base. */
  private readonly known: boolean;

  constructor(
    private readonly segmentBase: number,
    fromStart: boolean,
  ) {
    this.known = fromStart;
    if (fromStart) this.prevLast = segmentBase - 1;
  }

  /** The reason the batch at `position` breaks the order, with the position to cut at; or null. */
  visit(base: number, last: number, position: number): { reason: string; position: number } | null {
    const overlaps = (this.known || this.prevPos >= 0) && base <= this.prevLast;
    if (overlaps || base < this.segmentBase || last - this.segmentBase > INT32_MAX) {
      const reason = `batch offsets ${base}..${last} out of order (previous ${this.prevLast}, segment base ${this.segmentBase})`;
      const blamePrevious = overlaps && this.prevPos >= 0 && !this.prevFollowed;
      return { reason, position: blamePrevious ? this.prevPos : position };
    }
    this.prevFollowed = (this.known || this.prevPos >= 0) && base === this.prevLast + 1;
    this.prevLast = last;
    this.prevPos = position;
    return null;
  }
}

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

/** The base offset of a segment file name such as `00000000000000000042.log`, or null. */
export function parseSegmentFileName(name: string): { baseOffset: number; suffix: string } | null {
  const m = /^(\d{20})(\..+)$/.exec(name);
  if (m === null) return null;
  const baseOffset = Number(m[1]);
  return Number.isSafeInteger(baseOffset) ? { baseOffset, suffix: m[2] as string } : null;
}

/** Scratch the read path reuses to hand back a result without allocating a wrapper each time. */
export interface SegmentRead {
  buf: Buffer;
  /** Offset of the first batch returned. */
  firstOffset: number;
  /** Last offset of the last batch returned. */
  lastOffset: number;
}

export class LogSegment {
  readonly baseOffset: number;
  readonly dir: string;
  private readonly fs: StorageFs;
  private readonly config: SegmentConfig;
  private readonly fds: FdCache;
  /** The `.log` file's descriptor, through the cache. */
  private readonly logFile: CachedFile;
  private fileSuffix: string;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;

  /** Bytes in the log file. */
  size = 0;
  /** One past the last offset in the segment; the base offset when empty. */
  nextOffset: number;
  /** Largest record timestamp in the segment, -1 when empty. */
  maxTimestamp = -1;
  /** Base offset of the batch that holds maxTimestamp. */
  private offsetOfMaxTimestamp: number;
  /** maxTimestamp of the first batch: segment.ms is measured from it. */
  firstBatchTimestamp = -1;
  /**
   * Set when a failed append left bytes past `size` that could not be cut off: the segment must
   * take no more appends (its log goes offline until recovery cuts them at the next start).
   */
  tornTail = false;
  private bytesSinceLastIndexEntry = 0;
  private closed = false;

  private constructor(
    fs: StorageFs,
    dir: string,
    baseOffset: number,
    config: SegmentConfig,
    suffix: string,
    exists: boolean,
    fds: FdCache | undefined,
  ) {
    assert.ok(Number.isSafeInteger(baseOffset) && baseOffset >= 0);
    this.fs = fs;
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.config = config;
    this.fileSuffix = suffix;
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    const indexPath = this.path(OFFSET_INDEX_SUFFIX);
    const timePath = this.path(TIME_INDEX_SUFFIX);
    this.offsetIndex = new OffsetIndex(
      fs,
      indexPath,
      config.segmentIndexBytes,
      exists && fs.existsSync(indexPath),
    );
    this.timeIndex = new TimeIndex(fs, timePath, config.segmentIndexBytes, exists && fs.existsSync(timePath));
    // Without a shared cache (a segment used on its own) nothing is ever evicted.
    this.fds = fds ?? new FdCache(fs, Number.POSITIVE_INFINITY);
    const logPath = this.path(LOG_SUFFIX);
    this.logFile = exists ? this.fds.file(logPath) : this.fds.openPinned(logPath, 'wx+');
    const fd = this.fds.acquire(this.logFile);
    try {
      this.size = fs.fstatSizeSync(fd);
    } finally {
      this.fds.release(this.logFile);
    }
    if (!exists) this.createIndexFiles();
  }

  /**
   * A new segment's index files are created empty with its log (after it, so a log that already
   * exists is never stripped of its indexes), so the directory always shows all three files;
   * their entries follow lazily (index-file.ts). A failure removes what was created.
   */
  private createIndexFiles(): void {
    try {
      this.offsetIndex.file.reset();
      this.timeIndex.file.reset();
    } catch (err) {
      try {
        this.delete();
      } catch {
        // The creation failure is the one to report.
      }
      throw err;
    }
  }

  /** A new, empty segment. `suffix` is appended to every file name ('' for a live segment). */
  static create(
    fs: StorageFs,
    dir: string,
    baseOffset: number,
    config: SegmentConfig,
    suffix = '',
    fds?: FdCache,
  ): LogSegment {
    return new LogSegment(fs, dir, baseOffset, config, suffix, false, fds);
  }

  /** Opens an existing segment; call loadClean() or recover() before use. */
  static open(
    fs: StorageFs,
    dir: string,
    baseOffset: number,
    config: SegmentConfig,
    suffix = '',
    fds?: FdCache,
  ): LogSegment {
    return new LogSegment(fs, dir, baseOffset, config, suffix, true, fds);
  }

  path(kind: string): string {
    return join(this.dir, segmentFileName(this.baseOffset, kind + this.fileSuffix));
  }

  get suffix(): string {
    return this.fileSuffix;
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** The `.log` file's size on disk (past `size` when recover(false) left a bad tail in place). */
  fileSize(): number {
    const fd = this.fds.acquire(this.logFile);
    try {
      return this.fs.fstatSizeSync(fd);
    } finally {
      this.fds.release(this.logFile);
    }
  }

  /** Cuts the `.log` file at byte `position` and loads what is left afresh (a repair's cut). */
  cutAt(position: number): SegmentRecovery {
    assert.ok(position >= 0 && position <= this.fileSize(), `cut at ${position} outside the segment`);
    this.truncateFile(position);
    this.size = position;
    return this.recover();
  }

  /** Largest timestamp, for retention; -1 when empty. */
  get largestTimestamp(): number {
    return this.maxTimestamp;
  }

  /**
   * After a clean stop: trusts the indexes if they agree with the log, and reads only the tail past
   * the last offset-index entry. Returns why the segment needs recover() instead, or null.
   */
  loadClean(): string | null {
    const bad = this.offsetIndex.invalid(this.size);
    if (bad !== null) return bad;
    const last = this.offsetIndex.entries - 1;
    const from = last < 0 ? 0 : this.offsetIndex.positionAt(last);
    if (from > 0) {
      const first = this.readFirstHeader();
      if (typeof first === 'string') return first;
    }
    const outcome = this.walk(from, false, true);
    if (outcome.kind === 'corrupt') return outcome.reason;
    const timeBad = this.timeIndex.invalid(this.nextOffset - this.baseOffset);
    if (timeBad !== null) return timeBad;
    // Rolling and closing always leave an entry with the segment's largest timestamp; without
    // one, that timestamp is unknown and retention or a time lookup could act on a wrong one.
    if (!this.isEmpty && this.timeIndex.entries === 0) return 'time index missing or empty';
    this.mergeTimeIndexMax();
    return null;
  }

  /**
   * Re-reads the whole log, checking every batch's length, magic, CRC and offsets, rebuilds both
   * indexes, and truncates the log at the first torn or corrupt batch. With `cut` false the file is
   * left whole: the segment holds only the batches before the bad one, and the rest stays on disk.
   */
  recover(cut = true): SegmentRecovery {
    this.offsetIndex.file.reset();
    this.timeIndex.file.reset();
    this.resetCounters();
    // walk() moves this.size to the end of the last good batch, so the file's size is read first.
    const fileBytes = this.size;
    const outcome = this.walk(0, true, false);
    if (outcome.kind === 'ok') return { kind: 'ok', bytes: this.size };
    if (outcome.position < this.size) {
      // The batch blamed was the one before the one that showed it (OffsetOrder), and the walk
      // had counted it: count again, up to it.
      this.offsetIndex.file.reset();
      this.timeIndex.file.reset();
      this.resetCounters();
      this.size = outcome.position;
      const again = this.walk(0, true, false);
      assert.equal(again.kind, 'ok', 'the batches before a bad one walk cleanly');
    }
    const truncatedBytes = fileBytes - outcome.position;
    if (cut) this.truncateFile(outcome.position);
    this.size = outcome.position;
    return { kind: 'corrupt', reason: outcome.reason, validBytes: outcome.position, truncatedBytes };
  }

  /**
   * Reads the whole log as recovery does (length, magic, CRC, offsets) without changing anything:
   * the first bad batch (its position and first offset as the segment knows them), or null.
   */
  check(): { position: number; offset: number; reason: string } | null {
    const order = new OffsetOrder(this.baseOffset, true);
    // The log's end before the previous batch and before the current one: where a cut at either
    // leaves it.
    let endBeforePrevious = this.baseOffset;
    let end = this.baseOffset;
    let previousPosition = -1;
    let bad: { reason: string; position: number } | null = null;
    const fd = this.fds.acquire(this.logFile);
    let outcome: ScanOutcome;
    try {
      outcome = scanBatches(this.fs, fd, 0, this.size, true, (buf, off, position) => {
        bad = order.visit(batchBaseOffset(buf, off), batchLastOffset(buf, off), position);
        if (bad !== null) return false;
        endBeforePrevious = end;
        end = batchLastOffset(buf, off) + 1;
        previousPosition = position;
        return true;
      });
    } finally {
      this.fds.release(this.logFile);
    }
    const found: { reason: string; position: number } | null =
      bad ?? (outcome.kind === 'corrupt' ? outcome : null);
    if (found === null) return null;
    const offset = found.position === previousPosition ? endBeforePrevious : end;
    return { position: found.position, offset, reason: found.reason };
  }

  /** Whether a batch ending at `lastOffset` still fits this segment's relative offsets and indexes. */
  canHold(lastOffset: number, batchBytes: number, segmentBytes: number): boolean {
    if (this.isEmpty) return true;
    return (
      this.size + batchBytes <= segmentBytes &&
      lastOffset - this.baseOffset <= INT32_MAX &&
      !this.offsetIndex.isFull &&
      !this.timeIndex.isFull
    );
  }

  /**
   * Appends one batch that the caller has validated and stamped. `buf[off, off + len)` is exactly
   * the batch. Writes go to the page cache; flush() makes them durable.
   */
  append(buf: Buffer, off: number, len: number): void {
    assert.ok(!this.closed, 'append to a closed segment');
    assert.ok(this.logFile.pinned, 'append to a segment that is not active');
    const baseOffset = batchBaseOffset(buf, off);
    const lastOffset = batchLastOffset(buf, off);
    assert.ok(baseOffset >= this.nextOffset, 'offsets must increase within a segment');
    assert.ok(lastOffset - this.baseOffset <= INT32_MAX, 'relative offset overflow');
    assert.equal(batchSize(buf, off), len);
    const position = this.size;
    let written = 0;
    try {
      // Positional writes: the file position is not moved by ftruncate, the size we track is.
      while (written < len)
        written += this.fs.writeSync(this.logFile.fd, buf, off + written, len - written, position + written);
    } catch (err) {
      // A write cut short (a full disk) leaves part of the batch past `size`. Left there, a roll
      // would seal it into a closed segment, where recovery would take it for a torn batch and
      // remove every later segment: cut it off now, or say the tail could not be cut.
      if (written > 0) {
        try {
          this.fs.ftruncateSync(this.logFile.fd, position);
        } catch {
          this.tornTail = true;
        }
      }
      throw err;
    }
    this.track(baseOffset, lastOffset, batchMaxTimestamp(buf, off), position, len);
  }

  /**
   * Reads whole batches starting with the one that holds `startOffset`, up to `maxBytes` (but at
   * least one batch when `minOneBatch`), and none whose last offset reaches `maxOffset`.
   * Returns false when no batch qualifies.
   */
  read(
    startOffset: number,
    maxBytes: number,
    maxOffset: number,
    minOneBatch: boolean,
    out: SegmentRead,
  ): boolean {
    if (startOffset >= this.nextOffset || startOffset >= maxOffset) return false;
    const fd = this.fds.acquire(this.logFile);
    try {
      return this.readWith(fd, startOffset, maxBytes, maxOffset, minOneBatch, out);
    } finally {
      this.fds.release(this.logFile);
    }
  }

  private readWith(
    fd: number,
    startOffset: number,
    maxBytes: number,
    maxOffset: number,
    minOneBatch: boolean,
    out: SegmentRead,
  ): boolean {
    const from = this.offsetIndex.lookup(Math.max(0, startOffset - this.baseOffset));
    // One read covers the distance from the index entry (at most an interval and a batch) and the
    // requested bytes in the usual case; a second read handles batches larger than that window.
    const window = Math.min(this.size - from, maxBytes + this.config.indexIntervalBytes + 65536);
    let chunk = readAt(this.fs, fd, from, window);
    let chunkPos = from;
    let pos = from;
    let startPos = -1;
    let firstOffset = 0;
    let lastOffset = 0;
    let end = -1;
    while (pos < this.size) {
      let off = pos - chunkPos;
      const available = chunk.length - off;
      if (available < BATCH_HEADER_SIZE || available < batchSize(chunk, off)) {
        chunk = readAt(
          this.fs,
          fd,
          pos,
          Math.min(this.size - pos, Math.max(maxBytes, 65536) + BATCH_HEADER_SIZE),
        );
        const size = chunk.length >= BATCH_HEADER_SIZE ? batchSize(chunk, 0) : 0;
        if (size > chunk.length && pos + size <= this.size) chunk = readAt(this.fs, fd, pos, size);
        chunkPos = pos;
        off = 0;
      }
      const reason = invalidBatchHeader(chunk, off, chunk.length);
      // A header that fails in a segment the log trusted is damage at rest: the log goes offline
      // over it (PartitionLog.read), not a failure a retry could get past.
      if (reason !== null) throw new SegmentCorruption(this.baseOffset, pos, reason);
      const size = batchSize(chunk, off);
      const batchLast = batchLastOffset(chunk, off);
      if (batchLast >= maxOffset) break;
      if (startPos < 0) {
        if (batchLast >= startOffset) {
          startPos = pos;
          firstOffset = batchBaseOffset(chunk, off);
        }
      }
      if (startPos >= 0) {
        const total = pos + size - startPos;
        if (total > maxBytes && !(minOneBatch && end < 0)) break;
        end = pos + size;
        lastOffset = batchLast;
        if (total >= maxBytes) break;
      }
      pos += size;
    }
    if (startPos < 0 || end < 0) return false;
    out.firstOffset = firstOffset;
    out.lastOffset = lastOffset;
    if (startPos >= chunkPos && end <= chunkPos + chunk.length) {
      out.buf = chunk.subarray(startPos - chunkPos, end - chunkPos);
    } else {
      out.buf = readAt(this.fs, fd, startPos, end - startPos);
    }
    return true;
  }

  /** The first record in this segment whose timestamp is >= `timestamp` (its offset and timestamp), or null. */
  recordAtOrAfter(timestamp: number): { offset: number; timestamp: number } | null {
    if (this.maxTimestamp < timestamp) return null;
    const rel = this.timeIndex.lookup(timestamp);
    const from = rel < 0 ? 0 : this.offsetIndex.lookup(rel);
    const search: TimestampSearch = { target: timestamp, found: null, foundTimestamp: -1 };
    this.forEachFrom(from, (buf, off) => {
      if (batchMaxTimestamp(buf, off) < timestamp) return true;
      const reason = forEachRecord(buf, off, findTimestamp, search, off + batchSize(buf, off));
      if (reason !== null) throw new WeirError('KAFKA_STORAGE_ERROR', `${this.path(LOG_SUFFIX)}: ${reason}`);
      return search.found === null;
    });
    return search.found === null ? null : { offset: search.found, timestamp: search.foundTimestamp };
  }

  /** Visits every batch in the segment (compaction, tests). */
  forEachBatch(visit: (buf: Buffer, off: number, position: number) => boolean): void {
    this.forEachFrom(0, visit, SCAN_CHUNK_BYTES);
  }

  /**
   * Removes every batch whose last offset is >= `offset` (a batch is removed whole, so the segment
   * may end below `offset`). Returns the bytes removed.
   */
  truncateTo(offset: number): number {
    if (offset >= this.nextOffset) return 0;
    const { position: cut, base: cutBase } = this.firstReaching(offset);
    if (cut < 0) return 0;
    const removed = this.size - cut;
    this.truncateFile(cut);
    this.size = cut;
    // Drop index entries at or past the cut, then recount the tail from the last entry kept.
    let keep = this.offsetIndex.entries;
    while (keep > 0 && this.offsetIndex.positionAt(keep - 1) >= cut) keep--;
    this.offsetIndex.file.truncateToEntries(keep);
    this.timeIndex.truncateFrom(cutBase - this.baseOffset);
    this.resetCounters();
    if (cut === 0) return removed;
    const lastIndexed = keep === 0 ? 0 : this.offsetIndex.positionAt(keep - 1);
    if (lastIndexed > 0) this.readFirstHeader();
    const outcome = this.walk(lastIndexed, false, true);
    assert.equal(outcome.kind, 'ok', 'a truncated segment must walk cleanly');
    this.mergeTimeIndexMax();
    return removed;
  }

  /**
   * The first batch whose last offset is >= `offset`: its position and base offset, and where the
   * batches before it end (position -1 when there is none). The end is known only `fromStart`
   * (otherwise the walk starts at an index entry, past batches it does not read).
   */
  firstReaching(offset: number, fromStart = false): { position: number; base: number; endBefore: number } {
    const found = { position: -1, base: 0, endBefore: this.baseOffset };
    const from = fromStart ? 0 : this.offsetIndex.lookup(Math.max(0, offset - this.baseOffset));
    this.forEachFrom(from, (buf, off, position) => {
      if (batchLastOffset(buf, off) < offset) {
        found.endBefore = batchLastOffset(buf, off) + 1;
        return true;
      }
      found.position = position;
      found.base = batchBaseOffset(buf, off);
      return false;
    });
    return found;
  }

  /**
   * Called when the segment stops being the active one: records its final largest timestamp and
   * hands its descriptor to the cache, which may close it once it is idle.
   */
  onRoll(): void {
    this.sealIndexes();
    this.fds.unpin(this.logFile);
  }

  /** Keeps the descriptor open until its fsync after a roll, within the cache's bound (fd-cache.ts). */
  holdDescriptorUntilSynced(): () => void {
    return this.fds.holdUntilSynced(this.logFile);
  }

  /** The segment takes appends again (it became the last after a truncation, or after loading). */
  activate(): void {
    assert.ok(!this.closed, 'activate a closed segment');
    this.fds.pin(this.logFile);
  }

  /** The final time-index entry (the largest timestamp) and every pending entry, written out. */
  private sealIndexes(): void {
    if (!this.isEmpty)
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset);
    this.offsetIndex.file.writeOut();
    this.timeIndex.file.writeOut();
  }

  /** Writes pending index entries and fsyncs the log and both indexes. */
  async flush(): Promise<void> {
    if (this.closed) return;
    await this.syncLog();
    if (this.closed) return;
    await this.offsetIndex.file.flush();
    await this.timeIndex.file.flush();
  }

  /** fsync of the log file only (the group-commit path of flush.messages=1). */
  async syncLog(): Promise<void> {
    if (this.closed) return;
    // Busy while the sync runs: neither close() nor the cache closes the fd under it, so its
    // number cannot be reused by another open mid-sync.
    const fd = this.fds.acquire(this.logFile);
    try {
      await this.fs.fdatasync(fd);
    } finally {
      this.fds.release(this.logFile);
    }
  }

  private closeFd(): void {
    this.closed = true;
    this.fds.close(this.logFile);
  }

  /** Gives the descriptor back without writing indexes (a log whose opening failed). */
  dropFd(): void {
    if (!this.closed) this.closeFd();
  }

  /** fsync of the log file, now (a truncation that must be durable before the caller goes on). */
  syncLogNow(): void {
    const fd = this.fds.acquire(this.logFile);
    try {
      this.fs.fsyncSync(fd);
    } finally {
      this.fds.release(this.logFile);
    }
  }

  private truncateFile(length: number): void {
    const fd = this.fds.acquire(this.logFile);
    try {
      this.fs.ftruncateSync(fd, length);
    } finally {
      this.fds.release(this.logFile);
    }
  }

  /** Changes the files' suffix (compaction: '.cleaned' -> '.swap' -> ''). */
  renameSuffix(suffix: string): void {
    const target = (kind: string): string => join(this.dir, segmentFileName(this.baseOffset, kind + suffix));
    this.offsetIndex.file.writeOut();
    this.timeIndex.file.writeOut();
    this.offsetIndex.file.rename(target(OFFSET_INDEX_SUFFIX));
    this.timeIndex.file.rename(target(TIME_INDEX_SUFFIX));
    this.fs.renameSync(this.path(LOG_SUFFIX), target(LOG_SUFFIX));
    this.fileSuffix = suffix;
    // An open descriptor follows the rename; a later open must find the new name.
    this.logFile.path = target(LOG_SUFFIX);
  }

  /** `sealIndexes` false: the segment is being deleted, so its indexes are not written out. */
  close(sealIndexes = true): void {
    if (this.closed) return;
    try {
      if (sealIndexes) this.sealIndexes();
    } finally {
      this.closeFd();
    }
  }

  /** Closes and removes the segment's files. */
  delete(): void {
    if (!this.closed) this.closeFd();
    const log = this.path(LOG_SUFFIX);
    if (this.fs.existsSync(log)) this.fs.unlinkSync(log);
    this.offsetIndex.file.delete();
    this.timeIndex.file.delete();
  }

  private resetCounters(): void {
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.firstBatchTimestamp = -1;
    this.bytesSinceLastIndexEntry = 0;
  }

  /** Updates the in-memory state for a batch at `position`, adding index entries where due. */
  private track(
    baseOffset: number,
    lastOffset: number,
    maxTimestamp: number,
    position: number,
    len: number,
  ): void {
    if (this.firstBatchTimestamp < 0 && position === 0) this.firstBatchTimestamp = maxTimestamp;
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = baseOffset;
    }
    if (this.bytesSinceLastIndexEntry > this.config.indexIntervalBytes && !this.offsetIndex.isFull) {
      this.offsetIndex.append(baseOffset - this.baseOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += len;
    this.nextOffset = lastOffset + 1;
    this.size = position + len;
  }

  /**
   * Walks from `from` to the end, checking offsets increase and, with `checkCrc`, each CRC. With
   * `indexesKept`, the indexes already cover everything up to the batch at `from`, so that batch is
   * only counted; otherwise index entries are rebuilt as append would add them.
   */
  private walk(from: number, checkCrc: boolean, indexesKept: boolean): ScanOutcome {
    const order = new OffsetOrder(this.baseOffset, from === 0);
    let atIndexEntry = indexesKept;
    let stop = null as ScanOutcome | null;
    const fd = this.fds.acquire(this.logFile);
    let outcome: ScanOutcome;
    try {
      outcome = scanBatches(this.fs, fd, from, this.size, checkCrc, (buf, off, position) => {
        const base = batchBaseOffset(buf, off);
        const last = batchLastOffset(buf, off);
        const bad = order.visit(base, last, position);
        if (bad !== null) {
          stop = { kind: 'corrupt', reason: bad.reason, position: bad.position };
          return false;
        }
        const len = batchSize(buf, off);
        const maxTimestamp = batchMaxTimestamp(buf, off);
        if (atIndexEntry) {
          atIndexEntry = false;
          if (position === 0) this.firstBatchTimestamp = maxTimestamp;
          if (maxTimestamp > this.maxTimestamp) {
            this.maxTimestamp = maxTimestamp;
            this.offsetOfMaxTimestamp = base;
          }
          this.bytesSinceLastIndexEntry = len;
          this.nextOffset = last + 1;
        } else {
          this.track(base, last, maxTimestamp, position, len);
        }
        return true;
      });
    } finally {
      this.fds.release(this.logFile);
    }
    return stop ?? outcome;
  }

  /** The time index's last entry holds the largest timestamp of batches before the tail walked. */
  private mergeTimeIndexMax(): void {
    const n = this.timeIndex.entries;
    if (n > 0 && this.timeIndex.lastTimestamp() > this.maxTimestamp) {
      this.maxTimestamp = this.timeIndex.lastTimestamp();
      this.offsetOfMaxTimestamp = this.baseOffset + this.timeIndex.relativeOffsetAt(n - 1);
    }
  }

  /** Visits batches from byte `from`; a walk from an index entry starts with a small read. */
  private forEachFrom(
    from: number,
    visit: (buf: Buffer, off: number, position: number) => boolean,
    firstChunkBytes = this.config.indexIntervalBytes + LOOKUP_SLACK_BYTES,
  ): void {
    const fd = this.fds.acquire(this.logFile);
    let outcome: ScanOutcome;
    try {
      outcome = scanBatches(this.fs, fd, from, this.size, false, visit, firstChunkBytes);
    } finally {
      this.fds.release(this.logFile);
    }
    if (outcome.kind === 'corrupt') {
      throw new WeirError('KAFKA_STORAGE_ERROR', `${this.path(LOG_SUFFIX)}: ${outcome.reason}`, {
        cause: new SegmentCorruption(this.baseOffset, outcome.position, outcome.reason),
      });
    }
  }

  /** Reads the first batch's header to learn the timestamp segment.ms is measured from. */
  private readFirstHeader(): string | null {
    const fd = this.fds.acquire(this.logFile);
    let head: Buffer;
    try {
      head = readAt(this.fs, fd, 0, Math.min(this.size, BATCH_HEADER_SIZE));
    } finally {
      this.fds.release(this.logFile);
    }
    if (head.length < BATCH_HEADER_SIZE) return 'log shorter than one batch header';
    this.firstBatchTimestamp = batchMaxTimestamp(head, 0);
    return null;
  }
}

/**
 * Index of the last of `segments` (sorted by base offset) whose base offset is <= offset (0 if
 * none): the segment a read of `offset` starts in, and the one recovery starts from.
 */
export function segmentIndexFor(segments: readonly LogSegment[], offset: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((segments[mid] as LogSegment).baseOffset <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
