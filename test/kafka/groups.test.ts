// Consumer groups on the Kafka listener with a Kafka client (kafkajs, which speaks the classic
// protocol): two members split a topic's partitions, their commits are the ones weir's own gRPC
// API describes, a member that leaves hands its partitions to the other, and a group started
// again (on a restarted broker too) resumes from what it committed.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { Admin } from '../../client/index.js';
import { describeText } from '../../client/cli/group-command.js';
import { uniqueTopic, waitFor } from '../client/helpers.js';

const PARTITIONS = 4;
let dataDir: string;
let running: RunningBroker;
let admin: Admin;

async function start(): Promise<void> {
  running = await startBroker({
    dataDir,
    grpcPort: 0,
    httpPort: 0,
    kafkaPort: 0,
    groupMinSessionTimeoutMs: 1000,
  });
  admin = new Admin({ bootstrap: running.grpcAddress });
}

async function stop(): Promise<void> {
  await admin?.close();
  await running?.close();
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'weir-kafka-groups-'));
  await start();
});

afterAll(async () => {
  await stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function kafka(): Kafka {
  return new Kafka({
    clientId: 'weir-groups-test',
    brokers: [running.kafkaAddress!],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
}

/** Produces `count` records spread over every partition, values `${prefix}-${i}`. */
async function produce(topic: string, prefix: string, count: number): Promise<void> {
  const producer = kafka().producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: Array.from({ length: count }, (_, i) => ({
        value: `${prefix}-${i}`,
        partition: i % PARTITIONS,
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** One member of a group: what it received, and its assignment after each rebalance. */
interface Member {
  readonly consumer: Consumer;
  readonly received: string[];
  /** The partitions of `topic` given in the latest generation joined. */
  assigned: number[];
  memberId: string;
}

async function member(groupId: string, topic: string): Promise<Member> {
  const consumer = kafka().consumer({
    groupId,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
    rebalanceTimeout: 10_000,
    maxWaitTimeInMs: 100,
  });
  const m: Member = { consumer, received: [], assigned: [], memberId: '' };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    m.assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort();
    m.memberId = e.payload.memberId;
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      m.received.push(message.value!.toString());
    },
  });
  return m;
}

/** The group's committed offset of each partition, through weir's own gRPC API. */
async function committed(groupId: string, topic: string): Promise<number[]> {
  const d = await admin.describeGroup(groupId);
  return Array.from(
    { length: PARTITIONS },
    (_, p) => d.offsets.find((o) => o.topic === topic && o.partition === p)?.committed ?? -1,
  );
}

describe('consumer groups on the Kafka listener', () => {
  it('splits partitions between two kafkajs members, commits through the coordinator, rebalances on leave and resumes from commits', async () => {
    const topic = uniqueTopic('kgroup');
    const groupId = `g-${topic}`;
    await admin.createTopic(topic, { partitions: PARTITIONS });
    await produce(topic, 'a', 40);

    // Given two members of one group.
    const one = await member(groupId, topic);
    const two = await member(groupId, topic);
    try {
      // Then they end up in one generation that splits the partitions between them.
      await waitFor(
        () =>
          one.assigned.length > 0 &&
          two.assigned.length > 0 &&
          one.assigned.length + two.assigned.length === PARTITIONS,
        'both members assigned',
        30_000,
      );
      expect([...one.assigned, ...two.assigned].sort()).toEqual([0, 1, 2, 3]);
      // ...everything is read once between them, and the commits show through weir's gRPC API.
      await waitFor(() => new Set([...one.received, ...two.received]).size === 40, 'all 40 read', 30_000);
      let offsets: number[] = [];
      for (let i = 0; i < 200 && offsets.join() !== '10,10,10,10'; i++) {
        offsets = await committed(groupId, topic);
        if (offsets.join() !== '10,10,10,10') await new Promise((r) => setTimeout(r, 100));
      }
      expect(offsets).toEqual([10, 10, 10, 10]);
      const d = await admin.describeGroup(groupId);
      expect(d.state).toBe('Stable');
      expect(d.members.map((m) => m.memberId).sort()).toEqual([one.memberId, two.memberId].sort());
      expect(d.offsets.every((o) => o.lag === 0)).toBe(true);
      const described = Object.fromEntries(
        d.members.map((m) => [m.memberId, m.assignment.map((tp) => tp.partition).sort()]),
      );
      expect(described[one.memberId]).toEqual(one.assigned);
      expect(described[two.memberId]).toEqual(two.assigned);
      // `weir group describe` prints the same: the Kafka client's assignor, each partition's owner.
      const text = describeText(d);
      expect(text).toContain('assignor: RoundRobinAssigner');
      for (const p of one.assigned)
        expect(text).toMatch(new RegExp(`${topic} +${p} +10 +10 +0 +${one.memberId}`));

      // When one member leaves, the other is given every partition and reads what comes next.
      await two.consumer.disconnect();
      await waitFor(() => one.assigned.length === PARTITIONS, 'the remaining member takes all', 30_000);
      await produce(topic, 'b', 8);
      await waitFor(() => one.received.filter((v) => v.startsWith('b-')).length === 8, 'b read', 30_000);
    } finally {
      await one.consumer.disconnect();
      await two.consumer.disconnect();
    }
    let offsets = await committed(groupId, topic);
    for (let i = 0; i < 100 && offsets.join() !== '12,12,12,12'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      offsets = await committed(groupId, topic);
    }
    expect(offsets).toEqual([12, 12, 12, 12]);
    expect((await admin.describeGroup(groupId)).state).toBe('Empty');

    // Then, after the broker restarts, a member of the group resumes from the commits: it reads
    // only what was produced since.
    await stop();
    await start();
    await produce(topic, 'c', 4);
    const three = await member(groupId, topic);
    try {
      await waitFor(() => three.received.length >= 4, 'c read', 30_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(three.received.sort()).toEqual(['c-0', 'c-1', 'c-2', 'c-3']);
    } finally {
      await three.consumer.disconnect();
    }
  }, 120_000);

  it('lists, describes and deletes groups through a Kafka admin client', async () => {
    const topic = uniqueTopic('kgadmin');
    const groupId = `g-${topic}`;
    await admin.createTopic(topic, { partitions: PARTITIONS });
    await produce(topic, 'a', 4);
    const one = await member(groupId, topic);
    const kadmin = kafka().admin();
    await kadmin.connect();
    try {
      await waitFor(() => one.received.length === 4, 'read', 30_000);
      const listed = await kadmin.listGroups();
      expect(listed.groups).toContainEqual({ groupId, protocolType: 'consumer' });
      const { groups } = await kadmin.describeGroups([groupId]);
      expect(groups[0]).toMatchObject({
        groupId,
        state: 'Stable',
        protocolType: 'consumer',
        protocol: 'RoundRobinAssigner',
      });
      expect(groups[0]!.members.map((m) => m.memberId)).toEqual([one.memberId]);
      // Not while it has a member: its offsets stay, as do those of the topic it subscribes to.
      await expect(admin.deleteOffsets(groupId, [{ topic }])).rejects.toMatchObject({
        code: 'GROUP_SUBSCRIBED_TO_TOPIC',
      });
      await expect(admin.resetOffsets(groupId, { topic, to: { earliest: true } })).rejects.toMatchObject({
        code: 'NON_EMPTY_GROUP',
      });
      await expect(kadmin.deleteGroups([groupId])).rejects.toMatchObject({
        groups: [expect.objectContaining({ groupId, errorCode: 68 })],
      });
      await one.consumer.disconnect();
      const offsets = await kadmin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets[0]!.partitions.map((p) => p.offset).sort()).toEqual(['1', '1', '1', '1']);
      await kadmin.deleteGroups([groupId]);
      await expect(admin.describeGroup(groupId)).rejects.toMatchObject({ code: 'GROUP_ID_NOT_FOUND' });
    } finally {
      await one.consumer.disconnect();
      await kadmin.disconnect();
    }
  }, 60_000);
});
