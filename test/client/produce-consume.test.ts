// Given a real broker, when records go through the Producer and come back through the Consumer,
// then every field survives (keys, null keys, tombstones, headers, unicode, timestamps), keys land
// where Kafka's partitioner puts them, and failures arrive as WeirErrors with the right code.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Admin,
  Consumer,
  Producer,
  isWeirError,
  partitionForKey,
  type ConsumerRecord,
  type TopicPartition,
} from '../../client/index.js';
import { readRecords, startTestBroker, uniqueTopic, within, type TestBroker } from './helpers.js';
import { COMPRESSION_MASK, batchAttributes } from '../../proto/batch-header.js';
import { COMPRESSIONS } from '../../proto/compression.js';

let broker: TestBroker;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  broker = await startTestBroker();
  admin = new Admin({ bootstrap: broker.bootstrap });
  producer = new Producer({ bootstrap: broker.bootstrap });
});

afterAll(async () => {
  await producer?.close();
  await admin?.close();
  await broker?.close();
});

async function topic(partitions: number, configs: Record<string, string> = {}): Promise<string> {
  const name = uniqueTopic('pc');
  await admin.createTopic(name, { partitions, configs });
  return name;
}

/** Reads `count` records from the start of the given partitions (bounded in time). */
function readAll(tps: TopicPartition[], count: number): Promise<ConsumerRecord[]> {
  return readRecords(broker.bootstrap, tps, count);
}

function partitionsOf(name: string, count: number): TopicPartition[] {
  return Array.from({ length: count }, (_, partition) => ({ topic: name, partition }));
}

