// The Java client (kafka-clients 3.9 and 4.x, the program in test/kafka/compat/java/) against a
// real `weir broker` process: an idempotent, acks=all producer of binary keys, values and headers
// with set timestamps, uncompressed then gzip, whose first answer is lost on the way (the proxy
// cuts the connection), and
// an assign + seek consumer; the records must come back byte for byte, once each, at the offsets
// the producer was told. Then Kafka's errors: a missing topic, a record too large, a deleted
// topic. One JVM run per client version does all of it. Then each codec as the Java client frames
// it (gzip, xerial snappy, LZ4 frames, zstd), and a classic consumer group. scripts/ci/kafka-clients.sh builds the
// program (Maven) in CI; elsewhere the test skips until it is built.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer, type ConsumerRecord } from '../../../client/index.js';
import { readRecords, uniqueTopic } from '../../client/helpers.js';
import {
  startBrokerProcess,
  storedCodecs as storedCodecsIn,
  toolMissing,
  type BrokerProcess,
} from './broker-process.js';
import { startKafkaProxy, type KafkaProxy } from './kafka-proxy.js';
import { runTool } from './run-tool.js';

/** The kafka-clients versions the program is built with (test/kafka/compat/java/pom.xml). */
export const JAVA_CLIENT_VERSIONS = ['3.9.1', '4.1.1'] as const;

const JAVA_DIR = join(import.meta.dirname, 'java');
const TARGET = join(JAVA_DIR, 'target');

function javaMissing(): string | null {
  const tool = toolMissing('java', 'the machine image (Java 17)');
  if (tool !== null) return tool;
  const built = JAVA_CLIENT_VERSIONS.every((v) => existsSync(join(TARGET, `kafka-clients-${v}`)));
  if (built && existsSync(join(TARGET, 'classes/weir/compat/Compat.class'))) return null;
  const why = `the Java program is not built (bash scripts/ci/kafka-clients.sh builds it into ${TARGET})`;
  if (process.env['CI'] === 'true' && process.getuid?.() === 0)
    throw new Error(`${why}: CI must run this suite`);
  console.warn(`skipping: ${why}`);
  return why;
}

const missing = javaMissing();

let broker: BrokerProcess;
let admin: Admin;
let proxy: KafkaProxy;
let work: string;

beforeAll(async () => {
  if (missing !== null) return;
  broker = await startBrokerProcess();
  admin = new Admin({ bootstrap: broker.grpc });
  proxy = await startKafkaProxy(broker.kafka);
  work = mkdtempSync(join(tmpdir(), 'weir-java-'));
});

afterAll(async () => {
  await proxy?.close();
  await admin?.close();
  await broker?.close();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

interface JavaLine {
  op: string;
  [field: string]: unknown;
}

/** Runs the program with one kafka-clients version; its JSON lines. */
async function java(version: string, steps: readonly string[]): Promise<JavaLine[]> {
  const classpath = [
    join(TARGET, 'classes'),
    join(TARGET, 'lib/*'),
    join(TARGET, `kafka-clients-${version}/*`),
  ];
  const r = await runTool(
    'java',
    ['-cp', classpath.join(':'), 'weir.compat.Compat', proxy.address, ...steps],
    {
      timeoutMs: 120_000,
    },
  );
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as JavaLine);
}

interface Sent {
  partition: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer][];
}

/** Records with every shape a record can have: null and empty keys and values, binary, repeated headers. */
function records(n: number): Sent[] {
  return Array.from({ length: n }, (_, i) => ({
    partition: i % 2,
    timestamp: 1_700_000_000_000 + i * 7,
    key: i % 5 === 0 ? null : i % 5 === 1 ? Buffer.alloc(0) : Buffer.from(`key-${i}-\u00e9`),
    value:
      i % 7 === 3 ? null : Buffer.from(Array.from({ length: (i * 37) % 300 }, (_, j) => (i + j * 13) % 256)),
    headers:
      i % 3 === 0
        ? []
        : [
            ['h', Buffer.from([i, 0, 255])],
            ['h', Buffer.alloc(0)],
            ['trace', Buffer.from(`t-${i}`)],
          ],
  }));
}

