// The log manager owns a data directory: it opens every partition log in it at start-up, creates
// and deletes logs, and runs the background work (flushing and checkpointing, retention,
// compaction) on the injected clock.
//
// Files it keeps in the data directory:
//   .weir-clean-shutdown              written last by close(); removed (and the removal fsynced)
//                                     at start-up, so a later crash is seen as unclean
//   recovery-point-offset-checkpoint  per partition: recovery starts from here after a crash
//   log-start-offset-checkpoint       per partition: the first offset readers may ask for
//   <topic>-<partition>/              one directory per partition log
//     partition.metadata              the id of the topic the directory belongs to (see
//                                     partition-metadata.ts)
//   <topic>-<partition>.<id>-delete/  a log being deleted (renamed first, so a crash midway
//                                     never leaves half a log that looks live); removed in the
//                                     background, retried on failure, and at start-up
//   <topic>-<partition>.<id>-orphaned/  a log no topic can own (another topic id, or past the
//                                     topic's partition count): set aside and kept, never loaded

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WeirError } from '../proto/errors.js';
import {
  LOG_START_CHECKPOINT,
  RECOVERY_POINT_CHECKPOINT,
  checkpointKey,
  readCheckpoint,
  writeCheckpoint,
} from './checkpoint.js';
import type { Clock, TimerHandle } from './clock.js';
import { compactLog, dirtyRatio, type CompactionOutcome } from './compaction.js';
import { FdCache } from './fd-cache.js';
import type { StorageFs } from './fs.js';
import { DEFAULT_LOG_CONFIG, type LogConfig } from './log-config.js';
import type { LogEvent } from './log-event.js';
import { DELETE_DIR_SUFFIX, LogRemoval, ORPHANED_DIR_SUFFIX, type RemovalEvent } from './log-removal.js';
import { parsePartitionDirName, partitionDir, type TopicPartition } from './names.js';
import { readPartitionTopicId, writePartitionTopicId } from './partition-metadata.js';
import { PartitionLog } from './partition-log.js';
import { raiseLogStarts, type LogStartRaise, type RecordsDeletedEvent } from './log-start-raise.js';
import { applyRetention, type RetentionOutcome } from './retention.js';

export const CLEAN_SHUTDOWN_MARKER = '.weir-clean-shutdown';

export interface LogManagerConfig {
  readonly dataDir: string;
  /** How often every log is flushed (advancing its recovery point) and checkpoints are written. */
  readonly checkpointIntervalMs: number;
  /** How often retention runs (Kafka: log.retention.check.interval.ms). */
  readonly retentionCheckIntervalMs: number;
  /** How often compaction looks for a log to clean. */
  readonly cleanerBackoffMs: number;
  /**
   * Descriptors kept open for closed segments, across every log (see fd-cache.ts); active
   * segments hold one each on top of this. Default: DEFAULT_MAX_CACHED_FILES.
   */
  readonly maxCachedFiles?: number;
  /** Compaction refuses (as corrupt) a stored batch whose records inflate past this. */
  readonly maxInflatedBatchBytes?: number;
}

export const DEFAULT_MAX_CACHED_FILES = 1000;

export const DEFAULT_LOG_MANAGER_CONFIG: Omit<LogManagerConfig, 'dataDir'> = Object.freeze({
  checkpointIntervalMs: 60_000,
  retentionCheckIntervalMs: 300_000,
  cleanerBackoffMs: 15_000,
});

export interface LogManagerDeps {
  readonly fs: StorageFs;
  readonly clock: Clock;
  /** The config of each topic's logs; the broker keeps topic configs. Default: DEFAULT_LOG_CONFIG. */
  readonly configFor?: (topic: string) => LogConfig;
  readonly log?: (event: LogManagerEvent) => void;
}

/** `renamed`: the directory is renamed aside; `removed` resolves once its files are gone. */
export interface RemovalOutcome {
  readonly renamed: boolean;
  readonly removed: Promise<void>;
}

export type LogManagerEvent =
  | LogEvent
  | { kind: 'startup'; dataDir: string; cleanShutdown: boolean; logs: number }
  | RemovalEvent
  | { kind: 'ignored-dir'; dataDir: string; name: string }
  | { kind: 'orphaned-dir-kept'; dataDir: string; name: string }
  | { kind: 'log-set-aside'; dir: string; aside: string; reason: string }
  | { kind: 'partition-metadata-invalid'; dir: string; reason: string }
  | { kind: 'retention'; topic: string; partition: number; outcome: RetentionOutcome }
  | { kind: 'compaction'; topic: string; partition: number; outcome: CompactionOutcome }
  | RecordsDeletedEvent
  | { kind: 'background-error'; task: string; error: unknown };

