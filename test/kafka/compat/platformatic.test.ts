// @platformatic/kafka (a pure TypeScript client, its own codecs) against a real `weir broker`
// process: an idempotent acks=all producer of binary keys, values, headers and set timestamps, read
// back byte for byte through weir's gRPC client at the offsets the producer was told; its Fetch
// (v17, topics by id) decodes the stored batches to the same records; and Kafka's errors for a
// missing topic, a record too large and a deleted topic. Its group consumer waits for the
// listener's consumer groups. Version 1.x: 2.x needs Node 22, and CI's first run is on Node 20.

import { Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, type ConsumerRecord } from '../../../client/index.js';
import { readRecords, uniqueTopic } from '../../client/helpers.js';
import { startBrokerProcess, type BrokerProcess } from './broker-process.js';

let broker: BrokerProcess;
let admin: Admin;
let producer: Producer;
let consumer: Consumer;

beforeAll(async () => {
  broker = await startBrokerProcess();
  admin = new Admin({ bootstrap: broker.grpc });
  const common = { clientId: 'weir-compat', bootstrapBrokers: [broker.kafka], retries: 2, retryDelay: 100 };
  producer = new Producer({ ...common, idempotent: true, acks: ProduceAcks.ALL });
  consumer = new Consumer({ ...common, groupId: 'unused-no-group-is-joined' });
});

afterAll(async () => {
  await producer?.close();
  await consumer?.close();
  await admin?.close();
  await broker?.close();
});

interface Decoded {
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: [string | null, string | null][];
}

const hex = (b: Buffer | null | undefined): string | null =>
  b === null || b === undefined ? null : b.toString('hex');

function fromWeir(r: ConsumerRecord): Decoded {
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: hex(r.key),
    value: hex(r.value),
    headers: r.headers.map((h) => [hex(Buffer.from(h.key)), hex(h.value)]),
  };
}

