// A consumer in a consumer group: the coordinator assigns its partitions (KIP-848 heartbeats, in
// group-membership.ts), it follows (group-assignment.ts) and commits what it consumed
// (group-commit.ts). Records are fetched by an inner Consumer, assigned exactly the partitions
// being consumed, so the fetch loop, buffer and offset resets are the plain consumer's.
//
// Consumed positions (at least once): a record counts as consumed once the loop body that got it
// has finished, i.e. when the iterator's next() is called again (for batches: the whole batch).
// Leaving the loop (break, return, throw) does not count the last record: the next iteration, or
// after a rebalance or a restart the next owner, gets it again. Commits write consumed positions only, and only for partitions
// still held. A partition being revoked yields nothing from the moment its revocation begins.

import { WeirError, isWeirError } from '../proto/errors.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { Consumer } from './consumer.js';
import type { ConsumerBatch } from './fetch-buffer.js';
import { GroupAssignment, type HeldPartition } from './group-assignment.js';
import { GroupCommitter } from './group-commit.js';
import { CoordinatorRouter } from './group-coordinator.js';
import { GroupMembership } from './group-membership.js';
import { groupSettings, type GroupConsumerOptions, type GroupSettings } from './group-options.js';
import { partitionKey } from './group-partitions.js';
import type { GroupRpc } from './group-rpc.js';
import { intOption } from './options.js';
import type { ConsumerRecord, TopicPartition } from './records.js';

export type { GroupAssignor, GroupConsumerOptions } from './group-options.js';
export type { RebalanceListener } from './group-assignment.js';

/** Seams for tests (STYLE 10): the group calls may go through a fake or a faulty transport. */
export interface GroupConsumerSeams {
  rpc?: GroupRpc;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const ALERT = Symbol('alert');

/** A record (or batch) handed out whose loop body has not finished yet. */
interface Unconsumed {
  entry: HeldPartition;
  tp: TopicPartition;
  firstOffset: number;
  nextOffset: number;
}

interface Shape<T> {
  tp(value: T): TopicPartition;
  first(value: T): number;
  next(value: T): number;
}

const RECORD: Shape<ConsumerRecord> = {
  tp: (r) => r,
  first: (r) => r.offset,
  next: (r) => r.offset + 1,
};

const BATCH: Shape<ConsumerBatch> = {
  tp: (b) => b,
  first: (b) => b.records[0]!.offset,
  next: (b) => b.records[b.records.length - 1]!.offset + 1,
};

export class GroupConsumer implements AsyncIterable<ConsumerRecord> {
  /** The group this consumer is a member of. */
  readonly groupId: string;
  private readonly settings: GroupSettings;
  private readonly consumer: Consumer;
  private readonly rpc: GroupRpc;
  private readonly membership: GroupMembership;
  private readonly held: GroupAssignment;
  private readonly committer: GroupCommitter;
  private readonly alertWaiters = new Set<() => void>();
  private readonly reported: unknown[] = [];
  private failure: WeirError | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private autoCommitTimer: TimerHandle | null = null;
  private readonly clock: Clock;

  /** Joins the group at once; call close() when done (it commits and leaves). */
  constructor(options: GroupConsumerOptions, seams: GroupConsumerSeams = {}) {
    this.settings = groupSettings(options);
    this.groupId = this.settings.groupId;
    const retryBackoffMs = intOption('retryBackoffMs', options.retryBackoffMs, 100, 0, 2 ** 31 - 1);
    const retryBackoffMaxMs = intOption(
      'retryBackoffMaxMs',
      options.retryBackoffMaxMs,
      1000,
      retryBackoffMs,
      2 ** 31 - 1,
    );
    const clock = options.clock ?? systemClock;
    this.clock = clock;
    const random = options.random ?? Math.random;
    this.consumer = new Consumer({ ...options, autoOffsetReset: this.settings.autoOffsetReset });
    // Group calls go to the group's coordinator; fetches go to each partition's leader.
    this.rpc = seams.rpc ?? new CoordinatorRouter(this.consumer.connection);
    const s = this.settings;
    const requestTimeoutMs = this.consumer.connection.requestTimeoutMs;
    const common = { rpc: this.rpc, groupId: s.groupId, retryBackoffMs, retryBackoffMaxMs, clock, random };
    this.held = new GroupAssignment(
      { ...common, consumer: this.consumer, ...s },
      {
        commit: (entries) => this.committer.commit(entries),
        heartbeatNow: () => this.membership.heartbeatNow(),
        report: (error) => this.report(error),
      },
    );
    this.membership = new GroupMembership(
      { ...common, ...s, requestTimeoutMs },
      {
        owned: () => this.held.owned(),
        assigned: (tps) => this.held.assign(tps),
        lost: () => this.held.loseAll(),
        failed: (error) => this.fail(error),
      },
    );
    this.committer = new GroupCommitter({
      ...common,
      membership: this.membership,
      assignment: this.held,
      requestTimeoutMs,
    });
    this.membership.start();
    if (s.autoCommit) this.scheduleAutoCommit();
  }

