// `raft-membership`: the membership changes a partition's Raft log holds, in the partition
// directory, so a replica knows its group after a restart without reading its log for them:
//
//   0                      version
//   2                      number of entries
//   120 1,2,3 4            offset of the config entry, voters, learners ('-' for none)
//   180 1,2,3,4 -
//
// The config entries themselves are control batches in the log (proto/control-batch.ts); this file
// is their index, kept by the same rules as the leader-epoch cache: an entry is written here before
// its batch is appended, so the file never knows less than the log, and opening drops entries at
// or past the log end (the batch did not make it). A truncation rewrites the file after cutting the
// log. Retention leaves it alone: the last change below the log start is what rules there, as a
// snapshot keeps its configuration. Written atomically (temp file, fsync, rename, directory fsync).

import { WeirError } from '../../proto/errors.js';
import { readCheckpointLines, writeCheckpointLines, type StorageFs } from '../../storage/index.js';
import type { MembershipAt } from '../raft/membership.js';

export const RAFT_MEMBERSHIP_FILE = 'raft-membership';
const LINE = /^(\d+) (\d+(?:,\d+)*) (-|\d+(?:,\d+)*)$/;

const ids = (list: readonly number[]): string => (list.length === 0 ? '-' : list.join(','));
const parseIds = (text: string): number[] => (text === '-' ? [] : text.split(',').map(Number));

/** One change as a line (without its newline): `offset voters learners`. */
export function membershipLine(c: MembershipAt): string {
  return `${c.offset} ${ids(c.membership.voters)} ${ids(c.membership.learners)}`;
}

/** The change a line holds, or null when it is not one. */
export function parseMembershipLine(line: string): MembershipAt | null {
  const m = LINE.exec(line);
  if (m === null) return null;
  return { offset: Number(m[1]), membership: { voters: parseIds(m[2]!), learners: parseIds(m[3]!) } };
}

/** The changes recorded in `dir` (oldest first; none when there is no file). */
export function readMembershipFile(fs: StorageFs, dir: string): MembershipAt[] {
  const lines = readCheckpointLines(fs, dir, RAFT_MEMBERSHIP_FILE);
  if (lines === null) return [];
  // Guessing a group's voters is how two leaders get elected: an unreadable file stops the replica.
  const bad = (why: string): WeirError =>
    new WeirError('KAFKA_STORAGE_ERROR', `${dir}/${RAFT_MEMBERSHIP_FILE}: ${why}`, { retriable: false });
  if (typeof lines === 'string') throw bad(lines);
  const out: MembershipAt[] = [];
  for (const line of lines) {
    const change = parseMembershipLine(line);
    if (change === null) throw bad(`malformed line '${line}'`);
    if ((out.at(-1)?.offset ?? -1) >= change.offset) throw bad('offsets do not ascend');
    out.push(change);
  }
  return out;
}

export function writeMembershipFile(fs: StorageFs, dir: string, changes: readonly MembershipAt[]): void {
  writeCheckpointLines(fs, dir, RAFT_MEMBERSHIP_FILE, changes.map(membershipLine));
}
