// With peers, a group's coordinator is the leader of its __consumer_offsets partition, and moves
// with it: when the coordinator's broker stops, the partition elects another leader, which loads
// the partition's commits and answers for the group, with nothing committed lost. Real brokers.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OFFSETS_TOPIC } from '../../broker/group/coordinator.js';
import type { HeartbeatRequest, HeartbeatResult } from '../../broker/group/consumer-group.js';
import { WeirError } from '../../proto/errors.js';
import { Admin } from '../../client/admin.js';
import { TestCluster, until } from './cluster-support.js';

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

/** The coordinator of `group` as `broker` names it, or the retriable error's code meanwhile. */
function coordinatorOf(c: TestCluster, nodeId: number, group: string): number | string {
  try {
    return c.node(nodeId).broker.groups.findCoordinator(group).coordinator.nodeId;
  } catch (err) {
    if (err instanceof WeirError && err.retriable) return err.code;
    throw err;
  }
}

/** Waits until every running broker names the same running coordinator, which leads the partition. */
async function agreedCoordinator(c: TestCluster, group: string): Promise<number> {
  const views = await until(
    `the coordinator of ${group}`,
    () => c.running.map((b) => coordinatorOf(c, b.nodeId, group)),
    (v) =>
      typeof v[0] === 'number' &&
      v.every((x) => x === v[0]) &&
      c.running.some((b) => b.nodeId === v[0]) &&
      settled(c, v[0], group) &&
      fetches(c, v[0], group),
  );
  return views[0] as number;
}

/** A replica's `raft-state` file (its term, vote and amnesia), or '' while it has none. */
function raftState(dataDir: string, partitionDir: string): string {
  try {
    return readFileSync(join(dataDir, partitionDir, 'raft-state'), 'utf8');
  } catch {
    return '';
  }
}

/** Whether `nodeId` is the preferred replica of the group's partition, or that one is stopped. */
function settled(c: TestCluster, nodeId: number, group: string): boolean {
  const b = c.node(nodeId).broker;
  const { partition } = b.groups.findCoordinator(group);
  const preferred = b.placement(OFFSETS_TOPIC, partition).replicas[0];
  return preferred === nodeId || !c.running.some((r) => r.nodeId === preferred);
}

/** Whether the broker answers the group's offset fetch (it coordinates the group now). */
function fetches(c: TestCluster, nodeId: number, group: string): boolean {
  try {
    c.node(nodeId).broker.groups.fetchOffsets(group, []);
    return true;
  } catch {
    return false;
  }
}

