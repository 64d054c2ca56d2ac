// The primitive types of Kafka's protocol, read from and written to bytes: big-endian integers,
// strings and byte arrays with int16/int32 lengths (-1 for null) in classic versions, and with
// unsigned varint lengths plus one (0 for null) in flexible versions, UUIDs, and the tagged-field
// section flexible structs end with.
//
// A request comes from the network, so every read is checked: a length past the end, a negative
// length other than null's -1, a varint longer than 5 bytes, a string that is not UTF-8, or an
// array claiming more elements than bytes are left all throw WeirError INVALID_REQUEST, and the
// connection that sent it is closed. A claimed size never allocates before it is checked against
// the bytes actually there.
//
// The writer keeps large byte fields (a fetch response's record batches) as their own chunks
// instead of copying them, so a response goes to the socket as a list of buffers (writev).

import { WeirError } from '../errors.js';

/** Byte fields at least this long are kept as their own chunk rather than copied. */
const CHUNK_MIN = 1024;

const decoder = new TextDecoder('utf-8', { fatal: true });

function bad(detail: string): WeirError {
  return new WeirError('INVALID_REQUEST', detail);
}

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): number {
    const at = this.pos;
    if (n > this.end - at) throw bad(`${what} runs past the end of the message`);
    this.pos = at + n;
    return at;
  }

  bool(): boolean {
    return this.buf[this.need(1, 'bool')] !== 0;
  }
  int8(): number {
    return this.buf.readInt8(this.need(1, 'int8'));
  }
  int16(): number {
    return this.buf.readInt16BE(this.need(2, 'int16'));
  }
  uint16(): number {
    return this.buf.readUInt16BE(this.need(2, 'uint16'));
  }
  int32(): number {
    return this.buf.readInt32BE(this.need(4, 'int32'));
  }
  /** An int64 as a number: a value outside the safe-integer range is bad input. */
  int64(): number {
    const v = this.buf.readBigInt64BE(this.need(8, 'int64'));
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw bad(`int64 ${v} outside the safe integer range`);
    return Number(v);
  }
  float64(): number {
    return this.buf.readDoubleBE(this.need(8, 'float64'));
  }
  uuid(): string {
    const at = this.need(16, 'uuid');
    const hex = this.buf.toString('hex', at, at + 16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** An unsigned varint of at most 32 bits. */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.buf[this.need(1, 'varint')]!;
      if (i === 4 && b > 0x0f) throw bad('varint exceeds 32 bits');
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return value;
    }
    throw bad('varint longer than 5 bytes');
  }

  /** A length in a classic field: -1 null, other negatives bad. */
  private classicLength(n: number, what: string): number | null {
    if (n === -1) return null;
    if (n < 0) throw bad(`negative ${what} length ${n}`);
    return n;
  }

  /** A compact length: varint 0 null, else length plus one. */
  private compactLength(what: string): number | null {
    const n = this.uvarint();
    if (n === 0) return null;
    if (n - 1 > 0x7fffffff) throw bad(`${what} length ${n - 1} too large`);
    return n - 1;
  }

  private text(len: number): string {
    const at = this.need(len, 'string');
    try {
      return decoder.decode(this.buf.subarray(at, at + len));
    } catch {
      throw bad('string is not valid UTF-8');
    }
  }

  string(compact: boolean): string | null {
    const len = compact ? this.compactLength('string') : this.classicLength(this.int16(), 'string');
    return len === null ? null : this.text(len);
  }

  /** A view of the bytes, not a copy: valid while the request's buffer is. */
  bytes(compact: boolean): Buffer | null {
    const len = compact ? this.compactLength('bytes') : this.classicLength(this.int32(), 'bytes');
    if (len === null) return null;
    const at = this.need(len, 'bytes');
    return this.buf.subarray(at, at + len);
  }

  /**
   * An array's element count (null for a null array). Every element takes at least one byte, so a
   * count above the bytes left is refused before anything is allocated for it.
   */
  arrayLength(compact: boolean): number | null {
    const n = compact ? this.compactLength('array') : this.classicLength(this.int32(), 'array');
    if (n !== null && n > this.remaining) throw bad(`array of ${n} elements in ${this.remaining} bytes`);
    return n;
  }

  /**
   * A tagged-field section: calls `field(tag, reader)` for each, with a reader over exactly that
   * field's bytes; tags must rise strictly. Unknown tags are skipped, as the protocol requires.
   */
  taggedFields(field: (tag: number, r: Reader) => void): void {
    const count = this.uvarint();
    if (count > this.remaining) throw bad(`${count} tagged fields in ${this.remaining} bytes`);
    let last = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      if (tag <= last) throw bad(`tagged field ${tag} after ${last}`);
      last = tag;
      const size = this.uvarint();
      const at = this.need(size, 'tagged field');
      const sub = new Reader(this.buf, at, at + size);
      field(tag, sub);
    }
  }
}

