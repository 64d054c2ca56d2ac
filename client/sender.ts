// Moves closed batches to the broker and settles them: per-partition ordering, at most
// `maxInFlight` batches in flight per partition, idempotent sequence numbers, and retries.
//
// Ordering under retries. Batches of a partition are sent in closing order and the broker
// answers them in that order. When one fails with a retriable error, the partition stops sending
// and "recovers": it waits until every batch still in flight there has been answered (later ones
// typically come back OUT_OF_ORDER_SEQUENCE_NUMBER, since the broker saw a gap; while recovering
// that error is a consequence, not a fault), then after a backoff puts every unacknowledged batch
// back at the head of the queue in closing order and resends them, with the same bytes and so the
// same sequence numbers. A batch that did reach the log is answered from the broker's dedupe
// cache with its original offsets, so a retry never writes twice.
//
// While resends of a partition are in flight, no new batch of it goes out: the broker remembers
// only the last five batches of a producer per partition, so a resend whose answer is lost again
// must come back before anything new is appended behind it, or it would look out of order.
//
// A batch that fails for good under idempotence leaves the broker's sequence for its partition
// unknown (it may or may not have been appended). The producer then takes a new producer id
// (Kafka's epoch bump, KIP-360): every partition waits until nothing is in flight, sequences
// restart from 0 under the new id, and batches not yet acknowledged are encoded again.
// INVALID_PRODUCER_EPOCH (another producer took over the id) is fatal: every pending and later
// send fails with it, as with Kafka's ProducerFencedException.
//
// Routing. Each request goes to one broker: the batches of a drain are grouped by their
// partition's leader (leaderOf), one request per leader. A partition whose leader is not known
// waits (its batches still expire). An answer that says the leader moved (NOT_LEADER_OR_FOLLOWER,
// LEADER_NOT_AVAILABLE) or a broker that cannot be reached asks the producer to look the topic up
// again (onStaleLeader), and the ordinary recovery above resends the same bytes, with the same
// producer id and sequences, to whichever broker leads by then: the brokers replicate the
// producer state with the log, so the new leader dedupes a batch the old one had appended.
//
// Following a failover (as KIP-951 has Kafka's producer do). The backoff of a partition that lost
// its leader grows with every resend to the dead one while the election runs, and would hold a
// batch back for up to retryBackoffMaxMs after a new leader is known. So while such a partition
// waits, its topic is looked up again every retryBackoffMs, and once a lookup names another
// leader the partition resends at once instead of waiting out its backoff.

import { WeirError, isWeirError } from '../proto/errors.js';
import { fromWireError } from '../proto/grpc.js';
import type { PartitionData } from '../proto/generated/weir/v1/PartitionData.js';
import type { PartitionProduceResult__Output } from '../proto/generated/weir/v1/PartitionProduceResult.js';
import type { ProduceResponse__Output } from '../proto/generated/weir/v1/ProduceResponse.js';
import { encodeBatch, type Compression } from '../proto/record-batch.js';
import { backoffMs, type Clock, type Random, type TimerHandle } from './clock.js';
import { NO_LEADER, STALE_LEADER } from './metadata-cache.js';
import { PartitionQueue } from './partition-queue.js';
import { WIRE_ACKS, findResult, type ProduceTransport } from './produce-transport.js';
import type { ProducerBatch } from './producer-batch.js';
import type { AcksOption } from './producer-config.js';
import { ProducerIdentityKeeper, type ProducerIdentity } from './producer-identity.js';

export interface SenderOptions {
  transport: ProduceTransport;
  acks: AcksOption;
  idempotent: boolean;
  maxInFlight: number;
  /** Resends allowed per batch (Infinity: bounded by deliveryTimeoutMs only). */
  retries: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** No retry starts later than this after the batch was created. */
  deliveryTimeoutMs: number;
  /** A request carries batches of several partitions up to this many bytes (at least one batch). */
  maxRequestBytes: number;
  /** Queued batches of a partition are merged up to this size (see PartitionQueue.coalesceHead). */
  maxMergedBatchBytes: number;
  compression: Compression;
  clock: Clock;
  random: Random;
  initProducerId: () => Promise<ProducerIdentity>;
  /** The node id leading a partition; NO_LEADER when not known yet (its batches wait). */
  leaderOf: (topic: string, partition: number) => number;
  /** A batch of the topic failed in a way that says its leader may have moved. */
  onStaleLeader: (topic: string) => void;
  /** Every batch, once, when it is settled (acknowledged or failed). */
  onBatchDone: (batch: ProducerBatch) => void;
}

