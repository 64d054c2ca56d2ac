// Given a real broker with short group timings, GroupConsumers: how the coordinator's assignment
// splits a topic, how a rebalance moves only what must move, and what happens when a member dies,
// restarts as a static member, is fenced, or leaves. Waits are bounded; nothing asserts on speed.

import { describe, expect, it } from 'vitest';
import { isWeirError, type GroupConsumer, type TopicPartition } from '../../client/index.js';
import { waitFor, within, uniqueTopic } from './helpers.js';
import {
  Collector,
  CuttableRpc,
  owns,
  produceTo,
  sortedTps,
  uniqueGroup,
  useGroupBroker,
} from './group-helpers.js';

const f = useGroupBroker();

describe('assignment', () => {
  it('given the range assignor, two members split a 3-partition topic [0,1] / [2]', async () => {
    const topic = await f.newTopic(3);
    const groupId = uniqueGroup();
    const base = { bootstrap: f.broker.bootstrap, groupId, topics: [topic], assignor: 'range' as const };
    const m1 = f.consumers.add({ ...base, clientId: 'member-1' });
    await waitFor(owns(m1, [0, 1, 2]), 'member-1 to own everything');
    const m2 = f.consumers.add({ ...base, clientId: 'member-2' });

    await waitFor(() => owns(m1, [0, 1])() && owns(m2, [2])(), 'the range split');
    const described = await f.admin.describeGroup(groupId);
    expect(described.assignor).toBe('range');
    expect(described.members.map((m) => [m.clientId, sortedTps(m.assignment)])).toEqual([
      ['member-1', [0, 1]],
      ['member-2', [2]],
    ]);
    expect(m1.generation).toBeGreaterThan(0);
    expect(m1.memberId).not.toBe(m2.memberId);
  });

  it('given a pattern subscription, a topic created later that matches is assigned too', async () => {
    const prefix = uniqueTopic('pat');
    await f.admin.createTopic(`${prefix}-a`, { partitions: 1 });
    const m = f.consumers.add({
      bootstrap: f.broker.bootstrap,
      groupId: uniqueGroup(),
      pattern: new RegExp(`${prefix}-.*`),
      autoOffsetReset: 'earliest',
    });
    await waitFor(() => m.assignment().length === 1, 'the first topic');
    await f.admin.createTopic(`${prefix}-b`, { partitions: 2 });
    await waitFor(() => m.assignment().length === 3, 'the topic created later');
    expect(m.assignment().map((tp) => tp.topic)).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-b`]);
  });
});

describe('a pattern in RE2/J syntax', () => {
  it('given an inline flag JavaScript lacks, the broker matches topics by it', async () => {
    const prefix = uniqueTopic('re2');
    await f.admin.createTopic(`${prefix}-a`, { partitions: 1 });
    const m = f.consumers.add({
      bootstrap: f.broker.bootstrap,
      groupId: uniqueGroup(),
      pattern: `(?i)${prefix.toUpperCase()}-A`,
    });
    await waitFor(() => m.assignment().length === 1, 'the matching topic');
    expect(m.assignment().map((tp) => tp.topic)).toEqual([`${prefix}-a`]);
  });

  it('given a lookahead, which RE2/J refuses, the iterator throws INVALID_REGULAR_EXPRESSION', async () => {
    const m = f.consumers.add({
      bootstrap: f.broker.bootstrap,
      groupId: uniqueGroup(),
      pattern: `${uniqueTopic('re2')}(?=-a)`,
    });
    const loop = new Collector(m);
    await within(loop.done, 10_000, 'the refused loop to end');
    expect(isWeirError(loop.error, 'INVALID_REGULAR_EXPRESSION')).toBe(true);
  });
});

describe('rebalance', () => {
  it('when a third member joins, a partition that does not move keeps flowing without a gap', async () => {
    const topic = await f.newTopic(3);
    const groupId = uniqueGroup();
    const revokedFrom: Record<string, TopicPartition[]> = {};
    const committedAtRevoke: number[] = [];
    const collectors: Record<string, Collector> = {};
    /** Per member, how many records it had been given when onRevoked ran, per revoked partition. */
    const givenAtRevoke: { clientId: string; partition: number; count: number }[] = [];
    const member = (clientId: string): GroupConsumer =>
      f.consumers.add({
        bootstrap: f.broker.bootstrap,
        groupId,
        topics: [topic],
        assignor: 'range',
        clientId,
        autoOffsetReset: 'earliest',
        onRevoked: async (tps) => {
          (revokedFrom[clientId] ??= []).push(...tps);
          const count = collectors[clientId]?.records.length ?? 0;
          for (const tp of tps) givenAtRevoke.push({ clientId, partition: tp.partition, count });
          // Commit on revoke happens before onRevoked: the committed offset is visible here.
          const offsets = await f.admin.fetchOffsets(groupId, tps);
          committedAtRevoke.push(...offsets.map((o) => o.offset));
        },
      });
    const m1 = member('member-1');
    const m2 = member('member-2');
    const c1 = (collectors['member-1'] = new Collector(m1));
    const c2 = (collectors['member-2'] = new Collector(m2));
    await waitFor(() => owns(m1, [0, 1])() && owns(m2, [2])(), 'two members settled');
    // Whoever joined first held everything for a moment: only the third member's rebalance counts.
    for (const key of Object.keys(revokedFrom)) delete revokedFrom[key];
    committedAtRevoke.length = 0;
    givenAtRevoke.length = 0;

    // A steady stream to every partition, through the whole rebalance.
    let producing = true;
    const sent = [0, 0, 0];
    const stream = (async () => {
      while (producing) {
        for (let p = 0; p < 3; p++) await produceTo(f.producer, topic, p, 1, `p${p}-${sent[p]!++}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await waitFor(() => c1.offsets(topic, 0).length >= 10, 'records before the join');

    const m3 = member('member-3');
    const c3 = (collectors['member-3'] = new Collector(m3));
    await waitFor(() => owns(m1, [0])() && owns(m2, [1])() && owns(m3, [2])(), 'three members settled');
    const atSettle = sent[0]!;
    await waitFor(() => c1.offsets(topic, 0).length >= atSettle + 10, 'records after the rebalance');
    producing = false;
    await stream;
    await waitFor(() => c1.offsets(topic, 0).length === sent[0], 'every record of partition 0');

    // Partition 0 never moved: its owner got every record once, in order, without a gap.
    expect(c1.offsets(topic, 0)).toEqual(Array.from({ length: sent[0]! }, (_, i) => i));
    // Partitions 1 and 2 moved; every record reached someone (at least once), in order per owner.
    for (const p of [1, 2]) {
      await waitFor(
        () => new Set([c1, c2, c3].flatMap((c) => c.offsets(topic, p))).size === sent[p],
        `every record of partition ${p}`,
      );
      for (const c of [c1, c2, c3]) {
        const seen = c.offsets(topic, p);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
      }
    }
    expect(c3.offsets(topic, 0)).toEqual([]);
    expect(revokedFrom['member-1']).toEqual([{ topic, partition: 1 }]);
    expect(revokedFrom['member-2']).toEqual([{ topic, partition: 2 }]);
    expect(committedAtRevoke.every((o) => o > 0)).toBe(true);
    // Nothing of a revoked partition was yielded once its revocation had begun (onRevoked runs
    // after the revocation began, so this is a weaker check than the rule, but a sound one).
    expect(givenAtRevoke).toHaveLength(2);
    for (const { clientId, partition, count } of givenAtRevoke) {
      const after = collectors[clientId]!.records.slice(count).filter((r) => r.partition === partition);
      expect(after).toEqual([]);
    }
    expect([c1.error, c2.error, c3.error]).toEqual([null, null, null]);
  });

  it('when a member stops heartbeating, its partitions move on after its session timeout', async () => {
    const topic = await f.newTopic(3);
    const groupId = uniqueGroup();
    const lost: TopicPartition[] = [];
    const rpc = new CuttableRpc(f.broker.bootstrap);
    const base = { bootstrap: f.broker.bootstrap, groupId, topics: [topic], assignor: 'range' as const };
    const dying = f.consumers.add(
      { ...base, clientId: 'member-1', sessionTimeoutMs: 500, onLost: (tps) => void lost.push(...tps) },
      rpc,
    );
    const survivor = f.consumers.add({ ...base, clientId: 'member-2', sessionTimeoutMs: 60_000 });
    await waitFor(() => owns(dying, [0, 1])() && owns(survivor, [2])(), 'the split');

    rpc.cut = true; // as if its process died: no heartbeat, no leave
    await waitFor(owns(survivor, [0, 1, 2]), 'the survivor to take every partition');
    const described = await f.admin.describeGroup(groupId);
    expect(described.members.map((m) => m.clientId)).toEqual(['member-2']);
    expect(described.rebalances.at(-1)?.reason).toBe('session-timeout');
    // The dead member found out on its own too: its session expired without an answer.
    await waitFor(() => dying.assignment().length === 0, 'the dead member to drop its partitions');
    expect(sortedTps(lost)).toEqual([0, 1]);
    await dying.close();
    rpc.close();
  });

  it('given a long session timeout, a graceful close hands the partitions over at once', async () => {
    const topic = await f.newTopic(2);
    const groupId = uniqueGroup();
    const base = { bootstrap: f.broker.bootstrap, groupId, topics: [topic], sessionTimeoutMs: 60_000 };
    const leaving = f.consumers.add({ ...base, clientId: 'member-1', assignor: 'range' });
    const staying = f.consumers.add({ ...base, clientId: 'member-2', assignor: 'range' });
    await waitFor(() => owns(leaving, [0])() && owns(staying, [1])(), 'the split');

    await leaving.close();
    await within(waitFor(owns(staying, [0, 1]), 'the hand-over', 20_000), 30_000, 'the hand-over');
    expect((await f.admin.describeGroup(groupId)).rebalances.at(-1)?.reason).toBe('leave');
  });

  it('a static member that restarts gets its partitions back without the others noticing', async () => {
    const topic = await f.newTopic(3);
    const groupId = uniqueGroup();
    const base = {
      bootstrap: f.broker.bootstrap,
      groupId,
      topics: [topic],
      assignor: 'range' as const,
      sessionTimeoutMs: 30_000,
    };
    const first = f.consumers.add({ ...base, clientId: 'member-1', instanceId: 'one' });
    const other = f.consumers.add({ ...base, clientId: 'member-2', instanceId: 'two' });
    await waitFor(() => owns(first, [0, 1])() && owns(other, [2])(), 'the split');
    await waitFor(() => first.generation === other.generation, 'both at the group epoch');
    const generation = (await f.admin.describeGroup(groupId)).generation;
    const otherEpoch = other.generation;

    await first.close(); // a static member leaves with epoch -2: its partitions wait for it
    const waiting = await f.admin.describeGroup(groupId);
    expect(waiting.members.map((m) => m.instanceId).sort()).toEqual(['one', 'two']);
    const again = f.consumers.add({ ...base, clientId: 'member-1', instanceId: 'one' });
    await waitFor(owns(again, [0, 1]), 'the restarted member to own its partitions again');

    expect(sortedTps(other.assignment())).toEqual([2]);
    expect(other.generation).toBe(otherEpoch);
    expect((await f.admin.describeGroup(groupId)).generation).toBe(generation);
  });

  it('a static member whose instance id is taken over is fenced, and its iterator throws', async () => {
    const topic = await f.newTopic(1);
    const groupId = uniqueGroup();
    const rpc = new CuttableRpc(f.broker.bootstrap);
    const base = { bootstrap: f.broker.bootstrap, groupId, topics: [topic], instanceId: 'solo' };
    const old = f.consumers.add({ ...base, sessionTimeoutMs: 30_000 }, rpc);
    const loop = new Collector(old);
    await waitFor(owns(old, [0]), 'the first incarnation');

    rpc.cut = true; // hung, not dead: it comes back after its replacement started
    const replacement = f.consumers.add({ ...base, sessionTimeoutMs: 30_000 });
    await waitFor(owns(replacement, [0]), 'the replacement to take over');
    rpc.cut = false;

    await within(loop.done, 10_000, 'the fenced loop to end');
    expect(isWeirError(loop.error, 'FENCED_INSTANCE_ID')).toBe(true);
    expect(old.assignment()).toEqual([]);
    await old.close();
    rpc.close();
    expect(sortedTps(replacement.assignment())).toEqual([0]);
  });
});
