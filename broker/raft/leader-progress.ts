// What a leader knows about each member of its group in its term: where to send from next, how far
// the member's log matches (appended) and how far that match is durable there (what counts toward
// the majority, for a voter), whether it answered since the last check-quorum, and when (in the
// leader's ticks) it was last caught up with the leader's log end: what the in-sync replicas are
// judged by (broker/replica/replica-sync.ts).

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
  /** The last tick at which the member held the leader's whole log; null: not in this term yet. */
  caughtUpTick: number | null;
  /** The tick this leader started following the member (its election, or the member's addition). */
  sinceTick: number;
  /** The leader's log end and tick at the member's previous successful answer (none: Infinity). */
  ackedLogEnd: number;
  ackedTick: number;
  /**
   * Where the follower's log matches is not known (no answer since this leader's start, the last
   * one a rejection, or a new incarnation): one append at a time, from `next`. Otherwise appends
   * are pipelined: `next` moves past what was sent without waiting for the answer (a lost append
   * shows as a rejection of a later one, which backs `next` up).
   */
  probing: boolean;
  /**
   * The ends of the appends with entries sent and not yet answered, oldest first: a follower's
   * success answer clears those its match covers, a rejection all of them (the leader backs up).
   */
  readonly inflight: number[];
  /**
   * An append was held back for want of catch-up quota (catch-up-quota.ts): the leader offers the
   * member the quota again at its next tick.
   */
  held: boolean;
}

function fresh(logEnd: number, now: number, caughtUp: boolean): Progress {
  // Optimistic: a leader assumes a member is caught up and backs up on its rejections.
  return {
    next: logEnd,
    matchEnd: 0,
    durableEnd: 0,
    active: false,
    incarnation: -1,
    amnesiac: false,
    rejoinAfter: 0,
    caughtUpTick: caughtUp ? now : null,
    sinceTick: now,
    ackedLogEnd: Infinity,
    ackedTick: 0,
    probing: true,
    inflight: [],
    held: false,
  };
}

export class LeaderProgress {
  private readonly peers = new Map<number, Progress>();
  private readonly scratch: number[] = [];

  /**
   * A new leader's view at tick `now`: every member counts as caught up as of its election, as Kafka's
   * new leader starts the replicas of its in-sync set (a member that stays silent drops out once the
   * lag time passes; one elected over it could not have been far ahead of it).
   */
  constructor(peers: readonly number[], logEnd: number, now = 0) {
    for (const id of peers) this.peers.set(id, fresh(logEnd, now, true));
  }

  /**
   * The members changed: a new one starts fresh and not caught up (it joins the in-sync replicas
   * once it holds the log), a departed one is forgotten.
   */
  setPeers(peers: readonly number[], logEnd: number, now: number): void {
    for (const id of [...this.peers.keys()]) if (!peers.includes(id)) this.peers.delete(id);
    for (const id of peers) if (!this.peers.has(id)) this.peers.set(id, fresh(logEnd, now, false));
  }

  /**
   * `peer` answered an append with success at tick `now`, its match now `pr.matchEnd`, the leader's
   * log ending at `logEnd`. Kafka's rule (Replica.updateFetchState): a member that holds the whole
   * log is caught up now; one that holds everything the leader had at its previous answer was caught
   * up then, so a follower that keeps pace with a steady stream of appends (always one round trip
   * behind) stays in sync, and only one that falls behind by more than it fetches drops out.
   */
  noteAck(peer: number, logEnd: number, now: number): void {
    const p = this.of(peer);
    if (p.matchEnd >= logEnd) p.caughtUpTick = now;
    else if (p.matchEnd >= p.ackedLogEnd) p.caughtUpTick = Math.max(p.caughtUpTick ?? 0, p.ackedTick);
    p.ackedLogEnd = logEnd;
    p.ackedTick = now;
  }

  /** Every member this leader replicates to, with its progress (read-only: for reports). */
  members(): IterableIterator<[number, Readonly<Progress>]> {
    return this.peers.entries();
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
