// The Raft core's log (RaftLogStore, broker/raft/raft-log.ts) over a partition's real log and its
// leader-epoch cache: an entry is a stored record batch, its offset the batch's base offset, its
// count the batch's lastOffsetDelta + 1, its term the batch's partitionLeaderEpoch, and it is a
// no-op when the batch is a control batch (a new leader's LeaderChange, proto/control-batch.ts),
// or a membership change when it is weir's membership control batch (indexed in `raft-membership`,
// raft-membership-file.ts, so opening need not read the log for them).
//
// Terms come from the cache (storage/leader-epoch-cache.ts): the term at an offset is the epoch of
// the last entry starting at or before it, which is what the cache answers. Four rules keep the
// cache and the log right across crashes:
//   - an append assigns the epoch of a new term before the batch is written (as Kafka does), and
//     opening drops epochs that start at or past the log end (the batch did not make it), so the
//     cache never knows less than the log about what is durable;
//   - a truncation cuts the log first, durably (PartitionLog.truncateTo fsyncs the cut), then the
//     cache (an epoch left past the end is dropped at open): a power loss that gave the old suffix
//     back after the cache took the new leader's epoch would leave that epoch over batches of
//     other epochs, a follower matching the leader at an offset it does not hold; and opening
//     repairs a cache behind the log (one written without this adapter, or that lost its file) by
//     assigning the epochs of the batches it does not cover: from the log start when the cache is
//     empty, else from its latest epoch's start or the recovery point, whichever is later (below
//     the recovery point every batch was written after its epoch, by the first rule, so only the
//     tail a crash may have left needs reading);
//   - a power loss can keep a later segment's batches and not an earlier one's tail; opening cuts
//     the log at the first gap between segments (see cutAtFirstHole), so the log is always a
//     prefix of what was appended, never a log with a hole that would still match the leader's;
//   - `startTerm`, the term at start - 1, is kept in the cache itself: the entry covering start - 1
//     is never dropped. Retention (the log manager deleting segments) leaves the cache alone, so it
//     still knows the term of every offset; deleteBefore, and opening, trim it only to the entry
//     covering the first segment's base - 1 (the start can come back that low after a crash, before
//     the log manager checkpointed it). A log started afresh at S in term T keeps just (T, S - 1).
//
// resetTo (a follower behind the leader's log start) must drop the log and rewrite the cache as one
// step, or a crash between them would leave an empty log whose startTerm is lost. It first writes
// `raft-log-reset` (start and term, atomically: temp file, fsync, rename, directory fsync), then
// starts the log afresh (itself crash-safe, PartitionLog.truncateFullyAndStartAt), resets the cache,
// the membership index (to the membership in force at the new start, which the file carries on a
// second line) and the start state (the producer state below the start, on a last line) and
// removes the file; opening finds a file left by a crash and does the reset again.
//
// The start state lives in `raft-start-state` (its offset, then the bytes, under a CRC-32C), and
// holds for the log only while that offset is the log start: retention that moves the start without
// deleteBefore (the log manager's own) leaves it behind, and it is then no one's. deleteBefore
// writes the new state before it moves the start, so a crash between the two leaves a state for an
// offset the log does not start at: the state is dropped, and a retry of a batch retention took is
// appended again, as if the state had never been kept.
//
// A gap that compaction made by removing the first batch of an epoch answers that epoch in the gap,
// where a log of entries (MemoryRaftLog) answers the previous one, and a follower that copied the
// compacted log answers the previous one too (its epoch starts at its first batch). A consistency
// check at such a gap offset then fails once and the leader backs up to the entry before the gap,
// where the logs agree: a round trip lost, no entry.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Entry } from '../raft/messages.js';
import type { RaftLogStore } from '../raft/raft-log.js';
import { membershipBeforeIn, type MembershipAt } from '../raft/membership.js';
import {
  membershipLine,
  parseMembershipLine,
  readMembershipFile,
  writeMembershipFile,
} from './raft-membership-file.js';
import {
  LOG_OVERHEAD,
  batchBaseOffset,
  batchIsControl,
  batchLastOffsetDelta,
  batchLeaderEpoch,
  batchSize,
  stampBaseOffset,
} from '../../proto/batch-header.js';
import {
  decodeMembershipBatch,
  leaderChangeBatch,
  membershipBatch,
  type LeaderChange,
} from '../../proto/control-batch.js';
import { crc32c } from '../../proto/crc32c.js';
import { WeirError } from '../../proto/errors.js';
import {
  toStorageError,
  writeFileAtomic,
  type AppendResult,
  type LeaderEpochCache,
  type PartitionLog,
  type StorageFs,
} from '../../storage/index.js';

