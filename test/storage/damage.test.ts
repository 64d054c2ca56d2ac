// Damage at rest in segments the log trusts: what the fault tests found, one test each.
//
// - A base offset lies outside the batch CRC: a raised one must cost that batch, not be served at
//   offsets nobody acknowledged (recovery blamed the batch after it).
// - A corrupt batch below the recovery point is met only by a read: the answer must say the
//   partition is offline (not retriable), or a consumer retries without end and is never told.
// - After a clean stop a corrupt batch is damage, not a torn write: the log opens offline with
//   every byte kept (recovery used to cut it and remove every later segment), the manager's other
//   logs open and serve, and repair() cuts exactly at the bad batch.
// - verify() finds what a clean load does not read (a flipped bit under a batch CRC).
//
// Expectations come from the batches the test encoded and their byte positions in the files.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import type { RecordInput } from '../../proto/record-batch.js';
import {
  DEFAULT_LOG_MANAGER_CONFIG,
  LogManager,
  ManualClock,
  nodeFs,
  type LogEvent,
  type PartitionLog,
} from '../../storage/index.js';
import {
  expectedBatch,
  openLog,
  readAllBatches,
  testLogConfig,
  unstamped,
  useTempDirs,
  type ExpectedBatch,
} from './helpers.js';

const tempDir = useTempDirs();
const CONFIG = testLogConfig({ 'segment.bytes': 4096, 'index.interval.bytes': 512 });
const BASE_TS = 1_700_000_000_000;

function records(i: number): RecordInput[] {
  return [0, 1, 2].map((j) => ({
    timestamp: BASE_TS + i * 10 + j,
    key: Buffer.from(`k${i}`),
    value: Buffer.alloc(60 + (i % 5) * 20, i & 0xff),
  }));
}

/** Appends `count` three-record batches, then closes cleanly or as a crash does. */
async function buildLog(log: PartitionLog, count: number, crash: boolean): Promise<ExpectedBatch[]> {
  const written: ExpectedBatch[] = [];
  for (let i = 0; i < count; i++) {
    const batch = expectedBatch(records(i), i * 3);
    expect(log.append(unstamped(batch)).baseOffset).toBe(i * 3);
    written.push(batch);
  }
  if (crash) {
    log.closeNow();
    await log.flush();
  } else {
    await log.close();
  }
  return written;
}

interface Segment {
  readonly base: number;
  readonly path: string;
  readonly batches: ExpectedBatch[];
  readonly positions: number[];
}

/** Each `.log` file and the batches it must hold, end to end (checked). */
function segments(dir: string, written: readonly ExpectedBatch[]): Segment[] {
  const bases = readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
  return bases.map((base, k) => {
    const next = bases[k + 1] ?? Infinity;
    const batches = written.filter((b) => b.baseOffset >= base && b.baseOffset < next);
    const positions: number[] = [];
    let at = 0;
    for (const b of batches) {
      positions.push(at);
      at += b.bytes.length;
    }
    const path = join(dir, `${String(base).padStart(20, '0')}.log`);
    expect(readFileSync(path).equals(Buffer.concat(batches.map((b) => b.bytes)))).toBe(true);
    return { base, path, batches, positions };
  });
}

function flip(path: string, byte: number, bit: number): void {
  const data = readFileSync(path);
  data[byte] = data[byte]! ^ (1 << bit);
  writeFileSync(path, data);
}

