import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  readHeaders,
  readRecord,
  recordView,
  sizeOfRecordBody,
  writeRecord,
  type RecordInput,
} from '../../proto/record.js';

// Records are written out by hand here, byte by byte, so the reader is checked against the layout
// and not against weir's own writer. A body shorter than 64 bytes has a one-byte length: 2 * n.
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
function record(body: string): Buffer {
  const b = hex(body);
  expect(b.length).toBeLessThan(64);
  return Buffer.concat([Buffer.from([b.length * 2]), b]);
}

function read(buf: Buffer, pos = 0, end = buf.length) {
  const view = recordView();
  const reason = readRecord(buf, pos, end, view);
  return { reason, view };
}

describe('reading a well-formed record', () => {
  it('given key "a" and value "b", then the view points at them', () => {
    // attributes, tsDelta 0, offsetDelta 0, key len 1 'a', value len 1 'b', 0 headers
    const buf = record('00 00 00 02 61 02 62 00');
    expect(buf.toString('hex')).toBe('100000000261026200');
    const { reason, view } = read(buf);
    expect(reason).toBeNull();
    expect(view).toEqual({
      start: 0,
      end: 9,
      attributes: 0,
      timestampDelta: 0,
      offsetDelta: 0,
      keyStart: 5,
      keyLength: 1,
      valueStart: 7,
      valueLength: 1,
      headersStart: 9,
      headerCount: 0,
    });
  });

  it('given a null key, a tombstone and a header with a null value, then all three read as null', () => {
    // tsDelta -2, offsetDelta 2, key null, value null, 1 header: key 'h', value null
    const buf = record('00 03 04 01 01 02 02 68 01');
    const { reason, view } = read(buf);
    expect(reason).toBeNull();
    expect(view).toMatchObject({
      timestampDelta: -2,
      offsetDelta: 2,
      keyLength: -1,
      valueLength: -1,
      headerCount: 1,
    });
    expect(readHeaders(buf, view)).toEqual([{ key: 'h', value: null }]);
  });

  it('given a record after other bytes, then positions are absolute in the buffer', () => {
    const buf = Buffer.concat([hex('ffffff'), record('00 00 00 02 61 02 62 02 02 68 00'), hex('eeee')]);
    const { reason, view } = read(buf, 3);
    expect(reason).toBeNull();
    expect(view).toMatchObject({ start: 3, end: buf.length - 2, keyStart: 8, valueStart: 10 });
    expect(readHeaders(buf, view)).toEqual([{ key: 'h', value: Buffer.alloc(0) }]);
  });

  it('given UTF-8 header keys, then readHeaders decodes them as text', () => {
    const key = Buffer.from('ключ✓', 'utf8');
    const body = `00 00 00 01 01 02 ${(key.length * 2).toString(16)} ${key.toString('hex')} 02 7a`;
    const buf = record(body);
    const { reason, view } = read(buf);
    expect(reason).toBeNull();
    expect(readHeaders(buf, view)).toEqual([{ key: 'ключ✓', value: Buffer.from('z') }]);
  });
});

