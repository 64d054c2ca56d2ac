// Moving a partition between brokers of a real three-broker cluster (weir topic reassign, or the
// SDK's reassignPartitions): the controller records the move, the partition's leader adds the new
// replica as a learner, promotes it once caught up, hands its leadership over and is removed; the
// broker left out deletes its copy. Given a producer writing with acks=all all the while, then
// every acknowledged record is read back once, in order, from the replicas the move left.

import { existsSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, isWeirError, type TopicDescription } from '../../client/index.js';
import { TestCluster, until } from '../broker/cluster-support.js';
import { uniqueTopic, within } from './helpers.js';

let cluster: TestCluster | null = null;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await cluster?.close();
  cluster = null;
});

async function describeUntil(
  admin: Admin,
  topic: string,
  what: string,
  done: (t: TopicDescription) => boolean,
): Promise<TopicDescription> {
  for (const deadline = Date.now() + 60_000; ;) {
    const t = await admin.describeTopic(topic).catch(() => null);
    if (t !== null && done(t)) return t;
    if (Date.now() > deadline) throw new Error(`${topic}: ${what}: still ${JSON.stringify(t?.partitions)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A three-broker cluster and an admin bootstrapped with every broker. */
async function started(name: string): Promise<{ c: TestCluster; bootstrap: string[]; admin: Admin }> {
  const c = await TestCluster.start(3, { grpcPort: 0, httpPort: 0 }, name);
  cluster = c;
  await c.registered();
  const bootstrap = c.running.map((b) => b.grpcAddress);
  const admin = new Admin({ bootstrap });
  closers.push(() => admin.close());
  return { c, bootstrap, admin };
}

/** The values of partition 0 of `topic` from its start, `count` of them. */
async function readBack(bootstrap: string[], topic: string, count: number): Promise<string[]> {
  const consumer = new Consumer({ bootstrap, autoOffsetReset: 'earliest', retryBackoffMs: 50 });
  closers.push(() => consumer.close());
  consumer.assign([{ topic, partition: 0 }]);
  const read: string[] = [];
  await within(
    (async () => {
      for await (const record of consumer) {
        read.push(record.value!.toString());
        if (read.length >= count) break;
      }
    })(),
    60_000,
    `reading ${count} records`,
  );
  return read;
}

describe('reassigning a partition', () => {
  it('moves it off its leader under acks=all produce: nothing acknowledged lost, the old copy deleted', async () => {
    const { c, bootstrap, admin } = await started('reassign');
    const topic = uniqueTopic('moving');
    await admin.createTopic(topic, { partitions: 1, replicationFactor: 2 });
    // The preferred leader leads once the balancer settles; the move takes it out.
    const placed = await describeUntil(admin, topic, 'a leader', (t) => t.partitions[0]!.leader > 0);
    const from = placed.partitions[0]!.replicas;
    const leaving = from[0]!;
    const staying = from[1]!;
    const newcomer = [1, 2, 3].find((id) => !from.includes(id))!;
    const target = [newcomer, staying];

    const producer = new Producer({ bootstrap, lingerMs: 1, retryBackoffMs: 50, acks: 'all' });
    closers.push(() => producer.close());
    const sent: string[] = [];
    const sends: Promise<unknown>[] = [];
    let producing = true;
    const writer = (async () => {
      for (let i = 0; producing || i < 100; i++) {
        const value = `r${i}`;
        sent.push(value);
        sends.push(producer.send({ topic, partition: 0, value }));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    await until(
      'records before the move',
      () => sent.length,
      (n) => n >= 100,
    );
    await admin.reassignPartitions(topic, [{ partition: 0, replicas: target }]);
    const moving = await admin.describeTopic(topic);
    // Either still moving (adding the newcomer, removing the leaver) or already done.
    const p0 = moving.partitions[0]!;
    if (p0.addingReplicas.length > 0) {
      expect(p0.addingReplicas).toEqual([newcomer]);
      expect(p0.removingReplicas).toEqual([leaving]);
      expect([...p0.replicas].sort()).toEqual([1, 2, 3]);
    }
    // A second move of a partition in flight is refused.
    const again = await admin
      .reassignPartitions(topic, [{ partition: 0, replicas: from }])
      .catch((e: unknown) => e);
    expect(isWeirError(again, 'REASSIGNMENT_IN_PROGRESS') || p0.addingReplicas.length === 0).toBe(true);

    const done = await describeUntil(
      admin,
      topic,
      'the move done',
      (t) =>
        t.partitions[0]!.addingReplicas.length === 0 &&
        t.partitions[0]!.removingReplicas.length === 0 &&
        t.partitions[0]!.replicas.join() === target.join(),
    );
    expect(done.partitions[0]!.replicas).toEqual(target);
    producing = false;
    await writer;
    await within(Promise.all(sends), 60_000, 'every send');

    // The broker left out stops serving the partition and deletes its directory.
    const dataDir = c.dataDirs[leaving - 1]!;
    await until(
      'the old copy deleted',
      () => ({
        served: c.node(leaving).broker.find(topic, 0) !== undefined,
        dirs: readdirSync(dataDir).filter((d) => d.startsWith(`${topic}-0`)),
      }),
      (v) => !v.served && v.dirs.length === 0,
    );
    expect(existsSync(dataDir)).toBe(true);
    expect(c.node(newcomer).broker.find(topic, 0)).toBeDefined();

    // Every acknowledged record, once, in order, from the brokers the move left.
    const read = await readBack(bootstrap, topic, sent.length);
    expect(read).toEqual(sent);

    // The partition takes writes on its new replicas, acknowledged by a majority of them.
    await producer.send({ topic, partition: 0, value: 'after' });
  }, 150_000);

  it('goes on after the leader stops mid-move and returns: the next leader reads the move from its log', async () => {
    const { c, bootstrap, admin } = await started('reassign-restart');
    const topic = uniqueTopic('moving');
    await admin.createTopic(topic, { partitions: 1, replicationFactor: 2 });
    const placed = await describeUntil(admin, topic, 'a leader', (t) => t.partitions[0]!.leader > 0);
    const from = placed.partitions[0]!.replicas;
    const newcomer = [1, 2, 3].find((id) => !from.includes(id))!;
    const producer = new Producer({ bootstrap, lingerMs: 1, retryBackoffMs: 50, acks: 'all' });
    closers.push(() => producer.close());
    const before = Array.from({ length: 200 }, (_, i) => `b${i}`);
    await within(
      Promise.all(before.map((value) => producer.send({ topic, partition: 0, value }))),
      60_000,
      'records before the move',
    );
    const leader = placed.partitions[0]!.leader;
    await admin.reassignPartitions(topic, [{ partition: 0, replicas: [newcomer, ...from] }]);
    await c.stop(leader);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await c.restart(leader);
    const done = await describeUntil(
      admin,
      topic,
      'the move done',
      (t) => t.partitions[0]!.addingReplicas.length === 0 && t.partitions[0]!.replicas.length === 3,
    );
    expect(done.partitions[0]!.replicas).toEqual([newcomer, ...from]);
    await producer.send({ topic, partition: 0, value: 'after' });
    const read = await readBack(bootstrap, topic, before.length + 1);
    expect(read).toEqual([...before, 'after']);
    // The newcomer holds the whole log too.
    await until(
      'the newcomer caught up',
      () => c.node(newcomer).broker.find(topic, 0)?.highWatermark ?? -1,
      (hw) => hw >= before.length + 1,
    );
  }, 150_000);

  it('refuses brokers that are not live, and partitions the topic does not have', async () => {
    const { admin } = await started('reassign-refusals');
    const topic = uniqueTopic('refused');
    await admin.createTopic(topic, { partitions: 1, replicationFactor: 2 });
    const refused = await admin
      .reassignPartitions(topic, [{ partition: 0, replicas: [1, 9] }])
      .catch((e: unknown) => e);
    expect(isWeirError(refused, 'INVALID_REPLICA_ASSIGNMENT')).toBe(true);
    expect((refused as Error).message).toContain('brokers 9 are not registered and live');
    const unknown = await admin
      .reassignPartitions(topic, [{ partition: 3, replicas: [1] }])
      .catch((e: unknown) => e);
    expect(isWeirError(unknown, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
    const t = await admin.describeTopic(topic);
    expect(t.partitions[0]!.addingReplicas).toEqual([]);
  }, 60_000);

  it('moves a partition of one replica to another broker, through a group of two', async () => {
    const { c, bootstrap, admin } = await started('reassign-single');
    const topic = uniqueTopic('single');
    await admin.createTopic(topic, { partitions: 1, replicationFactor: 1 });
    const placed = await describeUntil(admin, topic, 'a leader', (t) => t.partitions[0]!.leader > 0);
    const [from] = placed.partitions[0]!.replicas;
    const to = from === 3 ? 1 : from! + 1;
    const producer = new Producer({ bootstrap, lingerMs: 1, retryBackoffMs: 50, acks: 'all' });
    closers.push(() => producer.close());
    const values = Array.from({ length: 50 }, (_, i) => `s${i}`);
    await within(
      Promise.all(values.map((value) => producer.send({ topic, partition: 0, value }))),
      60_000,
      'records before the move',
    );
    await admin.reassignPartitions(topic, [{ partition: 0, replicas: [to] }]);
    await describeUntil(
      admin,
      topic,
      'the move done',
      (t) => t.partitions[0]!.addingReplicas.length === 0 && t.partitions[0]!.replicas.join() === `${to}`,
    );
    await until(
      'the old copy gone',
      () => c.node(from!).broker.find(topic, 0),
      (p) => p === undefined,
    );
    await producer.send({ topic, partition: 0, value: 'after' });
    const read = await readBack(bootstrap, topic, values.length + 1);
    expect(read).toEqual([...values, 'after']);
    // Restarted, the new replica leads at once: its group is of one again.
    await c.restart(to);
    await until(
      'the moved replica leading after a restart',
      () => c.node(to).broker.find(topic, 0)?.role,
      (role) => role === 'leader',
    );
  }, 120_000);
});
