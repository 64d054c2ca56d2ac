// The idempotent producer's id and epoch (InitProducerId): taken before the first batch is sent,
// and taken anew when the sender must restart its sequence numbers (see sender.ts). A failed
// request is retried with backoff while batches wait for it; callers of ready() (connect) learn of
// each failure.

import { WeirError, isWeirError } from '../proto/errors.js';
import { backoffMs, type Clock, type Random, type TimerHandle } from './clock.js';

export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
}

export interface IdentityKeeperOptions {
  initProducerId: () => Promise<ProducerIdentity>;
  clock: Clock;
  random: Random;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  onReady: () => void;
  /** Told of each failure; returns whether to try again (after a backoff, if it is retriable). */
  onFailure: (err: WeirError) => boolean;
}

export class ProducerIdentityKeeper {
  private readonly options: IdentityKeeperOptions;
  current: ProducerIdentity | null = null;
  /** A request is in flight. */
  pending = false;
  private attempts = 0;
  private retryTimer: TimerHandle | null = null;
  private waiters: { resolve: () => void; reject: (err: WeirError) => void }[] = [];

  constructor(options: IdentityKeeperOptions) {
    this.options = options;
  }

  /** Resolves once an id is held; rejects with the next failure. */
  ready(): Promise<void> {
    if (this.current !== null) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.fetch();
    });
  }

  /** Asks for an id unless one is held, asked for, or due after a backoff. */
  fetch(): void {
    if (this.current !== null || this.pending || this.retryTimer !== null) return;
    this.pending = true;
    this.options.initProducerId().then(
      (identity) => {
        this.pending = false;
        this.attempts = 0;
        this.current = identity;
        for (const waiter of this.waiters.splice(0)) waiter.resolve();
        this.options.onReady();
      },
      (err: unknown) => {
        this.pending = false;
        const error = isWeirError(err) ? err : new WeirError('NETWORK_EXCEPTION', String(err));
        for (const waiter of this.waiters.splice(0)) waiter.reject(error);
        if (!this.options.onFailure(error) || !error.retriable) return;
        const { retryBackoffMs, retryBackoffMaxMs, random } = this.options;
        const delay = backoffMs(++this.attempts, retryBackoffMs, retryBackoffMaxMs, random);
        this.retryTimer = this.options.clock.schedule(delay, () => {
          this.retryTimer = null;
          this.fetch();
        });
      },
    );
  }

  /** Cancels a pending retry: the producer is closing or has failed for good. */
  stop(): void {
    this.retryTimer?.cancel();
    this.retryTimer = null;
  }

  /** Drops the id held and asks for a new one. */
  renew(): void {
    this.current = null;
    this.fetch();
  }
}
