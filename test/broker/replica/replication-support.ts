// Helpers for the replication tests, which run real gRPC and real timers.

import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits until `done()` holds, checking every few milliseconds. The deadline only turns a hang into
 * a failure that names what never happened; no test asserts how long anything takes.
 */
export async function until(what: string, done: () => boolean, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await sleep(5);
  }
}
