// Given a real broker, the Consumer: seeks (offset, earliest, latest, time), following the high
// watermark with long-poll fetches, pause and resume, batches, offset reset policies, close, and
// errors as WeirErrors. Waits are bounded (within/waitFor), never sleeps used as assertions.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Admin,
  Consumer,
  Producer,
  isWeirError,
  type ConsumerOptions,
  type ConsumerRecord,
  type TopicPartition,
} from '../../client/index.js';
import { startTestBroker, uniqueTopic, waitFor, within, type TestBroker } from './helpers.js';

let broker: TestBroker;
let admin: Admin;
let producer: Producer;
const consumers: Consumer[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  admin = new Admin({ bootstrap: broker.bootstrap });
  producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
});

afterAll(async () => {
  await Promise.all(consumers.map((c) => c.close()));
  await producer?.close();
  await admin?.close();
  await broker?.close();
});

function consumer(options: ConsumerOptions = {}): Consumer {
  const c = new Consumer({ bootstrap: broker.bootstrap, maxWaitMs: 200, ...options });
  consumers.push(c);
  return c;
}

async function topicWith(partitions: number, values: string[] = [], partition = 0): Promise<string> {
  const name = uniqueTopic('c');
  await admin.createTopic(name, { partitions });
  if (values.length > 0) {
    await producer.send({ topic: name, records: values.map((value) => ({ value, partition })) });
  }
  return name;
}

/** The next `count` records from an iterator that stays open (bounded in time). */
async function take(
  iterator: AsyncIterator<ConsumerRecord>,
  count: number,
  ms = 10_000,
): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  await within(
    (async () => {
      while (out.length < count) {
        const next = await iterator.next();
        if (next.done === true) break;
        out.push(next.value);
      }
    })(),
    ms,
    `taking ${count} records`,
  );
  return out;
}

const values = (records: ConsumerRecord[]): string[] => records.map((r) => r.value!.toString());
const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `v${from + i}`);

describe('positions', () => {
  it('seeks to an offset, to the earliest, and to the latest', async () => {
    const name = await topicWith(1, range(0, 10));
    const tp = { topic: name, partition: 0 };
    const c = consumer();
    c.assign([tp]);
    c.seek(tp, 4);
    const it = c[Symbol.asyncIterator]();
    expect(values(await take(it, 3))).toEqual(['v4', 'v5', 'v6']);
    expect(c.position(tp)).toBe(7);
    c.seek(tp, 'earliest');
    expect((await take(it, 1))[0]!.offset).toBe(0);
    c.seek(tp, 'latest');
    await waitFor(() => c.position(tp) === 10, 'the latest position');
    await producer.send({ topic: name, value: 'v10', partition: 0 });
    expect(values(await take(it, 1))).toEqual(['v10']);
  });

  it('seeks to the first record at or after a time, or waits at the end when there is none', async () => {
    const name = uniqueTopic('c');
    await admin.createTopic(name, { partitions: 1 });
    const t0 = 1_650_000_000_000;
    await producer.send({
      topic: name,
      records: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, timestamp: t0 + i * 1000 })),
    });
    const tp = { topic: name, partition: 0 };
    const c = consumer();
    c.assign([tp]);
    c.seek(tp, { timestamp: t0 + 5500 });
    const it = c[Symbol.asyncIterator]();
    expect((await take(it, 1))[0]).toMatchObject({ offset: 6, timestamp: t0 + 6000 });
    c.seek(tp, { timestamp: new Date(t0 + 60_000) });
    await waitFor(() => c.position(tp) === 10, 'the end after a time past every record');
    await producer.send({ topic: name, value: 'later', partition: 0 });
    expect(values(await take(it, 1))).toEqual(['later']);
  });

  it("starts at the latest offset by default (autoOffsetReset 'latest')", async () => {
    const name = await topicWith(1, range(0, 5));
    const tp = { topic: name, partition: 0 };
    const c = consumer();
    c.assign([tp]);
    const it = c[Symbol.asyncIterator]();
    const first = take(it, 1);
    await waitFor(() => c.position(tp) === 5, 'the position to resolve');
    await producer.send({ topic: name, value: 'new', partition: 0 });
    expect(await first).toMatchObject([{ offset: 5 }]);
  });

  it('moves an iteration under way when seeking', async () => {
    const name = await topicWith(1, range(0, 20));
    const tp = { topic: name, partition: 0 };
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([tp]);
    const it = c[Symbol.asyncIterator]();
    expect(values(await take(it, 5))).toEqual(range(0, 5));
    c.seek(tp, 2);
    expect(values(await take(it, 3))).toEqual(range(2, 5));
  });
});

