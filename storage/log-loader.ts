// Opening a partition log: what is on disk becomes the segment list and the offsets the log starts
// with. Separate from the log itself (partition-log.ts) because it runs once, before the log serves,
// and shares none of the log's steady-state work.
//
// Opening first resolves leftovers of an interrupted compaction (see compaction.ts), then loads
// segments: after a clean stop by trusting their indexes, after an unclean one by scanning every
// segment from the recovery point on, truncating at the first bad batch and removing any later
// segments.
//
// Only that unclean tail is cut: past the recovery point a bad batch is what a crash leaves (a torn
// or unflushed write, never acknowledged as durable). Where the log trusted its files (every segment
// after a clean stop, those below the recovery point after an unclean one) the bytes were flushed
// and closed, so a bad batch there (an index that does not fit sends the segment to a full re-read,
// which finds it) is damage at rest: the log opens offline with a LogDamage, cuts nothing and
// removes no segment. Whoever holds the log decides: a replica with peers cuts at the damage and
// copies the rest back (PartitionLog.repair), a lone one stays offline with its data kept. One
// damaged log never stops the others from opening, nor the broker.

import assert from 'node:assert/strict';
import type { FdCache } from './fd-cache.js';
import type { StorageFs } from './fs.js';
import type { LogConfig } from './log-config.js';
import type { LogEvent } from './log-event.js';
import { LOG_SUFFIX, LogSegment, parseSegmentFileName, segmentIndexFor } from './segment.js';

/** A compacted segment past the point of no return: opening the log completes its swap. */
export const SWAP_SUFFIX = '.swap';
/** A compacted segment still being built: opening the log discards it. */
export const CLEANED_SUFFIX = '.cleaned';
/** The empty segment of a log being started afresh (PartitionLog.truncateFullyAndStartAt): opening the log completes the reset. */
export const RESET_SUFFIX = '.reset';

export interface OpenOptions {
  /** Offset recovery starts from after an unclean stop (from the recovery-point checkpoint). */
  readonly recoveryPoint: number;
  /** Checkpointed log start offset (may be above the first segment's base). */
  readonly logStartOffset: number;
  /** Whether the data directory was shut down cleanly. */
  readonly cleanShutdown: boolean;
}

/**
 * A bad batch in a segment the log trusted: the segment's base, the byte position of the batch and
 * the offset the log would end at if cut there (the end of the good batches before it).
 */
export interface LogDamage {
  readonly segment: number;
  readonly position: number;
  readonly offset: number;
  readonly reason: string;
}

/** The offsets a loaded log starts with; its flushed offset starts at the recovery point. */
export interface LoadedMarks {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly recoveryPoint: number;
  /** The first bad batch in a trusted segment, or null: the log opens offline over it. */
  readonly damage: LogDamage | null;
}

export class LogLoader {
  private readonly dir: string;
  private readonly config: LogConfig;
  private readonly fs: StorageFs;
  private readonly fds: FdCache;
  private readonly report: ((event: LogEvent) => void) | undefined;

  constructor(
    dir: string,
    config: LogConfig,
    fs: StorageFs,
    fds: FdCache,
    report: ((event: LogEvent) => void) | undefined,
  ) {
    this.dir = dir;
    this.config = config;
    this.fs = fs;
    this.fds = fds;
    this.report = report;
  }

