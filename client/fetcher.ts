// The consumer's fetch loop: resolves the positions seeks and resets asked for (ListOffsets), then
// long-polls each leader with one Fetch covering its assigned, unpaused partitions, decodes what
// comes back into the buffer, and goes again while someone iterates and the buffer has room.
//
// Errors. A call to a leader that fails retriably backs that leader's partitions off; anything
// else is handed to the iterators. A partition's error backs that partition off alone, so one bad partition does not
// stall the others. OFFSET_OUT_OF_RANGE resets the position per autoOffsetReset (Kafka's
// auto.offset.reset), or with 'none' reaches the iterators until the caller seeks.
//
// Routing. Fetches and lookups go to each partition's leader, one call per leader. Each leader has
// at most one fetch in flight and gets the next as soon as it answers, so a leader with records
// streams them while another holds its long-poll open. A partition whose leader is not known
// waits for the metadata lookup that asks. A leader that moved (NOT_LEADER_OR_FOLLOWER,
// LEADER_NOT_AVAILABLE) or cannot be reached backs its partitions off and has their topic looked
// up again; the next round goes to the new leader from the same position, so nothing is skipped
// and nothing is yielded twice.

import { WeirError, isWeirError } from '../proto/errors.js';
import { fromWireError } from '../proto/grpc.js';
import type { FetchPartition } from '../proto/generated/weir/v1/FetchPartition.js';
import { backoffMs, type Clock, type Random, type TimerHandle } from './clock.js';
import type { Connection } from './connection.js';
import type { FetchBuffer, PartitionState, PendingReset } from './fetch-buffer.js';
import { decodeFetched } from './fetch-decoder.js';
import { NO_LEADER, STALE_LEADER } from './metadata-cache.js';
import { listOffsetsTimestamp, resolveOffsets } from './offsets.js';
import type { ConsumerRecord } from './records.js';
import type { ChangeSignal } from './signal.js';

export type AutoOffsetReset = 'earliest' | 'latest' | 'none';

/** Who leads a partition; MetadataCache is the real one. */
export interface LeaderLookup {
  /** The leader's node id, or NO_LEADER while unknown (a lookup is then under way). */
  leaderOf(topic: string, partition: number): number;
  /** Looks the topic up again (its leader may have moved). */
  request(topic: string): void;
  /** Why the last lookup of a topic found no leaders (e.g. the topic does not exist). */
  error(topic: string): WeirError | undefined;
}

/** The group key of partitions sent to any broker, whose answer then carries their error. */
const ANY_BROKER = -2;

export interface FetcherOptions {
  connection: Connection;
  leaders: LeaderLookup;
  /** The assignment; the fetcher reads it afresh on every round. */
  states: Map<string, PartitionState>;
  buffer: FetchBuffer;
  changes: ChangeSignal;
  /** Whether anyone is iterating (no one: no point fetching). */
  wanted: () => boolean;
  autoOffsetReset: AutoOffsetReset;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  maxPartitionBytes: number;
  maxBufferedBytes: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  clock: Clock;
  random: Random;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

interface FetchTarget {
  state: PartitionState;
  epoch: number;
  offset: number;
}

export class Fetcher {
  private readonly o: FetcherOptions;
  private readonly closed = new AbortController();
  private loop: Promise<void> | null = null;
  /**
   * Each leader's fetch in flight. A leader gets its next fetch as soon as its last one is
   * answered, so a leader with records to send is not held back by another's long-poll.
   */
  private readonly inFlight = new Map<number, Promise<void>>();
  /** Partitions in a fetch in flight: in no other fetch until it is answered. */
  private readonly fetching = new Set<PartitionState>();
  /** Partitions whose leader has a fetch in flight: they go in its next one. */
  private readonly leaderBusy = new Set<PartitionState>();
  /** Aborts the fetches in progress (long-polls) when new work makes them outdated. */
  private readonly fetchInterrupts = new Set<AbortController>();
  /** A fetch's failure that is no partition's alone, for the loop to report. */
  private fetchFailure: unknown = null;

