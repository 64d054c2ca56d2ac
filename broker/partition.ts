// A partition as the broker serves it: its log, its high watermark, the idempotent-producer state,
// and the fetches waiting for new data.
//
// Produce validates each incoming batch once (header, CRC, every record, Kafka's produce rules),
// settles idempotence per batch, and appends with the CRC already checked. On a single broker the
// high watermark is the log end offset: a batch is committed when the leader has it.

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
import { WeirError } from '../proto/errors.js';
import { invalidRecords } from '../proto/record-batch.js';
import type { AppendResult, PartitionLog } from '../storage/index.js';
import { ProducerStateTable, lastSequence } from './producer-state.js';

export type Acks = 'none' | 'leader' | 'all';

/** The leader epoch stamped into every batch; one broker never changes leader. */
export const SINGLE_BROKER_LEADER_EPOCH = 0;
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

/** Why a produced batch breaks a rule (beyond the codec's), as the error to answer with. */
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
  const records = invalidRecords(buf, off, off + size);
  if (records !== null) {
    if (records.startsWith('unsupported compression'))
      return new WeirError('UNSUPPORTED_COMPRESSION_TYPE', records);
    return new WeirError('CORRUPT_MESSAGE', records);
  }
  // A producer's batch holds offset deltas 0..n-1 exactly (compaction may thin stored batches, not new ones).
  if (batchRecordsCount(buf, off) !== batchLastOffsetDelta(buf, off) + 1) {
    return new WeirError('INVALID_RECORD', 'record count does not match the last offset delta');
  }
  return null;
}

export class Partition {
  readonly topic: string;
  readonly id: number;
  readonly log: PartitionLog;
  private readonly producers = new ProducerStateTable();
  private readonly listeners = new Set<() => void>();

  constructor(topic: string, id: number, log: PartitionLog) {
    this.topic = topic;
    this.id = id;
    this.log = log;
    this.rebuildProducerState();
  }

  get highWatermark(): number {
    return this.log.logEndOffset;
  }

  /** Calls `listener` after every append (and when the partition goes away) until unsubscribed. */
  onData(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Wakes every waiting fetch (deletion, shutdown). */
  wakeAll(): void {
    for (const l of [...this.listeners]) l();
  }

  /**
   * Validates and appends `batches` (one or more, end to end). Nothing is written if any batch is
   * bad. With acks other than none, waits for the fsync the topic's flush policy asks for: also
   * for a retry wholly of batches already written, whose original may still wait for its fsync (or
   * see it fail); answering the retry first would acknowledge what the disk may not keep.
   */
  async produce(batches: Buffer, acks: Acks, now: number): Promise<ProduceOutcome> {
    const maxMessageBytes = this.log.logConfig.maxMessageBytes;
    let count = 0;
    for (let off = 0; off < batches.length; off += batchSize(batches, off)) {
      const err = producedBatchError(batches, off, batches.length, maxMessageBytes);
      if (err !== null) throw err;
      count++;
    }
    if (count === 0) throw new WeirError('CORRUPT_MESSAGE', 'no record batch in the request');

    let baseOffset = -1;
    let lastOffset = -1;
    let logAppendTime = now;
    let records = 0;
    let duplicates = 0;
    let last: AppendResult | null = null;
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
          last = this.log.append(batch, { leaderEpoch: SINGLE_BROKER_LEADER_EPOCH, crcChecked: true });
          result = {
            baseOffset: last.baseOffset,
            lastOffset: last.lastOffset,
            appendTime: last.logAppendTime,
          };
          this.producers.record(producerId, epoch, { firstSeq, lastSeq, ...result });
        }
      } else {
        last = this.log.append(batch, { leaderEpoch: SINGLE_BROKER_LEADER_EPOCH, crcChecked: true });
        result = { baseOffset: last.baseOffset, lastOffset: last.lastOffset, appendTime: last.logAppendTime };
      }
      if (baseOffset < 0) baseOffset = result.baseOffset;
      lastOffset = result.lastOffset;
      logAppendTime = result.appendTime;
      records += n;
      off += size;
    }
    if (last !== null) this.wakeAll();
    if (acks !== 'none') await this.flushedThrough(lastOffset + 1);
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
   * Appends the broker's own batch (already encoded, so not validated again) at once, and returns
   * where it went with a promise of the flush the topic's policy asks for. The append happens
   * before this returns, so a caller that checks and appends in one synchronous step cannot be
   * interleaved with another request (the group coordinator's commits).
   */
  appendInternal(batch: Buffer): { baseOffset: number; flushed: Promise<void> } {
    const result = this.log.append(batch, { leaderEpoch: SINGLE_BROKER_LEADER_EPOCH });
    this.wakeAll();
    return { baseOffset: result.baseOffset, flushed: this.flushedThrough(result.logEndOffset) };
  }

  /** Resolves once the log is flushed through `logEndOffset`, if the flush policy waits for it. */
  private flushedThrough(logEndOffset: number): Promise<void> {
    return this.log.logConfig.flushMessages === 1 ? this.log.waitFlushed(logEndOffset) : Promise.resolve();
  }

  private rebuildProducerState(): void {
    const segments = this.log.segments;
    for (const seg of segments.slice(Math.max(0, segments.length - PRODUCER_STATE_SEGMENTS))) {
      seg.forEachBatch((buf, off) => {
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
    }
  }
}