  /**
   * Loads the log into `segmentList`, which must be empty and is the caller's: if loading throws,
   * it holds every segment opened so far, so the caller can give back their descriptors.
   */
  load(options: OpenOptions, segmentList: LogSegment[]): LoadedMarks {
    const { fs } = this;
    fs.mkdirSync(this.dir);
    const bases = this.resolveLeftovers();
    // Opened unpinned: loading touches each segment's descriptor through the cache, so a log with
    // thousands of segments never holds more than the cache's capacity while it loads.
    for (const base of bases)
      segmentList.push(LogSegment.open(fs, this.dir, base, this.config, '', this.fds));

    if (segmentList.length === 0) {
      const start = Math.max(0, options.logStartOffset);
      segmentList.push(LogSegment.create(fs, this.dir, start, this.config, '', this.fds));
      fs.fsyncDirSync(this.dir);
    }

    // After a clean stop every segment is trusted; otherwise from the one holding the recovery point.
    const recoverFrom = options.cleanShutdown
      ? segmentList.length
      : segmentIndexFor(segmentList, options.recoveryPoint);
    let damage: LogDamage | null = null;
    for (let i = 0; i < segmentList.length; i++) {
      const seg = segmentList[i] as LogSegment;
      // Once damaged, nothing more is cut: the log is offline until its holder decides.
      if (i < recoverFrom || damage !== null) {
        const bad = seg.loadClean();
        if (bad === null) continue;
        this.emit({ kind: 'index-rebuilt', dir: this.dir, segment: seg.baseOffset, reason: bad });
        const trusted = seg.recover(false);
        if (trusted.kind === 'ok') continue;
        damage ??= {
          segment: seg.baseOffset,
          position: trusted.validBytes,
          offset: seg.nextOffset,
          reason: trusted.reason,
        };
        continue;
      }
      const outcome = seg.recover();
      if (outcome.kind === 'ok') {
        this.emit({ kind: 'recovered', dir: this.dir, segment: seg.baseOffset, bytes: outcome.bytes });
        continue;
      }
      const { reason, validBytes, truncatedBytes } = outcome;
      this.emit({
        kind: 'truncated',
        dir: this.dir,
        segment: seg.baseOffset,
        reason,
        validBytes,
        truncatedBytes,
      });
      const later = segmentList.splice(i + 1);
      if (later.length > 0) {
        for (const s of later) s.delete();
        this.emit({
          kind: 'segments-removed',
          dir: this.dir,
          baseOffsets: later.map((s) => s.baseOffset),
          reason: 'after a corrupt batch',
        });
      }
      break;
    }
    if (damage === null) damage = this.cutOverlaps(segmentList, options.cleanShutdown);
    // The log reports its damage itself (PartitionLog), gaps and all.
    if (damage === null) this.reportGaps(segmentList);
    const active = segmentList[segmentList.length - 1];
    assert.ok(active !== undefined, 'a log always has an active segment');
    active.activate();
    const logEndOffset = active.isEmpty ? active.baseOffset : active.nextOffset;
    const first = segmentList[0] as LogSegment;
    let logStartOffset: number;
    if (options.logStartOffset > logEndOffset) {
      // A start past the end would hide every record on disk without a word; the checkpoint is the
      // one that is wrong (stale, or of another log), so the records stay readable.
      this.emit({
        kind: 'log-start-past-end',
        dir: this.dir,
        checkpointed: options.logStartOffset,
        logEndOffset,
      });
      logStartOffset = first.baseOffset;
    } else {
      logStartOffset = Math.max(options.logStartOffset, first.baseOffset);
    }
    // After an unclean stop, what recovery re-read may sit only in the page cache: the recovery
    // point stays where it was until a flush (the log manager flushes recovered logs at once).
    const recoveryPoint = options.cleanShutdown
      ? logEndOffset
      : Math.min(logEndOffset, Math.max(options.recoveryPoint, first.baseOffset));
    return { logStartOffset, logEndOffset, recoveryPoint, damage };
  }

  private emit(event: LogEvent): void {
    this.report?.(event);
  }

  /**
   * Cuts a segment whose records run into the next segment's offsets. A roll starts the next segment
   * at the log end, so the next one was created after the earlier one ended below its base: only a
   * truncation of the earlier segment that a power loss undid (it was never fsynced, while the next
   * segment's writes were) leaves such an overlap, and the earlier copy of those offsets is the one
   * the log had cut. Left there, the log would answer stale batches at offsets it holds twice.
   */
  private cutOverlaps(segmentList: readonly LogSegment[], trusted: boolean): LogDamage | null {
    for (let i = 1; i < segmentList.length; i++) {
      const prev = segmentList[i - 1] as LogSegment;
      const next = segmentList[i] as LogSegment;
      if (prev.nextOffset <= next.baseOffset) continue;
      if (trusted) {
        // After a clean stop no power loss undid anything: a batch running into the next segment
        // had its base offset (outside the CRC) changed at rest. It is damage, not a stale copy.
        const at = prev.firstReaching(next.baseOffset, true);
        return {
          segment: prev.baseOffset,
          position: at.position,
          offset: at.endBefore,
          reason: `batch offsets run into the next segment (base ${next.baseOffset})`,
        };
      }
      const end = prev.nextOffset;
      const truncatedBytes = prev.truncateTo(next.baseOffset);
      this.emit({
        kind: 'segment-overlap-cut',
        dir: this.dir,
        segment: prev.baseOffset,
        from: next.baseOffset,
        to: end,
        truncatedBytes,
      });
    }
    return null;
  }

