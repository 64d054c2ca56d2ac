// Removing the directories of deleted logs, so that a full or failing disk never half-deletes one.
//
// A delete first renames the directory aside (`<topic>-<p>.<topicId>-delete`) and fsyncs the data
// directory: a rename needs no free space, and from then on nothing takes the directory for a live
// partition, so a crash or a failure past this point cannot bring the data back. Removing the files
// comes after and may fail; every failed step is retried on the injected clock until it succeeds,
// and start-up removes whatever `-delete` directory is left.

import type { Clock, TimerHandle } from './clock.js';
import type { StorageFs } from './fs.js';

export const DELETE_DIR_SUFFIX = '-delete';
/** A directory set aside because no topic can own it; kept for an operator to look at. */
export const ORPHANED_DIR_SUFFIX = '-orphaned';

/** How long a failed removal waits before it is tried again. */
export const DELETE_RETRY_MS = 10_000;

export type RemovalEvent = { kind: 'delete-retry'; dir: string; error: unknown };

interface PendingRemoval {
  readonly dir: string;
  readonly aside: string;
  renamed: boolean;
  readonly done: () => void;
}

export class LogRemoval {
  private readonly fs: StorageFs;
  private readonly clock: Clock;
  private readonly dataDir: string;
  private readonly report: (event: RemovalEvent) => void;
  /** By the aside path, which is unique; the original path may be reused by a new log. */
  private readonly pending = new Map<string, PendingRemoval>();
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(fs: StorageFs, clock: Clock, dataDir: string, report: (event: RemovalEvent) => void) {
    this.fs = fs;
    this.clock = clock;
    this.dataDir = dataDir;
    this.report = report;
  }

  /**
   * Renames `dir` to `aside`, then removes it. `renamed` says whether the rename is done; if not,
   * it is retried (see clearPath). `removed` resolves once the files are gone.
   */
  remove(dir: string, aside: string): { renamed: boolean; removed: Promise<void> } {
    let done = (): void => undefined;
    const removed = new Promise<void>((resolve) => (done = resolve));
    const entry: PendingRemoval = { dir, aside, renamed: dir === aside, done };
    this.pending.set(aside, entry);
    if (!this.attempt(entry)) this.scheduleRetry();
    return { renamed: entry.renamed, removed };
  }

  /** Removes a directory already renamed aside (a leftover found at start-up). */
  removeAside(aside: string): void {
    this.remove(aside, aside);
  }

  /**
   * Before a new log is created at `dir`: a rename of an old log there that has not happened yet
   * happens now, or this throws, so the new log never starts on the deleted one's files.
   */
  clearPath(dir: string): void {
    for (const entry of this.pending.values()) {
      if (entry.dir !== dir || entry.renamed) continue;
      this.fs.renameSync(entry.dir, entry.aside);
      entry.renamed = true;
      this.fs.fsyncDirSync(this.dataDir);
    }
  }

  /** Stops retrying; what is left is removed at the next start-up. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private attempt(entry: PendingRemoval): boolean {
    try {
      if (!entry.renamed) {
        this.fs.renameSync(entry.dir, entry.aside);
        entry.renamed = true;
        this.fs.fsyncDirSync(this.dataDir);
      }
      this.fs.rmSync(entry.aside);
    } catch (error) {
      this.report({ kind: 'delete-retry', dir: entry.aside, error });
      return false;
    }
    this.pending.delete(entry.aside);
    entry.done();
    return true;
  }

  private scheduleRetry(): void {
    if (this.timer !== null || this.stopped) return;
    this.timer = this.clock.schedule(DELETE_RETRY_MS, () => {
      this.timer = null;
      if (this.stopped) return;
      for (const entry of [...this.pending.values()]) this.attempt(entry);
      if (this.pending.size > 0) this.scheduleRetry();
    });
  }
}