describe('round trip', () => {
  it('keeps keys, null keys, tombstones, headers, unicode and timestamps', async () => {
    const name = await topic(1);
    const sent = [
      { key: 'plain', value: 'value', timestamp: 1_600_000_000_000 },
      { key: null, value: 'no key' },
      { key: 'tombstone', value: null },
      { key: 'ключ 🔑', value: 'значение ✓ 値' },
      { key: Buffer.from([0, 255, 1]), value: Buffer.alloc(0) },
      {
        key: 'h',
        value: 'with headers',
        headers: [
          { key: 'trace', value: 'abc' },
          { key: 'trace', value: Buffer.from([1, 2]) },
          { key: 'empty', value: null },
          { key: 'ünï', value: '✓' },
        ],
      },
      { key: 'object-headers', value: 'x', headers: { a: '1', b: null } },
    ];
    const before = Date.now();
    const results = await producer.send({ topic: name, records: sent });
    const after = Date.now();
    expect(results.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const got = await readAll([{ topic: name, partition: 0 }], sent.length);
    expect(got.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(got[0]!.key!.toString()).toBe('plain');
    expect(got[0]!.timestamp).toBe(1_600_000_000_000);
    expect(results[0]!.timestamp).toBe(1_600_000_000_000);
    expect(got[1]!.key).toBeNull();
    expect(got[1]!.timestamp).toBeGreaterThanOrEqual(before);
    expect(got[1]!.timestamp).toBeLessThanOrEqual(after);
    expect(got[2]!.value).toBeNull();
    expect(got[3]!.key!.toString()).toBe('ключ 🔑');
    expect(got[3]!.value!.toString()).toBe('значение ✓ 値');
    expect([...got[4]!.key!]).toEqual([0, 255, 1]);
    expect(got[4]!.value!.length).toBe(0);
    expect(got[5]!.headers.map((h) => [h.key, h.value === null ? null : [...h.value]])).toEqual([
      ['trace', [...Buffer.from('abc')]],
      ['trace', [1, 2]],
      ['empty', null],
      ['ünï', [...Buffer.from('✓')]],
    ]);
    expect(got[6]!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
      ['a', '1'],
      ['b', null],
    ]);
    expect(got.every((r) => r.topic === name && r.partition === 0)).toBe(true);
  });

  it('puts keyed records on the partition partitionForKey gives (Kafka murmur2)', async () => {
    const name = await topic(5);
    const records = Array.from({ length: 200 }, (_, i) => ({ key: `user-${i}`, value: `${i}` }));
    const results = await producer.send({ topic: name, records });
    for (let i = 0; i < records.length; i++) {
      expect(results[i]!.partition).toBe(partitionForKey(Buffer.from(records[i]!.key), 5));
    }
    const got = await readAll(partitionsOf(name, 5), 200);
    for (const r of got) expect(r.partition).toBe(partitionForKey(r.key!, 5));
    // Per partition, the log holds that partition's records in the order they were sent.
    for (let p = 0; p < 5; p++) {
      const want = records.filter((r) => partitionForKey(Buffer.from(r.key), 5) === p).map((r) => r.value);
      expect(got.filter((r) => r.partition === p).map((r) => r.value!.toString())).toEqual(want);
    }
  });

  it('sends to an explicit partition and only there', async () => {
    const name = await topic(3);
    const one = await producer.send({ topic: name, key: 'k', value: 'a', partition: 2 });
    expect(one).toMatchObject({ topic: name, partition: 2, offset: 0 });
    await producer.send({
      topic: name,
      records: [
        { value: 'b', partition: 2 },
        { value: 'c', partition: 1 },
      ],
    });
    const description = await admin.describeTopic(name);
    expect(description.partitions.map((p) => p.highWatermark)).toEqual([0, 1, 2]);
  });

  it('spreads keyless records over partitions in sticky runs', async () => {
    const name = await topic(4);
    const p = new Producer({ bootstrap: broker.bootstrap, batchBytes: 1024 });
    try {
      const results = await p.send({
        topic: name,
        records: Array.from({ length: 400 }, () => ({ value: 'x'.repeat(50) })),
      });
      const used = new Set(results.map((r) => r.partition));
      expect(used.size).toBeGreaterThan(1);
      let switches = 0;
      for (let i = 1; i < results.length; i++)
        if (results[i]!.partition !== results[i - 1]!.partition) switches++;
      expect(switches).toBeLessThan(results.length / 5); // runs, not round-robin
    } finally {
      await p.close();
    }
  });

  it('carries many records, gzip, and every acks setting', async () => {
    const name = await topic(2);
    const settings = [
      { acks: 'all' as const },
      { acks: 'leader' as const, compression: 'gzip' as const },
      { acks: 'none' as const },
    ];
    let total = 0;
    for (const [i, options] of settings.entries()) {
      const p = new Producer({ bootstrap: broker.bootstrap, ...options });
      const records = Array.from({ length: 5000 }, (_, j) => ({ key: `${j % 10}`, value: `s${i}-${j}` }));
      const results = await p.send({ topic: name, records });
      if (options.acks === 'none') expect(results.every((r) => r.offset === -1)).toBe(true);
      else expect(results.every((r) => r.offset >= 0)).toBe(true);
      await p.close();
      total += records.length;
    }
    const consumer = new Consumer({ bootstrap: broker.bootstrap, autoOffsetReset: 'earliest' });
    consumer.assign(partitionsOf(name, 2));
    let count = 0;
    const perKey = new Map<string, string[]>();
    await within(
      (async () => {
        for await (const batch of consumer.batches()) {
          for (const r of batch.records) {
            const list = perKey.get(r.key!.toString()) ?? [];
            list.push(r.value!.toString());
            perKey.set(r.key!.toString(), list);
          }
          count += batch.records.length;
          if (count >= total) break;
        }
      })(),
      20_000,
      'reading every record',
    );
    await consumer.close();
    expect(count).toBe(total);
    // Per key (one partition each), records come back in the order each producer sent them.
    const want = (k: number): string[] =>
      [0, 1, 2].flatMap((i) => Array.from({ length: 500 }, (_, n) => `s${i}-${n * 10 + k}`));
    for (let k = 0; k < 10; k++) expect(perKey.get(`${k}`)).toEqual(want(k));
  });
});

describe.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('a producer with compression %s', (compression) => {
  it('sends batches in that codec, which a consumer reads back in order, with keys and headers', async () => {
    const name = await topic(1);
    const p = new Producer({ bootstrap: broker.bootstrap, compression, lingerMs: 5 });
    const records = Array.from({ length: 3000 }, (_, j) => ({
      key: `k${j % 7}`,
      value: `${compression}-${j}-${'v'.repeat(j % 50)}`,
      headers: j % 3 === 0 ? [{ key: 'h', value: Buffer.from([j & 0xff]) }] : [],
    }));
    try {
      const results = await p.send({ topic: name, records });
      expect(results.map((r) => r.offset)).toEqual(records.map((_, j) => j));
    } finally {
      await p.close();
    }
    const [stored] = await broker.running.broker.fetch(
      [{ topic: name, partition: 0, offset: 0, maxBytes: 0 }],
      0,
      0,
      0,
    );
    expect(batchAttributes(stored!.batches, 0) & COMPRESSION_MASK).toBe(COMPRESSIONS.indexOf(compression));
    const consumer = new Consumer({ bootstrap: broker.bootstrap, autoOffsetReset: 'earliest' });
    consumer.assign(partitionsOf(name, 1));
    const got: { key: string; value: string; headers: number }[] = [];
    await within(
      (async () => {
        for await (const batch of consumer.batches()) {
          for (const r of batch.records)
            got.push({ key: r.key!.toString(), value: r.value!.toString(), headers: r.headers.length });
          if (got.length >= records.length) break;
        }
      })(),
      20_000,
      'reading every record',
    );
    await consumer.close();
    expect(got).toEqual(records.map((r) => ({ key: r.key, value: r.value, headers: r.headers.length })));
  });
});

describe('errors', () => {
  it('fails a send to an unknown topic with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const err = await producer.send({ topic: uniqueTopic('missing'), value: 'x' }).catch((e: unknown) => e);
    expect(isWeirError(err, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
  });

  it('fails a send to an invalid topic name with INVALID_TOPIC_EXCEPTION', async () => {
    const err = await producer.send({ topic: 'bad/name', value: 'x' }).catch((e: unknown) => e);
    expect(isWeirError(err, 'INVALID_TOPIC_EXCEPTION')).toBe(true);
  });

  it('fails a record over max.message.bytes with MESSAGE_TOO_LARGE and keeps going', async () => {
    const name = await topic(1, { 'max.message.bytes': '2048' });
    const p = new Producer({ bootstrap: broker.bootstrap, lingerMs: 20 });
    try {
      // All three share one batch (within lingerMs and batchBytes), which the broker refuses whole.
      const sends = [
        p.send({ topic: name, value: 'before' }),
        p.send({ topic: name, value: 'x'.repeat(5000) }),
        p.send({ topic: name, value: 'after' }),
      ];
      const [before, big, after] = await Promise.allSettled(sends);
      expect(big).toMatchObject({ status: 'rejected', reason: { code: 'MESSAGE_TOO_LARGE' } });
      expect(before).toMatchObject({ status: 'fulfilled', value: { offset: 0 } });
      expect(after).toMatchObject({ status: 'fulfilled', value: { offset: 1 } });
      const got = await readAll([{ topic: name, partition: 0 }], 2);
      expect(got.map((r) => r.value!.toString())).toEqual(['before', 'after']);
    } finally {
      await p.close();
    }
  });

  it('splits batches merged past a small max.message.bytes and delivers them all in order', async () => {
    const name = await topic(1, { 'max.message.bytes': '3000' });
    const p = new Producer({ bootstrap: broker.bootstrap, batchBytes: 2000 });
    try {
      const records = Array.from({ length: 300 }, (_, i) => ({ value: `${i}`.padStart(40, '0') }));
      const results = await p.send({ topic: name, records });
      expect(results.map((r) => r.offset)).toEqual(records.map((_, i) => i));
      const got = await readAll([{ topic: name, partition: 0 }], 300);
      expect(got.map((r) => r.value!.toString())).toEqual(records.map((r) => r.value));
    } finally {
      await p.close();
    }
  });

  it('fails calls with a network error when no broker listens', async () => {
    const p = new Producer({ bootstrap: '127.0.0.1:1', maxBlockMs: 0, requestTimeoutMs: 2000 });
    try {
      const err = await p.send({ topic: 't', value: 'x' }).catch((e: unknown) => e);
      expect(isWeirError(err, 'NETWORK_EXCEPTION')).toBe(true);
      expect((err as { retriable: boolean }).retriable).toBe(true);
    } finally {
      await p.close();
    }
  });
});
