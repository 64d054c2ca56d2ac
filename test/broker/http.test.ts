// The HTTP side through a real broker: health, readiness (also while shutting down), and every
// admin route under /v1/ with its happy path and its errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startTestBroker, type TestBroker } from './support.js';
import { errorBodyOf, http, type HttpAnswer } from './http-support.js';

let b: TestBroker;
const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  http(b.running.httpAddress, method, path, body, headers);

beforeAll(async () => {
  b = await startTestBroker();
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

function errorOf(answer: HttpAnswer): string {
  return (answer.body as { error: { code: string } }).error.code;
}

describe('health', () => {
  it('answers /healthz and /readyz when the broker is up', async () => {
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call('GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('given a broker that has begun shutting down, then /readyz is 503 while /healthz stays 200', async () => {
    const other = await startTestBroker();
    try {
      // The first step of shutdown: the broker refuses new work; the HTTP side is still up.
      other.running.broker.stopAccepting();
      const during = await http(other.running.httpAddress, 'GET', '/readyz');
      expect(during).toMatchObject({ status: 503, body: { status: 'not ready' } });
      const health = await http(other.running.httpAddress, 'GET', '/healthz');
      expect(health.status).toBe(200);
    } finally {
      await other.close();
      removeDir(other.dataDir);
    }
  });
});

describe('GET /v1/cluster', () => {
  it('describes this broker as the whole cluster and its controller', async () => {
    const res = await call('GET', '/v1/cluster');
    const [, grpcPort] = b.running.grpcAddress.split(':');
    const [host, httpPort] = b.running.httpAddress.split(':');
    expect(res).toMatchObject({
      status: 200,
      body: {
        clusterId: b.running.broker.clusterId,
        controllerId: 0,
        brokers: [{ nodeId: 0, host, grpcPort: Number(grpcPort), httpPort: Number(httpPort) }],
      },
    });
  });
});

describe('POST /v1/topics', () => {
  it('creates a topic: 201, its location, and the topic detail with every config in force', async () => {
    const res = await call('POST', '/v1/topics', {
      name: 'created',
      partitions: 2,
      configs: { 'retention.ms': 60000, 'cleanup.policy': 'compact' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/v1/topics/created');
    expect(res.body).toMatchObject({
      name: 'created',
      internal: false,
      replicationFactor: 1,
      overrides: { 'retention.ms': '60000', 'cleanup.policy': 'compact' },
      configs: { 'retention.ms': '60000', 'cleanup.policy': 'compact', 'segment.bytes': expect.any(String) },
      partitions: [
        { partition: 0, leader: 0, replicas: [0], logStartOffset: 0, highWatermark: 0, logEndOffset: 0 },
        { partition: 1, leader: 0, replicas: [0], logStartOffset: 0, highWatermark: 0, logEndOffset: 0 },
      ],
    });
  });

  it('with validateOnly, checks and answers 200 without creating anything', async () => {
    const res = await call('POST', '/v1/topics', { name: 'dry', partitions: 1, validateOnly: true });
    expect(res).toMatchObject({ status: 200, body: { name: 'dry', partitions: [] } });
    expect((await call('GET', '/v1/topics/dry')).status).toBe(404);
  });

  it.each([
    ['an existing name', 'TOPIC_ALREADY_EXISTS', 409, { name: 'dup', partitions: 1 }],
    ['an invalid name', 'INVALID_TOPIC_EXCEPTION', 400, { name: 'bad name!', partitions: 1 }],
    ['a reserved name', 'POLICY_VIOLATION', 403, { name: '__mine', partitions: 1 }],
    ['zero partitions', 'INVALID_PARTITIONS', 400, { name: 'p0', partitions: 0 }],
    [
      'replication factor 3',
      'INVALID_REPLICATION_FACTOR',
      400,
      { name: 'rf3', partitions: 1, replicationFactor: 3 },
    ],
    [
      'a bad config value',
      'INVALID_CONFIG',
      400,
      { name: 'cv', partitions: 1, configs: { 'retention.ms': 'soon' } },
    ],
    [
      'an unknown config key',
      'INVALID_CONFIG',
      400,
      { name: 'ck', partitions: 1, configs: { 'no.such': '1' } },
    ],
    ['no partitions field', 'INVALID_REQUEST', 400, { name: 'np' }],
    ['an unknown field', 'INVALID_REQUEST', 400, { name: 'uf', partitions: 1, partition: 2 }],
    ['partitions as a string', 'INVALID_REQUEST', 400, { name: 'ps', partitions: '3' }],
    [
      'a config value that is an object',
      'INVALID_REQUEST',
      400,
      { name: 'co', partitions: 1, configs: { a: {} } },
    ],
  ] as const)('refuses %s with %s (%i)', async (_what, code, status, body) => {
    await call('POST', '/v1/topics', { name: 'dup', partitions: 1 });
    const res = await call('POST', '/v1/topics', body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(errorBodyOf(code));
  });

  it('refuses a body that is not JSON (400) or not declared as JSON (415) with INVALID_REQUEST', async () => {
    const bad = await call('POST', '/v1/topics', '{"name": "x", partitions: }');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual(errorBodyOf('INVALID_REQUEST'));
    const text = await call('POST', '/v1/topics', '<topic/>', { 'content-type': 'application/xml' });
    expect(text.status).toBe(415);
    expect(text.body).toEqual(errorBodyOf('INVALID_REQUEST'));
  });
});

describe('GET /v1/topics', () => {
  it('lists topics with their partition counts; ?internal=true also lists internal ones', async () => {
    await call('POST', '/v1/topics', { name: 'listed', partitions: 3 });
    const res = await call('GET', '/v1/topics');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.arrayContaining([{ name: 'listed', partitions: 3, internal: false }]));
    const all = await call('GET', '/v1/topics?internal=true');
    expect(all.status).toBe(200);
    expect(all.body).toEqual(expect.arrayContaining([{ name: 'listed', partitions: 3, internal: false }]));
  });

  it('refuses a query value that is not a boolean', async () => {
    const res = await call('GET', '/v1/topics?internal=maybe');
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorBodyOf('INVALID_REQUEST'));
  });
});

describe('GET /v1/topics/:name', () => {
  it('describes a topic', async () => {
    await call('POST', '/v1/topics', { name: 'described', partitions: 1 });
    const res = await call('GET', '/v1/topics/described');
    expect(res).toMatchObject({
      status: 200,
      body: { name: 'described', overrides: {}, partitions: [{ partition: 0, segments: 1 }] },
    });
  });

  it('takes names up to the 249 characters Kafka allows', async () => {
    const name = 'n'.repeat(249);
    expect((await call('POST', '/v1/topics', { name, partitions: 1 })).status).toBe(201);
    expect(await call('GET', `/v1/topics/${name}`)).toMatchObject({ status: 200, body: { name } });
  });

  it('answers 404 UNKNOWN_TOPIC_OR_PARTITION for an unknown topic, 400 for an invalid name', async () => {
    const unknown = await call('GET', '/v1/topics/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorBodyOf('UNKNOWN_TOPIC_OR_PARTITION'));
    const invalid = await call('GET', '/v1/topics/bad%20name');
    expect(invalid.status).toBe(400);
    expect(invalid.body).toEqual(errorBodyOf('INVALID_TOPIC_EXCEPTION'));
  });
});

describe('/v1/topics/:name/configs', () => {
  it('reads the configs in force and the overrides', async () => {
    await call('POST', '/v1/topics', { name: 'cfg', partitions: 1, configs: { 'retention.ms': '1000' } });
    const res = await call('GET', '/v1/topics/cfg/configs');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      overrides: { 'retention.ms': '1000' },
      configs: { 'retention.ms': '1000', 'cleanup.policy': 'delete' },
    });
    expect(Object.keys(res.body as object)).toEqual(['configs', 'overrides']);
  });

  it('sets and deletes overrides with PATCH and answers the topic detail', async () => {
    await call('POST', '/v1/topics', { name: 'alt', partitions: 1, configs: { 'retention.ms': '1000' } });
    const res = await call('PATCH', '/v1/topics/alt/configs', {
      set: { 'segment.bytes': 1048576 },
      delete: ['retention.ms'],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'alt',
      overrides: { 'segment.bytes': '1048576' },
      configs: { 'segment.bytes': '1048576', 'retention.ms': String(7 * 24 * 3600 * 1000) },
    });
    expect((res.body as { overrides: object }).overrides).not.toHaveProperty('retention.ms');
  });

  it.each([
    ['an unknown topic', 'UNKNOWN_TOPIC_OR_PARTITION', 404, 'nope', { set: { 'retention.ms': '1' } }],
    ['a bad value', 'INVALID_CONFIG', 400, 'alt', { set: { 'retention.ms': '-7' } }],
    ['an unknown key', 'INVALID_CONFIG', 400, 'alt', { set: { 'retention.hours': '1' } }],
    ['a misspelt field', 'INVALID_REQUEST', 400, 'alt', { sett: { 'retention.ms': '1' } }],
    ['delete as a string', 'INVALID_REQUEST', 400, 'alt', { delete: 'retention.ms' }],
  ] as const)('refuses %s with %s (%i)', async (_what, code, status, topic, body) => {
    await call('POST', '/v1/topics', { name: 'alt', partitions: 1 });
    const res = await call('PATCH', `/v1/topics/${topic}/configs`, body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(errorBodyOf(code));
  });

  it('answers 404 reading the configs of an unknown topic', async () => {
    const res = await call('GET', '/v1/topics/nope/configs');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorBodyOf('UNKNOWN_TOPIC_OR_PARTITION'));
  });
});

describe('POST /v1/topics/:name/partitions', () => {
  it('adds partitions and answers the topic detail', async () => {
    await call('POST', '/v1/topics', { name: 'grow', partitions: 1 });
    const res = await call('POST', '/v1/topics/grow/partitions', { count: 3 });
    expect(res.status).toBe(200);
    const detail = res.body as { partitions: { partition: number }[] };
    expect(detail.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
  });

  it.each([
    ['a count not larger', 'INVALID_PARTITIONS', 400, 'grow', { count: 1 }],
    ['an unknown topic', 'UNKNOWN_TOPIC_OR_PARTITION', 404, 'nope', { count: 4 }],
    ['no count', 'INVALID_REQUEST', 400, 'grow', {}],
    ['a fractional count', 'INVALID_REQUEST', 400, 'grow', { count: 4.5 }],
  ] as const)('refuses %s with %s (%i)', async (_what, code, status, topic, body) => {
    await call('POST', '/v1/topics', { name: 'grow', partitions: 1 });
    const res = await call('POST', `/v1/topics/${topic}/partitions`, body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(errorBodyOf(code));
  });
});

describe('POST /v1/topics/:name/partitions/:partition/delete-records', () => {
  it('raises the log start offset, to the high watermark with -1', async () => {
    await call('POST', '/v1/topics', { name: 'trim', partitions: 1 });
    await b.call('Produce', {
      partitions: [
        {
          topic: 'trim',
          partition: 0,
          records: ['a', 'b', 'c', 'd'].map((v) => ({ value: Buffer.from(v) })),
        },
      ],
    });
    const res = await call('POST', '/v1/topics/trim/partitions/0/delete-records', { offset: 2 });
    expect(res).toMatchObject({ status: 200, body: { topic: 'trim', partition: 0, lowWatermark: 2 } });
    expect((await call('GET', '/v1/topics/trim/partitions/0')).body).toMatchObject({
      logStartOffset: 2,
      earliestOffset: 2,
    });
    const all = await call('POST', '/v1/topics/trim/partitions/0/delete-records', { offset: -1 });
    expect(all.body).toEqual({ topic: 'trim', partition: 0, lowWatermark: 4 });
  });

  it.each([
    [
      'an offset past the high watermark',
      'OFFSET_OUT_OF_RANGE',
      416,
      '/v1/topics/trim/partitions/0',
      { offset: 5 },
    ],
    [
      'an unknown partition',
      'UNKNOWN_TOPIC_OR_PARTITION',
      404,
      '/v1/topics/trim/partitions/3',
      { offset: 0 },
    ],
    ['an unknown topic', 'UNKNOWN_TOPIC_OR_PARTITION', 404, '/v1/topics/nope/partitions/0', { offset: 0 }],
    ['an offset below -1', 'INVALID_REQUEST', 400, '/v1/topics/trim/partitions/0', { offset: -2 }],
    ['no offset', 'INVALID_REQUEST', 400, '/v1/topics/trim/partitions/0', {}],
  ] as const)('refuses %s with %s (%i)', async (_what, code, status, path, body) => {
    await call('POST', '/v1/topics', { name: 'trim', partitions: 1 });
    const res = await call('POST', `${path}/delete-records`, body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(errorBodyOf(code));
  });
});

describe('GET /v1/topics/:name/partitions/:partition', () => {
  it('given records produced over gRPC, then it shows the partition stats and its offsets', async () => {
    await call('POST', '/v1/topics', { name: 'stats', partitions: 2 });
    await b.call('Produce', {
      partitions: [
        { topic: 'stats', partition: 1, records: ['a', 'b', 'c'].map((v) => ({ value: Buffer.from(v) })) },
      ],
    });
    const res = await call('GET', '/v1/topics/stats/partitions/1');
    expect(res).toMatchObject({
      status: 200,
      body: {
        partition: 1,
        leader: 0,
        replicas: [0],
        logStartOffset: 0,
        highWatermark: 3,
        logEndOffset: 3,
        segments: 1,
        earliestOffset: 0,
        latestOffset: 3,
      },
    });
    expect((res.body as { sizeBytes: number }).sizeBytes).toBeGreaterThan(61);
  });

  it.each([
    ['an unknown partition', 'UNKNOWN_TOPIC_OR_PARTITION', 404, '/v1/topics/stats/partitions/9'],
    ['an unknown topic', 'UNKNOWN_TOPIC_OR_PARTITION', 404, '/v1/topics/nope/partitions/0'],
    ['a partition that is not a number', 'INVALID_REQUEST', 400, '/v1/topics/stats/partitions/one'],
    ['a negative partition', 'INVALID_REQUEST', 400, '/v1/topics/stats/partitions/-1'],
  ] as const)('refuses %s with %s (%i)', async (_what, code, status, path) => {
    await call('POST', '/v1/topics', { name: 'stats', partitions: 2 });
    const res = await call('GET', path);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(errorBodyOf(code));
  });

  it('does not create a topic even when the broker auto-creates topics', async () => {
    const auto = await startTestBroker({ autoCreateTopics: true });
    try {
      const res = await http(auto.running.httpAddress, 'GET', '/v1/topics/ghost/partitions/0');
      expect(res.status).toBe(404);
      expect(auto.running.broker.listTopics(true)).toEqual([]);
    } finally {
      await auto.close();
      removeDir(auto.dataDir);
    }
  });
});

describe('DELETE /v1/topics/:name', () => {
  it('deletes a topic: 204, then it is gone', async () => {
    await call('POST', '/v1/topics', { name: 'doomed', partitions: 2 });
    const res = await call('DELETE', '/v1/topics/doomed');
    expect(res).toMatchObject({ status: 204, body: null });
    expect((await call('GET', '/v1/topics/doomed')).status).toBe(404);
  });

  it('answers 404 for an unknown topic and 400 for an invalid name', async () => {
    const res = await call('DELETE', '/v1/topics/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorBodyOf('UNKNOWN_TOPIC_OR_PARTITION'));
    expect(errorOf(await call('DELETE', '/v1/topics/a%2Fb'))).toBe('INVALID_TOPIC_EXCEPTION');
  });
});

describe('unknown routes', () => {
  it.each([
    ['GET', '/v1/nothing'],
    ['PUT', '/v1/topics'],
    ['GET', '/'],
  ])('%s %s is 404 INVALID_REQUEST, not an unknown topic', async (method, path) => {
    const res = await call(method, path);
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorBodyOf('INVALID_REQUEST'));
  });
});
