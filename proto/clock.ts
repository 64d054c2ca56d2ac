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

/**
 * The real clock. `background` timers do not keep the process alive (storage's periodic flush,
 * retention and compaction: a process that is done must not wait on them); foreground timers do
 * (a client's linger and retry timers guard records not sent yet: a script that awaits a send must
 * not exit before the timer fires).
 */
export function realClock(background: boolean): Clock {
  return {
    now: () => Date.now(),
    schedule(delayMs, fn) {
      const t = setTimeout(fn, delayMs);
      if (background) t.unref();
      return { cancel: () => clearTimeout(t) };
    },
  };
}

/** The real clock for background work (unref'd timers). */
export const systemClock: Clock = realClock(true);
