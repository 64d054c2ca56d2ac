// The one queue of waiting requests, on a manual clock: a waiter settles once, on the first of a
// notification of a key it watches, its time running out, or its signal aborting; and leaves no
// trace behind (a later notification of its keys reaches nobody).

import { describe, expect, it } from 'vitest';
import { WaitingRequests } from '../../../broker/replica/waiting-requests.js';
import { ManualClock } from '../../../storage/index.js';

/** Lets settled promises run their callbacks. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function tracked(p: Promise<void>): () => boolean {
  let done = false;
  void p.then(() => (done = true));
  return () => done;
}

describe('WaitingRequests', () => {
  it('settles a waiter when one of its keys is notified, and only those waiters', async () => {
    const queue = new WaitingRequests<string>(new ManualClock());
    const ab = tracked(queue.wait(['a', 'b'], 1000));
    const c = tracked(queue.wait(['c'], 1000));
    queue.notify('b');
    await turn();
    expect(ab()).toBe(true);
    expect(c()).toBe(false);
    queue.notifyAll();
    await turn();
    expect(c()).toBe(true);
  });

  it('settles a waiter when its time is up, on the clock it was given', async () => {
    const clock = new ManualClock();
    const queue = new WaitingRequests<string>(clock);
    const waiting = tracked(queue.wait(['a'], 500));
    clock.advance(499);
    await turn();
    expect(waiting()).toBe(false);
    clock.advance(1);
    await turn();
    expect(waiting()).toBe(true);
  });

  it('settles a waiter when its signal aborts, or at once if it already had', async () => {
    const queue = new WaitingRequests<string>(new ManualClock());
    const abort = new AbortController();
    const waiting = tracked(queue.wait(['a'], 1000, abort.signal));
    await turn();
    expect(waiting()).toBe(false);
    abort.abort();
    await turn();
    expect(waiting()).toBe(true);
    const late = tracked(queue.wait(['a'], 1000, abort.signal));
    await turn();
    expect(late()).toBe(true);
  });

  it('settles a waiter once however many of its keys fire, and serves new waiters on the same keys', async () => {
    const clock = new ManualClock();
    const queue = new WaitingRequests<string>(clock);
    let settledTimes = 0;
    const counted = (p: Promise<void>): void => void p.then(() => settledTimes++);
    counted(queue.wait(['a', 'b'], 100));
    queue.notify('a');
    queue.notify('b');
    clock.advance(1000);
    await turn();
    expect(settledTimes).toBe(1);
    // The internal map holds nothing for 'a' or 'b' any more: a new waiter on them is alone.
    counted(queue.wait(['a'], 100));
    queue.notify('a');
    await turn();
    expect(settledTimes).toBe(2);
  });
});
