import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  TIMESTAMP_TYPE_BIT,
  TRANSACTIONAL_BIT,
  batchAttributes,
  computeBatchCrc,
  invalidBatch,
  invalidBatchHeader,
  writeInt64,
} from '../../proto/batch-header.js';
import { isWeirError } from '../../proto/errors.js';
import {
  COMPRESSION_GZIP,
  MAX_DECOMPRESSED_BYTES,
  NO_TIMESTAMP,
  decodeBatch,
  encodeBatch,
  forEachRecord,
  invalidRecords,
  type EncodeBatchOptions,
  type RecordBatch,
  type RecordEntry,
  type RecordInput,
} from '../../proto/record-batch.js';
import { records as recordsArb, type GeneratedRecord } from './arbitraries.js';

const T = 1_700_000_000_000;
const text = (s: string): Buffer => Buffer.from(s, 'utf8');

function decoded(buf: Buffer): RecordBatch {
  const result = decodeBatch(buf);
  if (!result.ok) throw new Error(`expected a valid batch: ${result.reason}`);
  return result.batch;
}

function reasonOf(buf: Buffer): string {
  const result = decodeBatch(buf);
  if (result.ok) throw new Error('expected an invalid batch');
  return result.reason;
}

/** Puts a correct CRC on a batch edited by hand, so the record checks are reached. */
function recrc(buf: Buffer): Buffer {
  buf.writeUInt32BE(computeBatchCrc(buf, 0), CRC_OFFSET);
  return buf;
}

/** The same batch with its records gzipped, as Kafka lays a compressed batch out. */
function gzipped(plain: Buffer, mutateRecords: (records: Buffer) => Buffer = (r) => r): Buffer {
  const records = mutateRecords(Buffer.from(plain.subarray(BATCH_HEADER_SIZE)));
  const buf = Buffer.concat([plain.subarray(0, BATCH_HEADER_SIZE), gzipSync(records)]);
  buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
  buf.writeInt16BE(batchAttributes(buf, 0) | COMPRESSION_GZIP, ATTRIBUTES_OFFSET);
  return recrc(buf);
}

function expected(records: GeneratedRecord[], baseOffset = 0) {
  return records.map((r, i) => ({
    offset: baseOffset + i,
    timestamp: r.timestamp,
    key: r.key,
    value: r.value,
    headers: r.headers,
  }));
}

// Three records "a"/"b", each 9 bytes: length, attributes, tsDelta, offsetDelta, key, value, 0 headers.
const ABC: RecordInput[] = [
  { timestamp: T, key: text('a'), value: text('b') },
  { timestamp: T + 10, key: text('a'), value: text('b') },
  { timestamp: T + 10, key: text('a'), value: text('b') },
];
const recordAt = (i: number): number => BATCH_HEADER_SIZE + 9 * i;
const abc = (): Buffer => encodeBatch(ABC);

