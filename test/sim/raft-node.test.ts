// Scenario tests of one Raft replica (broker/raft/raft-node.ts), driven by hand: each gives a
// replica a state, sends it one input and reads the Ready it produces. The seeded simulation
// (raft.sim.test.ts) covers the interleavings; these pin down single rules.

import { describe, expect, it } from 'vitest';
import type { Entry, Message, Ready } from '../../broker/raft/messages.js';
import { MemoryRaftLog } from '../../broker/raft/raft-log.js';
import { RaftNode } from '../../broker/raft/raft-node.js';
import { append, appendAck } from './raft-test-messages.js';

const data = (s: string): Entry['data'] => Buffer.from(s);
/** An entry at `offset` taking `count` offsets. */
const entry = (offset: number, term: number, s = `t${term}`, count = 1): Entry => ({
  offset,
  count,
  term,
  kind: 'data',
  data: data(s),
});

function replica(
  id: number,
  voters: number[],
  term = 0,
  entries: Entry[] = [],
  votedFor: number | null = null,
  log?: MemoryRaftLog,
  amnesiac = false,
  incarnation = 0,
) {
  return new RaftNode(
    {
      id,
      voters,
      electionTicks: 10,
      heartbeatTicks: 2,
      maxEntriesPerAppend: 8,
      random: () => 0,
      incarnation,
    },
    { term, votedFor, amnesiac },
    log ?? new MemoryRaftLog(entries),
  );
}

function run(n: RaftNode, input: (n: RaftNode) => void): Ready {
  input(n);
  return n.takeReady();
}

function ticks(n: RaftNode, count: number): Ready[] {
  return Array.from({ length: count }, () => run(n, (x) => x.tick()));
}

/** Given node 0 recovered and timed out, peer 1's pre-vote and vote for term 2 make it leader. */
function electedByPeer1(n: ReturnType<typeof replica>): void {
  run(n, (x) => x.recoveryDone());
  ticks(n, 10);
  run(n, (x) =>
    x.receive({
      type: 'preVoteResponse',
      from: 1,
      to: 0,
      term: 2,
      voteTerm: 2,
      granted: true,
      amnesiac: false,
    }),
  );
  run(n, (x) =>
    x.receive({
      type: 'voteResponse',
      from: 1,
      to: 0,
      term: 2,
      voteTerm: 2,
      granted: true,
      amnesiac: false,
    }),
  );
  expect(n.role).toBe('leader');
}

describe('a single-replica group', () => {
  it('elects itself once its term is durable and commits on its own durable append', () => {
    const n = replica(0, [0]);
    const r1 = run(n, (x) => x.recoveryDone());
    expect(n.role).toBe('candidate');
    expect(r1.hardState).toEqual({ term: 1, votedFor: 0, amnesiac: false });
    run(n, (x) => x.hardStatePersisted(1));
    expect(n.role).toBe('leader');
    // No no-op: alone, its durable log is the majority, so offsets run on from where they were.
    const offset = n.propose(data('a'));
    expect(offset).toBe(0);
    expect(run(n, () => {}).highWatermark).toBe(0);
    expect(run(n, (x) => x.persisted(1, 1)).highWatermark).toBe(1);
  });

  it('commits what an earlier term left in its log once it leads again', () => {
    const n = replica(0, [0], 3, [entry(0, 1, 'a', 2), entry(2, 3, 'b')]);
    run(n, (x) => x.recoveryDone());
    run(n, (x) => x.hardStatePersisted(4));
    expect(n.role).toBe('leader');
    expect(n.logEnd).toBe(3);
    expect(n.highWatermark).toBe(3);
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
      x.receive({
        type: 'preVoteResponse',
        from: 1,
        to: 0,
        term: 4,
        voteTerm: 4,
        granted: true,
        amnesiac: false,
      }),
    );
    expect(n.role).toBe('candidate');
    // The vote for itself is in the hard state the driver makes durable before sending the requests.
    expect(vote.hardState).toEqual({ term: 4, votedFor: 0, amnesiac: false });
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
    const n = replica(0, [0, 1, 2], 1, [entry(0, 1)]);
    const r1 = run(n, (x) => x.receive(ask(1, 2, 0, 1)));
    expect(r1.hardState).toEqual({ term: 2, votedFor: 1, amnesiac: false });
    expect(r1.messages).toMatchObject([{ type: 'voteResponse', to: 1, granted: true, amnesiac: false }]);
    const r2 = run(n, (x) => x.receive(ask(2, 2, 5, 1)));
    expect(r2.messages).toMatchObject([{ type: 'voteResponse', to: 2, granted: false, amnesiac: false }]);
  });

  it('refuses a candidate whose log is behind (last term, then length)', () => {
    const n = replica(0, [0, 1, 2], 2, [entry(0, 1), entry(1, 2)]);
    expect(run(n, (x) => x.receive(ask(1, 3, 5, 1))).messages).toMatchObject([
      { granted: false, amnesiac: false },
    ]);
    expect(run(n, (x) => x.receive(ask(2, 3, 0, 2))).messages).toMatchObject([
      { granted: false, amnesiac: false },
    ]);
    expect(run(n, (x) => x.receive(ask(2, 3, 1, 2))).messages).toMatchObject([
      { granted: true, amnesiac: false },
    ]);
  });

  it('refuses a pre-vote while it hears from a leader, and never bumps its term for one', () => {
    const n = replica(0, [0, 1, 2], 1);
    run(n, (x) => x.receive(append(1, 0, 1, -1, 0, [])));
    expect(run(n, (x) => x.receive(ask(2, 2, 5, 1, 'preVote'))).messages).toMatchObject([
      { granted: false, amnesiac: false },
    ]);
    ticks(n, 10);
    expect(run(n, (x) => x.receive(ask(2, 2, 5, 1, 'preVote'))).messages).toMatchObject([
      { granted: true, amnesiac: false },
    ]);
    expect(n.currentTerm).toBe(1);
  });
});

