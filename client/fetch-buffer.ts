// The consumer's per-partition state and the buffer of fetched records waiting to be yielded.
//
// Two positions per partition, as Kafka's consumer keeps them: `fetchOffset` is where the next
// Fetch of the partition starts, `position` is the next offset to hand to the user. Prefetched
// chunks lie between them. A seek, a pause or a reassignment bumps the partition's `epoch`, which
// makes every chunk and every in-flight fetch result of the old epoch stale: they are dropped when
// met, instead of being hunted down in the buffer.
//
// Once a chunk's last record is yielded the position is the chunk's end, past any control batch
// (a new leader's no-op) after that record, and a chunk of control batches alone moves it when it
// is reached: as in Kafka's consumer, a position at the high watermark means the partition was
// read to its end, also when the log ends with a control batch (every leader change writes one).

import type { WeirError } from '../proto/errors.js';
import { Deque } from './deque.js';
import type { ConsumerRecord } from './records.js';

/** Where to start: an offset, the log's ends, or the first record at or after a time. */
export type SeekPosition = number | 'earliest' | 'latest' | { timestamp: number | Date };

/** A position still to be looked up with ListOffsets. */
export type PendingReset = 'earliest' | 'latest' | { timestamp: number };

export class PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to yield; null until known. */
  position: number | null = null;
  /** Next offset to fetch; null until known. */
  fetchOffset: number | null = null;
  /** A lookup to do before fetching; null when the position is known or a seek is needed. */
  reset: PendingReset | null = null;
  paused = false;
  epoch = 0;
  highWatermark = -1;
  /** No fetch before this time (after an error). */
  retryAt = 0;
  retries = 0;
  /** An error of this partition is waiting to be thrown to the user. */
  errorPending = false;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  /** Starts over at `offset` (both positions), dropping whatever was fetched beyond it. */
  moveTo(offset: number): void {
    this.position = offset;
    this.fetchOffset = offset;
    this.reset = null;
    this.epoch++;
  }

  /** Looks the position up before the next fetch. */
  lookUp(reset: PendingReset | null): void {
    this.position = null;
    this.fetchOffset = null;
    this.reset = reset;
    this.epoch++;
  }

  get fetchable(): boolean {
    return !this.paused && this.fetchOffset !== null;
  }
}

export interface Chunk {
  readonly state: PartitionState;
  readonly epoch: number;
  readonly records: ConsumerRecord[];
  readonly highWatermark: number;
  readonly bytes: number;
  /** The offset after the chunk's last whole batch: the position once its records are yielded. */
  readonly nextOffset: number;
  /** Records before this index were yielded already. */
  index: number;
}

/** One partition's records from one fetch, as `consumer.batches()` yields them. */
export interface ConsumerBatch {
  topic: string;
  partition: number;
  records: ConsumerRecord[];
  /** The partition's high watermark when fetched: lag is highWatermark - (last offset + 1). */
  highWatermark: number;
}

export class FetchBuffer {
  private readonly chunks = new Deque<Chunk>();
  private readonly errors: { state: PartitionState | null; error: WeirError }[] = [];
  private readonly isCurrent: (state: PartitionState) => boolean;
  bytes = 0;

  /** `isCurrent` tells whether a partition's state is still assigned. */
  constructor(isCurrent: (state: PartitionState) => boolean) {
    this.isCurrent = isCurrent;
  }

  push(chunk: Chunk): void {
    this.chunks.push(chunk);
    this.bytes += chunk.bytes;
  }

  pushError(state: PartitionState | null, error: WeirError): void {
    if (state !== null) {
      if (state.errorPending) return;
      state.errorPending = true;
    }
    this.errors.push({ state, error });
  }

  takeError(): WeirError | undefined {
    const entry = this.errors.shift();
    if (entry === undefined) return undefined;
    if (entry.state !== null) entry.state.errorPending = false;
    return entry.error;
  }

  /** The next record to yield, advancing its partition's position; undefined when none is ready. */
  nextRecord(): ConsumerRecord | undefined {
    const chunk = this.head();
    if (chunk === undefined) return undefined;
    const record = chunk.records[chunk.index++]!;
    chunk.state.position = record.offset + 1;
    if (chunk.index === chunk.records.length) this.passHead(chunk);
    return record;
  }

  /** The unyielded records of the next chunk, advancing its partition's position. */
  nextBatch(): ConsumerBatch | undefined {
    const chunk = this.head();
    if (chunk === undefined) return undefined;
    const records = chunk.index === 0 ? chunk.records : chunk.records.slice(chunk.index);
    chunk.state.position = records[records.length - 1]!.offset + 1;
    this.passHead(chunk);
    return {
      topic: chunk.state.topic,
      partition: chunk.state.partition,
      records,
      highWatermark: chunk.highWatermark,
    };
  }

  /**
   * The first chunk that is still current and has a record to yield, dropping stale ones on the
   * way and passing the ends of those with no record left (control batches only).
   */
  private head(): Chunk | undefined {
    for (let chunk = this.chunks.peek(); chunk !== undefined; chunk = this.chunks.peek()) {
      const state = chunk.state;
      if (chunk.epoch !== state.epoch || state.paused || !this.isCurrent(state)) this.dropHead();
      else if (chunk.index < chunk.records.length) return chunk;
      else this.passHead(chunk);
    }
    return undefined;
  }

  /** Drops the head chunk, every record of it yielded: its partition's position passes its end. */
  private passHead(chunk: Chunk): void {
    const state = chunk.state;
    if (state.position === null || chunk.nextOffset > state.position) state.position = chunk.nextOffset;
    this.dropHead();
  }

  private dropHead(): void {
    const chunk = this.chunks.shift();
    if (chunk !== undefined) this.bytes -= chunk.bytes;
  }
}