  /**
   * Reports offsets that lie in no segment. Nothing the broker does leaves such a gap (a roll starts
   * the next segment at the log end, even before a batch that starts past it; retention removes the
   * oldest segments, and compaction keeps each rewritten run's last offset), so one means a segment file was lost or removed, or that a
   * power loss kept a later segment's writes but not the end of an earlier, unflushed one. The
   * records around it are kept: a missing file is no reason to delete others.
   */
  private reportGaps(segmentList: readonly LogSegment[]): void {
    const reason =
      'records are missing: a segment file was lost or removed, or a power loss took the unflushed end of a segment';
    for (let i = 1; i < segmentList.length; i++) {
      const prev = segmentList[i - 1] as LogSegment;
      const next = segmentList[i] as LogSegment;
      if (prev.nextOffset < next.baseOffset)
        this.emit({
          kind: 'segment-gap',
          dir: this.dir,
          from: prev.nextOffset,
          to: next.baseOffset,
          reason,
        });
    }
  }

  /**
   * A `.reset` segment is a log being started afresh past its point of no return: every other
   * segment file goes (compaction leftovers too, they belong to the old log), then the new empty
   * segment is renamed live.
   */
  private completeReset(): void {
    const { fs } = this;
    const names = fs.readdirSync(this.dir);
    const resets = names
      .map(parseSegmentFileName)
      .filter((p) => p !== null && p.suffix === LOG_SUFFIX + RESET_SUFFIX)
      .map((p) => (p as { baseOffset: number }).baseOffset);
    if (resets.length === 0) return;
    // One reset at a time: a second could only start once the first was complete.
    const base = Math.max(...resets);
    const removed = new Set<number>();
    for (const name of names) {
      const parsed = parseSegmentFileName(name);
      if (parsed === null) continue;
      if (parsed.baseOffset === base && parsed.suffix.endsWith(RESET_SUFFIX)) continue;
      fs.unlinkSync(`${this.dir}/${name}`);
      removed.add(parsed.baseOffset);
    }
    for (const name of names) {
      const parsed = parseSegmentFileName(name);
      if (parsed?.baseOffset !== base || !parsed.suffix.endsWith(RESET_SUFFIX)) continue;
      fs.renameSync(`${this.dir}/${name}`, `${this.dir}/${name.slice(0, -RESET_SUFFIX.length)}`);
    }
    fs.fsyncDirSync(this.dir);
    this.emit({
      kind: 'reset-completed',
      dir: this.dir,
      offset: base,
      baseOffsets: [...removed].sort((a, b) => a - b),
    });
  }

  /**
   * Deletes `.cleaned` files (an unfinished compaction) and stray indexes, completes every `.swap`
   * (a finished compaction interrupted before the rename), and returns the live segments' bases.
   */
  private resolveLeftovers(): number[] {
    const { fs } = this;
    this.completeReset();
    const names = fs.readdirSync(this.dir).sort();
    const remove = (file: string): void => {
      fs.unlinkSync(`${this.dir}/${file}`);
      this.emit({ kind: 'leftover-removed', dir: this.dir, file });
    };
    for (const name of names) {
      if (name.endsWith(CLEANED_SUFFIX) || name.endsWith('.deleted') || name.endsWith('.tmp')) remove(name);
    }
    const swaps = names
      .map(parseSegmentFileName)
      .filter(
        (p): p is { baseOffset: number; suffix: string } =>
          p !== null && p.suffix === LOG_SUFFIX + SWAP_SUFFIX,
      );
    for (const name of names) {
      if (name.endsWith(SWAP_SUFFIX) && !name.endsWith(LOG_SUFFIX + SWAP_SUFFIX)) remove(name);
    }
    const live = (): number[] =>
      fs
        .readdirSync(this.dir)
        .map(parseSegmentFileName)
        .filter((p): p is { baseOffset: number; suffix: string } => p !== null && p.suffix === LOG_SUFFIX)
        .map((p) => p.baseOffset)
        .sort((a, b) => a - b);
    for (const swap of swaps) {
      const seg = LogSegment.open(fs, this.dir, swap.baseOffset, this.config, SWAP_SUFFIX, this.fds);
      seg.recover();
      const end = seg.nextOffset;
      for (const base of live()) {
        if (base >= swap.baseOffset && base < end) {
          const old = LogSegment.open(fs, this.dir, base, this.config, '', this.fds);
          old.delete();
        }
      }
      seg.renameSuffix('');
      seg.close();
      fs.fsyncDirSync(this.dir);
      this.emit({ kind: 'swap-completed', dir: this.dir, segment: swap.baseOffset });
    }
    // Index files whose log is gone are stray.
    const bases = new Set(live());
    for (const name of fs.readdirSync(this.dir)) {
      const parsed = parseSegmentFileName(name);
      if (parsed !== null && parsed.suffix !== LOG_SUFFIX && !bases.has(parsed.baseOffset)) remove(name);
    }
    return [...bases].sort((a, b) => a - b);
  }
}
