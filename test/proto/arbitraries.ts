// fast-check generators for records, shared by the record-batch suites.

import fc from 'fast-check';
import type { RecordInput } from '../../proto/record-batch.js';

/** Bytes as Buffers: empty, small binary, UTF-8 text (any code point), now and then larger. */
export const bytes: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => Buffer.from(s, 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 60, maxLength: 600 }).map((a) => Buffer.from(a)) },
);

export const nullableBytes: fc.Arbitrary<Buffer | null> = fc.option(bytes, { nil: null, freq: 4 });

/** Header keys: any text, including integer-like keys (which JS objects reorder). */
export const headerKey: fc.Arbitrary<string> = fc
  .oneof(fc.string({ unit: 'binary', maxLength: 10 }), fc.nat(30).map(String))
  .filter((k) => k !== '__proto__');

/** Timestamps: realistic epoch milliseconds, and any value whose differences stay safe. */
export const timestamp: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 1_500_000_000_000, max: 1_900_000_000_000 }),
  fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
);

export interface GeneratedRecord extends RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export const record: fc.Arbitrary<GeneratedRecord> = fc.record({
  timestamp,
  key: nullableBytes,
  value: nullableBytes,
  headers: fc.array(fc.record({ key: headerKey, value: nullableBytes }), { maxLength: 4 }),
});

export const records = (maxLength = 12): fc.Arbitrary<GeneratedRecord[]> =>
  fc.array(record, { minLength: 1, maxLength });
