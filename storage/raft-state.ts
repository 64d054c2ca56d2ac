// `raft-state`: a partition replica's Raft term and vote, in the partition directory:
//
//   version: 0
//   current_term: 7
//   voted_for: 3              a node id, or -1 for no vote in this term
//   crc32c: 5d2c09a1          CRC-32C (8 hex digits) of every byte above, newlines included
//
// Raft's safety rests on these two values outliving a crash: a replica that forgets its vote can
// vote twice in one term and elect two leaders, and one that forgets its term can accept a deposed
// leader's entries. So the state is made durable before the replica may act on it: `persist`
// writes the file atomically (temp file, fsync, rename, directory fsync) and returns only after
// every one of those steps; a vote is answered after `persist` returns, never before or after a
// `persist` that threw. A file that cannot be trusted (bad checksum, torn, unknown version) is a
// storage error, not term 0: voting on a forgotten state is the one thing this file prevents.
// Text keeps the file readable with `cat`; the checksum catches what the rename cannot (a torn
// copy, a flipped bit).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { crc32c } from '../proto/crc32c.js';
import { WeirError } from '../proto/errors.js';
import { writeFileAtomic } from './checkpoint.js';
import type { StorageFs } from './fs.js';
import { toStorageError } from './storage-error.js';

export const RAFT_STATE_FILE = 'raft-state';
/** `votedFor` when the replica has not voted in its current term. */
export const NO_VOTE = -1;
const VERSION = 0;
/** Terms are leader epochs, stamped into each batch's int32 partitionLeaderEpoch. */
const MAX_TERM = 0x7fffffff;
const MAX_NODE_ID = 0x7fffffff;
const CRC_LINE = /^crc32c: ([0-9a-f]{8})\n$/;
const BODY = /^version: (\d+)\ncurrent_term: (\d+)\nvoted_for: (-1|\d+)\n$/;

export interface RaftState {
  readonly currentTerm: number;
  readonly votedFor: number;
}

/** The state before any term: what a replica that has never run an election holds. */
export const INITIAL_RAFT_STATE: RaftState = Object.freeze({ currentTerm: 0, votedFor: NO_VOTE });

/** Why `state` cannot be recorded, or null. */
export function invalidRaftState(state: RaftState): string | null {
  const { currentTerm, votedFor } = state;
  if (!Number.isInteger(currentTerm) || currentTerm < 0 || currentTerm > MAX_TERM)
    return `term ${currentTerm} is not an int32 >= 0`;
  if (!Number.isInteger(votedFor) || votedFor < NO_VOTE || votedFor > MAX_NODE_ID)
    return `vote ${votedFor} is neither a node id nor ${NO_VOTE}`;
  return null;
}

export function encodeRaftState(state: RaftState): Buffer {
  const body = `version: ${VERSION}\ncurrent_term: ${state.currentTerm}\nvoted_for: ${state.votedFor}\n`;
  const bytes = Buffer.from(body);
  const crc = crc32c(bytes).toString(16).padStart(8, '0');
  return Buffer.concat([bytes, Buffer.from(`crc32c: ${crc}\n`)]);
}

/** The state in `buf`, or why it cannot be trusted. */
export function decodeRaftState(buf: Buffer): RaftState | string {
  const text = buf.toString('latin1');
  const crcStart = text.lastIndexOf('crc32c: ');
  const crcLine = crcStart < 0 ? null : CRC_LINE.exec(text.slice(crcStart));
  if (crcLine === null) return 'torn: no complete crc32c line at the end';
  const stored = parseInt(crcLine[1] as string, 16);
  const computed = crc32c(buf, 0, crcStart);
  if (stored !== computed)
    return `crc32c mismatch: stored ${crcLine[1]}, computed ${computed.toString(16).padStart(8, '0')}`;
  const body = BODY.exec(text.slice(0, crcStart));
  if (body === null) return 'malformed fields';
  if (Number(body[1]) !== VERSION) return `unknown version ${body[1]}`;
  const state = { currentTerm: Number(body[2]), votedFor: Number(body[3]) };
  return invalidRaftState(state) ?? state;
}

export class RaftStateFile {
  private current: RaftState;

  private constructor(
    private readonly fs: StorageFs,
    readonly dir: string,
    state: RaftState,
  ) {
    this.current = state;
  }

  /**
   * Reads `dir/raft-state`. No file is the initial state (term 0, no vote); a file that cannot be
   * trusted is a KAFKA_STORAGE_ERROR naming it, and the replica must not take part until an
   * operator has looked.
   */
  static open(fs: StorageFs, dir: string): RaftStateFile {
    const path = join(dir, RAFT_STATE_FILE);
    let state: RaftState | string = INITIAL_RAFT_STATE;
    try {
      if (fs.existsSync(path)) state = decodeRaftState(fs.readFileSync(path));
    } catch (err) {
      throw toStorageError(err, `reading ${path}`);
    }
    if (typeof state === 'string')
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: ${state}`, { retriable: false });
    return new RaftStateFile(fs, dir, state);
  }

  get currentTerm(): number {
    return this.current.currentTerm;
  }

  get votedFor(): number {
    return this.current.votedFor;
  }

  get state(): RaftState {
    return this.current;
  }

  /**
   * Records `term` and `votedFor`, and is durable when it returns: the file and its directory
   * have been fsynced, so the caller may now answer the vote or act in the term. When it throws,
   * nothing may be answered and the in-memory state is unchanged (the file may hold either state;
   * both are ones this replica could still honour, since it acted on neither).
   *
   * The term never goes back, and a vote once cast is not changed within its term (bugs in the
   * caller, asserted). Persisting the current state again writes nothing.
   */
  persist(term: number, votedFor: number): void {
    const next = { currentTerm: term, votedFor };
    const invalid = invalidRaftState(next);
    assert.equal(invalid, null, `persist(${term}, ${votedFor}): ${invalid}`);
    const { currentTerm, votedFor: voted } = this.current;
    assert.ok(term >= currentTerm, `term goes back from ${currentTerm} to ${term}`);
    if (term === currentTerm) {
      if (votedFor === voted) return;
      assert.equal(voted, NO_VOTE, `vote in term ${term} changes from ${voted} to ${votedFor}`);
    }
    try {
      writeFileAtomic(this.fs, this.dir, RAFT_STATE_FILE, encodeRaftState(next));
    } catch (err) {
      throw toStorageError(err, `writing ${join(this.dir, RAFT_STATE_FILE)}`);
    }
    this.current = Object.freeze(next);
  }
}
