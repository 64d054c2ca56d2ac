// Where the SDK sends each call, over real gRPC: three nodes (proxy-cluster.ts) in front of one
// real broker say who leads each partition and coordinates each group, refuse what they do not
// lead, and can die. Given a leader table, when clients produce, fetch, join a group or
// administer, then every call lands where it belongs, and when a leader moves or dies the clients
// follow it with nothing lost and nothing doubled.

import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, GroupConsumer, Producer, type ConsumerRecord } from '../../client/index.js';
import { GROUP_BROKER_CONFIG } from './group-helpers.js';
import { startTestBroker, uniqueTopic, waitFor, within, type TestBroker } from './helpers.js';
import { ProxyCluster } from './proxy-cluster.js';

let broker: TestBroker;
let cluster: ProxyCluster;
const closers: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  broker = await startTestBroker({ ...GROUP_BROKER_CONFIG, logLevel: 'silent' });
  cluster = await ProxyCluster.start(broker.bootstrap, 3);
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  cluster.close();
  await broker.close();
});

function track<T extends { close(): Promise<void> | void }>(client: T): T {
  closers.push(() => client.close());
  return client;
}

/** A loopback port nothing listens on (bound, then released). */
async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

async function createTopic(partitions: number): Promise<string> {
  const topic = uniqueTopic('route');
  const admin = new Admin({ bootstrap: broker.bootstrap });
  await admin.createTopic(topic, { partitions });
  await admin.close();
  return topic;
}

/** Reads until `count` records came (or fails after `ms`). */
async function take(
  source: AsyncIterable<ConsumerRecord>,
  count: number,
  ms = 20_000,
): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  if (count === 0) return out;
  await within(
    (async () => {
      for await (const record of source) {
        out.push(record);
        if (out.length >= count) break;
      }
    })(),
    ms,
    `reading ${count} records`,
  );
  return out;
}

/** Every call of this kind carried only partitions its node leads (per the table now). */
function expectAllAtLeaders(rpc: string, topic: string): void {
  const calls = cluster.callsOf(rpc).filter((c) => c.partitions.some((tp) => tp.startsWith(topic)));
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) {
    for (const tp of call.partitions) {
      const partition = Number(tp.slice(tp.lastIndexOf('-') + 1));
      expect({ rpc, tp, node: call.node }).toEqual({ rpc, tp, node: cluster.leaderOf(topic, partition) });
    }
  }
}

/** Values per partition, as read. */
function byPartition(records: ConsumerRecord[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const r of records) {
    const list = out.get(r.partition) ?? [];
    list.push(r.value!.toString());
    out.set(r.partition, list);
  }
  return out;
}

describe('bootstrap', () => {
  it('tries the addresses in order until one answers, and learns every broker from it', async () => {
    const dead = await deadAddress();
    const admin = track(new Admin({ bootstrap: [dead, cluster.node(2).address, cluster.node(3).address] }));
    const metadata = await admin.metadata();
    expect(metadata.brokers.map((b) => b.nodeId)).toEqual([1, 2, 3]);
    expect(cluster.callsOf('GetMetadata').map((c) => c.node)).toEqual([2]);

    const fromString = track(new Admin({ bootstrap: `${dead},${cluster.node(3).address}` }));
    await fromString.listTopics();
    expect(cluster.callsOf('ListTopics').map((c) => c.node)).toEqual([3]);
  });

  it('fails with NETWORK_EXCEPTION when no address answers', async () => {
    const admin = track(new Admin({ bootstrap: [await deadAddress(), await deadAddress()] }));
    await expect(admin.metadata()).rejects.toMatchObject({ code: 'NETWORK_EXCEPTION' });
  });
});

