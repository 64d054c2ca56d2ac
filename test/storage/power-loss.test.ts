// Power loss under a PartitionLog, on the simulated disk (test/sim/memory-fs.ts), many seeds. Each
// seed appends a seeded number of batches, lets the disk finish fdatasyncs at seeded points (the
// test holds every sync until it decides to run it), cuts the power at a seeded step, sometimes
// with syncs in flight, and recovers the log from what the disk kept. Then:
//   - every append acknowledged before the crash is there, at its offsets, byte for byte, and the
//     log runs contiguously from offset 0 through the last of them;
//   - every batch recovered is one that was appended, whole, at its offsets, in order;
//   - the next append continues at the log end.
// Past the acknowledged appends the log need not be a prefix of what was appended: segments are
// separate files, so the power can take one segment's unsynced tail and keep part of the next
// one's, and recovery truncates only at a torn batch. It keeps the later segment and reports the
// hole (a segment-gap event), which the check requires (about 1 seed in 20 here).
// A failing seed is named in the message; runPowerLoss(seed, ...) replays it.
// The negative control acknowledges on the plain append (no fsync) and must lose an
// acknowledged batch for some seed: the disk model can lose data, and the check sees it.

import { describe, expect, it } from 'vitest';
import { ManualClock, PartitionLog, type LogConfig, type LogEvent } from '../../storage/index.js';
import { MemoryFs } from '../sim/memory-fs.js';
import {
  expectedBatch,
  randomInt,
  readAllBatches,
  seededRandom,
  testLogConfig,
  unstamped,
  type ExpectedBatch,
} from './helpers.js';
import { seededRecords } from './seeded-batches.js';

const DIR = '/data/orders-0';
const DURABLE = testLogConfig({ 'segment.bytes': 4096, 'flush.messages': 1 });
const LAZY = testLogConfig({ 'segment.bytes': 4096 });
const SEEDS = Array.from({ length: 300 }, (_, i) => i + 1);

interface PowerLoss {
  readonly appended: readonly ExpectedBatch[];
  /** Ids of the appends acknowledged before the crash. */
  readonly acked: ReadonlySet<number>;
  /** fdatasyncs started but not finished when the power went. */
  readonly syncsInFlight: number;
  readonly disk: MemoryFs;
}

function open(fs: MemoryFs, config: LogConfig, events: LogEvent[] = []): PartitionLog {
  return PartitionLog.open(
    DIR,
    config,
    { fs, clock: new ManualClock(), log: (e) => events.push(e) },
    { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false },
  );
}

/** Lets every continuation run whose promise is already settled. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Appends and completes syncs in a seeded order, then cuts the power. `ackOnSync`: an append is
 * acknowledged when appendDurable resolves (flush.messages=1); otherwise when append returns.
 */
async function runPowerLoss(seed: number, ackOnSync: boolean): Promise<PowerLoss> {
  const rand = seededRandom(seed);
  const syncs: (() => void)[] = [];
  const fs = new MemoryFs({ schedule: (fn) => syncs.push(fn) });
  // The directory exists and is durable before the log starts, as the log manager leaves it.
  fs.mkdirSync(DIR);
  fs.fsyncDirSync('/data');
  fs.fsyncDirSync('/');
  const log = open(fs, ackOnSync ? DURABLE : LAZY);
  const total = randomInt(rand, 1, 40);
  const crashStep = randomInt(rand, 0, 3 * total);
  const appended: ExpectedBatch[] = [];
  const acked = new Set<number>();
  const failures: unknown[] = [];
  for (let step = 0; step < crashStep; step++) {
    if (appended.length < total && (syncs.length === 0 || rand() < 0.5)) {
      const id = appended.length;
      const batch = expectedBatch(seededRecords(rand, id), log.logEndOffset);
      appended.push(batch);
      if (ackOnSync) {
        log.appendDurable(unstamped(batch)).then(
          () => acked.add(id),
          (err: unknown) => failures.push(err),
        );
      } else {
        log.append(unstamped(batch));
        acked.add(id);
      }
    } else if (syncs.length > 0) {
      (syncs.shift() as () => void)();
    } else {
      break;
    }
    await settle();
  }
  expect(failures, `seed ${seed}: no append may fail before the crash`).toEqual([]);
  const syncsInFlight = syncs.length;
  return { appended, acked, syncsInFlight, disk: fs.crash(rand) };
}

interface Recovery {
  /** Why the recovered log breaks the rules above, or null. */
  readonly violation: string | null;
  readonly recovered: number;
  /** Offset ranges no recovered batch covers, below the log end. */
  readonly holes: number;
}

