// A partition as the broker serves it: its log (private: everything else goes through the methods
// here), its replica state (role, leader epoch, high watermark) and the idempotent-producer state.
// Requests waiting on it wait in the replica manager's queue, which it tells when data arrives.
//
// Produce validates each incoming batch once (header, CRC, every record, Kafka's produce rules),
// settles idempotence per batch, and appends with the CRC already checked, as a proposal to the
// partition's Raft group (replica/partition-replica.ts). The group tells the partition its role,
// leader epoch and high watermark: the high watermark is what the group committed, so it is kept
// as a field rather than read from the log. A new leader rebuilds idempotent-producer state from
// its log's start state and its newest segments. On a single broker the group is this replica alone: it leads from the start and commits
// on its own append (once written, or once fsynced under flush.messages=1).

import assert from 'node:assert/strict';
import {
  CONTROL_BIT,
  TRANSACTIONAL_BIT,
  batchAttributes,
  batchBaseOffset,
  batchBaseSequence,
  batchLastOffsetDelta,
  batchProducerEpoch,
  batchProducerId,
  batchRecordsCount,
  batchSize,
  invalidBatch,
} from '../proto/batch-header.js';
import { INFLATED_TOO_LARGE, inflateRecords, isCompressed, type Inflated } from '../proto/batch-inflate.js';
import { WeirError } from '../proto/errors.js';
import { invalidRecords } from '../proto/record-batch.js';
import type {
  AppendResult,
  EpochEntry,
  LogConfig,
  PartitionLog,
  ReadOptions,
  ReadResult,
} from '../storage/index.js';
import { ProducerStateTable, lastSequence } from './producer-state.js';
import type { PartitionReplica, ReplicaEvents } from './replica/partition-replica.js';

/** The offsets a single batch takes: its last offset delta + 1. */
function offsetCount(batch: Buffer): number {
  return batchLastOffsetDelta(batch, 0) + 1;
}

/** A request's "no leader epoch known": no fencing (requireLeaderEpoch). */
export const NO_LEADER_EPOCH = -1;
export type Acks = 'none' | 'leader' | 'all';
export type ReplicaRole = 'leader' | 'follower';
/** How many of the newest segments are read at start-up to rebuild producer state. */
const PRODUCER_STATE_SEGMENTS = 2;

export interface ProduceOutcome {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly logAppendTime: number;
  readonly records: number;
  readonly bytes: number;
  /** True when every batch was a retry of one already written. */
  readonly duplicate: boolean;
}

/**
 * Why a produced batch breaks a rule of its header (beyond the codec's), as the error to answer
 * with. Its records are checked by producedRecordsError.
 */
function producedBatchError(
  buf: Buffer,
  off: number,
  end: number,
  maxMessageBytes: number,
): WeirError | null {
  const crcOrHeader = invalidBatch(buf, off, end);
  if (crcOrHeader !== null) return new WeirError('CORRUPT_MESSAGE', crcOrHeader);
  const size = batchSize(buf, off);
  if (size > maxMessageBytes) {
    return new WeirError(
      'MESSAGE_TOO_LARGE',
      `batch of ${size} bytes exceeds max.message.bytes ${maxMessageBytes}`,
    );
  }
  const attributes = batchAttributes(buf, off);
  if ((attributes & (CONTROL_BIT | TRANSACTIONAL_BIT)) !== 0) {
    return new WeirError('INVALID_RECORD', 'transactional and control batches are not supported');
  }
  return null;
}

/**
 * Why the records of a produced batch (header already checked) are not valid, as the error to
 * answer with. `inflated` holds the records of a compressed batch, inflated beforehand.
 */
function producedRecordsError(
  buf: Buffer,
  off: number,
  inflated: Inflated | null,
  maxInflatedBytes: number,
): WeirError | null {
  if (inflated === INFLATED_TOO_LARGE) {
    return new WeirError(
      'MESSAGE_TOO_LARGE',
      `compressed batch inflates past the inflated size limit of ${maxInflatedBytes} bytes (maxInflatedBatchBytes)`,
    );
  }
  if (typeof inflated === 'string') return recordsError(inflated);
  const records = invalidRecords(buf, off, off + batchSize(buf, off), inflated);
  if (records !== null) return recordsError(records);
  // A producer's batch holds offset deltas 0..n-1 exactly (compaction may thin stored batches, not new ones).
  if (batchRecordsCount(buf, off) !== batchLastOffsetDelta(buf, off) + 1) {
    return new WeirError('INVALID_RECORD', 'record count does not match the last offset delta');
  }
  return null;
}

