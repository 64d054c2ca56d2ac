// Time and randomness come in through these interfaces (STYLE 10), so batching by linger, retry
// backoff and sticky partition choice can be tested without real waits or luck. The Clock itself is
// shared with the broker side through proto/clock.ts.

import { realClock, type Clock } from '../proto/clock.js';

export type { Clock, TimerHandle } from '../proto/clock.js';

/**
 * The client's real clock. Its timers keep the process alive: each one guards records not yet sent
 * or answered (linger, retry, backoff), and all of them are short.
 */
export const systemClock: Clock = realClock(false);

/** A number in [0, 1), like Math.random. */
export type Random = () => number;

/**
 * Exponential backoff with jitter, as Kafka's retry.backoff.ms / retry.backoff.max.ms (KIP-580):
 * base * 2^(attempt-1), capped at max, then spread by ±20% so many clients retrying the same
 * failure do not come back in lockstep.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: Random): number {
  const exp = baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30));
  const capped = Math.min(exp, maxMs);
  const jitter = 0.8 + 0.4 * random();
  return Math.max(0, Math.round(capped * jitter));
}
