// One-off routing for the admin's partition calls (list offsets, delete records): look the topics'
// leaders up once, then split the partitions asked for into one call per leader. A partition
// whose leader is not known goes to any broker, whose answer then carries its error; the clients
// that run for long (producer, consumer) keep a MetadataCache instead.

import type { CallOptions, Connection } from './connection.js';
import type { TopicPartition } from './records.js';

/** Indexes of the partitions asked for, by the leader to ask (undefined: any broker). */
export type LeaderGroups = Map<number | undefined, number[]>;

export async function groupByLeader(
  connection: Connection,
  partitions: readonly TopicPartition[],
  call?: CallOptions,
): Promise<LeaderGroups> {
  const topics = [...new Set(partitions.map((p) => p.topic))];
  const leaders = new Map<string, number>();
  if (topics.length > 0) {
    const metadata = await connection.getMetadata(topics, { ...call, broker: undefined });
    for (const t of metadata.topics) {
      for (const p of t.partitions) if (p.leader >= 0) leaders.set(`${t.name}\u0000${p.partition}`, p.leader);
    }
  }
  const groups: LeaderGroups = new Map();
  partitions.forEach((p, i) => {
    const leader = leaders.get(`${p.topic}\u0000${p.partition}`);
    let group = groups.get(leader);
    if (group === undefined) groups.set(leader, (group = []));
    group.push(i);
  });
  return groups;
}

/** Runs `send` once per leader, together, and puts each answer back at its partition's index. */
export async function perLeader<A, R>(
  groups: LeaderGroups,
  asked: readonly A[],
  call: CallOptions | undefined,
  send: (asked: A[], call: CallOptions) => Promise<R[]>,
): Promise<R[]> {
  const out = new Array<R>(asked.length);
  await Promise.all(
    Array.from(groups, async ([leader, indexes]) => {
      const answers = await send(
        indexes.map((i) => asked[i]!),
        { ...call, broker: leader },
      );
      indexes.forEach((i, k) => (out[i] = answers[k]!));
    }),
  );
  return out;
}
