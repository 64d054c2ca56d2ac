// One partition's batches between closing and settling, as the sender keeps them: queued (in
// closing order), in flight (at most maxInFlight), and failed-retriably (waiting to go back to the
// head of the queue once the partition has recovered). Also the partition's next sequence number.

import type { TimerHandle } from './clock.js';
import { Deque } from './deque.js';
import { sequenceAfter, type ProducerBatch } from './producer-batch.js';

export class PartitionQueue {
  readonly queued = new Deque<ProducerBatch>();
  readonly inFlight: ProducerBatch[] = [];
  readonly retry: ProducerBatch[] = [];
  nextSequence = 0;
  /** A batch failed retriably: nothing is sent until every batch in flight is answered. */
  recovering = false;
  recoveryTimer: TimerHandle | null = null;
  /**
   * Recovering after its leader looked gone (a stale-leader error): the node the failed batch went
   * to. The recovery's backoff is cut short once another leader is known.
   */
  staleLeader: number | null = null;
  private nextOrder = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  enqueue(batch: ProducerBatch): void {
    batch.order = this.nextOrder++;
    this.queued.push(batch);
  }

  /**
   * Merges batches that were never sent and wait right behind the (never sent) head into it, while
   * the result stays within `limitBytes`; returns how many were absorbed. A partition with a
   * backlog (all its in-flight slots busy, or a burst of sends) then sends fewer, larger batches:
   * per-batch costs on both ends, not bytes, bound a single partition's rate.
   */
  coalesceHead(limitBytes: number): number {
    const head = this.queued.peek();
    if (head === undefined || !unsent(head)) return 0;
    let absorbed = 0;
    for (let next = this.queued.get(1); next !== undefined; next = this.queued.get(1)) {
      if (!unsent(next) || head.sizeBytes + next.sizeBytes > limitBytes) break;
      head.absorb(next);
      this.queued.shift();
      this.queued.shift();
      this.queued.unshift(head);
      absorbed++;
    }
    return absorbed;
  }

  /** Takes the batch's sequence numbers (unless it already has its own) and advances. */
  takeSequence(batch: ProducerBatch): number {
    if (batch.baseSequence >= 0) return batch.baseSequence;
    const sequence = this.nextSequence;
    this.nextSequence = sequenceAfter(sequence, batch.recordCount);
    return sequence;
  }

  /** Whether a batch closed before `batch` is still waiting for its answer. */
  earlierInFlight(batch: ProducerBatch): boolean {
    for (const other of this.inFlight) if (other.order < batch.order) return true;
    return false;
  }

  /** Whether a batch in flight is a resend (see sender.ts on the broker's dedupe window). */
  resending(): boolean {
    for (const batch of this.inFlight) if (batch.attempts > 1) return true;
    return false;
  }

  removeInFlight(batch: ProducerBatch): void {
    const index = this.inFlight.indexOf(batch);
    if (index >= 0) this.inFlight.splice(index, 1);
  }

  /** Puts the failed batches back at the head of the queue, in closing order, and ends recovery. */
  requeueRetries(): void {
    const retry = this.retry.splice(0).sort((a, b) => a.order - b.order);
    for (let i = retry.length - 1; i >= 0; i--) {
      retry[i]!.state = 'queued';
      this.queued.unshift(retry[i]!);
    }
    this.recovering = false;
    this.staleLeader = null;
    this.recoveryTimer?.cancel();
    this.recoveryTimer = null;
  }

  /** Under a new producer id every unacknowledged batch is encoded again, sequences from 0. */
  restartSequences(): void {
    this.requeueRetries();
    this.nextSequence = 0;
    for (let i = 0; i < this.queued.length; i++) {
      const batch = this.queued.shift()!;
      batch.bytes = null;
      batch.baseSequence = -1;
      this.queued.push(batch);
    }
  }
}

/** Never sent: only such batches may be merged (a split piece of a refused batch must not be). */
function unsent(batch: ProducerBatch): boolean {
  return batch.bytes === null && batch.baseSequence < 0 && batch.attempts === 0;
}
