// The group protocol through the real gRPC server: members are raw GroupHeartbeat calls, so each
// step of a rebalance (revoke, confirm, grant) is visible. The SDK's GroupConsumer is tested on
// top of this in test/client.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isWeirError } from '../../../proto/errors.js';
import type { GroupHeartbeatResponse__Output } from '../../../proto/generated/weir/v1/GroupHeartbeatResponse.js';
import type { OffsetCommitResponse__Output } from '../../../proto/generated/weir/v1/OffsetCommitResponse.js';
import type { OffsetFetchResponse__Output } from '../../../proto/generated/weir/v1/OffsetFetchResponse.js';
import type { GroupDescription__Output } from '../../../proto/generated/weir/v1/GroupDescription.js';
import { groupHash, OFFSETS_TOPIC } from '../../../broker/group/coordinator.js';
import { removeDir, startTestBroker, tempDir, type TestBroker } from '../support.js';

type Tp = [string, number];

interface Member {
  readonly clientId: string;
  memberId: string;
  epoch: number;
  owned: Tp[];
}

const GROUP_CONFIG = {
  groupHeartbeatIntervalMs: 50,
  groupMinSessionTimeoutMs: 100,
  groupSessionTimeoutMs: 30_000,
};

let b: TestBroker;
let topicSeq = 0;

