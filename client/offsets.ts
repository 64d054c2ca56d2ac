// ListOffsets for the consumer's seeks and the admin's listOffsets: earliest (-2), latest (-1,
// the high watermark: the offset the next record will get), or the first offset whose record is
// at or after a timestamp (-1 when there is none).

import { WeirError } from '../proto/errors.js';
import { fromWireError } from '../proto/grpc.js';
import type { CallOptions, Connection } from './connection.js';

export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;

export type OffsetSpec = 'earliest' | 'latest' | { timestamp: number | Date };

export interface OffsetLookup {
  topic: string;
  partition: number;
  /** -1 when looking up by time and no record is at or after it. */
  offset: number;
  timestamp: number;
  error: WeirError | null;
}

/** The ListOffsets timestamp field for a spec; throws INVALID_TIMESTAMP on a bad time. */
export function listOffsetsTimestamp(spec: OffsetSpec): number {
  if (spec === 'earliest') return EARLIEST_TIMESTAMP;
  if (spec === 'latest') return LATEST_TIMESTAMP;
  if (spec !== null && typeof spec === 'object' && 'timestamp' in spec) {
    const t = spec.timestamp instanceof Date ? spec.timestamp.getTime() : spec.timestamp;
    if (!Number.isSafeInteger(t) || t < 0) throw new WeirError('INVALID_TIMESTAMP', `timestamp ${String(t)}`);
    return t;
  }
  throw new WeirError('INVALID_REQUEST', `offset spec must be 'earliest', 'latest' or { timestamp }`);
}

/** One ListOffsets call; results in the order asked, each with its own error. */
export async function resolveOffsets(
  connection: Connection,
  partitions: readonly { topic: string; partition: number; timestamp: number }[],
  call?: CallOptions,
): Promise<OffsetLookup[]> {
  const response = await connection.listOffsets({ partitions: [...partitions] }, call);
  return partitions.map((asked, i) => {
    let result = response.results[i];
    if (result === undefined || result.topic !== asked.topic || result.partition !== asked.partition) {
      result = response.results.find((r) => r.topic === asked.topic && r.partition === asked.partition);
    }
    if (result === undefined) {
      return {
        topic: asked.topic,
        partition: asked.partition,
        offset: -1,
        timestamp: -1,
        error: new WeirError('UNKNOWN_SERVER_ERROR', `no offset for ${asked.topic}-${asked.partition}`),
      };
    }
    return {
      topic: asked.topic,
      partition: asked.partition,
      offset: result.offset,
      timestamp: result.timestamp,
      error: fromWireError(result.error),
    };
  });
}