export type { LogStartRaise } from './log-start-raise.js';

export class LogManager {
  readonly config: LogManagerConfig;
  private readonly deps: LogManagerDeps;
  /** topicId: from the log's partition.metadata; null for a directory without one. */
  private readonly logs = new Map<
    string,
    { tp: TopicPartition; log: PartitionLog; topicId: string | null }
  >();
  private readonly firstDirty = new Map<PartitionLog, number>();
  /** Logs whose delete waits for background work; a new log of the same name removes them at once. */
  private readonly deleting = new Map<PartitionLog, RemovalOutcome | null>();
  private readonly timers = new Map<string, TimerHandle>();
  /** Retention and compaction run one at a time, one log at a time. */
  private maintenance: Promise<unknown> = Promise.resolve();
  private closed = false;
  readonly cleanShutdown: boolean;
  private readonly removal: LogRemoval;
  /** Closed segments' descriptors, shared by every log here. */
  readonly fds: FdCache;

  private constructor(config: LogManagerConfig, deps: LogManagerDeps, cleanShutdown: boolean) {
    this.config = config;
    this.deps = deps;
    this.cleanShutdown = cleanShutdown;
    this.removal = new LogRemoval(deps.fs, deps.clock, config.dataDir, (e) => this.emit(e));
    this.fds = new FdCache(deps.fs, config.maxCachedFiles ?? DEFAULT_MAX_CACHED_FILES);
  }

  /** Opens every log under the data directory, recovering those that need it. */
  static open(config: LogManagerConfig, deps: LogManagerDeps): LogManager {
    const { fs } = deps;
    fs.mkdirSync(config.dataDir);
    const marker = join(config.dataDir, CLEAN_SHUTDOWN_MARKER);
    const clean = fs.existsSync(marker);
    const leftovers: string[] = [];
    for (const name of fs.readdirSync(config.dataDir)) {
      if (name.endsWith(DELETE_DIR_SUFFIX)) leftovers.push(join(config.dataDir, name));
      else if (name.endsWith('.tmp')) fs.unlinkSync(join(config.dataDir, name));
    }
    const recoveryPoints = readCheckpoint(fs, config.dataDir, RECOVERY_POINT_CHECKPOINT);
    const startOffsets = readCheckpoint(fs, config.dataDir, LOG_START_CHECKPOINT);
    // A bad checkpoint is not trusted: without it every log is recovered from its start.
    const trusted = clean && typeof recoveryPoints !== 'string' && typeof startOffsets !== 'string';
    const manager = new LogManager(config, deps, trusted);
    for (const aside of leftovers) manager.removal.removeAside(aside);
    if (clean) {
      fs.unlinkSync(marker);
      fs.fsyncDirSync(config.dataDir);
    }
    for (const name of fs.readdirSync(config.dataDir).sort()) {
      const tp = parsePartitionDirName(name);
      if (tp === null) {
        if (name.endsWith(ORPHANED_DIR_SUFFIX))
          manager.emit({ kind: 'orphaned-dir-kept', dataDir: config.dataDir, name });
        else if (
          name !== CLEAN_SHUTDOWN_MARKER &&
          !name.endsWith('checkpoint') &&
          !name.endsWith('.json') &&
          !name.endsWith(DELETE_DIR_SUFFIX)
        )
          manager.emit({ kind: 'ignored-dir', dataDir: config.dataDir, name });
        continue;
      }
      const key = checkpointKey(tp.topic, tp.partition);
      const log = PartitionLog.open(
        join(config.dataDir, name),
        manager.configFor(tp.topic),
        manager.logDeps(),
        {
          cleanShutdown: trusted,
          recoveryPoint: typeof recoveryPoints === 'string' ? 0 : (recoveryPoints.get(key) ?? 0),
          logStartOffset: typeof startOffsets === 'string' ? 0 : (startOffsets.get(key) ?? 0),
        },
      );
      manager.logs.set(key, { tp, log, topicId: manager.recordedTopicId(log.dir) });
    }
    manager.emit({
      kind: 'startup',
      dataDir: config.dataDir,
      cleanShutdown: trusted,
      logs: manager.logs.size,
    });
    return manager;
  }

  /**
   * Flushes every log (moving its recovery point to its end) and writes the checkpoints. A log
   * that is offline keeps its last good recovery point; the others are flushed all the same.
   */
  async flushAll(): Promise<void> {
    for (const { log } of this.logs.values()) {
      if (log.failed === null) await log.flush().catch(() => undefined);
    }
    this.checkpoint();
  }

