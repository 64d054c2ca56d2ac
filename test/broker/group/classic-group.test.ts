// The classic group state machine (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), one scenario at
// a time: held joins answered at the barrier, the leader's bytes handed to each member unchanged,
// generations, timeouts crossed on purpose, and static members replacing themselves.

import { describe, expect, it } from 'vitest';
import {
  ClassicGroup,
  type ClassicReply,
  type JoinAnswer,
  type JoinRequest,
  type SyncAnswer,
} from '../../../broker/group/classic-group.js';
import type { GroupContext, GroupLimits } from '../../../broker/group/group-protocol.js';
import { WeirError } from '../../../proto/errors.js';
import { codeOf } from './error-code.js';

const LIMITS: GroupLimits = {
  heartbeatIntervalMs: 1000,
  sessionTimeoutMs: 10_000,
  minSessionTimeoutMs: 1000,
  maxSessionTimeoutMs: 60_000,
  rebalanceTimeoutMs: 5000,
  maxHistory: 50,
};

const SESSION = 10_000;
const REBALANCE = 5000;

class Fixture {
  now = 0;
  private ids = 0;
  private tickets = 0;
  readonly group = new ClassicGroup('g');
  /** Every reply given, by ticket. */
  readonly replies = new Map<number, ClassicReply>();

  ctx(): GroupContext {
    return {
      now: this.now,
      topics: { partitionCount: () => 0, topicNames: () => [] },
      limits: LIMITS,
      newMemberId: (clientId) => `${clientId}-${++this.ids}`,
    };
  }

  private take(replies: ClassicReply[]): void {
    for (const r of replies) {
      expect(this.replies.has(r.ticket), `ticket ${r.ticket} answered twice`).toBe(false);
      this.replies.set(r.ticket, r);
    }
  }

  joinRequest(memberId: string, extra: Partial<JoinRequest> = {}): JoinRequest {
    return {
      memberId,
      instanceId: null,
      clientId: 'c',
      host: 'h',
      sessionTimeoutMs: SESSION,
      rebalanceTimeoutMs: REBALANCE,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from(`meta-${memberId}`) }],
      requireKnownMemberId: true,
      ...extra,
    };
  }

  /** Sends a JoinGroup; returns its ticket (look the answer up with joinAnswer). */
  join(memberId: string, extra: Partial<JoinRequest> = {}): number {
    const ticket = ++this.tickets;
    this.take(this.group.join(this.joinRequest(memberId, extra), ticket, this.ctx()));
    return ticket;
  }

  /** A new member's two joins (MEMBER_ID_REQUIRED, then with the id); returns its id and ticket. */
  newMember(clientId: string, extra: Partial<JoinRequest> = {}): { id: string; ticket: number } {
    const first = this.join('', { clientId, ...extra });
    const answer = this.joinAnswer(first)!;
    expect(answer.error?.code).toBe('MEMBER_ID_REQUIRED');
    return { id: answer.memberId, ticket: this.join(answer.memberId, { clientId, ...extra }) };
  }

  joinAnswer(ticket: number): JoinAnswer | undefined {
    const r = this.replies.get(ticket);
    return r !== undefined && 'join' in r ? r.join : undefined;
  }

  sync(memberId: string, generation: number, assignments: Record<string, string> = {}): number {
    const ticket = ++this.tickets;
    const list = Object.entries(assignments).map(([id, a]) => ({ memberId: id, assignment: Buffer.from(a) }));
    this.take(
      this.group.sync(
        { memberId, instanceId: null, generation, protocolType: null, protocolName: null, assignments: list },
        ticket,
        this.ctx(),
      ),
    );
    return ticket;
  }

  syncAnswer(ticket: number): SyncAnswer | undefined {
    const r = this.replies.get(ticket);
    return r !== undefined && 'sync' in r ? r.sync : undefined;
  }

  heartbeat(memberId: string, generation: number, instanceId: string | null = null): string {
    return codeOf(() => this.group.heartbeat({ memberId, instanceId, generation }, this.ctx()));
  }

  tick(ms: number): string[] {
    this.now += ms;
    const { expired, replies } = this.group.tick(this.ctx());
    this.take(replies);
    return expired;
  }

  /** Two members through a whole rebalance: a is leader of generation 1... then b joins. */
  twoStable(): { a: string; b: string; generation: number } {
    const a = this.newMember('a');
    const genA = this.joinAnswer(a.ticket)!.generation;
    this.sync(a.id, genA, { [a.id]: 'A' });
    const b = this.newMember('b');
    expect(this.joinAnswer(b.ticket)).toBeUndefined();
    expect(this.heartbeat(a.id, genA)).toBe('REBALANCE_IN_PROGRESS');
    const aAgain = this.join(a.id);
    const generation = this.joinAnswer(aAgain)!.generation;
    const sb = this.sync(b.id, generation);
    this.sync(a.id, generation, { [a.id]: 'A2', [b.id]: 'B2' });
    expect(this.syncAnswer(sb)!.assignment.toString()).toBe('B2');
    return { a: a.id, b: b.id, generation };
  }
}

