// The record codec for Kafka RecordBatch v2: whole batches to and from records.
//
//  byte  field                 note
//  0     header (61 bytes)     see batch-header.ts; recordsCount at byte 57
//  61    records               recordsCount records back to back (see record.ts), when
//                              attributes bits 0-2 are 0 (no compression)
//  61    compressed records    otherwise: the same record bytes, compressed as one stream
//                              (1 gzip, 2 snappy, 3 lz4, 4 zstd; see compression.ts)
//
// What a valid batch is, beyond a valid header and CRC (invalidBatch): exactly recordsCount
// records fill the records area with no byte left over; each record is well formed (readRecord);
// offset deltas rise strictly and stay within [0, lastOffsetDelta] (compaction leaves gaps, never
// reorders); each record's timestamp (baseTimestamp + delta) is a safe integer. Under
// LogAppendTime (attributes bit 3) every record's timestamp is the batch's maxTimestamp, as Kafka
// reads it.
//
// Why these functions and not one decoder: the broker's produce path needs only a yes/no
// (invalidRecords) over opaque bytes; compaction needs keys and offsets without copies
// (forEachRecord); clients need objects (decodeBatch). All three share one walk (walkRecords),
// so they agree on every reason. Nothing here throws on bad input; encodeBatch throws WeirError on
// bad records or options, since those come from the caller.

import assert from 'node:assert/strict';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_MASK,
  CONTROL_BIT,
  CRC_OFFSET,
  CRC_START,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_BATCH_LENGTH,
  MAX_TIMESTAMP_OFFSET,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  TIMESTAMP_TYPE_BIT,
  TRANSACTIONAL_BIT,
  batchAttributes,
  batchBaseOffset,
  batchBaseSequence,
  batchBaseTimestamp,
  batchLastOffsetDelta,
  batchLeaderEpoch,
  batchMaxTimestamp,
  batchProducerEpoch,
  batchProducerId,
  batchRecordsCount,
  batchSize,
  batchStoredCrc,
  invalidBatch,
  invalidBatchHeader,
  writeInt64,
} from './batch-header.js';
import {
  COMPRESSION_NONE,
  COMPRESSION_ZSTD,
  INFLATED_TOO_LARGE,
  compressSync,
  compressionCodec,
  compressionName,
  inflateSync,
  type Compression,
} from './compression.js';
import { crc32c } from './crc32c.js';
import { WeirError } from './errors.js';
import {
  readHeaders,
  readRecord,
  recordView,
  sizeOfRecordBody,
  writeRecord,
  type LogRecord,
  type RecordInput,
  type RecordView,
} from './record.js';
import { sizeOfVarint } from './varint.js';

export type { LogRecord, RecordHeader, RecordHeaderInput, RecordInput, RecordView } from './record.js';

export {
  COMPRESSION_GZIP,
  COMPRESSION_LZ4,
  COMPRESSION_NONE,
  COMPRESSION_SNAPPY,
  COMPRESSION_ZSTD,
  COMPRESSIONS,
} from './compression.js';
export type { Compression } from './compression.js';

/** Kafka's NO_TIMESTAMP: the timestamps of a batch with no records. */
export const NO_TIMESTAMP = -1;

/** A compressed batch may not inflate past this; a guard against decompression bombs. */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

export type TimestampType = 'create-time' | 'log-append-time';

assert.equal(COMPRESSION_ZSTD & COMPRESSION_MASK, COMPRESSION_ZSTD);

