// The in-sync replicas of a partition and its followers' lag, as this broker knows them.
//
// In sync, as Kafka's replica.lag.time.max.ms: a follower is in sync while it held the leader's
// whole log (its log end, not only the committed part) at some moment within `replicaLagTimeMaxMs`
// (see LeaderProgress.noteAck for when a follower counts as caught up). The leader is always in
// sync. A follower that says it is amnesiac (it may have lost what it acknowledged, and its copy
// does not count toward a commit until a leader has caught it up) is not in sync, whatever its lag:
// the set names the replicas whose copy a commit can stand on.
//
// Only the leader knows its followers. A broker that does not lead a partition does not know its
// in-sync set (it is not in the metadata log, as Kafka's is in the controller's), so it answers the
// leader alone, the one replica sure to be in sync, or nothing while no leader is known; and no
// follower lag. Ask the leader for the whole set (`weir cluster status` does).
//
// The Raft node counts time in ticks (it has no clock); this converts them at the driver's tick.

import type { Progress } from '../raft/leader-progress.js';

/** One follower of a partition this broker leads, as the leader sees it. */
export interface FollowerLag {
  readonly nodeId: number;
  /** The follower's log matches the leader's below this offset. */
  readonly matchEnd: number;
  /** The leader's log end less `matchEnd`: records the follower has yet to append. */
  readonly lagRecords: number;
  /** Time since the follower last held the leader's whole log (or since it joined, if never). */
  readonly lagMs: number;
  readonly inSync: boolean;
}

export interface ReplicaSync {
  /** The Raft term (the leader epoch) this replica is in. */
  readonly term: number;
  /** In-sync replicas, in the order of `replicas`. */
  readonly isr: number[];
  /** Leading: every follower's lag (sorted by node id); otherwise empty. */
  readonly followers: FollowerLag[];
}

/** What this reads of a Raft node; RaftNode fits. */
export interface SyncSource {
  readonly id: number;
  readonly currentTerm: number;
  readonly leaderId: number | null;
  readonly logEnd: number;
  readonly ticks: number;
  followers(): Iterable<[number, Readonly<Progress>]> | null;
}

/** The in-sync replicas among `replicas` and the followers' lag; `tickMs`: the driver's tick. */
export function replicaSync(
  node: SyncSource,
  replicas: readonly number[],
  tickMs: number,
  replicaLagTimeMaxMs: number,
): ReplicaSync {
  const progress = node.followers();
  if (progress === null) {
    const leader = node.leaderId;
    const isr = leader !== null && replicas.includes(leader) ? [leader] : [];
    return { term: node.currentTerm, isr, followers: [] };
  }
  const followers: FollowerLag[] = [];
  for (const [nodeId, p] of progress) {
    // Never caught up in this term: lagging since the leader began to follow it.
    const lagMs = (node.ticks - (p.caughtUpTick ?? p.sinceTick)) * tickMs;
    followers.push({
      nodeId,
      matchEnd: p.matchEnd,
      lagRecords: Math.max(0, node.logEnd - p.matchEnd),
      lagMs,
      inSync: p.caughtUpTick !== null && lagMs <= replicaLagTimeMaxMs && !p.amnesiac,
    });
  }
  followers.sort((a, b) => a.nodeId - b.nodeId);
  const isr = replicas.filter((r) => r === node.id || followers.some((f) => f.nodeId === r && f.inSync));
  return { term: node.currentTerm, isr, followers };
}
