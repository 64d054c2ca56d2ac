// One batch of records for one partition, from the moment its first record is appended until the
// broker acknowledged or rejected it, and the send calls waiting on its records.
//
// Why records keep pointing at their call by (call, slot) pairs in two flat arrays: a call
// (`send({ topic, records })`) may spread its records over many batches and partitions, but it
// resolves once, with one result per record in the caller's order. Two pushes per record is the
// whole per-record bookkeeping; no promise, closure or object is made per record until the result
// object itself.
//
// The batch size is tracked exactly (sizeOfRecordBody over the same deltas encodeBatch will use),
// so a batch never passes batchBytes unless one record alone does.

import { BATCH_HEADER_SIZE } from '../proto/batch-header.js';
import type { WeirError } from '../proto/errors.js';
import { sizeOfRecordBody } from '../proto/record.js';
import type { RecordInput } from '../proto/record-batch.js';
import { sizeOfVarint } from '../proto/varint.js';
import type { RecordMetadata } from './records.js';

/** One send() call: resolves when all its records are acknowledged, rejects on the first failure. */
export class SendCall {
  readonly topic: string;
  readonly promise: Promise<RecordMetadata[]>;
  readonly results: RecordMetadata[];
  /** The call's records, checked and ready for the codec; dropped once they are all queued. */
  inputs: RecordInput[] | null;
  /** Explicit partition per record, -1 where the partitioner decides; null when none was given. */
  partitions: Int32Array | null;
  /** Set once the producer refreshed metadata for this call (an explicit partition was unknown). */
  refreshed = false;
  readonly enqueuedAt: number;
  private remaining: number;
  private settled = false;
  private resolveFn!: (results: RecordMetadata[]) => void;
  private rejectFn!: (err: unknown) => void;
  private readonly onSettled: (call: SendCall) => void;

  constructor(
    topic: string,
    inputs: RecordInput[],
    partitions: Int32Array | null,
    enqueuedAt: number,
    onSettled: (call: SendCall) => void,
  ) {
    this.topic = topic;
    this.inputs = inputs;
    this.partitions = partitions;
    this.enqueuedAt = enqueuedAt;
    this.remaining = inputs.length;
    this.results = new Array<RecordMetadata>(inputs.length);
    this.onSettled = onSettled;
    this.promise = new Promise<RecordMetadata[]>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    if (inputs.length === 0) this.settle();
  }

  get isSettled(): boolean {
    return this.settled;
  }

  recordDone(slot: number, result: RecordMetadata): void {
    this.results[slot] = result;
    if (--this.remaining === 0 && !this.settled) this.settle();
  }

  fail(err: WeirError): void {
    if (this.settled) return;
    this.settled = true;
    this.inputs = null;
    this.rejectFn(err);
    this.onSettled(this);
  }

  private settle(): void {
    this.settled = true;
    this.inputs = null;
    this.resolveFn(this.results);
    this.onSettled(this);
  }
}

const MAX_SEQUENCE = 0x7fff_ffff;

/** Sequence numbers wrap to 0 after 2^31-1, as Kafka's. */
export function sequenceAfter(sequence: number, count: number): number {
  return sequence > MAX_SEQUENCE - count ? count - (MAX_SEQUENCE - sequence) - 1 : sequence + count;
}

export type BatchState = 'open' | 'queued' | 'in-flight' | 'retry' | 'done';

