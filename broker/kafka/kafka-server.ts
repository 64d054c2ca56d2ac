// The Kafka protocol listener: a raw TCP server whose connections carry size-prefixed Kafka
// requests, each answered with its correlation id. Requests on one connection are handled one
// after another and answered in the order they came (clients pipeline them and rely on that
// order); the socket is paused while too many wait, so a client that writes without reading
// cannot make the broker buffer without bound.
//
// What is refused, as Kafka refuses it:
// - a frame above maxFrameBytes (socket.request.max.bytes), a header or body that does not parse,
//   an API key weir does not serve or a version outside its range: the connection is closed, since
//   no response of that API and version can be written;
// - except ApiVersions of an unknown version, which is answered with version 0 of the response,
//   UNSUPPORTED_VERSION and the list of APIs, so a client newer than the broker can retry with a
//   version from that list.

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WeirError, isWeirError } from '../../proto/errors.js';
import { ApiVersionsApi, type ApiVersionsResponse } from '../../proto/kafka/generated/index.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';
import { FrameReader } from './frames.js';

/** The codec half of an API (from proto/kafka/generated/) a handler serves. */
export interface KafkaApiCodec<Req, Res> {
  readonly apiKey: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly flexibleFrom: number;
  readRequest(r: Reader, v: number): Req;
  writeResponse(w: Writer, v: number, m: Res): void;
}

/** Who sent a request, as its header and connection say. */
export interface KafkaRequestContext {
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  readonly remoteAddress: string;
}

/** What a handler returns for a request that gets no answer (a Produce with acks=0). */
export const NO_RESPONSE = Symbol('no response');

export interface KafkaHandler<Req = unknown, Res = unknown> {
  readonly api: KafkaApiCodec<Req, Res>;
  /** The versions served, within the codec's (defaults to the codec's whole range). */
  readonly minVersion?: number;
  readonly maxVersion?: number;
  handle(
    request: Req,
    context: KafkaRequestContext,
  ): Res | typeof NO_RESPONSE | Promise<Res | typeof NO_RESPONSE>;
}

/** Builds a handler entry with its request and response types checked against the codec. */
export function kafkaHandler<Req, Res>(handler: KafkaHandler<Req, Res>): KafkaHandler {
  return handler as unknown as KafkaHandler;
}

export interface KafkaServerOptions {
  host: string;
  port: number;
  /** The largest request frame accepted (Kafka's socket.request.max.bytes, 100 MiB). */
  maxFrameBytes: number;
  handlers: readonly KafkaHandler[];
  /** A request that failed in a way no Kafka error code covers (a bug): logged, connection closed. */
  onInternalError?: (err: unknown, api: string) => void;
}

/** Requests read but not yet answered on one connection before its socket is paused. */
const MAX_QUEUED = 64;

const API_VERSIONS_KEY = ApiVersionsApi.apiKey;

/** The versions one handler serves. */
function rangeOf(h: KafkaHandler): { min: number; max: number } {
  return { min: h.minVersion ?? h.api.minVersion, max: h.maxVersion ?? h.api.maxVersion };
}

export class KafkaServer {
  private readonly handlers = new Map<number, KafkaHandler>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly options: KafkaServerOptions,
  ) {
    // ApiVersions is the listener's own: it lists the handlers it was given.
    this.handlers.set(
      API_VERSIONS_KEY,
      kafkaHandler({
        api: ApiVersionsApi,
        handle: () => ({ ...ApiVersionsApi.defaultResponse(), apiKeys: this.apiVersions() }),
      }),
    );
    for (const h of options.handlers) {
      if (this.handlers.has(h.api.apiKey)) throw new Error(`two handlers of ${h.api.name}`);
      this.handlers.set(h.api.apiKey, h);
    }
  }

  static async start(options: KafkaServerOptions): Promise<KafkaServer> {
    const server = createServer({ noDelay: true });
    const kafka = new KafkaServer(server, options);
    server.on('connection', (socket) => kafka.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return kafka;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The API versions this listener serves, as ApiVersions lists them. */
  apiVersions(): ApiVersionsResponse['apiKeys'] {
    return [...this.handlers.values()]
      .map((h) => ({ apiKey: h.api.apiKey, minVersion: rangeOf(h).min, maxVersion: rangeOf(h).max }))
      .sort((a, b) => a.apiKey - b.apiKey);
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const frames = new FrameReader(this.options.maxFrameBytes);
    const remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    let queued = 0;
    let tail: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let complete: Buffer[];
      try {
        complete = frames.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of complete) {
        queued++;
        if (queued >= MAX_QUEUED) socket.pause();
        tail = tail.then(async () => {
          if (socket.destroyed) return;
          const response = await this.answer(frame, remoteAddress);
          if (response === null) socket.destroy();
          else if (!socket.destroyed) {
            socket.cork();
            for (const part of response) socket.write(part);
            socket.uncork();
          }
          queued--;
          if (queued < MAX_QUEUED / 2 && socket.isPaused()) socket.resume();
        });
      }
    });
  }

  /** The response's bytes (size prefix first; none for no answer), or null to close the connection. */
  private async answer(frame: Buffer, remoteAddress: string): Promise<Buffer[] | null> {
    const r = new Reader(frame);
    let apiKey: number;
    let version: number;
    let correlationId: number;
    try {
      apiKey = r.int16();
      version = r.int16();
      correlationId = r.int32();
    } catch {
      return null;
    }
    const handler = this.handlers.get(apiKey);
    const supported =
      handler !== undefined && version >= rangeOf(handler).min && version <= rangeOf(handler).max;
    if (!supported) {
      if (apiKey !== API_VERSIONS_KEY) return null;
      // A newer client's ApiVersions: version 0 of the answer, header v0, and the list.
      return this.frame(correlationId, false, (w) =>
        ApiVersionsApi.writeResponse(w, 0, {
          ...ApiVersionsApi.defaultResponse(),
          errorCode: new WeirError('UNSUPPORTED_VERSION').id,
          apiKeys: this.apiVersions(),
        }),
      );
    }
    const api = handler.api;
    const flexible = version >= api.flexibleFrom;
    let request: unknown;
    let clientId: string | null;
    try {
      clientId = r.string(false);
      if (flexible) r.taggedFields(() => {});
      request = api.readRequest(r, version);
    } catch (err) {
      if (isWeirError(err)) return null;
      throw err;
    }
    let response: unknown;
    try {
      response = await handler.handle(request, {
        apiVersion: version,
        correlationId,
        clientId,
        remoteAddress,
      });
    } catch (err) {
      this.options.onInternalError?.(err, api.name);
      return null;
    }
    if (response === NO_RESPONSE) return [];
    // ApiVersions answers with header v0 whatever its version, so any client can read it.
    const taggedHeader = flexible && apiKey !== API_VERSIONS_KEY;
    return this.frame(correlationId, taggedHeader, (w) => api.writeResponse(w, version, response));
  }

  private frame(correlationId: number, taggedHeader: boolean, body: (w: Writer) => void): Buffer[] {
    const w = new Writer(512);
    w.int32(0); // the size, set below
    w.int32(correlationId);
    if (taggedHeader) w.uvarint(0);
    body(w);
    const size = w.length - 4;
    const parts = w.finish();
    parts[0]!.writeInt32BE(size, 0);
    return parts;
  }
}
