// Partition assignors for consumer groups. The coordinator computes assignments on the broker, so
// clients in any language only follow what they are told. Each assignor is a pure function of the
// members (id, subscription, what each owns now) and the partition counts of the topics.
//
//   range        Kafka's RangeAssignor: per topic, members in id order take contiguous ranges; the
//                first (partitions % members) members take one extra. Two members on a 3-partition
//                topic: the first gets [0, 1], the second [2].
//   roundrobin   Kafka's RoundRobinAssignor: every subscribed partition in (topic, partition) order,
//                dealt to the subscribed members in id order, skipping those not subscribed.
//   sticky       the default, in the spirit of Kafka's cooperative-sticky assignor: every member
//                keeps what it owns while that stays valid and within its fair share; only the
//                partitions that must move (a member left, a new member needs its share, a topic
//                grew) are handed out, each to the least-loaded member subscribed to it.
//
// Every assignor gives each subscribed partition to exactly one member subscribed to its topic.

import { compareTopicPartitions, partitionKey } from './partition-key.js';

export type AssignorName = 'range' | 'roundrobin' | 'sticky';
export const ASSIGNORS: readonly AssignorName[] = ['range', 'roundrobin', 'sticky'];

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface GroupMember {
  readonly memberId: string;
  readonly topics: readonly string[];
  /** What the member owns now (sticky keeps it where it can). */
  readonly owned: readonly TopicPartition[];
}

/** memberId → its partitions, each list sorted by (topic, partition). */
export type Assignment = Map<string, TopicPartition[]>;

function byId(members: readonly GroupMember[]): GroupMember[] {
  return [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
}

function emptyAssignment(members: readonly GroupMember[]): Assignment {
  return new Map(members.map((m) => [m.memberId, []]));
}

function sorted(assignment: Assignment): Assignment {
  for (const list of assignment.values()) list.sort(compareTopicPartitions);
  return assignment;
}

/** Every partition some member subscribes to, in (topic, partition) order. */
function subscribedPartitions(
  members: readonly GroupMember[],
  partitions: ReadonlyMap<string, number>,
): TopicPartition[] {
  const topics = [...new Set(members.flatMap((m) => m.topics))]
    .filter((t) => (partitions.get(t) ?? 0) > 0)
    .sort();
  return topics.flatMap((topic) =>
    Array.from({ length: partitions.get(topic) ?? 0 }, (_, partition) => ({ topic, partition })),
  );
}

export function rangeAssign(
  members: readonly GroupMember[],
  partitions: ReadonlyMap<string, number>,
): Assignment {
  const out = emptyAssignment(members);
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
  for (const topic of topics) {
    const count = partitions.get(topic) ?? 0;
    const subscribers = byId(members.filter((m) => m.topics.includes(topic)));
    if (count === 0 || subscribers.length === 0) continue;
    const base = Math.floor(count / subscribers.length);
    const extra = count % subscribers.length;
    let next = 0;
    subscribers.forEach((m, i) => {
      const take = base + (i < extra ? 1 : 0);
      for (let p = next; p < next + take; p++) out.get(m.memberId)?.push({ topic, partition: p });
      next += take;
    });
  }
  return sorted(out);
}

export function roundRobinAssign(
  members: readonly GroupMember[],
  partitions: ReadonlyMap<string, number>,
): Assignment {
  const out = emptyAssignment(members);
  const ordered = byId(members);
  if (ordered.length === 0) return out;
  let cursor = 0;
  for (const tp of subscribedPartitions(members, partitions)) {
    for (let tries = 0; tries < ordered.length; tries++) {
      const m = ordered[cursor % ordered.length] as GroupMember;
      cursor++;
      if (m.topics.includes(tp.topic)) {
        out.get(m.memberId)?.push(tp);
        break;
      }
    }
  }
  return sorted(out);
}

export function stickyAssign(
  members: readonly GroupMember[],
  partitions: ReadonlyMap<string, number>,
): Assignment {
  const out = emptyAssignment(members);
  const ordered = byId(members);
  const all = subscribedPartitions(members, partitions);
  if (ordered.length === 0 || all.length === 0) return out;
  const key = (tp: TopicPartition): string => partitionKey(tp.topic, tp.partition);
  const valid = new Set(all.map(key));
  const eligible = (m: GroupMember, tp: TopicPartition): boolean => m.topics.includes(tp.topic);
  // A fair share: no member holds more than ceil(partitions / members).
  const ceiling = Math.ceil(all.length / ordered.length);
  const taken = new Set<string>();

  // 1. Keep what is owned, still valid, not claimed twice, and within the ceiling.
  for (const m of ordered) {
    const mine = out.get(m.memberId) as TopicPartition[];
    for (const tp of [...m.owned].sort(compareTopicPartitions)) {
      const k = key(tp);
      if (!valid.has(k) || taken.has(k) || !eligible(m, tp) || mine.length >= ceiling) continue;
      mine.push({ topic: tp.topic, partition: tp.partition });
      taken.add(k);
    }
  }
  // 2. Hand out the rest, each to the least-loaded member subscribed to it.
  const load = (m: GroupMember): number => (out.get(m.memberId) as TopicPartition[]).length;
  for (const tp of all) {
    if (taken.has(key(tp))) continue;
    let best: GroupMember | undefined;
    for (const m of ordered) if (eligible(m, tp) && (best === undefined || load(m) < load(best))) best = m;
    if (best === undefined) continue;
    (out.get(best.memberId) as TopicPartition[]).push(tp);
    taken.add(key(tp));
  }
  // 3. Even out: move a partition from a member to one holding two fewer that may take it, until
  //    no such move exists. Each move narrows the gap, so this ends.
  for (let moved = true; moved;) {
    moved = false;
    for (const from of ordered) {
      const mine = out.get(from.memberId) as TopicPartition[];
      for (const to of ordered) {
        if (load(from) - load(to) < 2) continue;
        const i = mine.findLastIndex((tp) => eligible(to, tp));
        if (i < 0) continue;
        const [tp] = mine.splice(i, 1);
        (out.get(to.memberId) as TopicPartition[]).push(tp as TopicPartition);
        moved = true;
      }
    }
  }
  return sorted(out);
}

export function assign(
  name: AssignorName,
  members: readonly GroupMember[],
  partitions: ReadonlyMap<string, number>,
): Assignment {
  switch (name) {
    case 'range':
      return rangeAssign(members, partitions);
    case 'roundrobin':
      return roundRobinAssign(members, partitions);
    case 'sticky':
      return stickyAssign(members, partitions);
  }
}
