// Retention: which whole segments to delete, oldest first.
//
// By time: a segment goes when its largest record timestamp is older than retention.ms. The walk
// stops at the first segment that is not expired, so the log stays a contiguous suffix. If every
// segment has expired, the active one is rolled first (PartitionLog.deleteOldestSegments does it),
// so an idle topic empties without losing its end offset.
// By size: the oldest closed segments go while the partition, without them, is still at least
// retention.bytes. The active segment is never deleted by size.
// Both apply under cleanup.policy `delete` and `compact,delete`, never under `compact` alone.

import type { LogConfig } from './log-config.js';
import type { PartitionLog } from './partition-log.js';

interface SegmentFacts {
  readonly size: number;
  readonly largestTimestamp: number;
  readonly isEmpty: boolean;
}

/** How many leading segments have every record older than `now - retentionMs`. */
export function expiredByTime(segments: readonly SegmentFacts[], now: number, retentionMs: number): number {
  if (retentionMs < 0) return 0;
  const cutoff = now - retentionMs;
  let n = 0;
  for (const seg of segments) {
    if (seg.isEmpty || seg.largestTimestamp >= cutoff) break;
    n++;
  }
  return n;
}

/** How many leading closed segments can go while the rest stays at least `retentionBytes`. */
export function excessBySize(segments: readonly SegmentFacts[], retentionBytes: number): number {
  if (retentionBytes < 0) return 0;
  let total = 0;
  for (const seg of segments) total += seg.size;
  let excess = total - retentionBytes;
  let n = 0;
  for (let i = 0; i < segments.length - 1; i++) {
    const size = (segments[i] as SegmentFacts).size;
    if (excess - size < 0) break;
    excess -= size;
    n++;
  }
  return n;
}

export function retentionApplies(config: LogConfig): boolean {
  return config.cleanupPolicy !== 'compact';
}

export interface RetentionOutcome {
  readonly deletedByTime: number;
  readonly deletedBySize: number;
}

/** Applies time and then size retention to one log. */
export function applyRetention(log: PartitionLog, now: number): RetentionOutcome {
  const config = log.logConfig;
  if (!retentionApplies(config)) return { deletedByTime: 0, deletedBySize: 0 };
  const deletedByTime = log.deleteOldestSegments(expiredByTime(log.segments, now, config.retentionMs));
  const deletedBySize = log.deleteOldestSegments(excessBySize(log.segments, config.retentionBytes));
  return { deletedByTime, deletedBySize };
}
