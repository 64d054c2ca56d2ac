// In-sync replicas and follower lag (broker/replica/replica-sync.ts) over a real, pure Raft node
// (broker/raft/raft-node.ts) driven by hand: its ticks are the time, its followers' answers the
// only news. Given a leader of three, when its followers answer (or stay silent), then the set and
// the lag follow Kafka's replica.lag.time.max.ms rule.

import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../broker/raft/messages.js';
import { MemoryRaftLog } from '../../../broker/raft/raft-log.js';
import { RaftNode } from '../../../broker/raft/raft-node.js';
import { replicaSync } from '../../../broker/replica/replica-sync.js';
import { append, appendAck } from '../../sim/raft-test-messages.js';

const TICK_MS = 100;
const MAX_LAG_MS = 1_000; // ten ticks

function node(id: number, voters: number[], incarnation = 0): RaftNode {
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
    { term: 1, votedFor: null, amnesiac: false },
    new MemoryRaftLog(),
  );
}

/** Node 0 of [0, 1, 2], elected in term 2 with node 1's votes; its no-op is in its log. */
function leader(): RaftNode {
  const n = node(0, [0, 1, 2]);
  n.recoveryDone();
  for (let i = 0; i < 10; i++) n.tick();
  const answer = { from: 1, to: 0, term: 2, voteTerm: 2, granted: true, amnesiac: false } as const;
  n.receive({ type: 'preVoteResponse', ...answer });
  n.receive({ type: 'voteResponse', ...answer });
  expect(n.role).toBe('leader');
  n.takeReady();
  return n;
}

const sync = (n: RaftNode) => replicaSync(n, [0, 1, 2], TICK_MS, MAX_LAG_MS);
const lagOf = (n: RaftNode, id: number) => sync(n).followers.find((f) => f.nodeId === id)!;

/** Ticks `count` times; node 1 answers every heartbeat with the whole log, node 2 never. */
function ticksWithOneFollower(n: RaftNode, count: number): void {
  for (let i = 0; i < count; i++) {
    n.tick();
    n.receive(appendAck(1, 0, n.currentTerm, n.logEnd));
    n.takeReady();
  }
}

describe('a leader', () => {
  it('counts every follower in sync as of its election, and its lag in records from its first answer', () => {
    const n = leader();
    expect(sync(n).isr).toEqual([0, 1, 2]);
    expect(sync(n).term).toBe(2);
    expect(lagOf(n, 1)).toMatchObject({ lagRecords: n.logEnd, lagMs: 0, inSync: true });
    n.receive(appendAck(1, 0, 2, n.logEnd));
    expect(lagOf(n, 1)).toMatchObject({ matchEnd: n.logEnd, lagRecords: 0, lagMs: 0 });
  });

  it('drops a silent follower once the lag time has passed, not before, and its lag grows in ms', () => {
    const n = leader();
    n.propose(Buffer.from('a'), 3);
    ticksWithOneFollower(n, 10);
    // Ten ticks of 100 ms: exactly the lag time, still in.
    expect(lagOf(n, 2)).toMatchObject({ lagMs: 1_000, lagRecords: n.logEnd, inSync: true });
    expect(sync(n).isr).toEqual([0, 1, 2]);
    ticksWithOneFollower(n, 1);
    expect(lagOf(n, 2)).toMatchObject({ lagMs: 1_100, inSync: false });
    expect(sync(n).isr).toEqual([0, 1]);
    expect(lagOf(n, 1)).toMatchObject({ lagMs: 0, lagRecords: 0, inSync: true });
  });

  it('takes a follower back once it holds the whole log again', () => {
    const n = leader();
    ticksWithOneFollower(n, 15);
    expect(sync(n).isr).toEqual([0, 1]);
    n.receive(appendAck(2, 0, 2, n.logEnd - 1));
    expect(sync(n).isr).toEqual([0, 1]);
    n.receive(appendAck(2, 0, 2, n.logEnd));
    expect(sync(n).isr).toEqual([0, 1, 2]);
    expect(lagOf(n, 2)).toMatchObject({ lagMs: 0, lagRecords: 0 });
  });

  it('keeps in sync a follower one round trip behind a steady stream, and drops one that falls behind', () => {
    const n = leader();
    // Every tick a new entry; node 1 answers with the log as it was at its previous answer (it keeps
    // pace), node 2 with less than that (it falls further behind each time).
    let prevEnd = n.logEnd;
    let slow = n.logEnd;
    for (let i = 0; i < 20; i++) {
      n.tick();
      n.propose(Buffer.from(`r${i}`));
      n.receive(appendAck(1, 0, 2, prevEnd));
      n.receive(appendAck(2, 0, 2, slow));
      prevEnd = n.logEnd;
      if (i % 2 === 0) slow++;
      n.takeReady();
    }
    expect(lagOf(n, 1).inSync).toBe(true);
    expect(lagOf(n, 1).lagMs).toBeLessThanOrEqual(TICK_MS);
    expect(lagOf(n, 1).lagRecords).toBe(1);
    expect(lagOf(n, 2).inSync).toBe(false);
    expect(sync(n).isr).toEqual([0, 1]);
  });

  it('does not count an amnesiac follower in sync, caught up or not', () => {
    const n = leader();
    n.receive({ ...appendAck(2, 0, 2, n.logEnd), amnesiac: true });
    expect(lagOf(n, 2)).toMatchObject({ lagRecords: 0, inSync: false });
    expect(sync(n).isr).toEqual([0, 1]);
  });

  it('is alone in the set of a group of one, with no followers', () => {
    const n = node(0, [0]);
    n.recoveryDone();
    n.hardStatePersisted(2);
    expect(n.role).toBe('leader');
    expect(replicaSync(n, [0], TICK_MS, MAX_LAG_MS)).toEqual({ term: 2, isr: [0], followers: [] });
  });
});

describe('a follower', () => {
  it('names only the leader, or nobody before it has heard from one, and no lag', () => {
    const n = node(1, [0, 1, 2]);
    n.recoveryDone();
    expect(replicaSync(n, [0, 1, 2], TICK_MS, MAX_LAG_MS)).toEqual({ term: 1, isr: [], followers: [] });
    const noop: Entry = { offset: 0, count: 1, term: 2, kind: 'noop', data: Buffer.alloc(0) };
    n.receive(append(0, 1, 2, -1, 0, [noop]));
    expect(replicaSync(n, [0, 1, 2], TICK_MS, MAX_LAG_MS)).toEqual({ term: 2, isr: [0], followers: [] });
  });
});

describe('election counts', () => {
  it('count a real election (not a pre-vote) when started, and again when won', () => {
    const n = node(0, [0, 1, 2]);
    n.recoveryDone();
    for (let i = 0; i < 10; i++) n.tick();
    expect(n.role).toBe('preCandidate');
    expect([n.electionsStarted, n.electionsWon]).toEqual([0, 0]);
    const answer = { from: 1, to: 0, term: 2, voteTerm: 2, granted: true, amnesiac: false } as const;
    n.receive({ type: 'preVoteResponse', ...answer });
    expect([n.electionsStarted, n.electionsWon]).toEqual([1, 0]);
    n.receive({ type: 'voteResponse', ...answer });
    expect([n.electionsStarted, n.electionsWon]).toEqual([1, 1]);
  });
});
