// The producer: takes records, picks their partitions, batches them per partition
// (record-accumulator.ts) and hands closed batches to the sender (sender.ts), which pipelines them
// to each partition's leader over a ProduceStream per broker, with idempotent sequence numbers and
// in-order retries. The metadata cache says who leads what; a sign that a leader moved sends it to
// look again.
//
// A call resolves once: `send(record)` with that record's RecordMetadata, `send({ topic, records })`
// with one RecordMetadata per record in the caller's order (and rejects with the first failure of
// any of its batches). Sending arrays is the fast path: no promise or closure per record.
//
// Calls are queued strictly in call order when they cannot be appended at once (the topic's
// partition count is not known yet, or maxBufferedBytes is reached), so two calls to the same
// partition always reach the log in the order they were made.

import { BATCH_HEADER_SIZE } from '../proto/batch-header.js';
import { WeirError } from '../proto/errors.js';
import { partitionForKey } from '../proto/partitioner.js';
import type { RecordInput } from '../proto/record-batch.js';
import type { Clock } from './clock.js';
import { Connection } from './connection.js';
import { Deque } from './deque.js';
import { MetadataCache } from './metadata-cache.js';
import { intOption } from './options.js';
import { StickyPartitioner, type Partitioner } from './partitioner.js';
import { StreamProduceTransport, type ProduceTransport } from './produce-transport.js';
import { resolveProducerConfig, type ProducerOptions } from './producer-config.js';
import { SendCall, type ProducerBatch } from './producer-batch.js';
import { RecordAccumulator } from './record-accumulator.js';
import {
  checkTopic,
  toRecordInput,
  type Message,
  type ProducerRecord,
  type RecordMetadata,
  type TopicMessages,
} from './records.js';
import { Sender } from './sender.js';

export type { ProducerOptions };

/** Whether `promise` settles within `ms` on `clock`. */
function settlesWithin(promise: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.schedule(ms, () => resolve(false));
    void promise.finally(() => {
      timer.cancel();
      resolve(true);
    });
  });
}

function firstResult(results: RecordMetadata[]): RecordMetadata {
  return results[0]!;
}

export class Producer {
  readonly connection: Connection;
  private readonly ownsConnection: boolean;
  private readonly transport: ProduceTransport;
  private readonly clock: Clock;
  private readonly accumulator: RecordAccumulator;
  private readonly sender: Sender;
  private readonly metadata: MetadataCache;
  private readonly sticky: StickyPartitioner;
  private readonly partitioner: Partitioner | undefined;
  private readonly maxBufferedBytes: number;
  private readonly maxBlockMs: number;
  private readonly waiting = new Deque<SendCall>();
  private readonly outstanding = new Set<SendCall>();
  private bufferedBytes = 0;
  private flushing = 0;
  private closing: Promise<void> | null = null;

  constructor(options: ProducerOptions = {}) {
    const config = resolveProducerConfig(options); // before the connection opens: a bad option leaks nothing
    this.maxBufferedBytes = config.maxBufferedBytes;
    this.maxBlockMs = config.maxBlockMs;
    this.partitioner = config.partitioner;
    this.clock = config.clock;
    const { connection, owned } = Connection.from(options);
    this.connection = connection;
    this.ownsConnection = owned;
    this.transport = options.transport ?? new StreamProduceTransport(connection, connection.requestTimeoutMs);
    this.sticky = new StickyPartitioner(config.random);
    this.sender = new Sender({
      ...config,
      transport: this.transport,
      initProducerId: () => connection.initProducerId(),
      onBatchDone: (batch) => this.onBatchDone(batch),
      leaderOf: (topic, partition) => this.metadata.leaderOf(topic, partition),
      onStaleLeader: (topic) => this.metadata.request(topic),
    });
    this.accumulator = new RecordAccumulator({
      ...config,
      onBatchClosed: (batch) => this.sender.enqueue(batch),
    });
    this.metadata = new MetadataCache({
      ...config,
      maxAgeMs: config.metadataMaxAgeMs,
      fetch: (topics) => connection.getMetadata(topics),
      onUpdate: () => {
        this.processWaiting();
        this.sender.wake();
      },
    });
  }