export interface EncodeBatchOptions {
  /** Default 0; the leader stamps the real one on append. */
  baseOffset?: number;
  /** Default -1. */
  partitionLeaderEpoch?: number;
  /** Default -1 (not idempotent). */
  producerId?: number;
  /** Default -1. */
  producerEpoch?: number;
  /** Default -1. */
  baseSequence?: number;
  /** Default 'none'. */
  compression?: Compression;
  /** Default 'create-time'. */
  timestampType?: TimestampType;
  /**
   * Default: the largest record timestamp (NO_TIMESTAMP for no records). Under log-append-time it
   * is the append time; under create-time it may only raise the computed value (compaction keeps
   * the original batch's).
   */
  maxTimestamp?: number;
  /** Default: the last record's offset delta (0 for no records); compaction keeps the original. */
  lastOffsetDelta?: number;
  /** Sets attributes bit 4. Default false. */
  transactional?: boolean;
}

/** A decoded batch: the header's fields and its records. */
export interface RecordBatch {
  baseOffset: number;
  /** The batch's size in bytes, header included: the next batch starts this far after it. */
  size: number;
  partitionLeaderEpoch: number;
  crc: number;
  attributes: number;
  compression: number;
  timestampType: TimestampType;
  transactional: boolean;
  control: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  records: LogRecord[];
}

export type DecodeBatchResult = { ok: true; batch: RecordBatch } | { ok: false; reason: string };

/**
 * One record as forEachRecord shows it, without copies: key and value are ranges of `data`, which
 * is the batch buffer or, for a compressed batch, its decompressed records. The entry and its view
 * are reused for every record of a walk; copy what you keep.
 */
export interface RecordEntry {
  offset: number;
  timestamp: number;
  data: Buffer;
  view: RecordView;
}

export type RecordVisitor<S> = (entry: RecordEntry, state: S) => boolean | void;

function invalidInput(
  code: 'INVALID_RECORD' | 'INVALID_REQUEST' | 'INVALID_TIMESTAMP',
  detail: string,
): never {
  throw new WeirError(code, detail);
}

function int(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    invalidInput('INVALID_REQUEST', `${name} ${value} out of range [${min}, ${max}]`);
  }
  return value;
}

function checkRecord(record: RecordInput, index: number): void {
  if (!Number.isSafeInteger(record.timestamp)) {
    invalidInput('INVALID_TIMESTAMP', `record ${index}: timestamp ${record.timestamp} is not a safe integer`);
  }
  if (record.key !== null && !(record.key instanceof Uint8Array)) {
    invalidInput('INVALID_RECORD', `record ${index}: key must be bytes or null`);
  }
  if (record.value !== null && !(record.value instanceof Uint8Array)) {
    invalidInput('INVALID_RECORD', `record ${index}: value must be bytes or null`);
  }
  const headers = record.headers ?? [];
  for (let j = 0; j < headers.length; j++) {
    const header = headers[j]!;
    if (typeof header.key !== 'string')
      invalidInput('INVALID_RECORD', `record ${index}: header ${j} key must be a string`);
    if (header.value !== null && !(header.value instanceof Uint8Array)) {
      invalidInput('INVALID_RECORD', `record ${index}: header ${j} value must be bytes or null`);
    }
  }
}

/**
 * Encodes records as one complete RecordBatch v2 (CRC filled in). The size is computed first and
 * the batch written into one buffer; compressed, the records are written into one buffer,
 * compressed, and the header put in front. Throws WeirError on bad records or options.
 */