/**
 * A resetTo under way: `<start> <startTerm>`, then the membership in force at start
 * (`<offset> <voters> <learners>`, as raft-membership-file.ts writes it), if any, then
 * `state <base64>`, the start state, if any; one line each.
 */
export const RAFT_LOG_RESET_FILE = 'raft-log-reset';
/** The start state: CRC-32C (of the rest), the offset it holds for (int64), then its bytes. */
export const RAFT_START_STATE_FILE = 'raft-start-state';
export const DEFAULT_MAX_READ_BYTES = 1024 * 1024;
const RESET_LINE = /^(\d+) (\d+)\n(?:(\d[^\n]*)\n)?(?:state ([A-Za-z0-9+/=]*)\n)?$/;
const START_STATE_HEADER = 12;

interface PendingReset {
  readonly start: number;
  readonly startTerm: number;
  readonly membership: MembershipAt | null;
  readonly state: Uint8Array | null;
}

export interface PartitionRaftLogOptions {
  /** What read() asks the log for at once; at least one whole batch is read anyway. Default 1 MiB. */
  readonly maxReadBytes?: number;
  /** Who leads, and who voted, for the LeaderChange batch of a no-op this replica appends as leader. */
  readonly leaderChange?: (term: number) => LeaderChange;
  /** The no-op batch's timestamp. Default Date.now. */
  readonly now?: () => number;
}

const NO_LEADER_CHANGE: LeaderChange = Object.freeze({ leaderId: -1, voters: [], grantingVoters: [] });

export class PartitionRaftLog implements RaftLogStore {
  /**
   * Set by the leader's produce path around a proposal whose batch it already checked (its CRC and
   * every record), so the log checks only the header again.
   */
  crcChecked = false;
  /** Where the last append went (its offsets and append time), for the produce answer. */
  lastAppend: AppendResult | null = null;
  private readonly maxReadBytes: number;
  private readonly leaderChange: (term: number) => LeaderChange;
  private readonly now: () => number;
  /** The config entries of the log (and the last before its start), as `raft-membership` has them. */
  private configs: MembershipAt[] = [];
  /** What `raft-start-state` holds, and for which offset (it counts only while that is the start). */
  private stateAt: { readonly offset: number; readonly state: Uint8Array } | null = null;

  private constructor(
    private readonly fs: StorageFs,
    readonly log: PartitionLog,
    readonly cache: LeaderEpochCache,
    options: PartitionRaftLogOptions,
  ) {
    this.maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
    assert.ok(Number.isSafeInteger(this.maxReadBytes) && this.maxReadBytes >= 0, 'maxReadBytes');
    this.leaderChange = options.leaderChange ?? ((): LeaderChange => NO_LEADER_CHANGE);
    this.now = options.now ?? Date.now;
  }

  /**
   * The Raft log of an open partition log and its cache (both of the partition directory): finishes
   * a reset a crash interrupted, and brings the cache in step with the log (see the header).
   */
  static open(
    fs: StorageFs,
    log: PartitionLog,
    cache: LeaderEpochCache,
    options: PartitionRaftLogOptions = {},
  ): PartitionRaftLog {
    const raftLog = new PartitionRaftLog(fs, log, cache, options);
    const pending = raftLog.pendingReset();
    if (pending !== null) raftLog.completeReset(pending);
    else raftLog.loadStartState();
    raftLog.cutAtFirstHole();
    cache.truncateFromEnd(log.logEndOffset);
    raftLog.loadConfigs();
    raftLog.repairCache();
    raftLog.trimCache();
    return raftLog;
  }

  get start(): number {
    return this.log.logStartOffset;
  }
  get startTerm(): number {
    return this.termBefore(this.start);
  }
  get end(): number {
    return this.log.logEndOffset;
  }
  get lastTerm(): number {
    return Math.max(0, this.cache.latestEpoch);
  }
  get startState(): Uint8Array | null {
    return this.stateAt !== null && this.stateAt.offset === this.start ? this.stateAt.state : null;
  }

  termAt(offset: number): number {
    if (offset === -1) return 0;
    assert.ok(
      offset >= this.start - 1 && offset < this.end,
      `no term at ${offset} (log [${this.start}, ${this.end}))`,
    );
    return Math.max(0, this.cache.epochAt(offset));
  }

