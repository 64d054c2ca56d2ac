// The consumer group state machine, one scenario at a time: who gets what when members join,
// confirm revocations, time out, leave and come back, and which requests it refuses. Time is
// explicit, so every deadline is crossed on purpose. The randomized counterpart is
// group-simulation.test.ts.

import { describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../../broker/group/assignors.js';
import {
  ConsumerGroup,
  JOIN_EPOCH,
  LEAVE_EPOCH,
  PENDING_HEARTBEAT_DIVISOR,
  STATIC_LEAVE_EPOCH,
  type GroupContext,
  type GroupLimits,
  type HeartbeatRequest,
  type HeartbeatResult,
  type MemberDescription,
} from '../../../broker/group/consumer-group.js';
import { codeOf } from './error-code.js';

const LIMITS: GroupLimits = {
  heartbeatIntervalMs: 1000,
  sessionTimeoutMs: 10_000,
  minSessionTimeoutMs: 1000,
  maxSessionTimeoutMs: 60_000,
  rebalanceTimeoutMs: 5000,
  maxHistory: 50,
};

/** 't-0' ⇄ { topic: 't', partition: 0 }, so assignments read as lists of names. */
const tp = (name: string): TopicPartition => {
  const i = name.lastIndexOf('-');
  return { topic: name.slice(0, i), partition: Number(name.slice(i + 1)) };
};
const names = (tps: readonly TopicPartition[]): string[] => tps.map((x) => `${x.topic}-${x.partition}`);

interface Member {
  readonly clientId: string;
  readonly instanceId: string;
  memberId: string;
  epoch: number;
  /** What it consumes: the last assignment, minus what it gave up. */
  owned: string[];
}

/** One group, its topics and a clock; members heartbeat through it. */
class Fixture {
  now = 0;
  private ids = 0;
  readonly topics = new Map<string, number>();
  readonly group = new ConsumerGroup('g');

  constructor(topics: Record<string, number>) {
    for (const [t, n] of Object.entries(topics)) this.topics.set(t, n);
  }

  ctx(): GroupContext {
    return {
      now: this.now,
      topics: {
        partitionCount: (t) => this.topics.get(t) ?? 0,
        topicNames: () => [...this.topics.keys()],
      },
      limits: LIMITS,
      newMemberId: (clientId) => `${clientId}-${++this.ids}`,
    };
  }

  request(m: Member, extra: Partial<HeartbeatRequest> = {}): HeartbeatRequest {
    return {
      memberId: m.memberId,
      memberEpoch: m.epoch,
      instanceId: m.instanceId,
      clientId: m.clientId,
      host: 'localhost',
      sessionTimeoutMs: 0,
      rebalanceTimeoutMs: 0,
      subscribedTopics: ['t'],
      subscribedPattern: '',
      assignor: 'range',
      owned: m.owned.map(tp),
      ...extra,
    };
  }

  /** A member joins (epoch 0) and takes what the answer gives it. */
  join(clientId: string, extra: Partial<HeartbeatRequest> = {}, instanceId = ''): Member {
    const m: Member = { clientId, instanceId, memberId: '', epoch: JOIN_EPOCH, owned: [] };
    this.heartbeat(m, extra);
    return m;
  }

  /**
   * A heartbeat with what the member owns; it then follows the answer: it starts what is new and
   * gives up (and will confirm next time) what is missing, as a member that revokes at once does.
   */
  heartbeat(m: Member, extra: Partial<HeartbeatRequest> = {}): HeartbeatResult {
    const res = this.group.heartbeat(this.request(m, extra), this.ctx());
    m.memberId = res.memberId;
    m.epoch = res.memberEpoch;
    m.owned = names(res.assignment);
    return res;
  }

  describe(m: Member): MemberDescription {
    const d = this.group.describeMembers().find((x) => x.memberId === m.memberId);
    if (d === undefined) throw new Error(`${m.memberId} is not a member`);
    return d;
  }

  /** Every partition the coordinator counts as someone's (given or being revoked), by owner. */
  owners(): Record<string, string> {
    return Object.fromEntries(
      [...this.group.ownedPartitions()].map(([k, id]) => [names([splitKey(k)])[0], id]),
    );
  }
}

function splitKey(key: string): TopicPartition {
  const i = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

describe('given an empty group and a topic of 3 partitions', () => {
  it('the first member to join gets every partition, at generation 1', () => {
    const f = new Fixture({ t: 3 });
    const a = f.join('a');
    expect(a.owned).toEqual(['t-0', 't-1', 't-2']);
    expect(a.epoch).toBe(1);
    expect(f.group.generation).toBe(1);
    expect(f.group.state).toBe('Stable');
    expect(f.group.assignorName).toBe('range');
    expect(f.group.rebalances()).toEqual([
      { generation: 1, reason: 'join', memberId: a.memberId, timestamp: 0 },
    ]);
  });
});

describe('when a second member joins', () => {
  it('the first is asked to revoke, and the partition goes to the second only after the first confirms', () => {
    const f = new Fixture({ t: 3 });
    const a = f.join('a');
    const b = f.join('b');
    // Range gives a [0, 1] and b [2]; t-2 is still a's, so b starts with nothing.
    expect(b.owned).toEqual([]);
    expect(b.epoch).toBe(2);
    expect(f.group.state).toBe('Reconciling');

    // a hears of the new generation: t-2 is revoked but a has not confirmed; a stays at epoch 1.
    const res = f.group.heartbeat(f.request(a), f.ctx());
    expect(names(res.assignment)).toEqual(['t-0', 't-1']);
    expect(res.memberEpoch).toBe(1);
    expect(names(f.describe(a).pendingRevocation)).toEqual(['t-2']);
    expect(f.owners()['t-2']).toBe(a.memberId);
    // a may still commit t-2 (before confirming), at its epoch.
    expect(f.group.checkCommit(a.memberId, 1, [tp('t-2')])).toEqual(new Set());
    // b asks again and still does not get t-2; while it waits it heartbeats five times as often.
    expect(f.heartbeat(b).heartbeatIntervalMs).toBe(LIMITS.heartbeatIntervalMs / PENDING_HEARTBEAT_DIVISOR);
    expect(b.owned).toEqual([]);

    // a confirms by leaving t-2 out of what it owns, and reaches epoch 2.
    f.now += 100;
    f.heartbeat(a, { owned: [tp('t-0'), tp('t-1')] });
    expect(a.epoch).toBe(2);
    expect(f.describe(a).pendingRevocation).toEqual([]);
    expect(f.owners()['t-2']).toBeUndefined();

    expect(f.heartbeat(b).heartbeatIntervalMs).toBe(LIMITS.heartbeatIntervalMs);
    expect(b.owned).toEqual(['t-2']);
    expect(f.group.state).toBe('Stable');
    expect(f.owners()).toEqual({ 't-0': a.memberId, 't-1': a.memberId, 't-2': b.memberId });
  });

  it('partitions that do not move stay with their member at every step', () => {
    const f = new Fixture({ t: 4, u: 2 });
    const sticky = { assignor: 'sticky', subscribedTopics: ['t', 'u'] };
    const a = f.join('a', sticky);
    expect(a.owned).toHaveLength(6);
    const b = f.join('b', sticky);
    // Whatever sticky moves to b, a keeps the rest through the whole rebalance.
    f.heartbeat(a, sticky);
    const kept = [...a.owned];
    const moving = names(f.describe(a).pendingRevocation);
    expect(kept).toHaveLength(3);
    expect(moving).toHaveLength(3);
    const unaffected = (): void => {
      for (const name of kept) expect(f.owners()[name]).toBe(a.memberId);
      expect(f.describe(a).assignment.length).toBeGreaterThanOrEqual(3);
      for (const name of kept) expect(names(f.describe(a).assignment)).toContain(name);
    };
    unaffected();
    f.heartbeat(b, sticky);
    unaffected();
    f.heartbeat(a, { ...sticky, owned: kept.map(tp) });
    unaffected();
    f.heartbeat(b, sticky);
    unaffected();
    expect([...b.owned].sort()).toEqual([...moving].sort());
    expect(f.group.state).toBe('Stable');
  });
});

describe('deadlines', () => {
  it('a member that stops heartbeating is evicted at its session timeout, and its partitions move', () => {
    const f = new Fixture({ t: 2 });
    const a = f.join('a');
    const b = f.join('b', { sessionTimeoutMs: 3000 });
    f.heartbeat(a); // told to give up t-1
    f.heartbeat(a); // confirms
    f.heartbeat(b);
    expect(b.owned).toEqual(['t-1']);
    expect(f.group.state).toBe('Stable');

    // a keeps heartbeating; b goes silent.
    f.now = 2999;
    f.heartbeat(a);
    expect(f.group.expire(f.ctx())).toEqual([]);
    f.now = 3000;
    expect(f.group.nextDeadline()).toBe(3000);
    expect(f.group.expire(f.ctx())).toEqual([b.memberId]);
    expect(f.group.rebalances().at(-1)).toEqual({
      generation: 3,
      reason: 'session-timeout',
      memberId: b.memberId,
      timestamp: 3000,
    });
    f.heartbeat(a);
    expect(a.owned).toEqual(['t-0', 't-1']);
    expect(a.epoch).toBe(3);
    // b wakes up: its heartbeat and its commits are refused.
    expect(codeOf(() => f.heartbeat(b))).toBe('UNKNOWN_MEMBER_ID');
    expect(codeOf(() => f.group.checkCommit(b.memberId, b.epoch, [tp('t-1')]))).toBe('UNKNOWN_MEMBER_ID');
  });

  it('a member that heartbeats but never confirms a revocation is evicted at its rebalance timeout', () => {
    const f = new Fixture({ t: 2 });
    const a = f.join('a', { rebalanceTimeoutMs: 2000 });
    const b = f.join('b');
    f.now = 500;
    // a is told to give up t-1 but keeps reporting it as owned.
    f.group.heartbeat(f.request(a, { rebalanceTimeoutMs: 2000 }), f.ctx());
    expect(names(f.describe(a).pendingRevocation)).toEqual(['t-1']);
    for (f.now = 1000; f.now < 2500; f.now += 500) {
      f.group.heartbeat(f.request(a, { rebalanceTimeoutMs: 2000 }), f.ctx());
      expect(f.group.expire(f.ctx())).toEqual([]);
    }
    expect(f.now).toBe(2500);
    expect(f.group.nextDeadline()).toBe(2500);
    expect(f.group.expire(f.ctx())).toEqual([a.memberId]);
    expect(f.group.rebalances().at(-1)).toMatchObject({ reason: 'rebalance-timeout', memberId: a.memberId });
    f.heartbeat(b);
    expect(b.owned).toEqual(['t-0', 't-1']);
    expect(codeOf(() => f.group.checkCommit(a.memberId, a.epoch, [tp('t-1')]))).toBe('UNKNOWN_MEMBER_ID');
  });
});

describe('static membership', () => {
  it('a member that leaves with -2 and comes back keeps its partitions, and the generation does not move', () => {
    const f = new Fixture({ t: 2 });
    const s = f.join('s', {}, 'instance-1');
    const d = f.join('d');
    f.heartbeat(s);
    f.heartbeat(s);
    f.heartbeat(d);
    expect(f.group.state).toBe('Stable');
    const generation = f.group.generation;
    const history = f.group.rebalances().length;
    const before = { epoch: s.epoch, owned: [...s.owned] };

    f.now = 1000;
    const left = f.group.heartbeat(f.request(s, { memberEpoch: STATIC_LEAVE_EPOCH, owned: [] }), f.ctx());
    expect(left.memberEpoch).toBe(STATIC_LEAVE_EPOCH);
    expect(f.group.generation).toBe(generation);
    // Its partitions wait for it.
    expect(before.owned).toHaveLength(1);
    for (const name of before.owned) expect(f.owners()[name]).toBe(s.memberId);

    f.now = 5000;
    const oldId = s.memberId;
    const back = f.join('s', {}, 'instance-1');
    expect(back.memberId).not.toBe(oldId);
    expect(back.epoch).toBe(before.epoch);
    expect(back.owned).toEqual(before.owned);
    expect(f.group.generation).toBe(generation);
    expect(f.group.rebalances()).toHaveLength(history);
    expect(f.group.state).toBe('Stable');

    // The old incarnation is fenced by the instance id.
    expect(codeOf(() => f.group.heartbeat(f.request({ ...s, memberId: oldId }), f.ctx()))).toBe(
      'FENCED_INSTANCE_ID',
    );
  });

  it('a static member back after its session timeout joins as a new member', () => {
    const f = new Fixture({ t: 2 });
    const s = f.join('s', { sessionTimeoutMs: 2000 }, 'instance-1');
    f.join('d');
    f.now = 2000;
    expect(f.group.expire(f.ctx())).toEqual([s.memberId]);
    const generation = f.group.generation;
    f.join('s', { sessionTimeoutMs: 2000 }, 'instance-1');
    expect(f.group.generation).toBe(generation + 1);
    expect(f.group.rebalances().at(-1)?.reason).toBe('join');
  });

  it('a second process with a taken instance id takes it over; the first is fenced', () => {
    const f = new Fixture({ t: 1 });
    const first = f.join('p1', {}, 'instance-1');
    const second = f.join('p2', {}, 'instance-1');
    expect(second.owned).toEqual(['t-0']);
    expect(codeOf(() => f.heartbeat(first))).toBe('FENCED_INSTANCE_ID');
    expect(f.group.size).toBe(1);
  });
});

describe('leaving', () => {
  it('a member that leaves with -1 is gone at once and its partitions go to the others', () => {
    const f = new Fixture({ t: 2 });
    const a = f.join('a');
    const b = f.join('b');
    f.heartbeat(a);
    f.heartbeat(a);
    f.heartbeat(b);
    const res = f.group.heartbeat(f.request(b, { memberEpoch: LEAVE_EPOCH, owned: [] }), f.ctx());
    expect(res).toMatchObject({ memberEpoch: LEAVE_EPOCH, assignment: [] });
    expect(f.group.rebalances().at(-1)).toMatchObject({ reason: 'leave', memberId: b.memberId });
    f.heartbeat(a);
    expect(a.owned).toEqual(['t-0', 't-1']);
    expect(f.group.state).toBe('Stable');
  });
});

describe('refused heartbeats', () => {
  it('a wrong member epoch is FENCED_MEMBER_EPOCH: the member is removed and its partitions freed', () => {
    const f = new Fixture({ t: 2 });
    const a = f.join('a');
    const b = f.join('b');
    expect(codeOf(() => f.heartbeat({ ...a, epoch: a.epoch + 1 }))).toBe('FENCED_MEMBER_EPOCH');
    expect(f.group.rebalances().at(-1)).toMatchObject({ reason: 'fenced', memberId: a.memberId });
    expect(f.group.size).toBe(1);
    f.heartbeat(b);
    expect(b.owned).toEqual(['t-0', 't-1']);
    // It rejoins with epoch 0 under the same id, as a new member holding nothing at first.
    const generation = f.group.generation;
    const again = f.join('a', { memberId: a.memberId });
    expect(again.memberId).toBe(a.memberId);
    expect(again.owned).toEqual([]);
    expect(f.group.generation).toBe(generation + 1);
  });

  it('a heartbeat resent after its answer was lost is taken, if the member owns what it says', () => {
    const f = new Fixture({ t: 2 });
    const a = f.join('a');
    f.join('b');
    f.heartbeat(a); // told to give up t-1; a still holds epoch 1
    expect(a.epoch).toBe(1);
    // a confirms and moves to epoch 2, but the answer never reaches it.
    const lost = f.group.heartbeat(f.request(a), f.ctx());
    expect(lost.memberEpoch).toBe(2);
    // It sends the same heartbeat again, with epoch 1: taken, and answered with epoch 2.
    const retried = f.group.heartbeat(f.request(a), f.ctx());
    expect([retried.memberEpoch, names(retried.assignment)]).toEqual([2, ['t-0']]);
    // With epoch 1 and a partition that is no longer its own, it is fenced.
    expect(codeOf(() => f.heartbeat({ ...a, owned: ['t-0', 't-1'] }))).toBe('FENCED_MEMBER_EPOCH');
  });

  it('a join sent again after its answer was lost finds the member it made, not a second one', () => {
    const f = new Fixture({ t: 2 });
    const first = f.group.heartbeat(
      f.request({ clientId: 'a', instanceId: '', memberId: 'a-chosen', epoch: 0, owned: [] }),
      f.ctx(),
    );
    expect(first.memberId).toBe('a-chosen');
    const again = f.group.heartbeat(
      f.request({ clientId: 'a', instanceId: '', memberId: 'a-chosen', epoch: 0, owned: [] }),
      f.ctx(),
    );
    expect(again.memberId).toBe('a-chosen');
    expect(f.group.size).toBe(1);
    expect(names(again.assignment)).toEqual(['t-0', 't-1']);
  });

  it('a different assignor from a non-empty group is INCONSISTENT_GROUP_PROTOCOL', () => {
    const f = new Fixture({ t: 1 });
    f.join('a', { assignor: 'range' });
    expect(codeOf(() => f.join('b', { assignor: 'sticky' }))).toBe('INCONSISTENT_GROUP_PROTOCOL');
    // Leaving the assignor to the group is fine.
    expect(codeOf(() => f.join('c', { assignor: '' }))).toBe('no error');
  });

  it('an unknown assignor is UNSUPPORTED_ASSIGNOR', () => {
    const f = new Fixture({ t: 1 });
    expect(codeOf(() => f.join('a', { assignor: 'cooperative-magic' }))).toBe('UNSUPPORTED_ASSIGNOR');
    expect(f.group.size).toBe(0);
  });

  it('a session timeout outside the broker bounds is INVALID_SESSION_TIMEOUT', () => {
    const f = new Fixture({ t: 1 });
    expect(codeOf(() => f.join('a', { sessionTimeoutMs: 999 }))).toBe('INVALID_SESSION_TIMEOUT');
    expect(codeOf(() => f.join('a', { sessionTimeoutMs: 60_001 }))).toBe('INVALID_SESSION_TIMEOUT');
    expect(codeOf(() => f.join('a', { sessionTimeoutMs: 1500.5 }))).toBe('INVALID_SESSION_TIMEOUT');
    expect(codeOf(() => f.join('a', { sessionTimeoutMs: 1000 }))).toBe('no error');
  });

  it('a pattern that is not a regular expression is INVALID_REGULAR_EXPRESSION, no subscription INVALID_REQUEST', () => {
    const f = new Fixture({ t: 1 });
    expect(codeOf(() => f.join('a', { subscribedTopics: [], subscribedPattern: '(unclosed' }))).toBe(
      'INVALID_REGULAR_EXPRESSION',
    );
    expect(codeOf(() => f.join('a', { subscribedTopics: [], subscribedPattern: '' }))).toBe(
      'INVALID_REQUEST',
    );
    expect(f.group.size).toBe(0);
  });
});

describe('a pattern subscription', () => {
  it('picks up a matching topic created later, after topicsChanged', () => {
    const f = new Fixture({ 'logs-a': 1, other: 2 });
    const sub = { subscribedTopics: [], subscribedPattern: 'logs-.*' };
    const a = f.join('a', sub);
    expect(a.owned).toEqual(['logs-a-0']);

    // A topic the pattern does not match changes nothing.
    f.topics.set('audit', 1);
    expect(f.group.topicsChanged(f.ctx())).toBe(false);

    f.topics.set('logs-b', 2);
    expect(f.group.topicsChanged(f.ctx())).toBe(true);
    expect(f.group.rebalances().at(-1)).toMatchObject({ reason: 'partitions', generation: 2 });
    f.heartbeat(a, sub);
    expect(a.owned).toEqual(['logs-a-0', 'logs-b-0', 'logs-b-1']);
    expect(a.epoch).toBe(2);

    // A partition added to a matching topic, too.
    f.topics.set('logs-a', 2);
    expect(f.group.topicsChanged(f.ctx())).toBe(true);
    f.heartbeat(a, sub);
    expect(a.owned).toEqual(['logs-a-0', 'logs-a-1', 'logs-b-0', 'logs-b-1']);
  });
});

describe('checkCommit', () => {
  it('accepts the owner at its epoch, including a partition it is revoking', () => {
    const f = new Fixture({ t: 2 });
    const a = f.join('a');
    expect(f.group.checkCommit(a.memberId, a.epoch, [tp('t-0'), tp('t-1')])).toEqual(new Set());
  });

  it('a commit from an older generation is STALE_MEMBER_EPOCH', () => {
    const f = new Fixture({ t: 2 });
    const a = f.join('a');
    f.join('b');
    f.heartbeat(a);
    f.heartbeat(a); // confirms t-1, reaches epoch 2
    expect(a.epoch).toBe(2);
    expect(codeOf(() => f.group.checkCommit(a.memberId, 1, [tp('t-0')]))).toBe('STALE_MEMBER_EPOCH');
  });

  it('refuses the partitions the member does not own, and only those', () => {
    const f = new Fixture({ t: 2 });
    const a = f.join('a');
    const b = f.join('b');
    f.heartbeat(a);
    f.heartbeat(a);
    f.heartbeat(b);
    expect(b.owned).toEqual(['t-1']);
    const refused = f.group.checkCommit(b.memberId, b.epoch, [tp('t-0'), tp('t-1'), tp('nope-0')]);
    expect([...refused].map(splitKey)).toEqual([tp('t-0'), tp('nope-0')]);
  });

  it('an unknown member is UNKNOWN_MEMBER_ID', () => {
    const f = new Fixture({ t: 1 });
    f.join('a');
    expect(codeOf(() => f.group.checkCommit('ghost', 1, [tp('t-0')]))).toBe('UNKNOWN_MEMBER_ID');
  });

  it('a commit from outside the group is refused while it has members and allowed once it is empty', () => {
    const f = new Fixture({ t: 1 });
    const a = f.join('a');
    expect(codeOf(() => f.group.checkCommit('', -1, [tp('t-0')]))).toBe('UNKNOWN_MEMBER_ID');
    f.group.heartbeat(f.request(a, { memberEpoch: LEAVE_EPOCH, owned: [] }), f.ctx());
    expect(f.group.size).toBe(0);
    expect(f.group.state).toBe('Empty');
    expect(f.group.checkCommit('', -1, [tp('t-0')])).toEqual(new Set());
  });
});
