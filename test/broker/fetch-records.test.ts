// The records form of a fetch (as_records) decodes stored batches for clients that do not want the
// batch codec. Control batches (a leader's epoch marker, transaction markers) hold no user record:
// they are skipped, as Kafka clients skip them, and the next offset moves past them.

import { describe, expect, it } from 'vitest';
import { fetchAnswer } from '../../broker/fetch-records.js';
import type { FetchPartitionResult } from '../../broker/replica/replica-manager.js';
import { ATTRIBUTES_OFFSET, CONTROL_BIT, CRC_OFFSET, computeBatchCrc } from '../../proto/batch-header.js';
import { encodeBatch } from '../../proto/record-batch.js';

function batch(baseOffset: number, values: string[]): Buffer {
  return encodeBatch(
    values.map((v) => ({ timestamp: 1, key: null, value: Buffer.from(v) })),
    { baseOffset },
  );
}

function control(baseOffset: number): Buffer {
  const b = batch(baseOffset, ['marker']);
  b.writeInt16BE(b.readInt16BE(ATTRIBUTES_OFFSET) | CONTROL_BIT, ATTRIBUTES_OFFSET);
  b.writeUInt32BE(computeBatchCrc(b, 0), CRC_OFFSET);
  return b;
}

function stored(batches: Buffer, nextOffset: number): FetchPartitionResult {
  return {
    topic: 't',
    partition: 0,
    batches,
    highWatermark: nextOffset,
    logStartOffset: 0,
    nextOffset,
    error: null,
  };
}

describe('the records form of a fetch', () => {
  it('skips control batches and moves past them', async () => {
    const batches = Buffer.concat([batch(0, ['a', 'b']), control(2), batch(3, ['c'])]);
    const [answer] = await fetchAnswer([stored(batches, 4)], [{ offset: 0, maxBytes: 0 }], {
      asRecords: true,
      maxBytes: 0,
      maxInflatedBytes: 1 << 20,
    });
    expect(answer?.records?.map((r) => [r.offset, r.value?.toString()])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [3, 'c'],
    ]);
    expect(answer?.nextOffset).toBe(4);
  });

  it('answers no record, and the offset past it, when only a control batch is there', async () => {
    const [answer] = await fetchAnswer([stored(control(7), 8)], [{ offset: 7, maxBytes: 0 }], {
      asRecords: true,
      maxBytes: 0,
      maxInflatedBytes: 1 << 20,
    });
    expect(answer?.records).toEqual([]);
    expect(answer?.nextOffset).toBe(8);
  });
});
