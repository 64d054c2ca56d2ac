// Partition sets as the group protocol carries them ({ topic, partitions[] } per topic) and as the
// SDK hands them to users (a flat, sorted list of { topic, partition }), plus the checks of the
// names users pass in.

import { WeirError } from '../proto/errors.js';
import type { TopicPartitions } from '../proto/generated/weir/v1/TopicPartitions.js';
import { partitionKey } from './fetcher.js';
import type { TopicPartition } from './records.js';

export { partitionKey };

/** A group id is any non-empty string (the broker checks the rest). */
export function checkGroupId(groupId: unknown): string {
  if (typeof groupId !== 'string' || groupId.length === 0) {
    throw new WeirError('INVALID_GROUP_ID', `group id must be a non-empty string, got ${String(groupId)}`);
  }
  return groupId;
}

export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

/** The wire form: one entry per topic, partitions ascending, topics in name order. */
export function toWirePartitions(tps: Iterable<TopicPartition>): TopicPartitions[] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of tps) {
    let list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, (list = []));
    list.push(partition);
  }
  return [...byTopic.keys()].sort().map((topic) => ({
    topic,
    partitions: byTopic.get(topic)!.sort((a, b) => a - b),
  }));
}

/** The flat, sorted form of a wire partition set. */
export function fromWirePartitions(
  wire: readonly { topic: string; partitions: readonly number[] }[],
): TopicPartition[] {
  const out: TopicPartition[] = [];
  for (const t of wire) for (const partition of t.partitions) out.push({ topic: t.topic, partition });
  return out.sort(compareTopicPartitions);
}
