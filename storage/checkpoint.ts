// Offset checkpoint files in the data directory, one line per partition, in Kafka's text layout:
//
//   recovery-point-offset-checkpoint  recovery starts from here after a crash
//   log-start-offset-checkpoint       the first offset readers may ask for
//   replication-offset-checkpoint     the high watermark (Kafka's name for the file)
//
//   0                      version
//   2                      number of entries
//   orders 0 1200          topic partition offset
//   orders 1 988
//
// The same version / count / lines frame carries other entry kinds (the per-partition
// `leader-epoch-checkpoint` has `epoch offset` lines); `readCheckpointLines` and
// `writeCheckpointLines` are that frame without the entries' meaning.
//
// A checkpoint is replaced atomically: written to `<name>.tmp`, fsynced, renamed over the old file,
// and the directory fsynced, so a crash leaves either the old or the new file, never a torn one.
// A leftover `.tmp` is an interrupted write and is deleted at start-up. A file that is torn anyway
// (a disk that lied about the fsync, a copy cut short) fails the count or lacks its final newline,
// since every line is written with one: a tear inside the last line cannot pass for a shorter
// offset.

import { join } from 'node:path';
import type { StorageFs } from './fs.js';
import { invalidTopicName } from './names.js';

export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const LOG_START_CHECKPOINT = 'log-start-offset-checkpoint';
/** The high watermark of each partition, as Kafka's file of that name. */
export const REPLICATION_OFFSET_CHECKPOINT = 'replication-offset-checkpoint';
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

/** Replaces `dir/name` with a checkpoint of `lines` (without newlines) under the version and count. */
export function writeCheckpointLines(
  fs: StorageFs,
  dir: string,
  name: string,
  lines: readonly string[],
): void {
  const text = [String(VERSION), String(lines.length), ...lines].join('\n') + '\n';
  writeFileAtomic(fs, dir, name, Buffer.from(text));
}

/**
 * The entry lines of checkpoint `dir/name`, null when there is no file, or why the frame (version,
 * count, final newline) is malformed. What each line means is the caller's to check.
 */
export function readCheckpointLines(fs: StorageFs, dir: string, name: string): string[] | null | string {
  const path = join(dir, name);
  if (!fs.existsSync(path)) return null;
  const text = fs.readFileSync(path).toString('utf8');
  if (!text.endsWith('\n')) return 'torn: no newline at the end';
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== String(VERSION)) return `unknown version '${lines[0]}'`;
  const count = Number(lines[1]);
  if (!/^\d+$/.test(lines[1] ?? '') || count !== lines.length - 2) return 'entry count mismatch';
  return lines.slice(2);
}

export function writeCheckpoint(
  fs: StorageFs,
  dir: string,
  name: string,
  entries: ReadonlyMap<string, number>,
): void {
  const lines: string[] = [];
  for (const [key, offset] of entries) lines.push(`${key} ${offset}`);
  writeCheckpointLines(fs, dir, name, lines);
}

/**
 * Reads a checkpoint; a missing file is empty. A malformed file is an error reason: the caller
 * falls back to what it can rebuild (recovering every log from its start; a high watermark from the
 * log start, to be advanced again by the leader) rather than trusting it.
 */
export function readCheckpoint(fs: StorageFs, dir: string, name: string): Map<string, number> | string {
  const lines = readCheckpointLines(fs, dir, name);
  if (lines === null) return new Map();
  if (typeof lines === 'string') return `${name}: ${lines}`;
  const out = new Map<string, number>();
  for (const line of lines) {
    const parts = line.split(' ');
    const [topic, partition, offset] = parts;
    const off = Number(offset);
    if (
      parts.length !== 3 ||
      invalidTopicName(topic ?? '') !== null ||
      !/^\d+$/.test(partition ?? '') ||
      !/^\d+$/.test(offset ?? '') ||
      !Number.isSafeInteger(off)
    ) {
      return `${name}: malformed line '${line}'`;
    }
    out.set(checkpointKey(topic as string, Number(partition)), off);
  }
  return out;
}