describe('replication', () => {
  it('truncates a diverging suffix and hints by term so the leader backs up a term at a time', () => {
    // Batches: a takes 0-1 (term 1), b 2-4, c 5, d 6-7 (term 2).
    const a = entry(0, 1, 'a', 2);
    const log = new MemoryRaftLog([a, entry(2, 2, 'b', 3), entry(5, 2, 'c'), entry(6, 2, 'd', 2)]);
    const n = replica(0, [0, 1, 2], 3, [], null, log);
    // The leader of term 3 has [a, x (2-3, term 3)]: its prev (3, term 3) does not match our (3, term 2).
    const no = run(n, (x) => x.receive(append(1, 0, 3, 3, 3, [])));
    expect(no.messages).toMatchObject([{ success: false, hintOffset: 3, hintTerm: 2 }]);
    // The leader's last offset of term <= 2 at or before 3 is 1: it resends from 2.
    const x = entry(2, 3, 'x', 2);
    const yes = run(n, (y) => y.receive(append(1, 0, 3, 1, 1, [x], 4)));
    expect(log.takeActions()).toEqual([
      { kind: 'truncate', from: 2 },
      { kind: 'append', entries: [x] },
    ]);
    expect(log.all()).toEqual([a, x]);
    // Matched, but not durable: x counts toward no majority and is not exposed.
    expect(yes.messages).toMatchObject([{ success: true, matchEnd: 4, durableEnd: 2 }]);
    expect(yes.highWatermark).toBe(2);
    const synced = run(n, (y) => y.persisted(4, 3));
    expect(synced.messages).toMatchObject([{ success: true, matchEnd: 4, durableEnd: 4 }]);
    expect(synced.highWatermark).toBe(4);
  });

  it('a follower behind the leader’s log start starts its log afresh there', () => {
    const log = new MemoryRaftLog([entry(0, 1, 'a', 2)]);
    const n = replica(0, [0, 1, 2], 2, [], null, log);
    const y = entry(10, 2, 'y', 3);
    // The leader's log starts at 10 (term 2 before it); we end at 2.
    const r = run(n, (x) => x.receive(append(1, 0, 2, 9, 2, [y], 13, true)));
    expect(log.start).toBe(10);
    expect(log.startTerm).toBe(2);
    expect(log.all()).toEqual([y]);
    // Nothing of the new log is durable until the reset is persisted.
    expect(r.messages).toMatchObject([{ success: true, matchEnd: 13, durableEnd: 0 }]);
    // Without the leader's word that its log starts there, the same append is refused.
    const other = replica(0, [0, 1, 2], 2, [entry(0, 1, 'a', 2)]);
    const refused = run(other, (x) => x.receive(append(1, 0, 2, 9, 2, [y], 13)));
    expect(refused.messages).toMatchObject([{ success: false, hintOffset: 1, hintTerm: 1 }]);
  });

  it('a leader commits only through an entry of its own term, once a majority has it durable', () => {
    const n = replica(0, [0, 1, 2], 1, [entry(0, 1)], 0);
    electedByPeer1(n);
    const ack = (end: number): Message => appendAck(1, 0, 2, end);
    // A majority holds the old entry (term 1): not enough (§5.4.2).
    run(n, (x) => x.receive(ack(1)));
    expect(n.highWatermark).toBe(0);
    run(n, (x) => x.receive(ack(2)));
    expect(n.highWatermark).toBe(0); // the leader's own copy of the no-op is not durable yet
    run(n, (x) => x.persisted(2, 2));
    expect(n.highWatermark).toBe(2);
  });

  it('a leader sends a follower that needs what retention removed its log from the start, with its start state', () => {
    const y = entry(10, 1, 'y', 3);
    const state = Buffer.from('producers below 10');
    const n = replica(0, [0, 1, 2], 1, [], 0, new MemoryRaftLog([y], 10, 1, null, state));
    electedByPeer1(n);
    n.takeReady();
    // Follower 1 is empty: it rejects the leader's first append (prev 12) with nothing to offer.
    const r = run(n, (x) =>
      x.receive({
        type: 'appendResponse',
        from: 1,
        to: 0,
        term: 2,
        success: false,
        prevOffset: 12,
        matchEnd: 0,
        durableEnd: 0,
        hintOffset: -1,
        hintTerm: 0,
        incarnation: 0,
        amnesiac: false,
      }),
    );
    expect(r.messages).toMatchObject([
      {
        type: 'append',
        to: 1,
        prevOffset: 9,
        prevTerm: 1,
        fromStart: true,
        startState: state,
        entries: [y, { offset: 13, kind: 'noop' }],
      },
    ]);
  });

  it('a follower started afresh at its leader’s log start takes its start state, and exposes nothing new before the reset is persisted', () => {
    // Committed through 2 and durable through 4 (entries 2-3 of term 1 never committed).
    // The leader's log starts at 10 (retention took the rest, and kept its producer state) and it
    // has committed through 12.
    const log = new MemoryRaftLog([entry(0, 1, 'a', 2), entry(2, 1, 'b', 2)]);
    const n = replica(1, [0, 1, 2], 2, [], null, log);
    run(n, (x) => x.receive(append(0, 1, 2, 1, 1, [], 2)));
    expect(n.highWatermark).toBe(2);
    const state = Buffer.from('producers below 10');
    const r = run(n, (x) =>
      x.receive({ ...append(0, 1, 2, 9, 2, [entry(10, 2, 'c', 2)], 12, true), startState: state }),
    );
    expect([n.logEnd, log.start, log.startState]).toEqual([12, 10, state]);
    // The disk still holds the old log, whose 2-3 differ from what was committed there.
    expect(r.highWatermark).toBe(2);
    expect(run(n, (x) => x.persisted(12, 2)).highWatermark).toBe(12);
  });

  it('a leader that hears from no majority within an election timeout steps down', () => {
    const n = replica(0, [0, 1, 2], 1, [], 0);
    electedByPeer1(n);
    ticks(n, 10);
    expect(n.role).toBe('follower');
    expect(n.currentTerm).toBe(2);
  });
});

