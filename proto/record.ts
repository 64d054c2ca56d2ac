// One record inside a Kafka RecordBatch v2 (after the 61-byte header, or inside the decompressed
// payload of a compressed batch). Records follow each other with no padding.
//
//  field              type     note
//  length             varint   bytes after this field
//  attributes         int8     unused by Kafka so far; carried through, not checked
//  timestampDelta     varlong  ms, added to the batch's baseTimestamp
//  offsetDelta        varint   added to the batch's baseOffset
//  keyLength          varint   -1 = null key
//  key                bytes
//  valueLength        varint   -1 = null value (a tombstone under compaction)
//  value              bytes
//  headerCount        varint
//  headers, each:
//    headerKeyLength  varint   never null (Kafka rejects a null header key)
//    headerKey        bytes    UTF-8
//    headerValueLength varint  -1 = null value
//    headerValue      bytes
//
// Why varints: most records are small, and most deltas and lengths fit one byte, so Kafka made
// every per-record field variable-length; only the batch header is fixed. The length prefix lets
// a reader skip a record without parsing it, which is why it must agree with the content.
//
// Reading is split from building objects: readRecord validates a record and fills a caller-owned
// RecordView of positions (no allocation, nothing copied), so validation on produce and scans for
// compaction never build objects. Reasons returned here name the field; the batch codec
// (record-batch.ts) prefixes them with the record's index.

import assert from 'node:assert/strict';
import {
  readVarint,
  readVarlong,
  sizeOfVarint,
  sizeOfVarlong,
  varintCursor,
  writeVarint,
  writeVarlong,
} from './varint.js';

/** attributes + timestampDelta + offsetDelta + keyLength + valueLength + headerCount, 1 byte each. */
export const MIN_RECORD_BODY_SIZE = 6;
/** A null key, value or header value has this length. */
export const NULL_LENGTH = -1;

/** A header as decoded: the key is text, the value bytes or null. */
export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordHeaderInput {
  key: string;
  value: Uint8Array | null;
}

/** A record to encode. offsetDelta defaults to the record's index in the batch. */
export interface RecordInput {
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: readonly RecordHeaderInput[];
  offsetDelta?: number;
}

/** A decoded record. key and value are views into the buffer decoded, not copies. */
export interface LogRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Where the parts of one record lie in a buffer; positions are absolute. Filled by readRecord. */
export interface RecordView {
  /** First byte of the length varint. */
  start: number;
  /** First byte after the record. */
  end: number;
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  keyStart: number;
  /** -1 for a null key. */
  keyLength: number;
  valueStart: number;
  /** -1 for a null value (tombstone). */
  valueLength: number;
  /** First byte of the first header, after the header count. */
  headersStart: number;
  headerCount: number;
}

export function recordView(): RecordView {
  return {
    start: 0,
    end: 0,
    attributes: 0,
    timestampDelta: 0,
    offsetDelta: 0,
    keyStart: 0,
    keyLength: NULL_LENGTH,
    valueStart: 0,
    valueLength: NULL_LENGTH,
    headersStart: 0,
    headerCount: 0,
  };
}

// One scratch cursor for the whole module: readers run to completion and never call out.
const cursor = varintCursor();

/**
 * Validates the record at `pos` (records end at `end`) and fills `view`. Returns why it is not a
 * well-formed record, or null. Never throws on bad input.
 */
export function readRecord(buf: Uint8Array, pos: number, end: number, view: RecordView): string | null {
  cursor.pos = pos;
  cursor.reason = null;
  const length = readVarint(buf, cursor, end);
  if (cursor.reason !== null) return `length: ${cursor.reason}`;
  if (length < MIN_RECORD_BODY_SIZE) return `length ${length} too short (minimum ${MIN_RECORD_BODY_SIZE})`;
  const bodyStart = cursor.pos;
  if (length > end - bodyStart) {
    return `length ${length} runs past the end of the records (${end - bodyStart} bytes left)`;
  }
  const recordEnd = bodyStart + length;
  view.start = pos;
  view.end = recordEnd;
  view.attributes = buf[bodyStart]!;
  cursor.pos = bodyStart + 1;
  view.timestampDelta = readVarlong(buf, cursor, recordEnd);
  if (cursor.reason !== null) return `timestamp delta: ${cursor.reason}`;
  view.offsetDelta = readVarint(buf, cursor, recordEnd);
  if (cursor.reason !== null) return `offset delta: ${cursor.reason}`;

  const keyLength = readVarint(buf, cursor, recordEnd);
  const keyReason = bytesReason(keyLength, recordEnd, 'key');
  if (keyReason !== null) return keyReason;
  view.keyStart = cursor.pos;
  view.keyLength = keyLength;
  if (keyLength > 0) cursor.pos += keyLength;

  const valueLength = readVarint(buf, cursor, recordEnd);
  const valueReason = bytesReason(valueLength, recordEnd, 'value');
  if (valueReason !== null) return valueReason;
  view.valueStart = cursor.pos;
  view.valueLength = valueLength;
  if (valueLength > 0) cursor.pos += valueLength;

  const headerCount = readVarint(buf, cursor, recordEnd);
  if (cursor.reason !== null) return `header count: ${cursor.reason}`;
  if (headerCount < 0) return `negative header count ${headerCount}`;
  view.headersStart = cursor.pos;
  view.headerCount = headerCount;
  for (let i = 0; i < headerCount; i++) {
    const headerKeyLength = readVarint(buf, cursor, recordEnd);
    if (headerKeyLength === NULL_LENGTH) return `header ${i} key is null`;
    const headerKeyReason = bytesReason(headerKeyLength, recordEnd, 'key', i);
    if (headerKeyReason !== null) return headerKeyReason;
    cursor.pos += headerKeyLength;
    const headerValueLength = readVarint(buf, cursor, recordEnd);
    const headerValueReason = bytesReason(headerValueLength, recordEnd, 'value', i);
    if (headerValueReason !== null) return headerValueReason;
    if (headerValueLength > 0) cursor.pos += headerValueLength;
  }
  if (cursor.pos !== recordEnd) {
    return `length ${length} disagrees with content (${cursor.pos - bodyStart} bytes)`;
  }
  return null;
}