describe('encodeBatch then decodeBatch', () => {
  const options: fc.Arbitrary<EncodeBatchOptions> = fc.record({
    baseOffset: fc.integer({ min: 0, max: 2 ** 50 }),
    partitionLeaderEpoch: fc.integer({ min: -1, max: 0x7fff_ffff }),
    producerId: fc.integer({ min: -1, max: 2 ** 50 }),
    producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
    baseSequence: fc.integer({ min: -1, max: 0x7fff_ffff }),
    compression: fc.constantFrom('none' as const, 'gzip' as const),
    transactional: fc.boolean(),
  });

  it('given any records and options, when encoded and decoded, then records and header fields come back', () => {
    fc.assert(
      fc.property(recordsArb(), options, (records, opts) => {
        const buf = encodeBatch(records, opts);
        expect(invalidBatch(buf, 0)).toBeNull();
        expect(invalidRecords(buf)).toBeNull();
        const batch = decoded(buf);
        expect(batch.records).toEqual(expected(records, opts.baseOffset));
        expect(batch).toMatchObject({
          baseOffset: opts.baseOffset,
          size: buf.length,
          partitionLeaderEpoch: opts.partitionLeaderEpoch,
          compression: opts.compression === 'gzip' ? 1 : 0,
          timestampType: 'create-time',
          transactional: opts.transactional,
          control: false,
          lastOffsetDelta: records.length - 1,
          baseTimestamp: records[0]!.timestamp,
          maxTimestamp: Math.max(...records.map((r) => r.timestamp)),
          producerId: opts.producerId,
          producerEpoch: opts.producerEpoch,
          baseSequence: opts.baseSequence,
        });
      }),
      { numRuns: 150 },
    );
  });

  it('given 2000 records, when encoded and decoded, then every one comes back in order', () => {
    const records: RecordInput[] = Array.from({ length: 2000 }, (_, i) => ({
      timestamp: T + i * 3 - 500,
      key: i % 7 === 0 ? null : text(`key-${i % 50}`),
      value: i % 11 === 0 ? null : Buffer.alloc(i % 300, i & 0xff),
      headers: i % 5 === 0 ? [{ key: `h${i}`, value: text(String(i)) }] : [],
    }));
    const batch = decoded(encodeBatch(records));
    expect(batch.records).toHaveLength(2000);
    expect(batch.records.map((r) => r.offset)).toEqual(records.map((_, i) => i));
    expect(batch.records[1999]).toEqual({ offset: 1999, ...records[1999], headers: [] });
  });

  it('given gzip, then the records area is a gzip stream of exactly the uncompressed records', () => {
    const plain = encodeBatch(ABC);
    const compressed = encodeBatch(ABC, { compression: 'gzip' });
    expect(batchAttributes(compressed, 0)).toBe(COMPRESSION_GZIP);
    expect(gunzipSync(compressed.subarray(BATCH_HEADER_SIZE))).toEqual(plain.subarray(BATCH_HEADER_SIZE));
    expect(decoded(compressed).records).toEqual(decoded(plain).records);
  });

  it('given a tombstone, a null key and empty bytes, then null stays null and empty stays empty', () => {
    const records: RecordInput[] = [
      { timestamp: T, key: text('k'), value: null },
      { timestamp: T, key: null, value: Buffer.alloc(0) },
      { timestamp: T, key: Buffer.alloc(0), value: text('v'), headers: [{ key: '', value: null }] },
    ];
    const [a, b, c] = decoded(encodeBatch(records)).records;
    expect(a).toMatchObject({ key: text('k'), value: null });
    expect(b).toMatchObject({ key: null, value: Buffer.alloc(0) });
    expect(c).toMatchObject({ key: Buffer.alloc(0), headers: [{ key: '', value: null }] });
  });
});

