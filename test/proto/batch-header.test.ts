import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_BATCH_LENGTH,
  MAX_TIMESTAMP_OFFSET,
  MIN_BATCH_LENGTH,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORDS_COUNT_OFFSET,
  TRANSACTIONAL_BIT,
  batchAttributes,
  batchBaseOffset,
  batchBaseSequence,
  batchBaseTimestamp,
  batchIsControl,
  batchLastOffset,
  batchLastOffsetDelta,
  batchLeaderEpoch,
  batchMaxTimestamp,
  batchProducerEpoch,
  batchProducerId,
  batchRecordsCount,
  batchSize,
  batchStoredCrc,
  computeBatchCrc,
  invalidBatch,
  invalidBatchHeader,
  readInt64,
  stampBaseOffset,
  stampLeaderEpoch,
  writeInt64,
} from '../../proto/batch-header.js';
import { fixtureNames, readFixture } from './fixtures.js';

/** A fresh copy of a golden batch made by kafkajs: independent of weir's encoder. */
const golden = (name = 'single-record'): Buffer => Buffer.from(readFixture(name).bytes);

describe('reading the header of a golden batch', () => {
  it('given the producer-fields fixture, then every reader returns what kafkajs was asked to write', () => {
    const { bytes, batch, records } = readFixture('producer-fields');
    expect(batchBaseOffset(bytes, 0)).toBe(batch.baseOffset);
    expect(batchSize(bytes, 0)).toBe(bytes.length);
    expect(batchLeaderEpoch(bytes, 0)).toBe(batch.partitionLeaderEpoch);
    expect(batchAttributes(bytes, 0)).toBe(TRANSACTIONAL_BIT);
    expect(batchIsControl(bytes, 0)).toBe(false);
    expect(batchLastOffsetDelta(bytes, 0)).toBe(records.length - 1);
    expect(batchLastOffset(bytes, 0)).toBe(batch.baseOffset + records.length - 1);
    expect(batchBaseTimestamp(bytes, 0)).toBe(records[0]!.timestamp);
    expect(batchMaxTimestamp(bytes, 0)).toBe(Math.max(...records.map((r) => r.timestamp)));
    expect(batchProducerId(bytes, 0)).toBe(batch.producerId);
    expect(batchProducerEpoch(bytes, 0)).toBe(batch.producerEpoch);
    expect(batchBaseSequence(bytes, 0)).toBe(batch.baseSequence);
    expect(batchRecordsCount(bytes, 0)).toBe(records.length);
    expect(computeBatchCrc(bytes, 0)).toBe(batchStoredCrc(bytes, 0));
  });

  it.each(fixtureNames())('given the golden batch %s, then it is valid', (name) => {
    const bytes = golden(name);
    expect(invalidBatchHeader(bytes, 0)).toBeNull();
    expect(invalidBatch(bytes, 0)).toBeNull();
  });

  it('given two batches back to back after some bytes, when each is checked at its offset, then both are valid', () => {
    const a = golden('single-record');
    const b = golden('tombstone');
    const buf = Buffer.concat([Buffer.from('junk'), a, b, Buffer.from('tail')]);
    const second = 4 + batchSize(buf, 4);
    expect(invalidBatch(buf, 4, second)).toBeNull();
    expect(invalidBatch(buf, second)).toBeNull();
    expect(second + batchSize(buf, second)).toBe(buf.length - 4);
  });
});

