// kcat (librdkafka, the strictest of the common clients) against a real `weir broker` process
// through its Kafka listener: metadata, produce with keys and headers, idempotent produce whose
// answer is lost (one retry, no duplicate), consume from the beginning and from the end, offsets
// by time, and Kafka's errors for a missing topic, a record too large and a deleted topic. What
// kcat wrote is read back through weir's own gRPC client, and what weir's client wrote is read with
// kcat, both byte for byte. scripts/ci/kafka-clients.sh installs kcat in CI.
//
// No compression here: librdkafka 2.0 (Debian 12's kcat) compresses gzip and snappy only for a
// broker that lists Produce v2 and Fetch v2 (its "MsgVer1" feature), and lz4 only for one that
// lists FindCoordinator; weir lists Produce from v3 and Fetch from v4, as Kafka 4 does, and no
// FindCoordinator yet, so kcat sends such batches uncompressed, saying so only in its debug log.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer, type ConsumerRecord } from '../../../client/index.js';
import { readRecords, uniqueTopic, waitFor } from '../../client/helpers.js';
import { startBrokerProcess, toolMissing, type BrokerProcess } from './broker-process.js';
import { startKafkaProxy } from './kafka-proxy.js';
import { runTool, startTool, type ToolResult } from './run-tool.js';

const missing = toolMissing('kcat', 'scripts/ci/kafka-clients.sh');

let broker: BrokerProcess;
let admin: Admin;

beforeAll(async () => {
  if (missing !== null) return;
  broker = await startBrokerProcess();
  admin = new Admin({ bootstrap: broker.grpc });
});

afterAll(async () => {
  await admin?.close();
  await broker?.close();
});

/** kcat against `bootstrap` (the broker's Kafka listener unless a proxy is given). */
function kcat(args: readonly string[], input?: string, bootstrap = broker.kafka): Promise<ToolResult> {
  return runTool('kcat', ['-b', bootstrap, ...args], { input });
}

/** What `kcat -C -J` prints for one record. */
interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  headers?: string[];
  key: string | null;
  payload: string | null;
}

async function consumeAll(topic: string, extra: readonly string[] = []): Promise<KcatRecord[]> {
  // check.crcs: librdkafka verifies every served batch's CRC-32C.
  const r = await kcat([
    '-C',
    '-t',
    topic,
    '-o',
    'beginning',
    '-e',
    '-J',
    '-q',
    '-X',
    'check.crcs=true',
    ...extra,
  ]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).not.toMatch(/ERROR|CRC/i);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as KcatRecord);
}

type Compared = Pick<KcatRecord, 'partition' | 'offset' | 'ts' | 'key' | 'payload'> & { headers: string[] };

/** What is compared of kcat's JSON (no headers: an empty list). */
function fromKcat(r: KcatRecord): Compared {
  const { partition, offset, ts, key, payload } = r;
  return { partition, offset, ts, headers: r.headers ?? [], key, payload };
}

/** A record as kcat's JSON shows it, from weir's client. */
function asKcat(r: ConsumerRecord): Compared {
  return {
    partition: r.partition,
    offset: r.offset,
    ts: r.timestamp,
    headers: r.headers.flatMap((h) => [h.key, h.value?.toString() ?? '']),
    key: r.key?.toString() ?? null,
    payload: r.value?.toString() ?? null,
  };
}

