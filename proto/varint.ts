// Kafka's variable-length integers: zigzag varint (int32) and varlong (int64), as used by every
// field inside a RecordBatch v2 record (lengths, deltas, counts).
//
//  zigzag      v >= 0 -> 2v,  v < 0 -> -2v - 1     so small magnitudes of either sign stay short
//  base 128    7 payload bits per byte, least significant group first; bit 7 set = more follow
//
//  value   bytes        value   bytes
//  0       00           63      7e
//  -1      01           -64     7f
//  1       02           64      80 01
//  -2      03           300     d8 04
//
// A varint takes at most 5 bytes (32 bits); a varlong at most 10 (64 bits). JS numbers hold only
// 53 bits exactly, so a varlong outside the safe-integer range is bad input here, like an overrun:
// offsets and timestamps are safe integers everywhere in weir (DESIGN "Records and batches").
//
// Conventions, chosen so the record loop allocates nothing:
// - Writers take (buf, off, value) and return the offset after the bytes written. The caller sized
//   the buffer with sizeOfVarint/sizeOfVarlong first; a value of the wrong kind is a bug (assert).
// - Readers take a caller-owned VarintCursor { pos, reason }. On success they return the value and
//   advance pos. On bad input they return NaN, leave pos at the start of the bad varint and set
//   reason to one of the constant strings below; they never throw. The reason is sticky: while it
//   is set, every read returns NaN, so a caller may read several fields and check once.
// - Decoding accepts non-minimal encodings (0x80 0x00 for 0), as Kafka's ByteUtils does, but
//   rejects a fifth varint byte that carries bits past 32 (Kafka silently drops them).

import assert from 'node:assert/strict';

export const MAX_VARINT_SIZE = 5;
export const MAX_VARLONG_SIZE = 10;

export const VARINT_TRUNCATED = 'varint runs past the end of the data';
export const VARINT_TOO_LONG = 'varint longer than 5 bytes';
export const VARINT_TOO_LARGE = 'varint exceeds 32 bits';
export const VARLONG_TRUNCATED = 'varlong runs past the end of the data';
export const VARLONG_TOO_LONG = 'varlong longer than 10 bytes';
export const VARLONG_UNSAFE = 'varlong outside the safe integer range';

/** A caller-owned read position; see the conventions at the top of this file. */
export interface VarintCursor {
  pos: number;
  reason: string | null;
}

export function varintCursor(pos = 0): VarintCursor {
  return { pos, reason: null };
}

const TWO_POW_26 = 0x400_0000;
const TWO_POW_27 = 0x800_0000;

// 28 bits of the unsigned value fit the 4 leading groups; the high part of a varlong above that
// must stay below 2^26 for (value >> 1) to be a safe integer.
assert.equal(TWO_POW_26 * TWO_POW_27, 2 ** 53);

function isInt32(value: number): boolean {
  return (value | 0) === value;
}

/** Bytes the zigzag varint of an int32 takes (1 to 5). */
export function sizeOfVarint(value: number): number {
  assert.ok(isInt32(value), 'varint value must be an int32');
  const u = ((value << 1) ^ (value >> 31)) >>> 0;
  if (u < 0x80) return 1;
  if (u < 0x4000) return 2;
  if (u < 0x20_0000) return 3;
  if (u < 0x1000_0000) return 4;
  return 5;
}

/** Bytes the zigzag varlong of a safe integer takes (1 to 9; 10 only for values JS cannot hold). */
export function sizeOfVarlong(value: number): number {
  if (isInt32(value)) return sizeOfVarint(value);
  assert.ok(Number.isSafeInteger(value), 'varlong value must be a safe integer');
  // zigzag(v) = 2m + sign with m the magnitude below; 2m + sign < 2^(7k) exactly when m < 2^(7k-1).
  let m = value >= 0 ? value : -value - 1;
  let bytes = 1;
  m = Math.floor(m / 64);
  while (m > 0) {
    bytes += 1;
    m = Math.floor(m / 128);
  }
  return bytes;
}

