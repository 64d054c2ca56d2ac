// A member's side of the group heartbeat (KIP-848): join, heartbeat on a timer of its own, follow
// what the coordinator answers, and leave. The coordinator computes every assignment; this class
// only carries the member id and epoch, reports what the member owns, and hands each answer's
// assignment to the consumer (MembershipHandler), which revokes and starts partitions.
//
// Heartbeats run one at a time, never overlapping: the coordinator moves a member's epoch only in
// an answer, so a second heartbeat sent before the first one's answer would carry a stale epoch
// and be fenced. They run independently of iteration, so a slow loop body does not cost the
// member its session.
//
// Errors:
//   FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID  the member lost everything: its partitions are dropped
//                                           without a commit and it rejoins at epoch 0.
//   FENCED_INSTANCE_ID                      another process holds our static instance id: stop.
//   retriable (network, NOT_COORDINATOR)    retried with backoff. When no heartbeat got through for
//                                           a whole session timeout, the coordinator has evicted
//                                           the member: it drops its partitions (others own them
//                                           by now) and rejoins once the broker answers again.
//   anything else                           fatal (a bad session timeout, an unknown assignor...).

import { randomUUID } from 'node:crypto';
import { WeirError, isWeirError } from '../proto/errors.js';
import { backoffMs, type Clock, type Random, type TimerHandle } from './clock.js';
import type { GroupRpc } from './group-rpc.js';
import { fromWirePartitions, toWirePartitions } from './group-partitions.js';
import type { TopicPartition } from './records.js';
import { ChangeSignal } from './signal.js';

export const JOIN_EPOCH = 0;
export const LEAVE_EPOCH = -1;
export const STATIC_LEAVE_EPOCH = -2;
/** The broker's default session timeout (Kafka's 45 s), assumed when the member sets none. */
export const DEFAULT_SESSION_TIMEOUT_MS = 45_000;
/** Before the first answer names the interval. */
const INITIAL_HEARTBEAT_INTERVAL_MS = 3_000;

/** What the membership needs from the consumer it serves. */
export interface MembershipHandler {
  /** The partitions the member holds now: the `owned` of the next heartbeat. */
  owned(): TopicPartition[];
  /** An answer: own exactly these now. Must begin revoking synchronously. */
  assigned(assignment: TopicPartition[]): void;
  /** Membership was lost: drop every partition without committing. Awaited before rejoining. */
  lost(reason: WeirError): Promise<void>;
  /** The member cannot go on (fenced instance id, a setting the broker refuses). */
  failed(error: WeirError): void;
}

export interface MembershipSettings {
  rpc: GroupRpc;
  groupId: string;
  clientId: string;
  /** '' for a dynamic member. */
  instanceId: string;
  /** 0 = the broker's default. */
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  topics: readonly string[];
  /** '' when subscribed by topic names. */
  pattern: string;
  /** '' = the broker's default. */
  assignor: string;
  requestTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  clock: Clock;
  random: Random;
}

export class GroupMembership {
  private readonly s: MembershipSettings;
  private readonly handler: MembershipHandler;
  /** Notified on every answer, and when the membership stops. */
  readonly answers = new ChangeSignal();
  private memberIdValue = '';
  /**
   * The id this member asks for on its first join (KIP-1082): a join resent after its answer was
   * lost then finds the member it made, instead of making a second one that holds partitions
   * nobody consumes until its session ends. Client id first, so assignors order members by it.
   */
  private readonly ownId: string;
  private epochValue = JOIN_EPOCH;
  private intervalMs = INITIAL_HEARTBEAT_INTERVAL_MS;
  private sessionInForceMs = 0;
  private lastAnswerAt: number;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private failedWith: WeirError | null = null;
  private soon = false;
  private wake: (() => void) | null = null;

  constructor(settings: MembershipSettings, handler: MembershipHandler) {
    this.s = settings;
    this.handler = handler;
    this.lastAnswerAt = settings.clock.now();
    this.ownId = `${settings.clientId}-${randomUUID()}`;
  }

  /** The member id the coordinator gave; '' until the first answer. */
  get memberId(): string {
    return this.memberIdValue;
  }

  /** The member epoch, put on every commit; 0 while (re)joining. */
  get epoch(): number {
    return this.epochValue;
  }

  get failure(): WeirError | null {
    return this.failedWith;
  }

  /** Whether the member is in the group (joined, not left, not failed). */
  get joined(): boolean {
    return this.epochValue > 0 && this.failedWith === null;
  }

  /** The session timeout the coordinator last said is in force; before any answer, ours or 45 s. */
  private get sessionMs(): number {
    if (this.sessionInForceMs > 0) return this.sessionInForceMs;
    return this.s.sessionTimeoutMs > 0 ? this.s.sessionTimeoutMs : DEFAULT_SESSION_TIMEOUT_MS;
  }

