// Where `weir consume` starts in each partition, and (without --follow) where it stops.
//
// Both ends are looked up once, before reading, with ListOffsets through the SDK's Admin, so the
// command knows at once which partitions have nothing to read: `end` is the high watermark at
// start. An --offset outside [earliest, high watermark] is moved to the nearer end, and a time
// after the last record starts at the high watermark (nothing to read yet), as Kafka does.

import type { Admin } from '../index.js';

export type StartSpec =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  | { kind: 'time'; timestamp: number };

export interface PartitionRange {
  partition: number;
  /** The first offset to read. */
  start: number;
  /** The high watermark when the command started. */
  end: number;
}

export async function resolveRanges(
  admin: Admin,
  topic: string,
  partitions: readonly number[],
  spec: StartSpec,
): Promise<PartitionRange[]> {
  const tps = partitions.map((partition) => ({ topic, partition }));
  const [earliest, latest, byTime] = await Promise.all([
    admin.listOffsets(tps, 'earliest'),
    admin.listOffsets(tps, 'latest'),
    spec.kind === 'time' ? admin.listOffsets(tps, { timestamp: spec.timestamp }) : null,
  ]);
  return partitions.map((partition, i) => {
    const first = earliest[i]!.offset;
    const end = latest[i]!.offset;
    let start: number;
    switch (spec.kind) {
      case 'earliest':
        start = first;
        break;
      case 'latest':
        start = end;
        break;
      case 'offset':
        start = Math.min(Math.max(spec.offset, first), end);
        break;
      case 'time': {
        const found = byTime![i]!.offset;
        start = found < 0 ? end : found;
        break;
      }
    }
    return { partition, start, end };
  });
}
