// The partitions a group member holds, and how it moves from what it holds to what the
// coordinator assigns: revoking first (stop yielding at once, commit, tell the user, confirm with
// an immediate heartbeat), then starting (committed offset or autoOffsetReset, then tell the
// user). It also keeps each partition's consumed position, the offset a commit writes.
//
// A held partition is in one of three states:
//   starting  assigned, its committed offset being fetched; nothing is fetched or yielded yet
//   active    fetched and yielded by the inner Consumer
//   revoking  no longer yielded; its position may still be committed until the revocation is
//             confirmed (the coordinator keeps the member as its owner until then)
// Each partition's entry is a new object per assignment, so work begun for an earlier assignment
// of the same partition (an offset fetch, a consumed record) recognises itself as stale.

import { isWeirError } from '../proto/errors.js';
import { fromWireError } from '../proto/grpc.js';
import { backoffMs, type Clock, type Random } from './clock.js';
import type { Consumer } from './consumer.js';
import type { GroupRpc } from './group-rpc.js';
import { compareTopicPartitions, partitionKey, toWirePartitions } from './group-partitions.js';
import type { TopicPartition } from './records.js';

export type RebalanceListener = (partitions: TopicPartition[]) => void | Promise<void>;

export class HeldPartition {
  readonly topic: string;
  readonly partition: number;
  state: 'starting' | 'active' | 'revoking' = 'starting';
  /** The next offset to consume: what a commit writes. null until known. */
  consumed: number | null = null;
  /** The offset last committed (or fetched as committed); null if none. */
  committed: number | null = null;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }
}

export interface AssignmentSettings {
  rpc: GroupRpc;
  groupId: string;
  consumer: Consumer;
  autoOffsetReset: 'earliest' | 'latest';
  autoCommit: boolean;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  clock: Clock;
  random: Random;
  onAssigned: RebalanceListener | undefined;
  onRevoked: RebalanceListener | undefined;
  onLost: RebalanceListener | undefined;
}

/** What the reconciliation needs from the rest of the consumer. */
export interface AssignmentHooks {
  /** Commits these partitions' consumed positions (with the epoch the member holds). */
  commit(partitions: HeldPartition[]): Promise<void>;
  /** Confirms finished revocations with a heartbeat at once. */
  heartbeatNow(): void;
  /** A user callback or an offset fetch failed: the iterator throws it. */
  report(error: unknown): void;
}

function tpsOf(entries: Iterable<HeldPartition>): TopicPartition[] {
  return Array.from(entries, (e) => ({ topic: e.topic, partition: e.partition })).sort(
    compareTopicPartitions,
  );
}

export class GroupAssignment {
  private readonly s: AssignmentSettings;
  private readonly hooks: AssignmentHooks;
  private readonly held = new Map<string, HeldPartition>();
  private worker: Promise<void> | null = null;
  private stopped = false;
  private closing = false;

  constructor(settings: AssignmentSettings, hooks: AssignmentHooks) {
    this.s = settings;
    this.hooks = hooks;
  }

  /** Everything held, in every state: the `owned` of a heartbeat. */
  owned(): TopicPartition[] {
    return tpsOf(this.held.values());
  }

  /** Partitions being consumed now. */
  active(): TopicPartition[] {
    return tpsOf(this.entries('active'));
  }

  /** The entry of a partition if it is active now (its records may be yielded). */
  activeEntry(topic: string, partition: number): HeldPartition | undefined {
    const entry = this.held.get(partitionKey(topic, partition));
    return entry?.state === 'active' ? entry : undefined;
  }

  /** Whether the entry is still the member's current holding of its partition. */
  isHeld(entry: HeldPartition): boolean {
    return !this.stopped && this.held.get(partitionKey(entry.topic, entry.partition)) === entry;
  }

  /** Partitions whose position may be committed now (active or revoking), with that position. */
  committable(
    only?: readonly HeldPartition[],
    explicit?: ReadonlyMap<string, number>,
  ): { entry: HeldPartition; offset: number }[] {
    const out: { entry: HeldPartition; offset: number }[] = [];
    for (const entry of only ?? this.held.values()) {
      if (entry.state === 'starting' || !this.isHeld(entry)) continue;
      if (explicit !== undefined) {
        // Offsets the caller chose (Kafka's commitSync(offsets)): only for partitions still held.
        const chosen = explicit.get(partitionKey(entry.topic, entry.partition));
        if (chosen !== undefined && chosen !== entry.committed) out.push({ entry, offset: chosen });
        continue;
      }
      let offset = entry.consumed;
      // Nothing yielded yet: the position the inner consumer looked up (autoOffsetReset) is
      // committed, so the next owner starts where this one would have, not at a later 'latest'.
      if (offset === null && entry.state === 'active') offset = this.s.consumer.position(entry);
      if (offset !== null && offset !== entry.committed) out.push({ entry, offset });
    }
    return out;
  }

  /** An answer from the coordinator: begins revoking at once, then reconciles in the background. */
  assign(assignment: readonly TopicPartition[]): void {
    if (this.closing) return;
    const target = new Set<string>();
    let changed = false;
    for (const { topic, partition } of assignment) {
      const key = partitionKey(topic, partition);
      target.add(key);
      if (!this.held.has(key)) {
        this.held.set(key, new HeldPartition(topic, partition));
        changed = true;
      }
    }
    for (const [key, entry] of this.held) {
      if (target.has(key) || entry.state === 'revoking') continue;
      // From here on no record of the partition is yielded (the iterator checks the state).
      if (entry.state === 'starting') this.held.delete(key);
      else this.beginRevoke(entry);
      changed = true;
    }
    if (!changed) return;
    this.applyToConsumer();
    this.worker ??= this.work().finally(() => (this.worker = null));
  }