  start(): void {
    if (this.loop !== null || this.stopping) return;
    this.loop = this.run();
  }

  /** Heartbeats at once (after a revocation), or right after the one in flight. */
  heartbeatNow(): void {
    this.soon = true;
    this.wake?.();
  }

  /**
   * Stops heartbeating and leaves: epoch -1, or -2 for a static member that will come back (its
   * partitions wait for it until its session times out). Nothing is sent by a member that never
   * joined or was fenced. A failed leave is not retried: the session timeout removes the member.
   */
  async leave(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.answers.notify();
    if (this.memberIdValue === '' || this.epochValue <= 0 || this.failedWith !== null) return;
    const epoch = this.s.instanceId === '' ? LEAVE_EPOCH : STATIC_LEAVE_EPOCH;
    try {
      await this.s.rpc.groupHeartbeat(this.request(epoch, []), { timeoutMs: this.heartbeatTimeoutMs() });
    } catch {
      // Best effort, as Kafka's leave: the coordinator evicts the member after its session anyway.
    }
    this.epochValue = epoch;
  }

  private request(epoch: number, owned: TopicPartition[]) {
    return {
      groupId: this.s.groupId,
      memberId: this.memberIdValue !== '' ? this.memberIdValue : this.ownId,
      memberEpoch: epoch,
      instanceId: this.s.instanceId,
      clientId: this.s.clientId,
      sessionTimeoutMs: this.s.sessionTimeoutMs,
      rebalanceTimeoutMs: this.s.rebalanceTimeoutMs,
      subscribedTopics: [...this.s.topics],
      subscribedPattern: this.s.pattern,
      assignor: this.s.assignor,
      owned: toWirePartitions(owned),
    };
  }

  /** A heartbeat must be answered well within the session, or the next one is due too late. */
  private heartbeatTimeoutMs(): number {
    return Math.max(1, Math.min(this.s.requestTimeoutMs, this.sessionMs));
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      this.soon = false;
      const owned = this.epochValue === JOIN_EPOCH ? [] : this.handler.owned();
      let delay: number;
      try {
        const answer = await this.s.rpc.groupHeartbeat(this.request(this.epochValue, owned), {
          timeoutMs: this.heartbeatTimeoutMs(),
        });
        failures = 0;
        this.lastAnswerAt = this.s.clock.now();
        this.memberIdValue = answer.memberId;
        this.epochValue = answer.memberEpoch;
        if (answer.heartbeatIntervalMs > 0) this.intervalMs = answer.heartbeatIntervalMs;
        if (answer.sessionTimeoutMs > 0) this.sessionInForceMs = answer.sessionTimeoutMs;
        this.handler.assigned(fromWirePartitions(answer.assignment));
        this.answers.notify();
        delay = this.intervalMs;
      } catch (err) {
        const error = isWeirError(err)
          ? err
          : new WeirError('UNKNOWN_SERVER_ERROR', String(err), { cause: err });
        failures++;
        delay = await this.onError(error, failures);
      }
      if (!this.soon && !this.stopping && delay > 0) await this.sleep(delay);
    }
  }

  /** Handles a failed heartbeat; answers how long to wait before the next one. */
  private async onError(error: WeirError, failures: number): Promise<number> {
    const backoff = backoffMs(failures, this.s.retryBackoffMs, this.s.retryBackoffMaxMs, this.s.random);
    switch (error.code) {
      case 'FENCED_MEMBER_EPOCH':
      case 'UNKNOWN_MEMBER_ID':
        await this.lose(error);
        // At once the first time; a member fenced again and again backs off.
        return failures > 1 ? backoff : 0;
      case 'FENCED_INSTANCE_ID':
        this.fail(error);
        return 0;
      default:
        if (!error.retriable) {
          this.fail(error);
          return 0;
        }
        if (this.epochValue > 0 && this.s.clock.now() - this.lastAnswerAt >= this.sessionMs) {
          await this.lose(
            new WeirError(
              'UNKNOWN_MEMBER_ID',
              `no heartbeat answered for ${this.sessionMs} ms: the session has expired`,
              { cause: error },
            ),
          );
        }
        return backoff;
    }
  }

  private async lose(reason: WeirError): Promise<void> {
    // A member may rejoin under its old id; what it held is gone either way.
    this.epochValue = JOIN_EPOCH;
    await this.handler.lost(reason);
    this.answers.notify();
  }

  private fail(error: WeirError): void {
    this.failedWith = error;
    this.stopping = true;
    this.epochValue = JOIN_EPOCH;
    this.answers.notify();
    this.handler.failed(error);
  }

  /** Waits `ms`, or less when woken by heartbeatNow() or leave(). */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | null = null;
      const done = (): void => {
        timer?.cancel();
        this.wake = null;
        resolve();
      };
      this.wake = done;
      timer = this.s.clock.schedule(ms, done);
    });
  }
}