describe('routing by leader', () => {
  it('sends each partition to its leader: produce, fetch and list offsets', async () => {
    const topic = await createTopic(3);
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 5 }));
    const records = Array.from({ length: 30 }, (_, i) => ({ value: `v${i}`, partition: i % 3 }));
    const results = await producer.send({ topic, records });
    expect(results.map((r) => r.partition)).toEqual(records.map((r) => r.partition));
    expectAllAtLeaders('Produce', topic);
    expect(new Set(cluster.callsOf('Produce').map((c) => c.node))).toEqual(new Set([1, 2, 3]));

    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap, autoOffsetReset: 'earliest' }));
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition })));
    const read = await take(consumer, 30);
    const expected = new Map(
      [0, 1, 2].map((p) => [p, records.filter((r) => r.partition === p).map((r) => r.value)]),
    );
    expect(byPartition(read)).toEqual(expected);
    expectAllAtLeaders('Fetch', topic);
    expectAllAtLeaders('ListOffsets', topic);
  });

  it('resends a batch refused by a deposed leader to the new one, with the same producer id and sequence', async () => {
    const topic = await createTopic(1);
    cluster.setLeader(topic, 0, 1);
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 0, retryBackoffMs: 10 }));
    for (let i = 0; i < 3; i++) await producer.send({ topic, value: `before-${i}` });

    cluster.setLeader(topic, 0, 2);
    for (let i = 0; i < 3; i++) await producer.send({ topic, value: `after-${i}` });

    const refused = cluster.callsOf('Produce', 1).flatMap((c) => c.batches.filter((b) => !b.led));
    expect(refused.length).toBeGreaterThan(0);
    const taken = cluster.callsOf('Produce', 2).flatMap((c) => c.batches.filter((b) => b.led));
    for (const batch of refused) {
      expect(batch.producerId).toBeGreaterThanOrEqual(0);
      const resent = taken.find(
        (b) => b.producerId === batch.producerId && b.baseSequence === batch.baseSequence,
      );
      expect(resent?.bytes.equals(batch.bytes)).toBe(true);
    }

    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap, autoOffsetReset: 'earliest' }));
    consumer.assign([{ topic, partition: 0 }]);
    const read = await take(consumer, 6);
    expect(read.map((r) => r.value!.toString())).toEqual([
      'before-0',
      'before-1',
      'before-2',
      'after-0',
      'after-1',
      'after-2',
    ]);
    expect(read.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('holds batches of a partition without a leader until one is elected', async () => {
    const topic = await createTopic(2);
    cluster.setLeader(topic, 0, -1);
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 0, retryBackoffMs: 20 }));
    const waiting = producer.send({ topic, value: 'elected', partition: 0 });
    await producer.send({ topic, value: 'other', partition: 1 }); // not held up by partition 0
    await waitFor(() => cluster.callsOf('GetMetadata').length >= 3, 'metadata asked again');
    expect(cluster.calls.some((c) => c.partitions.includes(`${topic}-0`))).toBe(false);
    cluster.setLeader(topic, 0, 3);
    expect(await within(waiting, 10_000, 'the held send')).toMatchObject({ partition: 0, offset: 0 });
    expectAllAtLeaders('Produce', topic);
  });

  it('follows a partition whose leader moves while it is being consumed', async () => {
    const topic = await createTopic(1);
    cluster.setLeader(topic, 0, 1);
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 0 }));
    const consumer = track(
      new Consumer({
        bootstrap: cluster.bootstrap,
        autoOffsetReset: 'earliest',
        retryBackoffMs: 20,
        maxWaitMs: 100,
      }),
    );
    consumer.assign([{ topic, partition: 0 }]);
    const iterator = consumer[Symbol.asyncIterator]();
    const next = async (): Promise<string> =>
      (await within(iterator.next(), 10_000, 'the next record')).value!.value!.toString();
    await producer.send({ topic, value: 'at-1' });
    expect(await next()).toBe('at-1');
    cluster.setLeader(topic, 0, 3);
    await producer.send({ topic, value: 'at-3' });
    expect(await next()).toBe('at-3');
    const fetches = cluster.callsOf('Fetch').filter((c) => c.partitions.includes(`${topic}-0`));
    expect(fetches.at(-1)?.node).toBe(3);
    expect(fetches.some((c) => c.node === 1)).toBe(true);
  });

  it("fetches again from a leader that answered without waiting for another's long-poll", async () => {
    const topic = await createTopic(2); // partition 0 led by node 1, partition 1 by node 2
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 0 }));
    // Node 2 holds its long-poll for 30 s: partition 1 gets nothing.
    const consumer = track(
      new Consumer({ bootstrap: cluster.bootstrap, autoOffsetReset: 'earliest', maxWaitMs: 30_000 }),
    );
    consumer.assign([0, 1].map((partition) => ({ topic, partition })));
    const iterator = consumer[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) {
      await producer.send({ topic, value: `r${i}`, partition: 0 });
      const got = await within(iterator.next(), 10_000, `record ${i} while node 2 holds its fetch`);
      expect(got.value?.value?.toString()).toBe(`r${i}`);
    }
    expect(cluster.callsOf('Fetch', 1).length).toBeGreaterThanOrEqual(3);
  });

  it('keeps producing and consuming when a leader dies, with nothing lost and nothing twice', async () => {
    const topic = await createTopic(3);
    const consumer = track(
      new Consumer({ bootstrap: cluster.bootstrap, autoOffsetReset: 'earliest', retryBackoffMs: 20 }),
    );
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition })));
    const total = 300;
    const reading = take(consumer, total, 60_000);
    const producer = track(
      new Producer({ bootstrap: cluster.bootstrap, lingerMs: 2, retryBackoffMs: 20, maxInFlight: 5 }),
    );
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i += 10) {
      const records = Array.from({ length: 10 }, (_, k) => ({ value: `v${i + k}`, partition: (i + k) % 3 }));
      sends.push(producer.send({ topic, records }));
      if (i === 100) {
        // Node 1 (leader of partition 0, first bootstrap address) dies with requests in flight.
        cluster.node(1).stop();
        cluster.setLeader(topic, 0, 2);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await within(Promise.all(sends), 60_000, 'every send');
    const read = await reading;
    const expected = new Map<number, string[]>();
    for (let i = 0; i < total; i++) {
      const list = expected.get(i % 3) ?? [];
      list.push(`v${i}`);
      expected.set(i % 3, list);
    }
    expect(byPartition(read)).toEqual(expected);
    // After the death, partition 0 went to node 2 only.
    const afterwards = cluster.callsOf('Produce', 2).filter((c) => c.partitions.includes(`${topic}-0`));
    expect(afterwards.length).toBeGreaterThan(0);
  });
});

