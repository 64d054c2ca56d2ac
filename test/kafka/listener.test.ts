// The Kafka listener on a real broker: a Kafka client (kafkajs) negotiates versions and reads the
// cluster and a topic's metadata through it; raw connections check the framing rules (pipelined
// requests answered in order, a frame past the limit or an unknown API closes the connection, an
// ApiVersions newer than the broker's gets version 0 with UNSUPPORTED_VERSION and the list).

import { connect, type Socket } from 'node:net';
import { Decoder as ZstdDecoder, Encoder as ZstdEncoder } from '@toondepauw/node-zstd';
import { CompressionCodecs, CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, type ConsumerRecord } from '../../client/index.js';
import { COMPRESSION_MASK, batchAttributes, batchSize } from '../../proto/batch-header.js';
import { decodeBatch, encodeBatch } from '../../proto/record-batch.js';
import { FrameReader } from '../../broker/kafka/frames.js';
import {
  ApiVersionsApi,
  FetchApi,
  MetadataApi,
  ProduceApi,
  type FetchResponse,
} from '../../proto/kafka/generated/index.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';
import { readRecords, startTestBroker, uniqueTopic, type TestBroker } from '../client/helpers.js';

const MAX_FRAME = 64 * 1024;
let broker: TestBroker;
let port: number;
let admin: Admin;

beforeAll(async () => {
  // The broker's own Kafka listener, on a port from the OS, with a small frame limit.
  broker = await startTestBroker({ kafkaPort: 0, maxRequestBytes: MAX_FRAME });
  port = Number(broker.running.kafkaAddress!.split(':').pop());
  admin = new Admin({ bootstrap: broker.bootstrap });
});

afterAll(async () => {
  await admin?.close();
  await broker?.close();
});

/** A request frame: size, header v1 (v2 when flexible), body. */
function requestFrame(
  apiKey: number,
  version: number,
  correlationId: number,
  flexible: boolean,
  body: (w: Writer) => void,
): Buffer {
  const w = new Writer();
  w.int32(0);
  w.int16(apiKey);
  w.int16(version);
  w.int32(correlationId);
  w.string('raw-test', false);
  if (flexible) w.uvarint(0);
  body(w);
  const out = w.toBuffer();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** A raw connection: write frames, read whole response frames, see when it closes. */
class RawConnection {
  readonly frames: Buffer[] = [];
  closed = false;
  private readonly reader = new FrameReader(16 * 1024 * 1024);
  private waiters: (() => void)[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.frames.push(...this.reader.push(chunk));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }
  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }
  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
  /** Waits until `n` frames arrived or the connection closed. */
  async until(n: number): Promise<void> {
    while (this.frames.length < n && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }
  close(): void {
    this.socket.destroy();
  }
}

/** A kafkajs client of the listener; `retries` 0 unless a test needs them (idempotence does). */
function kafkaClient(retries = 0): Kafka {
  return new Kafka({
    clientId: 'weir-test',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries },
  });
}

/** Reads `count` records of one partition from the start through the gRPC API (bounded in time). */
function readBack(topic: string, partition: number, count: number): Promise<ConsumerRecord[]> {
  return readRecords(broker.bootstrap, [{ topic, partition }], count);
}

/** kafkajs's codec shape: compress an encoder's bytes, decompress a buffer. */
function kafkajsCodec(
  compress: (plain: Buffer) => Promise<Buffer>,
  decompress: (packed: Buffer) => Promise<Buffer>,
): () => unknown {
  // (decompress would serve kafkajs's consumer; the listener has no consumer groups yet, so the
  // records are read back through the SDK.)
  return () => ({
    compress: (encoder: { buffer: Buffer }) => compress(encoder.buffer),
    decompress,
  });
}

// kafkajs ships gzip only; the others come as plugins. These stand in for them, writing what they
// write: raw snappy (as kafkajs's snappy plugin and librdkafka do), an LZ4 frame, a zstd frame.
CompressionCodecs[CompressionTypes.Snappy] = kafkajsCodec(
  snappyCompress,
  async (b) => (await snappyUncompress(b)) as Buffer,
);
CompressionCodecs[CompressionTypes.LZ4] = kafkajsCodec(compressFrame, decompressFrame);
CompressionCodecs[CompressionTypes.ZSTD] = kafkajsCodec(
  (b) => new ZstdEncoder(3).encode(b),
  (b) => new ZstdDecoder().decode(b),
);