  termStart(offset: number): number {
    return Math.max(this.start, this.cache.epochStartAt(offset));
  }

  entryStart(offset: number): number {
    if (offset < this.start || offset >= this.end) return offset;
    // One batch: the one holding `offset`, or the first after it when `offset` is in a gap.
    const read = this.log.read(offset, 0);
    if (read.records.length === 0) return offset;
    const base = batchBaseOffset(read.records, 0);
    return base <= offset ? base : offset;
  }

  read(from: number, max: number, maxBytes = Infinity): Entry[] {
    assert.ok(from >= this.start, `read from ${from} below the log start ${this.start}`);
    const out: Entry[] = [];
    let at = from;
    let budget = Math.min(this.maxReadBytes, maxBytes);
    // A log read stops at a segment's end: read on until `max` entries or the byte budget, which
    // the first entry may exceed on its own.
    while (out.length < max && at < this.end && (budget > 0 || out.length === 0)) {
      const read = this.log.read(at, Math.max(budget, 0));
      const buf = read.records;
      if (buf.length === 0) break;
      for (let off = 0; off < buf.length && out.length < max;) {
        const size = batchSize(buf, off);
        if (batchBaseOffset(buf, off) >= from) {
          out.push(entryOf(buf, off, size));
          budget -= size;
        }
        off += size;
      }
      at = read.lastOffset + 1;
    }
    return out;
  }

  append(entry: Entry): void {
    assert.ok(entry.count >= 1, 'an entry takes at least one offset');
    assert.ok(entry.offset >= this.end, `append at ${entry.offset} inside the log (end ${this.end})`);
    assert.ok(entry.term >= this.lastTerm, 'an appended entry may not go back in term');
    const batch = this.batchOf(entry);
    assert.ok(
      batch.length >= LOG_OVERHEAD && batchSize(batch, 0) === batch.length,
      `the entry at ${entry.offset} is not exactly one batch`,
    );
    assert.equal(batchLastOffsetDelta(batch, 0) + 1, entry.count, `entry at ${entry.offset}: count`);
    assert.equal(batchIsControl(batch, 0), entry.kind !== 'data', `entry at ${entry.offset}: kind`);
    if (entry.kind === 'config') {
      // Indexed before the batch is written, as the epoch is (see raft-membership-file.ts).
      this.configs.push({ offset: entry.offset, membership: membershipOf(entry) });
      this.writeConfigs();
    }
    // The leader's core numbered the entry at the log end; a follower's comes numbered already.
    if (batchBaseOffset(batch, 0) !== entry.offset) stampBaseOffset(batch, 0, entry.offset);
    // The epoch before the batch (see the header): a crash between leaves it past the log end.
    const newEpoch = entry.term > this.cache.latestEpoch;
    if (newEpoch) {
      try {
        this.cache.assign(entry.term, entry.offset);
      } catch (err) {
        if (err instanceof WeirError && err.code === 'KAFKA_STORAGE_ERROR') this.log.reportIoError(err);
        throw err;
      }
    }
    try {
      const result = this.log.append(batch, {
        assignOffsets: false,
        leaderEpoch: entry.term,
        crcChecked: this.crcChecked,
      });
      this.lastAppend = result;
      assert.equal(result.baseOffset, entry.offset, 'the log took the entry at another offset');
      assert.equal(result.logEndOffset, entry.offset + entry.count, 'the log took another count');
    } catch (err) {
      if (newEpoch) this.dropEpochsPastEnd();
      throw err;
    }
  }

  truncateFrom(from: number): void {
    assert.ok(from >= this.start && from < this.end, `truncation at ${from} outside the log`);
    assert.equal(this.entryStart(from), from, `truncation at ${from} splits an entry`);
    this.log.truncateTo(from);
    this.cache.truncateFromEnd(this.end);
    if (this.configs.some((c) => c.offset >= from)) {
      this.configs = this.configs.filter((c) => c.offset < from);
      this.writeConfigs();
    }
  }

