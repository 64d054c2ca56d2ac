// The Kafka listener on a three-broker cluster: every broker's Metadata names every broker with its
// Kafka port and each partition's leader as the cluster has it; a broker that does not lead a
// partition answers its produce, fetch and offset requests NOT_LEADER_OR_FOLLOWER; topic requests
// to any broker reach the controller; a kafkajs consumer group finds its coordinator through any
// broker; a stopped broker leaves Metadata once fenced and comes back at its Kafka port; and a
// Kafka client bootstrapped at one broker produces (idempotent, acks=-1) to partitions led by
// different brokers, keeps producing through a leader's stop, and every acknowledged record is
// there once.

import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreatePartitionsApi,
  CreateTopicsApi,
  DeleteTopicsApi,
  ListOffsetsApi,
  ProduceApi,
} from '../../proto/kafka/generated/index.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { TestCluster, until } from '../broker/cluster-support.js';
import { uniqueTopic } from '../client/helpers.js';
import { fetchPartition, readPartition } from './kafka-raw.js';
import { kafkaRequest } from './kafka-request.js';

const NOT_LEADER_OR_FOLLOWER = 6;
const PARTITIONS = 3;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start(3, { kafkaPort: 0 });
  await cluster.registered();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

function kafkaPort(nodeId: number): number {
  const address = cluster.kafkaAddress(nodeId);
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** A kafkajs client that knows only broker `nodeId` to begin with. */
function kafkaAt(nodeId: number, retries = 0): Kafka {
  return new Kafka({
    clientId: 'weir-cluster-test',
    brokers: [cluster.kafkaAddress(nodeId)],
    logLevel: logLevel.NOTHING,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

/** The node id of the broker whose replica leads the partition now, or null. */
function leaderOf(topic: string, partition: number): number | null {
  for (const b of cluster.running) if (b.broker.find(topic, partition)?.role === 'leader') return b.nodeId;
  return null;
}

function leaders(topic: string): (number | null)[] {
  return Array.from({ length: PARTITIONS }, (_, p) => leaderOf(topic, p));
}

/** Polls an async probe until `done` holds (bounded: 30 s), returning the last value. */
async function eventually<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Creates an RF=3 topic through broker 2's Kafka listener (the controller's or forwarded to it) and
 * waits until its partitions are led by at least two different brokers (the preferred leaders are
 * spread over the brokers, and the balancer hands leadership back to them).
 */
async function createTopic(topic: string): Promise<void> {
  // Retries: kafkajs waits for the new partitions' leaders, which the elections take a moment to give.
  const admin = kafkaAt(2, 10).admin();
  await admin.connect();
  try {
    expect(
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }] }),
    ).toBe(true);
  } finally {
    await admin.disconnect();
  }
  await until(
    'partitions led by different brokers',
    () => leaders(topic),
    (l) => l.every((x) => x !== null) && new Set(l).size >= 2,
  );
}