  /** The id the coordinator gave this member; '' until it has joined. */
  get memberId(): string {
    return this.membership.memberId;
  }

  /** The member epoch, which commits carry; 0 while (re)joining. */
  get generation(): number {
    return this.membership.epoch;
  }

  /** The partitions this member owns now (those being revoked included, until confirmed). */
  assignment(): TopicPartition[] {
    return this.held.owned();
  }

  /**
   * Records one by one, in offset order per partition. A record counts as consumed (and is
   * committed) once the loop asks for the next one; leaving the loop (break, throw) leaves the
   * current record unconsumed, so it is delivered again after a restart or rebalance. Throws
   * FENCED_INSTANCE_ID (and ends) when another process took this static member's instance id,
   * and once for an error a rebalance listener threw. Ends when the consumer closes.
   */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    return this.iterate(this.consumer[Symbol.asyncIterator](), RECORD);
  }

  /** Per partition, the records of one fetch at a time; a batch is consumed when the next is asked for. */
  batches(): AsyncIterable<ConsumerBatch> {
    return {
      [Symbol.asyncIterator]: () => this.iterate(this.consumer.batches()[Symbol.asyncIterator](), BATCH),
    };
  }

  /**
   * Commits the consumed positions of the partitions this member owns; resolves once the broker
   * has answered. Rejects with the broker's error (e.g. UNKNOWN_MEMBER_ID after being fenced).
   * With `offsets` (each the next offset to read), commits exactly those instead, as Kafka's
   * commitSync(offsets), for the partitions this member still owns; the others are left out.
   */
  async commit(offsets?: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
    if (this.failure !== null) throw this.failure;
    let explicit: Map<string, number> | undefined;
    if (offsets !== undefined) {
      explicit = new Map();
      for (const { topic, partition, offset } of offsets) {
        if (!Number.isSafeInteger(offset) || offset < 0)
          throw new WeirError('INVALID_REQUEST', `offset ${offset} for ${topic}/${partition}`);
        explicit.set(partitionKey(topic, partition), offset);
      }
    }
    await this.committer.commit(undefined, explicit);
  }

  /**
   * The offset of the next record this member will yield for a partition it owns (Kafka's
   * position); null when it does not own the partition or its start is not looked up yet.
   */
  position(tp: TopicPartition): number | null {
    if (this.held.activeEntry(tp.topic, tp.partition) === undefined) return null;
    return this.consumer.position(tp);
  }

  /** commit() without waiting; its outcome goes to `callback` if one is given. */
  commitAsync(callback?: (error: WeirError | null) => void): void {
    this.commit().then(
      () => callback?.(null),
      (err: unknown) =>
        callback?.(isWeirError(err) ? err : new WeirError('UNKNOWN_SERVER_ERROR', String(err))),
    );
  }