describe('group coordinators with peers', () => {
  it('move with their __consumer_offsets partition, keeping every commit', async () => {
    const c = (cluster = await TestCluster.start(3, { offsetsTopicPartitions: 3 }));
    await c.registered();
    const admin = new Admin({ bootstrap: c.node(1).grpcAddress });
    try {
      await admin.createTopic('events', { partitions: 2, replicationFactor: 3 });
    } finally {
      admin.close();
    }

    // The first lookup asks the controller for __consumer_offsets (replication factor 3 here).
    expect(coordinatorOf(c, 1, 'g')).toBe('COORDINATOR_NOT_AVAILABLE');
    const first = await agreedCoordinator(c, 'g');
    const placed = c.node(first).broker.describeTopic(OFFSETS_TOPIC);
    expect(placed.partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);

    // Another broker refuses the group's calls, naming the coordinator.
    const other = c.running.find((b) => b.nodeId !== first)!;
    await expect(
      other.broker.groups.commit('g', '', -1, [{ topic: 'events', partition: 0, offset: 1, metadata: '' }]),
    ).rejects.toMatchObject({ code: 'NOT_COORDINATOR' });

    // Its replicas are new, so amnesiac until the leader's first commit reaches them (a heartbeat or
    // two): until then the partition could not lose its leader and elect another.
    const { partition } = c.node(first).broker.groups.findCoordinator('g');
    await until(
      'the offsets partition whole on every broker',
      () => c.dataDirs.map((d) => raftState(d, `${OFFSETS_TOPIC}-${partition}`)),
      (states) => states.every((s) => /^amnesiac: 0$/m.test(s)),
    );
    const results = await c.node(first).broker.groups.commit('g', '', -1, [
      { topic: 'events', partition: 0, offset: 42, metadata: 'kept' },
      { topic: 'events', partition: 1, offset: 7, metadata: '' },
    ]);
    expect(results.map((r) => r.error)).toEqual([null, null]);

    // The coordinator's broker stops: the partition elects another leader among the two left,
    // which answers with both commits.
    await c.stop(first);
    const second = await agreedCoordinator(c, 'g');
    expect(second).not.toBe(first);
    const fetched = c.node(second).broker.groups.fetchOffsets('g', []);
    expect(fetched.map((f) => `${f.topic}/${f.partition}@${f.offset}:${f.metadata}`).sort()).toEqual([
      'events/0@42:kept',
      'events/1@7:',
    ]);

    // It takes new commits, and the first broker, back, follows and hands nothing stale back.
    await c
      .node(second)
      .broker.groups.commit('g', '', -1, [{ topic: 'events', partition: 0, offset: 50, metadata: '' }]);
    await c.restart(first);
    const now = await agreedCoordinator(c, 'g');
    const after = c.node(now).broker.groups.fetchOffsets('g', [{ topic: 'events', partition: 0 }]);
    expect(after[0]!.offset).toBe(50);
  }, 120_000);

  it('show a commit only once a majority holds it, so what an OffsetFetch saw survives a move', async () => {
    const c = (cluster = await TestCluster.start(3, { offsetsTopicPartitions: 1 }));
    await c.registered();
    const admin = new Admin({ bootstrap: c.node(1).grpcAddress });
    try {
      await admin.createTopic('events', { partitions: 1, replicationFactor: 3 });
    } finally {
      admin.close();
    }
    coordinatorOf(c, 1, 'g');
    const leader = await agreedCoordinator(c, 'g');
    await until(
      'the offsets partition whole on every broker',
      () => c.dataDirs.map((d) => raftState(d, `${OFFSETS_TOPIC}-0`)),
      (states) => states.every((s) => /^amnesiac: 0$/m.test(s)),
    );
    const groups = c.node(leader).broker.groups;
    const offsetOf = (): number => groups.fetchOffsets('g', [{ topic: 'events', partition: 0 }])[0]!.offset;
    await groups.commit('g', '', -1, [{ topic: 'events', partition: 0, offset: 5, metadata: '' }]);
    expect(offsetOf()).toBe(5);

    // Given the coordinator alone (its followers stopped), when a commit is appended, then its
    // log has it but no majority does, and the committed view still answers the offset before.
    for (const b of c.running.filter((r) => r.nodeId !== leader)) await c.stop(b.nodeId);
    const pending = groups.commit('g', '', -1, [{ topic: 'events', partition: 0, offset: 9, metadata: '' }]);
    pending.catch(() => undefined);
    expect(offsetOf()).toBe(5);
    expect(groups.describeGroup('g').offsets.map((o) => o.committed)).toEqual([5]);
    // It is refused once its wait for a majority runs out, or, when the leader steps down first
    // (it hears from no majority), with NOT_COORDINATOR, so the member looks the coordinator up
    // again; and the view has not taken it.
    const refused = await pending.then(
      () => null,
      (err: unknown) => (err instanceof WeirError ? err.code : String(err)),
    );
    expect(['REQUEST_TIMED_OUT', 'NOT_COORDINATOR']).toContain(refused);
    if (coordinatorOf(c, leader, 'g') === leader && fetches(c, leader, 'g')) expect(offsetOf()).toBe(5);
  }, 60_000);

  it('tell the members a new coordinator does not know to rejoin, and give them their commits back', async () => {
    const c = (cluster = await TestCluster.start(3, { offsetsTopicPartitions: 1 }));
    await c.registered();
    const admin = new Admin({ bootstrap: c.node(1).grpcAddress });
    try {
      await admin.createTopic('events', { partitions: 2, replicationFactor: 3 });
    } finally {
      admin.close();
    }
    coordinatorOf(c, 1, 'g');
    const first = await agreedCoordinator(c, 'g');
    await until(
      'the offsets partition whole on every broker',
      () => c.dataDirs.map((d) => raftState(d, `${OFFSETS_TOPIC}-0`)),
      (states) => states.every((s) => /^amnesiac: 0$/m.test(s)),
    );

    // Given a static and a dynamic member, each owning one partition and having committed it.
    const members = [member('static-1', 'instance-1'), member('dynamic-1', '')];
    const joined = settle(c, first, members);
    const offsets = [11, 22];
    for (const [i, m] of members.entries()) {
      const results = await c
        .node(first)
        .broker.groups.commit('g', m.memberId, joined[i]!.memberEpoch, [
          { ...joined[i]!.assignment[0]!, offset: offsets[i]!, metadata: '' },
        ]);
      expect(results.map((r) => r.error)).toEqual([null]);
    }

    // When the coordinator's broker stops, then the next coordinator knows neither member (nor
    // their epochs): heartbeats and commits get UNKNOWN_MEMBER_ID, the KIP-848 answer to rejoin.
    await c.stop(first);
    const second = await agreedCoordinator(c, 'g');
    const groups = c.node(second).broker.groups;
    for (const [i, m] of members.entries()) {
      expect(() =>
        groups.heartbeat('g', { ...m, memberEpoch: joined[i]!.memberEpoch, owned: joined[i]!.assignment }),
      ).toThrow(expect.objectContaining({ code: 'UNKNOWN_MEMBER_ID' }) as Error);
      await expect(
        groups.commit('g', m.memberId, joined[i]!.memberEpoch, [
          { ...joined[i]!.assignment[0]!, offset: 99, metadata: '' },
        ]),
      ).rejects.toMatchObject({ code: 'UNKNOWN_MEMBER_ID' });
    }
    // They rejoin (epoch 0, the static one under its instance id) and share the partitions again,
    // each starting from the offset committed at the first coordinator.
    const rejoined = settle(c, second, members);
    const owned = rejoined.flatMap((r) => r.assignment.map((tp) => `${tp.topic}/${tp.partition}`)).sort();
    expect(owned).toEqual(['events/0', 'events/1']);
    const fetched = groups.fetchOffsets('g', []).map((f) => [`${f.topic}/${f.partition}`, f.offset] as const);
    expect(new Map(fetched)).toEqual(
      new Map(joined.map((j, i) => [`${j.assignment[0]!.topic}/${j.assignment[0]!.partition}`, offsets[i]])),
    );
    const described = groups.describeGroup('g');
    expect(described.state).toBe('Stable');
    expect(described.memberList.map((m) => m.instanceId).sort()).toEqual(['', 'instance-1']);
  }, 60_000);
});

