// Scenario tests of one Raft replica (broker/raft/raft-node.ts), driven by hand: each gives a
// replica a state, sends it one input and reads the Ready it produces. The seeded simulation
// (raft.sim.test.ts) covers the interleavings; these pin down single rules.

import { describe, expect, it } from 'vitest';
import type { AppendRequest, Entry, Message, Ready } from '../../broker/raft/messages.js';
import { RaftNode } from '../../broker/raft/raft-node.js';

const data = (s: string): Entry['data'] => Buffer.from(s);
const entry = (term: number, s = `t${term}`): Entry => ({ term, kind: 'data', data: data(s) });

function replica(
  id: number,
  voters: number[],
  term = 0,
  entries: Entry[] = [],
  votedFor: number | null = null,
) {
  return new RaftNode(
    { id, voters, electionTicks: 10, heartbeatTicks: 2, maxEntriesPerAppend: 8, random: () => 0 },
    { hardState: { term, votedFor }, entries },
  );
}

function run(n: RaftNode, input: (n: RaftNode) => void): Ready {
  input(n);
  return n.takeReady();
}

function ticks(n: RaftNode, count: number): Ready[] {
  return Array.from({ length: count }, () => run(n, (x) => x.tick()));
}

function append(
  from: number,
  to: number,
  term: number,
  prevOffset: number,
  prevTerm: number,
  entries: Entry[],
  commitEnd = 0,
): AppendRequest {
  return { type: 'append', from, to, term, prevOffset, prevTerm, entries, commitEnd };
}

describe('a single-replica group', () => {
  it('elects itself once its term is durable and commits on its own durable append', () => {
    const n = replica(0, [0]);
    const r1 = run(n, (x) => x.recoveryDone());
    expect(n.role).toBe('candidate');
    expect(r1.hardState).toEqual({ term: 1, votedFor: 0 });
    run(n, (x) => x.hardStatePersisted(1));
    expect(n.role).toBe('leader');
    const offset = n.propose(data('a'));
    expect(offset).toBe(1); // after the no-op at 0
    expect(run(n, () => {}).highWatermark).toBe(0);
    expect(run(n, (x) => x.persisted(2, 1)).highWatermark).toBe(2);
  });
});

describe('campaigning', () => {
  it('waits for local recovery', () => {
    const n = replica(0, [0, 1, 2]);
    const readies = ticks(n, 100);
    expect(n.role).toBe('follower');
    expect(readies.flatMap((r) => r.messages)).toEqual([]);
    run(n, (x) => x.recoveryDone());
    ticks(n, 10);
    expect(n.role).toBe('preCandidate');
  });

  it('asks a pre-vote without changing its term, then campaigns in term + 1', () => {
    const n = replica(0, [0, 1, 2], 3);
    run(n, (x) => x.recoveryDone());
    const pre = ticks(n, 10).flatMap((r) => r.messages);
    expect(pre.map((m) => [m.type, m.term])).toEqual([
      ['preVote', 4],
      ['preVote', 4],
    ]);
    expect(n.currentTerm).toBe(3);
    const vote = run(n, (x) =>
      x.receive({ type: 'preVoteResponse', from: 1, to: 0, term: 4, voteTerm: 4, granted: true }),
    );
    expect(n.role).toBe('candidate');
    // The vote for itself is in the hard state the driver makes durable before sending the requests.
    expect(vote.hardState).toEqual({ term: 4, votedFor: 0 });
    expect(vote.messages.map((m) => m.type)).toEqual(['vote', 'vote']);
  });
});