describe('encodeBatch options', () => {
  it('given no options, then Kafka defaults: offset 0, epochs and sequence -1, base timestamp of the first record', () => {
    const records: RecordInput[] = [
      { timestamp: T + 5, key: null, value: text('x') },
      { timestamp: T, key: null, value: text('y') },
      { timestamp: T + 9, key: null, value: text('z') },
    ];
    const batch = decoded(encodeBatch(records));
    expect(batch).toMatchObject({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      attributes: 0,
      baseTimestamp: T + 5,
      maxTimestamp: T + 9,
      lastOffsetDelta: 2,
    });
    expect(batch.records.map((r) => r.timestamp)).toEqual([T + 5, T, T + 9]);
  });

  it('given log-append-time, then bit 3 is set and every record reads as the append time', () => {
    const buf = encodeBatch(ABC, { timestampType: 'log-append-time', maxTimestamp: T + 99 });
    expect(batchAttributes(buf, 0)).toBe(TIMESTAMP_TYPE_BIT);
    const batch = decoded(buf);
    expect(batch).toMatchObject({ timestampType: 'log-append-time', maxTimestamp: T + 99, baseTimestamp: T });
    expect(batch.records.map((r) => r.timestamp)).toEqual([T + 99, T + 99, T + 99]);
    expect(decoded(encodeBatch(ABC, { timestampType: 'log-append-time' })).maxTimestamp).toBe(T + 10);
  });

  it('given transactional, then bit 4 is set', () => {
    expect(batchAttributes(encodeBatch(ABC, { transactional: true }), 0)).toBe(TRANSACTIONAL_BIT);
  });

  it('given offset deltas with gaps and a larger last offset delta (compaction), then offsets keep the gaps', () => {
    const records = ABC.map((r, i) => ({ ...r, offsetDelta: [0, 3, 7][i]! }));
    const buf = encodeBatch(records, { baseOffset: 100, lastOffsetDelta: 9 });
    const batch = decoded(buf);
    expect(batch.records.map((r) => r.offset)).toEqual([100, 103, 107]);
    expect(batch.lastOffsetDelta).toBe(9);
  });

  it('given a raised max timestamp, then it is kept', () => {
    expect(decoded(encodeBatch(ABC, { maxTimestamp: T + 1000 })).maxTimestamp).toBe(T + 1000);
  });

  it('given no records, then an empty batch with no timestamp (or the given ones) that still decodes', () => {
    const empty = encodeBatch([]);
    expect(empty.length).toBe(BATCH_HEADER_SIZE);
    expect(decoded(empty)).toMatchObject({
      records: [],
      lastOffsetDelta: 0,
      baseTimestamp: NO_TIMESTAMP,
      maxTimestamp: NO_TIMESTAMP,
    });
    const kept = decoded(encodeBatch([], { lastOffsetDelta: 4, maxTimestamp: T, baseOffset: 10 }));
    expect(kept).toMatchObject({
      records: [],
      baseOffset: 10,
      lastOffsetDelta: 4,
      baseTimestamp: T,
      maxTimestamp: T,
    });
  });

  const bad =
    (code: string, records: RecordInput[], options: EncodeBatchOptions = {}) =>
    () => {
      try {
        encodeBatch(records, options);
      } catch (err) {
        expect(isWeirError(err)).toBe(true);
        expect((err as { code: string }).code).toBe(code);
        return;
      }
      throw new Error('encodeBatch accepted bad input');
    };
  const one = (patch: Partial<RecordInput> | Record<string, unknown>): RecordInput[] => [
    { timestamp: T, key: null, value: null, ...patch } as RecordInput,
  ];

  it(
    'given a timestamp that is not a safe integer, then INVALID_TIMESTAMP',
    bad('INVALID_TIMESTAMP', one({ timestamp: 1.5 })),
  );
  it(
    'given timestamps too far apart for a safe delta, then INVALID_TIMESTAMP',
    bad('INVALID_TIMESTAMP', [
      ...one({ timestamp: Number.MIN_SAFE_INTEGER }),
      ...one({ timestamp: Number.MAX_SAFE_INTEGER }),
    ]),
  );
  it(
    'given a max timestamp below a record, then INVALID_TIMESTAMP',
    bad('INVALID_TIMESTAMP', ABC, { maxTimestamp: T }),
  );
  it('given a key that is not bytes, then INVALID_RECORD', bad('INVALID_RECORD', one({ key: 'text' })));
  it('given a value that is not bytes, then INVALID_RECORD', bad('INVALID_RECORD', one({ value: 42 })));
  it(
    'given a header key that is not text, then INVALID_RECORD',
    bad('INVALID_RECORD', one({ headers: [{ key: null, value: null }] })),
  );
  it(
    'given a header value that is not bytes, then INVALID_RECORD',
    bad('INVALID_RECORD', one({ headers: [{ key: 'k', value: 'v' }] })),
  );
  it(
    'given offset deltas that do not rise, then INVALID_RECORD',
    bad('INVALID_RECORD', [...one({ offsetDelta: 2 }), ...one({ offsetDelta: 2 })]),
  );
  it('given a negative offset delta, then INVALID_RECORD', bad('INVALID_RECORD', one({ offsetDelta: -1 })));
  it('given a negative base offset, then INVALID_REQUEST', bad('INVALID_REQUEST', ABC, { baseOffset: -1 }));
  it(
    'given a producer epoch past int16, then INVALID_REQUEST',
    bad('INVALID_REQUEST', ABC, { producerEpoch: 40_000 }),
  );
  it(
    'given a last offset delta below the last record, then INVALID_REQUEST',
    bad('INVALID_REQUEST', ABC, { lastOffsetDelta: 1 }),
  );
  it(
    'given an unknown compression, then INVALID_REQUEST',
    bad('INVALID_REQUEST', ABC, { compression: 'brotli' as unknown as 'gzip' }),
  );
});

