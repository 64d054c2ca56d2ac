// Inflating compressed batches off the event loop: whole (produce validation) or as far as a walk
// goes (fetches answered as records), never past the limit given. One test per outcome.

import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  computeBatchCrc,
} from '../../proto/batch-header.js';
import {
  INFLATED_TOO_LARGE,
  forEachInflatedRecord,
  inflateRecords,
  isCompressed,
} from '../../proto/batch-inflate.js';
import { encodeBatch, invalidRecords, type RecordEntry, type RecordInput } from '../../proto/record-batch.js';

const KiB = 1024;

function gzipBatch(records: readonly RecordInput[]): Buffer {
  return encodeBatch(records, { compression: 'gzip', baseOffset: 100 });
}

function values(n: number, size: number): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    timestamp: 1000 + i,
    key: Buffer.from(`k${i}`),
    value: Buffer.alloc(size, 97 + (i % 26)),
  }));
}

/** The batch with its compressed records replaced by `body`, CRC fixed. */
function withBody(batch: Buffer, body: Buffer): Buffer {
  const out = Buffer.concat([batch.subarray(0, BATCH_HEADER_SIZE), body]);
  out.writeInt32BE(out.length - 12, BATCH_LENGTH_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0), CRC_OFFSET);
  return out;
}

interface Walk {
  offsets: number[];
  values: number[];
  stopAfter: number;
}

function collect(entry: RecordEntry, w: Walk): boolean {
  w.offsets.push(entry.offset);
  w.values.push(entry.view.valueLength);
  expect(entry.data[entry.view.valueStart]).toBe(97 + ((entry.offset - 100) % 26));
  return w.offsets.length < w.stopAfter;
}

function walk(stopAfter = Infinity): Walk {
  return { offsets: [], values: [], stopAfter };
}

describe('inflateRecords', () => {
  it('given a gzip batch, yields its records, which invalidRecords accepts', async () => {
    const batch = gzipBatch(values(50, 100));
    expect(isCompressed(batch, 0)).toBe(true);
    expect(isCompressed(encodeBatch(values(1, 1)), 0)).toBe(false);
    const inflated = await inflateRecords(batch, 0, 1024 * KiB);
    expect(Buffer.isBuffer(inflated)).toBe(true);
    expect(invalidRecords(batch, 0, batch.length, inflated as Buffer)).toBeNull();
  });

  it('given records that inflate past the limit, yields INFLATED_TOO_LARGE', async () => {
    const batch = gzipBatch([{ timestamp: 1, key: null, value: Buffer.alloc(512 * KiB) }]);
    expect(await inflateRecords(batch, 0, 256 * KiB)).toBe(INFLATED_TOO_LARGE);
  });

  it('given bytes that are not gzip, yields the gzip reason', async () => {
    const batch = withBody(gzipBatch(values(1, 1)), Buffer.from('not gzip at all'));
    expect(await inflateRecords(batch, 0, KiB)).toMatch(/^gzip: /);
  });

  it('given a codec no Kafka version defines, yields unsupported compression', async () => {
    const batch = gzipBatch(values(1, 1));
    batch.writeInt16BE(5, ATTRIBUTES_OFFSET);
    expect(await inflateRecords(batch, 0, KiB)).toBe('unsupported compression codec 5');
  });
});

describe('forEachInflatedRecord', () => {
  it('walks every record, records spanning many output chunks included', async () => {
    const sizes = [10, 700 * KiB, 3, 1200 * KiB, 20];
    const batch = gzipBatch(
      sizes.map((size, i) => ({ timestamp: i, key: null, value: Buffer.alloc(size, 97 + i) })),
    );
    const w = walk();
    expect(await forEachInflatedRecord(batch, 0, 4096 * KiB, collect, w)).toBeNull();
    expect(w.offsets).toEqual([100, 101, 102, 103, 104]);
    expect(w.values).toEqual(sizes);
  });

  it('stops when the visitor returns false', async () => {
    const w = walk(3);
    expect(await forEachInflatedRecord(gzipBatch(values(2000, 600)), 0, 4096 * KiB, collect, w)).toBeNull();
    expect(w.offsets).toEqual([100, 101, 102]);
  });

  it('stops with INFLATED_TOO_LARGE past the limit, after the records before it', async () => {
    const batch = gzipBatch([
      { timestamp: 1, key: null, value: Buffer.alloc(10, 97) },
      { timestamp: 2, key: null, value: Buffer.alloc(4096 * KiB, 98) },
    ]);
    const w = walk();
    expect(await forEachInflatedRecord(batch, 0, 1024 * KiB, collect, w)).toBe(INFLATED_TOO_LARGE);
    expect(w.offsets).toEqual([100]);
  });

  it('given a gzip stream cut short, yields the reason', async () => {
    const batch = gzipBatch(values(20, 100));
    const cut = withBody(batch, batch.subarray(BATCH_HEADER_SIZE, batch.length - 40));
    expect(await forEachInflatedRecord(cut, 0, 4096 * KiB, collect, walk())).toMatch(/^gzip: /);
  });

  it('given fewer records than the header declares, yields the record reason', async () => {
    const two = gzipBatch(values(2, 100));
    const one = gzipBatch(values(1, 100));
    const short = withBody(two, one.subarray(BATCH_HEADER_SIZE));
    expect(await forEachInflatedRecord(short, 0, 4096 * KiB, collect, walk())).toMatch(/^record 1: /);
  });
});