describe.skipIf(missing !== null)('kcat (librdkafka) against a weir broker process', () => {
  it('lists the broker and a topic with its partitions, leader and replicas (-L)', async () => {
    const topic = uniqueTopic('kcat-meta');
    await admin.createTopic(topic, { partitions: 3 });
    const r = await kcat(['-L', '-J', '-t', topic]);
    expect(r.code, r.stderr).toBe(0);
    const meta = JSON.parse(r.stdout) as {
      brokers: { id: number; name: string }[];
      topics: { topic: string; partitions: { partition: number; leader: number; isrs: unknown[] }[] }[];
    };
    expect(meta.brokers).toEqual([{ id: 0, name: broker.kafka }]);
    expect(meta.topics).toHaveLength(1);
    expect(meta.topics[0]!.topic).toBe(topic);
    expect(meta.topics[0]!.partitions.map((p) => [p.partition, p.leader, p.isrs])).toEqual([
      [0, 0, [{ id: 0 }]],
      [1, 0, [{ id: 0 }]],
      [2, 0, [{ id: 0 }]],
    ]);
  });

  it('produces keys (absent, empty, UTF-8), values and headers that weir and kcat read back as sent', async () => {
    const topic = uniqueTopic('kcat-prod');
    await admin.createTopic(topic, { partitions: 2 });
    // -K: splits key from value at the first ':'; a line without one has no key (null).
    const lines = [
      'k1:v\u00e9\tone',
      'no key at all',
      ':empty key',
      'k4:',
      'cl\u00e9-\u{1f600}:emoji \u{1f600}',
    ];
    for (const partition of [0, 1]) {
      const r = await kcat(
        ['-P', '-t', topic, '-p', String(partition), '-K:', '-H', 'h1=x', '-H', 'h2=', '-H', 'h1=again'],
        lines.join('\n') + '\n',
      );
      expect(r.code, r.stderr).toBe(0);
    }
    const expected = lines.map((l) => {
      const at = l.indexOf(':');
      return at < 0 ? { key: null, value: l } : { key: l.slice(0, at), value: l.slice(at + 1) };
    });
    for (const partition of [0, 1]) {
      const got = await readRecords(broker.grpc, [{ topic, partition }], lines.length);
      expect(got.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
      expect(got.map((r) => ({ key: r.key?.toString() ?? null, value: r.value!.toString() }))).toEqual(
        expected,
      );
      expect(got.map((r) => r.headers.map((h) => [h.key, h.value?.toString()]))).toEqual(
        got.map(() => [
          ['h1', 'x'],
          ['h2', ''],
          ['h1', 'again'],
        ]),
      );
      // Create time, set by the producer: close to now, and what kcat reads back.
      for (const r of got) expect(Math.abs(r.timestamp - Date.now())).toBeLessThan(60_000);
      const read = await consumeAll(topic, ['-p', String(partition)]);
      expect(read.map(fromKcat)).toEqual(got.map(asKcat));
      expect(read.every((r) => r.tstype === 'create')).toBe(true);
    }
  });

  it("reads weir's records with their timestamps and headers, from the beginning and the last two (-o -2)", async () => {
    const topic = uniqueTopic('kcat-cons');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ bootstrap: broker.grpc });
    try {
      await producer.send({
        topic,
        records: Array.from({ length: 12 }, (_, i) => ({
          key: i % 4 === 0 ? null : `key-${i}`,
          value: `value-${i}-\u00e9`,
          timestamp: 1_700_000_000_000 + i * 1000,
          headers:
            i % 3 === 0
              ? []
              : [
                  { key: 'n', value: String(i) },
                  { key: 'n', value: 'twice' },
                ],
          partition: 0,
        })),
      });
    } finally {
      await producer.close();
    }
    const sent = await readRecords(broker.grpc, [{ topic, partition: 0 }], 12);
    const read = await consumeAll(topic);
    expect(read.map(fromKcat)).toEqual(sent.map(asKcat));
    expect(read.map((r) => r.ts)).toEqual(sent.map((_, i) => 1_700_000_000_000 + i * 1000));
    const last = await kcat(['-C', '-t', topic, '-o', '-2', '-e', '-q', '-f', '%o %k %s\\n']);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toBe('10 key-10 value-10-\u00e9\n11 key-11 value-11-\u00e9\n');
  });

  it('finds offsets by timestamp (-Q, ListOffsets)', async () => {
    const topic = uniqueTopic('kcat-time');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ bootstrap: broker.grpc });
    try {
      await producer.send({
        topic,
        records: [0, 1, 2, 3].map((i) => ({
          value: `v${i}`,
          timestamp: 1_700_000_000_000 + i * 1000,
          partition: 0,
        })),
      });
    } finally {
      await producer.close();
    }
    const at = async (ts: number): Promise<string> => {
      const r = await kcat(['-Q', '-t', `${topic}:0:${ts}`]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    expect(await at(1_700_000_001_500)).toBe(`${topic} [0] offset 2`);
    expect(await at(1_700_000_000_000)).toBe(`${topic} [0] offset 0`);
    // No record at or after it: -1, as Kafka answers (ListOffsets v1+).
    expect(await at(1_800_000_000_000)).toBe(`${topic} [0] offset -1`);
  });

  it('retries an idempotent produce that was written but not confirmed, without writing it twice', async () => {
    const topic = uniqueTopic('kcat-idem');
    await admin.createTopic(topic, { partitions: 1 });
    const proxy = await startKafkaProxy(broker.kafka);
    try {
      // The first Produce is written, but answered REQUEST_TIMED_OUT (7, retriable).
      proxy.failNextProduce(() => true, 7);
      const lines = Array.from({ length: 50 }, (_, i) => `k${i}:v${i}`);
      const r = await kcat(
        ['-P', '-t', topic, '-p', '0', '-K:', '-X', 'enable.idempotence=true', '-X', 'acks=all'],
        lines.join('\n') + '\n',
        proxy.address,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.dropped).toBe(1);
      const produces = proxy.requests.filter((q) => q.apiKey === 0);
      expect(produces.length).toBeGreaterThanOrEqual(2); // the retry went out
      const read = await consumeAll(topic);
      expect(read.map((x) => `${x.offset} ${x.key}:${x.payload}`)).toEqual(lines.map((l, i) => `${i} ${l}`));
    } finally {
      await proxy.close();
    }
  });

  describe('errors, as Kafka gives them', () => {
    it('refuses a produce to a missing topic when topics are not auto-created', async () => {
      const topic = uniqueTopic('kcat-missing');
      const r = await kcat(
        ['-P', '-t', topic, '-X', 'topic.metadata.propagation.max.ms=200', '-X', 'message.timeout.ms=10000'],
        'x\n',
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('Broker: Unknown topic or partition');
      expect((await admin.listTopics()).map((t) => t.name)).not.toContain(topic);
    });

    it('refuses a record above max.message.bytes with MESSAGE_TOO_LARGE', async () => {
      const topic = uniqueTopic('kcat-big');
      await admin.createTopic(topic, { partitions: 1 });
      // The client's own limit raised, so the broker's (1 MiB) is the one met.
      const r = await kcat(
        ['-P', '-t', topic, '-X', 'message.max.bytes=4000000', '-X', 'message.timeout.ms=10000'],
        'x'.repeat(1_500_000) + '\nsmall\n',
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('Broker: Message size too large');
      expect((await consumeAll(topic)).map((x) => x.payload)).toEqual(['small']);
    });

    it('tells a consumer of a topic deleted under it so, without a protocol error', async () => {
      const topic = uniqueTopic('kcat-deleted');
      await admin.createTopic(topic, { partitions: 1 });
      expect((await kcat(['-P', '-t', topic], 'before\n')).code).toBe(0);
      // Consuming, caught up: the topic goes while kcat fetches at its end.
      const consumer = startTool('kcat', [
        '-b',
        broker.kafka,
        '-C',
        '-u',
        '-t',
        topic,
        '-o',
        'beginning',
        '-f',
        '%s\n',
      ]);
      await waitFor(() => consumer.stdout() === 'before\n', 'kcat to read the record', 15_000);
      await admin.deleteTopic(topic);
      const r = await consumer.done;
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Unknown partition|Unknown topic or partition/);
      expect(r.stderr).not.toMatch(/PROTOERR|parse failure/);
      // A new consumer is told the topic is unknown.
      const after = await kcat(['-C', '-t', topic, '-o', 'beginning', '-e']);
      expect(after.code).not.toBe(0);
      expect(after.stderr).toContain('Broker: Unknown topic or partition');
    });
  });
});