describe('record-level validation: one test per reason', () => {
  // Each case edits a valid batch by hand, then puts a correct CRC on it.
  const cases: [string, () => Buffer, string][] = [
    [
      'a count above the records present',
      () => {
        const buf = abc();
        buf.writeInt32BE(4, RECORDS_COUNT_OFFSET);
        buf.writeInt32BE(3, LAST_OFFSET_DELTA_OFFSET);
        return recrc(buf);
      },
      'batch declares 4 records but holds 3',
    ],
    [
      'a count below the records present',
      () => {
        const buf = abc();
        buf.writeInt32BE(2, RECORDS_COUNT_OFFSET);
        return recrc(buf);
      },
      '9 bytes left over after 2 records',
    ],
    [
      'bytes after the last record',
      () => {
        const buf = Buffer.concat([abc(), Buffer.from([0, 0])]);
        buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
        return recrc(buf);
      },
      '2 bytes left over after 3 records',
    ],
    [
      'an offset delta that repeats',
      () => {
        const buf = abc();
        buf[recordAt(1) + 3] = 0x00;
        return recrc(buf);
      },
      'record 1: offset delta 0 not above 0',
    ],
    [
      'an offset delta beyond the last offset delta',
      () => {
        const buf = abc();
        buf[recordAt(2) + 3] = 0x0a; // 5
        return recrc(buf);
      },
      'record 2: offset delta 5 beyond last offset delta 2',
    ],
    [
      'a record length longer than its content',
      () => {
        const buf = abc();
        buf[recordAt(1)] = 0x12; // 9, swallowing the next record's first byte
        return recrc(buf);
      },
      'record 1: length 9 disagrees with content (8 bytes)',
    ],
    [
      'a record length that overruns the batch',
      () => {
        const buf = abc();
        buf[recordAt(2)] = 0x7e; // 63
        return recrc(buf);
      },
      'record 2: length 63 runs past the end of the records (8 bytes left)',
    ],
    [
      'a varint that overruns the records',
      () => {
        const buf = Buffer.from(abc().subarray(0, recordAt(2) + 3));
        buf.fill(0x80, recordAt(2));
        buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
        return recrc(buf);
      },
      'record 2: length: varint runs past the end of the data',
    ],
    [
      'a negative key length',
      () => {
        const buf = abc();
        buf[recordAt(1) + 4] = 0x03; // -2
        return recrc(buf);
      },
      'record 1: key length -2 is negative',
    ],
    [
      'a record timestamp outside the safe range',
      () => {
        const buf = abc();
        writeInt64(buf, BASE_TIMESTAMP_OFFSET, Number.MAX_SAFE_INTEGER - 5);
        writeInt64(buf, MAX_TIMESTAMP_OFFSET, Number.MAX_SAFE_INTEGER - 5);
        return recrc(buf);
      },
      'record 1: timestamp out of range',
    ],
    ['an unknown codec 5', () => withCodec(5), 'unsupported compression codec 5'],
    ['an unknown codec 7', () => withCodec(7), 'unsupported compression codec 7'],
    [
      'a gzip batch whose records miss one',
      () => gzipped(abc(), (records) => records.subarray(0, 18)),
      'batch declares 3 records but holds 2',
    ],
    [
      'a gzip batch with a bad record inside',
      () =>
        gzipped(abc(), (records) => {
          records[9 + 4] = 0x05;
          return records;
        }),
      'record 1: key length -3 is negative',
    ],
  ];

  function withCodec(codec: number): Buffer {
    const buf = abc();
    buf.writeInt16BE(codec, ATTRIBUTES_OFFSET);
    return recrc(buf);
  }

  it.each(cases)(
    'given %s, then decodeBatch, invalidRecords and forEachRecord give the reason',
    (_, make, reason) => {
      const buf = make();
      expect(invalidBatch(buf, 0)).toBeNull();
      expect(reasonOf(buf)).toBe(reason);
      expect(invalidRecords(buf)).toBe(reason);
      expect(forEachRecord(buf, 0, () => undefined, null)).toBe(reason);
    },
  );

  it('given a corrupt gzip stream, then the reason comes from gzip', () => {
    const buf = encodeBatch(ABC, { compression: 'gzip' });
    buf.fill(0x55, BATCH_HEADER_SIZE + 10, buf.length - 4);
    recrc(buf);
    expect(reasonOf(buf)).toMatch(/^gzip: /);
    expect(invalidRecords(buf)).toMatch(/^gzip: /);
  });

  it('given a gzip stream that inflates past the limit, then it is refused, not inflated', () => {
    // Gzip members concatenate; 1 MiB of zeros compresses to about 1 KiB.
    const member = gzipSync(Buffer.alloc(1024 * 1024));
    const members = Math.ceil(MAX_DECOMPRESSED_BYTES / (1024 * 1024)) + 1;
    const bomb = Buffer.concat([
      abc().subarray(0, BATCH_HEADER_SIZE),
      ...Array<Buffer>(members).fill(member),
    ]);
    bomb.writeInt32BE(bomb.length - 12, BATCH_LENGTH_OFFSET);
    bomb.writeInt16BE(COMPRESSION_GZIP, ATTRIBUTES_OFFSET);
    recrc(bomb);
    expect(invalidRecords(bomb)).toBe(`gzip: records inflate past ${MAX_DECOMPRESSED_BYTES} bytes`);
  });

  it('given a CRC mismatch, then decodeBatch and forEachRecord refuse it; invalidRecords leaves the CRC to invalidBatch', () => {
    const buf = abc();
    buf[recordAt(1) + 5] = 0x7a; // key 'a' -> 'z'
    expect(reasonOf(buf)).toMatch(/^CRC mismatch/);
    expect(forEachRecord(buf, 0, () => undefined, null)).toMatch(/^CRC mismatch/);
    expect(invalidRecords(buf)).toBeNull();
  });

  it('given a bad header, then every entry point reports the header reason', () => {
    const buf = abc();
    buf[MAGIC_OFFSET] = 1;
    expect(reasonOf(buf)).toBe('bad magic 1 (expected 2)');
    expect(invalidRecords(buf)).toBe('bad magic 1 (expected 2)');
  });

  it('given a batch that is cut short, then it runs past the end', () => {
    const buf = abc();
    expect(reasonOf(buf.subarray(0, buf.length - 1))).toMatch(/runs past the end of the data/);
    expect(decodeBatch(buf, 0, buf.length - 1).ok).toBe(false);
  });
});