function writeUnsigned32(buf: Uint8Array, off: number, u: number): number {
  while (u >= 0x80) {
    buf[off++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[off++] = u;
  return off;
}

/** Writes the zigzag varint of an int32 at off; returns the offset after it. */
export function writeVarint(buf: Uint8Array, off: number, value: number): number {
  assert.ok(isInt32(value), 'varint value must be an int32');
  return writeUnsigned32(buf, off, ((value << 1) ^ (value >> 31)) >>> 0);
}

/** Writes the zigzag varlong of a safe integer at off; returns the offset after it. */
export function writeVarlong(buf: Uint8Array, off: number, value: number): number {
  // For an int32, zigzag-64 and zigzag-32 give the same unsigned number.
  if (isInt32(value)) return writeUnsigned32(buf, off, ((value << 1) ^ (value >> 31)) >>> 0);
  assert.ok(Number.isSafeInteger(value), 'varlong value must be a safe integer');
  // zigzag(v) can reach 2^54 - 3, past exact doubles, so emit it from the magnitude and the sign
  // bit instead of forming it: the first group is 6 magnitude bits above the sign bit.
  const sign = value < 0 ? 1 : 0;
  let m = value >= 0 ? value : -value - 1;
  let group = (m % 64) * 2 + sign;
  m = Math.floor(m / 64);
  while (m > 0) {
    buf[off++] = group | 0x80;
    group = m % 128;
    m = Math.floor(m / 128);
  }
  buf[off++] = group;
  return off;
}

/** Reads a zigzag varint (int32) at cursor.pos, below end. NaN and cursor.reason on bad input. */
export function readVarint(buf: Uint8Array, cursor: VarintCursor, end: number = buf.length): number {
  if (cursor.reason !== null) return Number.NaN;
  let pos = cursor.pos;
  let u = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return fail(cursor, VARINT_TRUNCATED);
    const b = buf[pos++]!;
    u |= (b & 0x7f) << shift;
    if (b < 0x80) {
      cursor.pos = pos;
      return (u >>> 1) ^ -(u & 1);
    }
  }
  if (pos >= end) return fail(cursor, VARINT_TRUNCATED);
  const last = buf[pos++]!;
  if (last >= 0x80) return fail(cursor, VARINT_TOO_LONG);
  if (last > 0x0f) return fail(cursor, VARINT_TOO_LARGE);
  u = (u | (last << 28)) >>> 0;
  cursor.pos = pos;
  return (u >>> 1) ^ -(u & 1);
}

/** Reads a zigzag varlong at cursor.pos, below end, as a safe integer. NaN and cursor.reason on bad input. */
export function readVarlong(buf: Uint8Array, cursor: VarintCursor, end: number = buf.length): number {
  if (cursor.reason !== null) return Number.NaN;
  let pos = cursor.pos;
  // The unsigned value is hi * 2^28 + lo: lo collects the first four groups with integer ops,
  // hi the rest as an exact double (at most 36 bits are ever added to it).
  let lo = 0;
  let shift = 0;
  for (; shift < 28; shift += 7) {
    if (pos >= end) return fail(cursor, VARLONG_TRUNCATED);
    const b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      cursor.pos = pos;
      return (lo >>> 1) ^ -(lo & 1);
    }
  }
  let hi = 0;
  let scale = 1;
  for (let i = 4; i < MAX_VARLONG_SIZE; i++) {
    if (pos >= end) return fail(cursor, VARLONG_TRUNCATED);
    const b = buf[pos++]!;
    hi += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) {
      if (hi >= TWO_POW_26) return fail(cursor, VARLONG_UNSAFE);
      const half = hi * TWO_POW_27 + (lo >>> 1);
      const value = (lo & 1) === 0 ? half : -half - 1;
      if (!Number.isSafeInteger(value)) return fail(cursor, VARLONG_UNSAFE);
      cursor.pos = pos;
      return value;
    }
  }
  return fail(cursor, VARLONG_TOO_LONG);
}

function fail(cursor: VarintCursor, reason: string): number {
  cursor.reason = reason;
  return Number.NaN;
}
