// Scenario tests of membership changes in one Raft replica (broker/raft/membership.ts and
// raft-node.ts), driven by hand. The seeded simulation (raft.sim.test.ts) runs the changes among
// five replicas under faults; these pin down single rules.

import { describe, expect, it } from 'vitest';
import type { Entry, Message } from '../../broker/raft/messages.js';
import { applyChange, type Membership } from '../../broker/raft/membership.js';
import type { RaftFaults } from '../../broker/raft/raft-config.js';
import { MemoryRaftLog } from '../../broker/raft/raft-log.js';
import { RaftNode } from '../../broker/raft/raft-node.js';
import { append, appendAck } from './raft-test-messages.js';

const config = (offset: number, term: number, membership: Membership): Entry => ({
  offset,
  count: 1,
  term,
  kind: 'config',
  data: new Uint8Array(0),
  membership,
});
const data = (offset: number, term: number): Entry => ({
  offset,
  count: 1,
  term,
  kind: 'data',
  data: Buffer.from(`t${term}`),
});

function node(
  id: number,
  voters: number[],
  entries: Entry[] = [],
  term = 0,
  faults: RaftFaults = {},
): RaftNode {
  const n = new RaftNode(
    { id, voters, electionTicks: 10, heartbeatTicks: 2, maxEntriesPerAppend: 8, random: () => 0, faults },
    { term, votedFor: null, amnesiac: false },
    new MemoryRaftLog(entries),
  );
  n.recoveryDone();
  return n;
}

/** Node 0 of voters [0, 1, 2] elected in term 1 by node 1, its no-op at 0 committed. */
function leader(faults: RaftFaults = {}): RaftNode {
  const n = node(0, [0, 1, 2], [], 0, faults);
  for (let i = 0; i < 20 && n.role === 'follower'; i++) n.tick();
  for (const type of ['preVoteResponse', 'voteResponse'] as const)
    n.receive({ type, from: 1, to: 0, term: 1, voteTerm: 1, granted: true, amnesiac: false });
  expect(n.role).toBe('leader');
  n.persisted(1, 1);
  n.receive(appendAck(1, 0, 1, 1));
  expect(n.highWatermark).toBe(1);
  n.takeReady();
  return n;
}

const sentTo = (messages: Message[], type: Message['type']): number[] =>
  messages.filter((m) => m.type === type).map((m) => m.to);

