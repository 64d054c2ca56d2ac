// Quiescence on real brokers started with peers in one process: given three brokers and an idle
// topic of replication factor 3 whose group has gone quiet on every replica (no heartbeats, no
// election timers), when the broker leading it stops, then the others' failure detector (RaftGroups'
// per-peer pulses) wakes its quiet followers, they elect a new leader, and a write with acks=all
// is acknowledged there. Real gRPC streams on loopback, real files; no timing is asserted.

import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../broker/main.js';
import { Admin } from '../../client/index.js';
import { TestCluster, until } from './cluster-support.js';

const TOPIC = 'idle';
let cluster: TestCluster | null = null;
let admin: Admin | null = null;

afterEach(async () => {
  await admin?.close();
  admin = null;
  await cluster?.close();
  cluster = null;
});

const stats = (b: RunningBroker) => b.broker.describePartition(TOPIC, 0);
const record = (value: string) => [{ key: null, value: Buffer.from(value), headers: [], timestamp: 0 }];

describe('an idle replicated partition', () => {
  it('goes quiet on every replica, and elects a new leader and takes a write once its leader stops', async () => {
    cluster = await TestCluster.start(3, {}, 'quiesce-test');
    const brokers = cluster.running;
    // Given three brokers and a topic replicated on all of them, with a record written
    await cluster.registered();
    admin = new Admin({ bootstrap: brokers[0]!.grpcAddress });
    await admin.createTopic(TOPIC, { partitions: 1, replicationFactor: 3 });
    await until(
      'the topic on every broker',
      () => brokers.map((b) => b.broker.find(TOPIC, 0) !== undefined),
      (held) => held.every(Boolean),
    );
    const leaderId = (
      await until(
        'one leader, known to all, on the preferred replica (the leader balancer then moves nothing)',
        () => brokers.map((b) => stats(b).leader),
        (ids) =>
          ids[0] !== -1 && ids.every((id) => id === ids[0]) && stats(brokers[0]!).replicas[0] === ids[0],
      )
    )[0]!;
    const leader = brokers.find((b) => b.nodeId === leaderId)!;
    const [before] = await leader.broker.produceRecords(TOPIC, 0, record('before'), 'all');
    expect(before!.outcome.records).toBe(1);

    // ...and the group quiet on every replica once idle
    await until(
      'the group quiet on all three replicas',
      () => brokers.map((b) => stats(b).quiesced === true),
      (q) => q.every(Boolean),
    );
    const term = stats(leader).term;

    // When the leader's broker stops
    await cluster.stop(leaderId);
    const others = brokers.filter((b) => b !== leader);

    // Then the quiet followers notice, and one of them is elected in a later term
    const newLeaderId = (
      await until(
        'a new leader, known to both survivors',
        () => others.map((b) => stats(b).leader),
        (ids) => ids[0] !== -1 && ids[0] !== leaderId && ids.every((id) => id === ids[0]),
      )
    )[0]!;
    const newLeader = others.find((b) => b.nodeId === newLeaderId)!;
    expect(stats(newLeader).term).toBeGreaterThan(term);

    // ...which takes a write with acks=all (the other survivor holds it) after the earlier one
    const [after] = await newLeader.broker.produceRecords(TOPIC, 0, record('after'), 'all');
    expect(after!.outcome.baseOffset).toBeGreaterThan(before!.outcome.baseOffset);
    await until(
      'the write on both survivors',
      () => others.map((b) => stats(b).highWatermark),
      (hws) => hws.every((hw) => hw > after!.outcome.baseOffset),
    );
  }, 90_000);
});
