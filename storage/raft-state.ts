// `raft-state`: a partition replica's Raft term, vote and amnesia, and who wrote them under which
// boot of the host, in the partition directory:
//
//   version: 1
//   current_term: 7
//   voted_for: 3              a node id, or -1 for no vote in this term
//   amnesiac: 0               1: the replica may have lost entries it acknowledged (see below)
//   boot_id: 2f8e...          the host boot the file was last written under (a UUID), or - when
//                             the host does not say
//   replica_id: 9c41...       a UUID made when the partition's state is first created; kept for
//                             the replica's life, so a directory can be told from its replacement
//   crc32c: 5d2c09a1          CRC-32C (8 hex digits) of every byte above, newlines included
//
// Version 0 (still read; never written) has only the first three lines: it is read as not
// amnesiac, with no boot id, and a replica id is made and written at the next `persist`.
//
// Raft's safety rests on the term and vote outliving a crash: a replica that forgets its vote can
// vote twice in one term and elect two leaders, and one that forgets its term can accept a deposed
// leader's entries. An amnesiac replica (its page cache went in a power loss, or its directory was
// wiped) may have lost entries it acknowledged, so its votes and copies do not count until a leader
// has caught it up; the flag outlives a crash too, or a second restart would forget the first
// loss. The boot id lets the next start tell a process crash (the page cache survived) from a
// reboot (it may not have). So the state is made durable before the replica may act on it:
// `persist` writes the file atomically (temp file, fsync, rename, directory fsync) and returns only
// after every one of those steps; a vote is answered after `persist` returns, never before or after
// a `persist` that threw. A file that cannot be trusted (bad checksum, torn, unknown version) is a
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
/** The version written; version 0 is still read. */
export const RAFT_STATE_VERSION = 1;
/** `boot_id` when the host gave none. */
const NO_BOOT_ID = '-';
/** Terms are leader epochs, stamped into each batch's int32 partitionLeaderEpoch. */
const MAX_TERM = 0x7fffffff;
const MAX_NODE_ID = 0x7fffffff;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UUID_ONLY = new RegExp(`^${UUID}$`);
const CRC_LINE = /^crc32c: ([0-9a-f]{8})\n$/;
const BODY_V0 = /^version: 0\ncurrent_term: (\d+)\nvoted_for: (-1|\d+)\n$/;
const BODY_V1 = new RegExp(
  `^version: 1\\ncurrent_term: (\\d+)\\nvoted_for: (-1|\\d+)\\namnesiac: ([01])\\n` +
    `boot_id: (${UUID}|${NO_BOOT_ID})\\nreplica_id: (${UUID})\\n$`,
);
const VERSION_LINE = /^version: (\d+)\n/;

/** What the protocol needs to find again after a crash (HardState, in the file's terms). */
export interface RaftState {
  readonly currentTerm: number;
  readonly votedFor: number;
  /** The replica may have lost entries it acknowledged: its votes and copies do not count yet. */
  readonly amnesiac: boolean;
}

/** The whole content of a version 1 file: the state, and under which boot and by which replica. */
export interface RaftStateRecord extends RaftState {
  readonly bootId: string | null;
  readonly replicaId: string;
}

/** What a decoded file holds; a version 0 file has no replica id (and no boot id). */
export interface DecodedRaftState extends RaftState {
  readonly version: number;
  readonly bootId: string | null;
  readonly replicaId: string | null;
}

/** What the replica's host tells the file when it is opened. */
export interface RaftStateHost {
  /** The host's current boot (a UUID), stamped into every write; null when the host does not say. */
  readonly bootId: string | null;
  /** A fresh UUID: the replica id of a state created now (or read from a version 0 file). */
  newReplicaId(): string;
}

/** The state before any term: what a replica that has never run an election holds. */
export const INITIAL_RAFT_STATE: RaftState = Object.freeze({
  currentTerm: 0,
  votedFor: NO_VOTE,
  amnesiac: false,
});

/** True for the lowercase 36-character UUID form the file records. */
export function isRaftStateUuid(s: string): boolean {
  return UUID_ONLY.test(s);
}

