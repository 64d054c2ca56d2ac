// Group commit across a truncation: a wait for an fsync through an offset the log no longer reaches
// (a Raft follower cut a diverged suffix after its driver asked to be told when that suffix was
// durable) waits for the log to grow back past it, without running empty syncs meanwhile.

import { describe, expect, it } from 'vitest';
import { ManualClock, PartitionLog } from '../../storage/index.js';
import { MemoryFs } from '../sim/memory-fs.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { seededRandom, testLogConfig } from './helpers.js';
import { seededRecords } from './seeded-batches.js';

const DIR = '/data/t-0';

/** Lets every continuation run whose promise is already settled, and timers' turn come. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('waiting for an fsync past a truncated log end', () => {
  it('runs no sync until the log grows back, then resolves', async () => {
    const fs = new MemoryFs();
    fs.mkdirSync('/data');
    fs.mkdirSync(DIR);
    const log = PartitionLog.open(
      DIR,
      testLogConfig({ 'flush.messages': 1 }),
      { fs, clock: new ManualClock() },
      { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false },
    );
    // Each group-commit sync starts by listing the segments: count the syncs, and cut a runaway loop
    // of them (promise continuations only, which would starve the event loop) off at 1,000.
    let syncs = 0;
    const segments = Object.getOwnPropertyDescriptor(PartitionLog.prototype, 'segments')!.get!;
    Object.defineProperty(log, 'segments', {
      get(this: PartitionLog) {
        if (++syncs > 1_000) throw new Error('runaway syncs');
        return segments.call(this) as unknown;
      },
    });
    const rand = seededRandom(3);
    let id = 0;
    const batch = (): Buffer => encodeBatch(seededRecords(rand, id++), { baseOffset: 0 });
    const second = (await log.appendDurable(batch())).logEndOffset;
    for (let i = 0; i < 4; i++) await log.appendDurable(batch());
    const end = log.logEndOffset;
    log.truncateTo(second);
    let done = false;
    void log.waitFlushed(end).then(() => (done = true));
    await settle();
    const before = syncs;
    await settle();
    await settle();
    expect(syncs - before).toBe(0);
    expect(done).toBe(false);
    while (log.logEndOffset < end) log.append(batch());
    for (let i = 0; i < 5 && !done; i++) await settle();
    expect(done).toBe(true);
    expect(syncs).toBeLessThan(50);
    log.closeNow();
  });
});
