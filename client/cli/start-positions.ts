// Where `weir consume` starts in each partition, and where it stops.
//
// Both ends are looked up once, before reading, with ListOffsets through the SDK's Admin, so the
// command knows at once which partitions have nothing to read. An --offset outside [earliest, high
// watermark] is moved to the nearer end; `--offset -N` starts N records before the high watermark,
// and at the earliest if there are fewer (kcat's `-o -N`); a time after the last record starts at
// the high watermark (nothing to read yet), as Kafka does.
//
// The stop (exclusive) is the high watermark at start without --follow, or no stop with it, and
// --until lowers it: `--until N` stops each partition once it reaches offset N (N itself is not
// read); `--until TIME` stops it at its first record with a timestamp at or after TIME. That record
// is looked up here too (ListOffsets by time), so a partition already past it has nothing to read;
// one that has no such record yet is stopped by the reader when it meets one (`stopTime`).

import type { Admin, TopicPartition } from '../index.js';

export type StartSpec =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  /** `count` records before the high watermark. */
  | { kind: 'fromEnd'; count: number }
  | { kind: 'time'; timestamp: number };

export type UntilSpec = { kind: 'offset'; offset: number } | { kind: 'time'; timestamp: number };

export interface PartitionRange {
  topic: string;
  partition: number;
  /** The first offset to read. */
  start: number;
  /** The offset to stop at, not read: Infinity for none. */
  end: number;
}

function uniqueTimes(...times: (number | null)[]): number[] {
  return [...new Set(times.filter((t): t is number => t !== null))];
}

export async function resolveRanges(
  admin: Admin,
  tps: readonly TopicPartition[],
  spec: StartSpec,
  until: UntilSpec | null,
  follow: boolean,
): Promise<PartitionRange[]> {
  const times = uniqueTimes(
    spec.kind === 'time' ? spec.timestamp : null,
    until?.kind === 'time' ? until.timestamp : null,
  );
  const [earliest, latest, ...byTime] = await Promise.all([
    admin.listOffsets(tps, 'earliest'),
    admin.listOffsets(tps, 'latest'),
    ...times.map((timestamp) => admin.listOffsets(tps, { timestamp })),
  ]);
  const atTime = (timestamp: number, i: number): number => byTime[times.indexOf(timestamp)]![i]!.offset;
  return tps.map(({ topic, partition }, i) => {
    const first = earliest[i]!.offset;
    const highWatermark = latest[i]!.offset;
    let start: number;
    switch (spec.kind) {
      case 'earliest':
        start = first;
        break;
      case 'latest':
        start = highWatermark;
        break;
      case 'offset':
        start = Math.min(Math.max(spec.offset, first), highWatermark);
        break;
      case 'fromEnd':
        start = Math.max(highWatermark - spec.count, first);
        break;
      case 'time': {
        const found = atTime(spec.timestamp, i);
        start = found < 0 ? highWatermark : found;
        break;
      }
    }
    let end = follow ? Infinity : highWatermark;
    if (until?.kind === 'offset') end = Math.min(end, until.offset);
    if (until?.kind === 'time') {
      const found = atTime(until.timestamp, i);
      if (found >= 0) end = Math.min(end, found);
    }
    return { topic, partition, start, end };
  });
}