export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly createdAt: number;
  readonly records: RecordInput[] = [];
  readonly calls: SendCall[] = [];
  readonly slots: number[] = [];
  /** Encoded size in bytes (uncompressed), header included. */
  sizeBytes = BATCH_HEADER_SIZE;
  state: BatchState = 'open';

  // Set by the sender.
  /** Order of closing within the partition: the order batches must reach the log in. */
  order = 0;
  /** -1 until the first send under a producer id. */
  baseSequence = -1;
  /** Encoded once per producer id (a retry resends the same bytes, so the broker can dedupe). */
  bytes: Buffer | null = null;
  attempts = 0;
  lastError: WeirError | null = null;
  /**
   * The batches merged into this one while they waited to be sent (record count and size of
   * each, in order), so it can be split back if the broker finds it too large. null: never merged.
   */
  parts: { count: number; sizeBytes: number }[] | null = null;

  constructor(topic: string, partition: number, createdAt: number) {
    this.topic = topic;
    this.partition = partition;
    this.createdAt = createdAt;
  }

  get recordCount(): number {
    return this.records.length;
  }

  /** Bytes `record` would add to this batch (its length varint included). */
  sizeOf(record: RecordInput): number {
    const count = this.records.length;
    const baseTimestamp = count === 0 ? record.timestamp : this.records[0]!.timestamp;
    const body = sizeOfRecordBody(record, record.timestamp - baseTimestamp, count);
    return sizeOfVarint(body) + body;
  }

  add(record: RecordInput, size: number, call: SendCall, slot: number): void {
    this.records.push(record);
    this.calls.push(call);
    this.slots.push(slot);
    this.sizeBytes += size;
  }

  /** Appends the records of `next` (a later batch of the same partition, never sent) to this one. */
  absorb(next: ProducerBatch): void {
    this.parts ??= [{ count: this.records.length, sizeBytes: this.sizeBytes }];
    for (const part of next.parts ?? [{ count: next.records.length, sizeBytes: next.sizeBytes }]) {
      this.parts.push(part);
    }
    for (let i = 0; i < next.records.length; i++) {
      this.records.push(next.records[i]!);
      this.calls.push(next.calls[i]!);
      this.slots.push(next.slots[i]!);
    }
    // The sum, not the exact merged size: the producer's buffer accounting adds and subtracts
    // these same numbers.
    this.sizeBytes += next.sizeBytes - BATCH_HEADER_SIZE;
  }

  /**
   * Smaller batches with this one's records, in order, carrying its sequence range between them:
   * the batches it was merged from, or else its two halves. For a batch the broker found too large.
   */
  split(): ProducerBatch[] {
    let parts = this.parts;
    if (parts === null || parts.length < 2) {
      // Halves; the sizes are shares of the total so that they still add up to it exactly.
      const first = Math.ceil(this.records.length / 2);
      const body = this.sizeBytes - BATCH_HEADER_SIZE;
      const firstBody = Math.round((body * first) / this.records.length);
      parts = [
        { count: first, sizeBytes: BATCH_HEADER_SIZE + firstBody },
        { count: this.records.length - first, sizeBytes: BATCH_HEADER_SIZE + body - firstBody },
      ];
    }
    const out: ProducerBatch[] = [];
    let from = 0;
    for (const part of parts) {
      const piece = new ProducerBatch(this.topic, this.partition, this.createdAt);
      for (let i = from; i < from + part.count; i++) {
        piece.records.push(this.records[i]!);
        piece.calls.push(this.calls[i]!);
        piece.slots.push(this.slots[i]!);
      }
      piece.sizeBytes = part.sizeBytes;
      piece.state = 'queued';
      piece.order = this.order;
      piece.attempts = this.attempts;
      piece.lastError = this.lastError;
      piece.baseSequence = this.baseSequence < 0 ? -1 : sequenceAfter(this.baseSequence, from);
      out.push(piece);
      from += part.count;
    }
    return out;
  }

  /**
   * Resolves every record's result; baseOffset -1 (acks 'none') gives offset -1 for all. The
   * timestamp is the record's own: weir stores batches as the producer stamped them (CreateTime),
   * which is what consumers see. The answer's log_append_time is when the broker appended; were
   * LogAppendTime topics added, the broker would have to answer -1 for CreateTime ones (as Kafka
   * does) for a client to tell the two apart.
   */
  complete(baseOffset: number): void {
    this.state = 'done';
    const { topic, partition, records, calls, slots } = this;
    for (let i = 0; i < records.length; i++) {
      calls[i]!.recordDone(slots[i]!, {
        topic,
        partition,
        offset: baseOffset < 0 ? -1 : baseOffset + i,
        timestamp: records[i]!.timestamp,
      });
    }
  }

  fail(err: WeirError): void {
    this.state = 'done';
    for (let i = 0; i < this.calls.length; i++) this.calls[i]!.fail(err);
  }
}
