// The log of one partition: an ordered list of segments, the last of which takes appends.
//
// Offsets: logStartOffset is the first offset a reader may ask for; logEndOffset (LEO) the offset
// the next append gets. Two more marks track durability (flushedOffset, recoveryPoint); they, group
// commit and the offline state a failed fsync leaves live in log-flusher.ts. Opening a log, with its
// recovery, lives in log-loader.ts.
//
// A log can also be offline over damage at rest (LogDamage: a bad batch where the log trusted its
// files), found by opening, by verify() or by a read. It then keeps every byte, answers every
// request with a KAFKA_STORAGE_ERROR that is not retriable (no retry can get past it, and a
// consumer must be told rather than retry without end), and its holder decides: repair() cuts at
// the damage (a replica whose peers hold the rest), or the log stays offline, data kept.

import assert from 'node:assert/strict';
import {
  batchBaseOffset,
  batchLastOffsetDelta,
  batchMaxTimestamp,
  batchSize,
  stampBaseOffset,
  stampLeaderEpoch,
} from '../proto/batch-header.js';
import { WeirError } from '../proto/errors.js';
import { validateAppend } from './append-validation.js';
import type { Clock } from './clock.js';
import { FdCache } from './fd-cache.js';
import type { StorageFs } from './fs.js';
import type { LogConfig } from './log-config.js';
import type { LogEvent } from './log-event.js';
import { LogFlusher } from './log-flusher.js';
import { LogLoader, RESET_SUFFIX, SWAP_SUFFIX, type LogDamage, type OpenOptions } from './log-loader.js';
import { INT32_MAX, LogSegment, SegmentCorruption, segmentIndexFor, type SegmentRead } from './segment.js';
import { isFatalWriteError } from './storage-error.js';

/** Closed-segment descriptors a log opened without a shared cache keeps open. */
export const DEFAULT_LOG_FD_CACHE_FILES = 128;

export interface LogDeps {
  readonly fs: StorageFs;
  readonly clock: Clock;
  /** Descriptors of closed segments, shared by the logs of a data directory (see fd-cache.ts). */
  readonly fds?: FdCache;
  /** Where recovery reports what it found; the broker passes a pino logger. */
  readonly log?: (event: LogEvent) => void;
}

export interface AppendOptions {
  /** Stamped into every batch's partitionLeaderEpoch; left as it is when undefined. */
  readonly leaderEpoch?: number;
  /** false for a follower: keep the batches' offsets (they must start at or past the LEO). */
  readonly assignOffsets?: boolean;
  /** The caller already checked every batch's CRC (the broker's produce path): check headers only. */
  readonly crcChecked?: boolean;
}

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly logAppendTime: number;
  readonly logEndOffset: number;
  readonly records: number;
}

export interface ReadOptions {
  /** Batches whose last offset reaches this are not returned (the high watermark for consumers). */
  readonly maxOffset?: number;
  /** Return the first batch even if it is larger than maxBytes (Kafka's fetch rule). Default true. */
  readonly minOneBatch?: boolean;
}

export interface ReadResult {
  /** Whole record batches, as stored; empty when there is nothing to read yet. */
  readonly records: Buffer;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

export class PartitionLog {
  readonly dir: string;
  private config: LogConfig;
  private readonly deps: LogDeps;
  private readonly fds: FdCache;
  /** Sorted by base offset; the last one is active. Never empty while open. */
  private segmentList: LogSegment[] = [];
  private startOffset = 0;
  private endOffset = 0;
  /** The durability marks, group commit and the offline state. */
  private readonly flusher: LogFlusher;
  /** Bumped by anything that removes data, so an in-flight flush does not advance marks past it. */
  private epoch = 0;
  private closed = false;
  /** Set when closing could not write the indexes out. */
  private sealFailure: unknown = null;
  private readonly readScratch: SegmentRead = { buf: Buffer.alloc(0), firstOffset: 0, lastOffset: 0 };
  /** Damage at rest the log is offline over (see the top of the file), and its error. */
  private damageNow: LogDamage | null = null;
  private damageError: WeirError | null = null;

