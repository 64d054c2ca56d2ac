// What every Raft group of one broker did, added up since the broker started: elections started
// and won, how long the leader's appends took to commit, and what the replication throttle let
// through and held back. Kept as plain counts (a histogram's cumulative buckets, its sum and
// count), not metric objects, so the replica layer does not depend on the metrics library; the
// metrics read them at scrape time.

import assert from 'node:assert/strict';

/** Upper bounds (seconds) of the commit latency buckets: 100 µs (an append alone) to 10 s. */
export const COMMIT_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export class RaftTotals {
  /** Elections started (a candidate's term bump, pre-votes not counted) and won. */
  electionsStarted = 0;
  electionsWon = 0;
  /**
   * Amnesiac replicas made whole again: by catching up to their leader (`rejoined`), or by winning
   * an election while amnesiac (`amnesiacWins`: only when a majority of the group was amnesiac,
   * the whole group having lost what it acknowledged; a repaired replica among whole ones never).
   */
  rejoined = 0;
  amnesiacWins = 0;
  /** Per bucket of COMMIT_LATENCY_BUCKETS_SECONDS, commits at or under its bound (not cumulative). */
  readonly commitBuckets: number[] = COMMIT_LATENCY_BUCKETS_SECONDS.map(() => 0);
  commitCount = 0;
  commitSeconds = 0;
  /**
   * The replication throttle (replication-throttle.ts): entry bytes sent to members catching up,
   * and seconds during which appends to them were held back for want of credit.
   */
  catchUpBytes = 0;
  throttledSeconds = 0;

  observeCommit(seconds: number): void {
    assert(seconds >= 0, 'a commit follows its append');
    this.commitCount++;
    this.commitSeconds += seconds;
    const i = COMMIT_LATENCY_BUCKETS_SECONDS.findIndex((b) => seconds <= b);
    if (i >= 0) this.commitBuckets[i]!++;
  }
}
