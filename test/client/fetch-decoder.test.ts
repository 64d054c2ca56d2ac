// Fetched bytes to consumer records: records below the offset asked for are skipped (a fetch
// starts at a batch boundary), control batches are skipped, a partial trailing batch is left for
// the next fetch, and a corrupt batch is reported with the records before it kept.

import { describe, expect, it } from 'vitest';
import { decodeFetched } from '../../client/fetch-decoder.js';
import type { ConsumerRecord } from '../../client/records.js';
import { ATTRIBUTES_OFFSET, CONTROL_BIT, CRC_OFFSET, computeBatchCrc } from '../../proto/batch-header.js';
import { encodeBatch, type RecordInput } from '../../proto/record-batch.js';

const T0 = 1_700_000_000_000;

function batch(baseOffset: number, values: (string | null)[], extra: Partial<RecordInput> = {}): Buffer {
  return encodeBatch(
    values.map((v, i) => ({
      key: Buffer.from(`k${i}`),
      value: v === null ? null : Buffer.from(v),
      timestamp: T0 + i,
      ...extra,
    })),
    { baseOffset },
  );
}

function decode(
  bytes: Buffer,
  from: number,
): { records: ConsumerRecord[]; nextOffset: number; corrupt: string | null } {
  const records: ConsumerRecord[] = [];
  const out = decodeFetched('t', 2, bytes, from, records);
  return { records, ...out };
}

describe('decodeFetched', () => {
  it('decodes every field and skips records below the offset asked for', () => {
    const bytes = Buffer.concat([
      batch(10, ['a', 'b', 'c'], {
        headers: [
          { key: 'h', value: Buffer.from('v') },
          { key: 'n', value: null },
        ],
      }),
      batch(13, ['d', null]),
    ]);
    const { records, nextOffset, corrupt } = decode(bytes, 11);
    expect(corrupt).toBeNull();
    expect(nextOffset).toBe(15);
    expect(records.map((r) => r.offset)).toEqual([11, 12, 13, 14]);
    expect(records[0]).toMatchObject({ topic: 't', partition: 2, timestamp: T0 + 1 });
    expect(records[0]!.key!.toString()).toBe('k1');
    expect(records[0]!.value!.toString()).toBe('b');
    expect(records[0]!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
      ['h', 'v'],
      ['n', null],
    ]);
    expect(records[3]!.value).toBeNull();
    expect(records[3]!.headers).toEqual([]);
  });

  it('skips control batches but moves past them', () => {
    const control = batch(5, ['marker']);
    control.writeInt16BE(control.readInt16BE(ATTRIBUTES_OFFSET) | CONTROL_BIT, ATTRIBUTES_OFFSET);
    control.writeUInt32BE(computeBatchCrc(control, 0), CRC_OFFSET);
    const { records, nextOffset } = decode(Buffer.concat([control, batch(6, ['x'])]), 5);
    expect(records.map((r) => r.value!.toString())).toEqual(['x']);
    expect(nextOffset).toBe(7);
  });

  it('leaves a partial trailing batch for the next fetch', () => {
    const whole = batch(0, ['a']);
    const next = batch(1, ['b', 'c']);
    const { records, nextOffset, corrupt } = decode(
      Buffer.concat([whole, next.subarray(0, next.length - 3)]),
      0,
    );
    expect(records.map((r) => r.offset)).toEqual([0]);
    expect(nextOffset).toBe(1);
    expect(corrupt).toBeNull();
  });

  it('reports a corrupt batch and keeps the records before it', () => {
    const bad = batch(1, ['b']);
    bad[bad.length - 1]! ^= 0xff;
    const { records, corrupt } = decode(Buffer.concat([batch(0, ['a']), bad]), 0);
    expect(records.map((r) => r.offset)).toEqual([0]);
    expect(corrupt).toMatch(/offset 1: CRC mismatch/);
  });

  it('returns nothing for an empty answer', () => {
    expect(decode(Buffer.alloc(0), 3)).toEqual({ records: [], nextOffset: -1, corrupt: null });
  });
});
