// Bad input through the real gRPC server: every case answers with a code from the error table,
// writes nothing, and leaves the broker serving everyone else with nothing lost.

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRC_OFFSET, MAGIC_OFFSET, RECORDS_COUNT_OFFSET } from '../../proto/batch-header.js';
import { isWeirError } from '../../proto/errors.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import { ERROR_CODE_KEY } from '../../proto/grpc.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';

let b: TestBroker;
const MAX_REQUEST = 64 * 1024;

beforeAll(async () => {
  b = await startTestBroker({ maxRequestBytes: MAX_REQUEST });
  await b.call('CreateTopic', { name: 't', partitions: 2, configs: { 'max.message.bytes': '2000' } });
  await b.call('Produce', {
    partitions: [{ topic: 't', partition: 0, batches: batch(['keep-1', 'keep-2']) }],
  });
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

function batch(values: string[], options: Parameters<typeof encodeBatch>[1] = {}): Buffer {
  return encodeBatch(
    values.map((v) => ({ timestamp: 1000, key: null, value: Buffer.from(v) })),
    options,
  );
}

async function produce(
  partition: number,
  batches: Buffer,
  topic = 't',
): Promise<ProduceResponse__Output['results'][number]> {
  const res = await b.call<unknown, ProduceResponse__Output>('Produce', {
    partitions: [{ topic, partition, batches }],
  });
  return res.results[0]!;
}

async function highWatermark(partition: number): Promise<number> {
  const res = await b.call<unknown, { results: { offset: number }[] }>('ListOffsets', {
    partitions: [{ topic: 't', partition, timestamp: -1 }],
  });
  return res.results[0]!.offset;
}

async function rejects(run: Promise<unknown>, code: string): Promise<void> {
  let thrown: unknown;
  try {
    await run;
  } catch (err) {
    thrown = err;
  }
  expect(isWeirError(thrown) ? thrown.code : thrown).toBe(code);
}

describe('produce refuses bad batches and writes nothing', () => {
  it.each([
    ['a CRC mismatch', 'CORRUPT_MESSAGE', (buf: Buffer) => void (buf[buf.length - 1]! ^= 0xff)],
    [
      'a stored CRC that is wrong',
      'CORRUPT_MESSAGE',
      (buf: Buffer) => void buf.writeUInt32BE((buf.readUInt32BE(CRC_OFFSET) + 1) >>> 0, CRC_OFFSET),
    ],
    ['the wrong magic', 'CORRUPT_MESSAGE', (buf: Buffer) => void buf.writeInt8(1, MAGIC_OFFSET)],
    ['a length past the data', 'CORRUPT_MESSAGE', (buf: Buffer) => void buf.writeInt32BE(buf.length, 8)],
    [
      'a record count that is off',
      'CORRUPT_MESSAGE',
      (buf: Buffer) => void buf.writeInt32BE(5, RECORDS_COUNT_OFFSET),
    ],
  ])('given %s, it answers %s', async (_what, code, damage) => {
    const before = await highWatermark(0);
    const buf = batch(['x', 'y']);
    damage(buf);
    const result = await produce(0, buf);
    expect(result.error?.code).toBe(code);
    expect(result.baseOffset).toBe(-1);
    expect(await highWatermark(0)).toBe(before);
  });

  it('refuses a truncated batch', async () => {
    const result = await produce(0, batch(['x']).subarray(0, 40));
    expect(result.error?.code).toBe('CORRUPT_MESSAGE');
  });

  it('refuses a batch over the topic max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    const result = await produce(0, batch(['z'.repeat(3000)]));
    expect(result.error?.code).toBe('MESSAGE_TOO_LARGE');
  });

  it('refuses a batch whose offsets do not run 0..n-1 with INVALID_RECORD', async () => {
    const gappy = encodeBatch(
      [
        { timestamp: 1, key: null, value: Buffer.from('a'), offsetDelta: 0 },
        { timestamp: 1, key: null, value: Buffer.from('b'), offsetDelta: 2 },
      ],
      { lastOffsetDelta: 2 },
    );
    expect((await produce(0, gappy)).error?.code).toBe('INVALID_RECORD');
  });

  it('refuses unknown topics and partitions, and bad names', async () => {
    expect((await produce(0, batch(['x']), 'nope')).error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await produce(7, batch(['x']))).error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await produce(-3, batch(['x']))).error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await produce(0, batch(['x']), '../../etc')).error?.code).toBe('INVALID_TOPIC_EXCEPTION');
    await rejects(b.call('CreateTopic', { name: 'bad/name', partitions: 1 }), 'INVALID_TOPIC_EXCEPTION');
    await rejects(b.call('CreateTopic', { name: 'ok', partitions: 0 }), 'INVALID_PARTITIONS');
    await rejects(
      b.call('CreateTopic', { name: 'ok', partitions: 1, replicationFactor: 3 }),
      'INVALID_REPLICATION_FACTOR',
    );
    await rejects(
      b.call('CreateTopic', { name: 'ok', partitions: 1, configs: { 'retention.ms': 'soon' } }),
      'INVALID_CONFIG',
    );
    await rejects(b.call('CreateTopic', { name: 't', partitions: 1 }), 'TOPIC_ALREADY_EXISTS');
  });

  it('refuses a request over max request bytes before reading it, and keeps serving', async () => {
    await rejects(
      b.call('Produce', {
        partitions: [{ topic: 't', partition: 1, batches: Buffer.alloc(MAX_REQUEST + 1) }],
      }),
      'MESSAGE_TOO_LARGE',
    );
    expect((await produce(1, batch(['after-too-large']))).baseOffset).toBe(0);
  });

  it('refuses a request that is not protobuf with INVALID_REQUEST', async () => {
    const raw = new grpc.Client(b.running.grpcAddress, grpc.credentials.createInsecure());
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const status = await new Promise<grpc.ServiceError>((resolve) => {
      raw.makeUnaryRequest(
        '/weir.v1.Weir/Produce',
        (x: Buffer) => x,
        (x: Buffer) => x,
        garbage,
        (err) => resolve(err as grpc.ServiceError),
      );
    });
    raw.close();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.metadata.get(ERROR_CODE_KEY)).toEqual(['INVALID_REQUEST']);
  });
});