const hexOrDash = (b: Buffer | null): string => (b === null ? '-' : b.toString('hex'));
const hexOrNull = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));

function recordsFile(name: string, sent: readonly Sent[]): string {
  const path = join(work, name);
  const lines = sent.map((r) =>
    [
      r.partition,
      r.timestamp,
      hexOrDash(r.key),
      hexOrDash(r.value),
      r.headers.map(([k, v]) => `${k}=${v.toString('hex')}`).join(','),
    ].join('\t'),
  );
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

function storedCodecs(topic: string, partition: number): number[] {
  return storedCodecsIn(broker.dataDir, topic, partition);
}

/** A record as the Java program prints it, from weir's client. */
function asJava(r: ConsumerRecord): JavaLine {
  return {
    op: 'record',
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    timestampType: 'CreateTime',
    key: hexOrNull(r.key),
    value: hexOrNull(r.value),
    headers: r.headers.map((h) => [h.key, hexOrNull(h.value)]),
  };
}

describe.skipIf(missing !== null)('the Java client against a weir broker process', () => {
  it.each(JAVA_CLIENT_VERSIONS)(
    'kafka-clients %s: idempotent produce with a lost answer, assign + seek consume, and Kafka errors',
    async (version) => {
      const topic = uniqueTopic('java');
      const deleted = uniqueTopic('java-deleted');
      await admin.createTopic(topic, { partitions: 2 });
      await admin.createTopic(deleted, { partitions: 1 });
      const before = new Producer({ bootstrap: broker.grpc });
      try {
        await before.send({ topic: deleted, value: 'gone', partition: 0 });
      } finally {
        await before.close();
      }
      await admin.deleteTopic(deleted);
      const sent = records(40);
      const produces = proxy.requests.filter((q) => q.apiKey === 0).length;
      const dropped = proxy.dropped;
      proxy.dropNextResponse((q) => q.apiKey === 0); // the first Produce: written, its answer lost

      const out = await java(version, [
        `produce:${topic}:${recordsFile(`${version}-a.tsv`, sent.slice(0, 20))}:none`,
        `produce:${topic}:${recordsFile(`${version}-b.tsv`, sent.slice(20))}:gzip`,
        `consume:${topic}:2:${sent.length}`,
        `missing:${uniqueTopic('java-missing')}`,
        `big:${topic}:1500000`,
        `deleted:${deleted}`,
      ]);
      const ops = (op: string): JavaLine[] => out.filter((l) => l.op === op);

      // The lost answer made the producer send again; nothing was written twice.
      expect(proxy.dropped).toBe(dropped + 1);
      expect(proxy.requests.filter((q) => q.apiKey === 0).length).toBeGreaterThan(produces + 1);
      const stored = [
        ...(await readRecords(broker.grpc, [{ topic, partition: 0 }], sent.length / 2)),
        ...(await readRecords(broker.grpc, [{ topic, partition: 1 }], sent.length / 2)),
      ];
      for (const partition of [0, 1]) {
        const want = sent.filter((s) => s.partition === partition);
        const got = stored.filter((r) => r.partition === partition);
        expect(got.map((r) => r.offset)).toEqual(want.map((_, i) => i));
        expect(
          got.map((r) => ({
            timestamp: r.timestamp,
            key: hexOrNull(r.key),
            value: hexOrNull(r.value),
            headers: r.headers.map((h) => [h.key, hexOrNull(h.value)]),
          })),
        ).toEqual(
          want.map((s) => ({
            timestamp: s.timestamp,
            key: hexOrNull(s.key),
            value: hexOrNull(s.value),
            headers: s.headers.map(([k, v]) => [k, v.toString('hex')]),
          })),
        );
      }
      // Stored as sent: the first half uncompressed, the second gzip.
      for (const partition of [0, 1])
        expect(new Set(storedCodecs(topic, partition))).toEqual(new Set([0, 1]));
      // The offsets and timestamps the producer was told, per record in send order.
      const perPartition = [0, 0];
      expect(ops('sent')).toEqual(
        sent.map((s) => ({
          op: 'sent',
          partition: s.partition,
          offset: perPartition[s.partition]!++,
          timestamp: s.timestamp,
        })),
      );
      // The consumer reads exactly what is stored, byte for byte (each partition in order).
      const byPartition = (lines: JavaLine[]): JavaLine[] =>
        [...lines].sort((a, b) => (a.partition as number) - (b.partition as number));
      expect(byPartition(ops('record'))).toEqual(byPartition(stored.map(asJava)));
      expect(ops('consumed')[0]).toEqual({ op: 'consumed', count: sent.length });

      // Errors, as the Java client reports them against Kafka: an unknown topic is never in
      // metadata (auto-create off), a batch past max.message.bytes is RecordTooLargeException
      // (MESSAGE_TOO_LARGE), a deleted topic has no partitions and yields no records.
      const errors = ops('error');
      expect(errors.find((e) => e['step'] === 'missing')).toMatchObject({
        error: 'TimeoutException',
        message: expect.stringMatching(/not present in metadata/),
      });
      expect(errors.find((e) => e['step'] === 'big')).toMatchObject({
        error: 'RecordTooLargeException',
        message: expect.stringMatching(/MESSAGE_TOO_LARGE/),
      });
      expect(errors).toHaveLength(2);
      expect(ops('partitions')).toEqual([{ op: 'partitions', count: 0 }]);
      expect(ops('consumed')[1]).toEqual({ op: 'consumed', count: 0 });
    },
  );

  // The Java client's framings: xerial snappy, LZ4 frames, zstd frames (and gzip), each step a
  // producer of its own, every batch stored as the client compressed it and read back as sent.
  it.for(JAVA_CLIENT_VERSIONS)(
    'kafka-clients %s: produces with each codec, stored as sent, and reads it back',
    async (version) => {
      const topic = uniqueTopic('java-codecs');
      await admin.createTopic(topic, { partitions: 2 });
      const sent = records(40);
      const codecs = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
      const steps = codecs.map((codec, i) => {
        const part = sent.slice(i * 10, (i + 1) * 10);
        return `produce:${topic}:${recordsFile(`${version}-${codec}.tsv`, part)}:${codec}`;
      });
      const out = await java(version, [...steps, `consume:${topic}:2:${sent.length}`]);
      // Each codec's ten records go to both partitions: each partition holds batches of all four
      // codecs (1 gzip, 2 snappy, 3 lz4, 4 zstd), in the order produced, and of no other.
      for (const partition of [0, 1]) {
        const stored = storedCodecs(topic, partition);
        expect(stored.filter((c, i) => i === 0 || c !== stored[i - 1])).toEqual([1, 2, 3, 4]);
      }
      const got = [
        ...(await readRecords(broker.grpc, [{ topic, partition: 0 }], sent.length / 2)),
        ...(await readRecords(broker.grpc, [{ topic, partition: 1 }], sent.length / 2)),
      ];
      expect(got.map((r) => hexOrNull(r.value)).sort()).toEqual(sent.map((r) => hexOrNull(r.value)).sort());
      const byPartition = (lines: JavaLine[]): JavaLine[] =>
        [...lines].sort((a, b) => (a.partition as number) - (b.partition as number));
      expect(byPartition(out.filter((l) => l.op === 'record'))).toEqual(byPartition(got.map(asJava)));
    },
  );

  // group.protocol=classic: JoinGroup, SyncGroup, Heartbeat and commits from the Java client.
  it.for(JAVA_CLIENT_VERSIONS)(
    'kafka-clients %s: a classic consumer group reads a topic',
    async (version) => {
      const topic = uniqueTopic('java-group');
      await admin.createTopic(topic, { partitions: 2 });
      const sent = records(10);
      await java(version, [`produce:${topic}:${recordsFile(`${version}-group.tsv`, sent)}:none`]);
      const out = await java(version, [`group:${topic}:${uniqueTopic('g')}:${sent.length}`]);
      expect(out.filter((l) => l.op === 'record')).toHaveLength(sent.length);
      expect(out.find((l) => l.op === 'consumed')).toEqual({ op: 'consumed', count: sent.length });
    },
  );
});