describe('invalidBatchHeader: one test per reason', () => {
  it('given fewer than 12 bytes, then the header is truncated', () => {
    expect(invalidBatchHeader(golden(), 0, 5)).toBe('batch header truncated: 5 of 12 bytes');
  });

  it('given a batch length below the 49-byte minimum, then it is too short', () => {
    const buf = golden();
    buf.writeInt32BE(MIN_BATCH_LENGTH - 1, BATCH_LENGTH_OFFSET);
    expect(invalidBatchHeader(buf, 0)).toBe('batch length 48 too short (minimum 49)');
    buf.writeInt32BE(-1, BATCH_LENGTH_OFFSET);
    expect(invalidBatchHeader(buf, 0)).toMatch(/^batch length -1 too short/);
  });

  it('given a batch length above the maximum, then it is too long', () => {
    const buf = golden();
    buf.writeInt32BE(MAX_BATCH_LENGTH + 1, BATCH_LENGTH_OFFSET);
    expect(invalidBatchHeader(buf, 0)).toBe(`batch length ${MAX_BATCH_LENGTH + 1} too long`);
  });

  it('given a length but fewer than 61 bytes, then the header is truncated', () => {
    expect(invalidBatchHeader(golden(), 0, 30)).toBe(
      `batch header truncated: 30 of ${BATCH_HEADER_SIZE} bytes`,
    );
  });

  it('given magic 1, then the magic is bad', () => {
    const buf = golden();
    buf[MAGIC_OFFSET] = 1;
    expect(invalidBatchHeader(buf, 0)).toBe('bad magic 1 (expected 2)');
  });

  it('given the last byte missing, then the batch runs past the end of the data', () => {
    const buf = golden();
    expect(invalidBatchHeader(buf, 0, buf.length - 1)).toMatch(
      /^batch length 66 runs past the end of the data/,
    );
  });

  it('given a negative or unsafe base offset, then it is out of range', () => {
    const buf = golden();
    writeInt64(buf, BASE_OFFSET_OFFSET, -5);
    expect(invalidBatchHeader(buf, 0)).toBe('base offset out of range');
    buf.writeUInt32BE(0x7fff_ffff, BASE_OFFSET_OFFSET);
    buf.writeUInt32BE(0xffff_ffff, BASE_OFFSET_OFFSET + 4);
    expect(invalidBatchHeader(buf, 0)).toBe('base offset out of range');
  });

  it('given a negative last offset delta, then it is reported', () => {
    const buf = golden();
    buf.writeInt32BE(-1, LAST_OFFSET_DELTA_OFFSET);
    expect(invalidBatchHeader(buf, 0)).toBe('negative last offset delta -1');
  });

  it('given base offset + last offset delta past the safe range, then the last offset is out of range', () => {
    const buf = golden();
    writeInt64(buf, BASE_OFFSET_OFFSET, Number.MAX_SAFE_INTEGER - 1);
    buf.writeInt32BE(5, LAST_OFFSET_DELTA_OFFSET);
    expect(invalidBatchHeader(buf, 0)).toBe('last offset out of range');
  });

  it('given more records than the offset span, or a negative count, then the count does not fit', () => {
    const buf = golden();
    buf.writeInt32BE(2, RECORDS_COUNT_OFFSET);
    expect(invalidBatchHeader(buf, 0)).toBe('record count 2 does not fit last offset delta 0');
    buf.writeInt32BE(-1, RECORDS_COUNT_OFFSET);
    expect(invalidBatchHeader(buf, 0)).toBe('record count -1 does not fit last offset delta 0');
  });

  it('given fewer records than the offset span (compaction), then the header is fine', () => {
    const buf = golden();
    buf.writeInt32BE(9, LAST_OFFSET_DELTA_OFFSET);
    expect(invalidBatchHeader(buf, 0)).toBeNull();
  });

  it('given an unsafe base or max timestamp, then the timestamp is out of range', () => {
    for (const at of [BASE_TIMESTAMP_OFFSET, MAX_TIMESTAMP_OFFSET]) {
      const buf = golden();
      buf.writeUInt32BE(0x8000_0000, at);
      expect(invalidBatchHeader(buf, 0)).toBe('timestamp out of range');
    }
  });
});

