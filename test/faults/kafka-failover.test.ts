// A Kafka client on real broker processes: three brokers, each with a Kafka listener, and a topic
// of three replicas whose partitions are led by different brokers. A kafkajs idempotent producer
// (acks=-1) given one broker writes to every partition while the leader of one is killed with
// SIGKILL midway; it keeps writing through the election, and afterwards every write it had
// acknowledged is in the partitions' logs, none twice.

import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultCluster } from '../../scripts/faults/fault-cluster.js';
import { pollUntil } from '../../scripts/faults/poll.js';
import { createTopic, leaderSeenBy, partitionLeader } from '../../scripts/faults/topic.js';
import { readPartition } from '../kafka/kafka-raw.js';

const TOPIC = 'kafka-faults';
const PARTITIONS = 3;
const ROUNDS = 120;
const KILL_AT = 40;
let cluster: FaultCluster | null = null;

afterEach(async () => {
  await cluster?.destroy();
  cluster = null;
});

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

describe('a Kafka producer on a cluster of broker processes', () => {
  it('loses no acknowledged write and writes none twice when a leader is killed with SIGKILL', async () => {
    const c = await FaultCluster.start();
    cluster = c;
    await createTopic(c, 1, TOPIC, { partitions: PARTITIONS, replicationFactor: 3 });
    // The preferred leaders are spread over the brokers; the balancer hands leadership back to them.
    await pollUntil(
      () => Promise.all(Array.from({ length: PARTITIONS }, (_, p) => leaderSeenBy(c, 1, TOPIC, p))),
      (ids) => ids.every((id) => id > 0) && new Set(ids).size >= 2,
      `partitions of ${TOPIC} led by different brokers`,
      30_000,
    );
    const victim = await partitionLeader(c, TOPIC);
    const bootstrap = victim === 1 ? 2 : 1;
    const producer = new Kafka({
      clientId: 'weir-kafka-faults',
      brokers: [c.kafkaAddress(bootstrap)],
      logLevel: logLevel.NOTHING,
    }).producer({
      idempotent: true,
      allowAutoTopicCreation: false,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    await producer.connect();
    const sent: string[][] = Array.from({ length: PARTITIONS }, () => []);
    const acknowledged: string[][] = Array.from({ length: PARTITIONS }, () => []);
    let failedSends = 0;
    let killed: Promise<void> = Promise.resolve();
    // One send per partition, the partitions' at once: a kafkajs send that spans leaders may skip,
    // or write again under a new sequence, a partition on a retry through a leader change (it
    // tracks a send by broker); a send to one partition is retried whole, with the same sequence.
    const send = async (round: number, partition: number): Promise<void> => {
      const value = `r${round}-p${partition}`;
      sent[partition]!.push(value);
      try {
        const answers = await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition, value }] });
        if (answers.some((a) => a.partition === partition && a.errorCode === 0))
          acknowledged[partition]!.push(value);
      } catch {
        failedSends++;
      }
    };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        if (round === KILL_AT) killed = c.kill(victim);
        await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => send(round, p)));
      }
      await killed;
    } finally {
      await producer.disconnect();
    }
    console.info(
      `kafkajs through kill -9 of broker ${victim}: acknowledged ${acknowledged.map((a) => a.length).join('/')} of ${ROUNDS} per partition, ${failedSends} sends failed`,
    );
    // Partition 0's leader was killed; it went on taking writes from a new leader.
    expect(acknowledged[0]!.length, `${failedSends} sends failed`).toBeGreaterThan(ROUNDS - KILL_AT);
    for (let p = 0; p < PARTITIONS; p++) {
      const leader = await pollUntil(
        () => leaderSeenBy(c, bootstrap, TOPIC, p),
        (id) => id > 0 && id !== victim,
        `a live leader of ${TOPIC}/${p}`,
        30_000,
      );
      const read = await readPartition(portOf(c.kafkaAddress(leader)), TOPIC, p);
      const got = read.map((r) => r.value!);
      const lost = acknowledged[p]!.filter((v) => !got.includes(v));
      expect(lost, `partition ${p}: acknowledged writes lost`).toEqual([]);
      // With their sequences: the same sequence twice is the broker's fault, two the client's.
      const twice = read.filter((r) => got.indexOf(r.value!) !== got.lastIndexOf(r.value!));
      expect(twice, `partition ${p}: writes twice`).toEqual([]);
      expect(got.every((v) => sent[p]!.includes(v))).toBe(true);
    }
  }, 120_000);
});
