// The __consumer_offsets record layout: golden bytes, round trips, and one test per reason a
// decoder gives for bad bytes (STYLE 3).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeOffsetKey,
  decodeOffsetValue,
  encodeOffsetKey,
  encodeOffsetValue,
} from '../../../broker/group/offset-record.js';
import { CommittedOffsets } from '../../../broker/group/committed-offsets.js';
import { encodeBatch } from '../../../proto/record-batch.js';
import { leaderChangeBatch } from '../../../proto/control-batch.js';

describe('offset record layout', () => {
  it('encodes the key and value as documented', () => {
    expect(encodeOffsetKey({ group: 'g', topic: 'ab', partition: 258 }).toString('hex')).toBe(
      '0001' + '0001' + '67' + '0002' + '6162' + '00000102',
    );
    expect(
      encodeOffsetValue({ offset: 5, commitTimestamp: 1_700_000_000_000, metadata: 'm' }).toString('hex'),
    ).toBe('0001' + '0000000000000005' + '0000018bcfe56800' + '0001' + '6d');
  });

  it('round-trips any key and value', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 100 }),
        fc.string({ maxLength: 100 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.string({ maxLength: 200 }),
        (group, topic, partition, offset, commitTimestamp, metadata) => {
          expect(decodeOffsetKey(encodeOffsetKey({ group, topic, partition }))).toEqual({
            group,
            topic,
            partition,
          });
          expect(decodeOffsetValue(encodeOffsetValue({ offset, commitTimestamp, metadata }))).toEqual({
            offset,
            commitTimestamp,
            metadata,
          });
        },
      ),
    );
  });

  it.each([
    ['', 'key is shorter than its version'],
    ['0002', 'unknown key version 2'],
    ['0001', 'group length is cut off'],
    ['00010005', 'group length 5 runs past the record'],
    ['0001000167', 'topic length is cut off'],
    ['00010001670000', 'key is 7 bytes, expected 11'],
  ])('refuses key %s: %s', (hex, reason) => {
    expect(decodeOffsetKey(Buffer.from(hex, 'hex'))).toBe(reason);
  });

  it.each([
    ['0001', 'value is 2 bytes, shorter than 20'],
    ['0003' + '00'.repeat(18), 'unknown value version 3'],
    ['0001' + 'ff'.repeat(8) + '00'.repeat(10), 'offset -1 is out of range'],
    ['0001' + '00'.repeat(16) + '0004' + '6d', 'metadata length 4 runs past the record'],
    ['0001' + '00'.repeat(16) + '0000' + '6d', 'value has 1 trailing bytes'],
  ])('refuses value %s: %s', (hex, reason) => {
    expect(decodeOffsetValue(Buffer.from(hex, 'hex'))).toBe(reason);
  });
});

describe('the committed-offset view', () => {
  const key = { group: 'g', topic: 't', partition: 0 };
  const value = (offset: number) => ({ offset, commitTimestamp: 1, metadata: '' });

  it('keeps the record with the highest log offset, whatever order they are applied in', () => {
    const view = new CommittedOffsets();
    view.apply(key, value(7), 10);
    view.apply(key, value(3), 4);
    expect(view.get('g', 't', 0)?.offset).toBe(7);
    view.apply(key, null, 12);
    view.apply(key, value(5), 11);
    expect(view.get('g', 't', 0)).toBeUndefined();
    expect(view.has('g')).toBe(false);
    view.apply(key, value(9), 13);
    expect(view.get('g', 't', 0)?.offset).toBe(9);
  });

  it('replays batches and counts what it cannot decode', () => {
    const view = new CommittedOffsets();
    const batches = Buffer.concat([
      encodeBatch(
        [
          { key: encodeOffsetKey(key), value: encodeOffsetValue(value(2)), timestamp: 1 },
          { key: null, value: Buffer.from('x'), timestamp: 1 },
          { key: Buffer.from('0009', 'hex'), value: null, timestamp: 1 },
        ],
        { baseOffset: 0 },
      ),
      encodeBatch(
        [
          {
            key: encodeOffsetKey({ ...key, partition: 1 }),
            value: encodeOffsetValue(value(4)),
            timestamp: 1,
          },
        ],
        {
          baseOffset: 3,
        },
      ),
    ]);
    expect(view.replay(batches)).toEqual({ skipped: 2, lastReason: 'unknown key version 9' });
    expect([view.get('g', 't', 0)?.offset, view.get('g', 't', 1)?.offset]).toEqual([2, 4]);
  });

  it("passes over a new leader's control batch: it holds no commit, and is not counted as bad", () => {
    const view = new CommittedOffsets();
    const batches = Buffer.concat([
      encodeBatch([{ key: encodeOffsetKey(key), value: encodeOffsetValue(value(2)), timestamp: 1 }], {
        baseOffset: 0,
      }),
      leaderChangeBatch({
        leaderId: 2,
        voters: [1, 2, 3],
        grantingVoters: [2, 3],
        leaderEpoch: 4,
        timestamp: 1,
        baseOffset: 1,
      }),
      encodeBatch([{ key: encodeOffsetKey(key), value: encodeOffsetValue(value(5)), timestamp: 1 }], {
        baseOffset: 2,
      }),
    ]);
    expect(view.replay(batches)).toEqual({ skipped: 0, lastReason: '' });
    expect(view.get('g', 't', 0)?.offset).toBe(5);
  });
});
