// The HTTP side (fastify), in the broker's process: health and readiness for orchestrators,
// Prometheus metrics, and the JSON admin API under /v1/ (http-admin-routes.ts). Routes are thin:
// they read the Broker and map WeirErrors through the error table.
//
// Every error answer is `{ "error": { code, id, retriable, message } }` with a code from the table.
// The status is the table's HTTP status for the code, with one exception: errors fastify raises
// before a route runs (a bad JSON body, a schema violation, no such route, a body that is not
// JSON) are INVALID_REQUEST with the HTTP status that names the problem best (400, 404, 415), and
// a body over the limit is MESSAGE_TOO_LARGE (413). An unknown route is INVALID_REQUEST with 404,
// not UNKNOWN_TOPIC_OR_PARTITION: a client must not read a typo in a URL as "the topic is gone".

import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { ERRORS, WeirError } from '../proto/errors.js';
import { escapedStorageError } from '../storage/index.js';
import type { Broker } from './broker.js';
import { adminRoutes } from './http-admin-routes.js';
import { errorResponses, statusBody } from './http-schemas.js';
import type { Logger } from './logger.js';
import type { BrokerMetrics } from './metrics.js';

export interface HttpSurfaceOptions {
  readonly broker: Broker;
  readonly logger: Logger;
  /** Whether the broker has finished starting (the gRPC side is bound). */
  readonly ready: () => boolean;
  readonly metrics: BrokerMetrics;
}

/** Node's default requestTimeout, kept unless the handshake timeout is longer. */
const NODE_REQUEST_TIMEOUT_MS = 300_000;

/** Topic names reach 249 characters (more once percent-encoded); fastify's default cap is 100. */
const MAX_PARAM_LENGTH = 1024;
/** How often at most Node looks for connections past their headers timeout. */
const HEADERS_CHECK_MAX_MS = 1000;

/** The status and error an HTTP answer carries for a failure, following the table. */
export function httpErrorOf(err: unknown): { status: number; error: WeirError; internal: boolean } {
  if (err instanceof WeirError) return { status: ERRORS[err.code].http, error: err, internal: false };
  const storage = escapedStorageError(err, 'storage');
  if (storage !== null) return { status: ERRORS[storage.code].http, error: storage, internal: false };
  const message = err instanceof Error ? err.message : String(err);
  const status = (err as Partial<FastifyError> | null)?.statusCode;
  if (status === 413) return { status, error: new WeirError('MESSAGE_TOO_LARGE', message), internal: false };
  if (status !== undefined && status >= 400 && status < 500)
    return { status, error: new WeirError('INVALID_REQUEST', message), internal: false };
  return { status: 500, error: new WeirError('UNKNOWN_SERVER_ERROR', message), internal: true };
}

function sendError(reply: FastifyReply, status: number, error: WeirError): FastifyReply {
  return reply.status(status).send({
    error: { code: error.code, id: error.id, retriable: error.retriable, message: error.message },
  });
}

/** The HTTP app, routes registered, not listening: startHttpServer listens; tests may inject. */
export function buildHttpApp(options: HttpSurfaceOptions): FastifyInstance {
  const { broker, metrics } = options;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ surface: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Node closes a connection that has not sent its request headers after headersTimeout, but
    // looks only every connectionsCheckingInterval (30 s by default); both follow the handshake
    // timeout so a silent connection is closed in about the same time as on the gRPC port.
    // Node refuses a headersTimeout above requestTimeout (300 s by default).
    http: {
      headersTimeout: broker.config.handshakeTimeoutMs,
      requestTimeout: Math.max(NODE_REQUEST_TIMEOUT_MS, broker.config.handshakeTimeoutMs),
      connectionsCheckingInterval: Math.min(HEADERS_CHECK_MAX_MS, broker.config.handshakeTimeoutMs),
    },
    // Unknown body fields are refused rather than dropped (a misspelt `set` must not be a silent
    // no-op), and nothing is coerced: path and query values are strings checked by pattern.
    // Union types (`["string", "number"]` config values) are standard JSON Schema; ajv's strict
    // mode only warns about them unless allowed.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allowUnionTypes: true } },
    frameworkErrors: (err, _req, reply) => {
      const { status, error } = httpErrorOf(err);
      void sendError(reply, status, error);
    },
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, error, internal } = httpErrorOf(err);
    if (internal) req.log.error({ err, method: req.method, url: req.url }, 'request failed');
    // A failed system call that reached the surface unconverted: counted like storage's own.
    if (error !== err && error.code === 'KAFKA_STORAGE_ERROR') broker.storageHealth.note(error);
    return sendError(reply, status, error);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, new WeirError('INVALID_REQUEST', `no route ${req.method} ${req.url}`)),
  );

  app.get('/healthz', { schema: { response: { 200: statusBody } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { response: { 200: statusBody, 503: statusBody } } }, async (_req, reply) => {
    if (broker.isClosing || !options.ready()) return reply.status(503).send({ status: 'not ready' });
    const offline = broker.offlinePartitions();
    if (offline.length > 0) {
      const first = offline[0] as { topic: string; partition: number };
      return reply.status(503).send({
        status: 'not ready',
        reason: `${offline.length} partition(s) offline after a storage failure (first: ${first.topic}-${first.partition}); restart the broker to recover them`,
      });
    }
    if (broker.storageHealth.failing)
      return reply.status(503).send({ status: 'not ready', reason: 'storage errors in the last 10 s' });
    return { status: 'ready' };
  });
  // Prometheus text, so no JSON response schema; the content type is the registry's.
  app.get('/metrics', { schema: { response: errorResponses } }, async (_req, reply) => {
    const text = await metrics.scrape();
    return reply.type(metrics.contentType).send(text);
  });

  void app.register(adminRoutes, { prefix: '/v1', broker });
  return app;
}

export async function startHttpServer(
  options: HttpSurfaceOptions,
  host: string,
  port: number,
): Promise<{ app: FastifyInstance; port: number }> {
  const app = buildHttpApp(options);
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  return { app, port: typeof address === 'object' && address !== null ? address.port : port };
}
