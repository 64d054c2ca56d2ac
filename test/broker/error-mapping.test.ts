// Every code of the one error table maps on every surface (STYLE 7): on gRPC (status and trailing
// metadata, and back to the same code on the client side) and on HTTP (status and body). Then a
// few codes on a real round trip through a running broker, on both surfaces.

import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, WeirError, type ErrorCode } from '../../proto/errors.js';
import {
  ERROR_CODE_KEY,
  ERROR_ID_KEY,
  ERROR_RETRIABLE_KEY,
  fromServiceError,
  toServiceError,
} from '../../proto/grpc.js';
import { buildHttpApp } from '../../broker/http-server.js';
import { BrokerMetrics } from '../../broker/metrics.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';
import { errorBodyOf, http } from './http-support.js';

const CODES = Object.keys(ERRORS) as ErrorCode[];

let b: TestBroker;
/** An app built by the broker's own function, with one test-only route that throws any code. */
let app: FastifyInstance;

beforeAll(async () => {
  b = await startTestBroker();
  await b.call('CreateTopic', { name: 'existing', partitions: 1 });
  app = buildHttpApp({
    broker: b.running.broker,
    logger: b.running.logger,
    ready: () => true,
    metrics: new BrokerMetrics(b.running.broker, { defaultMetrics: false }),
  });
  app.get<{ Params: { code: ErrorCode } }>('/test/throw/:code', async (req) => {
    throw new WeirError(req.params.code, 'raised by the test');
  });
  app.get('/test/bug', async () => {
    throw new TypeError('a bug, not a WeirError');
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await b.close();
  removeDir(b.dataDir);
});

/** A gRPC failure as the client sees it, after the status crossed the wire. */
function asServiceError(status: Partial<grpc.StatusObject>): grpc.ServiceError {
  return Object.assign(new Error(`${status.code} ${status.details}`), {
    code: status.code ?? grpc.status.UNKNOWN,
    details: status.details ?? '',
    metadata: status.metadata ?? new grpc.Metadata(),
  });
}

describe('every error code', () => {
  it('has a non-OK gRPC status and an HTTP error status', () => {
    for (const code of CODES) {
      expect(ERRORS[code].grpc, code).toBeGreaterThan(grpc.status.OK);
      expect(grpc.status[ERRORS[code].grpc], code).toBeDefined();
      expect(ERRORS[code].http, code).toBeGreaterThanOrEqual(400);
      expect(ERRORS[code].http, code).toBeLessThan(600);
    }
  });

  it.each(CODES)('%s maps to its gRPC status and metadata, and back to itself', (code) => {
    const err = new WeirError(code, 'some detail');
    const status = toServiceError(err);
    expect(status.code).toBe(ERRORS[code].grpc);
    expect(status.details).toBe(err.message);
    expect(status.metadata?.get(ERROR_CODE_KEY)).toEqual([code]);
    expect(status.metadata?.get(ERROR_ID_KEY)).toEqual([String(ERRORS[code].id)]);
    expect(status.metadata?.get(ERROR_RETRIABLE_KEY)).toEqual([String(ERRORS[code].retriable)]);

    const back = fromServiceError(asServiceError(status));
    expect(back).toBeInstanceOf(WeirError);
    expect(back.code).toBe(code);
    expect(back.id).toBe(ERRORS[code].id);
    expect(back.retriable).toBe(ERRORS[code].retriable);
    expect(back.message).toBe(err.message);
  });

  it.each(CODES)('%s maps to its HTTP status and the error body', async (code) => {
    const res = await app.inject({ method: 'GET', url: `/test/throw/${code}` });
    expect(res.statusCode).toBe(ERRORS[code].http);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      error: {
        code,
        id: ERRORS[code].id,
        retriable: ERRORS[code].retriable,
        message: `${code}: ${ERRORS[code].message}: raised by the test`,
      },
    });
  });
});

