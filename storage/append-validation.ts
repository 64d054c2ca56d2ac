// The check every append makes of its batches before writing any of them, so a bad batch writes
// nothing. Separate from the log (partition-log.ts) because it is a pure pass over the bytes that
// needs nothing of the log but its end offset and size limit, and it holds every reason an append
// is refused as bad input.

import {
  batchBaseOffset,
  batchLastOffsetDelta,
  batchRecordsCount,
  batchSize,
  invalidBatch,
  invalidBatchHeader,
} from '../proto/batch-header.js';
import { WeirError } from '../proto/errors.js';

/**
 * Checks the batches laid end to end in `batches`: each whole and well formed (its CRC too, unless
 * `crcChecked`), none over `maxMessageBytes`, and, when the log does not assign offsets (`assign`
 * false, a follower), each starting at or past `logEndOffset` and the end of the batch before it.
 * Throws the error the append fails with; returns the number of records.
 */
export function validateAppend(
  batches: Buffer,
  assign: boolean,
  crcChecked: boolean,
  logEndOffset: number,
  maxMessageBytes: number,
): number {
  let count = 0;
  let records = 0;
  let expected = logEndOffset;
  for (let off = 0; off < batches.length;) {
    const reason = crcChecked
      ? invalidBatchHeader(batches, off, batches.length)
      : invalidBatch(batches, off, batches.length);
    if (reason !== null) throw new WeirError('CORRUPT_MESSAGE', reason);
    const size = batchSize(batches, off);
    if (size > maxMessageBytes) {
      throw new WeirError(
        'MESSAGE_TOO_LARGE',
        `batch of ${size} bytes exceeds max.message.bytes ${maxMessageBytes}`,
      );
    }
    if (!assign) {
      const base = batchBaseOffset(batches, off);
      if (base < expected)
        throw new WeirError('INVALID_RECORD', `batch offset ${base} is below the log end offset ${expected}`);
      expected = base;
    }
    expected += batchLastOffsetDelta(batches, off) + 1;
    records += batchRecordsCount(batches, off);
    count++;
    off += size;
  }
  if (count === 0) throw new WeirError('CORRUPT_MESSAGE', 'no record batch in the data');
  if (!Number.isSafeInteger(expected)) throw new WeirError('OFFSET_OUT_OF_RANGE', 'offsets would overflow');
  return records;
}