  /** Membership lost: everything is dropped without a commit, then onLost (or onRevoked) runs. */
  async loseAll(): Promise<void> {
    if (this.stopped) return;
    const lost = tpsOf(this.held.values());
    this.held.clear();
    this.applyToConsumer();
    const listener = this.s.onLost ?? this.s.onRevoked;
    if (lost.length > 0 && listener !== undefined) await this.callListener(listener, lost);
  }

  /**
   * Closing: gives every partition up the way a rebalance does (a commit when autoCommit is on,
   * then onRevoked), after the reconciliation in progress. Answers that come meanwhile are
   * ignored, and afterwards nothing is held.
   */
  async revokeAll(): Promise<void> {
    this.closing = true;
    for (const [key, entry] of this.held) {
      if (entry.state === 'starting') this.held.delete(key);
      else if (entry.state === 'active') this.beginRevoke(entry);
    }
    this.applyToConsumer();
    this.worker ??= this.work().finally(() => (this.worker = null));
    while (this.worker !== null) await this.worker;
    this.stopped = true;
    this.held.clear();
  }

  /**
   * Stops yielding the partition. Its position is taken from the inner consumer first if nothing
   * was yielded yet (it leaves the inner consumer next), so the commit on revoke still has it.
   */
  private beginRevoke(entry: HeldPartition): void {
    if (entry.consumed === null) entry.consumed = this.s.consumer.position(entry);
    entry.state = 'revoking';
  }

  /** The inner consumer fetches the active partitions only. */
  private applyToConsumer(): void {
    this.s.consumer.assign(this.active());
  }

  private *entries(state: HeldPartition['state']): Iterable<HeldPartition> {
    for (const entry of this.held.values()) if (entry.state === state) yield entry;
  }

  /** Revocations first (the others wait for them), then starts, until nothing is left to do. */
  private async work(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const revoking = [...this.entries('revoking')];
      if (revoking.length > 0) {
        await this.revoke(revoking);
        continue;
      }
      const starting = [...this.entries('starting')];
      if (starting.length === 0 || this.closing) return;
      await this.start(starting);
    }
  }

  private async revoke(entries: HeldPartition[]): Promise<void> {
    if (this.s.autoCommit) {
      // A failed commit (retried until the request timeout) does not hold the partitions back:
      // the next owner starts from the last commit that got through, as in Kafka.
      await this.hooks.commit(entries).catch(() => undefined);
    }
    const still = entries.filter((e) => this.isHeld(e));
    if (still.length > 0 && this.s.onRevoked !== undefined) {
      await this.callListener(this.s.onRevoked, tpsOf(still));
    }
    for (const entry of entries) {
      if (this.isHeld(entry)) this.held.delete(partitionKey(entry.topic, entry.partition));
    }
    this.hooks.heartbeatNow();
  }

  /** Fetches the committed offsets, then hands the partitions to the inner consumer. */
  private async start(entries: HeldPartition[]): Promise<void> {
    let committed: Map<string, number>;
    for (let attempt = 1; ; attempt++) {
      try {
        committed = await this.fetchCommitted(entries);
        break;
      } catch (err) {
        if (!isWeirError(err) || !err.retriable) this.hooks.report(err);
        const ms = backoffMs(attempt, this.s.retryBackoffMs, this.s.retryBackoffMaxMs, this.s.random);
        await new Promise<void>((resolve) => this.s.clock.schedule(ms, resolve));
        entries = entries.filter((e) => this.isHeld(e) && e.state === 'starting');
        if (entries.length === 0) return;
      }
    }
    const started = entries.filter((e) => this.isHeld(e) && e.state === 'starting');
    if (started.length === 0) return;
    for (const entry of started) {
      entry.state = 'active';
      const offset = committed.get(partitionKey(entry.topic, entry.partition));
      if (offset !== undefined) {
        entry.committed = offset;
        entry.consumed = offset;
      }
    }
    this.applyToConsumer();
    for (const entry of started) {
      this.s.consumer.seek(entry, entry.consumed ?? this.s.autoOffsetReset);
    }
    if (this.s.onAssigned !== undefined) await this.callListener(this.s.onAssigned, tpsOf(started));
  }

  /** The group's committed offsets of the partitions; a partition without one is left out. */
  private async fetchCommitted(entries: readonly HeldPartition[]): Promise<Map<string, number>> {
    const response = await this.s.rpc.offsetFetch({
      groupId: this.s.groupId,
      partitions: toWirePartitions(entries),
    });
    const out = new Map<string, number>();
    for (const o of response.offsets) {
      const error = fromWireError(o.error);
      if (error !== null) throw error;
      if (o.offset >= 0) out.set(partitionKey(o.topic, o.partition), o.offset);
    }
    return out;
  }

  private async callListener(listener: RebalanceListener, partitions: TopicPartition[]): Promise<void> {
    try {
      await listener(partitions);
    } catch (err) {
      this.hooks.report(err);
    }
  }
}