export function encodeBatch(records: readonly RecordInput[], options: EncodeBatchOptions = {}): Buffer {
  const baseOffset = int(options.baseOffset, 0, 0, Number.MAX_SAFE_INTEGER, 'baseOffset');
  const leaderEpoch = int(
    options.partitionLeaderEpoch,
    NO_PARTITION_LEADER_EPOCH,
    -1,
    0x7fff_ffff,
    'partitionLeaderEpoch',
  );
  const producerId = int(options.producerId, NO_PRODUCER_ID, -1, Number.MAX_SAFE_INTEGER, 'producerId');
  const producerEpoch = int(options.producerEpoch, NO_PRODUCER_EPOCH, -1, 0x7fff, 'producerEpoch');
  const baseSequence = int(options.baseSequence, NO_SEQUENCE, -1, 0x7fff_ffff, 'baseSequence');
  const compression = options.compression ?? 'none';
  const codec = compressionCodec(compression);
  if (codec < 0) invalidInput('INVALID_REQUEST', `compression ${String(compression)} not supported`);
  const logAppendTime = options.timestampType === 'log-append-time';

  const count = records.length;
  const baseTimestamp = count === 0 ? NO_TIMESTAMP : records[0]!.timestamp;
  let maxTimestamp = NO_TIMESTAMP;
  let lastDelta = -1;
  const bodySizes = new Int32Array(count);
  const offsetDeltas = new Int32Array(count);
  let recordsSize = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    checkRecord(record, i);
    const offsetDelta = record.offsetDelta ?? i;
    if (!Number.isInteger(offsetDelta) || offsetDelta <= lastDelta || offsetDelta > 0x7fff_ffff) {
      invalidInput('INVALID_RECORD', `record ${i}: offset delta ${offsetDelta} does not follow ${lastDelta}`);
    }
    const timestampDelta = record.timestamp - baseTimestamp;
    if (!Number.isSafeInteger(timestampDelta)) {
      invalidInput(
        'INVALID_TIMESTAMP',
        `record ${i}: timestamp ${record.timestamp} too far from ${baseTimestamp}`,
      );
    }
    if (i === 0 || record.timestamp > maxTimestamp) maxTimestamp = record.timestamp;
    lastDelta = offsetDelta;
    offsetDeltas[i] = offsetDelta;
    const bodySize = sizeOfRecordBody(record, timestampDelta, offsetDelta);
    bodySizes[i] = bodySize;
    recordsSize += sizeOfVarint(bodySize) + bodySize;
  }
  if (options.maxTimestamp !== undefined) {
    const given = options.maxTimestamp;
    if (!Number.isSafeInteger(given) || (!logAppendTime && count > 0 && given < maxTimestamp)) {
      invalidInput('INVALID_TIMESTAMP', `maxTimestamp ${given} below the records' ${maxTimestamp}`);
    }
    maxTimestamp = given;
  }
  const lastOffsetDelta = int(
    options.lastOffsetDelta,
    Math.max(lastDelta, 0),
    Math.max(lastDelta, 0),
    0x7fff_ffff,
    'lastOffsetDelta',
  );
  if (baseOffset + lastOffsetDelta > Number.MAX_SAFE_INTEGER) {
    invalidInput('INVALID_REQUEST', `last offset ${baseOffset} + ${lastOffsetDelta} out of range`);
  }
  if (BATCH_HEADER_SIZE + recordsSize - LOG_OVERHEAD > MAX_BATCH_LENGTH) {
    throw new WeirError('MESSAGE_TOO_LARGE', `${recordsSize} bytes of records`);
  }

  let batch: Buffer;
  if (codec !== COMPRESSION_NONE) {
    const plain = Buffer.allocUnsafe(recordsSize);
    writeRecords(plain, 0, records, baseTimestamp, offsetDeltas, bodySizes);
    const compressed = compressSync(compression, plain);
    batch = Buffer.allocUnsafe(BATCH_HEADER_SIZE + compressed.length);
    compressed.copy(batch, BATCH_HEADER_SIZE);
  } else {
    batch = Buffer.allocUnsafe(BATCH_HEADER_SIZE + recordsSize);
    writeRecords(batch, BATCH_HEADER_SIZE, records, baseTimestamp, offsetDeltas, bodySizes);
  }

  const attributes =
    codec |
    (logAppendTime ? TIMESTAMP_TYPE_BIT : 0) |
    (options.transactional === true ? TRANSACTIONAL_BIT : 0);
  writeInt64(batch, BASE_OFFSET_OFFSET, baseOffset);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(leaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(MAGIC_V2, MAGIC_OFFSET);
  batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(batch, BASE_TIMESTAMP_OFFSET, count === 0 ? maxTimestamp : baseTimestamp);
  writeInt64(batch, MAX_TIMESTAMP_OFFSET, maxTimestamp);
  writeInt64(batch, PRODUCER_ID_OFFSET, producerId);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(count, RECORDS_COUNT_OFFSET);
  batch.writeUInt32BE(crc32c(batch, CRC_START, batch.length), CRC_OFFSET);
  return batch;
}

