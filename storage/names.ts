// Topic and partition names, and the directory names built from them.
//
// A partition lives in `<data-dir>/<topic>-<partition>/`. Topic names follow Kafka's rule
// (`[a-zA-Z0-9._-]`, 1 to 249 characters, not `.` or `..`), which leaves no way to form a path
// separator or a parent reference, so no name can make storage touch a path outside its data
// directory. partitionDir() asserts that as well.

import assert from 'node:assert/strict';
import { join, resolve, sep } from 'node:path';
import { WeirError } from '../proto/errors.js';

export const MAX_TOPIC_NAME_LENGTH = 249;
export const MAX_PARTITIONS = 0x7fff_ffff;
const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Why `name` is not a legal topic name, or null. */
export function invalidTopicName(name: string): string | null {
  if (name.length === 0) return 'topic name is empty';
  if (name.length > MAX_TOPIC_NAME_LENGTH)
    return `topic name is longer than ${MAX_TOPIC_NAME_LENGTH} characters`;
  if (name === '.' || name === '..') return `topic name cannot be '${name}'`;
  if (!LEGAL.test(name)) return `topic name '${name}' has characters outside [a-zA-Z0-9._-]`;
  return null;
}

export function assertTopicName(name: string): void {
  const reason = invalidTopicName(name);
  if (reason !== null) throw new WeirError('INVALID_TOPIC_EXCEPTION', reason);
}

export function assertPartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition > MAX_PARTITIONS) {
    throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `partition ${partition} is not a partition number`);
  }
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export function partitionDirName(topic: string, partition: number): string {
  assertTopicName(topic);
  assertPartition(partition);
  return `${topic}-${partition}`;
}

/** The partition a directory name stands for, or null if it is not a partition directory. */
export function parsePartitionDirName(name: string): TopicPartition | null {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return null;
  const topic = name.slice(0, dash);
  const digits = name.slice(dash + 1);
  if (!/^(0|[1-9]\d{0,9})$/.test(digits)) return null;
  const partition = Number(digits);
  if (partition > MAX_PARTITIONS || invalidTopicName(topic) !== null) return null;
  return { topic, partition };
}

/** The directory of a partition, guaranteed to be directly inside `dataDir`. */
export function partitionDir(dataDir: string, topic: string, partition: number): string {
  const root = resolve(dataDir);
  const dir = resolve(join(root, partitionDirName(topic, partition)));
  assert.ok(
    dir.startsWith(root + sep) && !dir.slice(root.length + 1).includes(sep),
    'partition dir escapes the data dir',
  );
  return dir;
}