/** Every file of the directory and its bytes, to show nothing was cut or removed. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort())
    if (/\.(log)$/.test(name)) out.set(name, readFileSync(join(dir, name)).toString('hex'));
  return out;
}

function expectHolds(log: PartitionLog, expected: readonly ExpectedBatch[]): void {
  const stored = readAllBatches(log);
  expect(stored.map((b) => [b.baseOffset, b.lastOffset])).toEqual(
    expected.map((b) => [b.baseOffset, b.lastOffset]),
  );
  stored.forEach((b, i) => expect(b.bytes.equals(expected[i]!.bytes)).toBe(true));
}

function caught(f: () => unknown): WeirError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(WeirError);
    return err as WeirError;
  }
  throw new Error('expected a throw');
}

describe('a raised base offset (outside the CRC)', () => {
  it('in a middle batch costs that batch, not the one after it, when recovery reads it', async () => {
    const dir = tempDir();
    const written = await buildLog(openLog(dir, CONFIG).log, 60, true);
    const victim = segments(dir, written)[1]!;
    const k = victim.batches.length >> 1;
    const base = victim.batches[k]!.baseOffset;
    // The lowest clear bit of the base offset, set: the batch claims higher offsets than its own.
    const bit = Math.log2(~base & (base + 1));
    flip(victim.path, victim.positions[k]! + 7 - (bit >> 3), bit & 7);

    const { log, events } = openLog(dir, CONFIG, { cleanShutdown: false, recoveryPoint: 0 });
    const kept = written.filter((b) => b.baseOffset < base);
    expectHolds(log, kept);
    expect(log.logEndOffset).toBe(base);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'truncated', segment: victim.base, validBytes: victim.positions[k] }),
    );
    await log.close();
  });

  it('in the last batch of a closed segment is damage after a clean stop, not a copy to cut', async () => {
    const dir = tempDir();
    const written = await buildLog(openLog(dir, CONFIG).log, 60, false);
    const victim = segments(dir, written)[1]!;
    const k = victim.batches.length - 1;
    const base = victim.batches[k]!.baseOffset;
    const bit = Math.log2(~base & (base + 1));
    flip(victim.path, victim.positions[k]! + 7 - (bit >> 3), bit & 7);
    const before = snapshot(dir);

    const end = written.at(-1)!.lastOffset + 1;
    const { log, events } = openLog(dir, CONFIG, { cleanShutdown: true, recoveryPoint: end });
    expect(log.damage).toMatchObject({ segment: victim.base, position: victim.positions[k], offset: base });
    expect(events).not.toContainEqual(expect.objectContaining({ kind: 'segment-overlap-cut' }));
    expect(snapshot(dir)).toEqual(before);
    log.repair();
    expectHolds(
      log,
      written.filter((b) => b.baseOffset < base),
    );
    await log.close();
  });
});

describe('a corrupt batch below the recovery point', () => {
  it('met by a read takes the log offline with an error that is not retriable, every byte kept', async () => {
    const dir = tempDir();
    const written = await buildLog(openLog(dir, CONFIG).log, 60, false);
    const victim = segments(dir, written)[1]!;
    const k = victim.batches.length >> 1;
    // batchLength's top byte: the batch claims to run far past the file.
    flip(victim.path, victim.positions[k]! + 8, 6);
    const before = snapshot(dir);
    const end = written.at(-1)!.lastOffset + 1;
    const { log, events } = openLog(dir, CONFIG, { cleanShutdown: false, recoveryPoint: end });
    expect(log.damage).toBeNull();

    const err = caught(() => log.read(victim.batches[k]!.baseOffset, 1 << 20));
    expect(err.code).toBe('KAFKA_STORAGE_ERROR');
    expect(err.retriable).toBe(false);
    expect(err.message).toContain(`offset ${victim.batches[k]!.baseOffset}`);
    expect(log.failed).toBe(err);
    // Every read after it says the same, wherever it starts.
    expect(caught(() => log.read(0, 100))).toBe(err);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'damaged', segment: victim.base, position: victim.positions[k] }),
    );
    log.closeNow();
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('a corrupt batch after a clean stop', () => {
  it('takes only its log offline, keeps every byte, and a repair cuts exactly there', async () => {
    const dataDir = tempDir();
    const open = (events: LogEvent[] = []): LogManager =>
      LogManager.open(
        { ...DEFAULT_LOG_MANAGER_CONFIG, dataDir },
        {
          fs: nodeFs,
          clock: new ManualClock(),
          configFor: () => CONFIG,
          log: (e) => events.push(e as LogEvent),
        },
      );
    const manager = open();
    const written = new Map<number, ExpectedBatch[]>();
    for (const p of [0, 1]) {
      const log = manager.createLog('t', p);
      const list: ExpectedBatch[] = [];
      for (let i = 0; i < 60; i++) {
        const batch = expectedBatch(records(i), i * 3);
        log.append(unstamped(batch));
        list.push(batch);
      }
      written.set(p, list);
    }
    await manager.close();

    const dir = join(dataDir, 't-1');
    const layout = segments(dir, written.get(1)!);
    expect(layout.length).toBeGreaterThanOrEqual(4);
    const victim = layout[1]!;
    const k = victim.batches.length - 1; // past the segment's last index entry: a clean load reads it
    flip(victim.path, victim.positions[k]! + 8, 6);
    const before = snapshot(dir);

    const events: LogEvent[] = [];
    const again = open(events);
    const damaged = again.getLog('t', 1)!;
    expect(damaged.damage).toMatchObject({ segment: victim.base, position: victim.positions[k] });
    expect(damaged.failed?.retriable).toBe(false);
    expect(caught(() => damaged.read(0, 100)).code).toBe('KAFKA_STORAGE_ERROR');
    expect(events.filter((e) => e.kind === 'truncated' || e.kind === 'segments-removed')).toEqual([]);
    expect(snapshot(dir)).toEqual(before);
    expectHolds(again.getLog('t', 0)!, written.get(1)!);

    const cutAt = victim.batches[k]!.baseOffset;
    expect(damaged.repair()).toBe(cutAt);
    expect(damaged.failed).toBeNull();
    expectHolds(
      damaged,
      written.get(1)!.filter((b) => b.baseOffset < cutAt),
    );
    await again.close();
    // The cut is what the next start finds, cleanly.
    const third = open();
    expect(third.getLog('t', 1)!.damage).toBeNull();
    expectHolds(
      third.getLog('t', 1)!,
      written.get(1)!.filter((b) => b.baseOffset < cutAt),
    );
    await third.close();
  });

  it('under a batch CRC is found by verify(), which a clean load does not read', async () => {
    const dir = tempDir();
    const written = await buildLog(openLog(dir, CONFIG).log, 60, false);
    const victim = segments(dir, written)[1]!;
    const k = 1;
    flip(victim.path, victim.positions[k]! + 70, 2); // inside the records
    const end = written.at(-1)!.lastOffset + 1;
    const { log } = openLog(dir, CONFIG, { cleanShutdown: true, recoveryPoint: end });
    expect(log.damage).toBeNull();
    expect(log.verify()).toMatchObject({
      segment: victim.base,
      position: victim.positions[k],
      offset: victim.batches[k]!.baseOffset,
    });
    expect(log.failed?.retriable).toBe(false);
    log.repair();
    expectHolds(
      log,
      written.filter((b) => b.baseOffset < victim.batches[k]!.baseOffset),
    );
    expect(log.verify()).toBeNull();
    await log.close();
  });
});