function recordsError(records: string): WeirError {
  if (records.startsWith('unsupported compression'))
    return new WeirError('UNSUPPORTED_COMPRESSION_TYPE', records);
  return new WeirError('CORRUPT_MESSAGE', records);
}

/** A partition's log as stats and gauges show it. */
export interface LogStats {
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
  readonly sizeBytes: number;
  readonly segments: number;
}

export class Partition {
  readonly topic: string;
  readonly id: number;
  private readonly log: PartitionLog;
  private replicaRole: ReplicaRole = 'follower';
  private epoch = 0;
  /** The replica leading the group as this one knows it (this broker's id when it leads), or null. */
  private leader: number | null = null;
  /** The partition's replica in its Raft group, once joined. */
  private replica: PartitionReplica | null = null;
  /** Produces with acks=all waiting for the high watermark to pass their end, in end order. */
  private hwWaiters: { end: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Offsets below it are committed: readable by consumers, never truncated. */
  private hw: number;
  private producers = new ProducerStateTable();
  /** Told when the high watermark moves: waiting fetches can read more. */
  private readonly dataArrived: (partition: Partition) => void;
  /**
   * Settles once the last produce that had to wait (for its batches to inflate, or for an earlier
   * one that did) has appended or failed; null when none is waiting. Produces append in arrival
   * order, so a later one waits behind it even with nothing to inflate.
   */
  private waiting: Promise<void> | null = null;

  /** Told when this replica starts or stops leading (after the partition took the change). */
  private readonly leadershipChanged: (partition: Partition, leads: boolean) => void;
  /**
   * Told when a read met damage at rest in the log; true when the replica will repair from its
   * peers (it then answers as a replica that does not lead until it has: see rejoin).
   */
  private readonly damaged: (partition: Partition) => boolean;
  /** Between a read meeting damage and the repaired replica rejoining its group. */
  private repairing = false;

  constructor(
    topic: string,
    id: number,
    log: PartitionLog,
    dataArrived: (partition: Partition) => void,
    leadershipChanged: (partition: Partition, leads: boolean) => void = () => undefined,
    damaged: (partition: Partition) => boolean = () => false,
  ) {
    this.topic = topic;
    this.id = id;
    this.log = log;
    this.dataArrived = dataArrived;
    this.leadershipChanged = leadershipChanged;
    this.damaged = damaged;
    // Nothing is known committed until the group says so (at once, in a group of one).
    this.hw = Math.min(log.logStartOffset, log.logEndOffset);
  }

  /** Joins the partition's Raft group (see PartitionReplica.join). */
  joinGroup(join: (events: ReplicaEvents) => PartitionReplica): void {
    assert(this.replica === null, `${this.topic}/${this.id} joined its group twice`);
    this.replica = join({
      roleChanged: (role, term, leader) => {
        this.leader = leader;
        this.roleChanged(role === 'leader' ? 'leader' : 'follower', term);
      },
      highWatermark: (hw) => this.highWatermarkMoved(hw),
    });
    // A group of one elects this replica while it joins, before its start state can be asked for.
    if (this.replicaRole === 'leader') this.rebuildProducerState();
  }

  /**
   * Leaves the group and joins it again through `join` (which repairs the log: see
   * PartitionReplica), as a follower that knows no high watermark yet: what the damaged replica
   * knew of its group may lie past what its cut log holds.
   */
  rejoin(join: (events: ReplicaEvents) => PartitionReplica): void {
    const led = this.replicaRole === 'leader';
    this.leaveGroup();
    this.leader = null;
    this.replicaRole = 'follower';
    this.hw = Math.min(this.log.logStartOffset, this.log.logEndOffset);
    if (led) this.leadershipChanged(this, false);
    try {
      this.joinGroup(join);
    } finally {
      this.repairing = false;
    }
  }

  /**
   * The group failed and left (a storage error inside the Raft core, such as a leader's read for a
   * follower meeting damage at rest): a replica with peers repairs, as after a read (see read).
   */
  groupFailed(): void {
    if (this.log.damage !== null && !this.repairing && this.damaged(this)) this.repairing = true;
  }

  /** Leaves the group (the partition is deleted); waiting produces fail. */
  leaveGroup(): void {
    this.replica?.leave();
    this.replica = null;
    this.failWaiters(new WeirError('NOT_LEADER_OR_FOLLOWER', `${this.topic}/${this.id} is gone`));
  }

  private roleChanged(role: ReplicaRole, term: number): void {
    const was = this.replicaRole;
    this.replicaRole = role;
    this.epoch = term;
    if (role === 'leader' && was !== 'leader' && this.replica !== null) this.rebuildProducerState();
    if (role !== 'leader') {
      this.failWaiters(
        new WeirError('NOT_LEADER_OR_FOLLOWER', `${this.topic}/${this.id} lost its leadership`),
      );
    }
    // A group of one elects its replica while it joins: whoever added it hears of that then.
    if (this.replica !== null && (role === 'leader') !== (was === 'leader'))
      this.leadershipChanged(this, role === 'leader');
  }

  private highWatermarkMoved(hw: number): void {
    assert(hw >= this.hw, `high watermark of ${this.topic}/${this.id} went back from ${this.hw} to ${hw}`);
    this.hw = hw;
    while (this.hwWaiters.length > 0 && this.hwWaiters[0]!.end <= hw) this.hwWaiters.shift()!.resolve();
    this.dataArrived(this);
  }

  private failWaiters(e: Error): void {
    const waiters = this.hwWaiters;
    this.hwWaiters = [];
    for (const w of waiters) w.reject(e);
  }

  /** Resolves once the high watermark reaches `end` (acks=all). */
  private committedThrough(end: number): Promise<void> {
    if (this.hw >= end) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiters = this.hwWaiters;
      let i = waiters.length;
      while (i > 0 && waiters[i - 1]!.end > end) i--;
      waiters.splice(i, 0, { end, resolve, reject });
    });
  }

  /** Settles once every produce accepted so far has appended or failed (shutdown waits for it). */
  appended(): Promise<void> {
    return this.waiting ?? Promise.resolve();
  }

  get role(): ReplicaRole {
    return this.replicaRole;
  }

  /** Hands the leadership to replica `to` (caught up, whole); null once asked, or why not. */
  transferLeadership(to: number): string | null {
    return this.replica?.transferLeadership(to) ?? 'not in a group';
  }

  /**
   * Throws NOT_LEADER_OR_FOLLOWER unless this replica leads: clients read from the leader, whose
   * high watermark is the group's own (a follower's may lag it).
   */
  requireLeader(): void {
    // A replica repairing from its peers does not lead: the client asks the others.
    if (this.repairing) throw this.notLeader();
    // An offline log says why (a lone replica damaged at rest never joins its group to lead).
    const failed = this.log.failed;
    if (failed !== null) throw failed;
    if (this.replicaRole !== 'leader') throw this.notLeader();
  }

  /**
   * Leader-epoch fencing (Kafka's KIP-320) of a request naming the epoch its client knows (-1:
   * none, no check): FENCED_LEADER_EPOCH when it is older than this replica's (the client's
   * metadata is stale), UNKNOWN_LEADER_EPOCH when newer (this replica has not heard of the new
   * leader yet); both retriable after a metadata refresh.
   */
  requireLeaderEpoch(currentLeaderEpoch: number): void {
    if (currentLeaderEpoch === NO_LEADER_EPOCH || currentLeaderEpoch === this.epoch) return;
    const where = `${this.topic}/${this.id}`;
    if (currentLeaderEpoch < this.epoch)
      throw new WeirError(
        'FENCED_LEADER_EPOCH',
        `${where}: leader epoch ${currentLeaderEpoch} is older than this replica's ${this.epoch}`,
      );
    throw new WeirError(
      'UNKNOWN_LEADER_EPOCH',
      `${where}: leader epoch ${currentLeaderEpoch} is newer than this replica's ${this.epoch}`,
    );
  }

  /** NOT_LEADER_OR_FOLLOWER, naming the leader when this replica knows it. */
  private notLeader(): WeirError {
    const who = this.leader === null ? 'no leader is known' : `broker ${this.leader} leads it`;
    return new WeirError('NOT_LEADER_OR_FOLLOWER', `${this.topic}/${this.id} is not led here: ${who}`);
  }

  /** The node id of the group's leader as this replica knows it, or null when it knows none. */
  get leaderId(): number | null {
    return this.leader;
  }

  /** The epoch stamped into every batch this replica appends as leader. */
  get leaderEpoch(): number {
    return this.epoch;
  }

  /**
   * Where each leader epoch starts in the log, oldest first (OffsetForLeaderEpoch); empty before
   * the replica joins its group. An epoch in which nothing was appended yet is not among them.
   */
  leaderEpochs(): EpochEntry[] {
    return this.replica?.leaderEpochs ?? [];
  }

  get highWatermark(): number {
    assert(this.hw <= this.log.logEndOffset, `high watermark ${this.hw} passed the log end`);
    return this.hw;
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  /** The log's failure once it went offline (a failed fsync, a device error), else null. */
  get failed(): WeirError | null {
    return this.log.failed;
  }

  stats(): LogStats {
    return {
      logStartOffset: this.log.logStartOffset,
      highWatermark: this.highWatermark,
      logEndOffset: this.log.logEndOffset,
      sizeBytes: this.log.size,
      segments: this.log.segments.length,
    };
  }

  /**
   * Reads from `offset`; callers that serve consumers pass `maxOffset: highWatermark`. Damage at
   * rest met here, in a replica with peers, is answered as NOT_LEADER_OR_FOLLOWER (retriable: the
   * client finds the new leader) while the replica steps down and repairs; never as data.
   */
  read(offset: number, maxBytes: number, options?: ReadOptions): ReadResult {
    try {
      return this.log.read(offset, maxBytes, options);
    } catch (err) {
      if (this.log.damage === null) throw err;
      if (!this.repairing && this.damaged(this)) this.repairing = true;
      if (this.repairing) throw this.notLeader();
      throw err;
    }
  }

  /** The first record at or after `timestamp`: its offset and its own timestamp, or null. */
  recordAtOrAfter(timestamp: number): { offset: number; timestamp: number } | null {
    return this.log.recordAtOrAfter(timestamp);
  }

  updateConfig(config: LogConfig): void {
    this.log.updateConfig(config);
  }

  /**
   * Validates and appends `batches` (one or more, end to end). Nothing is written if any batch is
   * bad. With acks other than none, waits for the fsync the topic's flush policy asks for: also
   * for a retry wholly of batches already written, whose original may still wait for its fsync (or
   * see it fail); answering the retry first would acknowledge what the disk may not keep.
   *
   * Uncompressed batches are validated and appended in this call, synchronously. Compressed ones
   * are first inflated on the thread pool (never past maxInflatedBytes), so a large one does not
   * stall other requests; the records are then validated and the batches appended in one
   * synchronous step, after every produce that arrived before.
   */
  produce(batches: Buffer, acks: Acks, now: number, maxInflatedBytes: number): Promise<ProduceOutcome> {
    const maxMessageBytes = this.log.logConfig.maxMessageBytes;
    let count = 0;
    let compressed: number[] | null = null;
    for (let off = 0; off < batches.length; off += batchSize(batches, off)) {
      const err = producedBatchError(batches, off, batches.length, maxMessageBytes);
      if (err !== null) return Promise.reject(err);
      if (isCompressed(batches, off)) (compressed ??= []).push(off);
      else {
        const bad = producedRecordsError(batches, off, null, maxInflatedBytes);
        if (bad !== null) return Promise.reject(bad);
      }
      count++;
    }
    if (count === 0)
      return Promise.reject(new WeirError('CORRUPT_MESSAGE', 'no record batch in the request'));
    // Checked after the batches, so a malformed request is told so wherever it lands.
    if (this.replicaRole !== 'leader') return Promise.reject(this.notLeader());
    if (compressed === null && this.waiting === null) return this.append(batches, count, acks, now);
    return this.appendInTurn(batches, count, compressed ?? [], acks, now, maxInflatedBytes);
  }

  /**
   * Inflates and validates the compressed batches at `offsets`, one at a time (so a request holds
   * at most one inflated batch), then appends once every produce that arrived before has.
   */
  private appendInTurn(
    batches: Buffer,
    count: number,
    offsets: readonly number[],
    acks: Acks,
    now: number,
    maxInflatedBytes: number,
  ): Promise<ProduceOutcome> {
    const before = this.waiting;
    const turn = (async () => {
      for (const off of offsets) {
        const inflated = await inflateRecords(batches, off, maxInflatedBytes);
        const err = producedRecordsError(batches, off, inflated, maxInflatedBytes);
        if (err !== null) throw err;
      }
      if (before !== null) await before;
    })();
    // Registered on `turn` before `done`, so the append has happened when the next produce's wait
    // on `done` ends; `done` does not wait for this one's fsync.
    const outcome = turn.then(() => this.append(batches, count, acks, now));
    const done = turn.then(
      () => undefined,
      () => undefined,
    );
    this.waiting = done;
    void done.then(() => {
      if (this.waiting === done) this.waiting = null;
    });
    return outcome;
  }

  /**
   * Appends validated batches, settling idempotence per batch, in one synchronous step. Every
   * batch's sequence is checked before the first is written, so a refused one leaves the log and
   * the producer state as they were.
   */
  private async append(batches: Buffer, count: number, acks: Acks, now: number): Promise<ProduceOutcome> {
    // Again here: a produce that waited (to inflate, or behind another) may find the leadership
    // gone, and a retry must not be answered from a table this replica no longer keeps.
    if (this.replicaRole !== 'leader') throw this.notLeader();
    if (count > 1) this.checkSequences(batches);
    let baseOffset = -1;
    let lastOffset = -1;
    let logAppendTime = now;
    let records = 0;
    let duplicates = 0;
    for (let off = 0; off < batches.length;) {
      const size = batchSize(batches, off);
      const producerId = batchProducerId(batches, off);
      const n = batchRecordsCount(batches, off);
      const batch = count === 1 ? batches : batches.subarray(off, off + size);
      let result: { baseOffset: number; lastOffset: number; appendTime: number };
      if (producerId >= 0) {
        const epoch = batchProducerEpoch(batches, off);
        const firstSeq = batchBaseSequence(batches, off);
        const lastSeq = lastSequence(firstSeq, n);
        const check = this.producers.check(producerId, epoch, firstSeq, lastSeq);
        if (check.kind === 'duplicate') {
          duplicates++;
          result = check.batch;
        } else {
          result = this.appendProduced(batch);
          this.producers.record(producerId, epoch, { firstSeq, lastSeq, ...result });
        }
      } else {
        result = this.appendProduced(batch);
      }
      if (baseOffset < 0) baseOffset = result.baseOffset;
      lastOffset = result.lastOffset;
      logAppendTime = result.appendTime;
      records += n;
      off += size;
    }
    if (acks !== 'none') await this.flushedThrough(lastOffset + 1);
    if (acks === 'all') await this.committedThrough(lastOffset + 1);
    return {
      baseOffset,
      lastOffset,
      logAppendTime,
      records,
      bytes: batches.length,
      duplicate: duplicates === count,
    };
  }

  /**
   * Throws the error idempotence answers for the first batch it refuses, each checked as if the
   * ones before it in `batches` had been appended (batch k+1 follows batch k of the same producer).
   */
  private checkSequences(batches: Buffer): void {
    const trial = this.producers.trial();
    for (let off = 0; off < batches.length; off += batchSize(batches, off)) {
      const producerId = batchProducerId(batches, off);
      if (producerId < 0) continue;
      const epoch = batchProducerEpoch(batches, off);
      const firstSeq = batchBaseSequence(batches, off);
      const lastSeq = lastSequence(firstSeq, batchRecordsCount(batches, off));
      if (trial.check(producerId, epoch, firstSeq, lastSeq).kind === 'append') {
        trial.record(producerId, epoch, {
          firstSeq,
          lastSeq,
          baseOffset: -1,
          lastOffset: -1,
          appendTime: -1,
        });
      }
    }
  }

  /**
   * Appends the broker's own batch (already encoded, so not validated again) at once, and returns
   * where it went with a promise of the flush the topic's policy asks for. The append happens
   * before this returns, so a caller that checks and appends in one synchronous step cannot be
   * interleaved with another request (the group coordinator's commits).
   */
  appendInternal(batch: Buffer): { baseOffset: number; flushed: Promise<void> } {
    const result = this.appendToLog(batch, false);
    return { baseOffset: result.baseOffset, flushed: this.flushedThrough(result.logEndOffset) };
  }

  /**
   * As appendInternal, but the promise waits for the group to commit the batch (the high watermark
   * to pass it), as acks=all does; it rejects with NOT_LEADER_OR_FOLLOWER if the leadership goes
   * first (the batch may then be kept or truncated by the next leader).
   */
  appendInternalCommitted(batch: Buffer): { baseOffset: number; end: number; committed: Promise<void> } {
    const result = this.appendToLog(batch, false);
    return {
      baseOffset: result.baseOffset,
      end: result.logEndOffset,
      committed: this.committedThrough(result.logEndOffset),
    };
  }

  /** Appends a validated produced batch: where it went and when. */
  private appendProduced(batch: Buffer): { baseOffset: number; lastOffset: number; appendTime: number } {
    const r = this.appendToLog(batch, true);
    return { baseOffset: r.baseOffset, lastOffset: r.lastOffset, appendTime: r.logAppendTime };
  }

  /**
   * Appends as the leader: a proposal to the group, which stamps its epoch and commits it. A
   * produce that waited (to inflate, or behind another) may find the leadership gone.
   */
  private appendToLog(batch: Buffer, crcChecked: boolean): AppendResult {
    if (this.replicaRole !== 'leader') throw this.notLeader();
    const replica = this.replica;
    assert(replica !== null, `${this.topic}/${this.id} appended before joining its group`);
    return replica.append(batch, offsetCount(batch), crcChecked);
  }

  /** Resolves once the log is flushed through `logEndOffset`, if the flush policy waits for it. */
  private flushedThrough(logEndOffset: number): Promise<void> {
    return this.log.logConfig.flushMessages === 1 ? this.log.waitFlushed(logEndOffset) : Promise.resolve();
  }

  /**
   * A new leader's producer state: what its log keeps of the batches below its start (the start
   * state a reset or deletion left), then the batch headers of its newest segments. Built afresh:
   * what this replica knew when it last led may name batches a later leader truncated.
   */
  private rebuildProducerState(): void {
    const start = this.replica?.startState ?? null;
    this.producers = new ProducerStateTable();
    if (start !== null) {
      try {
        this.producers = ProducerStateTable.decode(start);
      } catch {
        // A start state that does not decode (a peer's bytes, checked only on the wire) costs the
        // de-duplication of batches below the log start, not the partition: their producers are
        // unknown, as they were before start states were kept.
      }
    }
    // A log offline over damage has no producers to know; one found damaged here goes offline
    // (PartitionLog) and serves nothing, so no de-duplication is lost.
    if (this.log.failed !== null) return;
    try {
      this.log.forEachNewestBatch(PRODUCER_STATE_SEGMENTS, (buf, off) => {
        const producerId = batchProducerId(buf, off);
        if (producerId < 0) return true;
        const firstSeq = batchBaseSequence(buf, off);
        const baseOffset = batchBaseOffset(buf, off);
        this.producers.record(producerId, batchProducerEpoch(buf, off), {
          firstSeq,
          lastSeq: lastSequence(firstSeq, batchLastOffsetDelta(buf, off) + 1),
          baseOffset,
          lastOffset: baseOffset + batchLastOffsetDelta(buf, off),
          appendTime: -1,
        });
        return true;
      });
    } catch (err) {
      if (this.log.failed === null) throw err;
    }
  }
}