beforeAll(async () => {
  b = await startTestBroker(GROUP_CONFIG);
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

async function newTopic(partitions: number): Promise<string> {
  const name = `t${++topicSeq}`;
  await b.call('CreateTopic', { name, partitions });
  return name;
}

function flat(list: { topic: string; partitions: number[] }[]): Tp[] {
  return list.flatMap((t) => t.partitions.map((p): Tp => [t.topic, p]));
}

function wire(tps: Tp[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const [t, p] of tps) byTopic.set(t, [...(byTopic.get(t) ?? []), p]);
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

async function heartbeat(
  group: string,
  m: Member,
  extra: Record<string, unknown> = {},
  target = b,
): Promise<GroupHeartbeatResponse__Output> {
  const res = await target.call<object, GroupHeartbeatResponse__Output>('GroupHeartbeat', {
    groupId: group,
    memberId: m.memberId,
    memberEpoch: m.epoch,
    clientId: m.clientId,
    owned: wire(m.owned),
    ...extra,
  });
  m.memberId = res.memberId;
  m.epoch = res.memberEpoch;
  return res;
}

async function join(group: string, clientId: string, topics: string[], extra: Record<string, unknown> = {}) {
  const m: Member = { clientId, memberId: '', epoch: 0, owned: [] };
  const res = await heartbeat(group, m, { subscribedTopics: topics, ...extra });
  m.owned = flat(res.assignment);
  return m;
}

/** A member that follows its assignment at once: revokes what is gone, takes what is new. */
async function follow(group: string, m: Member, topics: string[]): Promise<GroupHeartbeatResponse__Output> {
  const res = await heartbeat(group, m, { subscribedTopics: topics });
  m.owned = flat(res.assignment);
  return res;
}

function commit(group: string, m: { memberId: string; epoch: number }, tps: [string, number, number][]) {
  return b.call<object, OffsetCommitResponse__Output>('OffsetCommit', {
    groupId: group,
    memberId: m.memberId,
    generation: m.epoch,
    partitions: tps.map(([topic, partition, offset]) => ({ topic, partition, offset, metadata: '' })),
  });
}

function describeGroup(group: string): Promise<GroupDescription__Output> {
  return b.call('DescribeGroup', { groupId: group });
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isWeirError(err) ? err.code : err).toBe(code);
}

describe('given a 3-partition topic and the range assignor', () => {
  it('two members split it [0, 1] and [2]', async () => {
    const topic = await newTopic(3);
    const m1 = await join('range-2', 'member-1', [topic], { assignor: 'range' });
    expect(m1.owned).toEqual([
      [topic, 0],
      [topic, 1],
      [topic, 2],
    ]);
    const m2 = await join('range-2', 'member-2', [topic], { assignor: 'range' });
    // member-2 waits: its partition is still member-1's until member-1 gives it up.
    expect(m2.owned).toEqual([]);
    const told = await heartbeat('range-2', m1, { subscribedTopics: [topic] });
    expect(flat(told.assignment)).toEqual([
      [topic, 0],
      [topic, 1],
    ]);
    // Not yet confirmed (member-1 still reports partition 2): member-2 still gets nothing.
    expect(flat((await follow('range-2', m2, [topic])).assignment)).toEqual([]);
    m1.owned = flat(told.assignment);
    await follow('range-2', m1, [topic]);
    expect(flat((await follow('range-2', m2, [topic])).assignment)).toEqual([[topic, 2]]);
    const d = await describeGroup('range-2');
    expect(d.state).toBe('Stable');
    expect(d.members.map((m) => [m.clientId, flat(m.assignment)])).toEqual([
      [
        'member-1',
        [
          [topic, 0],
          [topic, 1],
        ],
      ],
      ['member-2', [[topic, 2]]],
    ]);
    expect(d.rebalances.map((r) => r.reason)).toEqual(['join', 'join']);
  });
});

describe('when a third member joins a sticky group', () => {
  it('moves only what it must; unaffected partitions are never revoked', async () => {
    const topic = await newTopic(6);
    const a = await join('sticky-3', 'a', [topic]);
    const c = await join('sticky-3', 'c', [topic]);
    await follow('sticky-3', a, [topic]); // told to revoke three
    await follow('sticky-3', a, [topic]); // confirms
    await follow('sticky-3', c, [topic]); // takes them
    const before = new Map([
      ['a', a.owned.map((tp) => tp.join('/'))],
      ['c', c.owned.map((tp) => tp.join('/'))],
    ]);
    expect(before.get('a')).toHaveLength(3);
    expect(before.get('c')).toHaveLength(3);
    const n = await join('sticky-3', 'n', [topic]);
    const generation = (await describeGroup('sticky-3')).generation;
    // Each old member keeps two of its three and is asked to give up one.
    for (let round = 0; round < 4; round++) {
      for (const [m, name] of [
        [a, 'a'],
        [c, 'c'],
      ] as const) {
        const res = await follow('sticky-3', m, [topic]);
        const kept = flat(res.assignment).map((tp) => tp.join('/'));
        expect(kept.every((k) => before.get(name)?.includes(k))).toBe(true);
        expect(kept.length).toBeGreaterThanOrEqual(2);
      }
      await follow('sticky-3', n, [topic]);
    }
    expect(n.owned).toHaveLength(2);
    const d = await describeGroup('sticky-3');
    expect(d.generation).toBe(generation);
    expect(d.state).toBe('Stable');
    const all = d.members.flatMap((m) => flat(m.assignment).map((tp) => tp.join('/')));
    expect(new Set(all).size).toBe(6);
  });
});

describe('offset commits', () => {
  it('are accepted from the owner at its generation and fenced otherwise', async () => {
    const topic = await newTopic(2);
    const m1 = await join('fence', 'member-1', [topic], { assignor: 'range' });
    const ok = await commit('fence', m1, [[topic, 0, 5]]);
    expect(ok.results[0]?.error).toBeNull();
    const staleGeneration = { memberId: m1.memberId, epoch: m1.epoch };
    const m2 = await join('fence', 'member-2', [topic], { assignor: 'range' });
    await follow('fence', m1, [topic]); // told to revoke partition 1
    await follow('fence', m1, [topic]); // confirms; moves to the new generation
    await follow('fence', m2, [topic]);
    expect(m1.epoch).toBeGreaterThan(staleGeneration.epoch);
    await expectCode(commit('fence', staleGeneration, [[topic, 0, 6]]), 'STALE_MEMBER_EPOCH');
    const notOwner = await commit('fence', m1, [
      [topic, 0, 7],
      [topic, 1, 7],
    ]);
    expect(notOwner.results.map((r) => r.error?.code ?? null)).toEqual([null, 'NOT_PARTITION_OWNER']);
    await expectCode(commit('fence', { memberId: 'nobody', epoch: 1 }, [[topic, 0, 8]]), 'UNKNOWN_MEMBER_ID');
    await expectCode(commit('fence', { memberId: '', epoch: -1 }, [[topic, 0, 8]]), 'UNKNOWN_MEMBER_ID');
    const bad = await commit('fence', m1, [
      ['no-such-topic', 0, 1],
      [topic, 0, -3],
    ]);
    expect(bad.results.map((r) => r.error?.code)).toEqual(['UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_REQUEST']);
    const fetched = await b.call<object, OffsetFetchResponse__Output>('OffsetFetch', { groupId: 'fence' });
    expect(fetched.offsets.map((o) => [o.topic, o.partition, o.offset])).toEqual([[topic, 0, 7]]);
  });

  it('from outside the group are allowed only while it has no members', async () => {
    const topic = await newTopic(1);
    const res = await commit('outside', { memberId: '', epoch: -1 }, [[topic, 0, 3]]);
    expect(res.results[0]?.error).toBeNull();
    const fetched = await b.call<object, OffsetFetchResponse__Output>('OffsetFetch', {
      groupId: 'outside',
      partitions: [{ topic, partitions: [0] }],
    });
    expect(fetched.offsets[0]?.offset).toBe(3);
  });
});

describe('membership errors', () => {
  it('a heartbeat with the wrong epoch is fenced and the member loses its partitions', async () => {
    const topic = await newTopic(2);
    const m = await join('epoch', 'm', [topic]);
    await expectCode(
      heartbeat('epoch', { ...m, epoch: m.epoch + 5 }, { subscribedTopics: [topic] }),
      'FENCED_MEMBER_EPOCH',
    );
    const d = await describeGroup('epoch');
    expect(d.members).toEqual([]);
    expect(d.rebalances.at(-1)?.reason).toBe('fenced');
  });

  it('refuses a bad group id, assignor, session timeout and pattern', async () => {
    const topic = await newTopic(1);
    await expectCode(join('', 'm', [topic]), 'INVALID_GROUP_ID');
    await expectCode(join('g-bad', 'm', [topic], { assignor: 'fastest' }), 'UNSUPPORTED_ASSIGNOR');
    await expectCode(join('g-bad', 'm', [topic], { sessionTimeoutMs: 5 }), 'INVALID_SESSION_TIMEOUT');
    await expectCode(join('g-bad', 'm', [], { subscribedPattern: '(' }), 'INVALID_REGULAR_EXPRESSION');
    await expectCode(join('g-bad', 'm', []), 'INVALID_REQUEST');
    await join('g-bad', 'm', [topic], { assignor: 'range' });
    await expectCode(join('g-bad', 'm2', [topic], { assignor: 'sticky' }), 'INCONSISTENT_GROUP_PROTOCOL');
  });
});

describe('a pattern subscription', () => {
  it('picks up a matching topic created later', async () => {
    const m = await join('pattern', 'm', [], { subscribedPattern: 'pat-.*' });
    expect(m.owned).toEqual([]);
    await b.call('CreateTopic', { name: 'pat-one', partitions: 2 });
    await b.call('CreateTopic', { name: 'other', partitions: 1 });
    const res = await heartbeat('pattern', m, { subscribedPattern: 'pat-.*' });
    expect(flat(res.assignment)).toEqual([
      ['pat-one', 0],
      ['pat-one', 1],
    ]);
    expect((await describeGroup('pattern')).rebalances.at(-1)?.reason).toBe('partitions');
  });
});

describe('session timeout', () => {
  it('evicts a silent member and hands its partitions to the others', async () => {
    const topic = await newTopic(2);
    const live = await join('timeout', 'live', [topic], { assignor: 'range', sessionTimeoutMs: 60_000 });
    const silent = await join('timeout', 'silent', [topic], { assignor: 'range', sessionTimeoutMs: 150 });
    await follow('timeout', live, [topic]);
    await follow('timeout', live, [topic]);
    await follow('timeout', silent, [topic]);
    expect(silent.owned).toEqual([[topic, 1]]);
    for (let i = 0; i < 100 && live.owned.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await follow('timeout', live, [topic]);
    }
    expect(live.owned).toEqual([
      [topic, 0],
      [topic, 1],
    ]);
    const d = await describeGroup('timeout');
    expect(d.rebalances.at(-1)?.reason).toBe('session-timeout');
    await expectCode(follow('timeout', silent, [topic]), 'UNKNOWN_MEMBER_ID');
  });
});

describe('static membership', () => {
  it('a restarted member with the same instance id gets its partitions back without a rebalance', async () => {
    const topic = await newTopic(2);
    const a = await join('static', 'a', [topic], { assignor: 'range', instanceId: 'i-a' });
    const z = await join('static', 'z', [topic], { assignor: 'range', instanceId: 'i-z' });
    await follow('static', a, [topic]);
    await follow('static', a, [topic]);
    await follow('static', z, [topic]);
    const generation = (await describeGroup('static')).generation;
    const before = z.owned;
    // z leaves for a restart (-2), then comes back as a new process.
    await heartbeat('static', z, { memberEpoch: -2, instanceId: 'i-z', subscribedTopics: [topic] });
    const back = await join('static', 'z', [topic], { assignor: 'range', instanceId: 'i-z' });
    expect(back.owned).toEqual(before);
    expect(back.memberId).not.toBe(z.memberId);
    expect((await describeGroup('static')).generation).toBe(generation);
    // The old incarnation is fenced.
    await expectCode(
      heartbeat('static', { ...z, epoch: back.epoch }, { instanceId: 'i-z', subscribedTopics: [topic] }),
      'FENCED_INSTANCE_ID',
    );
    // Restarting without a leave (a crash) works the same way.
    const again = await join('static', 'z', [topic], { assignor: 'range', instanceId: 'i-z' });
    expect(again.owned).toEqual(before);
    expect((await describeGroup('static')).generation).toBe(generation);
  });
});

describe('graceful leave', () => {
  it('rebalances at once', async () => {
    const topic = await newTopic(2);
    const a = await join('leave', 'a', [topic], { assignor: 'range' });
    const z = await join('leave', 'z', [topic], { assignor: 'range' });
    await follow('leave', a, [topic]);
    await follow('leave', a, [topic]);
    await follow('leave', z, [topic]);
    await heartbeat('leave', z, { memberEpoch: -1, subscribedTopics: [topic] });
    await follow('leave', a, [topic]);
    expect(a.owned).toEqual([
      [topic, 0],
      [topic, 1],
    ]);
    expect((await describeGroup('leave')).rebalances.at(-1)?.reason).toBe('leave');
  });
});

describe('administration', () => {
  it('lists, describes with lag, resets (dry run first) and deletes a group', async () => {
    const topic = await newTopic(2);
    await b.call('Produce', {
      partitions: [0, 1].map((partition) => ({
        topic,
        partition,
        records: Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(`v${i}`) })),
      })),
    });
    const m = await join('admin', 'm', [topic]);
    await commit('admin', m, [
      [topic, 0, 4],
      [topic, 1, 10],
    ]);
    const listed = await b.call<object, { groups: { groupId: string; state: string; members: number }[] }>(
      'ListGroups',
      {},
    );
    expect(listed.groups.find((g) => g.groupId === 'admin')).toMatchObject({ state: 'Stable', members: 1 });
    const d = await describeGroup('admin');
    expect(d.offsets.map((o) => [o.partition, o.committed, o.highWatermark, o.lag])).toEqual([
      [0, 4, 10, 6],
      [1, 10, 10, 0],
    ]);
    await expectCode(b.call('DeleteGroup', { groupId: 'admin' }), 'NON_EMPTY_GROUP');
    await expectCode(b.call('ResetOffsets', { groupId: 'admin', topic, earliest: true }), 'NON_EMPTY_GROUP');
    await heartbeat('admin', m, { memberEpoch: -1 });
    const dry = await b.call<
      object,
      { offsets: { partition: number; previous: number; offset: number }[]; executed: boolean }
    >('ResetOffsets', { groupId: 'admin', topic, shiftBy: -3 });
    expect(dry.executed).toBe(false);
    expect(dry.offsets.map((o) => [o.partition, o.previous, o.offset])).toEqual([
      [0, 4, 1],
      [1, 10, 7],
    ]);
    expect((await describeGroup('admin')).offsets.map((o) => o.committed)).toEqual([4, 10]);
    await b.call('ResetOffsets', { groupId: 'admin', topic, partitions: [1], offset: 99, execute: true });
    expect((await describeGroup('admin')).offsets.map((o) => o.committed)).toEqual([4, 10]);
    await b.call('ResetOffsets', { groupId: 'admin', topic, partitions: [1], offset: 2, execute: true });
    expect((await describeGroup('admin')).offsets.map((o) => o.committed)).toEqual([4, 2]);
    await b.call('DeleteGroup', { groupId: 'admin' });
    await expectCode(describeGroup('admin'), 'GROUP_ID_NOT_FOUND');
    await expectCode(b.call('DeleteGroup', { groupId: 'admin' }), 'GROUP_ID_NOT_FOUND');
  });
});

