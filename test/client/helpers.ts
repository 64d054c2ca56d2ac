// Shared helpers for client tests: a real broker in this process on ephemeral ports and a temp
// data directory, a bounded wait for a condition (never a sleep used as an assertion), and a
// bounded read of records from the start of partitions.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type RunningBroker, type StartBrokerOptions } from '../../broker/main.js';
import { Consumer, type ConsumerRecord, type TopicPartition } from '../../client/index.js';

export interface TestBroker {
  readonly running: RunningBroker;
  readonly bootstrap: string;
  readonly dataDir: string;
  close(): Promise<void>;
}

export async function startTestBroker(options: Partial<StartBrokerOptions> = {}): Promise<TestBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-client-'));
  const running = await startBroker({ dataDir, grpcPort: 0, httpPort: 0, ...options });
  return {
    running,
    bootstrap: running.grpcAddress,
    dataDir,
    async close() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Races `promise` against a deadline, so a hang fails the test with a reason instead of a timeout. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

let topicCounter = 0;
/** A topic name unique within the test run. */
export function uniqueTopic(prefix = 't'): string {
  topicCounter++;
  return `${prefix}-${process.pid}-${topicCounter}`;
}

/** Reads `count` records from the start of the given partitions through a Consumer (bounded: 10 s). */
export async function readRecords(
  bootstrap: string,
  tps: readonly TopicPartition[],
  count: number,
): Promise<ConsumerRecord[]> {
  const consumer = new Consumer({ bootstrap, autoOffsetReset: 'earliest', maxWaitMs: 200 });
  consumer.assign([...tps]);
  const out: ConsumerRecord[] = [];
  try {
    if (count === 0) return out;
    await within(
      (async () => {
        for await (const record of consumer) {
          out.push(record);
          if (out.length === count) break;
        }
      })(),
      10_000,
      `reading ${count} records`,
    );
  } finally {
    await consumer.close();
  }
  return out;
}