  resetTo(start: number, startTerm: number, membership: MembershipAt | null, state: Uint8Array | null): void {
    assert.ok(Number.isSafeInteger(start) && start >= 0, `reset to ${start}`);
    assert.ok(Number.isInteger(startTerm) && startTerm >= 0, `reset in term ${startTerm}`);
    assert.ok(start > 0 || startTerm === 0, 'the term before offset 0 is 0');
    assert.ok(membership === null || membership.offset < start, 'the start membership is below the start');
    let text = `${start} ${startTerm}\n`;
    if (membership !== null) text += `${membershipLine(membership)}\n`;
    if (state !== null) text += `state ${Buffer.from(state).toString('base64')}\n`;
    writeFileAtomic(this.fs, this.log.dir, RAFT_LOG_RESET_FILE, Buffer.from(text));
    this.completeReset({ start, startTerm, membership, state });
  }

  membershipBefore(offset: number): MembershipAt | null {
    assert.ok(offset >= this.start && offset <= this.end, `no membership before ${offset}`);
    return membershipBeforeIn(this.configs, offset);
  }

  /**
   * Retention or DeleteRecords: the log starts at `offset` (an entry's first offset, or the end),
   * and keeps the term before it.
   */
  deleteBefore(offset: number, state: Uint8Array | null): void {
    assert.ok(offset > this.start && offset <= this.end, `deletion to ${offset} outside the log`);
    assert.equal(this.entryStart(offset), offset, `deletion to ${offset} splits an entry`);
    this.writeStartState(offset, state);
    this.log.advanceLogStart(offset);
    this.trimCache();
  }

  /** The term at offset - 1 for a log starting at `offset`. */
  private termBefore(offset: number): number {
    return offset === 0 ? 0 : Math.max(0, this.cache.epochAt(offset - 1));
  }

  private batchOf(entry: Entry): Buffer {
    if (entry.kind === 'config' && entry.data.length === 0) {
      return membershipBatch(membershipOf(entry), {
        leaderEpoch: entry.term,
        timestamp: this.now(),
        baseOffset: entry.offset,
      });
    }
    if (entry.kind === 'noop' && entry.data.length === 0) {
      return leaderChangeBatch({
        ...this.leaderChange(entry.term),
        leaderEpoch: entry.term,
        timestamp: this.now(),
        baseOffset: entry.offset,
      });
    }
    const { data } = entry;
    return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  private dropEpochsPastEnd(): void {
    try {
      this.cache.truncateFromEnd(this.end);
    } catch {
      // The append's failure is the one to report; opening drops the epoch past the end anyway.
    }
  }

  private pendingReset(): PendingReset | null {
    const path = join(this.log.dir, RAFT_LOG_RESET_FILE);
    if (!this.fs.existsSync(path)) return null;
    const match = RESET_LINE.exec(this.fs.readFileSync(path).toString('latin1'));
    if (match === null)
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: malformed`, { retriable: false });
    const membership = match[3] === undefined ? null : parseMembershipLine(match[3]);
    if (match[3] !== undefined && membership === null)
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: malformed membership`, { retriable: false });
    const state = match[4] === undefined ? null : Buffer.from(match[4], 'base64');
    return { start: Number(match[1]), startTerm: Number(match[2]), membership, state };
  }

  private completeReset({ start, startTerm, membership, state }: PendingReset): void {
    this.log.truncateFullyAndStartAt(start);
    this.cache.reset(start === 0 ? [] : [{ epoch: startTerm, startOffset: start - 1 }]);
    this.configs = membership === null ? [] : [membership];
    this.writeConfigs();
    this.writeStartState(start, state);
    this.fs.unlinkSync(join(this.log.dir, RAFT_LOG_RESET_FILE));
    this.fs.fsyncDirSync(this.log.dir);
  }

  /**
   * A power loss keeps a prefix of each segment file, but not the same for all: a segment can lose
   * its tail while a later one keeps batches, or keep its file and lose every batch. Since a roll
   * starts the next segment at the log end, a gap between segments is always such a loss, and no
   * batch after it was ever reported durable (the log reports an offset flushed only once every
   * segment below it is synced), so none was acknowledged: the log is cut at the first gap above
   * its start. Left there, they would break log matching (an entry past the hole matching the
   * leader's, the entries of the hole missing).
   */
  private cutAtFirstHole(): void {
    const { log } = this;
    const segments = log.segments;
    for (let i = 0; i + 1 < segments.length; i++) {
      const end = segments[i]!.nextOffset;
      const next = segments[i + 1]!.baseOffset;
      if (end < next && next > log.logStartOffset) {
        log.truncateTo(Math.max(end, log.logStartOffset));
        return;
      }
    }
  }

