// The streaming RPCs through the real gRPC server: Subscribe pushes batches as they arrive from a
// start position, and ProduceStream pipelines requests, answering each by correlation id.

import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { ProduceRequest } from '../../proto/generated/weir/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import { fromServiceError } from '../../proto/grpc.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';

let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker();
  await b.call('CreateTopic', { name: 'live', partitions: 2 });
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

function produceValue(partition: number, value: string, timestamp = 0): Promise<unknown> {
  return b.call('Produce', {
    partitions: [{ topic: 'live', partition, records: [{ value: Buffer.from(value), timestamp }] }],
  });
}

/** Collects values pushed by a Subscribe stream until `count` arrived (bounded wait). */
function collect(stream: grpc.ClientReadableStream<FetchResponse__Output>, count: number): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${seen.length} of ${count} records arrived: ${seen.join(',')}`)),
      10_000,
    );
    stream.on('data', (msg: FetchResponse__Output) => {
      for (const r of msg.results)
        for (const rec of r.records) seen.push(`${r.partition}:${rec.value?.toString()}`);
      if (seen.length >= count) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (seen.length < count) reject(fromServiceError(err));
    });
  });
}

describe('Subscribe', () => {
  it('from the earliest offset, pushes what is there and then what arrives, across partitions', async () => {
    await produceValue(0, 'old-0', 1_000);
    await produceValue(1, 'old-1', 2_000);
    const stream = b.client.Subscribe({ topic: 'live', start: { earliest: true }, asRecords: true });
    const got = collect(stream, 4);
    await new Promise((r) => setTimeout(r, 50));
    await produceValue(1, 'new-1');
    await produceValue(0, 'new-0');
    const values = await got;
    stream.cancel();
    expect(values.filter((v) => v.startsWith('0:'))).toEqual(['0:old-0', '0:new-0']);
    expect(values.filter((v) => v.startsWith('1:'))).toEqual(['1:old-1', '1:new-1']);
  });

  it('from the latest offset of one partition, pushes only new records', async () => {
    const stream = b.client.Subscribe({
      topic: 'live',
      partitions: [0],
      start: { latest: true },
      asRecords: true,
    });
    const got = collect(stream, 1);
    await new Promise((r) => setTimeout(r, 50));
    await produceValue(1, 'other-partition');
    await produceValue(0, 'fresh');
    expect(await got).toEqual(['0:fresh']);
    stream.cancel();
  });

  it('from a timestamp, starts at the first record at or after it', async () => {
    const stream = b.client.Subscribe({
      topic: 'live',
      partitions: [1],
      start: { timestamp: 1_500 },
      asRecords: true,
    });
    const got = collect(stream, 2);
    expect((await got).slice(0, 2)).toEqual(['1:old-1', '1:new-1']);
    stream.cancel();
  });

  it('ends with UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist', async () => {
    const stream = b.client.Subscribe({ topic: 'missing', start: { earliest: true } });
    await expect(collect(stream, 1)).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });
});

describe('ProduceStream', () => {
  it('pipelines many requests and answers each by correlation id with increasing offsets', async () => {
    const stream = b.client.ProduceStream();
    const responses: ProduceResponse__Output[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: ProduceResponse__Output) => responses.push(r));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const n = 50;
    for (let i = 0; i < n; i++) {
      const req: ProduceRequest = {
        correlationId: i + 1,
        partitions: [
          {
            topic: 'live',
            partition: 1,
            batches: encodeBatch([{ timestamp: 7, key: null, value: Buffer.from(`s${i}`) }]),
          },
        ],
      };
      stream.write(req);
    }
    stream.end();
    await done;
    expect(responses.map((r) => r.correlationId).sort((x, y) => x - y)).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
    const byCorrelation = [...responses]
      .sort((x, y) => x.correlationId - y.correlationId)
      .map((r) => r.results[0]!.baseOffset);
    for (let i = 1; i < n; i++) expect(byCorrelation[i]).toBe((byCorrelation[i - 1] as number) + 1);
  });

  it('reports a bad batch in its own response and keeps the stream going', async () => {
    const stream = b.client.ProduceStream();
    const responses: ProduceResponse__Output[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: ProduceResponse__Output) => responses.push(r));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const bad = encodeBatch([{ timestamp: 7, key: null, value: Buffer.from('x') }]);
    bad[bad.length - 1]! ^= 1;
    stream.write({ correlationId: 1, partitions: [{ topic: 'live', partition: 0, batches: bad }] });
    stream.write({
      correlationId: 2,
      partitions: [{ topic: 'live', partition: 0, records: [{ value: Buffer.from('ok') }] }],
    });
    stream.end();
    await done;
    const byId = new Map(responses.map((r) => [r.correlationId, r.results[0]]));
    expect(byId.get(1)?.error?.code).toBe('CORRUPT_MESSAGE');
    expect(byId.get(2)?.error).toBeFalsy();
  });
});

describe('shutdown', () => {
  it('ends an idle ProduceStream with BROKER_SHUTTING_DOWN instead of waiting on it', async () => {
    // A long drain timeout: were the stream not ended by the broker, close() would sit on it and
    // the forced shutdown at the end would cancel it with another code.
    const other = await startTestBroker({ shutdownTimeoutMs: 600_000 });
    await other.call('CreateTopic', { name: 'idle', partitions: 1 });
    const stream = other.client.ProduceStream();
    const answered = new Promise<void>((resolve) => {
      stream.on('data', () => resolve());
    });
    stream.write({
      correlationId: 1,
      partitions: [{ topic: 'idle', partition: 0, records: [{ value: Buffer.from('x') }] }],
    });
    await answered;
    const ended = new Promise<unknown>((resolve) =>
      stream.on('error', (err: grpc.ServiceError) => resolve(fromServiceError(err))),
    );
    await other.close();
    expect(await ended).toMatchObject({ code: 'BROKER_SHUTTING_DOWN', retriable: true });
    removeDir(other.dataDir);
  });
});