describe('the Kafka listener on a cluster', () => {
  it("lists every broker with its Kafka port, the controller, and each partition's leader, replicas and ISR", async () => {
    const topic = uniqueTopic('kcmeta');
    await createTopic(topic);
    const expected = [1, 2, 3].map((nodeId) => ({ nodeId, host: '127.0.0.1', port: kafkaPort(nodeId) }));
    for (const nodeId of [1, 2, 3]) {
      const admin = kafkaAt(nodeId).admin();
      await admin.connect();
      try {
        const described = await admin.describeCluster();
        expect(described.brokers.sort((a, b) => a.nodeId - b.nodeId)).toEqual(expected);
        expect([1, 2, 3]).toContain(described.controller);
        expect(described.controller).toBe(cluster.node(nodeId).broker.cluster().controllerId);
        // Leaders move only on an election or the balancer's hand-back: wait for a steady view. The
        // in-sync replicas are the leader's to know: a broker that follows names the leader alone.
        await eventually(
          `broker ${nodeId}'s leaders, replicas and ISR as the replicas have them`,
          async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions,
          (partitions) =>
            partitions.length === PARTITIONS &&
            partitions.every(
              (p) =>
                p.partitionErrorCode === 0 &&
                p.leader === leaderOf(topic, p.partitionId) &&
                [...p.replicas].sort().join() === '1,2,3' &&
                p.isr.includes(p.leader) &&
                (p.leader !== nodeId || p.isr.length >= 2),
            ),
        );
      } finally {
        await admin.disconnect();
      }
    }
  });

  it('answers a produce, fetch or offset request to a replica that does not lead NOT_LEADER_OR_FOLLOWER', async () => {
    const topic = uniqueTopic('kcfollow');
    await createTopic(topic);
    const leader = leaderOf(topic, 0)!;
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const port = kafkaPort(follower);
    const produced = await kafkaRequest(port, ProduceApi, 8, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: topic,
          partitionData: [
            { index: 0, records: encodeBatch([{ key: null, value: Buffer.from('x'), timestamp: 1 }]) },
          ],
        },
      ],
    });
    expect(produced.responses[0]!.partitionResponses[0]!.errorCode).toBe(NOT_LEADER_OR_FOLLOWER);
    expect((await fetchPartition(port, topic, 0, 0)).errorCode).toBe(NOT_LEADER_OR_FOLLOWER);
    const offsets = await kafkaRequest(port, ListOffsetsApi, 5, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
    });
    expect(offsets.topics[0]!.partitions[0]!.errorCode).toBe(NOT_LEADER_OR_FOLLOWER);
    // Nothing was appended by the follower's refusal.
    expect(await readPartition(kafkaPort(leader), topic, 0)).toEqual([]);
  });

  it('creates, grows and deletes a topic asked of a broker that is not the controller, for every broker', async () => {
    // Kafka clients send these to the controller Metadata names; a broker that is not it takes
    // them too, through the controller, and answers once it has applied the change itself.
    const controller = cluster.node(1).broker.cluster().controllerId;
    const via = [1, 2, 3].find((id) => id !== controller)!;
    const port = kafkaPort(via);
    const topic = uniqueTopic('kcadmin');
    const counts = (): number[] => [1, 2, 3].map((id) => cluster.node(id).broker.partitionCount(topic));

    const created = await kafkaRequest(port, CreateTopicsApi, 4, {
      ...CreateTopicsApi.defaultRequest(),
      topics: [{ name: topic, numPartitions: 2, replicationFactor: 2, assignments: [], configs: [] }],
    });
    expect(created.topics.map((t) => [t.name, t.errorCode])).toEqual([[topic, 0]]);
    expect(cluster.node(via).broker.partitionCount(topic)).toBe(2);
    await until('every broker knows the topic', counts, (c) => c.every((n) => n === 2));

    const grown = await kafkaRequest(port, CreatePartitionsApi, 1, {
      topics: [{ name: topic, count: 5, assignments: null }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(grown.results.map((r) => r.errorCode)).toEqual([0]);
    expect(cluster.node(via).broker.partitionCount(topic)).toBe(5);
    await until('every broker knows the new partitions', counts, (c) => c.every((n) => n === 5));

    const deleted = await kafkaRequest(port, DeleteTopicsApi, 3, {
      ...DeleteTopicsApi.defaultRequest(),
      topicNames: [topic],
      timeoutMs: 10_000,
    });
    expect(deleted.responses.map((r) => r.errorCode)).toEqual([0]);
    expect(cluster.node(via).broker.partitionCount(topic)).toBe(0);
    await until('no broker knows the topic', counts, (c) => c.every((n) => n === 0));
  });

  it('serves a kafkajs consumer group, its coordinator found through any broker, every partition read from its leader', async () => {
    const topic = uniqueTopic('kcgroup');
    await createTopic(topic);
    const producer = kafkaAt(1, 10).producer({ idempotent: true, allowAutoTopicCreation: false });
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, i) => `g-${i}`);
    try {
      for (let p = 0; p < PARTITIONS; p++)
        await producer.send({
          topic,
          acks: -1,
          messages: sent.filter((_, i) => i % PARTITIONS === p).map((value) => ({ partition: p, value })),
        });
    } finally {
      await producer.disconnect();
    }
    // Bootstrapped at broker 3: the group's coordinator (the leader of its __consumer_offsets
    // partition) may be any broker, found with FindCoordinator at its Kafka address.
    const consumer = kafkaAt(3, 10).consumer({
      groupId: `g-${topic}`,
      sessionTimeout: 6000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
    });
    const received: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value!.toString());
        },
      });
      await until(
        'every record consumed',
        () => received.length,
        (n) => n >= sent.length,
      );
    } finally {
      await consumer.disconnect();
    }
    expect([...received].sort()).toEqual([...sent].sort());
  }, 60_000);

  it('drops a stopped broker from Metadata once it is fenced, and lists it again at its Kafka port when it is back', async () => {
    const admin = kafkaAt(1).admin();
    await admin.connect();
    // The client may try the stopped broker first: a refused connection is an answer to poll again.
    const listed = async (): Promise<string> => {
      try {
        return (await admin.describeCluster()).brokers
          .map((b) => `${b.nodeId}@${b.port}`)
          .sort()
          .join(',');
      } catch (err) {
        return (err as Error).message;
      }
    };
    const all = [1, 2, 3].map((id) => `${id}@${kafkaPort(id)}`).join(',');
    try {
      // All three first (on a loaded machine a broker may miss heartbeats for a moment).
      await eventually('every broker in Metadata', listed, (l) => l === all);
      await cluster.stop(3);
      await eventually(
        'broker 3 gone from Metadata',
        listed,
        (l) => l === all.split(',').slice(0, 2).join(','),
      );
      await cluster.restart(3);
      await eventually('broker 3 back in Metadata', listed, (l) => l === all);
    } finally {
      await admin.disconnect();
    }
    await cluster.registered();
  });

  it('takes an idempotent acks=-1 producer bootstrapped at one broker through the stop of a leader, each acknowledged record once', async () => {
    const topic = uniqueTopic('kcfail');
    await createTopic(topic);
    const bootstrap = 1;
    // The leader stopped: one that is not the bootstrap broker, of a partition the test writes to.
    const victimPartition = leaders(topic).findIndex((l) => l !== bootstrap);
    const victim = leaderOf(topic, victimPartition)!;
    const producer = kafkaAt(bootstrap, 20).producer({
      idempotent: true,
      allowAutoTopicCreation: false,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    await producer.connect();
    const sent: string[][] = Array.from({ length: PARTITIONS }, () => []);
    const acknowledged: string[][] = Array.from({ length: PARTITIONS }, () => []);
    let n = 0;
    // Each round writes one record to every partition at once, one send per partition: kafkajs
    // tracks a send's progress by broker, not by partition, so a send that spans leaders can, on a
    // retry through a leader change, skip a partition that was never written, or write again, under
    // a new sequence number, one that was (the broker cannot tell that from a new record). A send
    // to one partition is retried whole, with the same sequence, which is what idempotence covers.
    const sendRound = async (): Promise<void> => {
      const round = n++;
      await Promise.all(
        Array.from({ length: PARTITIONS }, async (_, partition) => {
          const value = `v-${partition}-${round}`;
          sent[partition]!.push(value);
          const answers = await producer.send({
            topic,
            acks: -1,
            messages: [{ partition, key: `k-${round}`, value }],
          });
          expect(answers.map((a) => [a.partition, a.errorCode])).toEqual([[partition, 0]]);
          acknowledged[partition]!.push(value);
        }),
      );
    };
    let ackedBeforeStop: number;
    try {
      for (let i = 0; i < 20; i++) await sendRound();
      ackedBeforeStop = acknowledged[victimPartition]!.length;
      const stopping = cluster.stop(victim);
      for (let i = 0; i < 40; i++) await sendRound();
      await stopping;
      await until(
        'a new leader for every partition',
        () => leaders(topic),
        (l) => l.every((x) => x !== null && x !== victim),
      );
    } finally {
      await producer.disconnect();
    }
    expect(ackedBeforeStop).toBe(20);
    // Every send was acknowledged: the partition whose leader stopped took records from its new one.
    expect(acknowledged.map((a) => a.length)).toEqual([60, 60, 60]);
    for (let p = 0; p < PARTITIONS; p++) {
      const read = await readPartition(kafkaPort(leaderOf(topic, p)!), topic, p);
      const got = read.map((r) => r.value!);
      const twice = read.filter((r) => got.indexOf(r.value!) !== got.lastIndexOf(r.value!));
      // None twice (no retry appended again; the sequences say whether the client sent it twice).
      expect(twice, `partition ${p} (broker ${victim} stopped, led partition ${victimPartition})`).toEqual(
        [],
      );
      // Every acknowledged record (every one sent), in the order sent.
      expect(got, `partition ${p}`).toEqual(acknowledged[p]);
    }
  });
});
