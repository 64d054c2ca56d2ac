// kafkajs's RecordBatch v2 codec, wrapped as an independent reference for weir's own codec
// (proto/record-batch.ts): the golden fixtures are produced with it (gen-record-batch-fixtures.ts)
// and the interop tests compare against it (test/proto/record-batch.interop.test.ts).
//
// kafkajs (a devDependency) is CommonJS and does not export its protocol layer, so its source
// modules are loaded by path. It names the v2 batch format "RecordBatch v0"
// (src/protocol/recordBatch/v0) after its own first version. Its quirks, which callers shape
// their input around:
// - headers are an object (key -> value, or key -> array of values for repeated keys), so they
//   come out in Object.keys order: integer-like keys first, repeated keys together;
// - a header value cannot be null (the size computation calls Buffer.byteLength on it);
// - the encoder never sets the LogAppendTime bit; its decoder reads it;
// - encoding is async (compression is), and so is decoding.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type KafkajsHeaders = Record<string, Buffer | Buffer[]>;

interface KafkajsEncoder {
  readonly buffer: Buffer;
}

interface KafkajsRecordBatchModule {
  RecordBatch(args: {
    compression: number;
    firstOffset: number;
    firstTimestamp: number;
    maxTimestamp: number;
    partitionLeaderEpoch: number;
    lastOffsetDelta: number;
    transactional: boolean;
    producerId: number;
    producerEpoch: number;
    firstSequence: number;
    records: KafkajsEncoder[];
  }): Promise<KafkajsEncoder>;
}

type KafkajsRecord = (args: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkajsHeaders;
}) => KafkajsEncoder;

interface KafkajsDecodedRecord {
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkajsHeaders;
}

interface KafkajsDecodedBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  timestampType: number;
  records: KafkajsDecodedRecord[];
}

const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as KafkajsRecordBatchModule;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as KafkajsRecord;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
  decoder: unknown,
) => Promise<KafkajsDecodedBatch>;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buf: Buffer) => unknown;
const { Types: CompressionTypes } = require('kafkajs/src/protocol/message/compression/index.js') as {
  Types: { None: number; GZIP: number };
};

export const KAFKAJS_VERSION = (require('kafkajs/package.json') as { version: string }).version;

export interface ReferenceHeader {
  key: string;
  value: Buffer;
}

export interface ReferenceRecord {
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: ReferenceHeader[];
}

export interface ReferenceBatch {
  baseOffset: number;
  partitionLeaderEpoch: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  compression: 'none' | 'gzip';
  transactional: boolean;
  records: ReferenceRecord[];
}

export interface ReferenceDecodedRecord extends ReferenceRecord {
  offset: number;
}

export interface ReferenceDecodedBatch extends Omit<ReferenceBatch, 'compression' | 'records'> {
  baseTimestamp: number;
  maxTimestamp: number;
  lastOffsetDelta: number;
  logAppendTime: boolean;
  records: ReferenceDecodedRecord[];
}

/** A header list as the kafkajs object: repeated keys gather into an array. */
export function toKafkajsHeaders(headers: readonly ReferenceHeader[]): KafkajsHeaders {
  const out: KafkajsHeaders = {};
  for (const { key, value } of headers) {
    const seen = Object.hasOwn(out, key) ? out[key] : undefined;
    if (seen === undefined) out[key] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[key] = [seen, value];
  }
  return out;
}

/** A kafkajs header object as the list kafkajs writes (and reads) on the wire, in its order. */
export function fromKafkajsHeaders(headers: KafkajsHeaders): ReferenceHeader[] {
  return Object.keys(headers).flatMap((key) => {
    const value = headers[key]!;
    return Array.isArray(value) ? value.map((v) => ({ key, value: v })) : [{ key, value }];
  });
}

/** The order kafkajs puts a header list in on the wire. */
export function kafkajsHeaderOrder(headers: readonly ReferenceHeader[]): ReferenceHeader[] {
  return fromKafkajsHeaders(toKafkajsHeaders(headers));
}

/** Encodes a batch with kafkajs, Kafka's way: baseTimestamp is the first record's, offsets 0..n-1. */
export async function kafkajsEncodeBatch(batch: ReferenceBatch): Promise<Buffer> {
  const first = batch.records[0];
  if (first === undefined) throw new Error('kafkajs reference: a batch needs a record');
  const firstTimestamp = first.timestamp;
  const maxTimestamp = Math.max(...batch.records.map((r) => r.timestamp));
  const records = batch.records.map((r, i) =>
    Record({
      offsetDelta: i,
      timestampDelta: r.timestamp - firstTimestamp,
      key: r.key,
      value: r.value,
      headers: toKafkajsHeaders(r.headers),
    }),
  );
  const encoder = await RecordBatch({
    compression: batch.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
    firstOffset: batch.baseOffset,
    firstTimestamp,
    maxTimestamp,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    lastOffsetDelta: records.length - 1,
    transactional: batch.transactional,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    firstSequence: batch.baseSequence,
    records,
  });
  return Buffer.from(encoder.buffer);
}

/** Decodes one batch with kafkajs (which does not check the CRC). */
export async function kafkajsDecodeBatch(buf: Buffer): Promise<ReferenceDecodedBatch> {
  const batch = await decodeRecordBatch(new Decoder(buf));
  return {
    baseOffset: Number(batch.firstOffset),
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    producerId: Number(batch.producerId),
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.firstSequence,
    transactional: batch.inTransaction,
    baseTimestamp: Number(batch.firstTimestamp),
    maxTimestamp: Number(batch.maxTimestamp),
    lastOffsetDelta: batch.lastOffsetDelta,
    logAppendTime: batch.timestampType === 1,
    records: batch.records.map((r) => ({
      offset: Number(r.offset),
      timestamp: Number(r.timestamp),
      key: r.key,
      value: r.value,
      headers: fromKafkajsHeaders(r.headers),
    })),
  };
}
