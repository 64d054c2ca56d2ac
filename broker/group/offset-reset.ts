// Where a reset moves a group's committed offset, as Kafka's kafka-consumer-groups --reset-offsets
// does: to the log's start or end, to the first record at or after a time (the end if none), to an
// offset, or shifted from the committed offset (from the start if none). Every target is clamped
// to the log's current range, so a reset never points outside the log.

export type ResetTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'timestamp'; readonly timestamp: number }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'shiftBy'; readonly shiftBy: number };

export interface OffsetReset {
  readonly topic: string;
  readonly partition: number;
  /** -1 when nothing was committed. */
  readonly previous: number;
  readonly offset: number;
}

/** A partition's current range, and its first offset at or after a time (-1 if none). */
export interface LogRange {
  readonly earliest: number;
  readonly latest: number;
  atTime(timestamp: number): number;
}

export function resetOffset(range: LogRange, previous: number, to: ResetTarget): number {
  const { earliest, latest } = range;
  const clamp = (n: number): number => Math.min(latest, Math.max(earliest, n));
  switch (to.kind) {
    case 'earliest':
      return earliest;
    case 'latest':
      return latest;
    case 'timestamp': {
      const found = range.atTime(to.timestamp);
      return found < 0 ? latest : found;
    }
    case 'offset':
      return clamp(to.offset);
    case 'shiftBy':
      return clamp((previous < 0 ? earliest : previous) + to.shiftBy);
  }
}
