// Kafka RecordBatch v2 header: the 61 bytes in front of every batch, on disk and on the wire.
//
//  byte  field                 type    note
//  0     baseOffset            int64   stamped by the leader on append
//  8     batchLength           int32   bytes after this field (a batch is batchLength + 12 bytes)
//  12    partitionLeaderEpoch  int32   leader epoch; NOT covered by the CRC
//  16    magic                 int8    2
//  17    crc                   uint32  CRC-32C of bytes 21..end
//  21    attributes            int16   bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control
//  23    lastOffsetDelta       int32
//  27    baseTimestamp         int64   ms
//  35    maxTimestamp          int64   ms
//  43    producerId            int64   -1 when not idempotent
//  51    producerEpoch         int16
//  53    baseSequence          int32
//  57    recordsCount          int32
//  61    records ...
//
// Why this layout is kept byte for byte: the broker treats a batch as opaque bytes. It validates
// the header and the CRC once, stamps baseOffset and partitionLeaderEpoch in place (both lie before
// byte 21, so the CRC stays valid), appends the same buffer and serves reads as slices. Only the
// record codec (record-batch.ts) ever looks past byte 61.
//
// Functions here are pure over (buffer, offset). Validation returns a reason string or null; it
// never throws on bad input.

import assert from 'node:assert/strict';
import { crc32c } from './crc32c.js';

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** Size of the batch header, records excluded. */
export const BATCH_HEADER_SIZE = RECORDS_OFFSET;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = BATCH_LENGTH_OFFSET + 4;
/** The smallest legal batchLength: a header with no records. */
export const MIN_BATCH_LENGTH = BATCH_HEADER_SIZE - LOG_OVERHEAD;
/** The CRC covers bytes from here to the end of the batch. */
export const CRC_START = ATTRIBUTES_OFFSET;
export const MAGIC_V2 = 2;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_BIT = 0x08;
export const TRANSACTIONAL_BIT = 0x10;
export const CONTROL_BIT = 0x20;

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

/** The largest batch the codec accepts at all; the broker's max.message.bytes is far below it. */
export const MAX_BATCH_LENGTH = 0x7fff_ffff - LOG_OVERHEAD;

// The layout is contiguous and each field follows the previous one's width.
assert.equal(BATCH_LENGTH_OFFSET, BASE_OFFSET_OFFSET + 8);
assert.equal(PARTITION_LEADER_EPOCH_OFFSET, BATCH_LENGTH_OFFSET + 4);
assert.equal(MAGIC_OFFSET, PARTITION_LEADER_EPOCH_OFFSET + 4);
assert.equal(CRC_OFFSET, MAGIC_OFFSET + 1);
assert.equal(ATTRIBUTES_OFFSET, CRC_OFFSET + 4);
assert.equal(LAST_OFFSET_DELTA_OFFSET, ATTRIBUTES_OFFSET + 2);
assert.equal(BASE_TIMESTAMP_OFFSET, LAST_OFFSET_DELTA_OFFSET + 4);
assert.equal(MAX_TIMESTAMP_OFFSET, BASE_TIMESTAMP_OFFSET + 8);
assert.equal(PRODUCER_ID_OFFSET, MAX_TIMESTAMP_OFFSET + 8);
assert.equal(PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET + 8);
assert.equal(BASE_SEQUENCE_OFFSET, PRODUCER_EPOCH_OFFSET + 2);
assert.equal(RECORDS_COUNT_OFFSET, BASE_SEQUENCE_OFFSET + 4);
assert.equal(RECORDS_OFFSET, RECORDS_COUNT_OFFSET + 4);
assert.equal(MIN_BATCH_LENGTH, 49);

const TWO_POW_32 = 0x1_0000_0000;

/** Reads an int64 as a JS number; values outside the safe-integer range read as NaN. */
export function readInt64(buf: Buffer, off: number): number {
  const hi = buf.readInt32BE(off);
  const lo = buf.readUInt32BE(off + 4);
  const v = hi * TWO_POW_32 + lo;
  return Number.isSafeInteger(v) ? v : Number.NaN;
}

export function writeInt64(buf: Buffer, off: number, value: number): void {
  assert.ok(Number.isSafeInteger(value), 'int64 value must be a safe integer');
  buf.writeInt32BE(Math.floor(value / TWO_POW_32), off);
  buf.writeUInt32BE(value >>> 0, off + 4);
}