describe('readRecord: one test per reason', () => {
  it.each([
    ['no bytes', '', 'length: varint runs past the end of the data'],
    ['a length shorter than the smallest record', '0a 0000000000', 'length 5 too short (minimum 6)'],
    ['a negative length', '01', 'length -1 too short (minimum 6)'],
    [
      'a length past the end of the records',
      '10 0000',
      'length 8 runs past the end of the records (2 bytes left)',
    ],
    [
      'a timestamp delta running to the record end',
      record('00 ff ff ff ff ff'),
      'timestamp delta: varlong runs past the end of the data',
    ],
    [
      'an offset delta running to the record end',
      record('00 00 80 80 80 80'),
      'offset delta: varint runs past the end of the data',
    ],
    [
      'a key length running to the record end',
      record('00 00 00 80 80 80'),
      'key length: varint runs past the end of the data',
    ],
    ['a key length of -2', record('00 00 00 03 01 00'), 'key length -2 is negative'],
    [
      'a key longer than the record',
      record('00 00 00 0a 61 62'),
      'key length 5 runs past the end of the record',
    ],
    ['a value length of -3', record('00 00 00 01 05 00'), 'value length -3 is negative'],
    [
      'a value longer than the record',
      record('00 00 00 01 08 61'),
      'value length 4 runs past the end of the record',
    ],
    [
      'a header count running to the record end',
      record('00 00 00 01 01 80'),
      'header count: varint runs past the end of the data',
    ],
    ['a negative header count', record('00 00 00 01 01 01'), 'negative header count -1'],
    ['a null header key', record('00 00 00 01 01 02 01'), 'header 0 key is null'],
    ['a header key length of -2', record('00 00 00 01 01 02 03'), 'header 0 key length -2 is negative'],
    [
      'a header key longer than the record',
      record('00 00 00 01 01 02 0a 61'),
      'header 0 key length 5 runs past the end of the record',
    ],
    [
      'a header value length of -3',
      record('00 00 00 01 01 02 02 68 05'),
      'header 0 value length -3 is negative',
    ],
    [
      'a header value longer than the record',
      record('00 00 00 01 01 02 02 68 04 61'),
      'header 0 value length 2 runs past the end of the record',
    ],
    ['a null key in the second header', record('00 00 00 01 01 04 02 68 01 01'), 'header 1 key is null'],
    [
      'fewer headers than counted',
      record('00 00 00 01 01 04 02 68 01'),
      'header 1 key length: varint runs past the end of the data',
    ],
    [
      'a length beyond the content',
      `14 ${'00 00 00 02 61 02 62 00'} ffff`,
      'length 10 disagrees with content (8 bytes)',
    ],
  ])('given %s, then the reason says so', (_, input, reason) => {
    const buf = typeof input === 'string' ? hex(input) : input;
    expect(read(buf).reason).toBe(reason);
  });

  it('given a field that would end past the record but inside the buffer, then the record end still bounds it', () => {
    const buf = Buffer.concat([record('00 00 00 01 01 80'), hex('00 00 00')]);
    expect(read(buf).reason).toBe('header count: varint runs past the end of the data');
  });

  it('given `end` before the buffer ends, then bytes after it are not read', () => {
    const buf = record('00 00 00 02 61 02 62 00');
    expect(read(buf, 0, buf.length - 1).reason).toBe(
      'length 8 runs past the end of the records (7 bytes left)',
    );
  });

  it('given any bytes, then readRecord never throws, and a record it accepts lies inside the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const { reason, view } = read(buf);
        if (reason === null) {
          expect(view.end).toBeLessThanOrEqual(buf.length);
          expect(view.keyStart + Math.max(view.keyLength, 0)).toBeLessThanOrEqual(view.end);
          expect(view.valueStart + Math.max(view.valueLength, 0)).toBeLessThanOrEqual(view.end);
          expect(readHeaders(buf, view)).toHaveLength(view.headerCount);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('writing a record', () => {
  it('given key "a" and value "b", then the bytes are the ones laid out by hand', () => {
    const input: RecordInput = { timestamp: 0, key: Buffer.from('a'), value: Buffer.from('b') };
    const size = sizeOfRecordBody(input, 0, 0);
    expect(size).toBe(8);
    const buf = Buffer.alloc(size + 1);
    expect(writeRecord(buf, 0, input, 0, 0, size)).toBe(9);
    expect(buf.toString('hex')).toBe('100000000261026200');
  });

  it('given nulls and a null header value, then the bytes are the ones laid out by hand', () => {
    const input: RecordInput = { timestamp: 0, key: null, value: null, headers: [{ key: 'h', value: null }] };
    const size = sizeOfRecordBody(input, -2, 2);
    const buf = Buffer.alloc(size + 1);
    writeRecord(buf, 0, input, -2, 2, size);
    expect(buf).toEqual(record('00 03 04 01 01 02 02 68 01'));
  });

  it('given a body size that disagrees, then writeRecord asserts (a bug in the caller)', () => {
    const input: RecordInput = { timestamp: 0, key: null, value: null };
    expect(() => writeRecord(Buffer.alloc(16), 0, input, 0, 0, 7)).toThrow(/body size/);
  });

  it('given any record, when written and read back, then the view finds every part', () => {
    const bytes = fc.option(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      { nil: null },
    );
    const header = fc.record({ key: fc.string({ unit: 'binary', maxLength: 8 }), value: bytes });
    fc.assert(
      fc.property(
        bytes,
        bytes,
        fc.array(header, { maxLength: 4 }),
        fc.maxSafeInteger(),
        fc.nat(),
        (key, value, headers, timestampDelta, offsetDelta) => {
          const input: RecordInput = { timestamp: 0, key, value, headers };
          const size = sizeOfRecordBody(input, timestampDelta, offsetDelta);
          const buf = Buffer.alloc(size + 5);
          const end = writeRecord(buf, 0, input, timestampDelta, offsetDelta, size);
          const { reason, view } = read(buf, 0, end);
          expect(reason).toBeNull();
          expect(view).toMatchObject({ end, timestampDelta, offsetDelta, headerCount: headers.length });
          const slice = (start: number, length: number) =>
            length < 0 ? null : buf.subarray(start, start + length);
          expect(slice(view.keyStart, view.keyLength)).toEqual(key);
          expect(slice(view.valueStart, view.valueLength)).toEqual(value);
          expect(readHeaders(buf, view)).toEqual(headers);
        },
      ),
      { numRuns: 200 },
    );
  });
});