describe('a busy group coordinator', () => {
  it('is handed back to its returning preferred replica in one move', async () => {
    const c = (cluster = await TestCluster.start(3, { offsetsTopicPartitions: 1 }));
    await c.registered();
    const admin = new Admin({ bootstrap: c.node(1).grpcAddress });
    try {
      await admin.createTopic('events', { partitions: 1, replicationFactor: 3 });
    } finally {
      admin.close();
    }
    coordinatorOf(c, 1, 'g');
    const preferred = await agreedCoordinator(c, 'g');
    await until(
      'the offsets partition whole on every broker',
      () => c.dataDirs.map((d) => raftState(d, `${OFFSETS_TOPIC}-0`)),
      (states) => states.every((s) => /^amnesiac: 0$/m.test(s)),
    );
    await c.stop(preferred);
    const interim = await agreedCoordinator(c, 'g');

    // Given a stream of commits to whichever broker coordinates the group, and the brokers that
    // took them, in order.
    const named: number[] = [];
    let committed = 0;
    let busy = true;
    const load = (async () => {
      for (let offset = 1; busy; offset++) {
        const now = c.running.map((b) => coordinatorOf(c, b.nodeId, 'g')).find((x) => typeof x === 'number');
        const at = typeof now === 'number' ? c.brokers[now - 1] : null;
        if (at !== null && at !== undefined)
          await at.broker.groups
            .commit('g', '', -1, [{ topic: 'events', partition: 0, offset, metadata: '' }])
            .then(
              () => {
                committed = offset;
                if (named[named.length - 1] !== now) named.push(now as number);
              },
              () => undefined,
            );
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    // When the preferred replica returns, then the leader balancer hands the partition back to it
    // (once it has caught up) in one move: the hand-over does not fail under the commits and
    // leave the coordinator where it was, or elsewhere, in between.
    await c.restart(preferred);
    await agreedCoordinator(c, 'g');
    await until(
      'the preferred replica coordinating',
      () => named[named.length - 1],
      (last) => last === preferred,
      30_000,
    );
    busy = false;
    await load;
    expect(named).toEqual([interim, preferred]);
    const fetched = c.node(preferred).broker.groups.fetchOffsets('g', [{ topic: 'events', partition: 0 }]);
    expect(fetched[0]!.offset).toBeGreaterThanOrEqual(committed);
  }, 90_000);
});

/** A member's first heartbeat: a join (epoch 0), subscribed to `events`. */
function member(memberId: string, instanceId: string): HeartbeatRequest {
  return {
    memberId,
    memberEpoch: 0,
    instanceId,
    clientId: memberId,
    host: '127.0.0.1',
    sessionTimeoutMs: 0,
    rebalanceTimeoutMs: 0,
    subscribedTopics: ['events'],
    subscribedPattern: '',
    assignor: '',
    owned: [],
  };
}

/**
 * Joins the members at the coordinator `nodeId` and heartbeats them, each reporting what it was
 * last given, until each owns one partition at the group's epoch; returns their last answers.
 */
function settle(c: TestCluster, nodeId: number, members: readonly HeartbeatRequest[]): HeartbeatResult[] {
  const groups = c.node(nodeId).broker.groups;
  let answers = members.map((m) => groups.heartbeat('g', { ...m, memberEpoch: 0, owned: [] }));
  for (let round = 0; round < 10; round++) {
    answers = members.map((m, i) =>
      groups.heartbeat('g', { ...m, memberEpoch: answers[i]!.memberEpoch, owned: answers[i]!.assignment }),
    );
    const epoch = answers[answers.length - 1]!.groupEpoch;
    if (answers.every((a) => a.assignment.length === 1 && a.memberEpoch === epoch)) return answers;
  }
  throw new Error(`the members did not settle: ${JSON.stringify(answers)}`);
}
