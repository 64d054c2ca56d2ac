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
//   <topic>-<partition>.<n>-delete/   a log being deleted (renamed first, so a crash midway
//                                     never leaves half a log that looks live); removed at start-up

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
import { parsePartitionDirName, partitionDir, type TopicPartition } from './names.js';
import { PartitionLog, type LogEvent } from './partition-log.js';
import { applyRetention, type RetentionOutcome } from './retention.js';

export const CLEAN_SHUTDOWN_MARKER = '.weir-clean-shutdown';
const DELETE_DIR_SUFFIX = '-delete';

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

export type LogManagerEvent =
  | LogEvent
  | { kind: 'startup'; dataDir: string; cleanShutdown: boolean; logs: number }
  | { kind: 'ignored-dir'; dataDir: string; name: string }
  | { kind: 'retention'; topic: string; partition: number; outcome: RetentionOutcome }
  | { kind: 'compaction'; topic: string; partition: number; outcome: CompactionOutcome }
  | { kind: 'background-error'; task: string; error: unknown };

export class LogManager {
  readonly config: LogManagerConfig;
  private readonly deps: LogManagerDeps;
  private readonly logs = new Map<string, { tp: TopicPartition; log: PartitionLog }>();
  private readonly firstDirty = new Map<PartitionLog, number>();
  private readonly timers = new Map<string, TimerHandle>();
  /** Retention and compaction run one at a time, one log at a time. */
  private maintenance: Promise<unknown> = Promise.resolve();
  private closed = false;
  readonly cleanShutdown: boolean;
  /** Closed segments' descriptors, shared by every log here. */
  readonly fds: FdCache;

  private constructor(config: LogManagerConfig, deps: LogManagerDeps, cleanShutdown: boolean) {
    this.config = config;
    this.deps = deps;
    this.cleanShutdown = cleanShutdown;
    this.fds = new FdCache(deps.fs, config.maxCachedFiles ?? DEFAULT_MAX_CACHED_FILES);
  }

  /** Opens every log under the data directory, recovering those that need it. */
  static open(config: LogManagerConfig, deps: LogManagerDeps): LogManager {
    const { fs } = deps;
    fs.mkdirSync(config.dataDir);
    const marker = join(config.dataDir, CLEAN_SHUTDOWN_MARKER);
    const clean = fs.existsSync(marker);
    for (const name of fs.readdirSync(config.dataDir)) {
      if (name.endsWith(DELETE_DIR_SUFFIX)) fs.rmSync(join(config.dataDir, name));
      else if (name.endsWith('.tmp')) fs.unlinkSync(join(config.dataDir, name));
    }
    const recoveryPoints = readCheckpoint(fs, config.dataDir, RECOVERY_POINT_CHECKPOINT);
    const startOffsets = readCheckpoint(fs, config.dataDir, LOG_START_CHECKPOINT);
    // A bad checkpoint is not trusted: without it every log is recovered from its start.
    const trusted = clean && typeof recoveryPoints !== 'string' && typeof startOffsets !== 'string';
    const manager = new LogManager(config, deps, trusted);
    if (clean) {
      fs.unlinkSync(marker);
      fs.fsyncDirSync(config.dataDir);
    }
    for (const name of fs.readdirSync(config.dataDir).sort()) {
      const tp = parsePartitionDirName(name);
      if (tp === null) {
        if (name !== CLEAN_SHUTDOWN_MARKER && !name.endsWith('checkpoint') && !name.endsWith('.json'))
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
      manager.logs.set(key, { tp, log });
    }
    manager.emit({
      kind: 'startup',
      dataDir: config.dataDir,
      cleanShutdown: trusted,
      logs: manager.logs.size,
    });
    return manager;
  }

  /** Flushes every log (moving its recovery point to its end) and writes the checkpoints. */
  async flushAll(): Promise<void> {
    for (const { log } of this.logs.values()) await log.flush();
    this.checkpoint();
  }

  getLog(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(checkpointKey(topic, partition))?.log;
  }

  /** Every open log with its topic and partition. */
  allLogs(): { topic: string; partition: number; log: PartitionLog }[] {
    return [...this.logs.values()].map(({ tp, log }) => ({ topic: tp.topic, partition: tp.partition, log }));
  }

  /** Opens the log of a new partition (an existing one is returned as it is). */
  createLog(topic: string, partition: number, config: LogConfig = this.configFor(topic)): PartitionLog {
    this.assertOpen();
    const key = checkpointKey(topic, partition);
    const existing = this.logs.get(key);
    if (existing !== undefined) return existing.log;
    const dir = partitionDir(this.config.dataDir, topic, partition);
    const { fs } = this.deps;
    const existed = fs.existsSync(dir);
    let log: PartitionLog;
    try {
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
    this.logs.set(key, { tp: { topic, partition }, log });
    try {
      fs.fsyncDirSync(this.config.dataDir);
    } catch (err) {
      this.discardLog(topic, partition);
      throw err;
    }
    return log;
  }

  /**
   * Closes and removes a log created moments ago that never held data, at once (a create request
   * being rolled back). No maintenance task can hold it yet, so there is nothing to wait for.
   */
  discardLog(topic: string, partition: number): void {
    const key = checkpointKey(topic, partition);
    const entry = this.logs.get(key);
    if (entry === undefined) return;
    this.logs.delete(key);
    this.firstDirty.delete(entry.log);
    entry.log.closeNow();
    this.deps.fs.rmSync(entry.log.dir);
  }

  /** Closes and removes a log: its directory is renamed aside first, then deleted. */
  async deleteLog(topic: string, partition: number): Promise<void> {
    const key = checkpointKey(topic, partition);
    const entry = this.logs.get(key);
    if (entry === undefined) throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition}`);
    await this.maintenance;
    this.logs.delete(key);
    this.firstDirty.delete(entry.log);
    entry.log.closeNow();
    const { fs } = this.deps;
    const aside = `${entry.log.dir}.${this.deps.clock.now()}${DELETE_DIR_SUFFIX}`;
    fs.renameSync(entry.log.dir, aside);
    fs.fsyncDirSync(this.config.dataDir);
    fs.rmSync(aside);
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

  /** Runs retention over every log now. */
  runRetention(): Promise<void> {
    return this.enqueue('retention', async () => {
      const now = this.deps.clock.now();
      let changed = false;
      for (const { tp, log } of this.logs.values()) {
        if (log.isClosed) continue;
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
        if (log.isClosed || log.logConfig.cleanupPolicy === 'delete') continue;
        const firstDirty = this.firstDirty.get(log) ?? log.logStartOffset;
        if (dirtyRatio(log, firstDirty) < log.logConfig.minCleanableDirtyRatio || log.segments.length < 2)
          continue;
        const dirtyEnd = log.activeSegment.baseOffset;
        const outcome = await compactLog(log, this.deps.clock.now(), { fs: this.deps.fs });
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

  /** Stops background work, closes every log (flushing it), writes checkpoints and the clean marker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    await this.maintenance.catch(() => undefined);
    for (const { log } of this.logs.values()) await log.close();
    // Checkpoints are written from the closed logs' final marks, then the marker, last.
    this.checkpoint();
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