/** Recovers the log from the crashed disk and checks it against what was appended and acknowledged. */
function recover(run: PowerLoss): Recovery {
  const events: LogEvent[] = [];
  const log = open(run.disk, DURABLE, events);
  let recovered = 0;
  let holes = 0;
  const result = (violation: string | null): Recovery => ({ violation, recovered, holes });
  try {
    const stored = readAllBatches(log);
    recovered = stored.length;
    const byBase = new Map(run.appended.map((b, id) => [b.baseOffset, { batch: b, id }]));
    let end = 0;
    let firstHole = Infinity;
    for (const got of stored) {
      const want = byBase.get(got.baseOffset);
      if (
        want === undefined ||
        want.batch.lastOffset !== got.lastOffset ||
        !got.bytes.equals(want.batch.bytes)
      )
        return result(`batch at [${got.baseOffset}, ${got.lastOffset}] was not appended so`);
      if (got.baseOffset < end) return result(`batch at ${got.baseOffset} is out of order`);
      if (got.baseOffset > end) firstHole = Math.min(firstHole, end);
      end = got.lastOffset + 1;
    }
    if (log.logEndOffset < end) return result(`log end offset ${log.logEndOffset}, batches end at ${end}`);
    for (const id of run.acked) {
      const base = (run.appended[id] as ExpectedBatch).baseOffset;
      if (base >= Math.min(firstHole, end))
        return result(`acknowledged batch ${id} lost (${stored.length} of ${run.appended.length} recovered)`);
    }
    // Where the power took a segment's unsynced tail and kept part of a later segment, recovery
    // keeps the later one (it truncates only at a torn batch) and reports the hole. Nothing in such
    // a hole or past it was acknowledged (checked above); each hole must be reported.
    let from = 0;
    for (const b of [...stored, { baseOffset: log.logEndOffset, lastOffset: log.logEndOffset - 1 }]) {
      if (b.baseOffset > from) {
        holes++;
        const to = b.baseOffset;
        if (!events.some((e) => e.kind === 'segment-gap' && e.from === from && e.to === to))
          return result(`offsets [${from}, ${to}) are missing and no segment gap was reported`);
      }
      from = b.lastOffset + 1;
    }
    const at = log.logEndOffset;
    const next = expectedBatch([{ timestamp: 1_800_000_000_000, key: null, value: Buffer.from('next') }], at);
    if (log.append(unstamped(next)).baseOffset !== at) return result(`the next append did not go to ${at}`);
    if (!log.read(at, 1 << 20).records.equals(next.bytes))
      return result('the next append reads back otherwise');
    return result(null);
  } catch (err) {
    return result(`recovery failed: ${String(err)}`);
  } finally {
    log.closeNow(false);
  }
}

describe('power loss under a PartitionLog on MemoryFs', () => {
  it(`with flush.messages=1, every acknowledged append survives (${SEEDS.length} seeds)`, async () => {
    let inFlight = 0;
    let unackedLost = 0;
    for (const seed of SEEDS) {
      const run = await runPowerLoss(seed, true);
      const outcome = recover(run);
      expect(outcome.violation, `seed ${seed}`).toBeNull();
      if (run.syncsInFlight > 0) inFlight++;
      if (outcome.recovered < run.appended.length) unackedLost++;
    }
    // The seeds reach the cases that matter: crashes mid-sync, and appends the crash took.
    expect(inFlight).toBeGreaterThan(SEEDS.length / 10);
    expect(unackedLost).toBeGreaterThan(SEEDS.length / 10);
  });

  it('acknowledging without waiting for the fsync loses acknowledged appends, and the check says so', async () => {
    const lost: number[] = [];
    for (const seed of SEEDS.slice(0, 50)) {
      const reason = recover(await runPowerLoss(seed, false)).violation;
      if (reason !== null) {
        expect(reason, `seed ${seed}`).toMatch(/^acknowledged batch \d+ lost/);
        lost.push(seed);
      }
    }
    expect(lost.length).toBeGreaterThan(0);
  });
});

describe('truncation under a PartitionLog on MemoryFs', () => {
  // A Raft follower drops a diverging suffix, then writes the new leader's terms beside the log (its
  // leader-epoch cache, fsynced). A power loss that gave the old suffix back would leave those terms
  // over batches of other terms, so the cut has to be on the disk when truncateTo returns.
  it('keeps the cut, the removed segments gone, through a power loss that keeps nothing unsynced', async () => {
    const fs = new MemoryFs();
    fs.mkdirSync(DIR);
    fs.fsyncDirSync('/data');
    fs.fsyncDirSync('/');
    const log = open(fs, LAZY);
    const appended: ExpectedBatch[] = [];
    for (let id = 0; id < 12; id++) {
      const value = Buffer.alloc(1000, id);
      const batch = expectedBatch([{ timestamp: 1_800_000_000_000, key: null, value }], log.logEndOffset);
      log.append(unstamped(batch));
      appended.push(batch);
    }
    await log.flush();
    expect(log.segments.length).toBeGreaterThan(2);
    // Inside the first segment: its tail is cut and every later segment removed.
    const cut = 1;
    expect(log.segments[1]!.baseOffset).toBeGreaterThan(cut);
    log.truncateTo(cut);
    const again = open(
      fs.crash(() => 0),
      LAZY,
    );
    expect(again.logEndOffset).toBe(cut);
    expect(again.segments.map((s) => s.baseOffset)).toEqual([0]);
    expect(readAllBatches(again)).toEqual(
      appended
        .slice(0, cut)
        .map((b) => ({ baseOffset: b.baseOffset, lastOffset: b.lastOffset, bytes: b.bytes })),
    );
    again.closeNow(false);
  });
});