/** Why `state` cannot be recorded, or null. */
export function invalidRaftState(state: RaftState): string | null {
  const { currentTerm, votedFor, amnesiac } = state;
  if (!Number.isInteger(currentTerm) || currentTerm < 0 || currentTerm > MAX_TERM)
    return `term ${currentTerm} is not an int32 >= 0`;
  if (!Number.isInteger(votedFor) || votedFor < NO_VOTE || votedFor > MAX_NODE_ID)
    return `vote ${votedFor} is neither a node id nor ${NO_VOTE}`;
  if (typeof amnesiac !== 'boolean') return `amnesiac ${String(amnesiac)} is not a boolean`;
  return null;
}

/** Why `record` cannot be recorded, or null. */
function invalidRecord(record: RaftStateRecord): string | null {
  if (record.bootId !== null && !isRaftStateUuid(record.bootId))
    return `boot id ${record.bootId} is not a lowercase UUID`;
  if (!isRaftStateUuid(record.replicaId)) return `replica id ${record.replicaId} is not a lowercase UUID`;
  return invalidRaftState(record);
}

/** The file's bytes for `record`, always in the current version. */
export function encodeRaftState(record: RaftStateRecord): Buffer {
  const body =
    `version: ${RAFT_STATE_VERSION}\ncurrent_term: ${record.currentTerm}\nvoted_for: ${record.votedFor}\n` +
    `amnesiac: ${record.amnesiac ? 1 : 0}\nboot_id: ${record.bootId ?? NO_BOOT_ID}\n` +
    `replica_id: ${record.replicaId}\n`;
  const bytes = Buffer.from(body);
  const crc = crc32c(bytes).toString(16).padStart(8, '0');
  return Buffer.concat([bytes, Buffer.from(`crc32c: ${crc}\n`)]);
}

/** The state in `buf` (version 0 or 1), or why it cannot be trusted. */
export function decodeRaftState(buf: Buffer): DecodedRaftState | string {
  const text = buf.toString('latin1');
  const crcStart = text.lastIndexOf('crc32c: ');
  const crcLine = crcStart < 0 ? null : CRC_LINE.exec(text.slice(crcStart));
  if (crcLine === null) return 'torn: no complete crc32c line at the end';
  const stored = parseInt(crcLine[1] as string, 16);
  const computed = crc32c(buf, 0, crcStart);
  if (stored !== computed)
    return `crc32c mismatch: stored ${crcLine[1]}, computed ${computed.toString(16).padStart(8, '0')}`;
  const body = text.slice(0, crcStart);
  const version = VERSION_LINE.exec(body);
  if (version === null) return 'malformed fields';
  let state: DecodedRaftState;
  if (version[1] === '0') {
    const m = BODY_V0.exec(body);
    if (m === null) return 'malformed fields';
    state = {
      version: 0,
      currentTerm: Number(m[1]),
      votedFor: Number(m[2]),
      amnesiac: false,
      bootId: null,
      replicaId: null,
    };
  } else if (version[1] === '1') {
    const m = BODY_V1.exec(body);
    if (m === null) return 'malformed fields';
    state = {
      version: 1,
      currentTerm: Number(m[1]),
      votedFor: Number(m[2]),
      amnesiac: m[3] === '1',
      bootId: m[4] === NO_BOOT_ID ? null : (m[4] as string),
      replicaId: m[5] as string,
    };
  } else {
    return `unknown version ${version[1]}`;
  }
  return invalidRaftState(state) ?? state;
}

export class RaftStateFile {
  private current: RaftStateRecord;
  /** Whether the file holds `current` exactly (in the current version): persist may skip. */
  private upToDate: boolean;

  private constructor(
    private readonly fs: StorageFs,
    readonly dir: string,
    current: RaftStateRecord,
    upToDate: boolean,
    /** Whether the file existed when opened (false: the partition's state is new). */
    readonly found: boolean,
    /** The boot the file was last written under before this open; null if none recorded. */
    readonly storedBootId: string | null,
  ) {
    this.current = current;
    this.upToDate = upToDate;
  }