export function batchBaseOffset(buf: Buffer, off: number): number {
  return readInt64(buf, off + BASE_OFFSET_OFFSET);
}
/** The batch's full size in bytes, header included. */
export function batchSize(buf: Buffer, off: number): number {
  return buf.readInt32BE(off + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
}
export function batchLastOffsetDelta(buf: Buffer, off: number): number {
  return buf.readInt32BE(off + LAST_OFFSET_DELTA_OFFSET);
}
export function batchLastOffset(buf: Buffer, off: number): number {
  return batchBaseOffset(buf, off) + batchLastOffsetDelta(buf, off);
}
export function batchLeaderEpoch(buf: Buffer, off: number): number {
  return buf.readInt32BE(off + PARTITION_LEADER_EPOCH_OFFSET);
}
export function batchAttributes(buf: Buffer, off: number): number {
  return buf.readInt16BE(off + ATTRIBUTES_OFFSET);
}
export function batchBaseTimestamp(buf: Buffer, off: number): number {
  return readInt64(buf, off + BASE_TIMESTAMP_OFFSET);
}
export function batchMaxTimestamp(buf: Buffer, off: number): number {
  return readInt64(buf, off + MAX_TIMESTAMP_OFFSET);
}
export function batchProducerId(buf: Buffer, off: number): number {
  return readInt64(buf, off + PRODUCER_ID_OFFSET);
}
export function batchProducerEpoch(buf: Buffer, off: number): number {
  return buf.readInt16BE(off + PRODUCER_EPOCH_OFFSET);
}
export function batchBaseSequence(buf: Buffer, off: number): number {
  return buf.readInt32BE(off + BASE_SEQUENCE_OFFSET);
}
export function batchRecordsCount(buf: Buffer, off: number): number {
  return buf.readInt32BE(off + RECORDS_COUNT_OFFSET);
}
export function batchStoredCrc(buf: Buffer, off: number): number {
  return buf.readUInt32BE(off + CRC_OFFSET);
}
export function batchIsControl(buf: Buffer, off: number): boolean {
  return (batchAttributes(buf, off) & CONTROL_BIT) !== 0;
}

/** CRC-32C the batch should carry, computed over bytes 21..end. */
export function computeBatchCrc(buf: Buffer, off: number): number {
  return crc32c(buf, off + CRC_START, off + batchSize(buf, off));
}

/**
 * Why the bytes at `off` (with `end` the first byte not available) are not a well-formed batch
 * header, or null. Checks sizes, magic and counters; not the CRC (see invalidBatch).
 */
export function invalidBatchHeader(buf: Buffer, off: number, end: number = buf.length): string | null {
  const available = end - off;
  if (available < LOG_OVERHEAD) return `batch header truncated: ${available} of ${LOG_OVERHEAD} bytes`;
  const length = buf.readInt32BE(off + BATCH_LENGTH_OFFSET);
  if (length < MIN_BATCH_LENGTH) return `batch length ${length} too short (minimum ${MIN_BATCH_LENGTH})`;
  if (length > MAX_BATCH_LENGTH) return `batch length ${length} too long`;
  if (available < BATCH_HEADER_SIZE) {
    return `batch header truncated: ${available} of ${BATCH_HEADER_SIZE} bytes`;
  }
  const magic = buf.readInt8(off + MAGIC_OFFSET);
  if (magic !== MAGIC_V2) return `bad magic ${magic} (expected ${MAGIC_V2})`;
  if (length + LOG_OVERHEAD > available) {
    return `batch length ${length} runs past the end of the data (${available - LOG_OVERHEAD} bytes follow)`;
  }
  const baseOffset = batchBaseOffset(buf, off);
  if (Number.isNaN(baseOffset) || baseOffset < 0) return 'base offset out of range';
  const lastOffsetDelta = batchLastOffsetDelta(buf, off);
  if (lastOffsetDelta < 0) return `negative last offset delta ${lastOffsetDelta}`;
  if (!Number.isSafeInteger(baseOffset + lastOffsetDelta)) return 'last offset out of range';
  const count = batchRecordsCount(buf, off);
  // Compaction may leave fewer records than the offset span, never more.
  if (count < 0 || count > lastOffsetDelta + 1) {
    return `record count ${count} does not fit last offset delta ${lastOffsetDelta}`;
  }
  if (Number.isNaN(batchBaseTimestamp(buf, off)) || Number.isNaN(batchMaxTimestamp(buf, off))) {
    return 'timestamp out of range';
  }
  return null;
}

/** invalidBatchHeader plus the CRC check. */
export function invalidBatch(buf: Buffer, off: number, end: number = buf.length): string | null {
  const header = invalidBatchHeader(buf, off, end);
  if (header !== null) return header;
  const stored = batchStoredCrc(buf, off);
  const actual = computeBatchCrc(buf, off);
  if (stored !== actual) {
    return `CRC mismatch: stored ${stored.toString(16).padStart(8, '0')}, computed ${actual.toString(16).padStart(8, '0')}`;
  }
  return null;
}

/** Stamps the base offset in place. The CRC does not cover it, so the batch stays valid. */
export function stampBaseOffset(buf: Buffer, off: number, baseOffset: number): void {
  writeInt64(buf, off + BASE_OFFSET_OFFSET, baseOffset);
}

/** Stamps the partition leader epoch in place; not covered by the CRC either. */
export function stampLeaderEpoch(buf: Buffer, off: number, epoch: number): void {
  buf.writeInt32BE(epoch, off + PARTITION_LEADER_EPOCH_OFFSET);
}