  /**
   * Ends iteration, commits (if autoCommit), calls onRevoked for what it owned, and leaves the
   * group so the others take the partitions over at once. A static member leaves with epoch -2:
   * its partitions wait for it until its session times out. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.alert();
    this.autoCommitTimer?.cancel();
    const goodbye = (async () => {
      if (this.failure === null) await this.held.revokeAll();
      await this.membership.leave();
    })();
    // Each step is bounded by its request timeout; together they are bounded by closeTimeoutMs.
    // Past it, closing the connection below cancels what is still in flight.
    let timer: TimerHandle | null = null;
    const late = new Promise<void>((resolve) => {
      timer = this.clock.schedule(this.settings.closeTimeoutMs, resolve);
    });
    try {
      await Promise.race([goodbye, late]);
    } finally {
      (timer as TimerHandle | null)?.cancel();
      goodbye.catch(() => undefined);
      await this.consumer.close();
    }
  }

  private scheduleAutoCommit(): void {
    this.autoCommitTimer = this.clock.schedule(this.settings.autoCommitIntervalMs, () => {
      if (this.closed) return;
      // A slow broker must not pile commits up: skip a turn while one is still going.
      if (this.committer.pending === 0 && this.membership.joined) this.commitAsync();
      this.scheduleAutoCommit();
    });
  }

  private report(error: unknown): void {
    // One waiting error is enough to end the loop; a failure repeated meanwhile adds nothing.
    if (this.closed || this.reported.length > 0) return;
    this.reported.push(error);
    this.alert();
  }

  private fail(error: WeirError): void {
    this.failure = error;
    void this.held.loseAll();
    this.alert();
  }

  /** Wakes every iterator waiting for a record, to look at close, failure or a reported error. */
  private alert(): void {
    const waiters = [...this.alertWaiters];
    this.alertWaiters.clear();
    for (const wake of waiters) wake();
  }

  /** The inner iterator's next value, or ALERT if something needs the iterator's attention first. */
  private waitFor<T>(pending: Promise<IteratorResult<T>>): Promise<IteratorResult<T> | typeof ALERT> {
    return new Promise((resolve, reject) => {
      const wake = (): void => resolve(ALERT);
      this.alertWaiters.add(wake);
      pending.then(
        (value) => {
          this.alertWaiters.delete(wake);
          resolve(value);
        },
        (err: unknown) => {
          this.alertWaiters.delete(wake);
          reject(err);
        },
      );
    });
  }

  private iterate<T>(inner: AsyncIterator<T>, shape: Shape<T>): AsyncIterator<T> {
    let unconsumed: Unconsumed | null = null;
    let pending: Promise<IteratorResult<T>> | null = null;
    let finished = false;
    /** Ends the inner iteration; a record it hands over late is fetched again, not lost. */
    const finish = (): void => {
      if (finished) return;
      finished = true;
      void inner.return?.();
      if (pending !== null)
        void pending.then(
          (r) => this.rewind(r, shape),
          () => undefined,
        );
      pending = null;
    };
    const next = async (): Promise<IteratorResult<T>> => {
      if (unconsumed !== null) {
        if (this.held.isHeld(unconsumed.entry)) unconsumed.entry.consumed = unconsumed.nextOffset;
        unconsumed = null;
      }
      for (;;) {
        if (finished) return DONE;
        if (this.failure !== null || this.reported.length > 0) {
          const error = this.failure ?? this.reported.shift();
          finish();
          throw error;
        }
        if (this.closed) {
          finish();
          return DONE;
        }
        pending ??= inner.next();
        const got = await this.waitFor(pending);
        if (got === ALERT) continue;
        pending = null;
        if (got.done === true) {
          finished = true;
          if (this.failure !== null) throw this.failure;
          return DONE;
        }
        const tp = shape.tp(got.value);
        const entry = this.held.activeEntry(tp.topic, tp.partition);
        // Revoked (or lost) since it was fetched: never yielded once the revocation has begun.
        if (entry === undefined || this.closed) continue;
        entry.consumed ??= shape.first(got.value);
        unconsumed = { entry, tp, firstOffset: shape.first(got.value), nextOffset: shape.next(got.value) };
        return { done: false, value: got.value };
      }
    };
    return {
      next,
      return: (): Promise<IteratorResult<T>> => {
        // The loop was left (break, return or throw) inside the body that got `unconsumed`: it does
        // not count as consumed, and the inner consumer, already past it, is put back on it, so the
        // next iteration (or, after a rebalance, the next owner) gets it again.
        if (unconsumed !== null) {
          const { entry, tp, firstOffset } = unconsumed;
          if (!this.closed && this.held.activeEntry(tp.topic, tp.partition) === entry)
            this.consumer.seek(tp, firstOffset);
          unconsumed = null;
        }
        finish();
        return Promise.resolve(DONE);
      },
    };
  }

  /** Puts a partition's position back to a value taken from the inner consumer but not yielded. */
  private rewind<T>(result: IteratorResult<T>, shape: Shape<T>): void {
    if (result.done === true || this.closed) return;
    const tp = shape.tp(result.value);
    if (this.held.activeEntry(tp.topic, tp.partition) === undefined) return;
    this.consumer.seek(tp, shape.first(result.value));
  }
}