describe('the group coordinator', () => {
  it('sends group calls to the coordinator and finds the new one when it moves or dies', async () => {
    const topic = await createTopic(2);
    const groupId = uniqueTopic('group');
    cluster.setCoordinator(groupId, 2);
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 0 }));
    const send = (from: number): Promise<unknown> =>
      producer.send({
        topic,
        records: Array.from({ length: 10 }, (_, i) => ({ value: `v${from + i}`, partition: i % 2 })),
      });
    await send(0);
    const group = track(
      new GroupConsumer({
        bootstrap: cluster.bootstrap,
        groupId,
        topics: [topic],
        autoOffsetReset: 'earliest',
        retryBackoffMs: 20,
        retryBackoffMaxMs: 100,
      }),
    );
    const iterator = group[Symbol.asyncIterator]();
    const next = async (n: number): Promise<string[]> => {
      const out: string[] = [];
      while (out.length < n) {
        const r = await within(iterator.next(), 20_000, 'the next group record');
        out.push((r.value as ConsumerRecord).value!.toString());
      }
      return out;
    };
    expect((await next(10)).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`).sort());
    const beats = (): { node: number }[] =>
      cluster.callsOf('GroupHeartbeat').filter((c) => c.groupId === groupId);
    expect(new Set(beats().map((c) => c.node))).toEqual(new Set([2]));

    // Moved: node 2 answers NOT_COORDINATOR, and the member asks again.
    cluster.setCoordinator(groupId, 3);
    await waitFor(() => beats().some((c) => c.node === 3), 'a heartbeat at node 3');
    // Died: the connection drops, and the member finds node 1.
    cluster.setCoordinator(groupId, 1);
    cluster.node(3).stop();
    await waitFor(() => beats().some((c) => c.node === 1), 'a heartbeat at node 1');

    await send(10);
    expect((await next(10)).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `v${10 + i}`).sort());
    await group.commit();
    const commits = cluster.callsOf('OffsetCommit').filter((c) => c.groupId === groupId);
    expect(commits.at(-1)?.node).toBe(1);
    expect(
      cluster.callsOf('FindCoordinator').filter((c) => c.groupId === groupId).length,
    ).toBeGreaterThanOrEqual(3);
  });

  it("admin group calls go to the group's coordinator", async () => {
    const groupId = uniqueTopic('group');
    cluster.setCoordinator(groupId, 3);
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    await expect(admin.describeGroup(groupId)).rejects.toMatchObject({ code: 'GROUP_ID_NOT_FOUND' });
    expect(cluster.callsOf('DescribeGroup').map((c) => c.node)).toEqual([3]);
  });
});

describe('listing groups', () => {
  it("merges every broker's groups, leaving out a broker that cannot be reached", async () => {
    const topic = await createTopic(1);
    const groups = [1, 2].map((node) => {
      const groupId = uniqueTopic(`listed-${node}`);
      cluster.setCoordinator(groupId, node);
      return groupId;
    });
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    for (const groupId of groups) {
      await admin.commitOffsets(groupId, [{ topic, partition: 0, offset: 0 }]);
    }
    const listed = (await admin.listGroups()).map((g) => g.groupId);
    for (const groupId of groups) expect(listed).toContain(groupId);
    expect(new Set(cluster.callsOf('ListGroups').map((c) => c.node))).toEqual(new Set([1, 2, 3]));

    // Node 3 dies but is still named (not fenced yet): it cannot be reached and is left out.
    cluster.listStopped = true;
    cluster.node(3).stop();
    const again = (await admin.listGroups()).map((g) => g.groupId);
    for (const groupId of groups) expect(again).toContain(groupId);
  });
});

describe('admin', () => {
  it('goes to any broker and moves on to another when it cannot reach the one it used', async () => {
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    const topic = uniqueTopic('admin');
    await admin.createTopic(topic, { partitions: 1 });
    expect(cluster.callsOf('CreateTopic').map((c) => c.node)).toEqual([1]);
    cluster.node(1).stop();
    expect((await admin.listTopics()).map((t) => t.name)).toContain(topic);
    expect(cluster.callsOf('ListTopics').map((c) => c.node)).toEqual([2]);
  });

  it('asks each partition leader for offsets', async () => {
    const topic = await createTopic(3);
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    const offsets = await admin.listOffsets(
      [0, 1, 2].map((partition) => ({ topic, partition })),
      'latest',
    );
    expect(offsets.map((o) => o.offset)).toEqual([0, 0, 0]);
    expectAllAtLeaders('ListOffsets', topic);
  });
});

describe('a cluster of one broker', () => {
  it('is reached at the address the client was given, whatever host it advertises', async () => {
    const lone = await startTestBroker({
      host: '0.0.0.0',
      advertisedHost: 'nowhere.invalid',
      logLevel: 'silent',
    });
    closers.push(() => lone.close());
    const port = Number(lone.running.grpcAddress.split(':').at(-1));
    const bootstrap = `127.0.0.1:${port}`;
    const admin = track(new Admin({ bootstrap }));
    const topic = uniqueTopic('lone');
    await admin.createTopic(topic, { partitions: 2 });
    expect((await admin.metadata([topic])).brokers.map((b) => b.host)).toEqual(['nowhere.invalid']);
    const producer = track(new Producer({ bootstrap, lingerMs: 0, deliveryTimeoutMs: 10_000 }));
    await producer.send({
      topic,
      records: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 1 },
      ],
    });
    const consumer = track(new Consumer({ bootstrap, autoOffsetReset: 'earliest' }));
    consumer.assign([0, 1].map((partition) => ({ topic, partition })));
    expect((await take(consumer, 2)).map((r) => r.value!.toString()).sort()).toEqual(['a', 'b']);
  });
});