  constructor(options: FetcherOptions) {
    this.o = options;
  }

  /** Starts the loop unless it runs, nobody iterates, or the buffer is full. */
  start(): void {
    if (this.loop !== null || this.closed.signal.aborted || !this.o.wanted()) return;
    if (this.o.buffer.bytes >= this.o.maxBufferedBytes) return;
    this.loop = this.run().finally(() => {
      this.loop = null;
      this.o.changes.notify();
    });
  }

  /** Cuts a long-poll short so new positions (seek, assign, resume) are fetched at once. */
  interrupt(): void {
    for (const controller of this.fetchInterrupts) controller.abort();
    this.o.changes.notify();
  }

  async close(): Promise<void> {
    this.closed.abort();
    this.o.changes.notify();
    await this.loop;
    await Promise.allSettled(this.inFlight.values());
  }

  private get isClosed(): boolean {
    return this.closed.signal.aborted;
  }

  private async run(): Promise<void> {
    let failures = 0;
    const { buffer, maxBufferedBytes } = this.o;
    while (!this.isClosed && this.o.wanted() && buffer.bytes < maxBufferedBytes) {
      try {
        const failure = this.fetchFailure;
        this.fetchFailure = null;
        if (failure !== null) throw failure;
        await this.resolvePositions();
        this.startFetches();
        failures = 0;
        await this.idle();
      } catch (err) {
        if (this.isClosed) return;
        const error = isWeirError(err)
          ? err
          : new WeirError('UNKNOWN_SERVER_ERROR', String(err), { cause: err });
        if (!error.retriable) buffer.pushError(null, error);
        this.o.changes.notify();
        await this.sleep(
          backoffMs(++failures, this.o.retryBackoffMs, this.o.retryBackoffMaxMs, this.o.random),
        );
      }
    }
  }

  /**
   * Waits for a change (assign, seek, resume, close, a fetch answered) or the earliest partition
   * backoff to end.
   */
  private async idle(): Promise<void> {
    // close() may have notified before this wait began; a notification is not remembered.
    if (this.isClosed) return;
    let wake = Infinity;
    for (const s of this.o.states.values()) {
      if (this.fetching.has(s) || this.leaderBusy.has(s)) continue; // a fetch's answer wakes them
      const wantsWork = s.fetchable || (s.reset !== null && !s.paused);
      if (wantsWork) wake = Math.min(wake, s.retryAt); // 0: due now (a lookup found another lookup to do)
    }
    if (wake <= this.o.clock.now()) return;
    await this.sleep(wake === Infinity ? null : Math.max(0, wake - this.o.clock.now()));
  }