describe('amnesia', () => {
  const grant = (
    from: number,
    type: 'preVoteResponse' | 'voteResponse',
    amnesiac: boolean,
    granted = true,
  ): Message => ({ type, from, to: 0, term: 2, voteTerm: 2, granted, amnesiac });

  it('an amnesiac voter’s grant does not count, unless a majority of the group is amnesiac', () => {
    const n = replica(0, [0, 1, 2, 3, 4], 1);
    run(n, (x) => x.recoveryDone());
    ticks(n, 10);
    run(n, (x) => x.receive(grant(1, 'preVoteResponse', false)));
    run(n, (x) => x.receive(grant(2, 'preVoteResponse', false)));
    expect(n.role).toBe('candidate');
    run(n, (x) => x.receive(grant(1, 'voteResponse', true)));
    run(n, (x) => x.receive(grant(2, 'voteResponse', true)));
    // Three grants, but two from voters that may have lost what made them refuse.
    expect(n.role).toBe('candidate');
    // A third amnesiac voter, even refusing, shows a majority lost its memory: the grants count.
    run(n, (x) => x.receive(grant(3, 'voteResponse', true, false)));
    expect(n.role).toBe('leader');
  });

  it('an amnesiac follower is whole again only once caught up to a commit made after its incarnation was heard', () => {
    const log = new MemoryRaftLog([entry(0, 1, 'a', 2), entry(2, 2, 'b')]);
    const n = replica(0, [0, 1, 2], 2, [], null, log, true, 7);
    // A late append from before this incarnation (the leader did not know it yet): its commit end
    // may lag what was committed since, so it proves nothing.
    run(n, (x) => x.receive({ ...append(1, 0, 2, 2, 2, [], 3), rejoinEnd: 3 }));
    expect(n.isAmnesiac).toBe(true);
    // Sent to this incarnation, but with a commit end from before the leader heard of it.
    run(n, (x) => x.receive({ ...append(1, 0, 2, 2, 2, [], 3), incarnation: 7 }));
    expect(n.isAmnesiac).toBe(true);
    const c = entry(3, 2, 'c');
    const r = run(n, (x) => x.receive({ ...append(1, 0, 2, 2, 2, [c], 4), incarnation: 7, rejoinEnd: 4 }));
    // Matched, but c is not persisted yet.
    expect(n.isAmnesiac).toBe(true);
    expect(r.hardState).toBeNull();
    const synced = run(n, (x) => x.persisted(4, 2));
    expect(n.isAmnesiac).toBe(false);
    expect(synced.hardState).toEqual({ term: 2, votedFor: null, amnesiac: false });
  });

  it('on an idle group, a leader appends a no-op whose commit makes a caught-up amnesiac follower whole', () => {
    const idle = (faults = {}): { noop: boolean; rejoinEnd: number } => {
      const n = new RaftNode(
        {
          id: 0,
          voters: [0, 1, 2],
          electionTicks: 10,
          heartbeatTicks: 2,
          maxEntriesPerAppend: 8,
          random: () => 0,
          faults,
        },
        { term: 1, votedFor: 0, amnesiac: false },
        new MemoryRaftLog([entry(0, 1)]),
      );
      electedByPeer1(n);
      // The election's no-op (offset 1) is durable here and at follower 2: committed, nothing pending.
      run(n, (x) => x.persisted(2, 2));
      run(n, (x) => x.receive({ ...appendAck(2, 0, 2, 2), incarnation: 1 }));
      expect(n.highWatermark).toBe(2);
      // Follower 1, wiped and restarted (incarnation 1), has caught up with everything, amnesiac.
      const r = run(n, (x) => x.receive({ ...appendAck(1, 0, 2, 2), incarnation: 1, amnesiac: true }));
      const noop = n.logEnd === 3;
      if (noop) {
        run(n, (x) => x.persisted(3, 2));
        run(n, (x) => x.receive({ ...appendAck(2, 0, 2, 3), incarnation: 1 }));
        expect(n.highWatermark).toBe(3);
      }
      const toFollower = [...r.messages, ...ticks(n, 2).flatMap((t) => t.messages)].filter(
        (m) => m.type === 'append' && m.to === 1,
      );
      const last = toFollower[toFollower.length - 1];
      return { noop, rejoinEnd: last?.type === 'append' ? last.rejoinEnd : -1 };
    };
    // The no-op commits past where the leader heard of the incarnation: its end rejoins follower 1.
    expect(idle()).toEqual({ noop: true, rejoinEnd: 3 });
    // Without it nothing more commits on an idle group, and follower 1 is never told it may rejoin.
    expect(idle({ noRejoinNoop: true })).toEqual({ noop: false, rejoinEnd: 0 });
  });

  it('a leader does not count an amnesiac follower’s copy: a deposed leader cannot commit with it', () => {
    // Replica 1 was wiped: it forgot the newer term that deposed this leader, and takes its appends.
    const copy = (amnesiac: boolean, faults = {}): number => {
      const n = new RaftNode(
        {
          id: 0,
          voters: [0, 1, 2],
          electionTicks: 10,
          heartbeatTicks: 2,
          maxEntriesPerAppend: 8,
          random: () => 0,
          faults,
        },
        { term: 1, votedFor: 0, amnesiac: false },
        new MemoryRaftLog([entry(0, 1)]),
      );
      electedByPeer1(n);
      n.propose(data('x'));
      run(n, (x) => x.persisted(3, 2));
      const ack: Message = {
        type: 'appendResponse',
        from: 1,
        to: 0,
        term: 2,
        success: true,
        prevOffset: 2,
        matchEnd: 3,
        durableEnd: 3,
        hintOffset: -1,
        hintTerm: 0,
        incarnation: 1,
        amnesiac,
      };
      run(n, (x) => x.receive(ack));
      return n.highWatermark;
    };
    expect(copy(false)).toBe(3);
    expect(copy(true)).toBe(0);
    expect(copy(true, { ignoreAmnesia: true })).toBe(3);
  });

  it('a leader forgets what a follower’s earlier incarnation acknowledged, and ignores its late answers', () => {
    const n = replica(0, [0, 1, 2], 1, [entry(0, 1)], 0);
    electedByPeer1(n);
    const ack = (from: number, end: number, incarnation: number, success = true): Message => ({
      type: 'appendResponse',
      from,
      to: 0,
      term: 2,
      success,
      prevOffset: end - 1,
      matchEnd: end,
      durableEnd: end,
      hintOffset: -1,
      hintTerm: 0,
      incarnation,
      amnesiac: false,
    });
    run(n, (x) => x.persisted(2, 2));
    run(n, (x) => x.receive(ack(1, 1, 0)));
    expect(n.highWatermark).toBe(0);
    // Follower 1 restarts as incarnation 1 having lost everything: its earlier word is void.
    run(n, (x) => x.receive(ack(1, 0, 1, false)));
    run(n, (x) => x.receive(ack(1, 2, 0)));
    expect(n.highWatermark).toBe(0);
    run(n, (x) => x.receive(ack(1, 2, 1)));
    expect(n.highWatermark).toBe(2);
  });
});

