// Offset commits of a group member: the consumed positions of the partitions it holds, with the
// member epoch it holds, one commit at a time (so a retried commit never lands after a later one
// and moves a partition's offset back).
//
// STALE_MEMBER_EPOCH means a heartbeat moved the epoch while the commit was in flight: the commit
// is sent again with the new epoch, for the partitions still held (a partition given up since is
// not committed: its next owner commits it). Retriable errors are retried with backoff; both only
// until the request timeout has passed since the commit began.

import { WeirError, isWeirError } from '../proto/errors.js';
import { fromWireError } from '../proto/grpc.js';
import { backoffMs, type Clock, type Random } from './clock.js';
import type { GroupAssignment, HeldPartition } from './group-assignment.js';
import type { GroupMembership } from './group-membership.js';
import { partitionKey } from './group-partitions.js';
import type { GroupRpc } from './group-rpc.js';

export interface CommitSettings {
  rpc: GroupRpc;
  groupId: string;
  membership: GroupMembership;
  assignment: GroupAssignment;
  requestTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  clock: Clock;
  random: Random;
}

export class GroupCommitter {
  private readonly s: CommitSettings;
  private chain: Promise<void> = Promise.resolve();
  private inFlight = 0;

  constructor(settings: CommitSettings) {
    this.s = settings;
  }

  /** Commits queued or in flight. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Commits the consumed positions of `only` (default: every partition held) that moved since
   * their last commit, or, with `explicit`, those offsets (by partition key) of partitions held. Resolves once the broker has answered; commits run one after another.
   */
  commit(only?: HeldPartition[], explicit?: ReadonlyMap<string, number>): Promise<void> {
    this.inFlight++;
    const run = this.chain.then(() => this.commitNow(only, explicit));
    this.chain = run.then(
      () => void this.inFlight--,
      () => void this.inFlight--,
    );
    return run;
  }

  private async commitNow(
    only: HeldPartition[] | undefined,
    explicit: ReadonlyMap<string, number> | undefined,
  ): Promise<void> {
    const { clock, membership, assignment } = this.s;
    const deadline = clock.now() + this.s.requestTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const todo = assignment.committable(only, explicit);
      if (todo.length === 0) return;
      if (!membership.joined) {
        throw membership.failure ?? new WeirError('UNKNOWN_MEMBER_ID', 'the consumer is not in the group');
      }
      const epoch = membership.epoch;
      try {
        const response = await this.s.rpc.offsetCommit(
          {
            groupId: this.s.groupId,
            memberId: membership.memberId,
            generation: epoch,
            partitions: todo.map(({ entry, offset }) => ({
              topic: entry.topic,
              partition: entry.partition,
              offset,
              metadata: '',
            })),
          },
          { timeoutMs: Math.max(1, deadline - clock.now()) },
        );
        const errors = new Map<string, WeirError>();
        for (const r of response.results) {
          const error = fromWireError(r.error);
          if (error !== null) errors.set(partitionKey(r.topic, r.partition), error);
        }
        let first: WeirError | null = null;
        for (const { entry, offset } of todo) {
          const error = errors.get(partitionKey(entry.topic, entry.partition));
          if (error !== undefined) first ??= error;
          else entry.committed = offset;
        }
        if (first !== null) throw first;
        return;
      } catch (err) {
        if (!isWeirError(err) || clock.now() >= deadline) throw err;
        if (err.code === 'STALE_MEMBER_EPOCH') {
          // The answer that moved the epoch may already be here; else wait for the next one.
          if (membership.epoch === epoch) await this.nextAnswer(deadline);
          continue;
        }
        if (!err.retriable) throw err;
        await this.sleep(
          Math.min(
            backoffMs(attempt, this.s.retryBackoffMs, this.s.retryBackoffMaxMs, this.s.random),
            deadline - clock.now(),
          ),
        );
      }
    }
  }

  /** Waits for the next heartbeat answer, at most until the deadline. */
  private nextAnswer(deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.s.clock.schedule(Math.max(0, deadline - this.s.clock.now()), resolve);
      void this.s.membership.answers.wait().then(() => {
        timer.cancel();
        resolve();
      });
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.s.clock.schedule(Math.max(0, ms), resolve));
  }
}
