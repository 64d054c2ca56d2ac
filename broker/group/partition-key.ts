// How the group code names a partition: `topic\0partition` as a map key (no topic name holds
// '\0'), and one order of partitions, by topic then number, for every list it hands out.

import { compareTopicPartitions } from '../../proto/topic-partitions.js';
import type { TopicPartition } from './assignors.js';

export { compareTopicPartitions };

const SEP = '\u0000';

export function partitionKey(topic: string, partition: number): string {
  return `${topic}${SEP}${partition}`;
}

export function splitPartitionKey(key: string): TopicPartition {
  const i = key.lastIndexOf(SEP);
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

/** The partitions of a set of keys, in order. */
export function sortedPartitions(keys: Iterable<string>): TopicPartition[] {
  return [...keys].map(splitPartitionKey).sort(compareTopicPartitions);
}
