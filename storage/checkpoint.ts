// Offset checkpoint files: `recovery-point-offset-checkpoint` and `log-start-offset-checkpoint` in
// the data directory, one line per partition, in Kafka's text layout:
//
//   0                      version
//   2                      number of entries
//   orders 0 1200          topic partition offset
//   orders 1 988
//
// A checkpoint is replaced atomically: written to `<name>.tmp`, fsynced, renamed over the old file,
// and the directory fsynced, so a crash leaves either the old or the new file, never a torn one.
// A leftover `.tmp` is an interrupted write and is deleted at start-up.

import { join } from 'node:path';
import type { StorageFs } from './fs.js';
import { invalidTopicName } from './names.js';

export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const LOG_START_CHECKPOINT = 'log-start-offset-checkpoint';
const VERSION = 0;

/** Key of a partition in a checkpoint map. */
export function checkpointKey(topic: string, partition: number): string {
  return `${topic} ${partition}`;
}

/** Replaces `dir/name` atomically: temp file, fsync, rename, directory fsync. */
export function writeFileAtomic(fs: StorageFs, dir: string, name: string, data: Buffer): void {
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    let done = 0;
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, done);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  fs.fsyncDirSync(dir);
}

export function writeCheckpoint(
  fs: StorageFs,
  dir: string,
  name: string,
  entries: ReadonlyMap<string, number>,
): void {
  const lines = [String(VERSION), String(entries.size)];
  for (const [key, offset] of entries) lines.push(`${key} ${offset}`);
  writeFileAtomic(fs, dir, name, Buffer.from(lines.join('\n') + '\n'));
}

/**
 * Reads a checkpoint; a missing file is empty. A malformed file is an error reason: the caller
 * falls back to recovering everything rather than trusting it.
 */
export function readCheckpoint(fs: StorageFs, dir: string, name: string): Map<string, number> | string {
  const path = join(dir, name);
  if (!fs.existsSync(path)) return new Map();
  const lines = fs.readFileSync(path).toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== String(VERSION)) return `${name}: unknown version '${lines[0]}'`;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count !== lines.length - 2) return `${name}: entry count mismatch`;
  const out = new Map<string, number>();
  for (const line of lines.slice(2)) {
    const parts = line.split(' ');
    const [topic, partition, offset] = parts;
    const off = Number(offset);
    if (
      parts.length !== 3 ||
      invalidTopicName(topic ?? '') !== null ||
      !/^\d+$/.test(partition ?? '') ||
      !Number.isSafeInteger(off) ||
      off < 0
    ) {
      return `${name}: malformed line '${line}'`;
    }
    out.set(checkpointKey(topic as string, Number(partition)), off);
  }
  return out;
}
