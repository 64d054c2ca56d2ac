// The durability of one partition log: its two durability marks, group commit, the flush chain and
// timer, and the offline state a failed fsync leaves. Separate from the log itself (partition-log.ts)
// because none of it touches how records are laid out: it sees the log only through FlushedLog, the
// segments to sync and the offsets and epoch to check them against.
//
// Durability is tracked by two marks:
//   - flushedOffset: every offset below it has its log bytes fsynced. Appends acknowledged under
//     flush.messages=1 wait for it (group commit: one fdatasync covers all appends written while
//     the previous one ran).
//   - recoveryPoint: every segment below it has its log and both indexes fsynced. After an unclean
//     stop, recovery re-reads only from the segment holding the recovery point.
//
// A failed fsync is final for the log. The kernel may have dropped the dirty pages it could not
// write and marked them clean, so a retry can succeed without the data ever reaching the disk
// (PostgreSQL's "fsyncgate", 2018). The log goes offline: every append waiting for durability
// fails, and appends and reads fail with a non-retriable KAFKA_STORAGE_ERROR, until the broker
// restarts and recovers the log from what is on disk. A write that fails with EIO or EROFS does
// the same; one that fails for lack of space or descriptors fails only that append.

import { WeirError } from '../proto/errors.js';
import type { Clock, TimerHandle } from './clock.js';
import type { LogConfig } from './log-config.js';
import type { LogEvent } from './log-event.js';
import type { LogSegment } from './segment.js';
import { isFatalFlushError, toStorageError } from './storage-error.js';

/** What the flusher reads of the log it serves; read afresh each time, as the log changes under it. */
export interface FlushedLog {
  readonly dir: string;
  readonly logConfig: LogConfig;
  /** Sorted by base offset; the last one is active. */
  readonly segments: readonly LogSegment[];
  readonly activeSegment: LogSegment;
  readonly logEndOffset: number;
  /** Bumped by anything that removes data, so an in-flight flush does not advance marks past it. */
  readonly dataEpoch: number;
  readonly isClosed: boolean;
}

