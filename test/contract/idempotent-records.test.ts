// Idempotence in the plain `records` form, as a producer in another language uses it: a producer id
// and epoch from InitProducerId and a base sequence on the partition's data, no RecordBatch codec.
// Through the real gRPC server: a retry answers the original offsets and writes nothing, a gap and
// an older epoch are refused with the batch form's codes, and incomplete fields are bad requests.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { PartitionProduceResult__Output } from '../../proto/generated/weir/v1/PartitionProduceResult.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { removeDir, startTestBroker, type TestBroker } from '../broker/support.js';

let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker();
  await b.call('CreateTopic', { name: 'payments', partitions: 2 });
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

interface Producer {
  producerId: number;
  producerEpoch: number;
}

function initProducerId(): Promise<Producer> {
  return b.call<unknown, Producer>('InitProducerId', {});
}

async function produce(
  partition: number,
  values: string[],
  fields: { producerId?: number; producerEpoch?: number; baseSequence?: number },
): Promise<PartitionProduceResult__Output> {
  const res = await b.call<unknown, ProduceResponse__Output>('Produce', {
    acks: 'ACKS_ALL',
    partitions: [
      { topic: 'payments', partition, records: values.map((v) => ({ value: Buffer.from(v) })), ...fields },
    ],
  });
  return res.results[0]!;
}

async function stored(partition: number): Promise<string[]> {
  const res = await b.call<unknown, FetchResponse__Output>('Fetch', {
    partitions: [{ topic: 'payments', partition, offset: 0 }],
    asRecords: true,
  });
  return res.results[0]!.records.map((r) => r.value?.toString() ?? '<null>');
}

describe('idempotent produce in the records form', () => {
  it('given a producer id, when the same request is retried, then it answers the original offsets and writes nothing', async () => {
    const { producerId, producerEpoch } = await initProducerId();
    const first = await produce(0, ['a', 'b', 'c'], { producerId, producerEpoch, baseSequence: 0 });
    expect(first).toMatchObject({ baseOffset: 0, lastOffset: 2, error: null });
    const retry = await produce(0, ['a', 'b', 'c'], { producerId, producerEpoch, baseSequence: 0 });
    expect(retry).toMatchObject({ baseOffset: 0, lastOffset: 2, error: null });
    const next = await produce(0, ['d'], { producerId, producerEpoch, baseSequence: 3 });
    expect(next).toMatchObject({ baseOffset: 3, lastOffset: 3, error: null });
    expect(await stored(0)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('given a sequence gap, then the request is refused with OUT_OF_ORDER_SEQUENCE_NUMBER and writes nothing', async () => {
    const { producerId, producerEpoch } = await initProducerId();
    await produce(1, ['x'], { producerId, producerEpoch, baseSequence: 0 });
    const gap = await produce(1, ['y'], { producerId, producerEpoch, baseSequence: 5 });
    expect(gap.error).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false });
    expect(await stored(1)).toEqual(['x']);
  });

  it('answers as the batch form does: the same sequence sent as a batch is a duplicate of the records', async () => {
    const { producerId, producerEpoch } = await initProducerId();
    const records = await produce(1, ['p', 'q'], { producerId, producerEpoch, baseSequence: 0 });
    const asBatch = await b.call<unknown, ProduceResponse__Output>('Produce', {
      partitions: [
        {
          topic: 'payments',
          partition: 1,
          batches: encodeBatch(
            ['p', 'q'].map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1 })),
            { producerId, producerEpoch, baseSequence: 0 },
          ),
        },
      ],
    });
    expect(asBatch.results[0]).toMatchObject({
      baseOffset: records.baseOffset,
      lastOffset: records.lastOffset,
    });
  });

  it('given an older epoch, then it is INVALID_PRODUCER_EPOCH', async () => {
    const { producerId } = await initProducerId();
    await produce(0, ['e1'], { producerId, producerEpoch: 1, baseSequence: 0 });
    const stale = await produce(0, ['e0'], { producerId, producerEpoch: 0, baseSequence: 1 });
    expect(stale.error).toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
  });

  it('without producer fields, the same records are written again (not idempotent)', async () => {
    await b.call('CreateTopic', { name: 'plain', partitions: 1 });
    for (let i = 0; i < 2; i++) {
      await b.call('Produce', {
        partitions: [{ topic: 'plain', partition: 0, records: [{ value: Buffer.from('r') }] }],
      });
    }
    const res = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 'plain', partition: 0, offset: 0 }],
      asRecords: true,
    });
    expect(res.results[0]!.records).toHaveLength(2);
  });

  it.each([
    ['only a producer id', 0, { producerId: 7 }, /all three or none/],
    ['partition -1', -1, { producerId: 7, producerEpoch: 0, baseSequence: 0 }, /names its partition/],
    ['a negative sequence', 0, { producerId: 7, producerEpoch: 0, baseSequence: -1 }, /base_sequence/],
  ])('given %s, then the partition answers INVALID_REQUEST', async (_name, partition, fields, message) => {
    const res = await produce(partition, ['z'], fields);
    expect(res.error).toMatchObject({
      code: 'INVALID_REQUEST',
      message: expect.stringMatching(message) as unknown,
    });
  });
});
