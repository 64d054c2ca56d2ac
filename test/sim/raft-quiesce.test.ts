// Scenario tests of quiescence (broker/raft/raft-node.ts, RaftConfig.quiesce): when an idle group's
// leader and followers go quiet, what wakes them, and how a quiet follower learns its leader died
// (the driver's failure detector: peerDown). The simulation (raft.sim.test.ts) runs the same rules
// through its faults, with a liveness stage that kills a quiet group's leader.

import { describe, expect, it } from 'vitest';
import type { Entry, Message, Ready } from '../../broker/raft/messages.js';
import type { RaftFaults } from '../../broker/raft/raft-config.js';
import { MemoryRaftLog } from '../../broker/raft/raft-log.js';
import { RaftNode } from '../../broker/raft/raft-node.js';
import { append, appendAck } from './raft-test-messages.js';

const TERM = 2;
const NOOP: Entry = { offset: 0, count: 1, term: TERM, kind: 'noop', data: Buffer.alloc(0) };

function replica(id: number, term: number, faults: RaftFaults = {}, quiesce = true): RaftNode {
  return new RaftNode(
    {
      id,
      voters: [0, 1, 2],
      electionTicks: 10,
      heartbeatTicks: 2,
      maxEntriesPerAppend: 8,
      random: () => 0,
      quiesce,
      faults,
    },
    { term, votedFor: null, amnesiac: false },
    new MemoryRaftLog([]),
  );
}

function run(n: RaftNode, input: (n: RaftNode) => void): Ready {
  input(n);
  return n.takeReady();
}

function tickMessages(n: RaftNode, count: number): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < count; i++) out.push(...run(n, (x) => x.tick()).messages);
  return out;
}

const grant = (type: 'preVoteResponse' | 'voteResponse'): Message => ({
  type,
  from: 1,
  to: 0,
  term: TERM,
  voteTerm: TERM,
  granted: true,
  amnesiac: false,
});

/** Node 0, elected in term 2 with peer 1's votes, its no-op durable; nobody has acked it yet. */
function leader(faults: RaftFaults = {}, quiesce = true): RaftNode {
  const n = replica(0, TERM - 1, faults, quiesce);
  run(n, (x) => x.recoveryDone());
  tickMessages(n, 10);
  run(n, (x) => x.receive(grant('preVoteResponse')));
  run(n, (x) => x.receive(grant('voteResponse')));
  expect(n.role).toBe('leader');
  run(n, (x) => x.persisted(1, TERM));
  return n;
}

/** A leader whose followers both acked its whole log, durably: its next heartbeat tick quiesces. */
function caughtUpLeader(faults: RaftFaults = {}): RaftNode {
  const n = leader(faults);
  run(n, (x) => x.receive(appendAck(1, 0, TERM, 1)));
  run(n, (x) => x.receive(appendAck(2, 0, TERM, 1)));
  expect(n.highWatermark).toBe(1);
  return n;
}

/** Node 1, following node 0 in term 2, holding its no-op durably. */
function follower(faults: RaftFaults = {}): RaftNode {
  const n = replica(1, TERM, faults);
  run(n, (x) => x.recoveryDone());
  run(n, (x) => x.receive(append(0, 1, TERM, -1, 0, [NOOP], 0)));
  run(n, (x) => x.persisted(1, TERM));
  return n;
}

const quiesceBeat = (to = 1, prevOffset = 0, commitEnd = 1): Message => ({
  ...append(0, to, TERM, prevOffset, TERM, [], commitEnd),
  quiesce: true,
});

const preVote = (from: number, to: number): Message => ({
  type: 'preVote',
  from,
  to,
  term: TERM + 1,
  lastOffset: 0,
  lastTerm: TERM,
});

