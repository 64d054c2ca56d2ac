// The catch-up quota: a budget of entry bytes a leader may send to members that are catching up,
// so a member far behind (a restarted broker, a wiped one, a move's new replica) cannot take the
// CPU, disk and network its group's live appends need. Kafka's leader.replication.throttled.rate
// is the model; this is the protocol's side of it, the budget itself is the driver's (a token
// bucket on the broker's clock: broker/replica/replication-throttle.ts), so the node stays pure:
// the quota is an input like RaftConfig.random, and without one nothing changes.
//
// Who is throttled. Kafka throttles the replicas an operator lists, and of those only the ones out
// of the in-sync set. Here the leader decides by itself, from what it already tracks:
//
//   - A member is catching up when it has not held the leader's whole log for more than `lagTicks`
//     (LeaderProgress.caughtUpTick, the in-sync rule's clock, with a much shorter limit than
//     replicaLagTimeMaxMs's 30 s: a broker that was down for a few seconds is behind by those
//     seconds of writes and is throttled at once), or when it says it is amnesiac (whatever it
//     holds, a leader must send it the log again). A member keeping pace with the live appends, a
//     round trip behind, counts as caught up at each answer, so it is never throttled.
//   - A member the commit needs is never throttled: only while a majority of the voters (the leader
//     among them, if it votes) are not catching up. Then what is committed, and so every acks=all
//     produce, moves with the members that keep pace, and the throttle only slows the copy of a
//     member the group can do without; when too few keep pace (both followers of three fell
//     behind), everyone is fed at full speed, as without a quota.
//
// What is throttled: appends that carry entries. Heartbeats (an append without entries) always go,
// so a throttled member hears its leader and does not campaign. An append goes when the budget has
// credit left, whatever its size (it may overdraw the budget by one append, at most
// maxBytesPerAppend): the bytes sent to members catching up over any time t are then at most the
// budget's burst, plus its rate times t, plus one append. A member refused is held; the leader
// offers it the budget again at its next tick (and whenever the member answers), and so fills its
// window as credit comes back.
//
// The rate must exceed what is written to the partitions a broker leads, as with Kafka's: below it,
// a member catching up falls further behind as fast as it is fed and never catches up.

import type { Progress } from './leader-progress.js';

export interface CatchUpQuota {
  /** Ticks without holding the leader's whole log after which a member counts as catching up. */
  readonly lagTicks: number;
  /** Whether an append to a member catching up may go now (credit is left). */
  admits(): boolean;
  /** An append of `bytes` entry bytes went to a member catching up. */
  charge(bytes: number): void;
}

/** Whether a member, as its leader knows it at tick `now`, is catching up (see the header). */
export function catchingUp(p: Readonly<Progress>, now: number, lagTicks: number): boolean {
  return p.amnesiac || p.caughtUpTick === null || now - p.caughtUpTick > lagTicks;
}