/** The batches of one drain that go to one leader. */
interface LeaderRequest {
  partitions: PartitionData[];
  batches: ProducerBatch[];
  bytes: number;
  /** At maxRequestBytes: the leader's other batches wait for the next request. */
  full: boolean;
}

export class Sender {
  private readonly options: SenderOptions;
  private readonly queues = new Map<string, PartitionQueue[]>();
  /** Partitions with queued batches, in round-robin order. */
  private readonly active = new Set<PartitionQueue>();
  private readonly identity: ProducerIdentityKeeper;
  private pendingBatches = 0;
  private inFlightBatches = 0;
  private idleWaiters: (() => void)[] = [];
  /** A new producer id is due; nothing is sent until in-flight batches are all answered. */
  private resetting = false;
  private fatalError: WeirError | null = null;
  private drainQueued = false;
  /** Partitions waiting out a backoff for their leader to move (see the header). */
  private readonly leaderWaits = new Set<PartitionQueue>();
  private leaderPoll: TimerHandle | null = null;

  constructor(options: SenderOptions) {
    this.options = options;
    this.identity = new ProducerIdentityKeeper({
      initProducerId: options.initProducerId,
      clock: options.clock,
      random: options.random,
      retryBackoffMs: options.retryBackoffMs,
      retryBackoffMaxMs: options.retryBackoffMaxMs,
      onReady: () => {
        this.resetting = false;
        this.scheduleDrain();
      },
      onFailure: (err) => {
        if (!err.retriable) this.failAll(err);
        else this.expireAll();
        return this.pendingBatches > 0; // keep trying only while batches wait for it
      },
    });
  }

  /** Sends what can go now: called when leaders became known. */
  wake(): void {
    for (const queue of this.leaderWaits) if (this.leaderMoved(queue)) this.recover(queue);
    if (this.active.size > 0) this.scheduleDrain();
  }

  get fatal(): WeirError | null {
    return this.fatalError;
  }

  /** Batches closed but not yet settled. */
  get pending(): number {
    return this.pendingBatches;
  }

  get producerIdentity(): ProducerIdentity | null {
    return this.identity.current;
  }

  enqueue(batch: ProducerBatch): void {
    this.pendingBatches++;
    if (this.fatalError !== null) {
      this.settle(batch, this.fatalError);
      return;
    }
    const queue = this.queue(batch.topic, batch.partition);
    queue.enqueue(batch);
    this.active.add(queue);
    this.scheduleDrain();
  }

