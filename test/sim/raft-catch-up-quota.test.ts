// Scenario tests of a leader with a catch-up quota (broker/raft/catch-up-quota.ts), driven by hand:
// a member catching up is fed only while the quota admits, is still heartbeated meanwhile and is
// offered the quota again at the next tick; a member keeping pace, or one the commit needs, is fed
// whatever the quota says.

import { describe, expect, it } from 'vitest';
import type { CatchUpQuota } from '../../broker/raft/catch-up-quota.js';
import type { Entry, Message, Ready } from '../../broker/raft/messages.js';
import { MemoryRaftLog } from '../../broker/raft/raft-log.js';
import { RaftNode } from '../../broker/raft/raft-node.js';
import { appendAck } from './raft-test-messages.js';

/** A quota whose credit the test sets; it records what it was charged. */
class TestQuota implements CatchUpQuota {
  readonly lagTicks = 5;
  credit = 0;
  readonly charged: number[] = [];
  admits(): boolean {
    return this.credit > 0;
  }
  charge(bytes: number): void {
    this.credit -= bytes;
    this.charged.push(bytes);
  }
}

// Six entries of 400 bytes in term 1 (offsets 0-5); the leader of term 2 adds its no-op at 6.
const big = (offset: number): Entry => ({
  offset,
  count: 1,
  term: 1,
  kind: 'data',
  data: Buffer.from('x'.repeat(400)),
});

function run(n: RaftNode, input: (n: RaftNode) => void): Ready {
  input(n);
  return n.takeReady();
}

/** Leader 0 of [0, 1, 2] in term 2 (elected at its tick 10), appends of at most 1,000 bytes. */
function leader(quota: TestQuota): RaftNode {
  const n = new RaftNode(
    {
      id: 0,
      voters: [0, 1, 2],
      electionTicks: 10,
      heartbeatTicks: 2,
      maxEntriesPerAppend: 8,
      maxBytesPerAppend: 1_000,
      maxInflightAppends: 2,
      random: () => 0,
      catchUpQuota: quota,
    },
    { term: 1, votedFor: 0, amnesiac: false },
    new MemoryRaftLog([0, 1, 2, 3, 4, 5].map(big)),
  );
  run(n, (x) => x.recoveryDone());
  for (let i = 0; i < 10; i++) run(n, (x) => x.tick());
  for (const type of ['preVoteResponse', 'voteResponse'] as const)
    run(n, (x) => x.receive({ type, from: 1, to: 0, term: 2, voteTerm: 2, granted: true, amnesiac: false }));
  expect(n.role).toBe('leader');
  return n;
}

const rejection = (prevOffset: number): Message => ({
  type: 'appendResponse',
  from: 1,
  to: 0,
  term: 2,
  success: false,
  prevOffset,
  matchEnd: 0,
  durableEnd: 0,
  hintOffset: -1,
  hintTerm: 0,
  incarnation: 0,
  amnesiac: false,
});

/** The appends to `to` in a Ready: their previous offsets and the offsets they carry. */
const appendsTo = (to: number, r: Ready): [number, number[]][] =>
  r.messages.flatMap((m) =>
    m.type === 'append' && m.to === to ? [[m.prevOffset, m.entries.map((e) => e.offset)]] : [],
  );

/** `count` ticks, follower 2 answering each with the whole log (it keeps pace); what went to 1. */
function ticksWith2KeepingPace(n: RaftNode, count: number): [number, number[]][] {
  const to1: [number, number[]][] = [];
  for (let i = 0; i < count; i++) {
    to1.push(
      ...appendsTo(
        1,
        run(n, (x) => x.tick()),
      ),
    );
    run(n, (x) => x.receive(appendAck(2, 0, 2, n.logEnd)));
  }
  return to1;
}

describe('a leader with a catch-up quota', () => {
  it('feeds a member catching up only while the quota admits, heartbeats it meanwhile, and resumes on a tick', () => {
    const quota = new TestQuota();
    const n = leader(quota);
    // Given follower 2 keeping pace and follower 1 silent for more than the quota's lag ticks
    ticksWith2KeepingPace(n, 6);
    // When follower 1 turns out to be empty while the quota has no credit
    expect(
      appendsTo(
        1,
        run(n, (x) => x.receive(rejection(6))),
      ),
    ).toEqual([]);
    // Then it gets no entries, and its heartbeat goes without entries from where it stands
    expect(ticksWith2KeepingPace(n, 2)).toEqual([[-1, []]]);
    // ...while follower 2, keeping pace, gets a new entry at once, charged to nobody.
    const r = run(n, (x) => x.propose(Buffer.from('p'.repeat(300))));
    expect(appendsTo(2, r)).toEqual([[6, [7]]]);
    expect(appendsTo(1, r)).toEqual([]);
    expect(quota.charged).toEqual([]);

    // When credit comes back, the next tick feeds follower 1 (one probe: two entries, 800 bytes)
    quota.credit = 1_000;
    expect(
      appendsTo(
        1,
        run(n, (x) => x.tick()),
      ),
    ).toEqual([[-1, [0, 1]]]);
    expect(quota.charged).toEqual([800]);
    // ...and its answer opens a window of two, of which the quota admits one append (it may
    // overdraw by that append), and holds the next.
    expect(
      appendsTo(
        1,
        run(n, (x) => x.receive(appendAck(1, 0, 2, 2))),
      ),
    ).toEqual([[1, [2, 3]]]);
    expect(quota.charged).toEqual([800, 800]);
    expect(quota.credit).toBe(-600);
    quota.credit = 1;
    run(n, (x) => x.receive(appendAck(2, 0, 2, n.logEnd)));
    // (That tick is also a heartbeat's, which goes to the window the append filled, without entries.)
    expect(
      appendsTo(
        1,
        run(n, (x) => x.tick()),
      ),
    ).toEqual([
      [3, [4, 5, 6]],
      [6, []],
    ]);
    expect(quota.charged).toEqual([800, 800, 800]);
  });

  it('feeds a member that keeps pace whatever the quota says', () => {
    const quota = new TestQuota();
    const n = leader(quota);
    // Both followers answer with the whole log at every tick: neither is catching up.
    for (let i = 0; i < 8; i++) {
      run(n, (x) => x.tick());
      for (const f of [1, 2]) run(n, (x) => x.receive(appendAck(f, 0, 2, n.logEnd)));
    }
    const r = run(n, (x) => x.propose(Buffer.from('p'.repeat(300))));
    expect([appendsTo(1, r), appendsTo(2, r)]).toEqual([[[6, [7]]], [[6, [7]]]]);
    expect(quota.charged).toEqual([]);
  });

  it('never throttles a member the commit needs: with both followers behind, both are fed', () => {
    const quota = new TestQuota();
    const n = leader(quota);
    // Given both followers silent for more than the lag ticks (the leader alone keeps pace)
    for (let i = 0; i < 6; i++) run(n, (x) => x.tick());
    // When follower 1 turns out to be empty, with no credit
    const r = run(n, (x) => x.receive(rejection(6)));
    // Then it is fed all the same, and nothing is charged: the commit waits for one of them.
    expect(appendsTo(1, r)).toEqual([[-1, [0, 1]]]);
    expect(quota.charged).toEqual([]);
  });
});
