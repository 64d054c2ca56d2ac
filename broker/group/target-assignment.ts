// A group's target assignment: which member should own which partition at the current group
// epoch, computed by the group's assignor from what each member subscribes to (topic names, or a
// pattern over every non-internal topic) and what it holds now (so sticky moves little). Partitions
// are named by partition-key.ts.

import assert from 'node:assert/strict';
import type { RE2JS } from 're2js';
import { assign, type AssignorName } from './assignors.js';
import { partitionKey, sortedPartitions } from './partition-key.js';
import type { TopicView } from './group-protocol.js';

const SEP = '\u0000';

/** What the assignment needs to know of a member. */
export interface Subscriber {
  readonly memberId: string;
  /** '' for a dynamic member. */
  readonly instanceId: string;
  readonly topics: readonly string[];
  readonly regex: RE2JS | null;
  /** What it holds now, or its last target: the sticky assignor keeps it where it can. */
  readonly current: Iterable<string>;
}

/** The existing topics a member subscribes to, sorted. */
export function subscribedTopics(member: Pick<Subscriber, 'topics' | 'regex'>, topics: TopicView): string[] {
  const out = new Set<string>();
  for (const t of member.topics) if (topics.partitionCount(t) > 0) out.add(t);
  if (member.regex !== null) for (const t of topics.topicNames()) if (member.regex.testExact(t)) out.add(t);
  return [...out].sort();
}

/** Every subscribed topic with its partition count: a change means the target must be redone. */
export function subscriptionShape(
  members: readonly Pick<Subscriber, 'topics' | 'regex'>[],
  topics: TopicView,
): string {
  const all = new Set<string>();
  for (const m of members) for (const t of subscribedTopics(m, topics)) all.add(t);
  return [...all]
    .sort()
    .map((t) => `${t}:${topics.partitionCount(t)}`)
    .join(SEP);
}

/** memberId → the partitions it should own. */
export function targetAssignment(
  assignor: AssignorName,
  members: readonly Subscriber[],
  topics: TopicView,
): Map<string, Set<string>> {
  // Assignors order members by id; a static member is known by its instance id, so it keeps
  // its place (and, with range or round-robin, its partitions) across restarts.
  const byAssignorId = new Map<string, Subscriber>();
  const counts = new Map<string, number>();
  const input = members.map((m) => {
    const id = m.instanceId !== '' ? `static${SEP}${m.instanceId}` : `dynamic${SEP}${m.memberId}`;
    byAssignorId.set(id, m);
    const subscribed = subscribedTopics(m, topics);
    for (const t of subscribed) counts.set(t, topics.partitionCount(t));
    return { memberId: id, topics: subscribed, owned: sortedPartitions(m.current) };
  });
  const target = new Map<string, Set<string>>();
  for (const [id, tps] of assign(assignor, input, counts)) {
    const m = byAssignorId.get(id);
    assert(m !== undefined, `assignor returned unknown member ${id}`);
    target.set(m.memberId, new Set(tps.map((tp) => partitionKey(tp.topic, tp.partition))));
  }
  return target;
}