  /** Resolves once every batch enqueued so far (and any enqueued meanwhile) is settled. */
  idle(): Promise<void> {
    if (this.pendingBatches === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Takes the producer id now rather than at the first send (Producer.connect). */
  start(): Promise<void> {
    if (!this.options.idempotent) return Promise.resolve();
    return this.identity.ready();
  }

  /** Fails every batch not yet settled and every later one (the producer is unusable). */
  failAll(err: WeirError): void {
    if (this.fatalError === null) this.fatalError = err;
    this.identity.stop();
    this.leaderWaits.clear();
    this.leaderPoll?.cancel();
    this.leaderPoll = null;
    for (const queue of this.allQueues()) {
      queue.requeueRetries();
      for (const batch of queue.queued.drain()) this.settle(batch, err);
      // In-flight batches settle as their answers (or the transport's failure) come back.
    }
    this.active.clear();
  }

  private queue(topic: string, partition: number): PartitionQueue {
    let byPartition = this.queues.get(topic);
    if (byPartition === undefined) {
      byPartition = [];
      this.queues.set(topic, byPartition);
    }
    let queue = byPartition[partition];
    if (queue === undefined) {
      queue = new PartitionQueue(topic, partition);
      byPartition[partition] = queue;
    }
    return queue;
  }

  private *allQueues(): Generator<PartitionQueue> {
    for (const byPartition of this.queues.values()) {
      for (const queue of byPartition) if (queue !== undefined) yield queue;
    }
  }

  // Draining is deferred to a microtask so that batches closed by one synchronous burst of sends
  // travel together in as few requests as possible.
  private scheduleDrain(): void {
    if (this.drainQueued) return;
    this.drainQueued = true;
    queueMicrotask(() => {
      this.drainQueued = false;
      this.drain();
    });
  }

  private drain(): void {
    if (this.fatalError !== null) return;
    if (this.resetting) {
      this.maybeReset();
      return;
    }
    if (this.options.idempotent && this.identity.current === null) {
      this.identity.fetch();
      return;
    }
    const { maxInFlight, maxRequestBytes, deliveryTimeoutMs } = this.options;
    const expiredBefore = this.options.clock.now() - deliveryTimeoutMs;
    for (;;) {
      const requests = new Map<number, LeaderRequest>();
      for (const queue of Array.from(this.active)) {
        const batch = queue.queued.peek();
        if (batch === undefined) {
          this.active.delete(queue);
          continue;
        }
        if (queue.recovering || queue.inFlight.length >= maxInFlight) continue;
        if (batch.attempts === 0 && queue.resending()) continue;
        if (batch.createdAt <= expiredBefore) {
          this.expire(queue, batch);
          if (this.resetting) return;
          continue;
        }
        const leader = this.options.leaderOf(batch.topic, batch.partition);
        if (leader === NO_LEADER) continue; // a lookup is under way; its answer wakes the sender
        let request = requests.get(leader);
        if (request !== undefined && request.full) continue;
        const encoded = this.prepare(queue, batch);
        if (encoded === null) continue; // failed to encode; settled
        if (request === undefined) {
          request = { partitions: [], batches: [], bytes: 0, full: false };
          requests.set(leader, request);
        } else if (request.bytes + encoded.length > maxRequestBytes) {
          request.full = true; // goes in the next round's request to this leader
          continue;
        }
        queue.queued.shift();
        queue.inFlight.push(batch);
        this.inFlightBatches++;
        batch.state = 'in-flight';
        batch.attempts++;
        request.batches.push(batch);
        request.partitions.push({ topic: batch.topic, partition: batch.partition, batches: encoded });
        request.bytes += encoded.length;
        // Round-robin: a partition that sent goes to the back of the line.
        this.active.delete(queue);
        if (queue.queued.length > 0) this.active.add(queue);
      }
      if (requests.size === 0) return;
      for (const [leader, request] of requests) {
        this.sendRequest(leader, request.partitions, request.batches);
      }
    }
  }

  /** The head batch's bytes, merging and encoding it (and taking its sequence) on its first send. */
  private prepare(queue: PartitionQueue, batch: ProducerBatch): Buffer | null {
    if (batch.bytes !== null) return batch.bytes;
    this.pendingBatches -= queue.coalesceHead(this.options.maxMergedBatchBytes);
    const identity = this.options.idempotent ? this.identity.current : null;
    const baseSequence = identity === null ? -1 : queue.takeSequence(batch);
    try {
      batch.bytes = encodeBatch(batch.records, {
        producerId: identity?.producerId ?? -1,
        producerEpoch: identity?.producerEpoch ?? -1,
        baseSequence,
        compression: this.options.compression,
      });
    } catch (err) {
      // Records are checked before they are queued, so this is a batch over the codec's limits.
      queue.queued.shift();
      this.settle(batch, isWeirError(err) ? err : new WeirError('INVALID_RECORD', String(err)));
      if (baseSequence >= 0 && batch.baseSequence < 0) queue.nextSequence = baseSequence; // never sent
      this.scheduleDrain(); // the partition's next batch may still go
      return null;
    }
    batch.baseSequence = baseSequence;
    return batch.bytes;
  }

  /** Fails a queued batch that waited longer than deliveryTimeoutMs (the head of its queue). */
  private expire(queue: PartitionQueue, batch: ProducerBatch): void {
    queue.queued.shift();
    this.settle(batch, this.expiredError(batch));
    // Sent before under this producer id: its sequence may or may not be in the log.
    if (batch.baseSequence >= 0) this.requestReset();
    this.scheduleDrain();
  }

  /** While no producer id can be had, queued batches (none sent under an id) still expire. */
  private expireAll(): void {
    const expiredBefore = this.options.clock.now() - this.options.deliveryTimeoutMs;
    for (const queue of this.allQueues()) {
      for (let batch = queue.queued.peek(); batch !== undefined; batch = queue.queued.peek()) {
        if (batch.createdAt > expiredBefore) break;
        queue.queued.shift();
        this.settle(batch, this.expiredError(batch));
      }
    }
  }

  private expiredError(batch: ProducerBatch): WeirError {
    const last = batch.lastError === null ? '' : ` (last error: ${batch.lastError.message})`;
    return new WeirError(
      'REQUEST_TIMED_OUT',
      `batch for ${batch.topic}-${batch.partition} expired after ${this.options.deliveryTimeoutMs} ms${last}`,
    );
  }

  private sendRequest(leader: number, partitions: PartitionData[], batches: ProducerBatch[]): void {
    const expectResponse = this.options.acks !== 'none';
    const request = { acks: WIRE_ACKS[this.options.acks], timeoutMs: 0, partitions };
    this.options.transport.send(request, expectResponse, leader).then(
      (response) => this.onAnswer(leader, batches, response, null),
      (err: unknown) =>
        this.onAnswer(
          leader,
          batches,
          null,
          isWeirError(err) ? err : new WeirError('NETWORK_EXCEPTION', String(err)),
        ),
    );
  }

  private onAnswer(
    leader: number,
    batches: ProducerBatch[],
    response: ProduceResponse__Output | null,
    error: WeirError | null,
  ): void {
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i]!;
      if (error !== null) {
        this.onBatchAnswer(leader, batch, error, null);
      } else if (response === null) {
        this.onBatchAnswer(leader, batch, null, null); // acks 'none': written is all we will know
      } else {
        const result = findResult(response, i, batch);
        const err =
          result === null
            ? new WeirError('UNKNOWN_SERVER_ERROR', `no result for ${batch.topic}-${batch.partition}`)
            : fromWireError(result.error);
        this.onBatchAnswer(leader, batch, err, result);
      }
    }
    if (this.resetting) this.maybeReset();
    this.scheduleDrain();
  }

