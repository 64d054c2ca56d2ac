// Partition sets as the group calls carry them (`TopicPartitions`: one entry per topic with its
// partition numbers) and as both ends use them (a flat list of { topic, partition }), in one
// order: by topic name, then partition number.

import type { TopicPartitions } from './generated/weir/v1/TopicPartitions.js';

export interface TopicPartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export function compareTopicPartitions(a: TopicPartitionRef, b: TopicPartitionRef): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

/** The wire form: one entry per topic, topics in name order, partitions ascending. */
export function toWirePartitions(tps: Iterable<TopicPartitionRef>): TopicPartitions[] {
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
): { topic: string; partition: number }[] {
  const out: { topic: string; partition: number }[] = [];
  for (const t of wire) for (const partition of t.partitions) out.push({ topic: t.topic, partition });
  return out.sort(compareTopicPartitions);
}