  /** Optional: takes the producer id (idempotent) or checks the broker answers, before the first send. */
  async connect(): Promise<void> {
    if (this.sender.producerIdentity !== null) return;
    if (this.sender.fatal !== null) throw this.sender.fatal;
    await this.sender.start();
    await this.connection.getMetadata([]);
  }

  /** Sends one record; resolves with where it landed. */
  send(record: ProducerRecord): Promise<RecordMetadata>;
  /** Sends many records to one topic; resolves once, with one result per record, in order. */
  send(messages: TopicMessages): Promise<RecordMetadata[]>;
  send(arg: ProducerRecord | TopicMessages): Promise<RecordMetadata | RecordMetadata[]> {
    let call: SendCall;
    let many: boolean;
    try {
      if (this.closing !== null) throw new WeirError('INVALID_REQUEST', 'the producer is closed');
      if (this.sender.fatal !== null) throw this.sender.fatal;
      if (arg === null || typeof arg !== 'object')
        throw new WeirError('INVALID_RECORD', 'send needs a record');
      many = 'records' in arg;
      const topic = checkTopic(arg.topic);
      const list: readonly Message[] = many ? (arg as TopicMessages).records : [arg as ProducerRecord];
      if (!Array.isArray(list)) throw new WeirError('INVALID_RECORD', 'records must be an array');
      if (list.length === 0) return Promise.resolve([]);
      call = this.newCall(topic, list);
    } catch (err) {
      return Promise.reject(err);
    }
    this.outstanding.add(call);
    if (this.waiting.length > 0 || !this.tryAppend(call)) this.waiting.push(call);
    return many ? call.promise : call.promise.then(firstResult);
  }

  /** Sends every record given so far now, and resolves when they are all settled (never rejects). */
  async flush(): Promise<void> {
    if (this.outstanding.size === 0) return;
    const calls = Array.from(this.outstanding, (call) => call.promise);
    this.flushing++;
    try {
      this.accumulator.closeAll();
      await Promise.allSettled(calls);
    } finally {
      this.flushing--;
    }
  }