describe('fetch refuses bad offsets and sizes per partition', () => {
  it.each([
    [-1, 'OFFSET_OUT_OF_RANGE'],
    [1_000_000, 'OFFSET_OUT_OF_RANGE'],
    [Number.MAX_SAFE_INTEGER, 'OFFSET_OUT_OF_RANGE'],
  ])('offset %d answers %s', async (offset, code) => {
    const res = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 't', partition: 0, offset }],
    });
    expect(res.results[0]?.error?.code).toBe(code);
  });

  it('a negative max_bytes is INVALID_REQUEST for the call', async () => {
    await rejects(
      b.call('Fetch', { partitions: [{ topic: 't', partition: 0, offset: 0 }], maxBytes: -5 }),
      'INVALID_REQUEST',
    );
  });

  it('one bad partition does not fail the others', async () => {
    const res = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [
        { topic: 'nope', partition: 0, offset: 0 },
        { topic: 't', partition: 0, offset: 0 },
      ],
    });
    expect(res.results[0]?.error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(res.results[1]?.error).toBeFalsy();
    expect(res.results[1]?.batches.length).toBeGreaterThan(0);
  });
});

describe('idempotent producers', () => {
  it('answers a retried batch with its original offsets and writes it once', async () => {
    const { producerId, producerEpoch } = await b.call<
      unknown,
      { producerId: number; producerEpoch: number }
    >('InitProducerId', {});
    const first = batch(['i-0', 'i-1'], { producerId, producerEpoch, baseSequence: 0 });
    const original = await produce(1, Buffer.from(first));
    const hw = await highWatermark(1);
    const retry = await produce(1, Buffer.from(first));
    expect(retry).toMatchObject({ baseOffset: original.baseOffset, lastOffset: original.lastOffset });
    expect(retry.error).toBeFalsy();
    expect(await highWatermark(1)).toBe(hw);
    const next = await produce(1, batch(['i-2'], { producerId, producerEpoch, baseSequence: 2 }));
    expect(next.baseOffset).toBe(original.lastOffset + 1);
  });

  it('refuses a sequence gap, a fenced epoch and an unknown producer mid-sequence', async () => {
    const { producerId } = await b.call<unknown, { producerId: number }>('InitProducerId', {});
    expect(
      (await produce(1, batch(['s0'], { producerId, producerEpoch: 3, baseSequence: 0 }))).error,
    ).toBeFalsy();
    expect(
      (await produce(1, batch(['gap'], { producerId, producerEpoch: 3, baseSequence: 5 }))).error?.code,
    ).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(
      (await produce(1, batch(['old'], { producerId, producerEpoch: 2, baseSequence: 1 }))).error?.code,
    ).toBe('INVALID_PRODUCER_EPOCH');
    const stranger = await produce(
      1,
      batch(['?'], { producerId: producerId + 500, producerEpoch: 0, baseSequence: 9 }),
    );
    expect(stranger.error?.code).toBe('UNKNOWN_PRODUCER_ID');
  });

  it('given a request whose later batch is out of sequence, writes none of it and takes a correct retry', async () => {
    const { producerId, producerEpoch } = await b.call<
      unknown,
      { producerId: number; producerEpoch: number }
    >('InitProducerId', {});
    const seq = (values: string[], baseSequence: number): Buffer =>
      batch(values, { producerId, producerEpoch, baseSequence });
    const hw = await highWatermark(1);
    // Batch 0 starts the producer, batch 1 follows it, batch 2 skips a sequence.
    const refused = await produce(
      1,
      Buffer.concat([seq(['m-0', 'm-1'], 0), seq(['m-2'], 2), seq(['m-4'], 4)]),
    );
    expect(refused.error?.code).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(await highWatermark(1)).toBe(hw);
    const retry = await produce(1, Buffer.concat([seq(['m-0', 'm-1'], 0), seq(['m-2'], 2), seq(['m-3'], 3)]));
    expect(retry.error).toBeFalsy();
    expect(retry).toMatchObject({ baseOffset: hw, lastOffset: hw + 3 });
    expect(await highWatermark(1)).toBe(hw + 4);
  });

  it('given a multi-batch produce through the broker with a fenced later batch, leaves the partition as it was', async () => {
    const broker = b.running.broker;
    const { producerId } = broker.initProducerId();
    const seq = (values: string[], producerEpoch: number, baseSequence: number): Buffer =>
      batch(values, { producerId, producerEpoch, baseSequence });
    await broker.produce('t', 1, seq(['e1-0'], 1, 0), 'leader');
    const partition = broker.partition('t', 1);
    const end = partition.logEndOffset;
    // A new epoch first, then the old one: the old batch is fenced by the batch just before it.
    await rejects(
      broker.produce('t', 1, Buffer.concat([seq(['e2-0'], 2, 0), seq(['e1-1'], 1, 1)]), 'leader'),
      'INVALID_PRODUCER_EPOCH',
    );
    expect(partition.logEndOffset).toBe(end);
    // The producer state did not move to epoch 2: epoch 1 carries on where it was.
    const next = await broker.produce(
      't',
      1,
      Buffer.concat([seq(['e1-1'], 1, 1), seq(['e1-2'], 1, 2)]),
      'leader',
    );
    expect(next).toMatchObject({ baseOffset: end, lastOffset: end + 1, duplicate: false });
    // A retry of that request with a stranger's batch after it is refused whole, not half-answered.
    await rejects(
      broker.produce(
        't',
        1,
        Buffer.concat([
          seq(['e1-1'], 1, 1),
          batch(['?'], { producerId: producerId + 900, producerEpoch: 0, baseSequence: 3 }),
        ]),
        'leader',
      ),
      'UNKNOWN_PRODUCER_ID',
    );
    expect(partition.logEndOffset).toBe(end + 2);
  });

  it('hands out a new producer id every time', async () => {
    const ids = new Set<number>();
    for (let i = 0; i < 5; i++)
      ids.add((await b.call<unknown, { producerId: number }>('InitProducerId', {})).producerId);
    expect(ids.size).toBe(5);
  });
});

describe('after all of that', () => {
  it('still serves and lost nothing', async () => {
    const res = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 't', partition: 0, offset: 0 }],
      asRecords: true,
    });
    expect(res.results[0]?.records.slice(0, 2).map((r) => r.value?.toString())).toEqual(['keep-1', 'keep-2']);
  });
});
