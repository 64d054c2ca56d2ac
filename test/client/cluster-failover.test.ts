// The SDK against a real cluster: three brokers with peers in this process, a topic replicated on
// all three, clients bootstrapped with every address. Given records flowing through a producer and
// a consumer, when the broker leading a partition stops, then both carry on through the new
// leader, and every record is read once, in order per partition: none lost, none twice. Given a
// group member, when its coordinator's broker stops, then it finds the next coordinator, reads on
// and commits there.

import { afterEach, describe, expect, it } from 'vitest';
import {
  Admin,
  Consumer,
  GroupConsumer,
  Producer,
  isWeirError,
  type ConsumerRecord,
} from '../../client/index.js';
import { TestCluster } from '../broker/cluster-support.js';
import { uniqueTopic, within } from './helpers.js';

let cluster: TestCluster | null = null;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await cluster?.close();
  cluster = null;
});

/** Every partition's leader, once each has one. */
async function leaders(admin: Admin, topic: string, partitions: number): Promise<number[]> {
  for (const deadline = Date.now() + 30_000; ;) {
    const meta = await admin.metadata([topic]).catch(() => null);
    const found = meta?.topics[0]?.partitions.map((p) => p.leader) ?? [];
    if (found.length === partitions && found.every((l) => l > 0)) return found;
    if (Date.now() > deadline) throw new Error(`no leaders for ${topic}: ${JSON.stringify(found)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a replicated topic on three brokers', () => {
  it('keeps producing and consuming through a leader that stops: nothing lost, nothing twice', async () => {
    cluster = await TestCluster.start(3, { grpcPort: 0, httpPort: 0 }, 'client-failover');
    await cluster.registered();
    const bootstrap = cluster.running.map((b) => b.grpcAddress);
    const admin = new Admin({ bootstrap });
    closers.push(() => admin.close());
    const topic = uniqueTopic('failover');
    await admin.createTopic(topic, { partitions: 3, replicationFactor: 3 });
    const before = await leaders(admin, topic, 3);

    const consumer = new Consumer({ bootstrap, autoOffsetReset: 'earliest', retryBackoffMs: 50 });
    closers.push(() => consumer.close());
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition })));
    const total = 600;
    const read: ConsumerRecord[] = [];
    const reading = within(
      (async () => {
        for await (const record of consumer) {
          read.push(record);
          if (read.length >= total) break;
        }
      })(),
      90_000,
      `reading ${total} records`,
    );
    const producer = new Producer({ bootstrap, lingerMs: 2, retryBackoffMs: 50, acks: 'all' });
    closers.push(() => producer.close());

    const victim = before[0]!;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i += 10) {
      const records = Array.from({ length: 10 }, (_, k) => ({ value: `v${i + k}`, partition: (i + k) % 3 }));
      sends.push(producer.send({ topic, records }));
      if (i === 200) void cluster.stop(victim); // the leader of partition 0, with requests in flight
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await within(Promise.all(sends), 90_000, 'every send');
    await reading;

    const after = await leaders(admin, topic, 3);
    expect(after[0]).not.toBe(victim);
    const byPartition = new Map<number, string[]>();
    for (const r of read)
      byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.value!.toString()]);
    const expected = new Map<number, string[]>();
    for (let i = 0; i < total; i++) expected.set(i % 3, [...(expected.get(i % 3) ?? []), `v${i}`]);
    expect(byPartition).toEqual(expected);
    // Offsets rise within each partition (a new leader's term may leave a gap, never a step back).
    for (const records of [0, 1, 2].map((p) => read.filter((r) => r.partition === p))) {
      for (let i = 1; i < records.length; i++)
        expect(records[i]!.offset).toBeGreaterThan(records[i - 1]!.offset);
    }
  }, 120_000);

  it('keeps a group member consuming and committing when its coordinator stops', async () => {
    cluster = await TestCluster.start(
      3,
      {
        grpcPort: 0,
        httpPort: 0,
        groupHeartbeatIntervalMs: 100,
        groupMinSessionTimeoutMs: 100,
        groupSessionTimeoutMs: 10_000,
      },
      'client-group-failover',
    );
    await cluster.registered();
    const bootstrap = cluster.running.map((b) => b.grpcAddress);
    const admin = new Admin({ bootstrap });
    closers.push(() => admin.close());
    const topic = uniqueTopic('group-failover');
    await admin.createTopic(topic, { partitions: 2, replicationFactor: 3 });
    await leaders(admin, topic, 2);
    const producer = new Producer({ bootstrap, lingerMs: 0, retryBackoffMs: 50 });
    closers.push(() => producer.close());
    const send = (from: number): Promise<unknown> =>
      producer.send({
        topic,
        records: Array.from({ length: 20 }, (_, i) => ({ value: `v${from + i}`, partition: i % 2 })),
      });
    const groupId = uniqueTopic('group');
    const group = new GroupConsumer({
      bootstrap,
      groupId,
      topics: [topic],
      autoOffsetReset: 'earliest',
      retryBackoffMs: 50,
      retryBackoffMaxMs: 500,
    });
    closers.push(() => group.close());
    const iterator = group[Symbol.asyncIterator]();
    const seen = new Set<string>();
    const readUntil = async (want: number): Promise<void> => {
      while (seen.size < want) {
        const r = await within(iterator.next(), 60_000, `record ${seen.size + 1} of ${want}`);
        seen.add((r.value as ConsumerRecord).value!.toString());
      }
    };

    await send(0);
    await readUntil(20);
    await group.commit();
    const before = (await admin.findCoordinator(groupId)).coordinator.nodeId;
    await cluster.stop(before);

    await send(20);
    await readUntil(40);
    // The new coordinator may not know the member (UNKNOWN_MEMBER_ID): it rejoins, as a Kafka
    // member does, and a commit goes through once it is back in the group.
    await within(
      (async () => {
        for (;;) {
          try {
            return await group.commit();
          } catch (err) {
            if (!isWeirError(err, 'UNKNOWN_MEMBER_ID') && !isWeirError(err, 'FENCED_MEMBER_EPOCH')) throw err;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      })(),
      30_000,
      'a commit at the new coordinator',
    );
    const after = (await admin.findCoordinator(groupId)).coordinator.nodeId;
    expect(after).not.toBe(before);
    expect([...seen].sort()).toEqual(Array.from({ length: 40 }, (_, i) => `v${i}`).sort());
    // What was committed before the stop is still there (every record read counts as consumed
    // but the last, whose loop body has not finished).
    const committed = await admin.fetchOffsets(
      groupId,
      [0, 1].map((partition) => ({ topic, partition })),
    );
    expect(committed.reduce((sum, c) => sum + c.offset, 0)).toBeGreaterThanOrEqual(19);
  }, 120_000);
});
