// A broker restarted on the same data directory keeps its topics, configs, data, and the state that
// de-duplicates idempotent retries.

import { describe, expect, it } from 'vitest';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import type { TopicDescription__Output } from '../../proto/generated/weir/v1/TopicDescription.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { removeDir, startTestBroker, tempDir } from './support.js';

describe('broker restart', () => {
  it('keeps topics, configs, records and producer state', async () => {
    const dir = tempDir();
    try {
      const first = await startTestBroker({}, dir);
      await first.call('CreateTopic', { name: 'kept', partitions: 2, configs: { 'retention.ms': '123456' } });
      const { producerId } = await first.call<unknown, { producerId: number }>('InitProducerId', {});
      const idempotent = encodeBatch([{ timestamp: 5, key: null, value: Buffer.from('once') }], {
        producerId,
        producerEpoch: 0,
        baseSequence: 0,
      });
      const produced = await first.call<unknown, ProduceResponse__Output>('Produce', {
        partitions: [
          { topic: 'kept', partition: 1, batches: Buffer.from(idempotent) },
          { topic: 'kept', partition: 0, records: [{ value: Buffer.from('plain') }] },
        ],
      });
      await first.close();

      const second = await startTestBroker({}, dir);
      try {
        expect(second.running.broker.cleanShutdown).toBe(true);
        const described = await second.call<unknown, TopicDescription__Output>('DescribeTopic', {
          name: 'kept',
        });
        expect(described.partitions.map((p) => p.highWatermark)).toEqual([1, 1]);
        expect(described.overrides).toEqual({ 'retention.ms': '123456' });
        const retry = await second.call<unknown, ProduceResponse__Output>('Produce', {
          partitions: [{ topic: 'kept', partition: 1, batches: Buffer.from(idempotent) }],
        });
        expect(retry.results[0]?.baseOffset).toBe(produced.results[0]?.baseOffset);
        const fetched = await second.call<unknown, FetchResponse__Output>('Fetch', {
          partitions: [
            { topic: 'kept', partition: 0, offset: 0 },
            { topic: 'kept', partition: 1, offset: 0 },
          ],
          asRecords: true,
        });
        expect(fetched.results.map((r) => r.records.map((x) => x.value?.toString()))).toEqual([
          ['plain'],
          ['once'],
        ]);
        const next = await second.call<unknown, { producerId: number }>('InitProducerId', {});
        expect(next.producerId).not.toBe(producerId);
      } finally {
        await second.close();
      }
    } finally {
      removeDir(dir);
    }
  });

  it('deletes a topic with its data, and the name can be used again', async () => {
    const dir = tempDir();
    const b = await startTestBroker({}, dir);
    try {
      await b.call('CreateTopic', { name: 'gone', partitions: 1 });
      await b.call('Produce', {
        partitions: [{ topic: 'gone', partition: 0, records: [{ value: Buffer.from('x') }] }],
      });
      await b.call('DeleteTopic', { name: 'gone' });
      await b.call('CreateTopic', { name: 'gone', partitions: 1 });
      const described = await b.call<unknown, TopicDescription__Output>('DescribeTopic', { name: 'gone' });
      expect(described.partitions[0]?.highWatermark).toBe(0);
    } finally {
      await b.close();
      removeDir(dir);
    }
  });
});