function writeRecords(
  buf: Buffer,
  pos: number,
  records: readonly RecordInput[],
  baseTimestamp: number,
  offsetDeltas: Int32Array,
  bodySizes: Int32Array,
): void {
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    pos = writeRecord(buf, pos, record, record.timestamp - baseTimestamp, offsetDeltas[i]!, bodySizes[i]!);
  }
  assert.equal(pos, buf.length, 'records did not fill the computed size');
}

/**
 * The record bytes of a batch whose header is valid: the batch itself, or its records inflated
 * (here, or already, by the caller: see batch-inflate.ts).
 */
function recordsData(
  buf: Buffer,
  off: number,
  inflated: Buffer | null,
): { data: Buffer; start: number; end: number } | string {
  const end = off + batchSize(buf, off);
  const codec = batchAttributes(buf, off) & COMPRESSION_MASK;
  if (codec === COMPRESSION_NONE) return { data: buf, start: off + BATCH_HEADER_SIZE, end };
  if (inflated !== null) return { data: inflated, start: 0, end: inflated.length };
  const data = inflateSync(codec, buf.subarray(off + BATCH_HEADER_SIZE, end), MAX_DECOMPRESSED_BYTES);
  if (data === INFLATED_TOO_LARGE) {
    return `${compressionName(codec)}: records inflate past ${MAX_DECOMPRESSED_BYTES} bytes`;
  }
  if (typeof data === 'string') return data;
  return { data, start: 0, end: data.length };
}

/**
 * Walks the records of the batch at off (header already valid), validating each before handing it
 * to visit (if any). Returns the first reason, or null. A visitor returning false stops the walk.
 */
function walkRecords<S>(
  buf: Buffer,
  off: number,
  visit: RecordVisitor<S> | null,
  state: S,
  inflated: Buffer | null = null,
): string | null {
  const located = recordsData(buf, off, inflated);
  if (typeof located === 'string') return located;
  const { data, start, end } = located;
  const count = batchRecordsCount(buf, off);
  const baseOffset = batchBaseOffset(buf, off);
  const baseTimestamp = batchBaseTimestamp(buf, off);
  const lastOffsetDelta = batchLastOffsetDelta(buf, off);
  const logAppendTime = (batchAttributes(buf, off) & TIMESTAMP_TYPE_BIT) !== 0;
  const maxTimestamp = batchMaxTimestamp(buf, off);
  // One view and one entry per walk, reused for every record: nothing is allocated per record,
  // and a visitor that decodes another batch cannot clobber them.
  const view = recordView();
  const entry: RecordEntry = { offset: 0, timestamp: 0, data, view };
  let pos = start;
  let previousDelta = -1;
  for (let i = 0; i < count; i++) {
    if (pos >= end) return `batch declares ${count} records but holds ${i}`;
    const reason = readRecord(data, pos, end, view);
    if (reason !== null) return `record ${i}: ${reason}`;
    const delta = view.offsetDelta;
    if (delta <= previousDelta) return `record ${i}: offset delta ${delta} not above ${previousDelta}`;
    if (delta > lastOffsetDelta) {
      return `record ${i}: offset delta ${delta} beyond last offset delta ${lastOffsetDelta}`;
    }
    const timestamp = baseTimestamp + view.timestampDelta;
    if (!Number.isSafeInteger(timestamp)) return `record ${i}: timestamp out of range`;
    previousDelta = delta;
    pos = view.end;
    if (visit !== null) {
      entry.offset = baseOffset + delta;
      entry.timestamp = logAppendTime ? maxTimestamp : timestamp;
      if (visit(entry, state) === false) return null;
    }
  }
  if (pos !== end) return `${end - pos} bytes left over after ${count} records`;
  return null;
}