  /**
   * Flushes, then closes the stream (and the connection, if the producer opened it). With
   * `timeoutMs`, records still unacknowledged by then fail with REQUEST_CANCELLED instead of
   * holding the close up until their delivery timeout.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(intOption('timeoutMs', options.timeoutMs, -1, 0, 2 ** 31 - 1));
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    // Answers still due get the request timeout to arrive; none are due after a timed-out close.
    let graceMs = this.connection.requestTimeoutMs;
    try {
      const flushed = this.flush().then(() => this.sender.idle());
      if (timeoutMs < 0) await flushed;
      else if (!(await settlesWithin(flushed, timeoutMs, this.clock))) {
        const detail = `producer closed with records unacknowledged after ${timeoutMs} ms`;
        const err = new WeirError('REQUEST_CANCELLED', detail);
        for (const call of this.waiting.drain()) call.fail(err);
        this.sender.failAll(err);
        graceMs = 0;
      }
    } finally {
      this.metadata.close();
      await this.transport.close(graceMs);
      if (this.ownsConnection) this.connection.close();
    }
  }

  private newCall(topic: string, list: readonly Message[]): SendCall {
    const now = this.clock.now();
    const inputs = new Array<RecordInput>(list.length);
    let partitions: Int32Array | null = null;
    for (let i = 0; i < list.length; i++) {
      const message = list[i]!;
      inputs[i] = toRecordInput(message, now, i);
      const partition = message.partition;
      if (partition !== undefined && partition !== null) {
        if (
          typeof partition !== 'number' ||
          !Number.isInteger(partition) ||
          partition < 0 ||
          partition > 0x7fffffff
        ) {
          throw new WeirError('INVALID_REQUEST', `record ${i}: partition ${String(partition)}`);
        }
        if (partitions === null) partitions = new Int32Array(list.length).fill(-1);
        partitions[i] = partition;
      }
    }
    return new SendCall(topic, inputs, partitions, now, (settled) => this.outstanding.delete(settled));
  }

  /** Appends the call's records if it can be done now; true when the call is consumed (or failed). */
  private tryAppend(call: SendCall): boolean {
    if (call.isSettled || call.inputs === null) return true;
    const topic = call.topic;
    const info = this.metadata.get(topic);
    if (info === undefined) {
      const err = this.metadata.error(topic);
      if (err !== undefined && (!err.retriable || this.clock.now() - call.enqueuedAt >= this.maxBlockMs)) {
        this.metadata.clearError(topic);
        call.fail(err);
        return true;
      }
      this.metadata.request(topic);
      return false;
    }
    if (this.bufferedBytes >= this.maxBufferedBytes) return false;
    const count = info.partitionCount;
    let partitions = call.partitions;
    if (this.partitioner !== undefined) {
      try {
        partitions = this.choosePartitions(call, count);
      } catch (err) {
        call.fail(
          err instanceof WeirError ? err : new WeirError('INVALID_REQUEST', `partitioner: ${String(err)}`),
        );
        return true;
      }
    }
    if (partitions !== null) {
      let highest = -1;
      for (let i = 0; i < partitions.length; i++) if (partitions[i]! > highest) highest = partitions[i]!;
      if (highest >= count) {
        // Maybe partitions were added since we looked: look again once before failing the call.
        if (!call.refreshed) {
          call.refreshed = true;
          this.metadata.request(topic);
          return false;
        }
        call.fail(
          new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has ${count} partitions, not ${highest + 1}`),
        );
        return true;
      }
    }
    const inputs = call.inputs;
    let added = 0;
    for (let i = 0; i < inputs.length; i++) {
      const record = inputs[i]!;
      let partition = partitions === null ? -1 : partitions[i]!;
      if (partition >= 0) {
        added += this.accumulator.append(topic, partition, record, call, i);
      } else if (record.key !== null) {
        partition = partitionForKey(record.key, count);
        added += this.accumulator.append(topic, partition, record, call, i);
      } else {
        partition = this.sticky.partition(topic, count);
        if (this.accumulator.closeIfFull(topic, partition, record)) {
          partition = this.sticky.switchFrom(topic, count);
        }
        added += this.accumulator.append(topic, partition, record, call, i);
        this.sticky.appended(topic, this.accumulator.openBatch(topic, partition));
      }
    }
    this.bufferedBytes += added;
    call.inputs = null;
    if (this.flushing > 0) this.accumulator.closeAll();
    return true;
  }

  /** With a custom partitioner, every record's partition up front, so a bad answer fails the whole call. */
  private choosePartitions(call: SendCall, count: number): Int32Array {
    const partitioner = this.partitioner!;
    const inputs = call.inputs!;
    const explicit = call.partitions;
    const partitions = new Int32Array(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      if (explicit !== null && explicit[i]! >= 0) {
        partitions[i] = explicit[i]!;
        continue;
      }
      const partition = partitioner(call.topic, inputs[i]!.key, count);
      if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
        throw new WeirError(
          'INVALID_REQUEST',
          `partitioner gave ${partition} for ${call.topic} (${count} partitions)`,
        );
      }
      partitions[i] = partition;
    }
    return partitions;
  }

  private processWaiting(): void {
    for (let call = this.waiting.peek(); call !== undefined; call = this.waiting.peek()) {
      let consumed: boolean;
      try {
        consumed = this.tryAppend(call);
      } catch (err) {
        call.fail(err instanceof WeirError ? err : new WeirError('INVALID_REQUEST', String(err)));
        consumed = true;
      }
      if (!consumed) return;
      this.waiting.shift();
    }
  }

  private onBatchDone(batch: ProducerBatch): void {
    this.bufferedBytes -= batch.sizeBytes - BATCH_HEADER_SIZE;
    if (this.waiting.length > 0) this.processWaiting();
  }
}