describe('voting', () => {
  const ask = (
    from: number,
    term: number,
    lastOffset: number,
    lastTerm: number,
    type: 'vote' | 'preVote' = 'vote',
  ): Message => ({ type, from, to: 0, term, lastOffset, lastTerm });

  it('grants one vote per term, persisted with the answer', () => {
    const n = replica(0, [0, 1, 2], 1, [entry(1)]);
    const r1 = run(n, (x) => x.receive(ask(1, 2, 0, 1)));
    expect(r1.hardState).toEqual({ term: 2, votedFor: 1 });
    expect(r1.messages).toMatchObject([{ type: 'voteResponse', to: 1, granted: true }]);
    const r2 = run(n, (x) => x.receive(ask(2, 2, 5, 1)));
    expect(r2.messages).toMatchObject([{ type: 'voteResponse', to: 2, granted: false }]);
  });

  it('refuses a candidate whose log is behind (last term, then length)', () => {
    const n = replica(0, [0, 1, 2], 2, [entry(1), entry(2)]);
    expect(run(n, (x) => x.receive(ask(1, 3, 5, 1))).messages).toMatchObject([{ granted: false }]);
    expect(run(n, (x) => x.receive(ask(2, 3, 0, 2))).messages).toMatchObject([{ granted: false }]);
    expect(run(n, (x) => x.receive(ask(2, 3, 1, 2))).messages).toMatchObject([{ granted: true }]);
  });

  it('refuses a pre-vote while it hears from a leader, and never bumps its term for one', () => {
    const n = replica(0, [0, 1, 2], 1);
    run(n, (x) => x.receive(append(1, 0, 1, -1, 0, [])));
    expect(run(n, (x) => x.receive(ask(2, 2, 5, 1, 'preVote'))).messages).toMatchObject([{ granted: false }]);
    ticks(n, 10);
    expect(run(n, (x) => x.receive(ask(2, 2, 5, 1, 'preVote'))).messages).toMatchObject([{ granted: true }]);
    expect(n.currentTerm).toBe(1);
  });
});

describe('replication', () => {
  it('truncates a diverging suffix and hints by term so the leader backs up a term at a time', () => {
    const n = replica(0, [0, 1, 2], 3, [entry(1, 'a'), entry(2, 'b'), entry(2, 'c'), entry(2, 'd')]);
    // Leader of term 3 has [a(1), x(3)]: its prev (1, term 3) does not match our (1, term 2).
    const no = run(n, (x) => x.receive(append(1, 0, 3, 1, 3, [])));
    expect(no.messages).toMatchObject([{ success: false, hintOffset: 1, hintTerm: 2 }]);
    // The leader's last entry of term <= 2 at or before 1 is offset 0: it resends from 1.
    const yes = run(n, (x) => x.receive(append(1, 0, 3, 0, 1, [entry(3, 'x')], 2)));
    expect(yes.logActions).toEqual([
      { kind: 'truncate', from: 1 },
      { kind: 'append', offset: 1, entries: [entry(3, 'x')] },
    ]);
    // Matched, but not durable: nothing counts toward the majority, nothing is exposed.
    expect(yes.messages).toMatchObject([{ success: true, matchEnd: 2, durableEnd: 1 }]);
    expect(yes.highWatermark).toBe(1);
    const synced = run(n, (x) => x.persisted(2, 3));
    expect(synced.messages).toMatchObject([{ success: true, matchEnd: 2, durableEnd: 2 }]);
    expect(synced.highWatermark).toBe(2);
  });

  /** Given node 0 recovered and timed out, peer 1's pre-vote and vote for term 2 make it leader. */
  function electedByPeer1(n: ReturnType<typeof replica>): void {
    run(n, (x) => x.recoveryDone());
    ticks(n, 10);
    run(n, (x) =>
      x.receive({ type: 'preVoteResponse', from: 1, to: 0, term: 2, voteTerm: 2, granted: true }),
    );
    run(n, (x) => x.receive({ type: 'voteResponse', from: 1, to: 0, term: 2, voteTerm: 2, granted: true }));
    expect(n.role).toBe('leader');
  }

  it('a leader commits only through an entry of its own term, once a majority has it durable', () => {
    const n = replica(0, [0, 1, 2], 1, [entry(1)], 0);
    electedByPeer1(n);
    const ack = (end: number): Message => ({
      type: 'appendResponse',
      from: 1,
      to: 0,
      term: 2,
      success: true,
      prevOffset: end - 1,
      matchEnd: end,
      durableEnd: end,
      hintOffset: -1,
      hintTerm: 0,
    });
    // A majority holds the old entry (term 1): not enough (§5.4.2).
    run(n, (x) => x.receive(ack(1)));
    expect(n.highWatermark).toBe(0);
    run(n, (x) => x.receive(ack(2)));
    expect(n.highWatermark).toBe(0); // the leader's own copy of the no-op is not durable yet
    run(n, (x) => x.persisted(2, 2));
    expect(n.highWatermark).toBe(2);
  });

  it('a leader that hears from no majority within an election timeout steps down', () => {
    const n = replica(0, [0, 1, 2], 1, [], 0);
    electedByPeer1(n);
    ticks(n, 10);
    expect(n.role).toBe('follower');
    expect(n.currentTerm).toBe(2);
  });
});
