import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_VARINT_SIZE,
  MAX_VARLONG_SIZE,
  VARINT_TOO_LARGE,
  VARINT_TOO_LONG,
  VARINT_TRUNCATED,
  VARLONG_TOO_LONG,
  VARLONG_TRUNCATED,
  VARLONG_UNSAFE,
  readVarint,
  readVarlong,
  sizeOfVarint,
  sizeOfVarlong,
  varintCursor,
  writeVarint,
  writeVarlong,
} from '../../proto/varint.js';

// kafkajs's encoder, an independent implementation of the same zigzag varints.
const require = createRequire(import.meta.url);
interface KafkajsEncoder {
  writeVarInt(value: number): KafkajsEncoder;
  writeVarLong(value: number): KafkajsEncoder;
  readonly buffer: Buffer;
}
const KafkajsEncoderClass = require('kafkajs/src/protocol/encoder.js') as new () => KafkajsEncoder;
const kafkajsVarint = (v: number): string => new KafkajsEncoderClass().writeVarInt(v).buffer.toString('hex');
const kafkajsVarlong = (v: number): string =>
  new KafkajsEncoderClass().writeVarLong(v).buffer.toString('hex');

// Worked out by hand from the zigzag rule and base-128 groups (least significant first).
const VARINTS: [number, string][] = [
  [0, '00'],
  [-1, '01'],
  [1, '02'],
  [-2, '03'],
  [63, '7e'],
  [-64, '7f'],
  [64, '8001'],
  [-65, '8101'],
  [300, 'd804'],
  [-300, 'd704'],
  [8191, 'fe7f'],
  [-8192, 'ff7f'],
  [8192, '808001'],
  [2147483647, 'feffffff0f'],
  [-2147483648, 'ffffffff0f'],
];
const VARLONGS_ONLY: [number, string][] = [
  [2147483648, '8080808010'],
  [-2147483649, '8180808010'],
  [1700000000000, '80a0abfef962'],
  [-1700000000000, 'ff9fabfef962'],
  [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'],
  [Number.MIN_SAFE_INTEGER, 'fdffffffffffff1f'],
];
const VARLONGS = [...VARINTS, ...VARLONGS_ONLY];

function encodeVarint(v: number): string {
  const buf = Buffer.alloc(MAX_VARINT_SIZE);
  return buf.subarray(0, writeVarint(buf, 0, v)).toString('hex');
}
function encodeVarlong(v: number): string {
  const buf = Buffer.alloc(MAX_VARLONG_SIZE);
  return buf.subarray(0, writeVarlong(buf, 0, v)).toString('hex');
}
function decode(read: typeof readVarint, hex: string, end?: number) {
  const cursor = varintCursor();
  const buf = Buffer.from(hex, 'hex');
  const value = read(buf, cursor, end ?? buf.length);
  return { value, pos: cursor.pos, reason: cursor.reason };
}

describe('known encodings', () => {
  it.each(VARINTS)('given the int32 %d, when encoded as a varint, then the bytes are %s', (value, hex) => {
    expect(encodeVarint(value)).toBe(hex);
    expect(sizeOfVarint(value)).toBe(hex.length / 2);
    expect(decode(readVarint, hex)).toEqual({ value, pos: hex.length / 2, reason: null });
  });

  it.each(VARLONGS)('given %d, when encoded as a varlong, then the bytes are %s', (value, hex) => {
    expect(encodeVarlong(value)).toBe(hex);
    expect(sizeOfVarlong(value)).toBe(hex.length / 2);
    expect(decode(readVarlong, hex)).toEqual({ value, pos: hex.length / 2, reason: null });
  });

  it('given the hand-computed table, then kafkajs encodes every entry the same way', () => {
    for (const [value, hex] of VARINTS) expect(kafkajsVarint(value)).toBe(hex);
    for (const [value, hex] of VARLONGS) expect(kafkajsVarlong(value)).toBe(hex);
  });

  it('given a non-minimal encoding, when read, then it is accepted as Kafka does', () => {
    expect(decode(readVarint, '8000')).toEqual({ value: 0, pos: 2, reason: null });
    expect(decode(readVarlong, '8080808080808000')).toEqual({ value: 0, pos: 8, reason: null });
  });
});

describe('round trips', () => {
  it('given any int32 at any offset, when written and read back, then value, size and position agree', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(8), (value, off) => {
        const buf = Buffer.alloc(off + MAX_VARINT_SIZE + 3, 0xaa);
        const after = writeVarint(buf, off, value);
        expect(after - off).toBe(sizeOfVarint(value));
        const cursor = varintCursor(off);
        expect(readVarint(buf, cursor)).toBe(value);
        expect(cursor).toEqual({ pos: after, reason: null });
        expect(buf.subarray(off, after).toString('hex')).toBe(kafkajsVarint(value));
      }),
      { numRuns: 500 },
    );
  });

  it('given any safe integer, when written as a varlong and read back, then value, size and bytes agree', () => {
    const safe = fc.oneof(fc.maxSafeInteger(), fc.integer(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }));
    fc.assert(
      fc.property(safe, fc.nat(8), (value, off) => {
        const buf = Buffer.alloc(off + MAX_VARLONG_SIZE, 0xaa);
        const after = writeVarlong(buf, off, value);
        expect(after - off).toBe(sizeOfVarlong(value));
        const cursor = varintCursor(off);
        expect(readVarlong(buf, cursor)).toBe(value);
        expect(cursor).toEqual({ pos: after, reason: null });
        expect(buf.subarray(off, after).toString('hex')).toBe(kafkajsVarlong(value));
      }),
      { numRuns: 500 },
    );
  });

  it('given varints back to back, when read with one cursor, then each comes out in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 20 }), (values) => {
        const buf = Buffer.alloc(values.length * MAX_VARINT_SIZE);
        let pos = 0;
        for (const v of values) pos = writeVarint(buf, pos, v);
        const cursor = varintCursor();
        expect(values.map(() => readVarint(buf, cursor, pos))).toEqual(values);
        expect(cursor).toEqual({ pos, reason: null });
      }),
      { numRuns: 100 },
    );
  });
});