  /** Assigns the epochs of batches the cache does not cover (see the header for where it reads). */
  private repairCache(): void {
    const { log, cache } = this;
    let latestStart = cache.list().at(-1)?.startOffset ?? -1;
    let at =
      latestStart < 0 ? log.logStartOffset : Math.max(log.logStartOffset, latestStart, log.recoveryPoint);
    while (at < log.logEndOffset) {
      const read = log.read(at, this.maxReadBytes);
      const buf = read.records;
      if (buf.length === 0) break;
      for (let off = 0; off < buf.length; off += batchSize(buf, off)) {
        const epoch = batchLeaderEpoch(buf, off);
        const base = batchBaseOffset(buf, off);
        // The batch holding the first offset read may start before the latest epoch does.
        if (epoch > cache.latestEpoch && base > latestStart) {
          cache.assign(epoch, base);
          latestStart = base;
        }
      }
      at = read.lastOffset + 1;
    }
  }

  /**
   * Reads `raft-membership`, dropping the changes at or past the log end (their batches did not make
   * it) and all but the last below the log start (retention took their batches).
   */
  private loadConfigs(): void {
    const all = readMembershipFile(this.fs, this.log.dir);
    const kept = all.filter((c) => c.offset < this.end);
    const firstInLog = kept.findIndex((c) => c.offset >= this.start);
    const cut = firstInLog < 0 ? kept.length : firstInLog;
    this.configs = kept.slice(Math.max(0, cut - 1));
    if (this.configs.length !== all.length) this.writeConfigs();
  }

  /** Reads `raft-start-state`; a file that fails its check is a typed error, as a bad index is. */
  private loadStartState(): void {
    const path = join(this.log.dir, RAFT_START_STATE_FILE);
    if (!this.fs.existsSync(path)) return;
    const buf = this.fs.readFileSync(path);
    if (buf.length < START_STATE_HEADER || buf.readUInt32BE(0) !== crc32c(buf, 4)) {
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: fails its checksum`, { retriable: false });
    }
    this.stateAt = { offset: Number(buf.readBigInt64BE(4)), state: buf.subarray(START_STATE_HEADER) };
  }

  /** Makes `state` the start state for a log starting at `offset` (none: the file goes). */
  private writeStartState(offset: number, state: Uint8Array | null): void {
    try {
      if (state === null) {
        const path = join(this.log.dir, RAFT_START_STATE_FILE);
        if (this.fs.existsSync(path)) {
          this.fs.unlinkSync(path);
          this.fs.fsyncDirSync(this.log.dir);
        }
      } else {
        const buf = Buffer.alloc(START_STATE_HEADER + state.length);
        buf.writeBigInt64BE(BigInt(offset), 4);
        buf.set(state, START_STATE_HEADER);
        buf.writeUInt32BE(crc32c(buf, 4), 0);
        writeFileAtomic(this.fs, this.log.dir, RAFT_START_STATE_FILE, buf);
      }
    } catch (err) {
      throw toStorageError(err, `writing the start state of ${this.log.dir}`);
    }
    this.stateAt = state === null ? null : { offset, state: Buffer.from(state) };
  }

  private writeConfigs(): void {
    try {
      writeMembershipFile(this.fs, this.log.dir, this.configs);
    } catch (err) {
      throw toStorageError(err, `writing the membership index of ${this.log.dir}`);
    }
  }

  /** Drops the epochs wholly below the first segment, keeping the one covering its base - 1. */
  private trimCache(): void {
    const first = this.log.segments[0]?.baseOffset ?? this.start;
    if (first > 0) this.cache.truncateFromStart(first - 1);
  }
}

function entryOf(buf: Buffer, off: number, size: number): Entry {
  const entry = {
    offset: batchBaseOffset(buf, off),
    count: batchLastOffsetDelta(buf, off) + 1,
    term: Math.max(0, batchLeaderEpoch(buf, off)),
    data: buf.subarray(off, off + size),
  };
  if (!batchIsControl(buf, off)) return { ...entry, kind: 'data' };
  const membership = decodeMembershipBatch(buf, off);
  if (membership === null) return { ...entry, kind: 'noop' };
  // The log checked the batch's CRC when it took it: a record that does not parse is a bug.
  assert.ok(typeof membership !== 'string', `membership batch at ${entry.offset}: ${membership as string}`);
  return { ...entry, kind: 'config', membership };
}

function membershipOf(entry: Entry): MembershipAt['membership'] {
  assert.ok(entry.membership !== undefined, `config entry at ${entry.offset} without a membership`);
  return entry.membership;
}