  getLog(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(checkpointKey(topic, partition))?.log;
  }

  /** Every open log with its topic and partition. */
  allLogs(): { topic: string; partition: number; log: PartitionLog }[] {
    return [...this.logs.values()].map(({ tp, log }) => ({ topic: tp.topic, partition: tp.partition, log }));
  }

  /** The topic id recorded in the log's directory: null if it has none, undefined if no such log. */
  topicIdOf(topic: string, partition: number): string | null | undefined {
    return this.logs.get(checkpointKey(topic, partition))?.topicId;
  }

  /**
   * Opens the log of a new partition (an existing one is returned as it is). With `topicId`, the
   * log is that topic's: it is recorded in the directory, and a log or directory there of another
   * topic id (or of none) is set aside first, never reused.
   */
  createLog(
    topic: string,
    partition: number,
    config: LogConfig = this.configFor(topic),
    topicId?: string,
  ): PartitionLog {
    this.assertOpen();
    const key = checkpointKey(topic, partition);
    const existing = this.logs.get(key);
    if (existing !== undefined && this.deleting.has(existing.log)) {
      this.deleting.set(existing.log, this.removeLog(topic, partition));
    } else if (existing !== undefined) {
      if (topicId === undefined || existing.topicId === topicId) return existing.log;
      this.setAside(topic, partition, `it holds topic id ${existing.topicId ?? 'none'}, not ${topicId}`);
    }
    const dir = partitionDir(this.config.dataDir, topic, partition);
    const { fs } = this.deps;
    this.removal.clearPath(dir);
    if (topicId !== undefined && fs.existsSync(dir)) {
      const found = this.recordedTopicId(dir);
      if (found !== topicId)
        this.moveAside(dir, found, `it holds topic id ${found ?? 'none'}, not ${topicId}`);
    }
    const existed = fs.existsSync(dir);
    let log: PartitionLog;
    try {
      if (topicId !== undefined) {
        fs.mkdirSync(dir);
        writePartitionTopicId(fs, dir, topicId);
      }
      log = PartitionLog.open(dir, config, this.logDeps(), {
        cleanShutdown: true,
        recoveryPoint: 0,
        logStartOffset: 0,
      });
    } catch (err) {
      // A half-made directory would look like a log at the next start.
      if (!existed) fs.rmSync(dir);
      throw err;
    }
    this.logs.set(key, { tp: { topic, partition }, log, topicId: topicId ?? null });
    try {
      fs.fsyncDirSync(this.config.dataDir);
    } catch (err) {
      this.discardLog(topic, partition);
      throw err;
    }
    return log;
  }

  /** Records `topicId` in a log whose directory has none (one made before the file existed). */
  adoptLog(topic: string, partition: number, topicId: string): void {
    const entry = this.logs.get(checkpointKey(topic, partition));
    assert.ok(entry !== undefined && entry.topicId === null, 'only a log without a topic id is adopted');
    writePartitionTopicId(this.deps.fs, entry.log.dir, topicId);
    entry.topicId = topicId;
  }

  /**
   * Closes a log no topic can own and renames its directory to `<dir>.<topicId>-orphaned`, where
   * no start-up loads it: it is kept for an operator, never deleted.
   */
  setAside(topic: string, partition: number, reason: string): void {
    const entry = this.detach(topic, partition);
    this.moveAside(entry.log.dir, entry.topicId, reason);
  }

  /**
   * Closes and removes a log created moments ago that never held data, at once (a create request
   * being rolled back). No maintenance task can hold it yet, so there is nothing to wait for.
   */
  discardLog(topic: string, partition: number): void {
    if (!this.logs.has(checkpointKey(topic, partition))) return;
    this.deps.fs.rmSync(this.detach(topic, partition).log.dir);
  }

