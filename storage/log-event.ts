// What a partition log reports about itself: recovery findings, leftovers it cleaned up, and storage
// failures. Its own file so that each part of the log that emits these (opening, flushing, the log
// itself) can name the type without importing the others.

import type { WeirError } from '../proto/errors.js';

export type LogEvent =
  | { kind: 'recovered'; dir: string; segment: number; bytes: number }
  | {
      kind: 'truncated';
      dir: string;
      segment: number;
      reason: string;
      validBytes: number;
      truncatedBytes: number;
    }
  | { kind: 'segments-removed'; dir: string; baseOffsets: number[]; reason: string }
  | { kind: 'index-rebuilt'; dir: string; segment: number; reason: string }
  | { kind: 'leftover-removed'; dir: string; file: string }
  | { kind: 'swap-completed'; dir: string; segment: number }
  /** A reset to an empty log at `offset` was completed at open; the old segments were removed. */
  | { kind: 'reset-completed'; dir: string; offset: number; baseOffsets: number[] }
  | { kind: 'flush-failed'; dir: string; error: unknown }
  /** An append or read refused for a storage failure (the log may stay online). */
  | { kind: 'io-error'; dir: string; error: WeirError }
  /** The log went offline (a failed fsync, a device error): emitted once. */
  | { kind: 'log-failed'; dir: string; error: WeirError }
  /**
   * Offsets [from, to) of `segment` were also in the next segment: a truncation a power loss undid;
   * the stale copy was cut (see cutOverlaps in log-loader.ts).
   */
  | {
      kind: 'segment-overlap-cut';
      dir: string;
      segment: number;
      from: number;
      to: number;
      truncatedBytes: number;
    }
  /** Offsets [from, to) are in no segment (see reportGaps in log-loader.ts). */
  | { kind: 'segment-gap'; dir: string; from: number; to: number; reason: string }
  | { kind: 'log-start-past-end'; dir: string; checkpointed: number; logEndOffset: number }
  /**
   * A bad batch where the log trusted its files (after a clean stop, below the recovery point, or
   * met by a read): the log is offline and keeps every byte until repaired (see LogDamage).
   */
  | {
      kind: 'damaged';
      dir: string;
      segment: number;
      position: number;
      offset: number;
      reason: string;
      /** Bytes on disk from the bad batch to the log's end: what a repair cut would remove. */
      bytesAfter: number;
    }
  /** The log was cut at its damage (a replica that copies the rest back from its leader). */
  | { kind: 'repaired'; dir: string; segment: number; offset: number; truncatedBytes: number };
