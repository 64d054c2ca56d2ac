// The replica manager's one queue of requests waiting on partitions (Kafka's purgatory): long-poll
// fetches waiting for data to arrive and, as replication lands, produces waiting for acks=all. A
// waiter watches some partitions and settles when one of them is notified, when its time is up or
// when its signal aborts, whichever comes first; each waiter settles once.
//
// Its timers come from the clock it is given. The broker gives it a real-time clock even when the
// rest of the broker runs on a simulated one: a long-poll wait bounds how long a client waits.

import type { Clock, TimerHandle } from '../../proto/clock.js';

interface Waiter<K> {
  readonly keys: readonly K[];
  readonly resolve: () => void;
  readonly signal: AbortSignal | undefined;
  timer: TimerHandle | null;
  onAbort: (() => void) | null;
  settled: boolean;
}

export class WaitingRequests<K> {
  private readonly clock: Clock;
  private readonly watchers = new Map<K, Set<Waiter<K>>>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Resolves when any of `keys` is notified, after `ms`, or when `signal` aborts. */
  wait(keys: readonly K[], ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const waiter: Waiter<K> = { keys, resolve, signal, timer: null, onAbort: null, settled: false };
      for (const key of keys) {
        let set = this.watchers.get(key);
        if (set === undefined) this.watchers.set(key, (set = new Set()));
        set.add(waiter);
      }
      const settle = (): void => this.settle(waiter);
      waiter.timer = this.clock.schedule(ms, settle);
      waiter.onAbort = settle;
      signal?.addEventListener('abort', settle);
    });
  }

  /** Settles every waiter watching `key` (new data, the partition deleted). */
  notify(key: K): void {
    const set = this.watchers.get(key);
    if (set === undefined) return;
    for (const waiter of [...set]) this.settle(waiter);
  }

  /** Settles every waiter (shutdown). */
  notifyAll(): void {
    for (const key of [...this.watchers.keys()]) this.notify(key);
  }

  private settle(waiter: Waiter<K>): void {
    if (waiter.settled) return;
    waiter.settled = true;
    for (const key of waiter.keys) {
      const set = this.watchers.get(key);
      if (set === undefined) continue;
      set.delete(waiter);
      if (set.size === 0) this.watchers.delete(key);
    }
    waiter.timer?.cancel();
    if (waiter.onAbort !== null) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.resolve();
  }
}
