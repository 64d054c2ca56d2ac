// What a leader knows about each follower in its term: where to send from next, how far the
// follower's log matches (appended) and how far that match is durable there (what counts toward
// the majority), and whether it answered since the last check-quorum.

import assert from 'node:assert';

export interface Progress {
  /** The next offset to send. */
  next: number;
  /** The follower's log matches ours below this end. */
  matchEnd: number;
  /** ... and is fsynced there below this end. */
  durableEnd: number;
  /** Heard from since the last check-quorum. */
  active: boolean;
  /** The follower's incarnation as last heard (-1 before its first answer). */
  incarnation: number;
  /** The follower said it is amnesiac: what it holds does not count toward the majority. */
  amnesiac: boolean;
  /** The commit end when this incarnation was first heard: only a commit past it can rejoin it. */
  rejoinAfter: number;
}

export class LeaderProgress {
  private readonly peers = new Map<number, Progress>();
  private readonly scratch: number[];

  constructor(peers: readonly number[], logEnd: number) {
    // Optimistic: a new leader assumes followers are caught up and backs up on their rejections.
    for (const p of peers)
      this.peers.set(p, {
        next: logEnd,
        matchEnd: 0,
        durableEnd: 0,
        active: false,
        incarnation: -1,
        amnesiac: false,
        rejoinAfter: 0,
      });
    this.scratch = new Array<number>(peers.length + 1).fill(0);
  }

  of(peer: number): Progress {
    const p = this.peers.get(peer);
    assert(p !== undefined, `${peer} is not a follower of this group`);
    return p;
  }

  /**
   * The largest end that `count` replicas (the leader with `ownDurableEnd` included) hold durably.
   * An amnesiac follower's copy counts only when `countAmnesiac` (a majority is amnesiac).
   */
  quorumDurableEnd(ownDurableEnd: number, count: number, countAmnesiac: boolean): number {
    const ends = this.scratch;
    ends[0] = ownDurableEnd;
    let i = 1;
    for (const p of this.peers.values()) ends[i++] = p.amnesiac && !countAmnesiac ? 0 : p.durableEnd;
    ends.sort((a, b) => b - a);
    return ends[count - 1]!;
  }

  /** How many followers said, when last heard, that they are amnesiac. */
  amnesiacFollowers(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.amnesiac) n++;
    return n;
  }

  /** Whether a quorum (the leader included) was heard from since the last call; resets the marks. */
  takeQuorumActive(quorum: number): boolean {
    let active = 1;
    for (const p of this.peers.values()) {
      if (p.active) active++;
      p.active = false;
    }
    return active >= quorum;
  }
}
