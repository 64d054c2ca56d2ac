// A Kafka-aware TCP proxy between a real client and the broker, for what a client alone cannot
// show: it keeps the raw request frames the client sent (the fixtures in test/fixtures/kafka/ are
// captured with it), and it can lose a response on purpose (the connection is cut just before
// the answer to a chosen request), or turn a Produce answer into a retriable error after the
// records were written. Either way the client sends that request again: the retry an idempotent
// producer must not turn into a duplicate. (librdkafka gives up when its only broker connection
// drops, so it gets the error; the Java client reconnects.)
//
// Metadata answers name the broker's own address, where the client would go next, bypassing the
// proxy; the proxy rewrites them (decoded and re-encoded with weir's generated codecs at the
// version asked) so every broker listed is the proxy.

import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FrameReader } from '../../../broker/kafka/frames.js';
import { MetadataApi, ProduceApi } from '../../../proto/kafka/generated/index.js';
import { Reader, Writer } from '../../../proto/kafka/wire.js';

const METADATA_KEY = MetadataApi.apiKey;
const MAX_FRAME = 256 * 1024 * 1024;

export interface CapturedRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** The frame's body as sent, without its size prefix. */
  readonly frame: Buffer;
}

export interface KafkaProxy {
  readonly address: string;
  readonly requests: CapturedRequest[];
  /** Cuts the connection instead of forwarding the answer to the next request `drop` matches. */
  dropNextResponse(drop: (request: CapturedRequest) => boolean): void;
  /** Answers the next Produce `fail` matches with `errorCode` on every partition (written all the same). */
  failNextProduce(fail: (request: CapturedRequest) => boolean, errorCode: number): void;
  /** How many answers were lost or failed on purpose. */
  readonly dropped: number;
  close(): Promise<void>;
}

export async function startKafkaProxy(target: string): Promise<KafkaProxy> {
  const [targetHost, targetPort] = splitAddress(target);
  const sockets = new Set<Socket>();
  let dropRule: ((r: CapturedRequest) => boolean) | null = null;
  let failRule: { match: (r: CapturedRequest) => boolean; errorCode: number } | null = null;
  const state = { dropped: 0 };
  const requests: CapturedRequest[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    const inFlight = new Map<number, CapturedRequest & { drop: boolean; failWith: number }>();
    const fromClient = new FrameReader(MAX_FRAME);
    const fromBroker = new FrameReader(MAX_FRAME);
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      for (const frame of fromClient.push(chunk)) {
        const request = {
          apiKey: frame.readInt16BE(0),
          apiVersion: frame.readInt16BE(2),
          correlationId: frame.readInt32BE(4),
          frame: Buffer.from(frame),
        };
        requests.push(request);
        const drop = dropRule !== null && dropRule(request);
        if (drop) dropRule = null;
        let failWith = 0;
        if (request.apiKey === ProduceApi.apiKey && failRule !== null && failRule.match(request)) {
          failWith = failRule.errorCode;
          failRule = null;
        }
        inFlight.set(request.correlationId, { ...request, drop, failWith });
        upstream.write(sized(frame));
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const frame of fromBroker.push(chunk)) {
        const request = inFlight.get(frame.readInt32BE(0));
        if (request !== undefined) inFlight.delete(request.correlationId);
        if (request?.drop === true) {
          state.dropped++;
          cut();
          return;
        }
        let answer = frame;
        if (request?.apiKey === METADATA_KEY) answer = pointAtProxy(frame, request.apiVersion, port());
        if (request !== undefined && request.failWith !== 0) {
          state.dropped++;
          answer = failProduce(frame, request.apiVersion, request.failWith);
        }
        client.write(sized(answer));
      }
    });
    for (const s of [client, upstream]) {
      s.on('error', cut);
      s.on('close', () => {
        sockets.delete(s);
        cut();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (): number => (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port()}`,
    requests,
    dropNextResponse(drop) {
      dropRule = drop;
    },
    failNextProduce(match, errorCode) {
      failRule = { match, errorCode };
    },
    get dropped() {
      return state.dropped;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

function sized(frame: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length, 0);
  return Buffer.concat([size, frame]);
}

/** A Metadata answer whose brokers are all at the proxy's address. */
function pointAtProxy(frame: Buffer, version: number, port: number): Buffer {
  const flexible = version >= MetadataApi.flexibleFrom;
  const r = new Reader(frame, 4);
  if (flexible) r.taggedFields(() => {});
  const answer = MetadataApi.readResponse(r, version);
  for (const b of answer.brokers) {
    b.host = '127.0.0.1';
    b.port = port;
  }
  const w = new Writer();
  w.int32(frame.readInt32BE(0));
  if (flexible) w.uvarint(0);
  MetadataApi.writeResponse(w, version, answer);
  return w.toBuffer();
}

/** A Produce answer with `errorCode` on every partition, as if the write had not been confirmed. */
function failProduce(frame: Buffer, version: number, errorCode: number): Buffer {
  const flexible = version >= ProduceApi.flexibleFrom;
  const r = new Reader(frame, 4);
  if (flexible) r.taggedFields(() => {});
  const answer = ProduceApi.readResponse(r, version);
  for (const t of answer.responses)
    for (const p of t.partitionResponses) {
      p.errorCode = errorCode;
      p.baseOffset = -1;
    }
  const w = new Writer();
  w.int32(frame.readInt32BE(0));
  if (flexible) w.uvarint(0);
  ProduceApi.writeResponse(w, version, answer);
  return w.toBuffer();
}