describe('leadership transfer', () => {
  it('a leader handing its leadership over takes no proposal until the target is elected or an election timeout passes', () => {
    const n = replica(0, [0, 1, 2], 1, [], 0);
    electedByPeer1(n);
    // Both followers hold the no-op (offset 0, term 2) durably: either may take over.
    run(n, (x) => x.persisted(1, 2));
    run(n, (x) => x.receive(appendAck(1, 0, 2, 1)));
    run(n, (x) => x.receive(appendAck(2, 0, 2, 1)));
    expect(n.transferLeadership(1)).toBeNull();
    // An entry taken now would leave the target behind the others, and its election would fail.
    expect(n.propose(data('late'))).toBeNull();
    expect(n.proposeMembership({ kind: 'remove', id: 2 })).toBe('a leadership transfer is in flight');
    // The target never campaigned (its TimeoutNow was lost): after an election timeout the leader,
    // still heard from by its followers, gives the transfer up and takes proposals again.
    for (let t = 0; t < 10; t++) {
      expect(n.propose(data('late'))).toBeNull();
      run(n, (x) => x.receive(appendAck(2, 0, 2, 1)));
      ticks(n, 1);
    }
    expect(n.role).toBe('leader');
    expect(n.propose(data('again'))).toBe(1);
  });
});