  /**
   * Reads `dir/raft-state`. No file is the initial state (term 0, no vote, not amnesiac) under a
   * new replica id, written at the first `persist`; a file that cannot be trusted is a
   * KAFKA_STORAGE_ERROR naming it, and the replica must not take part until an operator has
   * looked.
   */
  static open(fs: StorageFs, dir: string, host: RaftStateHost): RaftStateFile {
    assert.ok(
      host.bootId === null || isRaftStateUuid(host.bootId),
      `boot id ${host.bootId} is not a lowercase UUID`,
    );
    const path = join(dir, RAFT_STATE_FILE);
    let found: boolean;
    let read: DecodedRaftState | string | null = null;
    try {
      found = fs.existsSync(path);
      if (found) read = decodeRaftState(fs.readFileSync(path));
    } catch (err) {
      throw toStorageError(err, `reading ${path}`);
    }
    if (typeof read === 'string')
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: ${read}`, { retriable: false });
    const state = read ?? INITIAL_RAFT_STATE;
    const replicaId = read?.replicaId ?? host.newReplicaId();
    const current: RaftStateRecord = Object.freeze({
      currentTerm: state.currentTerm,
      votedFor: state.votedFor,
      amnesiac: state.amnesiac,
      bootId: host.bootId,
      replicaId,
    });
    const invalid = invalidRecord(current);
    assert.equal(invalid, null, `opening ${path}: ${invalid}`);
    // A version 0 file, or one from another boot, is rewritten at the next persist.
    const upToDate = read?.version === RAFT_STATE_VERSION && read.bootId === host.bootId;
    return new RaftStateFile(fs, dir, current, upToDate, found, read?.bootId ?? null);
  }

  get currentTerm(): number {
    return this.current.currentTerm;
  }

  get votedFor(): number {
    return this.current.votedFor;
  }

  get amnesiac(): boolean {
    return this.current.amnesiac;
  }

  /** The replica's identity: the file's, or the one made at open for a new or version 0 state. */
  get replicaId(): string {
    return this.current.replicaId;
  }

  get state(): RaftState {
    const { currentTerm, votedFor, amnesiac } = this.current;
    return { currentTerm, votedFor, amnesiac };
  }

  /**
   * Records `state` under the current boot id and the replica id, and is durable when it returns:
   * the file and its directory have been fsynced, so the caller may now answer the vote or act in
   * the term. When it throws, nothing may be answered and the in-memory state is unchanged (the
   * file may hold either state; both are ones this replica could still honour, since it acted on
   * neither).
   *
   * The term never goes back, and a vote once cast is not changed within its term (bugs in the
   * caller, asserted). Persisting what the file already holds, under this boot, writes nothing.
   */
  persist(state: RaftState): void {
    const { currentTerm: term, votedFor, amnesiac } = state;
    const next: RaftStateRecord = Object.freeze({
      currentTerm: term,
      votedFor,
      amnesiac,
      bootId: this.current.bootId,
      replicaId: this.current.replicaId,
    });
    const invalid = invalidRaftState(next);
    assert.equal(invalid, null, `persist(${term}, ${votedFor}, ${amnesiac}): ${invalid}`);
    const { currentTerm, votedFor: voted } = this.current;
    assert.ok(term >= currentTerm, `term goes back from ${currentTerm} to ${term}`);
    if (term === currentTerm && votedFor !== voted)
      assert.equal(voted, NO_VOTE, `vote in term ${term} changes from ${voted} to ${votedFor}`);
    if (this.upToDate && term === currentTerm && votedFor === voted && amnesiac === this.current.amnesiac)
      return;
    try {
      writeFileAtomic(this.fs, this.dir, RAFT_STATE_FILE, encodeRaftState(next));
    } catch (err) {
      throw toStorageError(err, `writing ${join(this.dir, RAFT_STATE_FILE)}`);
    }
    this.current = next;
    this.upToDate = true;
  }
}
