// Given a real broker, Admin: the topic lifecycle (create, describe, list, alter configs, add
// partitions, delete), offsets by position and time, cluster metadata, and every refusal as a
// WeirError with the error table's code.

import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Connection, Producer, isWeirError } from '../../client/index.js';
import { startTestBroker, uniqueTopic, type TestBroker } from './helpers.js';

let broker: TestBroker;
let admin: Admin;

beforeAll(async () => {
  broker = await startTestBroker();
  admin = new Admin({ bootstrap: broker.bootstrap });
});

afterAll(async () => {
  await admin?.close();
  await broker?.close();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  return isWeirError(err) ? err.code : String(err);
}

describe('topic lifecycle', () => {
  it('creates, describes, lists, alters, grows and deletes a topic', async () => {
    const name = uniqueTopic('admin');
    const created = await admin.createTopic(name, { partitions: 2, configs: { 'retention.ms': 3_600_000 } });
    expect(created).toMatchObject({ name, internal: false, replicationFactor: 1 });
    expect(created.partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect(created.overrides).toEqual({ 'retention.ms': '3600000' });
    expect(created.configs['retention.ms']).toBe('3600000');
    expect(created.configs['cleanup.policy']).toBe('delete');

    expect(await admin.listTopics()).toContainEqual({ name, partitions: 2, internal: false });

    const altered = await admin.alterTopicConfig(name, {
      set: { 'cleanup.policy': 'compact' },
      delete: ['retention.ms'],
    });
    expect(altered.overrides).toEqual({ 'cleanup.policy': 'compact' });
    expect((await admin.describeTopic(name)).configs['cleanup.policy']).toBe('compact');

    const grown = await admin.createPartitions(name, 5);
    expect(grown.partitions).toHaveLength(5);
    const metadata = await admin.metadata([name]);
    expect(metadata.topics).toEqual([
      expect.objectContaining({
        name,
        error: null,
        partitions: expect.arrayContaining([expect.objectContaining({ partition: 4 })]),
      }),
    ]);

    await admin.deleteTopic(name);
    expect(await codeOf(admin.describeTopic(name))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await admin.listTopics()).map((t) => t.name)).not.toContain(name);
  });

  it('validates without creating when asked to', async () => {
    const name = uniqueTopic('dry');
    await admin.createTopic(name, { partitions: 3, validateOnly: true });
    expect(await codeOf(admin.describeTopic(name))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('describes partitions with their offsets, and lists offsets by position and time', async () => {
    const name = uniqueTopic('offsets');
    await admin.createTopic(name, { partitions: 2 });
    const producer = new Producer({ connection: admin.connection });
    const t0 = 1_700_000_000_000;
    await producer.send({
      topic: name,
      records: Array.from({ length: 6 }, (_, i) => ({ value: `${i}`, partition: 1, timestamp: t0 + i * 10 })),
    });
    await producer.close();
    const description = await admin.describeTopic(name);
    expect(description.partitions[1]).toMatchObject({ logStartOffset: 0, highWatermark: 6, logEndOffset: 6 });
    expect(description.partitions[1]!.sizeBytes).toBeGreaterThan(0);
    const tps = [0, 1].map((partition) => ({ topic: name, partition }));
    expect((await admin.listOffsets(tps, 'earliest')).map((o) => o.offset)).toEqual([0, 0]);
    expect((await admin.listOffsets(tps, 'latest')).map((o) => o.offset)).toEqual([0, 6]);
    const byTime = await admin.listOffsets([tps[1]!], { timestamp: t0 + 25 });
    expect(byTime[0]!.offset).toBe(3);
    expect((await admin.listOffsets([tps[1]!], { timestamp: new Date(t0 + 1000) }))[0]!.offset).toBe(-1);
  });

  it('answers cluster metadata with this broker', async () => {
    const metadata = await admin.metadata();
    expect(metadata.brokers).toHaveLength(1);
    expect(`${metadata.brokers[0]!.host}:${metadata.brokers[0]!.grpcPort}`).toBe(broker.bootstrap);
    expect(metadata.controllerId).toBe(metadata.brokers[0]!.nodeId);
    expect(metadata.clusterId).not.toBe('');
    const missing = await admin.metadata([uniqueTopic('missing')]);
    expect(missing.topics[0]!.error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('refusals', () => {
  it('maps each refusal to its code', async () => {
    const name = uniqueTopic('dup');
    await admin.createTopic(name, { partitions: 1 });
    expect(await codeOf(admin.createTopic(name, { partitions: 1 }))).toBe('TOPIC_ALREADY_EXISTS');
    expect(await codeOf(admin.createTopic('bad/name', { partitions: 1 }))).toBe('INVALID_TOPIC_EXCEPTION');
    expect(await codeOf(admin.createTopic(uniqueTopic('p'), { partitions: 0 }))).toBe('INVALID_PARTITIONS');
    expect(await codeOf(admin.createTopic(uniqueTopic('rf'), { partitions: 1, replicationFactor: 3 }))).toBe(
      'INVALID_REPLICATION_FACTOR',
    );
    expect(
      await codeOf(admin.createTopic(uniqueTopic('cfg'), { partitions: 1, configs: { 'no.such.key': 1 } })),
    ).toBe('INVALID_CONFIG');
    expect(await codeOf(admin.alterTopicConfig(name, { set: { 'retention.ms': 'soon' } }))).toBe(
      'INVALID_CONFIG',
    );
    expect(await codeOf(admin.createPartitions(name, 1))).toBe('INVALID_PARTITIONS');
    expect(await codeOf(admin.deleteTopic(uniqueTopic('gone')))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(await codeOf(admin.listOffsets([{ topic: uniqueTopic('gone'), partition: 0 }], 'latest'))).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
    expect(await codeOf(admin.listOffsets([{ topic: name, partition: 9 }], 'latest'))).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
  });

  it('reports an unreachable broker as a retriable NETWORK_EXCEPTION within the deadline', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const unreachable = new Admin({ bootstrap: `127.0.0.1:${port}`, requestTimeoutMs: 3000 });
    try {
      const err = await unreachable.listTopics().catch((e: unknown) => e);
      expect(isWeirError(err, 'NETWORK_EXCEPTION')).toBe(true);
      expect((err as { retriable: boolean }).retriable).toBe(true);
    } finally {
      await unreachable.close();
    }
  });

  it('shares one connection between clients and leaves it open for its owner', async () => {
    const connection = new Connection({ bootstrap: broker.bootstrap });
    const a = new Admin({ connection });
    const b = new Admin({ connection });
    await a.close();
    expect(Array.isArray(await b.listTopics())).toBe(true);
    connection.close();
    expect(await codeOf(b.listTopics())).toBe('REQUEST_CANCELLED');
  });
});