/** Every record of one partition from offset 0, through the client's own Fetch and decoder. */
async function fetchAll(topic: string, partition: number): Promise<Decoded[]> {
  const meta = await consumer.metadata({ topics: [topic] });
  const topicId = meta.topics.get(topic)!.id;
  const answer = await consumer.fetch({
    node: 0,
    maxWaitTime: 100,
    topics: [
      {
        topicId,
        partitions: [
          {
            partition,
            fetchOffset: 0n,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
  });
  const p = answer.responses[0]!.partitions[0]!;
  expect(p.errorCode).toBe(0);
  return (p.records ?? []).flatMap((batch) =>
    batch.records.map((r) => ({
      partition,
      offset: Number(batch.firstOffset) + r.offsetDelta,
      timestamp: Number(batch.firstTimestamp + r.timestampDelta),
      key: hex(r.key),
      value: hex(r.value),
      headers: r.headers.map(([k, v]) => [hex(k), hex(v)] as [string | null, string | null]),
    })),
  );
}

describe('@platformatic/kafka against a weir broker process', () => {
  it('produces idempotently with keys, headers and timestamps that weir and its own Fetch read back', async () => {
    const topic = uniqueTopic('plt');
    await admin.createTopic(topic, { partitions: 2 });
    const messages = Array.from({ length: 30 }, (_, i) => ({
      topic,
      partition: i % 2,
      timestamp: BigInt(1_700_000_000_000 + i * 3),
      key: i % 4 === 0 ? undefined : Buffer.from(`key-${i}`),
      value: Buffer.from(Array.from({ length: (i * 41) % 200 }, (_, j) => (i * 7 + j) % 256)),
      headers: i % 3 === 0 ? undefined : new Map([[Buffer.from('h'), Buffer.from([i, 0, 255])]]),
    }));
    const first = await producer.send({ messages: messages.slice(0, 10) });
    const rest = await producer.send({ messages: messages.slice(10) });
    // The offsets it was told: the first of each partition's part of each send.
    expect(first.offsets?.map((o) => [o.partition, Number(o.offset)]).sort()).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(rest.offsets?.map((o) => [o.partition, Number(o.offset)]).sort()).toEqual([
      [0, 5],
      [1, 5],
    ]);
    for (const partition of [0, 1]) {
      const want = messages.filter((m) => m.partition === partition);
      const stored = await readRecords(broker.grpc, [{ topic, partition }], want.length);
      expect(stored.map(fromWeir)).toEqual(
        want.map((m, i) => ({
          partition,
          offset: i,
          timestamp: Number(m.timestamp),
          key: hex(m.key),
          value: hex(m.value),
          headers: m.headers === undefined ? [] : [...m.headers].map(([k, v]) => [hex(k), hex(v)]),
        })),
      );
      expect(await fetchAll(topic, partition)).toEqual(stored.map(fromWeir));
    }
  });

  describe('errors, as Kafka gives them', () => {
    it('refuses a produce to a missing topic (metadata: UNKNOWN_TOPIC_OR_PARTITION)', async () => {
      const topic = uniqueTopic('plt-missing');
      const err = await producer.send({ messages: [{ topic, partition: 0, value: Buffer.from('x') }] }).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err).not.toBeNull();
      // Metadata answers UNKNOWN_TOPIC_OR_PARTITION; the client reports it as its own error, as
      // against Kafka with auto-create off.
      expect(show(errorChain(err!))).toContain(`Unknown topic ${topic}.`);
      expect((await admin.listTopics()).map((t) => t.name)).not.toContain(topic);
    });

    it('refuses a record above max.message.bytes (MESSAGE_TOO_LARGE)', async () => {
      const topic = uniqueTopic('plt-big');
      await admin.createTopic(topic, { partitions: 1 });
      const err = await producer
        .send({ messages: [{ topic, partition: 0, value: Buffer.alloc(1_500_000, 7) }] })
        .then(
          () => null,
          (e: unknown) => e as Error,
        );
      expect(err).not.toBeNull();
      expect(show(errorChain(err!))).toMatch(/MESSAGE_TOO_LARGE/);
    });

    it('answers a fetch of a deleted topic with UNKNOWN_TOPIC_ID', async () => {
      const topic = uniqueTopic('plt-deleted');
      await admin.createTopic(topic, { partitions: 1 });
      await producer.send({ messages: [{ topic, partition: 0, value: Buffer.from('before') }] });
      const topicId = (await consumer.metadata({ topics: [topic] })).topics.get(topic)!.id;
      await admin.deleteTopic(topic);
      const err = await consumer
        .fetch({
          node: 0,
          maxWaitTime: 100,
          topics: [
            {
              topicId,
              partitions: [
                {
                  partition: 0,
                  fetchOffset: 0n,
                  currentLeaderEpoch: -1,
                  lastFetchedEpoch: -1,
                  partitionMaxBytes: 1024,
                },
              ],
            },
          ],
        })
        .then(
          (answer) => answer.responses[0]!.partitions[0]!.errorCode,
          (e: unknown) => errorChain(e as Error),
        );
      expect(err === 100 || /"apiId":"UNKNOWN_TOPIC_ID"/.test(show(err)), show(err)).toBe(true);
    });
  });
});

/** An error and its causes and sub-errors, as plain data (the client nests Kafka's codes). */
function errorChain(err: Error): unknown[] {
  const out: unknown[] = [];
  const seen = new Set<unknown>();
  const walk = (e: unknown): void => {
    if (e === null || typeof e !== 'object' || seen.has(e)) return;
    seen.add(e);
    const o = e as Record<string, unknown>;
    out.push({ message: o['message'], code: o['code'], apiCode: o['apiCode'], apiId: o['apiId'] });
    walk(o['cause']);
    if (Array.isArray(o['errors'])) for (const s of o['errors']) walk(s);
    if (o['response'] !== undefined) out.push(o['response']);
  };
  walk(err);
  return out;
}

function show(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