  private onBatchAnswer(
    leader: number,
    batch: ProducerBatch,
    err: WeirError | null,
    result: PartitionProduceResult__Output | null,
  ): void {
    const queue = this.queue(batch.topic, batch.partition);
    queue.removeInFlight(batch);
    this.inFlightBatches--;
    if (err === null) {
      batch.complete(result === null ? -1 : result.baseOffset);
      this.settle(batch, null);
    } else if (this.fatalError !== null) {
      this.settle(batch, this.fatalError);
    } else if (err.code === 'MESSAGE_TOO_LARGE' && batch.recordCount > 1) {
      // Past the topic's max.message.bytes (merged, or batchBytes above it): send it again as the
      // batches it was made of, or in halves, with the same sequences, until single records remain.
      const pieces = batch.split();
      this.pendingBatches += pieces.length - 1;
      queue.retry.push(...pieces);
      queue.recovering = true;
    } else if (this.shouldRetry(queue, batch, err)) {
      if (STALE_LEADER.has(err.code)) {
        queue.staleLeader = leader;
        this.options.onStaleLeader(batch.topic);
      }
      batch.state = 'retry';
      batch.lastError = err;
      queue.retry.push(batch);
      queue.recovering = true;
    } else if (err.code === 'INVALID_PRODUCER_EPOCH') {
      this.settle(batch, err);
      this.failAll(err);
      return;
    } else {
      this.settle(batch, err);
      if (batch.baseSequence >= 0) this.requestReset();
    }
    if (queue.recovering && queue.inFlight.length === 0 && !this.resetting) this.scheduleRecovery(queue);
  }

