// Which partitions `weir consume` reads: those of the topics named, or of every topic whose whole
// name matches --pattern, each limited to --partition if given.
//
// A pattern is RE2 syntax, as a consumer group's subscription pattern (so the same text selects the
// same topics in both places), and it matches whole names, as Kafka's patterns do: `orders-.*`
// matches `orders-eu` but not `old-orders-eu`. Internal topics are not matched. The topics are
// listed once, at start: a topic created later is not read.

import { RE2JS } from 're2js';
import type { Admin, TopicPartition } from '../index.js';
import { UsageError } from './common.js';

function compile(pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw new UsageError(`--pattern '${pattern}' is not a valid RE2 expression: ${(err as Error).message}`);
  }
}

function partitionsOf(topic: string, count: number, only: number | undefined): TopicPartition[] {
  if (only === undefined) return Array.from({ length: count }, (_, partition) => ({ topic, partition }));
  if (only >= count) {
    throw new UsageError(`--partition ${only}: ${topic} has ${count} partitions (0-${count - 1})`);
  }
  return [{ topic, partition: only }];
}

/** The topics named (each must exist), in the order given, without repeats. */
async function named(admin: Admin, topics: readonly string[]): Promise<[string, number][]> {
  const unique = [...new Set(topics)];
  const described = await Promise.all(unique.map((t) => admin.describeTopic(t)));
  return unique.map((t, i) => [t, described[i]!.partitions.length]);
}

/** The topics whose names match, sorted by name; none is a failure. */
async function matching(admin: Admin, pattern: string): Promise<[string, number][]> {
  const re = compile(pattern);
  const topics = (await admin.listTopics()).filter((t) => !t.internal && re.matches(t.name));
  if (topics.length === 0) throw new Error(`no topic matches --pattern '${pattern}'`);
  topics.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return topics.map((t) => [t.name, t.partitions]);
}

export async function selectPartitions(
  admin: Admin,
  topics: readonly string[],
  pattern: string | undefined,
  only: number | undefined,
): Promise<TopicPartition[]> {
  const found = pattern === undefined ? await named(admin, topics) : await matching(admin, pattern);
  return found.flatMap(([topic, count]) => partitionsOf(topic, count, only));
}