export class Writer {
  private buf: Buffer;
  private pos = 0;
  /** Finished chunks before `buf`; large byte fields go here as they are. */
  private readonly chunks: Buffer[] = [];
  private chunked = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.chunked + this.pos;
  }

  private room(n: number): number {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  bool(v: boolean): void {
    const at = this.room(1);
    this.buf[at] = v ? 1 : 0;
  }
  int8(v: number): void {
    const at = this.room(1);
    this.buf.writeInt8(v, at);
  }
  int16(v: number): void {
    const at = this.room(2);
    this.buf.writeInt16BE(v, at);
  }
  uint16(v: number): void {
    const at = this.room(2);
    this.buf.writeUInt16BE(v, at);
  }
  int32(v: number): void {
    const at = this.room(4);
    this.buf.writeInt32BE(v, at);
  }
  int64(v: number): void {
    const at = this.room(8);
    this.buf.writeBigInt64BE(BigInt(v), at);
  }
  float64(v: number): void {
    const at = this.room(8);
    this.buf.writeDoubleBE(v, at);
  }
  uuid(v: string): void {
    const hex = v.replaceAll('-', '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a UUID: ${v}`);
    const at = this.room(16);
    this.buf.write(hex, at, 16, 'hex');
  }
  uvarint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uvarint out of range: ${v}`);
    while (v >= 0x80) {
      const at = this.room(1);
      this.buf[at] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    const at = this.room(1);
    this.buf[at] = v;
  }

  private length_(n: number | null, compact: boolean, wide: boolean): void {
    if (compact) this.uvarint(n === null ? 0 : n + 1);
    else if (wide) this.int32(n ?? -1);
    else this.int16(n ?? -1);
  }

  string(v: string | null, compact: boolean): void {
    if (v === null) return this.length_(null, compact, false);
    const len = Buffer.byteLength(v);
    if (!compact && len > 0x7fff) throw new RangeError(`string of ${len} bytes too long for int16`);
    this.length_(len, compact, false);
    const at = this.room(len);
    this.buf.write(v, at, len, 'utf8');
  }

  bytes(v: Buffer | readonly Buffer[] | null, compact: boolean): void {
    if (v === null) return this.length_(null, compact, true);
    const parts = Buffer.isBuffer(v) ? [v] : v;
    let len = 0;
    for (const p of parts) len += p.length;
    this.length_(len, compact, true);
    for (const p of parts) this.raw(p);
  }

  arrayLength(n: number | null, compact: boolean): void {
    this.length_(n, compact, true);
  }

  /** Bytes as they are; a large buffer becomes its own chunk (not copied). */
  raw(b: Buffer): void {
    if (b.length < CHUNK_MIN) {
      const at = this.room(b.length);
      b.copy(this.buf, at);
      return;
    }
    this.flushChunk();
    this.chunks.push(b);
    this.chunked += b.length;
  }

  /** A tagged-field section: `fields` as [tag, write] pairs, in rising tag order. */
  taggedFields(fields: readonly (readonly [number, (w: Writer) => void])[]): void {
    this.uvarint(fields.length);
    for (const [tag, write] of fields) {
      const sub = new Writer(64);
      write(sub);
      this.uvarint(tag);
      this.uvarint(sub.length);
      for (const chunk of sub.finish()) this.raw(chunk);
    }
  }

  private flushChunk(): void {
    if (this.pos === 0) return;
    const done = this.buf.subarray(0, this.pos);
    this.chunks.push(done);
    this.chunked += done.length;
    this.buf = this.buf.subarray(this.pos);
    this.pos = 0;
    if (this.buf.length < 64) this.buf = Buffer.allocUnsafe(256);
  }

  /** The bytes written, as chunks in order (the writer is done with). */
  finish(): Buffer[] {
    this.flushChunk();
    return this.chunks;
  }

  /** The bytes written as one buffer (copies when there are several chunks). */
  toBuffer(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
}
