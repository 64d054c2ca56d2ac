// Time comes in through this interface (STYLE 10): only the broker's main and the client's defaults
// wire the system clock; tests and simulations pass clocks that move only when told to. It lives
// in proto/, the layer both storage/ and client/ may import, so there is one definition of it.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `delayMs`. Timers must not keep the process alive on their own. */
  schedule(delayMs: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs, fn) {
    // unref: a pending timer (a linger, a retention check) must not hold a finished process open;
    // the work it guards is awaited through flush()/close() where it matters.
    const t = setTimeout(fn, delayMs);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