describe('forEachRecord', () => {
  const records: RecordInput[] = [
    { timestamp: T, key: text('k1'), value: text('v1') },
    { timestamp: T + 4, key: null, value: text('v2') },
    { timestamp: T + 2, key: text('k1'), value: null },
  ];
  type Seen = {
    offset: number;
    timestamp: number;
    key: string | null;
    tombstone: boolean;
    data: Buffer;
    entry: RecordEntry;
  };
  function collect(entry: RecordEntry, seen: Seen[]): void {
    const { view, data } = entry;
    const key =
      view.keyLength < 0 ? null : data.toString('utf8', view.keyStart, view.keyStart + view.keyLength);
    seen.push({
      offset: entry.offset,
      timestamp: entry.timestamp,
      key,
      tombstone: view.valueLength === -1,
      data,
      entry,
    });
  }

  it('given a valid batch, then each record is visited in order with offset, timestamp, key range and tombstone flag', () => {
    const buf = encodeBatch(records, { baseOffset: 50 });
    const seen: Seen[] = [];
    expect(forEachRecord(buf, 0, collect, seen)).toBeNull();
    expect(
      seen.map(({ offset, timestamp, key, tombstone }) => ({ offset, timestamp, key, tombstone })),
    ).toEqual([
      { offset: 50, timestamp: T, key: 'k1', tombstone: false },
      { offset: 51, timestamp: T + 4, key: null, tombstone: false },
      { offset: 52, timestamp: T + 2, key: 'k1', tombstone: true },
    ]);
    // No copies: the entry points into the batch itself, and it is one object reused.
    expect(seen.every((s) => s.data === buf)).toBe(true);
    expect(new Set(seen.map((s) => s.entry)).size).toBe(1);
  });

  it('given a batch inside a larger buffer, then it is read at its offset', () => {
    const batch = encodeBatch(records);
    const buf = Buffer.concat([Buffer.alloc(7), batch, Buffer.alloc(3)]);
    const seen: Seen[] = [];
    expect(forEachRecord(buf, 7, collect, seen, 7 + batch.length)).toBeNull();
    expect(seen.map((s) => s.key)).toEqual(['k1', null, 'k1']);
    const whole = decodeBatch(buf, 7, 7 + batch.length);
    expect(whole.ok && whole.batch.records.map((r) => r.value)).toEqual([text('v1'), text('v2'), null]);
  });

  it('given a gzip batch, then records are visited over the inflated data', () => {
    const buf = encodeBatch(records, { compression: 'gzip' });
    const seen: Seen[] = [];
    expect(forEachRecord(buf, 0, collect, seen)).toBeNull();
    expect(seen.map((s) => s.key)).toEqual(['k1', null, 'k1']);
    expect(seen[0]!.data).not.toBe(buf);
  });

  it('given a visitor that returns false, then the walk stops there', () => {
    const buf = encodeBatch(records);
    let visits = 0;
    const reason = forEachRecord(
      buf,
      0,
      (_entry, state: { stopAt: number }) => {
        visits += 1;
        return visits < state.stopAt;
      },
      { stopAt: 2 },
    );
    expect(reason).toBeNull();
    expect(visits).toBe(2);
  });
});

