// Idempotent-producer state of one partition: for each producer id, its epoch and the last few
// batches it wrote (sequence range and offsets), so a retried batch is answered with its original
// offsets instead of being written twice.
//
// Rules, as Kafka's: a batch from an older epoch is fenced (INVALID_PRODUCER_EPOCH); a newer epoch
// must start at sequence 0; within an epoch a batch is a duplicate of a cached one with the same
// sequence range, the next one if it starts right after the last, and out of order otherwise. A
// producer this partition knows nothing of must start at 0 (UNKNOWN_PRODUCER_ID otherwise, which
// tells the client to take a new producer id). Sequences wrap from int32 max to 0.
//
// The state is rebuilt at start-up from the batch headers of the newest segments; a producer whose
// last batch is older than those is unknown after a restart and starts over with a new id.
//
// encode/decode give the table as bytes (a Raft log's start state, which a from-start append carries
// to a follower): a version byte, the producer count, and per producer its id, epoch and batches.

import assert from 'node:assert/strict';
import { WeirError } from '../proto/errors.js';

/** How many batches per producer are remembered for de-duplication (Kafka keeps 5 in flight). */
export const CACHED_BATCHES = 5;
const INT32_MAX = 0x7fff_ffff;
const ENCODING_VERSION = 0;
/** Bytes per encoded batch: two int32 sequences and three int64s (offsets and append time). */
const BATCH_BYTES = 32;

export interface SequencedBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly appendTime: number;
}

interface ProducerEntry {
  epoch: number;
  batches: SequencedBatch[];
}

export type SequenceCheck =
  { readonly kind: 'append' } | { readonly kind: 'duplicate'; readonly batch: SequencedBatch };

const APPEND: SequenceCheck = Object.freeze({ kind: 'append' });

export function lastSequence(firstSeq: number, records: number): number {
  const last = firstSeq + records - 1;
  return last > INT32_MAX ? last - INT32_MAX - 1 : last;
}

function nextSequence(seq: number): number {
  return seq === INT32_MAX ? 0 : seq + 1;
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();
  /** The table this one is a scratch copy of (see trial), read through until a producer is touched. */
  private readonly base: ProducerStateTable | null;

  constructor(base: ProducerStateTable | null = null) {
    this.base = base;
  }

  /**
   * A scratch copy to check a request's batches against, each as if the ones before it had been
   * appended, so a request is refused whole before any of it is written. Recording in the copy
   * leaves this table as it is.
   */
  trial(): ProducerStateTable {
    return new ProducerStateTable(this);
  }

  /** Decides what to do with a batch; throws the typed error for a fenced or out-of-order one. */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): SequenceCheck {
    const entry = this.entry(producerId);
    if (entry === undefined) {
      if (firstSeq !== 0) {
        throw new WeirError(
          'UNKNOWN_PRODUCER_ID',
          `producer ${producerId} is unknown here and its batch starts at sequence ${firstSeq}`,
        );
      }
      return APPEND;
    }
    if (epoch < entry.epoch) {
      throw new WeirError(
        'INVALID_PRODUCER_EPOCH',
        `producer ${producerId} epoch ${epoch} is older than ${entry.epoch}`,
      );
    }
    if (epoch > entry.epoch) {
      if (firstSeq !== 0) {
        throw new WeirError(
          'OUT_OF_ORDER_SEQUENCE_NUMBER',
          `producer ${producerId} new epoch ${epoch} must start at sequence 0, got ${firstSeq}`,
        );
      }
      return APPEND;
    }
    for (const b of entry.batches) {
      if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { kind: 'duplicate', batch: b };
    }
    const last = entry.batches[entry.batches.length - 1];
    const expected = last === undefined ? 0 : nextSequence(last.lastSeq);
    if (firstSeq !== expected) {
      throw new WeirError(
        'OUT_OF_ORDER_SEQUENCE_NUMBER',
        `producer ${producerId} expected sequence ${expected}, got ${firstSeq}`,
      );
    }
    return APPEND;
  }

  /** The table as bytes (see the header). A trial copy is not encoded: it is only a scratch. */
  encode(): Buffer {
    assert.ok(this.base === null, 'a trial table is encoded');
    let size = 1 + 4;
    for (const e of this.producers.values()) size += 8 + 2 + 1 + e.batches.length * BATCH_BYTES;
    const buf = Buffer.alloc(size);
    let at = buf.writeUInt8(ENCODING_VERSION, 0);
    at = buf.writeUInt32BE(this.producers.size, at);
    for (const [producerId, e] of this.producers) {
      at = buf.writeBigInt64BE(BigInt(producerId), at);
      at = buf.writeInt16BE(e.epoch, at);
      at = buf.writeUInt8(e.batches.length, at);
      for (const b of e.batches) {
        at = buf.writeInt32BE(b.firstSeq, at);
        at = buf.writeInt32BE(b.lastSeq, at);
        at = buf.writeBigInt64BE(BigInt(b.baseOffset), at);
        at = buf.writeBigInt64BE(BigInt(b.lastOffset), at);
        at = buf.writeBigInt64BE(BigInt(b.appendTime), at);
      }
    }
    return buf;
  }

  /** A table from encode()'s bytes; malformed bytes are a typed error. */
  static decode(bytes: Uint8Array): ProducerStateTable {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const malformed = (why: string): WeirError =>
      new WeirError('KAFKA_STORAGE_ERROR', `producer state: ${why}`, { retriable: false });
    if (buf.length < 5) throw malformed(`${buf.length} bytes`);
    if (buf.readUInt8(0) !== ENCODING_VERSION) throw malformed(`version ${buf.readUInt8(0)}`);
    const table = new ProducerStateTable();
    const count = buf.readUInt32BE(1);
    let at = 5;
    for (let i = 0; i < count; i++) {
      if (at + 11 > buf.length) throw malformed(`producer ${i} cut short`);
      const producerId = Number(buf.readBigInt64BE(at));
      const epoch = buf.readInt16BE(at + 8);
      const n = buf.readUInt8(at + 10);
      at += 11;
      if (at + n * BATCH_BYTES > buf.length) throw malformed(`batches of producer ${producerId} cut short`);
      const batches: SequencedBatch[] = [];
      for (let j = 0; j < n; j++, at += BATCH_BYTES) {
        batches.push({
          firstSeq: buf.readInt32BE(at),
          lastSeq: buf.readInt32BE(at + 4),
          baseOffset: Number(buf.readBigInt64BE(at + 8)),
          lastOffset: Number(buf.readBigInt64BE(at + 16)),
          appendTime: Number(buf.readBigInt64BE(at + 24)),
        });
      }
      table.producers.set(producerId, { epoch, batches });
    }
    if (at !== buf.length) throw malformed(`${buf.length - at} bytes past the end`);
    return table;
  }

  /** Records a batch that was appended (or found in the log at start-up). */
  record(producerId: number, epoch: number, batch: SequencedBatch): void {
    let entry = this.entry(producerId);
    if (entry === undefined || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.producers.set(producerId, entry);
    } else if (epoch < entry.epoch) {
      return;
    }
    entry.batches.push(batch);
    if (entry.batches.length > CACHED_BATCHES) entry.batches.shift();
  }

  private entry(producerId: number): ProducerEntry | undefined {
    const entry = this.producers.get(producerId);
    if (entry !== undefined || this.base === null) return entry;
    const original = this.base.entry(producerId);
    if (original === undefined) return undefined;
    const copy = { epoch: original.epoch, batches: [...original.batches] };
    this.producers.set(producerId, copy);
    return copy;
  }
}