describe('a leader going quiet', () => {
  it('sends one quiesce heartbeat once every member holds its whole log and commit, then none', () => {
    const n = caughtUpLeader();
    const beats = tickMessages(n, 2);
    expect(beats).toMatchObject([
      { type: 'append', to: 1, quiesce: true, entries: [], commitEnd: 1, prevOffset: 0 },
      { type: 'append', to: 2, quiesce: true, entries: [], commitEnd: 1, prevOffset: 0 },
    ]);
    expect(n.quiesced).toBe(true);
    expect(tickMessages(n, 100)).toEqual([]);
    // Nor does check-quorum depose it meanwhile: its followers are silent because it is.
    expect(n.role).toBe('leader');
  });

  it('keeps heartbeating while a follower lacks part of its log', () => {
    const n = leader();
    run(n, (x) => x.receive(appendAck(1, 0, TERM, 1)));
    run(n, (x) => x.receive(appendAck(2, 0, TERM, 0)));
    const beats = tickMessages(n, 6);
    expect(beats.length).toBeGreaterThan(0);
    expect(beats.every((m) => m.type === 'append' && m.quiesce !== true)).toBe(true);
    expect(n.quiesced).toBe(false);
  });

  it('is off unless configured: an idle group heartbeats as before', () => {
    const n = leader({}, false);
    run(n, (x) => x.receive(appendAck(1, 0, TERM, 1)));
    run(n, (x) => x.receive(appendAck(2, 0, TERM, 1)));
    expect(tickMessages(n, 20).length).toBe(20);
    expect(n.quiesced).toBe(false);
  });

  it('is woken by a proposal, which goes to every member', () => {
    const n = caughtUpLeader();
    tickMessages(n, 2);
    const r = run(n, (x) => x.propose(Buffer.from('a')));
    expect(n.quiesced).toBe(false);
    expect(r.messages.filter((m) => m.type === 'append' && m.entries.length === 1).map((m) => m.to)).toEqual([
      1, 2,
    ]);
    expect(tickMessages(n, 2).length).toBeGreaterThan(0);
  });

  it('is woken by a pre-vote: it heartbeats at once and refuses', () => {
    const n = caughtUpLeader();
    tickMessages(n, 2);
    const r = run(n, (x) => x.receive(preVote(2, 0)));
    expect(r.messages).toMatchObject([
      { type: 'append', to: 1 },
      { type: 'append', to: 2 },
      { type: 'preVoteResponse', to: 2, granted: false },
    ]);
    expect(n.quiesced).toBe(false);
  });

  it('is woken by a member coming back (peerUp) and by an answer from its new incarnation', () => {
    const n = caughtUpLeader();
    tickMessages(n, 2);
    expect(run(n, (x) => x.peerUp(2)).messages.map((m) => m.to)).toEqual([1, 2]);
    tickMessages(n, 2);
    expect(n.quiesced).toBe(true);
    run(n, (x) => x.receive({ ...appendAck(2, 0, TERM, 1), incarnation: 1 }));
    expect(n.quiesced).toBe(false);
  });

  it('does not go quiet while its failure detector suspects a member, so check-quorum still runs', () => {
    const n = caughtUpLeader();
    tickMessages(n, 2);
    run(n, (x) => x.peerDown(1));
    run(n, (x) => x.peerDown(2));
    expect(n.quiesced).toBe(false);
    tickMessages(n, 25);
    // Nobody answered its heartbeats for two election timeouts: it stepped down.
    expect(n.role).not.toBe('leader');
  });

  it('wakes to hand its leadership over, so a transfer works on a quiet group', () => {
    const n = caughtUpLeader();
    tickMessages(n, 2);
    expect(run(n, (x) => expect(x.transferLeadership(1)).toBeNull()).messages.map((m) => m.type)).toContain(
      'timeoutNow',
    );
    expect(n.quiesced).toBe(false);
  });
});