describe('bad input', () => {
  it.each([
    ['nothing to read', readVarint, '', VARINT_TRUNCATED],
    ['a continuation bit at the end', readVarint, '80', VARINT_TRUNCATED],
    ['four continuation bytes then the end', readVarint, 'ffffffff', VARINT_TRUNCATED],
    ['a fifth byte that continues', readVarint, 'ffffffff80', VARINT_TOO_LONG],
    ['six bytes', readVarint, '808080808000', VARINT_TOO_LONG],
    ['a fifth byte with bits past 32', readVarint, 'ffffffff10', VARINT_TOO_LARGE],
    ['nothing to read (varlong)', readVarlong, '', VARLONG_TRUNCATED],
    ['a varlong cut after 6 bytes', readVarlong, '808080808080', VARLONG_TRUNCATED],
    ['eleven bytes', readVarlong, '8080808080808080808000', VARLONG_TOO_LONG],
    ['a tenth byte that continues', readVarlong, 'ffffffffffffffffff80', VARLONG_TOO_LONG],
    ['2^53 (zigzag 2^54)', readVarlong, '8080808080808020', VARLONG_UNSAFE],
    ['-2^53', readVarlong, 'ffffffffffffff1f', VARLONG_UNSAFE],
    ['the largest 64-bit value', readVarlong, 'feffffffffffffffff01', VARLONG_UNSAFE],
  ] as const)('given %s, when read, then NaN, the reason, and the cursor stays', (_, read, hex, reason) => {
    expect(decode(read, hex)).toEqual({ value: Number.NaN, pos: 0, reason });
  });

  it('given a varint that ends beyond `end`, when read, then it is truncated even though the buffer goes on', () => {
    expect(decode(readVarint, '8001', 1).reason).toBe(VARINT_TRUNCATED);
    expect(decode(readVarlong, '80a0abfef962', 5).reason).toBe(VARLONG_TRUNCATED);
  });

  it('given a cursor with a reason, when read again, then NaN without moving (the reason is sticky)', () => {
    const buf = Buffer.from('80', 'hex');
    const cursor = varintCursor();
    readVarint(buf, cursor);
    cursor.pos = 0;
    const good = Buffer.from('02', 'hex');
    expect(readVarint(good, cursor)).toBeNaN();
    expect(readVarlong(good, cursor)).toBeNaN();
    expect(cursor).toEqual({ pos: 0, reason: VARINT_TRUNCATED });
  });

  it('given any bytes, when read, then a reader never throws and either advances within limits or reports', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), fc.boolean(), (bytes, long) => {
        const cursor = varintCursor();
        const value = long ? readVarlong(bytes, cursor) : readVarint(bytes, cursor);
        if (cursor.reason === null) {
          expect(long ? Number.isSafeInteger(value) : (value | 0) === value).toBe(true);
          expect(cursor.pos).toBeGreaterThan(0);
          expect(cursor.pos).toBeLessThanOrEqual(long ? MAX_VARLONG_SIZE : MAX_VARINT_SIZE);
        } else {
          expect(value).toBeNaN();
          expect(cursor.pos).toBe(0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('given a value of the wrong kind, when written, then it is a bug and asserts', () => {
    const buf = Buffer.alloc(MAX_VARLONG_SIZE);
    expect(() => writeVarint(buf, 0, 2 ** 31)).toThrow(/int32/);
    expect(() => writeVarint(buf, 0, 1.5)).toThrow(/int32/);
    expect(() => writeVarlong(buf, 0, 2 ** 53)).toThrow(/safe integer/);
    expect(() => sizeOfVarlong(Number.NaN)).toThrow(/safe integer/);
  });
});