/** Why a length just read (with cursor.pos after it) cannot head `length` bytes, or null. */
function bytesReason(length: number, recordEnd: number, what: 'key' | 'value', header = -1): string | null {
  const name = header < 0 ? what : `header ${header} ${what}`;
  if (cursor.reason !== null) return `${name} length: ${cursor.reason}`;
  if (length < NULL_LENGTH) return `${name} length ${length} is negative`;
  if (length > recordEnd - cursor.pos) return `${name} length ${length} runs past the end of the record`;
  return null;
}

/** The headers of a record that readRecord accepted, decoded (values are views into buf). */
export function readHeaders(buf: Buffer, view: RecordView): RecordHeader[] {
  const headers: RecordHeader[] = [];
  cursor.pos = view.headersStart;
  cursor.reason = null;
  for (let i = 0; i < view.headerCount; i++) {
    const keyLength = readVarint(buf, cursor, view.end);
    const key = buf.toString('utf8', cursor.pos, cursor.pos + keyLength);
    cursor.pos += keyLength;
    const valueLength = readVarint(buf, cursor, view.end);
    const value = valueLength === NULL_LENGTH ? null : buf.subarray(cursor.pos, cursor.pos + valueLength);
    if (valueLength > 0) cursor.pos += valueLength;
    headers.push({ key, value });
  }
  assert.ok(cursor.reason === null && cursor.pos === view.end, 'readHeaders on a record readRecord rejected');
  return headers;
}

function sizeOfBytes(bytes: Uint8Array | null): number {
  return bytes === null ? 1 : sizeOfVarint(bytes.length) + bytes.length;
}

/** Bytes of the record after its length field. The caller checked the input (record-batch.ts). */
export function sizeOfRecordBody(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  size += sizeOfBytes(record.key) + sizeOfBytes(record.value);
  const headers = record.headers;
  const headerCount = headers === undefined ? 0 : headers.length;
  size += sizeOfVarint(headerCount);
  for (let i = 0; i < headerCount; i++) {
    const header = headers![i]!;
    const keyLength = Buffer.byteLength(header.key, 'utf8');
    size += sizeOfVarint(keyLength) + keyLength + sizeOfBytes(header.value);
  }
  return size;
}

function writeBytes(buf: Buffer, pos: number, bytes: Uint8Array | null): number {
  if (bytes === null) return writeVarint(buf, pos, NULL_LENGTH);
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/**
 * Writes the record at pos, length field first, with the body size sizeOfRecordBody gave for the
 * same arguments; returns the position after it.
 */
export function writeRecord(
  buf: Buffer,
  pos: number,
  record: RecordInput,
  timestampDelta: number,
  offsetDelta: number,
  bodySize: number,
): number {
  pos = writeVarint(buf, pos, bodySize);
  const bodyStart = pos;
  buf[pos++] = 0; // attributes
  pos = writeVarlong(buf, pos, timestampDelta);
  pos = writeVarint(buf, pos, offsetDelta);
  pos = writeBytes(buf, pos, record.key);
  pos = writeBytes(buf, pos, record.value);
  const headers = record.headers;
  const headerCount = headers === undefined ? 0 : headers.length;
  pos = writeVarint(buf, pos, headerCount);
  for (let i = 0; i < headerCount; i++) {
    const header = headers![i]!;
    pos = writeVarint(buf, pos, Buffer.byteLength(header.key, 'utf8'));
    pos += buf.write(header.key, pos, 'utf8');
    pos = writeBytes(buf, pos, header.value);
  }
  assert.equal(pos - bodyStart, bodySize, 'record body size disagrees with sizeOfRecordBody');
  return pos;
}
