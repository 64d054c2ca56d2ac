// Storage failures as an operator meets them: logged once per episode with a count, counted for
// metrics, and shown by /readyz.
//
// A full or read-only disk refuses every request that writes: logging each refusal (with a stack)
// buries the one line that matters. An episode starts with the first storage error, logged at
// error level; the ones after it are only counted; it ends when no storage error has come for
// QUIET_MS, with one line giving the count and the errno codes seen. Logs taken offline by a failed
// fsync are logged when they fail, each at error level: they stay offline until a restart.

import type { WeirError } from '../proto/errors.js';
import { ioErrorCode, type Clock, type LogManagerEvent, type TimerHandle } from '../storage/index.js';

/** An episode ends after this long without a storage error. */
export const STORAGE_EPISODE_QUIET_MS = 10_000;

export interface StorageReport {
  readonly level: 'error' | 'warn';
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

interface Episode {
  readonly startedAt: number;
  count: number;
  readonly byCode: Map<string, number>;
}

/** The errno name behind a storage error (`ENOSPC`), or `unknown`. */
function codeOf(err: WeirError): string {
  return ioErrorCode(err.cause) ?? 'unknown';
}

export class StorageHealth {
  private readonly clock: Clock;
  private readonly report: (report: StorageReport) => void;
  private episode: Episode | null = null;
  private quietTimer: TimerHandle | null = null;
  /** Storage errors since start-up, by errno code: for metrics. */
  readonly errorsByCode = new Map<string, number>();

  constructor(clock: Clock, report: (report: StorageReport) => void) {
    this.clock = clock;
    this.report = report;
  }

  /** Whether storage errors came within the last STORAGE_EPISODE_QUIET_MS. */
  get failing(): boolean {
    return this.episode !== null;
  }

  /** A storage event from the log manager; those that are failures are noted. */
  observe(event: LogManagerEvent): void {
    if (event.kind === 'log-failed') {
      this.report({
        level: 'error',
        message: 'partition log offline until restart',
        fields: { dir: event.dir, error: event.error.message },
      });
      this.note(event.error);
    } else if (event.kind === 'io-error') {
      this.note(event.error);
    }
  }

  /** A storage error answered to a client or met in the background. */
  note(err: WeirError): void {
    const code = codeOf(err);
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    if (this.episode === null) {
      this.episode = { startedAt: this.clock.now(), count: 0, byCode: new Map() };
      this.report({
        level: 'error',
        message: `storage error; more are counted, not logged, until none for ${STORAGE_EPISODE_QUIET_MS / 1000} s`,
        fields: { code, error: err.message },
      });
    }
    const episode = this.episode;
    episode.count++;
    episode.byCode.set(code, (episode.byCode.get(code) ?? 0) + 1);
    this.quietTimer?.cancel();
    this.quietTimer = this.clock.schedule(STORAGE_EPISODE_QUIET_MS, () => this.endEpisode());
  }

  /** Stops the episode timer (broker shutdown). */
  close(): void {
    this.quietTimer?.cancel();
    this.quietTimer = null;
  }

  private endEpisode(): void {
    const episode = this.episode;
    if (episode === null) return;
    this.episode = null;
    this.quietTimer = null;
    this.report({
      level: 'warn',
      message: 'storage errors stopped',
      fields: {
        errors: episode.count,
        ms: this.clock.now() - episode.startedAt,
        codes: Object.fromEntries(episode.byCode),
      },
    });
  }
}