describe('feeding a follower that is behind', () => {
  // Six entries of 400 bytes in term 1 (offsets 0-5); the leader of term 2 adds its no-op at 6.
  const big = (offset: number): Entry => entry(offset, 1, 'x'.repeat(400));
  /** Leader 0 of [0, 1, 2] in term 2, appends of at most 1,000 bytes, `window` unanswered per follower. */
  function leaderWithWindow(window = 2): RaftNode {
    const n = new RaftNode(
      {
        id: 0,
        voters: [0, 1, 2],
        electionTicks: 10,
        heartbeatTicks: 2,
        maxEntriesPerAppend: 8,
        maxBytesPerAppend: 1_000,
        maxInflightAppends: window,
        random: () => 0,
      },
      { term: 1, votedFor: 0, amnesiac: false },
      new MemoryRaftLog([0, 1, 2, 3, 4, 5].map(big)),
    );
    electedByPeer1(n);
    n.takeReady();
    return n;
  }
  const rejection = (prevOffset: number, hintOffset: number): Message => ({
    type: 'appendResponse',
    from: 1,
    to: 0,
    term: 2,
    success: false,
    prevOffset,
    matchEnd: 0,
    durableEnd: 0,
    hintOffset,
    hintTerm: hintOffset < 0 ? 0 : 1,
    incarnation: 0,
    amnesiac: false,
  });
  /** The appends to follower 1 in a Ready: their previous offsets and the offsets they carry. */
  const appendsTo1 = (r: Ready): [number, number[]][] =>
    r.messages.flatMap((m) =>
      m.type === 'append' && m.to === 1 ? [[m.prevOffset, m.entries.map((e) => e.offset)]] : [],
    );

  it('sends at most the byte budget per append (one entry whatever its size), and no more than the window unanswered', () => {
    const n = leaderWithWindow();
    const proposal = data('z'.repeat(400));
    // Follower 1 is empty: one append from its start, two entries (800 bytes; a third passes 1,000).
    expect(appendsTo1(run(n, (x) => x.receive(rejection(6, -1))))).toEqual([[-1, [0, 1]]]);
    // Probing: nothing more until it answers, even for a new entry (at 7).
    expect(appendsTo1(run(n, (x) => x.propose(proposal)))).toEqual([]);
    // Its answer opens a window of two appends (the no-op at 6 has no data).
    expect(appendsTo1(run(n, (x) => x.receive(appendAck(1, 0, 2, 2))))).toEqual([
      [1, [2, 3]],
      [3, [4, 5, 6]],
    ]);
    expect(appendsTo1(run(n, (x) => x.propose(proposal)))).toEqual([]);
    // A heartbeat to a full window carries no entries, from where the next append would start.
    expect(ticks(n, 2).flatMap((r) => appendsTo1(r))).toEqual([[6, []]]);
    // An answer makes room for one more append: both proposals.
    expect(appendsTo1(run(n, (x) => x.receive(appendAck(1, 0, 2, 4))))).toEqual([[6, [7, 8]]]);
    // One that covers no further append frees nothing, and nothing is left to send anyway.
    expect(appendsTo1(run(n, (x) => x.receive(appendAck(1, 0, 2, 6))))).toEqual([]);
  });

  it('one entry larger than the byte budget still goes, alone', () => {
    const log = new MemoryRaftLog([entry(0, 1, 'y'.repeat(3_000)), big(1)]);
    expect(log.read(0, 8, 1_000).map((e) => e.offset)).toEqual([0]);
    expect(log.read(1, 8, 1_000).map((e) => e.offset)).toEqual([1]);
    expect(log.read(0, 8).map((e) => e.offset)).toEqual([0, 1]);
  });

  it('a rejected pipelined append backs the leader up to the follower’s hint, one append at a time again', () => {
    const n = leaderWithWindow();
    run(n, (x) => x.receive(rejection(6, -1)));
    run(n, (x) => x.receive(appendAck(1, 0, 2, 2)));
    // The append of 2-3 was lost: the follower refuses the one of 4-5 (prev 3), holding up to 1.
    expect(appendsTo1(run(n, (x) => x.receive(rejection(3, 1))))).toEqual([[1, [2, 3]]]);
    // Probing again: one append in flight, a proposal waits.
    expect(appendsTo1(run(n, (x) => x.propose(data('p'))))).toEqual([]);
    expect(ticks(n, 2).flatMap((r) => appendsTo1(r))).toEqual([[1, []]]);
    // The follower took it: pipelined again from there (the no-op and the proposal are small).
    expect(appendsTo1(run(n, (x) => x.receive(appendAck(1, 0, 2, 4))))).toEqual([[3, [4, 5, 6, 7]]]);
  });

  it('a lost probe does not keep a window of one shut', () => {
    const n = leaderWithWindow(1);
    expect(appendsTo1(run(n, (x) => x.receive(rejection(6, -1))))).toEqual([[-1, [0, 1]]]);
    // That append is lost; the heartbeat (the window is full) probes without entries, and the
    // follower, empty, matches there.
    expect(ticks(n, 2).flatMap((r) => appendsTo1(r))).toEqual([[-1, []]]);
    run(n, (x) => x.receive(appendAck(1, 0, 2, 0)));
    // The lost append is not waited for: the next heartbeat carries the entries again.
    expect(ticks(n, 2).flatMap((r) => appendsTo1(r))).toEqual([[-1, [0, 1]]]);
  });
});