  private constructor(dir: string, config: LogConfig, deps: LogDeps) {
    this.dir = dir;
    this.config = config;
    this.deps = deps;
    this.fds = deps.fds ?? new FdCache(deps.fs, DEFAULT_LOG_FD_CACHE_FILES);
    this.flusher = new LogFlusher(this, deps.clock, deps.log);
  }

  /** Opens (or creates) the log in `dir`, recovering it if needed. */
  static open(dir: string, config: LogConfig, deps: LogDeps, options: OpenOptions): PartitionLog {
    const log = new PartitionLog(dir, config, deps);
    try {
      const loader = new LogLoader(dir, config, deps.fs, log.fds, deps.log);
      const marks = loader.load(options, log.segmentList);
      log.startOffset = marks.logStartOffset;
      log.endOffset = marks.logEndOffset;
      log.flusher.resetMarks(marks.recoveryPoint);
      if (marks.damage !== null) log.setDamage(marks.damage);
    } catch (err) {
      // A log that failed to open (out of descriptors, a bad disk) must not keep any it took.
      for (const seg of log.segmentList) seg.dropFd();
      throw err;
    }
    return log;
  }

  get logStartOffset(): number {
    return this.startOffset;
  }
  get logEndOffset(): number {
    return this.endOffset;
  }
  get recoveryPoint(): number {
    return this.flusher.recoveryPoint;
  }
  get flushedOffset(): number {
    return this.flusher.flushedOffset;
  }
  get logConfig(): LogConfig {
    return this.config;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  /** Why the log is offline, or null while it serves. */
  get failed(): WeirError | null {
    return this.flusher.failed ?? this.damageError;
  }
  /** The damage at rest the log is offline over, or null. */
  get damage(): LogDamage | null {
    return this.damageNow;
  }
  /** Bytes in all segment files. */
  get size(): number {
    let total = 0;
    for (const s of this.segmentList) total += s.size;
    return total;
  }
  get segments(): readonly LogSegment[] {
    return this.segmentList;
  }
  /** The descriptor cache this log's segments use; compaction builds its segments in it too. */
  get fdCache(): FdCache {
    return this.fds;
  }
  get activeSegment(): LogSegment {
    const active = this.segmentList[this.segmentList.length - 1];
    assert.ok(active !== undefined, 'a log always has an active segment');
    return active;
  }
  /** Bumped whenever data is removed or segments are replaced. */
  get dataEpoch(): number {
    return this.epoch;
  }

  updateConfig(config: LogConfig): void {
    this.config = config;
  }

  /**
   * Appends one or more batches laid end to end in `batches`. Every batch is validated (length,
   * magic, CRC; see append-validation.ts) before anything is written, so a bad batch writes nothing.
   * Offsets are stamped in place into the caller's buffer. Bytes reach the page cache; see
   * appendDurable.
   */
  append(batches: Buffer, options: AppendOptions = {}): AppendResult {
    this.assertServing();
    const assign = options.assignOffsets ?? true;
    const records = validateAppend(
      batches,
      assign,
      options.crcChecked === true,
      this.endOffset,
      this.config.maxMessageBytes,
    );

    const baseOffset = assign ? this.endOffset : batchBaseOffset(batches, 0);
    const startEnd = this.endOffset;
    try {
      for (let off = 0; off < batches.length;) {
        const size = batchSize(batches, off);
        if (assign) stampBaseOffset(batches, off, this.endOffset);
        if (options.leaderEpoch !== undefined) stampLeaderEpoch(batches, off, options.leaderEpoch);
        const base = batchBaseOffset(batches, off);
        const last = base + batchLastOffsetDelta(batches, off);
        this.maybeRoll(base, last, size, batchMaxTimestamp(batches, off));
        this.activeSegment.append(batches, off, size);
        this.endOffset = last + 1;
        off += size;
      }
    } catch (err) {
      // Batches written before the failure stay (a segment's size only counts whole batches).
      if (this.endOffset > startEnd) this.flusher.afterAppend(0);
      throw this.flusher.ioFailure(err, 'append', isFatalWriteError(err) || this.activeSegment.tornTail);
    }
    this.flusher.afterAppend(records);
    return {
      baseOffset,
      lastOffset: this.endOffset - 1,
      logAppendTime: this.deps.clock.now(),
      logEndOffset: this.endOffset,
      records,
    };
  }

  /** append(), then waits for an fsync when the flush policy is every append (flush.messages=1). */
  async appendDurable(batches: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    const result = this.append(batches, options);
    if (this.config.flushMessages === 1) await this.waitFlushed(result.logEndOffset);
    return result;
  }

  /** Resolves once every offset below `offset` is fsynced; starts a group-commit sync if needed. */
  waitFlushed(offset: number): Promise<void> {
    return this.flusher.waitFlushed(offset);
  }

  /**
   * Reads whole batches from `offset` up to `maxBytes`. Throws OFFSET_OUT_OF_RANGE below the log
   * start or past the log end; at the log end returns no records.
   */
  read(offset: number, maxBytes: number, options: ReadOptions = {}): ReadResult {
    this.assertServing();
    if (!Number.isSafeInteger(offset) || offset < this.startOffset || offset > this.endOffset) {
      throw new WeirError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside [${this.startOffset}, ${this.endOffset}]`,
      );
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new WeirError('INVALID_REQUEST', `max bytes ${maxBytes}`);
    const maxOffset = options.maxOffset ?? this.endOffset;
    const minOne = options.minOneBatch ?? true;
    const out = this.readScratch;
    for (let i = segmentIndexFor(this.segmentList, offset); i < this.segmentList.length; i++) {
      const seg = this.segmentList[i] as LogSegment;
      if (seg.baseOffset >= maxOffset) break;
      let found: boolean;
      try {
        found = seg.read(offset, maxBytes, maxOffset, minOne, out);
      } catch (err) {
        if (err instanceof SegmentCorruption) throw this.damagedAt(seg, err);
        throw this.flusher.ioFailure(err, 'read', false);
      }
      if (found) {
        return {
          records: out.buf,
          firstOffset: out.firstOffset,
          lastOffset: out.lastOffset,
          logStartOffset: this.startOffset,
          logEndOffset: this.endOffset,
        };
      }
    }
    return {
      records: Buffer.alloc(0),
      firstOffset: offset,
      lastOffset: offset - 1,
      logStartOffset: this.startOffset,
      logEndOffset: this.endOffset,
    };
  }

  /**
   * Visits every batch of the newest `count` segments (a new leader's producer state). A bad batch
   * takes the log offline over its damage, which is thrown.
   */
  forEachNewestBatch(count: number, visit: (buf: Buffer, off: number) => boolean): void {
    this.assertServing();
    const list = this.segmentList;
    for (const seg of list.slice(Math.max(0, list.length - count))) {
      try {
        seg.forEachBatch(visit);
      } catch (err) {
        if (err instanceof WeirError && err.cause instanceof SegmentCorruption)
          throw this.damagedAt(seg, err.cause);
        throw err;
      }
    }
  }

  /** The first offset whose record timestamp is at or after `timestamp`, or null if there is none. */
  offsetForTimestamp(timestamp: number): number | null {
    return this.recordAtOrAfter(timestamp)?.offset ?? null;
  }

  /** The first record at or after `timestamp`: its offset and its own timestamp, or null. */
  recordAtOrAfter(timestamp: number): { offset: number; timestamp: number } | null {
    this.assertOpen();
    for (const seg of this.segmentList) {
      if (seg.largestTimestamp < timestamp) continue;
      let found: { offset: number; timestamp: number } | null;
      try {
        found = seg.recordAtOrAfter(timestamp);
      } catch (err) {
        if (err instanceof WeirError && err.cause instanceof SegmentCorruption)
          throw this.damagedAt(seg, err.cause);
        throw err;
      }
      if (found !== null)
        return found.offset >= this.startOffset
          ? found
          : { offset: this.startOffset, timestamp: found.timestamp };
    }
    return null;
  }

  /**
   * Removes every record at or above `offset` (whole batches: the log may end below `offset`).
   * Used by replication to drop a diverging suffix. Returns the new log end offset.
   *
   * The cut is durable when this returns (the removed segments' directory entries and the active
   * segment's new length fsynced): the caller then records the new leader's epoch beside the log,
   * durably, and a power loss that gave the old suffix back would leave that epoch over batches of
   * other epochs. Truncations are rare (a leader change that found a divergence), so the fsyncs
   * cost nothing that matters. A failed fsync takes the log offline, as a failed flush does.
   */
  truncateTo(offset: number): number {
    this.assertOpen();
    assert.ok(Number.isSafeInteger(offset) && offset >= 0);
    if (offset >= this.endOffset) return this.endOffset;
    this.epoch++;
    if (offset <= this.startOffset) {
      this.truncateFullyAndStartAt(offset);
      return this.endOffset;
    }
    // The segment that becomes active takes its descriptor first, so a failure changes nothing.
    let last = this.segmentList.length - 1;
    while (last > 0 && (this.segmentList[last] as LogSegment).baseOffset >= offset) last--;
    (this.segmentList[last] as LogSegment).activate();
    const removed: number[] = [];
    while (this.segmentList.length > 1 && this.activeSegment.baseOffset >= offset) {
      const seg = this.segmentList.pop() as LogSegment;
      removed.push(seg.baseOffset);
      seg.delete();
    }
    if (removed.length > 0)
      this.emit({
        kind: 'segments-removed',
        dir: this.dir,
        baseOffsets: removed,
        reason: `truncate to ${offset}`,
      });
    this.activeSegment.truncateTo(offset);
    this.endOffset = this.activeSegment.nextOffset;
    this.flusher.lowerMarksTo(this.endOffset);
    try {
      if (removed.length > 0) this.deps.fs.fsyncDirSync(this.dir);
      this.activeSegment.syncLogNow();
    } catch (err) {
      throw this.flusher.goOffline(err, 'truncation fsync');
    }
    return this.endOffset;
  }

  /**
   * Deletes every segment and starts an empty log at `offset` (Kafka's truncateFullyAndStartAt: a
   * follower whose log the leader can no longer continue). Crash-safe: the new empty segment is
   * first created under the `.reset` suffix and its directory entry fsynced, the point of no return;
   * then the old segments go and the new one is renamed live. Opening the log completes a reset
   * found half done (log-loader.ts), so a crash leaves either the old log or the empty one at
   * `offset`, never a log that starts below `offset` with records missing.
   */
  truncateFullyAndStartAt(offset: number): void {
    this.assertOpen();
    assert.ok(Number.isSafeInteger(offset) && offset >= 0, `truncateFullyAndStartAt(${offset})`);
    // Before the point of no return a failure leaves the old log as it was.
    const fresh = LogSegment.create(this.deps.fs, this.dir, offset, this.config, RESET_SUFFIX, this.fds);
    try {
      this.deps.fs.fsyncDirSync(this.dir);
    } catch (err) {
      fresh.delete();
      throw this.flusher.ioFailure(err, 'reset', false);
    }
    this.epoch++;
    try {
      for (const seg of this.segmentList) seg.delete();
      fresh.renameSuffix('');
      this.deps.fs.fsyncDirSync(this.dir);
    } catch (err) {
      // Past the point of no return: the files are right or completed at the next open, this
      // object is not. The log goes offline.
      this.segmentList = [fresh];
      this.closeNow(false);
      throw new WeirError('KAFKA_STORAGE_ERROR', `reset of ${this.dir} failed; reopen the log to finish it`, {
        cause: err,
      });
    }
    this.segmentList = [fresh];
    this.startOffset = offset;
    this.endOffset = offset;
    this.flusher.resetMarks(offset);
  }

  /**
   * Moves the log start up to `offset` (at most the log end), as Kafka's DeleteRecords does: reads
   * below it fail with OFFSET_OUT_OF_RANGE, and the segments wholly below it are deleted now (the
   * one holding `offset` stays, with its records below the start). The new start is the caller's to
   * checkpoint (the log manager's log-start-offset checkpoint); after a crash before that, the log
   * reopens with the start at its first segment, which still holds every record above it.
   */
  advanceLogStart(offset: number): void {
    this.assertOpen();
    assert.ok(
      Number.isSafeInteger(offset) && offset <= this.endOffset,
      `log start ${offset} past the log end ${this.endOffset}`,
    );
    if (offset <= this.startOffset) return;
    let count = 0;
    while (
      count < this.segmentList.length - 1 &&
      (this.segmentList[count + 1] as LogSegment).baseOffset <= offset
    )
      count++;
    if (count > 0) this.deleteOldestSegments(count);
    this.startOffset = offset;
  }

  /**
   * Deletes the oldest `count` segments (retention). If that is every segment, a new empty active
   * segment is rolled first, so the log keeps its end offset. Advances the log start offset.
   */
  deleteOldestSegments(count: number): number {
    this.assertOpen();
    if (count <= 0) return 0;
    if (count >= this.segmentList.length) {
      if (this.activeSegment.isEmpty) count = this.segmentList.length - 1;
      else this.roll();
    }
    if (count <= 0) return 0;
    this.epoch++;
    const doomed = this.segmentList.splice(0, count);
    for (const seg of doomed) seg.delete();
    this.startOffset = Math.max(this.startOffset, this.segmentList[0]?.baseOffset ?? this.endOffset);
    this.flusher.raiseMarksTo(this.startOffset);
    return doomed.length;
  }

  /**
   * Raises the log start offset to `offset` (Kafka's DeleteRecords): records below it are no longer
   * readable. Only the in-memory mark moves; the caller flushes the log through `offset` first (see
   * waitFlushed), checkpoints the new start, then calls deleteSegmentsBelowStart, so a crash in
   * between leaves segments the checkpoint hides rather than a start that went back. The durability
   * marks stay where they are: the records below `offset` are still in the segments, and only a
   * flush makes them durable. Returns the log start offset, which never goes down.
   */
  raiseLogStartOffset(offset: number): number {
    this.assertServing();
    assert.ok(Number.isSafeInteger(offset) && offset <= this.endOffset, `log start ${offset} past the end`);
    if (offset <= this.startOffset) return this.startOffset;
    this.epoch++;
    this.startOffset = offset;
    return offset;
  }

  /** Deletes the segments wholly below the log start offset (never the active one). */
  deleteSegmentsBelowStart(): number {
    let count = 0;
    while (
      count < this.segmentList.length - 1 &&
      (this.segmentList[count + 1] as LogSegment).baseOffset <= this.startOffset
    )
      count++;
    return this.deleteOldestSegments(count);
  }

  /**
   * Swaps `replacement` (a segment under the `.cleaned` suffix, already fsynced) in for the run of
   * segments it was built from, crash-safely: `.cleaned` -> `.swap` (the point of no return), old
   * files removed, `.swap` -> live. See resolveLeftovers in log-loader.ts for how a crash at each step recovers.
   */
  replaceSegments(replacement: LogSegment, replaced: readonly LogSegment[]): void {
    this.assertServing();
    const first = this.segmentList.indexOf(replaced[0] as LogSegment);
    assert.ok(first >= 0 && replaced.length > 0, 'replaced segments must be in the log');
    for (let i = 0; i < replaced.length; i++) assert.equal(this.segmentList[first + i], replaced[i]);
    assert.ok(first + replaced.length < this.segmentList.length, 'the active segment is never replaced');
    assert.equal(replacement.baseOffset, (replaced[0] as LogSegment).baseOffset);
    const nextAfter = (this.segmentList[first + replaced.length] as LogSegment).baseOffset;
    assert.ok(replacement.nextOffset <= nextAfter, 'replacement runs into the next segment');
    this.epoch++;
    replacement.renameSuffix(SWAP_SUFFIX);
    try {
      this.deps.fs.fsyncDirSync(this.dir);
      for (const seg of replaced) seg.delete();
      replacement.renameSuffix('');
      this.deps.fs.fsyncDirSync(this.dir);
    } catch (err) {
      // Past the point of no return the files on disk are right but this object is not: take the
      // log offline. Opening it again completes the swap (log-loader.ts).
      this.closeNow();
      throw new WeirError(
        'KAFKA_STORAGE_ERROR',
        `segment swap in ${this.dir} failed; reopen the log to finish it`,
        { cause: err },
      );
    }
    this.segmentList.splice(first, replaced.length, replacement);
  }

  /**
   * fsyncs, log and indexes, every segment that starts below `upTo` (default: all) and has data past
   * the recovery point, and advances the recovery point to `upTo`.
   */
  flush(upTo?: number): Promise<void> {
    return this.flusher.flush(upTo);
  }

  /** Flushes, writes every index, and closes the files. The log cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.flusher.failed === null) await this.flush();
    } finally {
      this.closeNow();
    }
    if (this.flusher.failed !== null) throw this.flusher.failed;
    if (this.sealFailure !== null) throw this.sealFailure;
  }

  /**
   * Closes without flushing (a simulated crash in tests; a dead disk). A log being deleted passes
   * `sealIndexes` false: writing its indexes would only cost space, and fail on a full disk.
   */
  closeNow(sealIndexes = true): void {
    if (this.closed) return;
    this.closed = true;
    // Waiters are rejected before the segments close under them.
    this.flusher.close();
    for (const seg of this.segmentList) {
      try {
        seg.close(sealIndexes);
      } catch (sealError) {
        // Indexes are rebuilt from the log when in doubt; close() reports the failure, so no
        // clean-shutdown marker vouches for them.
        this.sealFailure ??= this.flusher.ioFailure(sealError, 'index write on close', false);
      }
    }
  }

  /** Closes and removes the log's directory. */
  async delete(): Promise<void> {
    this.closeNow();
    for (const seg of this.segmentList) seg.delete();
    this.deps.fs.rmSync(this.dir);
  }

  private assertOpen(): void {
    if (this.closed) throw new WeirError('LOG_CLOSED', this.dir);
  }

  private assertServing(): void {
    this.assertOpen();
    const failed = this.failed;
    if (failed !== null) throw failed;
  }

  /**
   * Reads every segment with every batch's CRC and offsets checked, as recovery would, and changes
   * nothing: the first damage found (the log is then offline over it), or null. What opening
   * trusted after a clean stop is not read otherwise until served, so a replica checks here before
   * it may lead (see partition-replica.ts): 1.2 to 1.5 s per GiB on one core (README, Recovery).
   */
  verify(): LogDamage | null {
    this.assertOpen();
    if (this.damageNow !== null) return this.damageNow;
    for (const seg of this.segmentList) {
      const bad = seg.check();
      if (bad === null) continue;
      const damage = { segment: seg.baseOffset, ...bad };
      this.setDamage(damage);
      return damage;
    }
    return null;
  }

  /**
   * Cuts the log at its damage: the damaged segment at the bad batch, and every later segment
   * removed, durably. For a replica whose peers hold what is cut (it copies it back from its
   * leader); the log serves again. Returns the new log end offset.
   */
  repair(): number {
    this.assertOpen();
    const damage = this.damageNow;
    assert.ok(damage !== null, `${this.dir} has no damage to repair`);
    const i = this.segmentList.findIndex((s) => s.baseOffset === damage.segment);
    assert.ok(i >= 0, `damaged segment ${damage.segment} is not in the log`);
    this.epoch++;
    const seg = this.segmentList[i] as LogSegment;
    seg.activate();
    const removed: number[] = [];
    let truncatedBytes = seg.fileSize() - damage.position;
    while (this.segmentList.length - 1 > i) {
      const later = this.segmentList.pop() as LogSegment;
      removed.push(later.baseOffset);
      truncatedBytes += later.size;
      later.delete();
    }
    const outcome = seg.cutAt(damage.position);
    assert.equal(outcome.kind, 'ok', `the batches before the damage in ${this.dir} walk cleanly`);
    this.endOffset = seg.isEmpty ? seg.baseOffset : seg.nextOffset;
    this.startOffset = Math.min(this.startOffset, this.endOffset);
    this.flusher.lowerMarksTo(this.endOffset);
    try {
      if (removed.length > 0) this.deps.fs.fsyncDirSync(this.dir);
      seg.syncLogNow();
    } catch (err) {
      throw this.flusher.goOffline(err, 'repair fsync');
    }
    if (removed.length > 0)
      this.emit({ kind: 'segments-removed', dir: this.dir, baseOffsets: removed, reason: 'repair' });
    this.emit({
      kind: 'repaired',
      dir: this.dir,
      segment: damage.segment,
      offset: this.endOffset,
      truncatedBytes,
    });
    this.damageNow = null;
    this.damageError = null;
    return this.endOffset;
  }

  /** A read met a bad batch in `seg`: the log goes offline over the first damage in it. */
  private damagedAt(seg: LogSegment, found: SegmentCorruption): WeirError {
    if (this.damageNow === null) {
      // The whole segment is read again for the first bad batch, which may lie before this one.
      const bad = seg.check() ?? { position: found.position, offset: seg.baseOffset, reason: found.reason };
      this.setDamage({ segment: seg.baseOffset, ...bad });
    }
    return this.damageError as WeirError;
  }

  private setDamage(damage: LogDamage): void {
    this.damageNow = damage;
    this.damageError = new WeirError(
      'KAFKA_STORAGE_ERROR',
      `${this.dir} is offline: a corrupt batch at offset ${damage.offset} (segment ${damage.segment}, ` +
        `byte ${damage.position}: ${damage.reason}); every byte is kept`,
      { retriable: false },
    );
    let bytesAfter = 0;
    for (const s of this.segmentList) {
      if (s.baseOffset > damage.segment) bytesAfter += s.size;
      else if (s.baseOffset === damage.segment) bytesAfter += s.fileSize() - damage.position;
    }
    this.emit({ kind: 'damaged', dir: this.dir, ...damage, bytesAfter });
    this.emit({ kind: 'log-failed', dir: this.dir, error: this.damageError });
  }

  private emit(event: LogEvent): void {
    this.deps.log?.(event);
  }

  /**
   * A write beside the log (its leader-epoch checkpoint) failed with a storage error: reported like
   * the log's own, so the broker counts and logs it.
   */
  reportIoError(error: WeirError): void {
    this.emit({ kind: 'io-error', dir: this.dir, error });
  }

  private maybeRoll(baseOffset: number, lastOffset: number, size: number, maxTimestamp: number): void {
    const active = this.activeSegment;
    if (active.isEmpty) return;
    const timeDue =
      active.firstBatchTimestamp >= 0 && maxTimestamp - active.firstBatchTimestamp >= this.config.segmentMs;
    if (!timeDue && active.canHold(lastOffset, size, this.config.segmentBytes)) return;
    // The new segment starts at the log end even when the batch starts past it (a follower copying
    // a leader's gap): the gap then lies inside a segment, so a gap between segments only ever
    // means lost data (log-loader.ts reports it; a Raft log cuts there). Only a gap too wide for a
    // segment's relative offsets starts the segment at the batch.
    this.roll(lastOffset - this.endOffset <= INT32_MAX ? this.endOffset : baseOffset);
  }

  /** Starts a new active segment at `baseOffset` (default: the log end offset). */
  roll(baseOffset: number = this.endOffset): LogSegment {
    const old = this.activeSegment;
    assert.ok(baseOffset >= old.nextOffset, 'a new segment starts past the old one');
    // The new segment first: if it cannot be opened (out of descriptors), the old one stays active.
    const seg = LogSegment.create(this.deps.fs, this.dir, baseOffset, this.config, '', this.fds);
    // The descriptor the old segment's writes went through stays open until the flush below.
    const release = old.holdDescriptorUntilSynced();
    try {
      old.onRoll();
    } catch (err) {
      release();
      seg.delete();
      throw err;
    }
    this.segmentList.push(seg);
    // fdatasync of the new file does not make its directory entry durable; this does.
    try {
      this.deps.fs.fsyncDirSync(this.dir);
    } catch (err) {
      throw this.flusher.goOffline(err, 'directory fsync');
    }
    // The closed segment is fsynced in the background so the recovery point can move past it.
    this.flush(baseOffset)
      .catch((error: unknown) => this.emit({ kind: 'flush-failed', dir: this.dir, error }))
      .finally(release);
    return seg;
  }
}