describe('a follower going quiet', () => {
  it('stops its election timer on a quiesce heartbeat that matches its whole log', () => {
    const n = follower();
    run(n, (x) => x.receive(quiesceBeat()));
    expect(n.quiesced).toBe(true);
    expect(n.highWatermark).toBe(1);
    expect(tickMessages(n, 100)).toEqual([]);
    expect(n.role).toBe('follower');
  });

  it('stays awake when behind the leader, and campaigns, which wakes the leader', () => {
    const n = replica(1, TERM);
    run(n, (x) => x.recoveryDone());
    // The leader believes it holds offset 0; it does not.
    const r = run(n, (x) => x.receive(quiesceBeat()));
    expect(r.messages).toMatchObject([{ type: 'appendResponse', success: false }]);
    expect(n.quiesced).toBe(false);
    const out = tickMessages(n, 20);
    expect(out.some((m) => m.type === 'preVote')).toBe(true);
  });

  it('refuses a pre-vote while quiet (its leader is alive), and wakes so its lease runs out', () => {
    const n = follower();
    run(n, (x) => x.receive(quiesceBeat()));
    expect(run(n, (x) => x.receive(preVote(2, 1))).messages).toMatchObject([{ granted: false }]);
    expect(n.quiesced).toBe(false);
    // Awake, it campaigns after an election timeout without its leader.
    expect(tickMessages(n, 20).some((m) => m.type === 'preVote')).toBe(true);
  });

  it('wakes on peerDown of its leader: it grants pre-votes at once and campaigns soon', () => {
    const n = follower();
    run(n, (x) => x.receive(quiesceBeat()));
    run(n, (x) => x.peerDown(2)); // not its leader: nothing
    expect(n.quiesced).toBe(true);
    run(n, (x) => x.peerDown(0));
    expect(n.quiesced).toBe(false);
    expect(run(n, (x) => x.receive(preVote(2, 1))).messages).toMatchObject([{ granted: true }]);
    expect(tickMessages(n, 10).some((m) => m.type === 'preVote')).toBe(true);
  });

  it('is not put back to sleep by a late quiesce heartbeat from a leader it suspects', () => {
    const n = follower();
    run(n, (x) => x.receive(quiesceBeat()));
    run(n, (x) => x.peerDown(0));
    run(n, (x) => x.receive(quiesceBeat()));
    expect(n.quiesced).toBe(false);
    // Heard from again (the detector's peerUp), the leader may quiet it once more.
    run(n, (x) => x.peerUp(0));
    run(n, (x) => x.receive(quiesceBeat()));
    expect(n.quiesced).toBe(true);
  });

  it('wakes on an ordinary append: its leader is awake again', () => {
    const n = follower();
    run(n, (x) => x.receive(quiesceBeat()));
    run(n, (x) => x.receive(append(0, 1, TERM, 0, TERM, [], 1)));
    expect(n.quiesced).toBe(false);
  });

  it('campaigns at once when its quiet leader hands it the leadership', () => {
    const n = follower();
    run(n, (x) => x.receive(quiesceBeat()));
    const r = run(n, (x) => x.receive({ type: 'timeoutNow', from: 0, to: 1, term: TERM }));
    expect(n.role).toBe('candidate');
    expect(r.messages.map((m) => m.type)).toEqual(['vote', 'vote']);
  });
});

describe('the negative controls', () => {
  it('quiesceBehind: a follower behind the leader goes quiet anyway', () => {
    const n = replica(1, TERM, { quiesceBehind: true });
    run(n, (x) => x.recoveryDone());
    run(n, (x) => x.receive(quiesceBeat()));
    expect(n.quiesced).toBe(true);
    expect(tickMessages(n, 50)).toEqual([]);
  });

  it('ignorePeerDown: a quiet follower never learns its leader is gone', () => {
    const n = follower({ ignorePeerDown: true });
    run(n, (x) => x.receive(quiesceBeat()));
    run(n, (x) => x.peerDown(0));
    expect(n.quiesced).toBe(true);
    expect(tickMessages(n, 50)).toEqual([]);
  });
});
