// `partition.metadata`: which topic a partition directory belongs to, as Kafka's file of that name.
//
//   version: 0
//   topic_id: 5b1f0c3e-8a0e-4c55-9d43-6f1b8a5b7e21
//
// A directory name says only the topic's name, and a name can be deleted and used again; the topic
// id cannot. The file lets start-up tell a directory of the live topic from one left by a deleted
// or lost topic of the same name, and rebuild a topic whose metadata entry is gone. It is written
// atomically (temp file, fsync, rename, directory fsync) when the log is created, or when a
// directory from before this file existed is adopted by the topic of its name.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileAtomic } from './checkpoint.js';
import type { StorageFs } from './fs.js';

export const PARTITION_METADATA_FILE = 'partition.metadata';
const VERSION = 0;
const ID = /^[0-9A-Za-z_-]{1,64}$/;

/** Why `topicId` cannot be recorded in a partition directory, or null. */
export function invalidTopicId(topicId: unknown): string | null {
  return typeof topicId === 'string' && ID.test(topicId)
    ? null
    : `topic id ${JSON.stringify(topicId)} is not 1 to 64 characters of [0-9A-Za-z_-]`;
}

/** The topic id recorded in `dir`, null when the directory has no file, or a reason it is unreadable. */
export function readPartitionTopicId(fs: StorageFs, dir: string): { topicId: string | null } | string {
  const path = join(dir, PARTITION_METADATA_FILE);
  if (!fs.existsSync(path)) return { topicId: null };
  const fields = new Map<string, string>();
  for (const line of fs.readFileSync(path).toString('utf8').split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0) return `${path}: malformed line '${line}'`;
    fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  if (fields.get('version') !== String(VERSION)) return `${path}: unknown version '${fields.get('version')}'`;
  const topicId = fields.get('topic_id') ?? '';
  if (!ID.test(topicId)) return `${path}: malformed topic id '${topicId}'`;
  return { topicId };
}

export function writePartitionTopicId(fs: StorageFs, dir: string, topicId: string): void {
  assert.ok(ID.test(topicId), `topic id '${topicId}' cannot be recorded`);
  const text = `version: ${VERSION}\ntopic_id: ${topicId}\n`;
  writeFileAtomic(fs, dir, PARTITION_METADATA_FILE, Buffer.from(text));
}
