// Fetch size limits as a client in any language meets them: a backlog of 6 MB fetched with the
// default limits (max_bytes 0) by a stub that, like gRPC's Python, Go and Java clients, receives at
// most 4 MiB; an explicit large limit; the per-partition default; and a batch larger than every
// limit, which still comes back whole.

import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FETCH_MAX_BYTES, DEFAULT_PARTITION_FETCH_MAX_BYTES } from '../../broker/broker.js';
import { batchSize } from '../../proto/batch-header.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import type { WeirClient } from '../../proto/generated/weir/v1/Weir.js';
import { weirProto } from '../../proto/grpc.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { removeDir, startTestBroker, type TestBroker } from '../broker/support.js';

const MiB = 1024 * 1024;
/** What gRPC clients in Python, Go and Java receive at most unless told otherwise. */
const GRPC_DEFAULT_RECEIVE_BYTES = 4 * MiB;
const BATCHES = 60;
const VALUE_BYTES = 1000;
const RECORDS_PER_BATCH = 100;

let b: TestBroker;
/** A stub with grpc's default 4 MiB receive limit, as the Python user had. */
let small: WeirClient;
let smallFetch: (req: unknown) => Promise<FetchResponse__Output>;

function batchOf(n: number, valueBytes: number): Buffer {
  return encodeBatch(
    Array.from({ length: n }, (_, i) => ({
      timestamp: 1000,
      key: null,
      value: Buffer.alloc(valueBytes, 97 + (i % 26)),
    })),
  );
}

function batchesIn(bytes: Buffer): number {
  let n = 0;
  for (let off = 0; off < bytes.length; off += batchSize(bytes, off)) n++;
  return n;
}

beforeAll(async () => {
  b = await startTestBroker();
  await b.call('CreateTopic', { name: 'backlog', partitions: 2 });
  await b.call('CreateTopic', {
    name: 'big',
    partitions: 1,
    configs: { 'max.message.bytes': String(3 * MiB) },
  });
  // About 6 MB in partition 0 of 'backlog', a little in partition 1.
  for (let i = 0; i < BATCHES; i++) {
    await b.call('Produce', {
      partitions: [{ topic: 'backlog', partition: 0, batches: batchOf(RECORDS_PER_BATCH, VALUE_BYTES) }],
    });
  }
  await b.call('Produce', { partitions: [{ topic: 'backlog', partition: 1, batches: batchOf(3, 10) }] });
  const Weir = weirProto().weir.v1.Weir;
  small = new Weir(b.running.grpcAddress, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': GRPC_DEFAULT_RECEIVE_BYTES,
  }) as WeirClient;
  smallFetch = promisify(small.Fetch.bind(small)) as unknown as typeof smallFetch;
});
afterAll(async () => {
  small.close();
  await b.close();
  removeDir(b.dataDir);
});

describe('fetch limits', () => {
  it('given a 6 MB backlog, when fetched with the default limits, then the answer fits a 4 MiB client', async () => {
    const res = await smallFetch({ partitions: [{ topic: 'backlog', partition: 0, offset: 0 }] });
    const r = res.results[0]!;
    expect(r.error).toBeNull();
    expect(r.highWatermark).toBe(BATCHES * RECORDS_PER_BATCH);
    expect(r.batches.length).toBeGreaterThan(DEFAULT_FETCH_MAX_BYTES / 2);
    // At most the default, plus the one batch that may cross it.
    expect(r.batches.length).toBeLessThanOrEqual(DEFAULT_FETCH_MAX_BYTES + batchSize(r.batches, 0));
    expect(r.nextOffset).toBe(batchesIn(r.batches) * RECORDS_PER_BATCH);
  });

  it('given the same backlog, when fetched as records with the default limits, then the answer fits too', async () => {
    const res = await smallFetch({
      partitions: [{ topic: 'backlog', partition: 0, offset: 0 }],
      asRecords: true,
    });
    const r = res.results[0]!;
    expect(r.error).toBeNull();
    const bytes = r.records.reduce((n, rec) => n + (rec.value?.length ?? 0), 0);
    expect(bytes).toBeGreaterThan(DEFAULT_FETCH_MAX_BYTES / 2);
    expect(bytes).toBeLessThanOrEqual(DEFAULT_FETCH_MAX_BYTES);
    expect(r.nextOffset).toBe(r.records.length);
  });

  it('given a consumer reading with the defaults, then it reads the whole backlog, fetch after fetch', async () => {
    let offset = 0;
    let fetches = 0;
    while (offset < BATCHES * RECORDS_PER_BATCH) {
      const res = await smallFetch({
        partitions: [
          { topic: 'backlog', partition: 0, offset },
          { topic: 'backlog', partition: 1, offset: 0 },
        ],
      });
      expect(res.results[0]!.error).toBeNull();
      offset = res.results[0]!.nextOffset;
      fetches++;
    }
    expect(fetches).toBeGreaterThanOrEqual(5);
  });

  it('given an explicit large max_bytes for the response and the partition, then one answer holds all 6 MB', async () => {
    const Weir = weirProto().weir.v1.Weir;
    const large = new Weir(b.running.grpcAddress, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 16 * MiB,
    }) as WeirClient;
    try {
      const res = await (promisify(large.Fetch.bind(large)) as unknown as typeof smallFetch)({
        partitions: [{ topic: 'backlog', partition: 0, offset: 0, maxBytes: 8 * MiB }],
        maxBytes: 8 * MiB,
      });
      expect(res.results[0]!.batches.length).toBeGreaterThan(6_000_000);
      expect(res.results[0]!.nextOffset).toBe(BATCHES * RECORDS_PER_BATCH);
    } finally {
      large.close();
    }
  });

  it('given a large max_bytes for the response only, then each partition gets the partition default', async () => {
    const res = await smallFetch({
      partitions: [{ topic: 'backlog', partition: 0, offset: 0 }],
      maxBytes: 8 * MiB,
    });
    const r = res.results[0]!;
    expect(r.batches.length).toBeLessThanOrEqual(DEFAULT_PARTITION_FETCH_MAX_BYTES + batchSize(r.batches, 0));
  });

  it('given a batch larger than every limit, when fetched with the defaults or a tiny max_bytes, then it comes back whole', async () => {
    const huge = batchOf(2, MiB);
    expect(huge.length).toBeGreaterThan(DEFAULT_FETCH_MAX_BYTES);
    const produced = await b.call<unknown, ProduceResponse__Output>('Produce', {
      partitions: [{ topic: 'big', partition: 0, batches: huge }],
    });
    expect(produced.results[0]?.error).toBeNull();
    for (const limits of [{}, { maxBytes: 1 }]) {
      const res = await smallFetch({
        partitions: [{ topic: 'big', partition: 0, offset: 0, ...limits }],
        ...limits,
      });
      expect(res.results[0]!.batches.length).toBe(huge.length);
      expect(res.results[0]!.nextOffset).toBe(2);
    }
  });
});
