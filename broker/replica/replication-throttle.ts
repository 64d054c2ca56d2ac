// The broker's replication throttle: one token bucket of `bytesPerSecond` that every Raft group this
// broker leads draws on for its appends to members catching up (broker/raft/catch-up-quota.ts says
// which members those are, and why appends to the others never wait). One bucket per broker, as
// Kafka's leader.replication.throttled.rate is per broker: what a restarted broker's catch-up may
// take of its leaders' CPU and disk is bounded however many partitions it follows.
//
// The bucket holds at most BURST_SECONDS of credit and starts full. An append goes while any
// credit is left and is charged in full, so the bucket may go into debt by one append; the next
// waits until the debt is paid. Bytes sent over any time t are then at most the burst, plus
// bytesPerSecond * t, plus one append (maxBytesPerAppend). The burst covers two of the driver's
// ticks, at which held-back members are offered credit again, so the rate is reached, not only
// bounded.
//
// Credit goes to whichever group asks first: followers held back are offered it again at each tick
// in the order the driver ticks its groups, and at their answers. Several catch-ups at once share
// the rate, the earlier groups taking more of it; their total is what the bucket bounds.
//
// Time comes from the Clock port (wall ms): a clock set back counts as no time passing, one set
// forward fills the bucket at most to its burst.
//
// It also counts, for the metrics (RaftTotals): the bytes sent to members catching up, and the
// seconds during which appends were held back (from a first refusal until the next append went).

import assert from 'node:assert/strict';
import type { Clock } from '../../proto/clock.js';
import type { CatchUpQuota } from '../raft/catch-up-quota.js';
import type { RaftTotals } from './raft-totals.js';

/** Credit the bucket holds at most, in seconds of its rate. */
export const BURST_SECONDS = 0.2;

export interface ReplicationThrottleOptions {
  /** Bytes per second of appends to members catching up (> 0). */
  readonly bytesPerSecond: number;
  /** Ticks without holding the leader's whole log after which a member counts as catching up. */
  readonly lagTicks: number;
  readonly clock: Clock;
  readonly totals: RaftTotals;
}

export class ReplicationThrottle implements CatchUpQuota {
  readonly lagTicks: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private readonly totals: RaftTotals;
  private credit: number;
  private refilledAt: number;
  /** When an append was first refused since credit was last there (null: none refused). */
  private refusedAt: number | null = null;

  constructor(options: ReplicationThrottleOptions) {
    assert(options.bytesPerSecond > 0, 'a throttle lets bytes through');
    assert(options.lagTicks >= 0, 'a lag limit is not negative');
    this.rate = options.bytesPerSecond / 1000;
    this.burst = options.bytesPerSecond * BURST_SECONDS;
    this.lagTicks = options.lagTicks;
    this.clock = options.clock;
    this.totals = options.totals;
    this.credit = this.burst;
    this.refilledAt = this.clock.now();
  }

  admits(): boolean {
    const now = this.clock.now();
    this.refill(now);
    if (this.credit <= 0) {
      this.refusedAt ??= now;
      return false;
    }
    if (this.refusedAt !== null) {
      this.totals.throttledSeconds += (now - this.refusedAt) / 1000;
      this.refusedAt = null;
    }
    return true;
  }

  charge(bytes: number): void {
    assert(bytes >= 0, 'an append sends no negative bytes');
    this.credit -= bytes;
    this.totals.catchUpBytes += bytes;
  }

  /** The credit left now, in bytes (negative: a debt); for tests. */
  get available(): number {
    this.refill(this.clock.now());
    return this.credit;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    this.credit = Math.min(this.burst, this.credit + elapsed * this.rate);
  }
}