describe('the Kafka listener', () => {
  it.each([
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
  ] as const)(
    "takes a Kafka producer's %s batches, stores them as sent, and serves their records",
    async (_, codec) => {
      const topic = uniqueTopic('kcodec');
      await admin.createTopic(topic, { partitions: 1 });
      const kafka = kafkaClient();
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      const values = Array.from({ length: 40 }, (_, i) => `compressed-${i}-${'z'.repeat(i * 10)}`);
      await producer.connect();
      try {
        await producer.send({
          topic,
          compression: codec,
          messages: values.map((value) => ({ key: 'k', value })),
        });
      } finally {
        await producer.disconnect();
      }
      const [stored] = await broker.running.broker.fetch(
        [{ topic, partition: 0, offset: 0, maxBytes: 0 }],
        0,
        0,
        0,
      );
      expect(batchAttributes(stored!.batches, 0) & COMPRESSION_MASK).toBe(codec);
      expect((await readBack(topic, 0, values.length)).map((r) => r.value?.toString())).toEqual(values);
    },
  );

  it('takes zstd batches from Produce v7 on and serves them from Fetch v10 on, as Kafka does', async () => {
    const topic = uniqueTopic('kzstd');
    await admin.createTopic(topic, { partitions: 1 });
    const batch = encodeBatch([{ timestamp: 1, key: null, value: Buffer.from('z') }], {
      compression: 'zstd',
    });
    const c = await RawConnection.open(port);
    try {
      const produce = async (version: number, correlationId: number): Promise<number> => {
        c.socket.write(
          requestFrame(0, version, correlationId, false, (w) =>
            ProduceApi.writeRequest(w, version, {
              ...ProduceApi.defaultRequest(),
              acks: 1,
              timeoutMs: 5000,
              topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
            }),
          ),
        );
        await c.until(correlationId);
        const r = new Reader(c.frames[correlationId - 1]!, 4);
        return ProduceApi.readResponse(r, version).responses[0]!.partitionResponses[0]!.errorCode;
      };
      const fetch = async (version: number, correlationId: number): Promise<number> => {
        c.socket.write(
          requestFrame(1, version, correlationId, false, (w) =>
            FetchApi.writeRequest(w, version, {
              ...FetchApi.defaultRequest(),
              maxWaitMs: 0,
              minBytes: 0,
              topics: [
                {
                  topic,
                  topicId: '00000000-0000-0000-0000-000000000000',
                  partitions: [
                    {
                      partition: 0,
                      currentLeaderEpoch: -1,
                      fetchOffset: 0,
                      lastFetchedEpoch: -1,
                      logStartOffset: -1,
                      partitionMaxBytes: 1 << 20,
                      replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
                    },
                  ],
                },
              ],
            }),
          ),
        );
        await c.until(correlationId);
        const r = new Reader(c.frames[correlationId - 1]!, 4);
        return FetchApi.readResponse(r, version).responses[0]!.partitions[0]!.errorCode;
      };
      const UNSUPPORTED_COMPRESSION_TYPE = 76;
      expect(await produce(6, 1)).toBe(UNSUPPORTED_COMPRESSION_TYPE);
      expect(await produce(7, 2)).toBe(0);
      expect(await fetch(9, 3)).toBe(UNSUPPORTED_COMPRESSION_TYPE);
      expect(await fetch(10, 4)).toBe(0);
    } finally {
      c.socket.destroy();
    }
  });

  it("takes a Kafka producer's records, idempotent or not, with keys, headers and timestamps intact", async () => {
    const topic = uniqueTopic('kprod');
    await admin.createTopic(topic, { partitions: 2 });
    const kafka = kafkaClient(2);
    const sent = Array.from({ length: 30 }, (_, i) => ({
      key: i % 5 === 0 ? null : `key-${i}`,
      value: i % 7 === 0 ? null : `value-${i}-\u00e9\u{1f600}`,
      headers: i % 3 === 0 ? { h: `header-${i}`, other: Buffer.from([i, 0, 255]) } : {},
      timestamp: String(1_700_000_000_000 + i),
      partition: i % 2,
    }));
    for (const idempotent of [false, true]) {
      const producer = kafka.producer({ idempotent, allowAutoTopicCreation: false });
      await producer.connect();
      try {
        const acks = idempotent ? -1 : 1;
        const answers = await producer.send({ topic, acks, messages: sent.slice(0, 15) });
        await producer.send({ topic, acks, messages: sent.slice(15) });
        expect(answers.map((a) => a.errorCode)).toEqual(answers.map(() => 0));
      } finally {
        await producer.disconnect();
      }
    }
    for (const partition of [0, 1]) {
      const expected = [...sent, ...sent].filter((m) => m.partition === partition);
      const got = await readBack(topic, partition, expected.length);
      expect(got.map((r) => r.offset)).toEqual(expected.map((_, i) => i));
      expect(got.map((r) => r.key?.toString() ?? null)).toEqual(expected.map((m) => m.key));
      expect(got.map((r) => r.value?.toString() ?? null)).toEqual(expected.map((m) => m.value));
      expect(got.map((r) => r.timestamp)).toEqual(expected.map((m) => Number(m.timestamp)));
      expect(got.map((r) => Object.fromEntries(r.headers.map((h) => [h.key, h.value])))).toEqual(
        expected.map((m) =>
          Object.fromEntries(
            Object.entries(m.headers).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]),
          ),
        ),
      );
    }
  });

  it('answers a produce to a missing topic, with auto-create off, UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const producer = kafkaClient().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await expect(
        producer.send({ topic: uniqueTopic('nowhere'), messages: [{ value: 'x' }] }),
      ).rejects.toThrow(/does not host this topic-partition|UNKNOWN_TOPIC/i);
    } finally {
      await producer.disconnect();
    }
  });

  it('serves a Kafka client its cluster and topic metadata', async () => {
    const topic = uniqueTopic('kmeta');
    await admin.createTopic(topic, { partitions: 3 });
    const kadmin = kafkaClient().admin();
    await kadmin.connect();
    try {
      const cluster = await kadmin.describeCluster();
      const self = broker.running.broker.config.nodeId;
      expect(cluster.brokers).toEqual([{ nodeId: self, host: '127.0.0.1', port: port }]);
      expect(cluster.clusterId).toBe(broker.running.broker.clusterId);
      const { topics } = await kadmin.fetchTopicMetadata({ topics: [topic] });
      expect(topics).toHaveLength(1);
      expect(topics[0]!.name).toBe(topic);
      expect(topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
      for (const p of topics[0]!.partitions) {
        expect(p.leader).toBe(self);
        expect(p.replicas).toEqual([self]);
        expect(p.isr).toEqual([self]);
        expect(p.partitionErrorCode).toBe(0);
      }
      // A topic that does not exist, with auto-create off on this broker.
      await expect(kadmin.fetchTopicMetadata({ topics: [uniqueTopic('missing')] })).rejects.toThrow(
        /does not host this topic-partition|UNKNOWN_TOPIC/i,
      );
    } finally {
      await kadmin.disconnect();
    }
  });

  it('serves fetches by topic name and by topic id, and offsets by time, of what a Kafka producer wrote', async () => {
    const topic = uniqueTopic('kfetch');
    await admin.createTopic(topic, { partitions: 1 });
    const kafka = kafkaClient();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const values = Array.from({ length: 20 }, (_, i) => `fetched-${i}`);
    try {
      for (let i = 0; i < values.length; i += 5)
        await producer.send({
          topic,
          messages: values
            .slice(i, i + 5)
            .map((value, k) => ({ value, timestamp: String(1_000_000 + (i + k) * 10) })),
        });
    } finally {
      await producer.disconnect();
    }
    const kadmin = kafka.admin();
    await kadmin.connect();
    try {
      expect(await kadmin.fetchTopicOffsets(topic)).toEqual([
        expect.objectContaining({ partition: 0, low: '0', high: '20', offset: '20' }),
      ]);
      // The first record at or after a timestamp between the 8th and 9th records' is the 9th.
      expect(await kadmin.fetchTopicOffsetsByTimestamp(topic, 1_000_075)).toEqual([
        { partition: 0, offset: '8' },
      ]);
    } finally {
      await kadmin.disconnect();
    }

    const topicId = broker.running.broker.metadata([topic], false)[0]!.topicId!;
    const c = await RawConnection.open(port);
    try {
      for (const [version, correlationId] of [
        [11, 1],
        [13, 2],
      ] as const) {
        const flexible = version >= 12;
        c.socket.write(
          requestFrame(1, version, correlationId, flexible, (w) =>
            FetchApi.writeRequest(w, version, {
              ...FetchApi.defaultRequest(),
              maxWaitMs: 100,
              minBytes: 1,
              topics: [
                {
                  topic,
                  topicId,
                  partitions: [
                    {
                      partition: 0,
                      currentLeaderEpoch: -1,
                      fetchOffset: 3,
                      lastFetchedEpoch: -1,
                      logStartOffset: -1,
                      partitionMaxBytes: 1 << 20,
                      replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
                    },
                  ],
                },
              ],
            }),
          ),
        );
        await c.until(correlationId);
        const frame = c.frames[correlationId - 1]!;
        expect(frame.readInt32BE(0)).toBe(correlationId);
        const r = new Reader(frame, 4);
        if (flexible) r.taggedFields(() => {});
        const answer: FetchResponse = FetchApi.readResponse(r, version);
        expect(answer.errorCode).toBe(0);
        const p = answer.responses[0]!.partitions[0]!;
        expect(p.errorCode).toBe(0);
        expect(p.highWatermark).toBe(20);
        // Whole batches: the one holding offset 3 starts at 0; every record from there comes back.
        const records = Buffer.isBuffer(p.records) ? p.records : Buffer.concat(p.records ?? []);
        const got: { offset: number; value: string; timestamp: number }[] = [];
        for (let off = 0; off < records.length; off += batchSize(records, off)) {
          const decoded = decodeBatch(records, off);
          if (!decoded.ok) throw new Error(decoded.reason);
          for (const rec of decoded.batch.records)
            got.push({ offset: rec.offset, value: rec.value!.toString(), timestamp: rec.timestamp });
        }
        expect(got).toEqual(values.map((value, i) => ({ offset: i, value, timestamp: 1_000_000 + i * 10 })));
      }
    } finally {
      c.close();
    }
  });

  it("creates topics, adds partitions and deletes topics for a Kafka admin client, with Kafka's errors", async () => {
    const kadmin = kafkaClient().admin();
    await kadmin.connect();
    const name = uniqueTopic('kadmin');
    try {
      expect(
        await kadmin.createTopics({
          topics: [
            { topic: name, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '60000' }] },
          ],
        }),
      ).toBe(true);
      const described = await admin.describeTopic(name);
      expect(described.partitions).toHaveLength(2);
      expect(described.configs['retention.ms']).toBe('60000');
      // The same name again: TOPIC_ALREADY_EXISTS, which kafkajs reports as false.
      expect(await kadmin.createTopics({ topics: [{ topic: name, numPartitions: 1 }] })).toBe(false);
      // An unknown config: Kafka's INVALID_CONFIG for that topic.
      await expect(
        kadmin.createTopics({
          topics: [
            {
              topic: uniqueTopic('bad'),
              numPartitions: 1,
              configEntries: [{ name: 'no.such.config', value: '1' }],
            },
          ],
        }),
      ).rejects.toMatchObject({ errors: [expect.objectContaining({ type: 'INVALID_CONFIG' })] });

      await kadmin.createPartitions({ topicPartitions: [{ topic: name, count: 4 }] });
      expect((await admin.describeTopic(name)).partitions).toHaveLength(4);
      await expect(kadmin.createPartitions({ topicPartitions: [{ topic: name, count: 3 }] })).rejects.toThrow(
        /INVALID_PARTITIONS|partition/i,
      );

      await kadmin.deleteTopics({ topics: [name] });
      expect((await admin.listTopics()).map((t) => t.name)).not.toContain(name);
      await expect(kadmin.deleteTopics({ topics: [name] })).rejects.toThrow(
        /does not host this topic-partition|UNKNOWN_TOPIC/i,
      );
    } finally {
      await kadmin.disconnect();
    }
  });

  it('answers pipelined requests in order, each with its correlation id', async () => {
    const c = await RawConnection.open(port);
    try {
      const frames = [
        requestFrame(18, 0, 101, false, () => {}),
        requestFrame(3, 1, 102, false, (w) => w.arrayLength(null, false)),
        requestFrame(18, 3, 103, true, (w) => {
          w.string('raw', true);
          w.string('1.0', true);
          w.uvarint(0);
        }),
      ];
      c.socket.write(Buffer.concat(frames));
      await c.until(3);
      expect(c.frames.map((f) => f.readInt32BE(0))).toEqual([101, 102, 103]);
      // ApiVersions lists itself and Metadata with their versions.
      const v0 = ApiVersionsApi.readResponse(new Reader(c.frames[0]!, 4), 0);
      expect(v0.errorCode).toBe(0);
      expect(v0.apiKeys).toEqual(
        expect.arrayContaining([
          { apiKey: 18, minVersion: 0, maxVersion: 4 },
          { apiKey: 3, minVersion: 0, maxVersion: 12 },
        ]),
      );
      const meta = MetadataApi.readResponse(new Reader(c.frames[1]!, 4), 1);
      expect(meta.brokers.map((b) => b.port)).toEqual([port]);
      // A flexible ApiVersions is still answered with header v0 (no tagged fields after the id).
      const v3 = ApiVersionsApi.readResponse(new Reader(c.frames[2]!, 4), 3);
      expect(v3.apiKeys).toEqual(v0.apiKeys);
    } finally {
      c.close();
    }
  });

  it('answers an ApiVersions newer than its own with version 0, UNSUPPORTED_VERSION and its list', async () => {
    const c = await RawConnection.open(port);
    try {
      c.socket.write(requestFrame(18, 99, 7, true, (w) => w.uvarint(0)));
      await c.until(1);
      expect(c.frames[0]!.readInt32BE(0)).toBe(7);
      const answer = ApiVersionsApi.readResponse(new Reader(c.frames[0]!, 4), 0);
      expect(answer.errorCode).toBe(35);
      expect(answer.apiKeys.map((a) => a.apiKey)).toEqual([
        0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 32, 33, 37, 42, 44, 60, 68, 69,
      ]);
    } finally {
      c.close();
    }
  });

  it('closes a connection that sends a frame past the limit, an unknown API or a body that does not parse', async () => {
    const cases: [string, Buffer][] = [
      ['oversized frame', Buffer.from([0x00, 0x01, 0x00, 0x01])], // claims 65,537 bytes
      ['negative size', Buffer.from([0xff, 0xff, 0xff, 0xfe])],
      ['unknown API key', requestFrame(999, 0, 1, false, () => {})],
      ['unsupported Metadata version', requestFrame(3, 40, 1, false, () => {})],
      // Metadata v1 claiming a topic array of a million elements in the bytes left.
      ['array past the end', requestFrame(3, 1, 1, false, (w) => w.int32(1_000_000))],
      ['truncated header', Buffer.from([0x00, 0x00, 0x00, 0x03, 0x00, 0x03, 0x00])],
    ];
    for (const [what, bytes] of cases) {
      const c = await RawConnection.open(port);
      c.socket.write(bytes);
      await c.until(1);
      expect(c.frames, what).toEqual([]);
      expect(c.closed, what).toBe(true);
    }
    // The listener still serves everyone else.
    const c = await RawConnection.open(port);
    try {
      c.socket.write(requestFrame(18, 0, 5, false, () => {}));
      await c.until(1);
      expect(c.frames[0]!.readInt32BE(0)).toBe(5);
    } finally {
      c.close();
    }
  });
});