describe('invalidBatch', () => {
  it('given a flipped byte anywhere from byte 21 on, then the CRC mismatches (and the header alone is fine)', () => {
    const length = golden().length;
    for (let at = ATTRIBUTES_OFFSET; at < length; at++) {
      const buf = golden();
      if (at >= LAST_OFFSET_DELTA_OFFSET && at < RECORDS_COUNT_OFFSET + 4) continue; // header reasons first
      buf[at]! ^= 0x01;
      expect(invalidBatch(buf, 0)).toMatch(/^CRC mismatch: stored [0-9a-f]{8}, computed [0-9a-f]{8}$/);
    }
  });

  it('given a wrong stored CRC, then the message names both values', () => {
    const buf = golden();
    const good = batchStoredCrc(buf, 0);
    buf.writeUInt32BE(0x0000_00ab, CRC_OFFSET);
    expect(invalidBatch(buf, 0)).toBe(
      `CRC mismatch: stored 000000ab, computed ${good.toString(16).padStart(8, '0')}`,
    );
    expect(invalidBatchHeader(buf, 0)).toBeNull();
  });

  it('given a header reason, then invalidBatch reports it rather than the CRC', () => {
    const buf = golden();
    buf[MAGIC_OFFSET] = 0;
    expect(invalidBatch(buf, 0)).toBe('bad magic 0 (expected 2)');
  });
});

describe('stamping', () => {
  it('given a valid batch, when base offset and leader epoch are stamped, then it stays valid and reads them back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1000 }),
        fc.integer(),
        (offset, epoch) => {
          const buf = golden('producer-fields');
          const crc = batchStoredCrc(buf, 0);
          stampBaseOffset(buf, 0, offset);
          stampLeaderEpoch(buf, 0, epoch);
          expect(batchBaseOffset(buf, 0)).toBe(offset);
          expect(batchLeaderEpoch(buf, 0)).toBe(epoch);
          expect(batchStoredCrc(buf, 0)).toBe(crc);
          expect(invalidBatch(buf, 0)).toBeNull();
        },
      ),
      { numRuns: 100 },
    );
  });

  it('given a batch inside a larger buffer, when stamped at its offset, then only its own bytes change', () => {
    const batch = golden();
    const buf = Buffer.concat([Buffer.alloc(10, 0xee), batch, Buffer.alloc(10, 0xee)]);
    stampBaseOffset(buf, 10, 77);
    stampLeaderEpoch(buf, 10, 3);
    expect(buf.subarray(0, 10)).toEqual(Buffer.alloc(10, 0xee));
    expect(buf.subarray(10 + batch.length)).toEqual(Buffer.alloc(10, 0xee));
    expect(buf.readInt32BE(10 + PARTITION_LEADER_EPOCH_OFFSET)).toBe(3);
    expect(invalidBatch(buf, 10, 10 + batch.length)).toBeNull();
  });
});

describe('readInt64 / writeInt64', () => {
  it.each([
    [0, '0000000000000000'],
    [-1, 'ffffffffffffffff'],
    [1, '0000000000000001'],
    [2 ** 32, '0000000100000000'],
    [-(2 ** 32), 'ffffffff00000000'],
    [Number.MAX_SAFE_INTEGER, '001fffffffffffff'],
    [Number.MIN_SAFE_INTEGER, 'ffe0000000000001'],
    [1_700_000_000_000, '0000018bcfe56800'],
  ])('given %d, then it is written as big-endian %s and read back', (value, hex) => {
    const buf = Buffer.alloc(8);
    writeInt64(buf, 0, value);
    expect(buf.toString('hex')).toBe(hex);
    expect(readInt64(buf, 0)).toBe(value);
  });

  it('given any safe integer at any offset, then it round trips and matches BigInt encoding', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.nat(8), (value, off) => {
        const buf = Buffer.alloc(off + 8);
        writeInt64(buf, off, value);
        expect(buf.readBigInt64BE(off)).toBe(BigInt(value));
        expect(readInt64(buf, off)).toBe(value);
      }),
      { numRuns: 500 },
    );
  });

  it('given 64-bit values outside the safe range, then readInt64 gives NaN', () => {
    const buf = Buffer.alloc(8);
    for (const v of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      buf.writeBigInt64BE(v, 0);
      expect(readInt64(buf, 0)).toBeNaN();
    }
  });

  it('given an unsafe value, then writeInt64 asserts (a bug in the caller)', () => {
    expect(() => writeInt64(Buffer.alloc(8), 0, 2 ** 53)).toThrow(/safe integer/);
  });
});