describe('bad bytes never throw', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), byte: fc.constant(0) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  );

  function mutate(
    batch: Buffer,
    mutations: { kind: 'flip' | 'cut' | 'insert'; at: number; byte: number }[],
  ): Buffer {
    let buf = Buffer.from(batch);
    for (const m of mutations) {
      const at = m.at % (buf.length + 1);
      if (m.kind === 'flip' && at < buf.length) buf[at] = m.byte;
      if (m.kind === 'cut') buf = buf.subarray(0, at);
      if (m.kind === 'insert')
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from([m.byte]), buf.subarray(at)]);
    }
    return Buffer.from(buf);
  }

  it('given a valid batch with random bytes changed, cut or inserted, then decoding returns a value, never throws', () => {
    fc.assert(
      fc.property(
        recordsArb(6),
        fc.constantFrom('none' as const, 'gzip' as const),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (records, compression, mutations, fixCrc) => {
          const buf = mutate(encodeBatch(records, { compression }), mutations);
          // With the CRC made right again, the damage reaches the record checks instead of stopping at the CRC.
          if (fixCrc && invalidBatchHeader(buf, 0) === null) recrc(buf);
          const result = decodeBatch(buf);
          const invalid = invalidRecords(buf);
          const walked = forEachRecord(buf, 0, () => undefined, null);
          expect(typeof (result.ok ? 'ok' : result.reason)).toBe('string');
          // The three entry points agree.
          expect(walked).toBe(result.ok ? null : result.reason);
          if (invalidBatch(buf, 0) === null) expect(invalid).toBe(walked);
          if (result.ok) expect(result.batch.records.length).toBe(buf.readInt32BE(RECORDS_COUNT_OFFSET));
        },
      ),
      { numRuns: 400 },
    );
  });
});
