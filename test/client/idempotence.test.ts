// Given a real broker: a batch resent with the same producer id, epoch and sequence is answered
// with its original offsets and stored once (checked through the raw gRPC stub, so the client's
// own logic is not involved), gaps and stale epochs are refused with their codes, and a Producer
// whose answers get lost retries without writing anything twice.

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Connection, Consumer, Producer } from '../../client/index.js';
import { StreamProduceTransport, type ProduceTransport } from '../../client/produce-transport.js';
import { WeirError } from '../../proto/errors.js';
import type { ProduceRequest } from '../../proto/generated/weir/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import type { WeirClient } from '../../proto/generated/weir/v1/Weir.js';
import { weirProto } from '../../proto/grpc.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { startTestBroker, uniqueTopic, waitFor, within, type TestBroker } from './helpers.js';

let broker: TestBroker;
let admin: Admin;
let stub: WeirClient;

beforeAll(async () => {
  broker = await startTestBroker();
  admin = new Admin({ bootstrap: broker.bootstrap });
  const Weir = weirProto().weir.v1.Weir;
  stub = new Weir(broker.bootstrap, grpc.credentials.createInsecure());
});

afterAll(async () => {
  stub?.close();
  await admin?.close();
  await broker?.close();
});

function initProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
  return new Promise((resolve, reject) =>
    stub.InitProducerId({}, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

function batch(producerId: number, producerEpoch: number, baseSequence: number, values: string[]): Buffer {
  const records = values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: Date.now() }));
  return encodeBatch(records, { producerId, producerEpoch, baseSequence });
}

/** Sends requests over one ProduceStream and collects the answers by correlation id. */
async function overStream(requests: ProduceRequest[]): Promise<ProduceResponse__Output[]> {
  const call = stub.ProduceStream();
  const answers: ProduceResponse__Output[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (res: ProduceResponse__Output) => answers.push(res));
    call.on('end', resolve);
    call.on('error', reject);
  });
  for (const request of requests) call.write(request);
  call.end();
  await within(done, 10_000, 'the produce stream');
  return requests.map((r) => answers.find((a) => a.correlationId === r.correlationId)!);
}

async function highWatermark(topic: string): Promise<number> {
  return (await admin.describeTopic(topic)).partitions[0]!.highWatermark;
}

describe('the broker dedupes by producer id and sequence', () => {
  it('answers a resent batch with its original offsets and stores it once', async () => {
    const topic = uniqueTopic('dedupe');
    await admin.createTopic(topic, { partitions: 1 });
    const { producerId, producerEpoch } = await initProducerId();
    const first = batch(producerId, producerEpoch, 0, ['a', 'b', 'c']);
    const second = batch(producerId, producerEpoch, 3, ['d']);
    const data = (batches: Buffer) => [{ topic, partition: 0, batches }];
    const answers = await overStream([
      { correlationId: 1, partitions: data(first) },
      { correlationId: 2, partitions: data(first) },
      { correlationId: 3, partitions: data(second) },
      { correlationId: 4, partitions: data(first) },
    ]);
    expect(
      answers.map((a) => [a.results[0]!.baseOffset, a.results[0]!.lastOffset, a.results[0]!.error]),
    ).toEqual([
      [0, 2, null],
      [0, 2, null],
      [3, 3, null],
      [0, 2, null],
    ]);
    expect(await highWatermark(topic)).toBe(4);
  });

  it('refuses a gap, a first batch not at 0, and an older epoch, with their codes', async () => {
    const topic = uniqueTopic('refuse');
    await admin.createTopic(topic, { partitions: 1 });
    const { producerId } = await initProducerId();
    const data = (batches: Buffer) => [{ topic, partition: 0, batches }];
    const answers = await overStream([
      { correlationId: 1, partitions: data(batch(producerId, 0, 5, ['x'])) },
      { correlationId: 2, partitions: data(batch(producerId, 0, 0, ['a', 'b'])) },
      { correlationId: 3, partitions: data(batch(producerId, 0, 7, ['gap'])) },
      { correlationId: 4, partitions: data(batch(producerId, 1, 0, ['new epoch'])) },
      { correlationId: 5, partitions: data(batch(producerId, 0, 2, ['old epoch'])) },
    ]);
    expect(answers.map((a) => a.results[0]!.error?.code ?? 'ok')).toEqual([
      'UNKNOWN_PRODUCER_ID',
      'ok',
      'OUT_OF_ORDER_SEQUENCE_NUMBER',
      'ok',
      'INVALID_PRODUCER_EPOCH',
    ]);
    expect(await highWatermark(topic)).toBe(3);
  });
});

/**
 * The real stream transport, with the answers of chosen requests lost after the broker handled
 * them (or the request dropped before it got there): the producer must retry, and the broker's
 * dedupe must keep the log free of duplicates.
 */