  private shouldRetry(queue: PartitionQueue, batch: ProducerBatch, err: WeirError): boolean {
    // Behind a failed batch of the same partition, or during a reset, a gap is expected: the
    // broker says OUT_OF_ORDER_SEQUENCE_NUMBER, or UNKNOWN_PRODUCER_ID when the batch that failed
    // was the producer's first there. An answer that overtook the answer to an earlier batch of
    // the partition is not trusted either: that earlier batch may still fill the gap.
    const consequence =
      (err.code === 'OUT_OF_ORDER_SEQUENCE_NUMBER' || err.code === 'UNKNOWN_PRODUCER_ID') &&
      (queue.recovering || this.resetting || queue.earlierInFlight(batch));
    if (!err.retriable && !consequence) return false;
    if (this.options.acks === 'none') return false;
    if (batch.attempts > this.options.retries) return false;
    const { retryBackoffMs, retryBackoffMaxMs, deliveryTimeoutMs } = this.options;
    const wait = backoffMs(batch.attempts, retryBackoffMs, retryBackoffMaxMs, () => 0);
    return this.options.clock.now() + wait - batch.createdAt < deliveryTimeoutMs;
  }

  /** After a backoff, puts the partition's failed batches back at the head of its queue, in order. */
  private scheduleRecovery(queue: PartitionQueue): void {
    if (queue.recoveryTimer !== null) return;
    let attempts = 0;
    for (const batch of queue.retry) attempts = Math.max(attempts, batch.attempts);
    const { retryBackoffMs, retryBackoffMaxMs, random } = this.options;
    const moved = queue.staleLeader !== null && this.leaderMoved(queue);
    const delay =
      attempts === 0 || moved ? 0 : backoffMs(attempts, retryBackoffMs, retryBackoffMaxMs, random);
    queue.recoveryTimer = this.options.clock.schedule(delay, () => this.recover(queue));
    if (queue.staleLeader !== null && !moved) {
      this.leaderWaits.add(queue);
      this.pollLeaders();
    }
  }

  /** Ends a partition's recovery now: its failed batches go back to the head of its queue. */
  private recover(queue: PartitionQueue): void {
    this.leaderWaits.delete(queue);
    queue.requeueRetries();
    if (queue.queued.length > 0) this.active.add(queue);
    this.scheduleDrain();
  }

  /** Whether a lookup since names a leader for the partition other than the one that failed it. */
  private leaderMoved(queue: PartitionQueue): boolean {
    const leader = this.options.leaderOf(queue.topic, queue.partition);
    return leader !== NO_LEADER && leader !== queue.staleLeader;
  }

  /** While partitions wait for their leader to move, asks for their topics every retryBackoffMs. */
  private pollLeaders(): void {
    if (this.leaderPoll !== null) return;
    this.leaderPoll = this.options.clock.schedule(this.options.retryBackoffMs, () => {
      this.leaderPoll = null;
      for (const queue of this.leaderWaits) {
        // Recovered meanwhile some other way (a reset, the backoff ran out).
        if (queue.staleLeader === null || queue.recoveryTimer === null) this.leaderWaits.delete(queue);
      }
      if (this.leaderWaits.size === 0 || this.fatalError !== null) return;
      for (const topic of new Set(Array.from(this.leaderWaits, (q) => q.topic)))
        this.options.onStaleLeader(topic);
      this.pollLeaders();
    });
  }

  private requestReset(): void {
    this.resetting = true;
    this.maybeReset();
  }

  private maybeReset(): void {
    if (!this.resetting || this.inFlightBatches > 0 || this.identity.pending) return;
    for (const queue of this.allQueues()) {
      queue.restartSequences();
      if (queue.queued.length > 0) this.active.add(queue);
    }
    this.identity.renew();
  }

  private settle(batch: ProducerBatch, err: WeirError | null): void {
    if (err !== null) batch.fail(err);
    batch.bytes = null;
    this.pendingBatches--;
    this.options.onBatchDone(batch);
    if (this.pendingBatches === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
