// Fetched batches to consumer records. A fetch answers with whole batches as stored, so the first
// one may begin below the offset asked for (the broker serves from batch boundaries): records
// below it are skipped here. Control batches (transaction markers) carry no user records and are
// skipped too. One visitor and one state object per call, no closure per record.

import {
  BATCH_HEADER_SIZE,
  CONTROL_BIT,
  LOG_OVERHEAD,
  batchAttributes,
  batchBaseOffset,
  batchLastOffsetDelta,
  batchSize,
} from '../proto/batch-header.js';
import { forEachRecord, type RecordEntry } from '../proto/record-batch.js';
import { readHeaders } from '../proto/record.js';
import type { ConsumerRecord } from './records.js';

interface DecodeState {
  topic: string;
  partition: number;
  fromOffset: number;
  out: ConsumerRecord[];
}

function collect(entry: RecordEntry, state: DecodeState): void {
  if (entry.offset < state.fromOffset) return;
  const { data, view } = entry;
  state.out.push({
    topic: state.topic,
    partition: state.partition,
    offset: entry.offset,
    timestamp: entry.timestamp,
    key: view.keyLength < 0 ? null : data.subarray(view.keyStart, view.keyStart + view.keyLength),
    value: view.valueLength < 0 ? null : data.subarray(view.valueStart, view.valueStart + view.valueLength),
    headers: view.headerCount === 0 ? [] : readHeaders(data, view),
  });
}

export interface DecodedFetch {
  /** The offset after the last whole batch read (its last offset + 1), or -1 when none was. */
  nextOffset: number;
  /** Why a batch did not decode; records before it were kept. */
  corrupt: string | null;
}

/**
 * Appends the records of `batches` at or above `fromOffset` to `out`. A trailing partial batch (a
 * broker may cut the last one at its byte limit, as Kafka's does) is ignored; it is fetched again.
 */
export function decodeFetched(
  topic: string,
  partition: number,
  batches: Buffer,
  fromOffset: number,
  out: ConsumerRecord[],
): DecodedFetch {
  const state: DecodeState = { topic, partition, fromOffset, out };
  let nextOffset = -1;
  for (let off = 0; off + LOG_OVERHEAD <= batches.length;) {
    const size = batchSize(batches, off);
    if (size < BATCH_HEADER_SIZE)
      return { nextOffset, corrupt: `batch of ${size} bytes is shorter than its header` };
    if (off + size > batches.length) break;
    if ((batchAttributes(batches, off) & CONTROL_BIT) === 0) {
      const reason = forEachRecord(batches, off, collect, state, off + size);
      if (reason !== null) {
        return { nextOffset, corrupt: `batch at offset ${batchBaseOffset(batches, off)}: ${reason}` };
      }
    }
    nextOffset = batchBaseOffset(batches, off) + batchLastOffsetDelta(batches, off) + 1;
    off += size;
  }
  return { nextOffset, corrupt: null };
}