class LossyTransport implements ProduceTransport {
  readonly inner: StreamProduceTransport;
  lostAnswers = 0;
  dropped = 0;
  constructor(
    connection: Connection,
    private readonly loseAnswer: (index: number) => boolean,
    private readonly drop: (index: number) => boolean,
  ) {
    this.inner = new StreamProduceTransport(connection, 10_000);
  }
  private index = 0;
  async send(request: ProduceRequest, expectResponse: boolean): Promise<ProduceResponse__Output | null> {
    const index = this.index++;
    if (this.drop(index)) {
      this.dropped++;
      throw new WeirError('NETWORK_EXCEPTION', 'dropped before the broker saw it');
    }
    const response = await this.inner.send(request, expectResponse);
    if (this.loseAnswer(index)) {
      this.lostAnswers++;
      throw new WeirError('NETWORK_EXCEPTION', 'answer lost');
    }
    return response;
  }
  close(graceMs: number): Promise<void> {
    return this.inner.close(graceMs);
  }
}

describe('a producer whose answers get lost', () => {
  it('retries, gets the original offsets back, and writes every record exactly once, in order', async () => {
    const topic = uniqueTopic('lossy');
    await admin.createTopic(topic, { partitions: 2 });
    const connection = new Connection({ bootstrap: broker.bootstrap });
    const transport = new LossyTransport(
      connection,
      (i) => i % 3 === 1,
      (i) => i % 7 === 2,
    );
    const producer = new Producer({
      connection,
      transport,
      batchBytes: 512,
      maxRequestBytes: 512, // no merging: many requests, so the loss pattern hits some
      retryBackoffMs: 5,
      retryBackoffMaxMs: 20,
    });
    const calls = Array.from({ length: 20 }, (_, c) =>
      producer.send({
        topic,
        records: Array.from({ length: 25 }, (_, i) => ({ key: `k${i % 4}`, value: `c${c}-${i}` })),
      }),
    );
    const results = (await within(Promise.all(calls), 20_000, 'the sends')).flat();
    await producer.close();
    expect(transport.lostAnswers).toBeGreaterThan(0);
    expect(transport.dropped).toBeGreaterThan(0);

    const consumer = new Consumer({ connection, autoOffsetReset: 'earliest', maxWaitMs: 100 });
    consumer.assign([0, 1].map((partition) => ({ topic, partition })));
    const stored = new Map<string, { partition: number; offset: number }>();
    let count = 0;
    await within(
      (async () => {
        for await (const record of consumer) {
          const value = record.value!.toString();
          expect(stored.has(value)).toBe(false); // no duplicates
          stored.set(value, { partition: record.partition, offset: record.offset });
          if (++count === 500) break;
        }
      })(),
      20_000,
      'reading back',
    );
    await consumer.close();
    connection.close();
    const descriptions = await admin.describeTopic(topic);
    expect(descriptions.partitions.reduce((n, p) => n + p.highWatermark, 0)).toBe(500);
    // Each result names exactly where its record is, and per partition the log keeps send order.
    let i = 0;
    const lastOffset = [-1, -1];
    for (let c = 0; c < 20; c++) {
      for (let r = 0; r < 25; r++) {
        const { partition, offset } = results[i]!;
        expect(stored.get(`c${c}-${r}`)).toEqual({ partition, offset });
        expect(offset).toBeGreaterThan(lastOffset[partition]!);
        lastOffset[partition] = offset;
        i++;
      }
    }
  });
});

describe('a producer across a broker restart', () => {
  it('keeps retrying while the broker is down and delivers once it is back, exactly once', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { startBroker } = await import('../../broker/main.js');
    const dataDir = mkdtempSync(join(tmpdir(), 'weir-restart-'));
    // The producer's stream stays open through the shutdown: the broker waits shutdownTimeoutMs for
    // it (default 10 s), then cuts it.
    let running = await startBroker({ dataDir, grpcPort: 0, httpPort: 0, shutdownTimeoutMs: 300 });
    const port = Number(running.grpcAddress.split(':').pop());
    const connection = new Connection({ bootstrap: running.grpcAddress });
    // Counts the sends that failed, so the test knows the producer met the outage.
    const transport = new LossyTransport(
      connection,
      () => false,
      () => false,
    );
    let failures = 0;
    const counting: ProduceTransport = {
      send: (request, expectResponse) =>
        transport.send(request, expectResponse).catch((err: unknown) => {
          failures++;
          throw err;
        }),
      close: (graceMs) => transport.close(graceMs),
    };
    const producer = new Producer({
      connection,
      transport: counting,
      retryBackoffMs: 20,
      retryBackoffMaxMs: 200,
    });
    const local = new Admin({ connection });
    try {
      const topic = uniqueTopic('restart');
      await local.createTopic(topic, { partitions: 1 });
      const first = await producer.send({ topic, records: [{ value: 'a' }, { value: 'b' }] });
      expect(first.map((r) => r.offset)).toEqual([0, 1]);
      await running.close();
      const during = producer.send({ topic, records: [{ value: 'c' }, { value: 'd' }] });
      let settled = false;
      void during.finally(() => (settled = true)).catch(() => {});
      await waitFor(() => failures >= 2, 'the send to fail and be retried');
      expect(settled).toBe(false);
      running = await startBroker({ dataDir, grpcPort: port, httpPort: 0 });
      const second = await within(during, 20_000, 'the send after the restart');
      expect(second.map((r) => r.offset)).toEqual([2, 3]);
      const description = await local.describeTopic(topic);
      expect(description.partitions[0]!.highWatermark).toBe(4);
    } finally {
      await producer.close({ timeoutMs: 1000 });
      await local.close();
      connection.close();
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