describe('a classic group', () => {
  it('asks a new member to join again with an id (v4+), then forms generation 1 with it as leader', () => {
    const f = new Fixture();
    const first = f.join('');
    const asked = f.joinAnswer(first)!;
    expect(asked.error?.code).toBe('MEMBER_ID_REQUIRED');
    expect(asked.memberId).not.toBe('');
    expect(f.group.size).toBe(1);
    const second = f.join(asked.memberId);
    const answer = f.joinAnswer(second)!;
    expect(answer).toMatchObject({
      error: null,
      generation: 1,
      protocolName: 'range',
      leader: asked.memberId,
    });
    expect(answer.members.map((m) => m.metadata.toString())).toEqual([`meta-${asked.memberId}`]);
    expect(f.group.state).toBe('CompletingRebalance');
  });

  it('takes a member without an id at once from a client older than v4', () => {
    const f = new Fixture();
    const t = f.join('', { requireKnownMemberId: false });
    expect(f.joinAnswer(t)).toMatchObject({ error: null, generation: 1 });
  });

  it('holds joins at the barrier until every member rejoined, and gives only the leader the members', () => {
    const f = new Fixture();
    const { a, b, generation } = f.twoStable();
    expect(generation).toBe(2);
    expect(f.group.state).toBe('Stable');
    expect(f.group.leader).toBe(a);
    // The leader rejoins: the group gathers again and b's heartbeat says so.
    const ta = f.join(a);
    expect(f.joinAnswer(ta)).toBeUndefined();
    expect(f.heartbeat(b, generation)).toBe('REBALANCE_IN_PROGRESS');
    const tb = f.join(b);
    const ja = f.joinAnswer(ta)!;
    const jb = f.joinAnswer(tb)!;
    expect(ja.generation).toBe(3);
    expect(jb.generation).toBe(3);
    expect(ja.members.map((m) => m.memberId).sort()).toEqual([a, b].sort());
    expect(jb.members).toEqual([]);
    expect(jb.leader).toBe(a);
  });

  it("passes the leader's assignment bytes to each member unchanged; followers wait for it", () => {
    const f = new Fixture();
    const { a, b, generation } = f.twoStable();
    f.join(a);
    f.join(b);
    const next = generation + 1;
    const sb = f.sync(b, next);
    expect(f.syncAnswer(sb)).toBeUndefined();
    const bytes = '\u0000\u0001binary\u00ff';
    const sa = f.sync(a, next, { [a]: 'for a', [b]: bytes });
    expect(f.syncAnswer(sa)!.assignment.toString()).toBe('for a');
    expect(f.syncAnswer(sb)!.assignment.toString()).toBe(bytes);
    // A sync in the stable group gets the same bytes again.
    expect(f.syncAnswer(f.sync(b, next))!.assignment.toString()).toBe(bytes);
  });

  it('refuses a stale generation, an unknown member and a sync while gathering', () => {
    const f = new Fixture();
    const { a, b, generation } = f.twoStable();
    expect(f.heartbeat(a, generation)).toBe('no error');
    expect(f.heartbeat(a, generation - 1)).toBe('ILLEGAL_GENERATION');
    expect(f.heartbeat('nobody', generation)).toBe('UNKNOWN_MEMBER_ID');
    expect(f.syncAnswer(f.sync(b, generation - 1))!.error?.code).toBe('ILLEGAL_GENERATION');
    f.join(a);
    expect(f.syncAnswer(f.sync(b, generation))!.error?.code).toBe('REBALANCE_IN_PROGRESS');
    expect(codeOf(() => f.group.checkCommit({ memberId: b, instanceId: null }, generation))).toBe('no error');
    expect(codeOf(() => f.group.checkCommit({ memberId: b, instanceId: null }, generation - 1))).toBe(
      'ILLEGAL_GENERATION',
    );
    expect(codeOf(() => f.group.checkCommit({ memberId: 'x', instanceId: null }, generation))).toBe(
      'UNKNOWN_MEMBER_ID',
    );
    expect(codeOf(() => f.group.checkCommit({ memberId: '', instanceId: null }, -1))).toBe(
      'UNKNOWN_MEMBER_ID',
    );
  });

  it('refuses a member whose protocols the group does not share', () => {
    const f = new Fixture();
    f.twoStable();
    const other = f.join('', {
      requireKnownMemberId: false,
      protocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }],
    });
    expect(f.joinAnswer(other)!.error?.code).toBe('INCONSISTENT_GROUP_PROTOCOL');
    const type = f.join('', { requireKnownMemberId: false, protocolType: 'connect' });
    expect(f.joinAnswer(type)!.error?.code).toBe('INCONSISTENT_GROUP_PROTOCOL');
  });

  it('picks the protocol every member supports that most list first', () => {
    const f = new Fixture();
    const both = [
      { name: 'roundrobin', metadata: Buffer.from('rr') },
      { name: 'range', metadata: Buffer.from('r') },
    ];
    const a = f.join('', { requireKnownMemberId: false, protocols: both });
    const id = f.joinAnswer(a)!.memberId;
    f.sync(id, 1, {});
    const b = f.join('', { requireKnownMemberId: false, protocols: [both[1]!, both[0]!] });
    const c = f.join('', { requireKnownMemberId: false, protocols: [both[1]!] });
    f.join(id, { protocols: both });
    const answers = [a, b, c].map((t) => f.joinAnswer(t)).filter((x) => x !== undefined);
    expect(f.group.protocolName).toBe('range');
    expect(answers.at(-1)!.protocolName).toBe('range');
    expect(f.group.describeMembers().map((m) => m.metadata.toString())).toEqual(['r', 'r', 'r']);
  });

  it('rebalances when a member leaves, and the group empties when the last one does', () => {
    const f = new Fixture();
    const { a, b, generation } = f.twoStable();
    const { errors } = f.group.leave([{ memberId: b, instanceId: null }], f.ctx());
    expect(errors).toEqual([null]);
    expect(f.heartbeat(a, generation)).toBe('REBALANCE_IN_PROGRESS');
    const t = f.join(a);
    expect(f.joinAnswer(t)).toMatchObject({ generation: generation + 1, leader: a });
    expect(f.joinAnswer(t)!.members.map((m) => m.memberId)).toEqual([a]);
    const gone = f.group.leave(
      [
        { memberId: 'nobody', instanceId: null },
        { memberId: a, instanceId: null },
      ],
      f.ctx(),
    );
    expect(gone.errors.map((e) => e?.code ?? null)).toEqual(['UNKNOWN_MEMBER_ID', null]);
    expect(f.group.state).toBe('Empty');
    expect(f.group.generation).toBe(generation + 2);
    expect(codeOf(() => f.group.checkCommit({ memberId: '', instanceId: null }, -1))).toBe('no error');
  });

  it('expires a member that stops heartbeating, and the others go on without it', () => {
    const f = new Fixture();
    const { a, b, generation } = f.twoStable();
    f.tick(SESSION / 2);
    expect(f.heartbeat(a, generation)).toBe('no error');
    expect(f.tick(SESSION / 2)).toEqual([b]);
    expect(f.group.state).toBe('PreparingRebalance');
    expect(f.heartbeat(a, generation)).toBe('REBALANCE_IN_PROGRESS');
    const t = f.join(a);
    expect(f.joinAnswer(t)!.members.map((m) => m.memberId)).toEqual([a]);
  });

  it('completes the barrier at the rebalance timeout without the members that did not rejoin', () => {
    const f = new Fixture();
    const { a, b } = f.twoStable();
    const t = f.join(a);
    expect(f.heartbeat(b, f.group.generation)).toBe('REBALANCE_IN_PROGRESS');
    expect(f.tick(REBALANCE - 1)).toEqual([]);
    expect(f.joinAnswer(t)).toBeUndefined();
    expect(f.tick(1)).toEqual([b]);
    expect(f.joinAnswer(t)!.members.map((m) => m.memberId)).toEqual([a]);
    // b comes back late: it is unknown and must join anew.
    expect(f.joinAnswer(f.join(b))!.error?.code).toBe('UNKNOWN_MEMBER_ID');
  });

  it('does not expire a member held at the barrier, however long the others take', () => {
    const f = new Fixture();
    const { a } = f.twoStable();
    f.join(a);
    expect(f.tick(REBALANCE - 1)).toEqual([]);
    expect(f.group.size).toBe(2);
  });

  it('drops members that never synced when the leader does not send the assignment in time', () => {
    const f = new Fixture();
    const { a, b, generation } = f.twoStable();
    f.join(a);
    f.join(b);
    const sb = f.sync(b, generation + 1);
    expect(f.tick(REBALANCE)).toEqual([a]);
    expect(f.syncAnswer(sb)!.error?.code).toBe('REBALANCE_IN_PROGRESS');
    expect(f.group.state).toBe('PreparingRebalance');
  });

  it('empties when its last member leaves while an id handed out has not joined yet', () => {
    const f = new Fixture();
    const a = f.newMember('a');
    f.sync(a.id, 1, { [a.id]: 'A' });
    const asked = f.joinAnswer(f.join(''))!;
    expect(asked.error?.code).toBe('MEMBER_ID_REQUIRED');
    f.group.leave([{ memberId: a.id, instanceId: null }], f.ctx());
    expect(f.group.state).toBe('Empty');
    const t = f.join(asked.memberId);
    expect(f.joinAnswer(t)).toMatchObject({ error: null, leader: asked.memberId });
  });

  it('forgets an id handed out with MEMBER_ID_REQUIRED that never joins', () => {
    const f = new Fixture();
    const first = f.join('');
    const id = f.joinAnswer(first)!.memberId;
    f.tick(SESSION);
    expect(f.group.size).toBe(0);
    expect(f.joinAnswer(f.join(id))!.error?.code).toBe('UNKNOWN_MEMBER_ID');
  });

  it('lets a static member come back under a new id without a rebalance, and fences the old id', () => {
    const f = new Fixture();
    const s = f.join('', { instanceId: 'i1', clientId: 's' });
    const first = f.joinAnswer(s)!;
    expect(first.error).toBeNull();
    f.sync(first.memberId, 1, { [first.memberId]: 'S' });
    const generation = f.group.generation;
    const again = f.joinAnswer(f.join('', { instanceId: 'i1', clientId: 's' }))!;
    expect(again).toMatchObject({ error: null, generation });
    expect(again.memberId).not.toBe(first.memberId);
    expect(f.group.state).toBe('Stable');
    expect(f.syncAnswer(f.sync(again.memberId, generation))!.assignment.toString()).toBe('S');
    expect(f.heartbeat(first.memberId, generation, 'i1')).toBe('FENCED_INSTANCE_ID');
    const left = f.group.leave([{ memberId: first.memberId, instanceId: 'i1' }], f.ctx());
    expect(left.errors[0]?.code).toBe('FENCED_INSTANCE_ID');
    expect(f.group.leave([{ memberId: '', instanceId: 'i1' }], f.ctx()).errors).toEqual([null]);
    expect(f.group.state).toBe('Empty');
  });

  it('answers every held request when abandoned (the coordinator moved)', () => {
    const f = new Fixture();
    const { a } = f.twoStable();
    const t = f.join(a);
    const replies = f.group.abandon(new WeirError('NOT_COORDINATOR'));
    expect(replies.map((r) => r.ticket)).toEqual([t]);
    expect(f.group.abandon(new WeirError('NOT_COORDINATOR'))).toEqual([]);
  });
});
