// What a leader knows about each member of its group in its term: where to send from next, how far
// the member's log matches (appended) and how far that match is durable there (what counts toward
// the majority, for a voter), and whether it answered since the last check-quorum.

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

function fresh(logEnd: number): Progress {
  // Optimistic: a leader assumes a member is caught up and backs up on its rejections.
  return {
    next: logEnd,
    matchEnd: 0,
    durableEnd: 0,
    active: false,
    incarnation: -1,
    amnesiac: false,
    rejoinAfter: 0,
  };
}

export class LeaderProgress {
  private readonly peers = new Map<number, Progress>();
  private readonly scratch: number[] = [];

  constructor(peers: readonly number[], logEnd: number) {
    this.setPeers(peers, logEnd);
  }

  /** The members changed: a new one starts fresh, a departed one is forgotten. */
  setPeers(peers: readonly number[], logEnd: number): void {
    for (const id of [...this.peers.keys()]) if (!peers.includes(id)) this.peers.delete(id);
    for (const id of peers) if (!this.peers.has(id)) this.peers.set(id, fresh(logEnd));
  }

  of(peer: number): Progress {
    const p = this.peers.get(peer);
    assert(p !== undefined, `${peer} is not a member of this group`);
    return p;
  }

  /** Whether `peer` is a member this leader replicates to. */
  has(peer: number): boolean {
    return this.peers.has(peer);
  }

  /**
   * The largest end that `count` replicas hold durably, `whole` of them not amnesiac, among
   * `counted` and the leader itself (`ownDurableEnd`, or null when the leader is not a voter; a
   * leader is never amnesiac). With `countAmnesiac` (a majority is amnesiac) every copy is whole.
   */
  quorumDurableEnd(
    ownDurableEnd: number | null,
    counted: readonly number[],
    count: number,
    countAmnesiac: boolean,
    whole: number,
  ): number {
    assert(whole <= count, 'whole copies are among the copies counted');
    return Math.min(
      this.kthEnd(ownDurableEnd, counted, count, true),
      this.kthEnd(ownDurableEnd, counted, whole, countAmnesiac),
    );
  }

  /** The `k`th largest durable end (k = 0: no bound), amnesiac copies as 0 unless `amnesiacCount`. */
  private kthEnd(own: number | null, counted: readonly number[], k: number, amnesiacCount: boolean): number {
    if (k === 0) return Infinity;
    // Every produce of a leader comes here: the scratch array is reused, not allocated each time.
    const ends = this.scratch;
    ends.length = 0;
    if (own !== null) ends.push(own);
    for (const id of counted) {
      const p = this.of(id);
      ends.push(p.amnesiac && !amnesiacCount ? 0 : p.durableEnd);
    }
    if (k > ends.length) return 0;
    ends.sort((a, b) => b - a);
    return ends[k - 1]!;
  }

  /** How many of `ids` said, when last heard, that they are amnesiac. */
  amnesiacAmong(ids: readonly number[]): number {
    let n = 0;
    for (const id of ids) if (this.of(id).amnesiac) n++;
    return n;
  }

  /**
   * Whether a quorum of the voters (`voters`, and the leader if `selfVoter`) was heard from since
   * the last call; resets every member's mark.
   */
  takeQuorumActive(voters: readonly number[], selfVoter: boolean, quorum: number): boolean {
    let active = selfVoter ? 1 : 0;
    for (const id of voters) if (this.of(id).active) active++;
    for (const p of this.peers.values()) p.active = false;
    return active >= quorum;
  }
}