describe('the internal topic', () => {
  it('cannot be written by clients', async () => {
    await b.call('FindCoordinator', { groupId: 'any' });
    const res = await b.call<object, { results: { error: { code: string } | null }[] }>('Produce', {
      partitions: [{ topic: OFFSETS_TOPIC, partition: 0, records: [{ value: Buffer.from('x') }] }],
    });
    expect(res.results[0]?.error?.code).toBe('POLICY_VIOLATION');
  });

  it('forgets the commits of a deleted topic', async () => {
    const topic = await newTopic(2);
    await commit('forget', { memberId: '', epoch: -1 }, [
      [topic, 0, 1],
      [topic, 1, 1],
    ]);
    await b.call('DeleteTopic', { name: topic });
    for (let i = 0; i < 100; i++) {
      const fetched = await b.call<object, OffsetFetchResponse__Output>('OffsetFetch', { groupId: 'forget' });
      if (fetched.offsets.length === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the commits of the deleted topic are still there');
  });
});

describe('coordinator lookup', () => {
  afterEach(() => {
    delete (b.running.broker as unknown as { leaderOf?: unknown }).leaderOf;
  });

  it("maps a group to its __consumer_offsets partition with Kafka's hash", async () => {
    const found = await b.call<object, { partition: number; coordinator: { nodeId: number } }>(
      'FindCoordinator',
      {
        groupId: 'lookup',
      },
    );
    expect(found.partition).toBe(groupHash('lookup') % 16);
    expect(found.coordinator.nodeId).toBe(b.running.nodeId);
    // Java's "lookup".hashCode() is -1097094790 and "polygenelubricants".hashCode() is
    // Integer.MIN_VALUE, which Kafka's Utils.abs maps to 0.
    expect(groupHash('lookup')).toBe(1097094790);
    expect(groupHash('polygenelubricants')).toBe(0);
    const topics = await b.call<
      object,
      { topics: { name: string; internal: boolean; partitions: number }[] }
    >('ListTopics', { includeInternal: true });
    expect(topics.topics.find((t) => t.name === OFFSETS_TOPIC)).toEqual({
      name: OFFSETS_TOPIC,
      internal: true,
      partitions: 16,
    });
  });

  it('a broker that does not lead the group partition answers NOT_COORDINATOR', async () => {
    const other = { nodeId: 7, host: '127.0.0.9', grpcPort: 9999, httpPort: 0 };
    (b.running.broker as unknown as { leaderOf: () => unknown }).leaderOf = () => other;
    const err = await join('moved', 'm', ['x']).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isWeirError(err, 'NOT_COORDINATOR')).toBe(true);
    expect((err as Error).message).toContain('127.0.0.9:9999');
  });
});

describe('on a broker without groups', () => {
  it('reads do not create __consumer_offsets; the first membership call does', async () => {
    const fresh = await startTestBroker(GROUP_CONFIG);
    try {
      const internal = async (): Promise<string[]> =>
        (
          await fresh.call<object, { topics: { name: string }[] }>('ListTopics', { includeInternal: true })
        ).topics.map((t) => t.name);
      await expectCode(fresh.call('DescribeGroup', { groupId: 'g' }), 'GROUP_ID_NOT_FOUND');
      await expectCode(fresh.call('DeleteGroup', { groupId: 'g' }), 'GROUP_ID_NOT_FOUND');
      const fetched = await fresh.call<object, OffsetFetchResponse__Output>('OffsetFetch', {
        groupId: 'g',
        partitions: [{ topic: 't', partitions: [0] }],
      });
      expect(fetched.offsets.map((o) => o.offset)).toEqual([-1]);
      expect(await internal()).toEqual([]);
      await fresh.call('FindCoordinator', { groupId: 'g' });
      expect(await internal()).toEqual([OFFSETS_TOPIC]);
    } finally {
      await fresh.close();
      removeDir(fresh.dataDir);
    }
  });
});

describe('commits across a restart', () => {
  it('are rebuilt from __consumer_offsets', async () => {
    const dir = tempDir();
    let broker = await startTestBroker(GROUP_CONFIG, dir);
    try {
      await broker.call('CreateTopic', { name: 'kept', partitions: 3 });
      for (let i = 0; i < 3; i++) {
        await broker.call('OffsetCommit', {
          groupId: `g${i}`,
          memberId: '',
          generation: -1,
          partitions: [0, 1, 2].map((p) => ({
            topic: 'kept',
            partition: p,
            offset: 10 * i + p,
            metadata: `m${p}`,
          })),
        });
      }
      // A newer commit replaces the older one; a deleted group stays deleted.
      await broker.call('OffsetCommit', {
        groupId: 'g0',
        memberId: '',
        generation: -1,
        partitions: [{ topic: 'kept', partition: 1, offset: 42, metadata: 'newer' }],
      });
      await broker.call('DeleteGroup', { groupId: 'g2' });
      await broker.close();
      broker = await startTestBroker(GROUP_CONFIG, dir);
      const g0 = await broker.call<object, OffsetFetchResponse__Output>('OffsetFetch', { groupId: 'g0' });
      expect(g0.offsets.map((o) => [o.partition, o.offset, o.metadata])).toEqual([
        [0, 0, 'm0'],
        [1, 42, 'newer'],
        [2, 2, 'm2'],
      ]);
      const g1 = await broker.call<object, OffsetFetchResponse__Output>('OffsetFetch', { groupId: 'g1' });
      expect(g1.offsets.map((o) => o.offset)).toEqual([10, 11, 12]);
      const listed = await broker.call<object, { groups: { groupId: string }[] }>('ListGroups', {});
      expect(listed.groups.map((g) => g.groupId)).toEqual(['g0', 'g1']);
    } finally {
      await broker.close();
      removeDir(dir);
    }
  });
});