  /**
   * Waits `ms` (null: no time limit) or until a change or close. The abort listener is removed
   * when the wait ends, so a loop that backs off many times does not pile listeners up.
   */
  private sleep(ms: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | null = null;
      const signal = this.closed.signal;
      const done = (): void => {
        timer?.cancel();
        signal.removeEventListener('abort', done);
        resolve();
      };
      if (signal.aborted) return done();
      if (ms !== null) timer = this.o.clock.schedule(ms, done);
      signal.addEventListener('abort', done, { once: true });
      void this.o.changes.wait().then(done);
    });
  }

  /**
   * Groups partitions by leader. One whose leader is not known sits this round out, until the
   * lookup's answer (which wakes the loop) or a short backoff; but one whose topic the lookup
   * could not find goes to any broker, whose answer says why (UNKNOWN_TOPIC_OR_PARTITION...) as
   * the partition's error.
   */
  private byLeader<T extends { state: PartitionState }>(items: readonly T[]): Map<number, T[]> {
    const groups = new Map<number, T[]>();
    for (const item of items) {
      const { topic, partition } = item.state;
      let leader = this.o.leaders.leaderOf(topic, partition);
      if (leader === NO_LEADER && this.o.leaders.error(topic) !== undefined) leader = ANY_BROKER;
      if (leader === NO_LEADER) {
        item.state.retryAt = this.o.clock.now() + this.o.retryBackoffMs;
        continue;
      }
      let group = groups.get(leader);
      if (group === undefined) groups.set(leader, (group = []));
      group.push(item);
    }
    return groups;
  }

  /**
   * Runs one call per leader together and waits for all. A retriable failure of one leader's call
   * backs its partitions off; any other failure is thrown once every call is done.
   */
  private async perLeader<T extends { state: PartitionState }>(
    groups: Map<number, T[]>,
    call: (leader: number, items: T[]) => Promise<void>,
  ): Promise<void> {
    const outcomes = await Promise.allSettled(
      Array.from(groups, async ([leader, items]) => {
        try {
          await call(leader, items);
        } catch (err) {
          if (this.isClosed || !isWeirError(err) || !err.retriable) throw err;
          for (const item of items) this.partitionError(item.state, err);
        }
      }),
    );
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  }

  /** Looks up the positions that seeks and resets asked for (one ListOffsets per leader). */
  private async resolvePositions(): Promise<void> {
    const wanted: { state: PartitionState; epoch: number; reset: PendingReset }[] = [];
    const now = this.o.clock.now();
    for (const state of this.o.states.values()) {
      if (state.reset !== null && !state.paused && state.retryAt <= now) {
        wanted.push({ state, epoch: state.epoch, reset: state.reset });
      }
    }
    if (wanted.length === 0) return;
    await this.perLeader(this.byLeader(wanted), async (leader, group) => {
      const asked = group.map((w) => ({
        topic: w.state.topic,
        partition: w.state.partition,
        timestamp: listOffsetsTimestamp(w.reset),
      }));
      const results = await resolveOffsets(this.o.connection, asked, {
        signal: this.closed.signal,
        broker: leader === ANY_BROKER ? undefined : leader,
      });
      for (let i = 0; i < group.length; i++) {
        const { state, epoch, reset } = group[i]!;
        const result = results[i]!;
        if (state.epoch !== epoch) continue; // seeked again meanwhile
        if (result.error !== null) {
          this.partitionError(state, result.error);
        } else if (result.offset < 0 && typeof reset === 'object') {
          state.lookUp('latest'); // nothing at or after that time: wait at the end for new records
        } else {
          state.retries = 0;
          state.retryAt = 0;
          state.moveTo(result.offset);
        }
      }
    });
    this.o.changes.notify();
  }

  /** Starts a Fetch at every leader without one in flight, over its fetchable partitions. */
  private startFetches(): void {
    const now = this.o.clock.now();
    const targets: FetchTarget[] = [];
    this.leaderBusy.clear();
    for (const state of this.o.states.values()) {
      if (!state.fetchable || state.retryAt > now || this.fetching.has(state)) continue;
      targets.push({ state, epoch: state.epoch, offset: state.fetchOffset! });
    }
    for (const [leader, group] of this.byLeader(targets)) {
      if (this.inFlight.has(leader)) {
        for (const target of group) this.leaderBusy.add(target.state);
      } else {
        this.startFetch(leader, group);
      }
    }
  }

  private startFetch(leader: number, targets: FetchTarget[]): void {
    const interrupt = new AbortController();
    this.fetchInterrupts.add(interrupt);
    const onClose = (): void => interrupt.abort();
    this.closed.signal.addEventListener('abort', onClose, { once: true });
    for (const target of targets) this.fetching.add(target.state);
    const done = this.fetchFrom(leader, targets, interrupt.signal)
      .catch((err: unknown) => {
        // Cut short by a seek, an assignment or a resume: the loop fetches the new positions.
        if (this.isClosed || interrupt.signal.aborted) return;
        if (isWeirError(err) && err.retriable) {
          for (const target of targets) this.partitionError(target.state, err);
        } else {
          this.fetchFailure ??= err;
        }
      })
      .finally(() => {
        this.fetchInterrupts.delete(interrupt);
        this.closed.signal.removeEventListener('abort', onClose);
        for (const target of targets) this.fetching.delete(target.state);
        this.inFlight.delete(leader);
        this.o.changes.notify();
      });
    this.inFlight.set(leader, done);
  }

  /** One leader's Fetch, its answer put in the buffer as soon as it arrives. */
  private async fetchFrom(leader: number, targets: FetchTarget[], signal: AbortSignal): Promise<void> {
    const partitions: FetchPartition[] = targets.map(({ state, offset }) => ({
      topic: state.topic,
      partition: state.partition,
      offset,
      maxBytes: this.o.maxPartitionBytes,
    }));
    let response;
    try {
      response = await this.o.connection.fetch(
        { partitions, maxWaitMs: this.o.maxWaitMs, minBytes: this.o.minBytes, maxBytes: this.o.maxBytes },
        {
          timeoutMs: this.o.maxWaitMs + this.o.connection.requestTimeoutMs,
          signal,
          broker: leader === ANY_BROKER ? undefined : leader,
        },
      );
    } catch (err) {
      if (signal.aborted && !this.isClosed) return; // interrupted: the next round fetches again
      throw err;
    }
    for (let i = 0; i < targets.length; i++) {
      const { state, epoch, offset } = targets[i]!;
      const current = this.o.states.get(partitionKey(state.topic, state.partition)) === state;
      if (state.epoch !== epoch || !current) continue; // moved, paused or unassigned meanwhile
      const result = response.results[i];
      if (result === undefined || result.topic !== state.topic || result.partition !== state.partition) {
        const detail = `no fetch result for ${state.topic}-${state.partition}`;
        this.partitionError(state, new WeirError('UNKNOWN_SERVER_ERROR', detail));
        continue;
      }
      const error = fromWireError(result.error);
      if (error !== null) {
        this.partitionError(state, error);
        continue;
      }
      state.retries = 0;
      state.retryAt = 0;
      state.highWatermark = result.highWatermark;
      const records: ConsumerRecord[] = [];
      const decoded = decodeFetched(state.topic, state.partition, result.batches, offset, records);
      if (decoded.nextOffset > offset) state.fetchOffset = decoded.nextOffset;
      else if (result.batches.length === 0 && result.nextOffset > offset)
        state.fetchOffset = result.nextOffset;
      // A fetch that moved on without a record (control batches only) is buffered too: its end
      // becomes the position once the records fetched before it are yielded (fetch-buffer.ts).
      const nextOffset = state.fetchOffset ?? offset;
      if (records.length > 0 || nextOffset > offset) {
        const bytes = result.batches.length;
        const highWatermark = result.highWatermark;
        this.o.buffer.push({ state, epoch, records, highWatermark, bytes, nextOffset, index: 0 });
      }
      if (decoded.corrupt !== null) {
        const detail = `${state.topic}-${state.partition}: ${decoded.corrupt}`;
        this.partitionError(state, new WeirError('CORRUPT_MESSAGE', detail));
      }
    }
    this.o.changes.notify();
  }

  private partitionError(state: PartitionState, error: WeirError): void {
    if (error.code === 'OFFSET_OUT_OF_RANGE' && this.o.autoOffsetReset !== 'none') {
      state.lookUp(this.o.autoOffsetReset);
      return;
    }
    if (STALE_LEADER.has(error.code)) this.o.leaders.request(state.topic);
    const { retryBackoffMs, retryBackoffMaxMs, random } = this.o;
    state.retryAt =
      this.o.clock.now() + backoffMs(++state.retries, retryBackoffMs, retryBackoffMaxMs, random);
    if (!error.retriable) this.o.buffer.pushError(state, error);
  }
}
