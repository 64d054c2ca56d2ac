// A consumer of assigned partitions (no group): assign, seek, pause/resume, and records or
// batches as async iterators. One fetch loop long-polls the broker with a single Fetch covering
// every assigned, unpaused partition, and buffers what comes back (fetch-buffer.ts) while the
// caller is iterating, so the next fetch is under way while the last one is being processed.
//
// Offset reset, as Kafka's auto.offset.reset: a partition assigned without a seek, or whose
// position fell outside the log (OFFSET_OUT_OF_RANGE, e.g. after retention), starts from
// 'latest' by default (only records produced from now on), from 'earliest' if asked; with 'none'
// the iterator throws OFFSET_OUT_OF_RANGE for it until the caller seeks.

import { WeirError } from '../proto/errors.js';
import { systemClock, type Clock, type Random } from './clock.js';
import { Connection, type ClientConnectionOptions } from './connection.js';
import { FetchBuffer, PartitionState, type ConsumerBatch, type SeekPosition } from './fetch-buffer.js';
import { Fetcher, partitionKey as key, type AutoOffsetReset } from './fetcher.js';
import { MetadataCache } from './metadata-cache.js';
import { enumOption, intOption } from './options.js';
import { checkTopicPartition, type ConsumerRecord, type TopicPartition } from './records.js';
import { ChangeSignal } from './signal.js';

export interface ConsumerOptions extends ClientConnectionOptions {
  /** Where a partition without a valid position starts. Default 'latest' (Kafka's default). */
  autoOffsetReset?: AutoOffsetReset;
  /** How long the broker holds a fetch open waiting for minBytes. Default 500 (fetch.max.wait.ms). */
  maxWaitMs?: number;
  /** Default 1: answer as soon as anything is there. */
  minBytes?: number;
  /** Per fetch response. Default 16 MiB (well under the 64 MiB message limit). */
  maxBytes?: number;
  /** Per partition per fetch. Default 1 MiB (max.partition.fetch.bytes). */
  maxPartitionBytes?: number;
  /** Fetching pauses while this many fetched bytes wait to be consumed. Default: maxBytes. */
  maxBufferedBytes?: number;
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
  /** Partition leaders are looked up again at least this often. Default 300000 (metadata.max.age.ms). */
  metadataMaxAgeMs?: number;
  clock?: Clock;
  random?: Random;
}

export type { AutoOffsetReset, ConsumerBatch, SeekPosition };

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

export class Consumer implements AsyncIterable<ConsumerRecord> {
  readonly connection: Connection;
  private readonly ownsConnection: boolean;
  private readonly autoOffsetReset: AutoOffsetReset;
  private readonly states = new Map<string, PartitionState>();
  private readonly buffer: FetchBuffer;
  private readonly changes = new ChangeSignal();
  private readonly fetcher: Fetcher;
  private readonly metadata: MetadataCache;
  private iterators = 0;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(options: ConsumerOptions = {}) {
    this.autoOffsetReset = enumOption<AutoOffsetReset>('autoOffsetReset', options.autoOffsetReset, 'latest', [
      'earliest',
      'latest',
      'none',
    ]);
    const maxBytes = intOption('maxBytes', options.maxBytes, 16 * 1024 * 1024, 1, 2 ** 31 - 1);
    const retryBackoffMs = intOption('retryBackoffMs', options.retryBackoffMs, 100, 0, 2 ** 31 - 1);
    // Every option is checked before the connection opens, so a bad one leaks nothing.
    const settings = {
      autoOffsetReset: this.autoOffsetReset,
      maxWaitMs: intOption('maxWaitMs', options.maxWaitMs, 500, 0, 3_600_000),
      minBytes: intOption('minBytes', options.minBytes, 1, 0, 2 ** 31 - 1),
      maxBytes,
      maxPartitionBytes: intOption(
        'maxPartitionBytes',
        options.maxPartitionBytes,
        1024 * 1024,
        1,
        2 ** 31 - 1,
      ),
      maxBufferedBytes: intOption(
        'maxBufferedBytes',
        options.maxBufferedBytes,
        maxBytes,
        1,
        Number.MAX_SAFE_INTEGER,
      ),
      retryBackoffMs,
      retryBackoffMaxMs: intOption(
        'retryBackoffMaxMs',
        options.retryBackoffMaxMs,
        1000,
        retryBackoffMs,
        2 ** 31 - 1,
      ),
      metadataMaxAgeMs: intOption('metadataMaxAgeMs', options.metadataMaxAgeMs, 300_000, 0, 2 ** 31 - 1),
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
    };
    const { connection, owned } = Connection.from(options);
    this.connection = connection;
    this.ownsConnection = owned;
    // Who leads each partition: looked up as partitions are fetched, again when a leader moves.
    this.metadata = new MetadataCache({
      ...settings,
      maxAgeMs: settings.metadataMaxAgeMs,
      fetch: (topics) => connection.getMetadata(topics),
      onUpdate: () => this.changes.notify(),
    });
    this.buffer = new FetchBuffer((state) => this.states.get(key(state.topic, state.partition)) === state);
    this.fetcher = new Fetcher({
      ...settings,
      connection,
      leaders: this.metadata,
      states: this.states,
      buffer: this.buffer,
      changes: this.changes,
      wanted: () => this.iterators > 0,
    });
  }