  /**
   * Takes a log out of the manager and closes it without writing its indexes: it is never loaded
   * again as it is, so they need not be written (nor space found for them on a full disk).
   */
  private detach(topic: string, partition: number): { log: PartitionLog; topicId: string | null } {
    const key = checkpointKey(topic, partition);
    const entry = this.logs.get(key);
    if (entry === undefined) throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition}`);
    this.logs.delete(key);
    this.firstDirty.delete(entry.log);
    entry.log.closeNow(false);
    return entry;
  }

  /**
   * Closes and removes a log. It resolves once the directory is renamed aside, from when no start-up
   * takes it for a live log; `removed` resolves once its files are gone (retried until they are).
   */
  async deleteLog(topic: string, partition: number): Promise<RemovalOutcome> {
    const [outcome] = await this.deleteLogs(topic, [partition]);
    if (outcome instanceof Error) throw outcome;
    return outcome as RemovalOutcome;
  }

  /**
   * deleteLog for several partitions of a topic, each outcome or error in order. Every log is marked
   * as being deleted before the first wait, so a new topic of the same name created meanwhile
   * finishes these deletes (see createLog) rather than having its own logs taken for them.
   */
  async deleteLogs(topic: string, partitions: readonly number[]): Promise<(RemovalOutcome | Error)[]> {
    const entries = partitions.map((partition) => {
      const entry = this.logs.get(checkpointKey(topic, partition));
      if (entry === undefined) throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition}`);
      return entry;
    });
    for (const entry of entries) this.deleting.set(entry.log, null);
    await this.maintenance.catch(() => undefined);
    return entries.map((entry) => {
      const { topic: t, partition } = entry.tp;
      // A new log of the same name may have removed this one meanwhile (see createLog).
      const done = this.deleting.get(entry.log) ?? null;
      this.deleting.delete(entry.log);
      if (done !== null) return done;
      if (this.logs.get(checkpointKey(t, partition)) !== entry)
        return new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `${t}-${partition} was removed meanwhile`);
      try {
        return this.removeLog(t, partition);
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    });
  }

  /** deleteLog without waiting for background work: for start-up, before that work begins. */
  removeLog(topic: string, partition: number): RemovalOutcome {
    const entry = this.detach(topic, partition);
    const id = entry.topicId ?? String(this.deps.clock.now());
    const outcome = this.removal.remove(entry.log.dir, `${entry.log.dir}.${id}${DELETE_DIR_SUFFIX}`);
    // The deleted log's checkpoint lines would be taken by a new log of the same name; this write
    // needs space, and failing it only leaves lines that the next checkpoint drops.
    try {
      this.checkpoint();
    } catch (error) {
      this.emit({ kind: 'background-error', task: 'checkpoint', error });
    }
    return outcome;
  }

  /** Writes the recovery-point and log-start-offset checkpoints for every log. */
  checkpoint(): void {
    const recovery = new Map<string, number>();
    const starts = new Map<string, number>();
    for (const [key, { log }] of this.logs) {
      recovery.set(key, log.recoveryPoint);
      starts.set(key, log.logStartOffset);
    }
    writeCheckpoint(this.deps.fs, this.config.dataDir, RECOVERY_POINT_CHECKPOINT, recovery);
    writeCheckpoint(this.deps.fs, this.config.dataDir, LOG_START_CHECKPOINT, starts);
  }

  /**
   * Raises the start offsets of several logs at once (Kafka's DeleteRecords): each log flushed
   * through its new start, one checkpoint for them all, then the segments wholly below each start
   * deleted (see log-start-raise.ts for why in that order). Runs in turn with retention and
   * compaction. Answers, in order, each log's start offset now or why it was not raised; offsets
   * below a log's start change nothing (but are checkpointed again, so a call whose checkpoint
   * failed can be retried).
   */
  raiseLogStartOffsets(raises: readonly LogStartRaise[]): Promise<(number | WeirError)[]> {
    this.assertOpen();
    const run = this.maintenance.then(() =>
      raiseLogStarts(
        {
          closed: this.closed,
          dataDir: this.config.dataDir,
          getLog: (topic, partition) => this.getLog(topic, partition),
          checkpoint: () => this.checkpoint(),
          emit: (event) => this.emit(event),
        },
        raises,
      ),
    );
    this.maintenance = run.catch(() => undefined);
    return run;
  }

  /** Runs retention over every log now. */
  runRetention(): Promise<void> {
    return this.enqueue('retention', async () => {
      const now = this.deps.clock.now();
      let changed = false;
      for (const { tp, log } of this.logs.values()) {
        if (log.isClosed || log.failed !== null) continue;
        const outcome = applyRetention(log, now);
        if (outcome.deletedByTime + outcome.deletedBySize > 0) {
          changed = true;
          this.emit({ kind: 'retention', topic: tp.topic, partition: tp.partition, outcome });
        }
      }
      if (changed) this.checkpoint();
    });
  }

  /** Compacts every log with cleanup.policy compact whose dirty share reaches its threshold. */
  runCompaction(): Promise<void> {
    return this.enqueue('compaction', async () => {
      for (const { tp, log } of [...this.logs.values()]) {
        if (log.isClosed || log.failed !== null || log.logConfig.cleanupPolicy === 'delete') continue;
        const firstDirty = this.firstDirty.get(log) ?? log.logStartOffset;
        if (dirtyRatio(log, firstDirty) < log.logConfig.minCleanableDirtyRatio || log.segments.length < 2)
          continue;
        const dirtyEnd = log.activeSegment.baseOffset;
        const outcome = await compactLog(log, this.deps.clock.now(), {
          fs: this.deps.fs,
          ...(this.config.maxInflatedBatchBytes === undefined
            ? {}
            : { maxInflatedBytes: this.config.maxInflatedBatchBytes }),
        });
        if (!outcome.aborted) this.firstDirty.set(log, dirtyEnd);
        this.emit({ kind: 'compaction', topic: tp.topic, partition: tp.partition, outcome });
      }
    });
  }

  /**
   * Starts the periodic flush/checkpoint, retention and compaction tasks on the clock. After an
   * unclean start it first flushes every log, so recovery does not re-read the same data again.
   */
  startBackgroundTasks(): void {
    this.assertOpen();
    if (!this.cleanShutdown) {
      this.enqueue('checkpoint', () => this.flushAll()).catch(() => undefined);
    }
    this.every(this.config.checkpointIntervalMs, 'checkpoint', () =>
      this.enqueue('checkpoint', () => this.flushAll()),
    );
    this.every(this.config.retentionCheckIntervalMs, 'retention', () => this.runRetention());
    this.every(this.config.cleanerBackoffMs, 'compaction', () => this.runCompaction());
  }

  /**
   * Stops background work, closes every log (flushing it), writes checkpoints and the clean marker.
   * Without the marker when a log is offline or fails its last flush: the next start must then
   * recover it from what is on disk rather than trust it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.removal.stop();
    await this.maintenance.catch(() => undefined);
    let failed = 0;
    for (const { log } of this.logs.values()) {
      await log.close().catch(() => failed++);
    }
    // Checkpoints are written from the closed logs' final marks, then the marker, last.
    this.checkpoint();
    if (failed > 0) return;
    const { fs } = this.deps;
    const marker = join(this.config.dataDir, CLEAN_SHUTDOWN_MARKER);
    const fd = fs.openSync(marker, 'w');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.fsyncDirSync(this.config.dataDir);
  }

  /** Drops every log without flushing or writing the marker: a simulated crash, for tests. */
  crashForTesting(): void {
    this.closed = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.removal.stop();
    for (const { log } of this.logs.values()) log.closeNow();
  }

  private every(intervalMs: number, task: string, run: () => Promise<void>): void {
    const tick = (): void => {
      if (this.closed) return;
      run()
        .catch((error: unknown) => this.emit({ kind: 'background-error', task, error }))
        .finally(() => {
          if (!this.closed) this.timers.set(task, this.deps.clock.schedule(intervalMs, tick));
        });
    };
    this.timers.set(task, this.deps.clock.schedule(intervalMs, tick));
  }

  private enqueue(task: string, run: () => Promise<void>): Promise<void> {
    const next = this.maintenance.then(() => (this.closed ? undefined : run()));
    this.maintenance = next.catch((error: unknown) => this.emit({ kind: 'background-error', task, error }));
    return next;
  }

  /** The topic id in `dir`'s partition.metadata; null if it has none or an unreadable one. */
  private recordedTopicId(dir: string): string | null {
    const found = readPartitionTopicId(this.deps.fs, dir);
    if (typeof found !== 'string') return found.topicId;
    this.emit({ kind: 'partition-metadata-invalid', dir, reason: found });
    return null;
  }

  private moveAside(dir: string, topicId: string | null, reason: string): void {
    const { fs } = this.deps;
    let aside = `${dir}.${topicId ?? 'unknown'}${ORPHANED_DIR_SUFFIX}`;
    if (fs.existsSync(aside))
      aside = `${dir}.${topicId ?? 'unknown'}.${this.deps.clock.now()}${ORPHANED_DIR_SUFFIX}`;
    fs.renameSync(dir, aside);
    fs.fsyncDirSync(this.config.dataDir);
    this.emit({ kind: 'log-set-aside', dir, aside, reason });
  }

  private configFor(topic: string): LogConfig {
    return this.deps.configFor?.(topic) ?? DEFAULT_LOG_CONFIG;
  }

  private logDeps(): { fs: StorageFs; clock: Clock; fds: FdCache; log: (e: LogEvent) => void } {
    return { fs: this.deps.fs, clock: this.deps.clock, fds: this.fds, log: (e) => this.emit(e) };
  }

  private emit(event: LogManagerEvent): void {
    this.deps.log?.(event);
  }

  private assertOpen(): void {
    if (this.closed) throw new WeirError('LOG_CLOSED', this.config.dataDir);
  }
}