describe('errors fastify raises itself', () => {
  it('maps a failure that is not a WeirError to UNKNOWN_SERVER_ERROR (500)', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/bug' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual(errorBodyOf('UNKNOWN_SERVER_ERROR'));
  });

  it('maps bad JSON and a schema violation to INVALID_REQUEST (400)', async () => {
    for (const payload of ['{"name":', JSON.stringify({ name: 7, partitions: 1 })]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/topics',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(errorBodyOf('INVALID_REQUEST'));
    }
  });

  it('maps a body over the limit to MESSAGE_TOO_LARGE (413)', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/topics',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'big', partitions: 1, configs: { pad: 'x'.repeat(2 << 20) } }),
    });
    expect(res.statusCode).toBe(ERRORS.MESSAGE_TOO_LARGE.http);
    expect(res.json()).toEqual(errorBodyOf('MESSAGE_TOO_LARGE'));
  });

  it('maps an unknown route to INVALID_REQUEST with 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/v2/topics' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual(errorBodyOf('INVALID_REQUEST'));
  });

  it('maps a malformed URL to INVALID_REQUEST (400)', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/topics/%zz' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual(errorBodyOf('INVALID_REQUEST'));
  });
});

describe('round trips through a running broker', () => {
  /** Calls a unary gRPC method and returns the raw failure (status, metadata), or throws. */
  async function grpcFailure(method: string, request: unknown): Promise<grpc.ServiceError> {
    const client = b.client as unknown as Record<
      string,
      (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void
    >;
    try {
      await promisify(client[method]!.bind(b.client))(request);
    } catch (err) {
      return err as grpc.ServiceError;
    }
    throw new Error(`${method} succeeded`);
  }

  it.each([
    [
      'an unknown topic',
      'UNKNOWN_TOPIC_OR_PARTITION',
      ['DescribeTopic', { name: 'nope' }],
      ['GET', '/v1/topics/nope'],
    ],
    [
      'an invalid topic name',
      'INVALID_TOPIC_EXCEPTION',
      ['CreateTopic', { name: 'no spaces', partitions: 1 }],
      ['POST', '/v1/topics', { name: 'no spaces', partitions: 1 }],
    ],
    [
      'a topic that already exists',
      'TOPIC_ALREADY_EXISTS',
      ['CreateTopic', { name: 'existing', partitions: 1 }],
      ['POST', '/v1/topics', { name: 'existing', partitions: 1 }],
    ],
    [
      'an invalid config',
      'INVALID_CONFIG',
      ['CreateTopic', { name: 'cfg', partitions: 1, configs: { 'retention.ms': 'x' } }],
      ['POST', '/v1/topics', { name: 'cfg', partitions: 1, configs: { 'retention.ms': 'x' } }],
    ],
    [
      'an alter of an unknown config key',
      'INVALID_CONFIG',
      ['AlterTopicConfig', { name: 'existing', set: { 'no.such.key': '1' } }],
      ['PATCH', '/v1/topics/existing/configs', { set: { 'no.such.key': '1' } }],
    ],
  ] as const)(
    'given %s, both surfaces answer %s',
    async (_what, code, [method, request], [verb, path, body]) => {
      const failure = await grpcFailure(method, request);
      expect(failure.code).toBe(ERRORS[code].grpc);
      expect(failure.metadata.get(ERROR_CODE_KEY)).toEqual([code]);
      expect(fromServiceError(failure).code).toBe(code);

      const res = await http(b.running.httpAddress, verb, path, body);
      expect(res.status).toBe(ERRORS[code].http);
      expect(res.body).toEqual(errorBodyOf(code));
    },
  );

  it('uses the statuses the table promises for these codes', () => {
    expect(ERRORS.UNKNOWN_TOPIC_OR_PARTITION).toMatchObject({ grpc: grpc.status.NOT_FOUND, http: 404 });
    expect(ERRORS.INVALID_TOPIC_EXCEPTION).toMatchObject({ grpc: grpc.status.INVALID_ARGUMENT, http: 400 });
    expect(ERRORS.TOPIC_ALREADY_EXISTS).toMatchObject({ grpc: grpc.status.ALREADY_EXISTS, http: 409 });
    expect(ERRORS.INVALID_CONFIG).toMatchObject({ grpc: grpc.status.INVALID_ARGUMENT, http: 400 });
    // Past the open-file budget (test/broker/file-budget.test.ts makes it happen on both surfaces).
    expect(ERRORS.FILE_BUDGET_EXCEEDED).toMatchObject({ grpc: grpc.status.RESOURCE_EXHAUSTED, http: 507 });
  });
});