  /** Replaces the assignment. Partitions kept keep their positions; new ones start per autoOffsetReset. */
  assign(partitions: readonly TopicPartition[]): void {
    this.checkOpen();
    const next = new Map<string, PartitionState>();
    for (const tp of partitions) {
      const { topic, partition } = checkTopicPartition(tp);
      const k = key(topic, partition);
      let state = this.states.get(k) ?? next.get(k);
      if (state === undefined) {
        state = new PartitionState(topic, partition);
        state.lookUp(this.autoOffsetReset === 'none' ? null : this.autoOffsetReset);
        if (this.autoOffsetReset === 'none') this.noPosition(state);
      }
      next.set(k, state);
    }
    this.states.clear();
    for (const [k, state] of next) this.states.set(k, state);
    this.interrupt();
  }

  assignment(): TopicPartition[] {
    return Array.from(this.states.values(), (s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** Moves an assigned partition: the next record yielded is the one at the new position. */
  seek(tp: TopicPartition, position: SeekPosition): void {
    this.checkOpen();
    const state = this.assigned(tp);
    if (typeof position === 'number') {
      if (!Number.isSafeInteger(position) || position < 0) {
        throw new WeirError('INVALID_REQUEST', `seek offset must be an integer >= 0, got ${position}`);
      }
      state.moveTo(position);
    } else if (position === 'earliest' || position === 'latest') {
      state.lookUp(position);
    } else if (position !== null && typeof position === 'object' && 'timestamp' in position) {
      const t = position.timestamp instanceof Date ? position.timestamp.getTime() : position.timestamp;
      if (!Number.isSafeInteger(t) || t < 0)
        throw new WeirError('INVALID_TIMESTAMP', `seek timestamp ${String(t)}`);
      state.lookUp({ timestamp: t });
    } else {
      throw new WeirError('INVALID_REQUEST', `seek position ${String(position)}`);
    }
    state.retryAt = 0;
    this.interrupt();
  }

  /** The offset of the next record this consumer will yield for the partition; null until known. */
  position(tp: TopicPartition): number | null {
    return this.assigned(tp).position;
  }

  /** Stops fetching the partitions; records already fetched for them are fetched again on resume. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const state = this.assigned(tp);
      if (state.paused) continue;
      state.paused = true;
      if (state.position !== null) state.moveTo(state.position);
    }
    this.changes.notify();
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.assigned(tp).paused = false;
    this.interrupt();
  }

  paused(): TopicPartition[] {
    const out: TopicPartition[] = [];
    for (const s of this.states.values()) if (s.paused) out.push({ topic: s.topic, partition: s.partition });
    return out;
  }

  /** Records one by one, in offset order per partition. Breaking out of the loop keeps the consumer open. */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    return this.iterate(() => this.buffer.nextRecord());
  }

  /** Per partition, the records of one fetch at a time: the fast way through many records. */
  batches(): AsyncIterable<ConsumerBatch> {
    return { [Symbol.asyncIterator]: () => this.iterate(() => this.buffer.nextBatch()) };
  }

  /** Stops fetching (cancelling a fetch in progress) and ends every iteration. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    try {
      await this.fetcher.close();
    } finally {
      this.metadata.close();
      if (this.ownsConnection) this.connection.close();
    }
  }

  private iterate<T>(take: () => T | undefined): AsyncIterator<T> {
    this.iterators++;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.iterators--;
    };
    return {
      next: async (): Promise<IteratorResult<T>> => {
        for (;;) {
          if (finished || this.closed) {
            finish();
            return DONE;
          }
          const error = this.buffer.takeError();
          if (error !== undefined) {
            finish();
            throw error;
          }
          const value = take();
          if (value !== undefined) {
            this.fetcher.start(); // room in the buffer again: keep prefetching
            return { done: false, value };
          }
          this.fetcher.start();
          await this.changes.wait();
        }
      },
      return: (): Promise<IteratorResult<T>> => {
        finish();
        return Promise.resolve(DONE);
      },
    };
  }

  private assigned(tp: TopicPartition): PartitionState {
    const { topic, partition } = checkTopicPartition(tp);
    const state = this.states.get(key(topic, partition));
    if (state === undefined) throw new WeirError('INVALID_REQUEST', `${topic}-${partition} is not assigned`);
    return state;
  }

  private checkOpen(): void {
    if (this.closed) throw new WeirError('INVALID_REQUEST', 'the consumer is closed');
  }

  private noPosition(state: PartitionState): void {
    this.buffer.pushError(
      state,
      new WeirError(
        'OFFSET_OUT_OF_RANGE',
        `no position for ${state.topic}-${state.partition} and autoOffsetReset is 'none': seek first`,
      ),
    );
  }

  private interrupt(): void {
    this.fetcher.interrupt();
  }
}