describe('membership changes', () => {
  it('change one replica at a time and refuse the rest', () => {
    const m: Membership = { voters: [0, 1, 2], learners: [] };
    expect(applyChange(m, { kind: 'addLearner', id: 3 })).toEqual({ voters: [0, 1, 2], learners: [3] });
    expect(applyChange(m, { kind: 'addLearner', id: 1 })).toMatch(/already a member/);
    expect(applyChange(m, { kind: 'promote', id: 3 })).toMatch(/not a learner/);
    expect(applyChange({ voters: [0], learners: [] }, { kind: 'remove', id: 0 })).toMatch(/last voter/);
    expect(applyChange({ voters: [0, 1], learners: [3] }, { kind: 'promote', id: 3 })).toEqual({
      voters: [0, 1, 3],
      learners: [],
    });
  });

  it('a learner neither campaigns nor counts, until promoted once caught up', () => {
    const n = leader();
    expect(n.proposeMembership({ kind: 'addLearner', id: 3 })).toBe(1);
    // The change rules from its append: the learner is sent the log at once (2, which has not
    // answered this leader's first append yet, gets it once it does: one at a time while probing).
    expect(n.membership).toEqual({ voters: [0, 1, 2], learners: [3] });
    expect(sentTo(n.takeReady().messages, 'append').sort()).toEqual([1, 3]);
    // A second change waits for the first to commit.
    expect(n.proposeMembership({ kind: 'promote', id: 3 })).toMatch(/in flight/);
    n.persisted(2, 1);
    n.receive(appendAck(3, 0, 1, 2));
    expect(n.highWatermark).toBe(1); // the learner's copy is not a majority's
    n.receive(appendAck(1, 0, 1, 2));
    expect(n.highWatermark).toBe(2);
    n.propose(Buffer.from('x'));
    n.persisted(3, 1);
    n.receive(appendAck(1, 0, 1, 3));
    expect(n.highWatermark).toBe(3);
    // Behind the commit point, the learner is not promoted; caught up, it is.
    expect(n.proposeMembership({ kind: 'promote', id: 3 })).toMatch(/not caught up/);
    n.receive(appendAck(3, 0, 1, 3));
    expect(n.proposeMembership({ kind: 'promote', id: 3 })).toBe(3);
    expect(n.membership).toEqual({ voters: [0, 1, 2, 3], learners: [] });
    // Four voters: a majority is three.
    n.persisted(4, 1);
    n.receive(appendAck(1, 0, 1, 4));
    expect(n.highWatermark).toBe(3);
    n.receive(appendAck(3, 0, 1, 4));
    expect(n.highWatermark).toBe(4);
  });

  it('a leader starts no change before it has committed an entry of its own term', () => {
    const n = node(0, [0, 1, 2], [data(0, 1)], 1);
    for (let i = 0; i < 20 && n.role === 'follower'; i++) n.tick();
    for (const type of ['preVoteResponse', 'voteResponse'] as const)
      n.receive({ type, from: 1, to: 0, term: 2, voteTerm: 2, granted: true, amnesiac: false });
    expect(n.role).toBe('leader');
    expect(n.proposeMembership({ kind: 'addLearner', id: 3 })).toMatch(/nothing committed in this term/);
    n.persisted(2, 2);
    n.receive(appendAck(1, 0, 2, 2));
    expect(n.proposeMembership({ kind: 'addLearner', id: 3 })).toBe(2);
  });

  it('a replica outside the voters never campaigns, and one learns it is a learner from its log', () => {
    const outsider = node(3, [0, 1, 2]);
    for (let i = 0; i < 100; i++) outsider.tick();
    expect(outsider.role).toBe('follower');
    expect(outsider.takeReady().messages).toEqual([]);
    const learner = node(4, [0, 1, 2], [data(0, 1), config(1, 1, { voters: [0, 1, 2], learners: [4] })], 1);
    for (let i = 0; i < 100; i++) learner.tick();
    expect(learner.role).toBe('follower');
    expect(learner.membership.learners).toEqual([4]);
    // Promoted in its log, it may campaign.
    const voter = node(4, [0, 1, 2], [config(0, 1, { voters: [0, 1, 2, 4], learners: [] })], 1);
    for (let i = 0; i < 40 && voter.role === 'follower'; i++) voter.tick();
    expect(voter.role).toBe('preCandidate');
    expect(sentTo(voter.takeReady().messages, 'preVote').sort()).toEqual([0, 1, 2]);
  });

  it('a voter whose removal it does not know committed still campaigns, without its own vote', () => {
    // Node 0's log removes it (offset 1), uncommitted; the others may lack that entry and need it.
    const n = node(0, [0, 1, 2], [data(0, 1), config(1, 1, { voters: [1, 2], learners: [] })], 1);
    for (let i = 0; i < 40 && n.role === 'follower'; i++) n.tick();
    expect(n.role).toBe('preCandidate');
    expect(sentTo(n.takeReady().messages, 'preVote').sort()).toEqual([1, 2]);
    // One grant is not a majority of [1, 2] without its own vote; two are.
    n.receive({
      type: 'preVoteResponse',
      from: 1,
      to: 0,
      term: 2,
      voteTerm: 2,
      granted: true,
      amnesiac: false,
    });
    expect(n.role).toBe('preCandidate');
    n.receive({
      type: 'preVoteResponse',
      from: 2,
      to: 0,
      term: 2,
      voteTerm: 2,
      granted: true,
      amnesiac: false,
    });
    expect(n.role).toBe('candidate');
    // Once it hears the removal committed, it stays quiet.
    const gone = node(0, [0, 1, 2], [data(0, 1), config(1, 1, { voters: [1, 2], learners: [] })], 1);
    gone.receive(append(1, 0, 1, 1, 1, [], 2));
    for (let i = 0; i < 100; i++) gone.tick();
    expect(gone.role).toBe('follower');
  });

  it('a truncated config entry takes its change back', () => {
    const n = node(1, [0, 1, 2], [data(0, 1), config(1, 1, { voters: [0, 1, 2], learners: [3] })], 1);
    expect(n.membership.learners).toEqual([3]);
    n.receive(append(0, 1, 2, 0, 1, [data(1, 2)]));
    expect(n.membership).toEqual({ voters: [0, 1, 2], learners: [] });
  });

  it('a follower restarting from the leader’s log start takes the membership in force there', () => {
    const n = node(1, [0, 1, 2]);
    const at = { offset: 4, membership: { voters: [0, 1, 5], learners: [] } };
    n.receive({ ...append(0, 1, 3, 9, 3, [], 10, true), startMembership: at, incarnation: 0 });
    expect(n.membership).toEqual(at.membership);
    expect(n.membershipAt).toBe(4);
  });

  it('a leader that removes itself leads until the change commits, then steps down', () => {
    const n = leader();
    expect(n.proposeMembership({ kind: 'remove', id: 0 })).toBe(1);
    expect(n.role).toBe('leader');
    n.persisted(2, 1);
    // Its own copy no longer counts: one of the two remaining voters is not a majority.
    n.receive(appendAck(1, 0, 1, 2));
    expect(n.role).toBe('leader');
    expect(n.highWatermark).toBe(1);
    n.receive(appendAck(2, 0, 1, 2));
    expect(n.highWatermark).toBe(2);
    expect(n.role).toBe('follower');
    for (let i = 0; i < 100; i++) n.tick();
    expect(n.role).toBe('follower');
  });

  it('a leader stops replicating to a removed member and ignores its answers', () => {
    const n = leader();
    expect(n.proposeMembership({ kind: 'addLearner', id: 0 })).toMatch(/a leader is a voter/);
    n.proposeMembership({ kind: 'remove', id: 2 });
    n.takeReady();
    n.receive(appendAck(2, 0, 1, 2));
    expect(n.highWatermark).toBe(1);
    n.persisted(2, 1);
    n.receive(appendAck(1, 0, 1, 2));
    expect(n.highWatermark).toBe(2);
    for (let i = 0; i < 2; i++) n.tick();
    expect(sentTo(n.takeReady().messages, 'append')).toEqual([1]);
  });

  /** A leader whose group has committed the addition of learner 3 and has nothing more to commit. */
  function idleWithLearner(faults: RaftFaults = {}): RaftNode {
    const n = leader(faults);
    expect(n.proposeMembership({ kind: 'addLearner', id: 3 })).toBe(1);
    n.persisted(2, 1);
    n.receive(appendAck(1, 0, 1, 2));
    expect(n.highWatermark).toBe(2);
    n.takeReady();
    return n;
  }

  it('a new replica, amnesiac, added to an idle group is made whole by a no-op and promoted', () => {
    // Given an idle group, when its learner first answers, amnesiac as a replica without state
    // joins, and holding everything
    const n = idleWithLearner();
    n.receive({ ...appendAck(3, 0, 1, 2), amnesiac: true });
    // then only a commit made after that answer can make it whole: the leader appends a no-op,
    // (2 has not answered this leader's first append: it gets the no-op once it does)
    const noop = n.takeReady().messages.filter((m) => m.type === 'append' && m.entries.length > 0);
    expect(new Set(noop.map((m) => m.to))).toEqual(new Set([1, 3]));
    expect(n.proposeMembership({ kind: 'promote', id: 3 })).toMatch(/not caught up/);
    n.persisted(3, 1);
    n.receive(appendAck(1, 0, 1, 3));
    expect(n.highWatermark).toBe(3);
    // tells the learner that commit,
    for (let i = 0; i < 2; i++) n.tick();
    const heartbeat = n.takeReady().messages.find((m) => m.type === 'append' && m.to === 3);
    expect(heartbeat).toMatchObject({ rejoinEnd: 3 });
    // and once the learner holds it and is whole again, promotes it.
    n.receive(appendAck(3, 0, 1, 3));
    expect(n.proposeMembership({ kind: 'promote', id: 3 })).toBe(3);
  });

  it('without that no-op, the learner of an idle group is never told a commit to rejoin at', () => {
    const n = idleWithLearner({ noRejoinNoop: true });
    n.receive({ ...appendAck(3, 0, 1, 2), amnesiac: true });
    for (let i = 0; i < 2; i++) n.tick();
    const toLearner = n.takeReady().messages.filter((m) => m.type === 'append' && m.to === 3);
    expect(toLearner.length).toBeGreaterThan(0);
    expect(toLearner.every((m) => m.type === 'append' && m.rejoinEnd === 0 && m.entries.length === 0)).toBe(
      true,
    );
    expect(n.proposeMembership({ kind: 'promote', id: 3 })).toMatch(/not caught up/);
  });

  /**
   * Replica 0, which left the group when the group was [0] alone, created again by a move (empty,
   * so amnesiac, with the group's voters [2, 4, 5] as bootstrap voters), having copied the log up
   * to that old configuration so far.
   */
  function broughtBack(faults: RaftFaults = {}): RaftNode {
    const n = new RaftNode(
      {
        id: 0,
        voters: [2, 4, 5],
        electionTicks: 10,
        heartbeatTicks: 2,
        maxEntriesPerAppend: 8,
        random: () => 0,
        faults,
      },
      { term: 3, votedFor: null, amnesiac: true },
      new MemoryRaftLog([data(0, 1), config(1, 1, { voters: [0], learners: [] }), data(2, 2)]),
    );
    expect(n.membership.voters).toEqual([0]);
    return n;
  }
  const voteFrom4 = { type: 'vote', from: 4, to: 0, term: 4, lastOffset: 0, lastTerm: 1 } as const;

  it('a replica brought back to a group it left takes no old configuration naming it for its own', () => {
    // Given a replica brought back, whose log so far makes it the only voter
    const n = broughtBack();
    // when it has recovered and its timeouts pass, it does not campaign,
    n.recoveryDone();
    for (let i = 0; i < 100; i++) n.tick();
    expect(n.role).toBe('follower');
    expect(n.takeReady().messages).toEqual([]);
    // and asked for its vote, it does not answer (an amnesiac answer counts toward the majority
    // amnesiac that lets amnesiac grants count).
    n.receive(voteFrom4);
    expect(n.takeReady().messages).toEqual([]);
  });

  it('without that rule it elects itself on the old configuration, with its log behind', () => {
    const n = broughtBack({ joinerVotes: true });
    n.recoveryDone();
    n.hardStatePersisted(4);
    expect(n.role).toBe('leader');
    const other = broughtBack({ joinerVotes: true });
    other.receive(voteFrom4);
    expect(other.takeReady().messages.map((m) => m.type)).toEqual(['voteResponse']);
  });
});