/**
 * Why the records of the batch at off are not valid, or null. Checks the header (not the CRC:
 * pair with invalidBatch) and then every record, building no objects. Compressed batches are
 * inflated to be checked, unless the caller passes their records already inflated; codecs 5-7
 * are reported as unsupported.
 */
export function invalidRecords(
  buf: Buffer,
  off = 0,
  end: number = buf.length,
  inflated: Buffer | null = null,
): string | null {
  const header = invalidBatchHeader(buf, off, end);
  if (header !== null) return header;
  return walkRecords(buf, off, null, null, inflated);
}

/**
 * Validates the batch at off (header, CRC, then records as they go) and calls visit for each
 * record in order. Returns the first reason, or null; records before a bad one have been visited.
 * The entry passed to visit is reused; return false from visit to stop early.
 */
export function forEachRecord<S>(
  buf: Buffer,
  off: number,
  visit: RecordVisitor<S>,
  state: S,
  end: number = buf.length,
): string | null {
  const reason = invalidBatch(buf, off, end);
  if (reason !== null) return reason;
  return walkRecords(buf, off, visit, state);
}

/**
 * Walks the records of the compressed batch at off, whose header and CRC were checked already
 * (a stored batch), from its records inflated beforehand (batch-inflate.ts); each record is
 * checked as forEachRecord checks it. Returns the first reason, or null.
 */
export function forEachRecordInflated<S>(
  buf: Buffer,
  off: number,
  inflated: Buffer,
  visit: RecordVisitor<S>,
  state: S,
): string | null {
  return walkRecords(buf, off, visit, state, inflated);
}

function collectRecord(entry: RecordEntry, records: LogRecord[]): void {
  const { data, view } = entry;
  records.push({
    offset: entry.offset,
    timestamp: entry.timestamp,
    key: view.keyLength < 0 ? null : data.subarray(view.keyStart, view.keyStart + view.keyLength),
    value: view.valueLength < 0 ? null : data.subarray(view.valueStart, view.valueStart + view.valueLength),
    headers: readHeaders(data, view),
  });
}

/**
 * Decodes the batch at off (ending at or before end): header and CRC (invalidBatch), then every
 * record. Keys, values and header values are views into buf (or into the inflated records of a
 * compressed batch), not copies. Never throws on bad input.
 */
export function decodeBatch(buf: Buffer, off = 0, end: number = buf.length): DecodeBatchResult {
  const invalid = invalidBatch(buf, off, end);
  if (invalid !== null) return { ok: false, reason: invalid };
  const records: LogRecord[] = [];
  const reason = walkRecords(buf, off, collectRecord, records);
  if (reason !== null) return { ok: false, reason };
  const attributes = batchAttributes(buf, off);
  return {
    ok: true,
    batch: {
      baseOffset: batchBaseOffset(buf, off),
      size: batchSize(buf, off),
      partitionLeaderEpoch: batchLeaderEpoch(buf, off),
      crc: batchStoredCrc(buf, off),
      attributes,
      compression: attributes & COMPRESSION_MASK,
      timestampType: (attributes & TIMESTAMP_TYPE_BIT) === 0 ? 'create-time' : 'log-append-time',
      transactional: (attributes & TRANSACTIONAL_BIT) !== 0,
      control: (attributes & CONTROL_BIT) !== 0,
      lastOffsetDelta: batchLastOffsetDelta(buf, off),
      baseTimestamp: batchBaseTimestamp(buf, off),
      maxTimestamp: batchMaxTimestamp(buf, off),
      producerId: batchProducerId(buf, off),
      producerEpoch: batchProducerEpoch(buf, off),
      baseSequence: batchBaseSequence(buf, off),
      records,
    },
  };
}
