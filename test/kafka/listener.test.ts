// The Kafka listener on a real broker: a Kafka client (kafkajs) negotiates versions and reads the
// cluster and a topic's metadata through it; raw connections check the framing rules (pipelined
// requests answered in order, a frame past the limit or an unknown API closes the connection, an
// ApiVersions newer than the broker's gets version 0 with UNSUPPORTED_VERSION and the list).

import { connect, type Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../client/index.js';
import { metadataHandler } from '../../broker/kafka/handlers.js';
import { FrameReader } from '../../broker/kafka/frames.js';
import { KafkaServer } from '../../broker/kafka/kafka-server.js';
import { ApiVersionsApi, MetadataApi } from '../../proto/kafka/generated/index.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';
import { startTestBroker, uniqueTopic, type TestBroker } from '../client/helpers.js';

const MAX_FRAME = 64 * 1024;
let broker: TestBroker;
let server: KafkaServer;
let admin: Admin;

beforeAll(async () => {
  broker = await startTestBroker();
  const self = broker.running.broker.config.nodeId;
  server = await KafkaServer.start({
    host: '127.0.0.1',
    port: 0,
    maxFrameBytes: MAX_FRAME,
    handlers: [
      metadataHandler(broker.running.broker, (id) =>
        id === self ? { host: '127.0.0.1', port: server.port } : undefined,
      ),
    ],
  });
  admin = new Admin({ bootstrap: broker.bootstrap });
});

afterAll(async () => {
  await admin?.close();
  await server?.close();
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

describe('the Kafka listener', () => {
  it('serves a Kafka client its cluster and topic metadata', async () => {
    const topic = uniqueTopic('kmeta');
    await admin.createTopic(topic, { partitions: 3 });
    const kafka = new Kafka({
      clientId: 'weir-test',
      brokers: [`127.0.0.1:${server.port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
    const kadmin = kafka.admin();
    await kadmin.connect();
    try {
      const cluster = await kadmin.describeCluster();
      const self = broker.running.broker.config.nodeId;
      expect(cluster.brokers).toEqual([{ nodeId: self, host: '127.0.0.1', port: server.port }]);
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

  it('answers pipelined requests in order, each with its correlation id', async () => {
    const c = await RawConnection.open(server.port);
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
      expect(meta.brokers.map((b) => b.port)).toEqual([server.port]);
      // A flexible ApiVersions is still answered with header v0 (no tagged fields after the id).
      const v3 = ApiVersionsApi.readResponse(new Reader(c.frames[2]!, 4), 3);
      expect(v3.apiKeys).toEqual(v0.apiKeys);
    } finally {
      c.close();
    }
  });

  it('answers an ApiVersions newer than its own with version 0, UNSUPPORTED_VERSION and its list', async () => {
    const c = await RawConnection.open(server.port);
    try {
      c.socket.write(requestFrame(18, 99, 7, true, (w) => w.uvarint(0)));
      await c.until(1);
      expect(c.frames[0]!.readInt32BE(0)).toBe(7);
      const answer = ApiVersionsApi.readResponse(new Reader(c.frames[0]!, 4), 0);
      expect(answer.errorCode).toBe(35);
      expect(answer.apiKeys.map((a) => a.apiKey)).toEqual([3, 18]);
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
      const c = await RawConnection.open(server.port);
      c.socket.write(bytes);
      await c.until(1);
      expect(c.frames, what).toEqual([]);
      expect(c.closed, what).toBe(true);
    }
    // The listener still serves everyone else.
    const c = await RawConnection.open(server.port);
    try {
      c.socket.write(requestFrame(18, 0, 5, false, () => {}));
      await c.until(1);
      expect(c.frames[0]!.readInt32BE(0)).toBe(5);
    } finally {
      c.close();
    }
  });
});
