// The replication part of a /metrics scrape, written as Prometheus text from the same one-pass
// snapshot of every partition's stats as the partition gauges (partition-gauges.ts says why not
// prom-client): the partitions this broker leads with fewer in-sync replicas than replicas, each
// follower's lag where this broker leads, and what the broker's Raft groups did since it started
// (elections started and won, the time from a leader's append to its commit, what the replication
// throttle let through to followers catching up and how long it held them back).
//
// A partition led here with followers has two follower series each; every other partition has
// none, so a broker that leads a tenth of its partitions writes a fifth as many lines as it has
// partitions, in the same slices of PARTITIONS_PER_SLICE with a turn of the event loop between.

import { setImmediate as nextTurn } from 'node:timers/promises';
import { PARTITIONS_PER_SLICE, escapeLabelValue } from './partition-gauges.js';
import type { PartitionStats } from './replica/replica-manager.js';
import { COMMIT_LATENCY_BUCKETS_SECONDS, type RaftTotals } from './replica/raft-totals.js';

/** Names as the README and dashboards know them; never rename. */
export const REPLICATION_METRICS = {
  underReplicated: 'weir_under_replicated_partitions',
  lagRecords: 'weir_follower_lag_records',
  lagMs: 'weir_follower_lag_ms',
  electionsStarted: 'weir_raft_elections_started_total',
  electionsWon: 'weir_raft_elections_won_total',
  rejoined: 'weir_raft_amnesia_cleared_total',
  amnesiacWins: 'weir_raft_amnesiac_elections_won_total',
  commitLatency: 'weir_raft_commit_latency_seconds',
  catchUpBytes: 'weir_replication_catchup_bytes_total',
  throttledSeconds: 'weir_replication_throttled_seconds_total',
} as const;

function family(name: string, type: string, help: string, body: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${body}`;
}

/**
 * Leading: a leader has followers unless its group is of one, whose single replica is always in
 * sync. A broker that does not lead a partition has no followers in its stats and says nothing of
 * its in-sync set beyond the leader, so it counts only the partitions it leads, as Kafka does.
 */
function underReplicated(s: PartitionStats): boolean {
  return s.followers.length > 0 && s.isr.length < s.replicas.length;
}

/** The replication families for `partitions` (one snapshot), each family's series together. */
export async function renderReplication(
  partitions: readonly { topic: string; stats: PartitionStats }[],
  totals: RaftTotals | undefined,
): Promise<string> {
  let under = 0;
  let lagRecords = '';
  let lagMs = '';
  const escaped = new Map<string, string>();
  for (let from = 0; from < partitions.length; from += PARTITIONS_PER_SLICE) {
    if (from > 0) await nextTurn();
    const to = Math.min(partitions.length, from + PARTITIONS_PER_SLICE);
    for (let i = from; i < to; i++) {
      const { topic, stats } = partitions[i]!;
      if (stats.followers.length === 0) continue;
      if (underReplicated(stats)) under++;
      let t = escaped.get(topic);
      if (t === undefined) escaped.set(topic, (t = escapeLabelValue(topic)));
      const prefix = `{topic="${t}",partition="${stats.partition}",follower="`;
      for (const f of stats.followers) {
        lagRecords += `${REPLICATION_METRICS.lagRecords}${prefix}${f.nodeId}"} ${f.lagRecords}\n`;
        lagMs += `${REPLICATION_METRICS.lagMs}${prefix}${f.nodeId}"} ${f.lagMs}\n`;
      }
    }
  }
  const n = REPLICATION_METRICS;
  return [
    family(
      n.underReplicated,
      'gauge',
      'Partitions this broker leads with fewer in-sync replicas than replicas.',
      `${n.underReplicated} ${under}\n`,
    ),
    family(
      n.lagRecords,
      'gauge',
      "Where this broker leads: the leader's log end less what the follower's log matches.",
      lagRecords,
    ),
    family(
      n.lagMs,
      'gauge',
      "Where this broker leads: milliseconds since the follower last held the leader's whole log.",
      lagMs,
    ),
    renderTotals(totals),
  ].join('\n');
}

/** The broker-wide Raft counters and the commit latency histogram (zero without them). */
function renderTotals(t: RaftTotals | undefined): string {
  const n = REPLICATION_METRICS;
  const started = family(
    n.electionsStarted,
    'counter',
    "Elections this broker's replicas started (a candidate's term bump; pre-votes not counted).",
    `${n.electionsStarted} ${t?.electionsStarted ?? 0}\n`,
  );
  const won = family(
    n.electionsWon,
    'counter',
    "Elections this broker's replicas won.",
    `${n.electionsWon} ${t?.electionsWon ?? 0}\n`,
  );
  const rejoined = family(
    n.rejoined,
    'counter',
    'Replicas of this broker that were amnesiac (a wiped or repaired log, a power loss) and caught up to their leader.',
    `${n.rejoined} ${t?.rejoined ?? 0}\n`,
  );
  const amnesiacWins = family(
    n.amnesiacWins,
    'counter',
    "Elections this broker's replicas won while amnesiac (only when a majority of the group was: a new partition's first).",
    `${n.amnesiacWins} ${t?.amnesiacWins ?? 0}\n`,
  );
  let body = '';
  let cumulative = 0;
  COMMIT_LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
    cumulative += t?.commitBuckets[i] ?? 0;
    body += `${n.commitLatency}_bucket{le="${le}"} ${cumulative}\n`;
  });
  body += `${n.commitLatency}_bucket{le="+Inf"} ${t?.commitCount ?? 0}\n`;
  body += `${n.commitLatency}_sum ${t?.commitSeconds ?? 0}\n`;
  body += `${n.commitLatency}_count ${t?.commitCount ?? 0}\n`;
  const latency = family(
    n.commitLatency,
    'histogram',
    "Time from a leader's append to its commit (the high watermark passing it), on this broker's leaders.",
    body,
  );
  const catchUp = family(
    n.catchUpBytes,
    'counter',
    "Entry bytes this broker's leaders sent to followers catching up, under the replication throttle (0 without one).",
    `${n.catchUpBytes} ${t?.catchUpBytes ?? 0}\n`,
  );
  const throttled = family(
    n.throttledSeconds,
    'counter',
    'Seconds during which the replication throttle held back appends to followers catching up.',
    `${n.throttledSeconds} ${t?.throttledSeconds ?? 0}\n`,
  );
  return [started, won, rejoined, amnesiacWins, latency, catchUp, throttled].join('\n');
}