interface SyncWaiter {
  offset: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class LogFlusher {
  private readonly log: FlushedLog;
  private readonly clock: Clock;
  private readonly report: ((event: LogEvent) => void) | undefined;
  private recovery = 0;
  private flushed = 0;
  private unflushedMessages = 0;
  private flushTimer: TimerHandle | null = null;
  private syncWaiters: SyncWaiter[] = [];
  private syncRunning = false;
  private flushChain: Promise<void> = Promise.resolve();
  /** Set when the log goes offline (see the top of the file); never cleared while the process runs. */
  private failure: WeirError | null = null;

  constructor(log: FlushedLog, clock: Clock, report: ((event: LogEvent) => void) | undefined) {
    this.log = log;
    this.clock = clock;
    this.report = report;
  }

  get recoveryPoint(): number {
    return this.recovery;
  }
  get flushedOffset(): number {
    return this.flushed;
  }
  /** Why the log is offline, or null while it serves. */
  get failed(): WeirError | null {
    return this.failure;
  }

  /** Sets both marks: what the log holds below `offset` is known to be on disk. */
  resetMarks(offset: number): void {
    this.recovery = offset;
    this.flushed = offset;
  }

  /** Retention removed everything below `offset`: nothing there is left to flush. */
  raiseMarksTo(offset: number): void {
    this.recovery = Math.max(this.recovery, offset);
    this.flushed = Math.max(this.flushed, offset);
  }

  /** Truncation removed everything at or above `offset`. */
  lowerMarksTo(offset: number): void {
    this.recovery = Math.min(this.recovery, offset);
    this.flushed = Math.min(this.flushed, offset);
  }

  /** Resolves once every offset below `offset` is fsynced; starts a group-commit sync if needed. */
  waitFlushed(offset: number): Promise<void> {
    if (this.flushed >= offset) return Promise.resolve();
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ offset, resolve, reject });
      this.startSync();
    });
  }

  /** Counts `records` just appended and starts a sync, or the flush timer, as the policy says. */
  afterAppend(records: number): void {
    this.unflushedMessages += records;
    if (this.failure !== null) return;
    const cfg = this.log.logConfig;
    // A waiter past the log end (it was truncated under it) waits for appends like these.
    if (this.unflushedMessages >= cfg.flushMessages || this.syncWaiters.length > 0) {
      this.startSync();
    } else if (cfg.flushMs < Number.MAX_SAFE_INTEGER && this.flushTimer === null) {
      this.flushTimer = this.clock.schedule(cfg.flushMs, () => {
        this.flushTimer = null;
        if (!this.log.isClosed) this.startSync();
      });
    }
  }

  /**
   * fsyncs, log and indexes, every segment that starts below `upTo` (default: the log end when the
   * flush runs) and has data past the recovery point, and advances the recovery point to `upTo`.
   * Flushes run one after another.
   */
  flush(upTo?: number): Promise<void> {
    const run = this.flushChain.then(() => this.flushNow(upTo ?? this.log.logEndOffset));
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  /** The log is closing (its `isClosed` is already true): no timer, and no waiter left hanging. */
  close(): void {
    this.flushTimer?.cancel();
    this.flushTimer = null;
    const err = new WeirError('LOG_CLOSED', this.log.dir);
    for (const w of this.syncWaiters.splice(0)) w.reject(err);
  }

  /**
   * A failed system call as the error to throw: the log goes offline first when `fatal`. Reported
   * either way, so the broker can count storage errors and log them once per episode.
   */
  ioFailure(err: unknown, what: string, fatal: boolean): unknown {
    if (fatal) return this.goOffline(err, what);
    const mapped = toStorageError(err, `${what} in ${this.log.dir}`);
    if (mapped instanceof WeirError && mapped.code === 'KAFKA_STORAGE_ERROR')
      this.emit({ kind: 'io-error', dir: this.log.dir, error: mapped });
    return mapped;
  }

  /** Takes the log offline (see the top of the file): no retry of the fsync is ever believed. */
  goOffline(cause: unknown, what: string): WeirError {
    if (this.failure !== null) return this.failure;
    const code = (cause as NodeJS.ErrnoException | null)?.code ?? String(cause);
    this.failure = new WeirError(
      'KAFKA_STORAGE_ERROR',
      `${this.log.dir} is offline after a failed ${what} (${code}); restart the broker to recover it from disk`,
      { cause, retriable: false },
    );
    this.flushTimer?.cancel();
    this.flushTimer = null;
    for (const w of this.syncWaiters.splice(0)) w.reject(this.failure);
    this.emit({ kind: 'log-failed', dir: this.log.dir, error: this.failure });
    return this.failure;
  }

  private emit(event: LogEvent): void {
    this.report?.(event);
  }

  /** Group commit: fsync the log files up to the current end; waiters at or below it resolve. */
  private startSync(): void {
    if (this.syncRunning || this.log.isClosed || this.failure !== null) return;
    this.syncRunning = true;
    const target = this.log.logEndOffset;
    const epoch = this.log.dataEpoch;
    this.unflushedMessages = 0;
    const pending: LogSegment[] = [];
    const segments = this.log.segments;
    for (let i = segments.length - 1; i >= 0; i--) {
      const seg = segments[i] as LogSegment;
      if (seg.nextOffset <= this.flushed && !seg.isEmpty) break;
      pending.push(seg);
    }
    // Every sync is waited for, not only the first to fail: a failed fdatasync must never go unseen
    // behind another segment's lesser failure.
    void Promise.allSettled(pending.map((seg) => seg.syncLog())).then((outcomes) => {
      this.syncRunning = false;
      const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      const fatal = failures.find(isFatalFlushError);
      if (fatal !== undefined) {
        this.goOffline(fatal, 'fsync');
      } else if (failures.length > 0) {
        // Nothing was synced wrongly (a descriptor could not be opened): the waiters fail with a
        // retriable error, the marks stay, and the next sync tries again.
        const err = this.ioFailure(failures[0], 'fsync', false);
        for (const w of this.syncWaiters.splice(0)) w.reject(err);
      } else {
        if (epoch === this.log.dataEpoch) this.flushed = Math.max(this.flushed, target);
        else this.flushed = Math.min(Math.max(this.flushed, target), this.log.logEndOffset);
        this.settleWaiters();
      }
    });
  }

  private settleWaiters(): void {
    const keep: SyncWaiter[] = [];
    for (const w of this.syncWaiters) {
      if (w.offset <= this.flushed) w.resolve();
      else keep.push(w);
    }
    this.syncWaiters = keep;
    // A waiter past the log end (a truncation cut what it waits for) needs appends, not a sync: one
    // now would find nothing to do and settle at once, over and over, starving the event loop.
    const end = this.log.logEndOffset;
    const syncHelps = keep.some((w) => w.offset <= end);
    if (syncHelps || this.unflushedMessages >= this.log.logConfig.flushMessages) this.startSync();
  }

  private async flushNow(upTo: number): Promise<void> {
    if (this.log.isClosed) return;
    if (this.failure !== null) throw this.failure;
    const target = Math.min(upTo, this.log.logEndOffset);
    const epoch = this.log.dataEpoch;
    const pending = this.log.segments.filter(
      (s) => s.baseOffset < target && (s.nextOffset > this.recovery || s === this.log.activeSegment),
    );
    try {
      for (const seg of pending) await seg.flush();
    } catch (err) {
      if (isFatalFlushError(err)) throw this.goOffline(err, 'fsync');
      throw this.ioFailure(err, 'flush', false);
    }
    if (this.failure !== null) throw this.failure;
    if (epoch !== this.log.dataEpoch) return;
    this.recovery = Math.max(this.recovery, target);
    this.flushed = Math.max(this.flushed, target);
    if (target === this.log.logEndOffset) this.unflushedMessages = 0;
    this.settleWaiters();
  }
}
