// The one timer a produce request's waits race (Kafka's timeout.ms of a produce request): acks=all
// waits for a majority of the replicas for at most that long, and past it the partition's answer is
// REQUEST_TIMED_OUT, though the batch may still commit. Shared by the gRPC and Kafka listeners.

import { WeirError } from '../proto/errors.js';

/** A produce request's timeout when it gives none (Kafka's request.timeout.ms). */
const DEFAULT_PRODUCE_TIMEOUT_MS = 30_000;

/** One timer for a whole request: each wait races it, and it is cancelled once the answer is built. */
export function deadlineOf(timeoutMs: number): {
  race<T>(settled: Promise<T>): Promise<T>;
  cancel(): void;
} {
  const ms = timeoutMs > 0 ? timeoutMs : DEFAULT_PRODUCE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | null = null;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new WeirError(
            'REQUEST_TIMED_OUT',
            `the replicas did not acknowledge within the request's timeout of ${ms} ms; the batch may still commit`,
          ),
        ),
      ms,
    );
  });
  expired.catch(() => undefined);
  return {
    race: (settled) => Promise.race([settled, expired]),
    cancel: () => {
      if (timer !== null) clearTimeout(timer);
    },
  };
}