describe('following the log', () => {
  it('wakes a consumer waiting at the end as soon as a record is produced (long poll)', async () => {
    const name = await topicWith(1);
    const tp = { topic: name, partition: 0 };
    // A fetch may wait 20 s for data: only the broker's wake-up can deliver the record sooner.
    const c = consumer({ maxWaitMs: 20_000 });
    c.assign([tp]);
    const it = c[Symbol.asyncIterator]();
    const next = take(it, 1, 5_000);
    await waitFor(() => c.position(tp) === 0, 'the consumer to wait at the end');
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the long poll reach the broker
    const started = Date.now();
    await producer.send({ topic: name, value: 'wake up', partition: 0 });
    expect(values(await next)).toEqual(['wake up']);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('pauses and resumes partitions without losing or repeating records', async () => {
    const name = await topicWith(2);
    const [p0, p1] = [0, 1].map((partition) => ({ topic: name, partition })) as [
      TopicPartition,
      TopicPartition,
    ];
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([p0, p1]);
    c.pause([p0]);
    expect(c.paused()).toEqual([p0]);
    await producer.send({ topic: name, records: range(0, 10).map((value) => ({ value, partition: 0 })) });
    await producer.send({ topic: name, records: range(100, 110).map((value) => ({ value, partition: 1 })) });
    const it = c[Symbol.asyncIterator]();
    const first = await take(it, 10);
    expect(first.every((r) => r.partition === 1)).toBe(true);
    expect(values(first)).toEqual(range(100, 110));
    c.resume([p0]);
    const second = await take(it, 10);
    expect(values(second)).toEqual(range(0, 10));
    // Paused again midway: the rest of partition 0 comes after resuming, once each.
    await producer.send({ topic: name, records: range(10, 20).map((value) => ({ value, partition: 0 })) });
    const some = await take(it, 3);
    c.pause([p0]);
    await producer.send({ topic: name, value: 'p1-after', partition: 1 });
    expect(values(await take(it, 1))).toEqual(['p1-after']);
    c.resume([p0]);
    const rest = await take(it, 7);
    expect([...values(some), ...values(rest)]).toEqual(range(10, 20));
  });

  it('yields batches per partition with the high watermark', async () => {
    const name = await topicWith(2, range(0, 50), 1);
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([
      { topic: name, partition: 0 },
      { topic: name, partition: 1 },
    ]);
    const got: ConsumerRecord[] = [];
    await within(
      (async () => {
        for await (const batch of c.batches()) {
          expect(batch).toMatchObject({ topic: name, partition: 1, highWatermark: 50 });
          got.push(...batch.records);
          if (got.length >= 50) break;
        }
      })(),
      10_000,
      'batches',
    );
    expect(values(got)).toEqual(range(0, 50));
    expect(c.position({ topic: name, partition: 1 })).toBe(50);
  });

  it('ends iterations when closed, promptly, even in the middle of a long poll', async () => {
    const name = await topicWith(1);
    const c = consumer({ maxWaitMs: 30_000 });
    c.assign([{ topic: name, partition: 0 }]);
    const it = c[Symbol.asyncIterator]();
    const pending = it.next();
    await waitFor(() => c.position({ topic: name, partition: 0 }) === 0, 'the consumer to wait');
    const started = Date.now();
    await within(c.close(), 5_000, 'close');
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(() => c.assign([])).toThrow(/closed/);
  });
});

describe('errors and offset reset', () => {
  it("throws OFFSET_OUT_OF_RANGE with autoOffsetReset 'none', until the caller seeks", async () => {
    const name = await topicWith(1, range(0, 3));
    const tp = { topic: name, partition: 0 };
    const c = consumer({ autoOffsetReset: 'none' });
    c.assign([tp]);
    const noPosition = await c[Symbol.asyncIterator]()
      .next()
      .catch((e: unknown) => e);
    expect(isWeirError(noPosition, 'OFFSET_OUT_OF_RANGE')).toBe(true);
    c.seek(tp, 100);
    const outOfRange = await within(c[Symbol.asyncIterator]().next(), 10_000, 'the error').catch(
      (e: unknown) => e,
    );
    expect(isWeirError(outOfRange, 'OFFSET_OUT_OF_RANGE')).toBe(true);
    c.seek(tp, 1);
    expect(values(await take(c[Symbol.asyncIterator](), 2))).toEqual(['v1', 'v2']);
  });

  it("resets an out-of-range position to the earliest with autoOffsetReset 'earliest'", async () => {
    const name = await topicWith(1, range(0, 3));
    const tp = { topic: name, partition: 0 };
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([tp]);
    c.seek(tp, 100);
    expect(values(await take(c[Symbol.asyncIterator](), 3))).toEqual(range(0, 3));
  });

  it('throws UNKNOWN_TOPIC_OR_PARTITION for an assigned topic that does not exist', async () => {
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([{ topic: uniqueTopic('none'), partition: 0 }]);
    const err = await within(c[Symbol.asyncIterator]().next(), 10_000, 'the error').catch((e: unknown) => e);
    expect(isWeirError(err, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
  });

  it('refuses seeks of unassigned partitions and bad positions', async () => {
    const name = await topicWith(1);
    const c = consumer();
    c.assign([{ topic: name, partition: 0 }]);
    expect(() => c.seek({ topic: name, partition: 1 }, 0)).toThrow(/not assigned/);
    expect(() => c.seek({ topic: name, partition: 0 }, -1)).toThrow(/INVALID_REQUEST/);
    expect(() => c.seek({ topic: name, partition: 0 }, 'middle' as never)).toThrow(/INVALID_REQUEST/);
    expect(() => c.seek({ topic: name, partition: 0 }, { timestamp: -5 })).toThrow(/INVALID_TIMESTAMP/);
  });
});

describe('Consumer.close', () => {
  it('returns when every assigned partition is paused', async () => {
    const topic = uniqueTopic('paused-close');
    await admin.createTopic(topic, { partitions: 1 });
    await producer.send({ topic, value: 'x' });
    const consumer = new Consumer({ bootstrap: broker.bootstrap, maxWaitMs: 200 });
    const tp = { topic, partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, 'earliest');
    for await (const batch of consumer.batches()) {
      expect(batch.records.length).toBeGreaterThan(0);
      consumer.pause([tp]);
      break;
    }
    // Hung for ever before: the fetch loop went idle and missed close()'s wake-up.
    await within(consumer.close(), 10_000, 'close of a consumer with every partition paused');
    expect(consumer.paused()).toEqual([tp]);
  });
});
