// The replication throttle's token bucket (broker/replica/replication-throttle.ts) on a clock the
// test sets: its burst, its rate, the one append it may be overdrawn by, a clock set back, and
// what it counts for the metrics.

import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../proto/clock.js';
import { RaftTotals } from '../../../broker/replica/raft-totals.js';
import { BURST_SECONDS, ReplicationThrottle } from '../../../broker/replica/replication-throttle.js';

/** A clock whose time the test sets (it may go back, as a wall clock may). */
class SetClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  schedule(): { cancel(): void } {
    throw new Error('the bucket keeps no timers');
  }
}

const RATE = 1_000_000; // bytes/s: 1,000 bytes per ms
const BURST = RATE * BURST_SECONDS;

function bucket(): { clock: SetClock; totals: RaftTotals; t: ReplicationThrottle } {
  const clock = new SetClock();
  const totals = new RaftTotals();
  const t = new ReplicationThrottle({ bytesPerSecond: RATE, lagTicks: 20, clock, totals });
  return { clock, totals, t };
}

/** Sends appends of `bytes` while the bucket admits them; how many went. */
function drain(t: ReplicationThrottle, bytes: number): number {
  let n = 0;
  while (t.admits()) {
    t.charge(bytes);
    n++;
  }
  return n;
}

describe('the replication throttle', () => {
  it('starts with its burst and lets an append go while any credit is left, overdrawing by that one', () => {
    const { t, totals } = bucket();
    expect(t.available).toBe(BURST);
    // 200,000 bytes of credit: two appends of 150,000 go (the second overdraws), a third waits.
    expect(drain(t, 150_000)).toBe(2);
    expect(t.available).toBe(BURST - 300_000);
    expect(totals.catchUpBytes).toBe(300_000);
  });

  it('refills at its rate, never past its burst, and pays a debt off first', () => {
    const { t, clock } = bucket();
    drain(t, 300_000); // one append: 100,000 bytes in debt
    clock.t += 50; // 50,000 bytes of credit back: still in debt
    expect(t.admits()).toBe(false);
    clock.t += 51; // paid off, 1,000 bytes of credit
    expect(t.admits()).toBe(true);
    expect(t.available).toBe(1_000);
    clock.t += 60_000; // a minute idle: the burst, no more
    expect(t.available).toBe(BURST);
  });

  it('sends no more than the burst, the rate times the time, and one append, over a long run', () => {
    const { t, clock, totals } = bucket();
    // An append of 64 KiB offered every millisecond for 10 s.
    for (let ms = 0; ms < 10_000; ms++) {
      clock.t++;
      if (t.admits()) t.charge(65_536);
    }
    expect(totals.catchUpBytes).toBeLessThanOrEqual(BURST + RATE * 10 + 65_536);
    // ...and no less than the rate lets through over that time: it is a rate, not just a bound.
    expect(totals.catchUpBytes).toBeGreaterThanOrEqual(RATE * 10 - 65_536);
  });

  it('takes a clock set back as no time passing, and goes on from there', () => {
    const { t, clock } = bucket();
    drain(t, 200_000); // credit 0
    clock.t -= 3_600_000;
    expect(t.admits()).toBe(false);
    clock.t += 10; // 10,000 bytes of credit, counted from the time it was set back to
    expect(t.available).toBe(10_000);
  });

  it('counts the seconds appends were held back: from the first refusal until the next admission', () => {
    const { t, clock, totals } = bucket();
    // 200,000 bytes in debt, 200 ms to pay off; the drain's last ask is the first refusal.
    drain(t, 400_000);
    clock.t += 50;
    expect(t.admits()).toBe(false);
    clock.t += 100;
    expect(t.admits()).toBe(false);
    expect(totals.throttledSeconds).toBe(0);
    clock.t += 51;
    expect(t.admits()).toBe(true);
    expect(totals.throttledSeconds).toBeCloseTo(0.201, 6);
  });
});
