// Writes the golden RecordBatch v2 fixtures under test/fixtures/record-batch/: for each case a
// NAME.hex (the batch, one lowercase hex string) made by kafkajs's encoder, so the bytes do not
// come from weir's own code, and a NAME.json describing the batch and its records.
//
// Run once, by hand, and check the output in; the fixtures must not follow weir's encoder:
//   npx tsc -p tsconfig.build.json && node dist/scripts/gen-record-batch-fixtures.js
// The JSON sidecar: batch fields, then records with key/value/header values as lowercase hex (or
// null); header keys are plain strings, listed in wire order.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  KAFKAJS_VERSION,
  kafkajsEncodeBatch,
  kafkajsHeaderOrder,
  type ReferenceBatch,
  type ReferenceRecord,
} from './kafkajs-batch.js';

const OUT_DIR = join(process.cwd(), 'test', 'fixtures', 'record-batch');
const T0 = 1_700_000_000_000;

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

function batch(records: ReferenceRecord[], overrides: Partial<ReferenceBatch> = {}): ReferenceBatch {
  return {
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    producerId: -1,
    producerEpoch: -1,
    baseSequence: -1,
    compression: 'none',
    transactional: false,
    records,
    ...overrides,
  };
}

function manyRecords(n: number): ReferenceRecord[] {
  const records: ReferenceRecord[] = [];
  for (let i = 0; i < n; i++) {
    // Timestamps wander below and above the first (negative deltas); values cross the 64-byte
    // mark where a record's length varint grows to two bytes; every 10th record is a tombstone.
    const value =
      i % 10 === 9 ? null : Buffer.from(Array.from({ length: (i * 37) % 150 }, (_, j) => (i + j) & 0xff));
    records.push({
      timestamp: T0 + ((i * 7919) % 5000) - 1000,
      key: i % 13 === 0 ? null : utf8(`key-${i % 17}`),
      value,
      headers: i % 4 === 0 ? [{ key: 'seq', value: utf8(String(i)) }] : [],
    });
  }
  return records;
}

const CASES: Record<string, { description: string; batch: ReferenceBatch }> = {
  'single-record': {
    description: 'one record with a key and a value, default producer fields',
    batch: batch([{ timestamp: T0, key: utf8('key-1'), value: utf8('hello'), headers: [] }]),
  },
  'null-key': {
    description: 'records with a null key',
    batch: batch([
      { timestamp: T0, key: null, value: utf8('no key here'), headers: [] },
      { timestamp: T0 + 1, key: null, value: utf8('nor here'), headers: [] },
    ]),
  },
  tombstone: {
    description: 'a tombstone (null value) after a live record for the same key',
    batch: batch([
      { timestamp: T0, key: utf8('user-42'), value: utf8('{"name":"Ada"}'), headers: [] },
      { timestamp: T0 + 5, key: utf8('user-42'), value: null, headers: [] },
    ]),
  },
  headers: {
    description: 'headers: several, a repeated key, an empty value, integer-like keys',
    batch: batch([
      {
        timestamp: T0,
        key: utf8('k'),
        value: utf8('v'),
        headers: [
          { key: 'content-type', value: utf8('application/json') },
          { key: 'trace', value: utf8('a') },
          { key: 'trace', value: utf8('b') },
          { key: 'empty', value: Buffer.alloc(0) },
          { key: '10', value: utf8('integer-like keys come first in a JS object') },
        ],
      },
      {
        timestamp: T0 + 2,
        key: utf8('k2'),
        value: utf8('v2'),
        headers: [{ key: 'x', value: Buffer.from([0, 1, 255]) }],
      },
    ]),
  },
  unicode: {
    description: 'UTF-8 keys, values and header keys (Cyrillic, CJK, emoji, combining marks)',
    batch: batch([
      {
        timestamp: T0,
        key: utf8('ключ'),
        value: utf8('héllo wörld 🌊 日本語 e\u0301'),
        headers: [{ key: 'ヘッダー', value: utf8('значение ✓') }],
      },
    ]),
  },
  'empty-value': {
    description: 'an empty key and an empty value (zero length, not null)',
    batch: batch([
      { timestamp: T0, key: Buffer.alloc(0), value: Buffer.alloc(0), headers: [] },
      { timestamp: T0, key: utf8('k'), value: Buffer.alloc(0), headers: [] },
    ]),
  },
  'many-records': {
    description:
      '200 records: mixed null keys, tombstones, sizes, headers, timestamps before and after the first',
    batch: batch(manyRecords(200)),
  },
  'producer-fields': {
    description: 'idempotent transactional producer fields, a large base offset and a leader epoch',
    batch: batch(
      [
        { timestamp: T0, key: utf8('a'), value: utf8('1'), headers: [] },
        { timestamp: T0 + 10, key: utf8('b'), value: utf8('2'), headers: [] },
        { timestamp: T0 + 3, key: utf8('c'), value: utf8('3'), headers: [] },
      ],
      {
        baseOffset: 1_234_567_890_123,
        partitionLeaderEpoch: 7,
        producerId: 987_654_321_012,
        producerEpoch: 3,
        baseSequence: 42,
        transactional: true,
      },
    ),
  },
  'large-timestamps': {
    description: 'timestamps far apart (multi-byte varlong deltas, both signs) and near 2^53',
    batch: batch([
      { timestamp: 8_000_000_000_000_000, key: utf8('a'), value: utf8('x'), headers: [] },
      { timestamp: 3_000_000_000_000_000, key: utf8('b'), value: utf8('y'), headers: [] },
      { timestamp: 9_007_199_254_740_000, key: utf8('c'), value: utf8('z'), headers: [] },
      { timestamp: 0, key: utf8('d'), value: utf8('w'), headers: [] },
    ]),
  },
  gzip: {
    description: 'gzip-compressed records (node:zlib defaults, as kafkajs calls it)',
    batch: batch(
      [
        { timestamp: T0, key: utf8('g1'), value: utf8('compress me '.repeat(20)), headers: [] },
        { timestamp: T0 + 1, key: null, value: null, headers: [{ key: 'h', value: utf8('v') }] },
        { timestamp: T0 + 2, key: utf8('g3'), value: utf8('and me'), headers: [] },
      ],
      { compression: 'gzip' },
    ),
  },
};

const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));

async function main(): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [name, { description, batch: spec }] of Object.entries(CASES)) {
    const bytes = await kafkajsEncodeBatch(spec);
    const sidecar = {
      generatedBy: `scripts/gen-record-batch-fixtures.ts with kafkajs ${KAFKAJS_VERSION}`,
      description,
      batch: {
        baseOffset: spec.baseOffset,
        partitionLeaderEpoch: spec.partitionLeaderEpoch,
        producerId: spec.producerId,
        producerEpoch: spec.producerEpoch,
        baseSequence: spec.baseSequence,
        compression: spec.compression,
        transactional: spec.transactional,
      },
      records: spec.records.map((r) => ({
        timestamp: r.timestamp,
        key: hex(r.key),
        value: hex(r.value),
        // In the order kafkajs writes them (see kafkajs-batch.ts), which is the order on the wire.
        headers: kafkajsHeaderOrder(r.headers).map((h) => ({ key: h.key, value: hex(h.value) })),
      })),
    };
    writeFileSync(join(OUT_DIR, `${name}.hex`), `${bytes.toString('hex')}\n`);
    writeFileSync(join(OUT_DIR, `${name}.json`), `${JSON.stringify(sidecar, null, 2)}\n`);
    console.log(`${name}: ${bytes.length} bytes`);
  }
}

await main();
