// Corruption tests on real files: build a log of many small segments, stop it (cleanly or by
// closeNow, which leaves the writes in the page cache as a process crash does), damage its files
// on disk, reopen it and check what recovery kept against what the test wrote.
//
// Every expectation comes from the batches the test encoded and from the byte positions they must
// have in the `.log` files (checked first: each segment file must be exactly its batches, end to
// end). Nothing is computed from the storage code under test.

import fc from 'fast-check';
import { existsSync, readFileSync, readdirSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RecordInput } from '../../proto/record-batch.js';
import {
  DEFAULT_LOG_MANAGER_CONFIG,
  LogManager,
  ManualClock,
  nodeFs,
  type LogConfig,
  type LogManagerEvent,
  type OpenOptions,
  type PartitionLog,
} from '../../storage/index.js';
import { LogSegment } from '../../storage/segment.js';
import {
  expectedBatch,
  openLog,
  randomInt,
  readAllBatches,
  seededRandom,
  testLogConfig,
  unstamped,
  useTempDirs,
  type ExpectedBatch,
} from './helpers.js';

const tempDir = useTempDirs();

const BASE_TS = 1_700_000_000_000;
const CONFIG = testLogConfig({ 'segment.bytes': 8192, 'index.interval.bytes': 512 });
const OFFSET_ENTRY = 8;
const TIME_ENTRY = 12;

// ---- building logs ----

/** 1-4 records; timestamps wander and now and then jump, so a segment's largest is often not last. */
function randomRecords(rand: () => number, i: number): RecordInput[] {
  const out: RecordInput[] = [];
  const n = randomInt(rand, 1, 4);
  for (let j = 0; j < n; j++) {
    const jitter = rand() < 0.05 ? 50_000 : randomInt(rand, -400, 400);
    const value = Buffer.alloc(randomInt(rand, 0, 200));
    for (let k = 0; k < value.length; k++) value[k] = randomInt(rand, 0, 255);
    out.push({
      timestamp: BASE_TS + i * 100 + jitter,
      key: rand() < 0.2 ? null : Buffer.from(`key-${randomInt(rand, 0, 30)}`),
      value: rand() < 0.05 ? null : value,
      headers: rand() < 0.2 ? [{ key: 'h', value: Buffer.from([i & 0xff]) }] : [],
    });
  }
  return out;
}

/** A few random letters: the fill pattern of a large value. */
function seedText(rand: () => number): string {
  return Array.from({ length: 7 }, () => String.fromCharCode(randomInt(rand, 97, 122))).join('');
}

/** Appends `count` batches to a new log in `dir`, then closes it cleanly or crashes it. */
async function buildLog(
  dir: string,
  count: number,
  recordsFor: (i: number) => RecordInput[],
  crash: boolean,
  config: LogConfig = CONFIG,
): Promise<ExpectedBatch[]> {
  const { log } = openLog(dir, config);
  const written: ExpectedBatch[] = [];
  let next = 0;
  for (let i = 0; i < count; i++) {
    const batch = expectedBatch(recordsFor(i), next);
    expect(log.append(unstamped(batch)).baseOffset).toBe(next);
    written.push(batch);
    next = batch.lastOffset + 1;
  }
  if (crash) {
    log.closeNow();
    // closeNow leaves the background flushes started by rolls running; wait for them, so nothing
    // of the old process touches the files once the test starts damaging them.
    await log.flush();
  } else {
    await log.close();
  }
  return written;
}

function segPath(dir: string, base: number, suffix: string): string {
  return join(dir, String(base).padStart(20, '0') + suffix);
}

function logFileBases(dir: string): number[] {
  return readdirSync(dir)
    .filter((name) => /^\d{20}\.log$/.test(name))
    .map((name) => Number(name.slice(0, 20)))
    .sort((a, b) => a - b);
}

interface SegmentLayout {
  readonly base: number;
  readonly batches: ExpectedBatch[];
  /** Byte position of each batch in the `.log` file. */
  readonly positions: number[];
  readonly size: number;
}

/** Where each batch lies on disk; asserts every `.log` file is exactly its batches end to end. */
function segmentLayouts(dir: string, expected: readonly ExpectedBatch[]): SegmentLayout[] {
  const bases = logFileBases(dir);
  return bases.map((base, k) => {
    const next = bases[k + 1] ?? Number.POSITIVE_INFINITY;
    const batches = expected.filter((b) => b.baseOffset >= base && b.baseOffset < next);
    const positions: number[] = [];
    let size = 0;
    for (const b of batches) {
      positions.push(size);
      size += b.bytes.length;
    }
    const file = readFileSync(segPath(dir, base, '.log'));
    expect(
      file.equals(Buffer.concat(batches.map((b) => b.bytes))),
      `segment ${base} holds exactly its batches`,
    ).toBe(true);
    return { base, batches, positions, size };
  });
}

function flipBit(path: string, byte: number, bit: number): void {
  const data = readFileSync(path);
  data[byte] = (data[byte] as number) ^ (1 << bit);
  writeFileSync(path, data);
}

// ---- checking logs ----

function maxTimestamp(batch: ExpectedBatch): number {
  return Math.max(...batch.records.map((r) => r.timestamp));
}

/**
 * The log holds exactly `expected` (offsets and bytes) and ends at `end`; a read at every offset
 * returns the batch holding it (or the next one, past a gap); every timestamp lookup agrees with a
 * linear scan of the expected records.
 */
function expectLogHolds(log: PartitionLog, expected: readonly ExpectedBatch[], end: number): void {
  const stored = readAllBatches(log);
  expect(stored.map((b) => [b.baseOffset, b.lastOffset])).toEqual(
    expected.map((b) => [b.baseOffset, b.lastOffset]),
  );
  stored.forEach((b, i) => {
    expect(b.bytes.equals(expected[i]!.bytes), `bytes of the batch at offset ${b.baseOffset}`).toBe(true);
  });
  expect(log.logEndOffset).toBe(end);

  let k = 0;
  for (let offset = log.logStartOffset; offset < end; offset++) {
    while (k < expected.length && expected[k]!.lastOffset < offset) k++;
    const want = expected[k];
    const got = log.read(offset, 1);
    if (want === undefined) {
      expect(got.records.length, `read at ${offset}`).toBe(0);
      continue;
    }
    expect(got.firstOffset, `first offset of a read at ${offset}`).toBe(want.baseOffset);
    expect(got.records.equals(want.bytes), `bytes of a read at ${offset}`).toBe(true);
  }

  const records: { offset: number; timestamp: number }[] = [];
  for (const b of expected)
    b.records.forEach((r, j) => records.push({ offset: b.baseOffset + j, timestamp: r.timestamp }));
  const targets = new Set<number>([BASE_TS - 1_000_000]);
  for (const r of records) for (const t of [r.timestamp - 1, r.timestamp, r.timestamp + 1]) targets.add(t);
  for (const target of targets) {
    const want = records.find((r) => r.timestamp >= target)?.offset ?? null;
    expect(log.offsetForTimestamp(target), `offsetForTimestamp(${target})`).toBe(want);
  }
}

/**
 * The index files of a cleanly closed log agree with its `.log` files: whole entries only; every
 * offset-index entry names a batch start and its offset, with no stretch longer than
 * index.interval.bytes plus one batch left unindexed; every time-index entry names the batch that
 * reached its timestamp, nothing before that batch is later, and the last entry holds the
 * segment's largest timestamp.
 */
function checkIndexFiles(dir: string, expected: readonly ExpectedBatch[], intervalBytes: number): void {
  for (const seg of segmentLayouts(dir, expected)) {
    const where = `segment ${seg.base}`;
    const posOf = new Map(seg.batches.map((b, k) => [b.baseOffset - seg.base, seg.positions[k]!]));
    const batchAt = new Map(seg.batches.map((b) => [b.baseOffset - seg.base, b]));
    const maxBatch = Math.max(0, ...seg.batches.map((b) => b.bytes.length));

    const index = readFileSync(segPath(dir, seg.base, '.index'));
    expect(index.length % OFFSET_ENTRY, `${where}: .index of ${index.length} bytes`).toBe(0);
    let previous = 0;
    let prevRel = -1;
    for (let i = 0; i < index.length; i += OFFSET_ENTRY) {
      const rel = index.readInt32BE(i);
      const pos = index.readInt32BE(i + 4);
      expect(rel, `${where}: .index entries increase`).toBeGreaterThan(prevRel);
      expect(posOf.get(rel), `${where}: .index entry ${i / OFFSET_ENTRY} (${rel}, ${pos})`).toBe(pos);
      expect(pos - previous, `${where}: bytes without an index entry`).toBeLessThanOrEqual(
        intervalBytes + maxBatch,
      );
      previous = pos;
      prevRel = rel;
    }
    expect(seg.size - previous, `${where}: bytes after the last index entry`).toBeLessThanOrEqual(
      intervalBytes + maxBatch,
    );

    const time = readFileSync(segPath(dir, seg.base, '.timeindex'));
    expect(time.length % TIME_ENTRY, `${where}: .timeindex of ${time.length} bytes`).toBe(0);
    let prevTs = Number.NEGATIVE_INFINITY;
    let lastTs = -1;
    for (let i = 0; i < time.length; i += TIME_ENTRY) {
      const ts = Number(time.readBigInt64BE(i));
      const rel = time.readInt32BE(i + 8);
      const batch = batchAt.get(rel);
      expect(
        batch,
        `${where}: .timeindex entry ${i / TIME_ENTRY} names a batch (relative offset ${rel})`,
      ).toBeDefined();
      expect(ts, `${where}: .timeindex timestamps increase`).toBeGreaterThan(prevTs);
      expect(maxTimestamp(batch!), `${where}: the batch named by .timeindex entry ${i / TIME_ENTRY}`).toBe(
        ts,
      );
      const before = seg.batches.filter((b) => b.baseOffset - seg.base <= rel);
      expect(Math.max(...before.map(maxTimestamp)), `${where}: nothing before a time entry is later`).toBe(
        ts,
      );
      prevTs = ts;
      lastTs = ts;
    }
    if (seg.batches.length > 0) {
      expect(lastTs, `${where}: last .timeindex entry`).toBe(Math.max(...seg.batches.map(maxTimestamp)));
    }
  }
}

const afterRecovery = (offset: number): ExpectedBatch =>
  expectedBatch([{ timestamp: BASE_TS + 7, key: null, value: Buffer.from('after recovery') }], offset);

/**
 * Reopens after damage and checks the log holds `kept` and ends at `end`; appends a batch (it must
 * get `end`), closes cleanly, checks the index files, reopens trusting them and checks again.
 */
async function reopenAndCheck(
  dir: string,
  kept: readonly ExpectedBatch[],
  end: number,
  options: Partial<OpenOptions>,
  config: LogConfig = CONFIG,
): Promise<void> {
  const { log } = openLog(dir, config, { cleanShutdown: false, recoveryPoint: 0, ...options });
  expectLogHolds(log, kept, end);
  const extra = afterRecovery(end);
  expect(log.append(unstamped(extra)).baseOffset).toBe(end);
  const all = [...kept, extra];
  const newEnd = extra.lastOffset + 1;
  expectLogHolds(log, all, newEnd);
  await log.close();
  checkIndexFiles(dir, all, config.indexIntervalBytes);
  const again = openLog(dir, config, { cleanShutdown: true, recoveryPoint: newEnd }).log;
  expectLogHolds(again, all, newEnd);
  await again.close();
}

/** The batches of every segment before `seg`, then the first `n` batches of `seg`. */
function keptUpTo(written: readonly ExpectedBatch[], seg: SegmentLayout, n: number): ExpectedBatch[] {
  return [...written.filter((b) => b.baseOffset < seg.base), ...seg.batches.slice(0, n)];
}

/** The first offset recovery must have removed: where the next append goes. */
function firstMissing(written: readonly ExpectedBatch[], kept: readonly ExpectedBatch[]): number {
  const next = written[kept.length];
  return next === undefined ? written.at(-1)!.lastOffset + 1 : next.baseOffset;
}

const FC = { seed: 0x5eed_2024, numRuns: 45 };

describe('a damaged last segment', () => {
  it('cut at a random byte keeps exactly the whole batches before the cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 0x7fff_ffff }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        fc.boolean(),
        async (seed, where, crash, fromLastSegment) => {
          const dir = tempDir();
          const rand = seededRandom(seed);
          const written = await buildLog(dir, randomInt(rand, 50, 90), (i) => randomRecords(rand, i), crash);
          const layouts = segmentLayouts(dir, written);
          expect(layouts.length).toBeGreaterThanOrEqual(3);
          const last = layouts.at(-1)!;
          const cut = Math.min(last.size, Math.floor(where * (last.size + 1)));
          truncateSync(segPath(dir, last.base, '.log'), cut);
          const whole = last.batches.filter((b, k) => last.positions[k]! + b.bytes.length <= cut).length;
          const kept = keptUpTo(written, last, whole);
          await reopenAndCheck(dir, kept, firstMissing(written, kept), {
            recoveryPoint: fromLastSegment ? last.base : 0,
          });
        },
      ),
      FC,
    );
  });

  it('with one flipped bit in a checked field loses that batch and everything after it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 0x7fff_ffff }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        fc.boolean(),
        async (seed, whichBatch, whichByte, bit, crash, fromLastSegment) => {
          const dir = tempDir();
          const rand = seededRandom(seed);
          const written = await buildLog(dir, randomInt(rand, 50, 90), (i) => randomRecords(rand, i), crash);
          const last = segmentLayouts(dir, written).at(-1)!;
          const k = Math.min(last.batches.length - 1, Math.floor(whichBatch * last.batches.length));
          const size = last.batches[k]!.bytes.length;
          // batchLength (8-11), magic and crc (16-20), and everything the CRC covers (21-end).
          // baseOffset (0-7) and partitionLeaderEpoch (12-15) lie outside the CRC by design.
          const eligible = 4 + (size - 16);
          const i = Math.min(eligible - 1, Math.floor(whichByte * eligible));
          const byte = i < 4 ? 8 + i : 16 + (i - 4);
          flipBit(segPath(dir, last.base, '.log'), last.positions[k]! + byte, bit);
          const kept = keptUpTo(written, last, k);
          await reopenAndCheck(dir, kept, firstMissing(written, kept), {
            recoveryPoint: fromLastSegment ? last.base : 0,
          });
        },
      ),
      FC,
    );
  });

  it('with garbage after its last batch loses only the garbage', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 0x7fff_ffff }),
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 5000 }),
          fc.integer({ min: 1, max: 5000 }).map((n) => new Uint8Array(n)),
        ),
        fc.boolean(),
        async (seed, garbage, crash) => {
          const dir = tempDir();
          const rand = seededRandom(seed);
          const written = await buildLog(dir, randomInt(rand, 50, 90), (i) => randomRecords(rand, i), crash);
          const last = segmentLayouts(dir, written).at(-1)!;
          const path = segPath(dir, last.base, '.log');
          writeFileSync(path, Buffer.concat([readFileSync(path), garbage]));
          await reopenAndCheck(dir, written, written.at(-1)!.lastOffset + 1, { recoveryPoint: 0 });
        },
      ),
      { ...FC, numRuns: 20 },
    );
  });

  it('cut at a random byte of batches larger than a scan chunk keeps the whole batches before the cut', async () => {
    // Recovery reads the log in 1 MiB chunks; batches of up to 300 KB in 2 MiB segments make torn
    // batches straddle chunk boundaries. The segment cut is the last one of more than 1 MiB.
    const config = testLogConfig({ 'segment.bytes': 2 * 1024 * 1024, 'index.interval.bytes': 64 * 1024 });
    const bigRecords = (rand: () => number, i: number): RecordInput[] =>
      Array.from({ length: randomInt(rand, 1, 2) }, (_, j) => ({
        timestamp: BASE_TS + i * 100 + randomInt(rand, -400, 400),
        key: Buffer.from(`big-${i}-${j}`),
        value: Buffer.alloc(randomInt(rand, 10_000, 150_000), `${seedText(rand)}`),
      }));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 0x7fff_ffff }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (seed, where) => {
          const dir = tempDir();
          const rand = seededRandom(seed);
          const written = await buildLog(dir, 45, (i) => bigRecords(rand, i), true, config);
          const layouts = segmentLayouts(dir, written);
          expect(layouts.length).toBeGreaterThanOrEqual(2);
          const victim = layouts.filter((seg) => seg.size > 1024 * 1024).at(-1)!;
          expect(victim).toBeDefined();
          const cut = Math.min(victim.size, Math.floor(where * (victim.size + 1)));
          truncateSync(segPath(dir, victim.base, '.log'), cut);
          const whole = victim.batches.filter((b, k) => victim.positions[k]! + b.bytes.length <= cut).length;
          if (victim === layouts.at(-1) || !(cut === victim.size || victim.positions.includes(cut))) {
            const kept = keptUpTo(written, victim, whole);
            await reopenAndCheck(dir, kept, firstMissing(written, kept), { recoveryPoint: 0 }, config);
          } else {
            // Cut between two batches of a middle segment: nothing left is torn, and an offset gap
            // is legal (compaction leaves them), so only the cut-off batches are gone.
            const lost = new Set(victim.batches.slice(whole));
            const kept = written.filter((b) => !lost.has(b));
            await reopenAndCheck(dir, kept, written.at(-1)!.lastOffset + 1, { recoveryPoint: 0 }, config);
          }
        },
      ),
      { ...FC, numRuns: 8 },
    );
  });

  it.each(['first', 'middle', 'last'] as const)(
    'with a lowered base offset in its %s batch (outside the CRC) loses that batch and everything after it',
    async (which) => {
      const dir = tempDir();
      const rand = seededRandom(7);
      const written = await buildLog(dir, 70, (i) => randomRecords(rand, i), true);
      const last = segmentLayouts(dir, written).at(-1)!;
      expect(last.batches.length).toBeGreaterThanOrEqual(3);
      const k = which === 'first' ? 0 : which === 'last' ? last.batches.length - 1 : last.batches.length >> 1;
      const base = last.batches[k]!.baseOffset;
      // Clearing the lowest set bit lowers the offset, so the batch no longer follows its predecessor.
      const bit = Math.log2(base & -base);
      flipBit(segPath(dir, last.base, '.log'), last.positions[k]! + 7 - (bit >> 3), bit & 7);
      const kept = keptUpTo(written, last, k);
      await reopenAndCheck(dir, kept, base, { recoveryPoint: 0 });
    },
  );
});

describe('a corrupt batch in a middle segment', () => {
  it('truncates the log there and removes every later segment when recovering from 0', async () => {
    const dir = tempDir();
    const rand = seededRandom(11);
    const written = await buildLog(dir, 130, (i) => randomRecords(rand, i), true);
    const layouts = segmentLayouts(dir, written);
    expect(layouts.length).toBeGreaterThanOrEqual(5);
    const victim = layouts[2]!;
    const k = victim.batches.length >> 1;
    flipBit(segPath(dir, victim.base, '.log'), victim.positions[k]! + 40, 3); // inside maxTimestamp
    const kept = keptUpTo(written, victim, k);
    const end = victim.batches[k]!.baseOffset;

    const { log, events } = openLog(dir, CONFIG, { cleanShutdown: false, recoveryPoint: 0 });
    expectLogHolds(log, kept, end);
    expect(logFileBases(dir)).toEqual(layouts.slice(0, 3).map((s) => s.base));
    for (const s of layouts.slice(3)) {
      for (const suffix of ['.log', '.index', '.timeindex'])
        expect(existsSync(segPath(dir, s.base, suffix))).toBe(false);
    }
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: 'truncated',
        segment: victim.base,
        validBytes: victim.positions[k],
        truncatedBytes: victim.size - victim.positions[k]!,
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'segments-removed', baseOffsets: layouts.slice(3).map((s) => s.base) }),
    );
    await log.close();
    await reopenAndCheck(dir, kept, end, { cleanShutdown: true, recoveryPoint: end });
  });
});

// ---- index files ----

/** Same-size batches of two records with rising timestamps, except one far-future spike. */
function indexTestLog(): { recordsFor: (i: number) => RecordInput[]; perSegment: number; spike: number } {
  const make = (i: number, ts: number): RecordInput[] => [
    {
      timestamp: ts,
      key: Buffer.from(`k${String(i % 1000).padStart(3, '0')}`),
      value: Buffer.alloc(150, i & 0xff),
    },
    { timestamp: ts + 1, key: null, value: Buffer.alloc(90, 0x5a) },
  ];
  const size = expectedBatch(make(0, BASE_TS), 0).bytes.length;
  const perSegment = Math.floor(CONFIG.segmentBytes / size);
  // Early in the second segment (after its third index entry), so that segment's largest
  // timestamp is far from its tail and its time index has a few entries up to it.
  const spike = perSegment + 6;
  return {
    recordsFor: (i) => make(i, i === spike ? BASE_TS + 10_000_000 : BASE_TS + i * 10),
    perSegment,
    spike,
  };
}

type IndexDamage =
  'torn .index' | 'torn .timeindex' | 'both torn' | 'no .index' | 'no .timeindex' | 'neither';

function damageIndexes(dir: string, base: number, damage: IndexDamage): void {
  const index = segPath(dir, base, '.index');
  const time = segPath(dir, base, '.timeindex');
  const tear = (path: string, entry: number, extra: number): void => {
    const entries = readFileSync(path).length / entry;
    expect(entries, `${path} has entries to tear`).toBeGreaterThanOrEqual(2);
    truncateSync(path, Math.floor(entries / 2) * entry + extra);
  };
  if (damage === 'torn .index' || damage === 'both torn') tear(index, OFFSET_ENTRY, 3);
  if (damage === 'torn .timeindex' || damage === 'both torn') tear(time, TIME_ENTRY, 5);
  if (damage === 'no .index' || damage === 'neither') unlinkSync(index);
  if (damage === 'no .timeindex' || damage === 'neither') unlinkSync(time);
}

describe('damaged index files of a closed segment', () => {
  const damages: IndexDamage[] = [
    'torn .index',
    'torn .timeindex',
    'both torn',
    'no .index',
    'no .timeindex',
    'neither',
  ];
  const modes = ['a clean restart', 'recovery from 0', 'recovery from a later segment'] as const;
  const cases = damages.flatMap((damage) => modes.map((mode) => [damage, mode] as const));

  it.each(cases)('%s: rebuilt after %s', async (damage, mode) => {
    const dir = tempDir();
    const { recordsFor, perSegment, spike } = indexTestLog();
    const written = await buildLog(dir, perSegment * 5 + 3, recordsFor, false);
    const layouts = segmentLayouts(dir, written);
    expect(layouts.length).toBeGreaterThanOrEqual(5);
    const victim = layouts[1]!;
    expect(victim.batches.map((b) => b.baseOffset)).toContain(written[spike]!.baseOffset);
    damageIndexes(dir, victim.base, damage);
    const end = written.at(-1)!.lastOffset + 1;
    const options: Partial<OpenOptions> =
      mode === 'a clean restart'
        ? { cleanShutdown: true, recoveryPoint: end }
        : { cleanShutdown: false, recoveryPoint: mode === 'recovery from 0' ? 0 : layouts[3]!.base };
    await reopenAndCheck(dir, written, end, options);
  });

  const pastTheLog: [string, (dir: string, seg: SegmentLayout) => void][] = [
    [
      'the last .index entry points past the log end',
      (dir, seg) => {
        const path = segPath(dir, seg.base, '.index');
        const data = readFileSync(path);
        data.writeInt32BE(seg.size + 100, data.length - 4);
        writeFileSync(path, data);
      },
    ],
    [
      'an extra .index entry points past the log end',
      (dir, seg) => {
        const path = segPath(dir, seg.base, '.index');
        const data = readFileSync(path);
        const extra = Buffer.alloc(OFFSET_ENTRY);
        extra.writeInt32BE(data.readInt32BE(data.length - 8) + 1, 0);
        extra.writeInt32BE(seg.size + 10, 4);
        writeFileSync(path, Buffer.concat([data, extra]));
      },
    ],
    [
      'an extra .timeindex entry names an offset past the segment',
      (dir, seg) => {
        const path = segPath(dir, seg.base, '.timeindex');
        const data = readFileSync(path);
        const extra = Buffer.alloc(TIME_ENTRY);
        extra.writeBigInt64BE(BigInt(BASE_TS + 99_000_000), 0);
        extra.writeInt32BE(seg.batches.at(-1)!.lastOffset - seg.base + 1000, 8);
        writeFileSync(path, Buffer.concat([data, extra]));
      },
    ],
  ];

  it.each(pastTheLog)('%s: detected on a clean load and rebuilt', async (_name, damage) => {
    const dir = tempDir();
    const { recordsFor, perSegment } = indexTestLog();
    const written = await buildLog(dir, perSegment * 4 + 3, recordsFor, false);
    const victim = segmentLayouts(dir, written)[1]!;
    damage(dir, victim);

    const damaged = ['.index', '.timeindex'].map(
      (s) => [s, readFileSync(segPath(dir, victim.base, s))] as const,
    );
    const segment = LogSegment.open(nodeFs, dir, victim.base, CONFIG);
    try {
      expect(segment.loadClean()).toEqual(expect.any(String));
    } finally {
      segment.close();
    }
    for (const [suffix, bytes] of damaged) writeFileSync(segPath(dir, victim.base, suffix), bytes);

    const end = written.at(-1)!.lastOffset + 1;
    const { log, events } = openLog(dir, CONFIG, { cleanShutdown: true, recoveryPoint: end });
    expect(events).toContainEqual(expect.objectContaining({ kind: 'index-rebuilt', segment: victim.base }));
    expectLogHolds(log, written, end);
    await log.close();
    await reopenAndCheck(dir, written, end, { cleanShutdown: true, recoveryPoint: end });
  });
});

// ---- leftover files ----

describe('leftover files', () => {
  async function twoSegmentsAndMore(
    seed: number,
  ): Promise<{ dir: string; written: ExpectedBatch[]; layouts: SegmentLayout[] }> {
    const dir = tempDir();
    const rand = seededRandom(seed);
    const written = await buildLog(dir, 110, (i) => randomRecords(rand, i), false);
    const layouts = segmentLayouts(dir, written);
    expect(layouts.length).toBeGreaterThanOrEqual(4);
    return { dir, written, layouts };
  }

  /** A segment under `suffix` holding every other batch of the first two segments and the last one of the second. */
  function partialCopy(dir: string, layouts: SegmentLayout[], suffix: string): ExpectedBatch[] {
    const source = [...layouts[0]!.batches, ...layouts[1]!.batches];
    const subset = source.filter((_, i) => i % 2 === 0 || i === source.length - 1);
    const seg = LogSegment.create(nodeFs, dir, layouts[0]!.base, CONFIG, suffix);
    for (const b of subset) seg.append(b.bytes, 0, b.bytes.length);
    seg.close();
    expect(existsSync(segPath(dir, layouts[0]!.base, `.log${suffix}`))).toBe(true);
    return subset;
  }

  it.each([true, false])(
    '.cleaned files are deleted and the originals kept (clean shutdown: %s)',
    async (clean) => {
      const { dir, written } = await twoSegmentsAndMore(21);
      const layouts = segmentLayouts(dir, written);
      partialCopy(dir, layouts, '.cleaned');
      writeFileSync(segPath(dir, layouts[2]!.base, '.log.cleaned'), Buffer.from('half a cleaned segment'));
      const end = written.at(-1)!.lastOffset + 1;
      const { log } = openLog(dir, CONFIG, { cleanShutdown: clean, recoveryPoint: clean ? end : 0 });
      expect(readdirSync(dir).filter((n) => n.endsWith('.cleaned'))).toEqual([]);
      expect(logFileBases(dir)).toEqual(layouts.map((s) => s.base));
      expectLogHolds(log, written, end);
      await log.close();
      await reopenAndCheck(dir, written, end, { cleanShutdown: true, recoveryPoint: end });
    },
  );

  it.each([true, false])(
    'a .log.swap replaces the segments it covers (clean shutdown: %s)',
    async (clean) => {
      const { dir, written, layouts } = await twoSegmentsAndMore(22);
      const subset = partialCopy(dir, layouts, '.swap');
      const rest = written.filter((b) => b.baseOffset >= layouts[2]!.base);
      const expected = [...subset, ...rest];
      const end = written.at(-1)!.lastOffset + 1;

      const { log, events } = openLog(dir, CONFIG, { cleanShutdown: clean, recoveryPoint: clean ? end : 0 });
      expect(events).toContainEqual(
        expect.objectContaining({ kind: 'swap-completed', segment: layouts[0]!.base }),
      );
      expect(readdirSync(dir).filter((n) => n.endsWith('.swap'))).toEqual([]);
      expect(logFileBases(dir)).toEqual([layouts[0]!.base, ...layouts.slice(2).map((s) => s.base)]);
      for (const suffix of ['.log', '.index', '.timeindex'])
        expect(existsSync(segPath(dir, layouts[1]!.base, suffix))).toBe(false);
      for (const s of layouts.slice(2)) {
        expect(
          readFileSync(segPath(dir, s.base, '.log')).equals(Buffer.concat(s.batches.map((b) => b.bytes))),
        ).toBe(true);
      }
      expectLogHolds(log, expected, end);
      await log.close();
      await reopenAndCheck(dir, expected, end, { cleanShutdown: true, recoveryPoint: end });
    },
  );

  it('an index file without its log is removed', async () => {
    const { dir, written, layouts } = await twoSegmentsAndMore(23);
    const strayBase = 999_999;
    writeFileSync(segPath(dir, strayBase, '.index'), Buffer.alloc(16, 1));
    writeFileSync(segPath(dir, strayBase, '.timeindex'), Buffer.alloc(24, 1));
    const end = written.at(-1)!.lastOffset + 1;
    const { log } = openLog(dir, CONFIG, { cleanShutdown: true, recoveryPoint: end });
    expect(existsSync(segPath(dir, strayBase, '.index'))).toBe(false);
    expect(existsSync(segPath(dir, strayBase, '.timeindex'))).toBe(false);
    expect(logFileBases(dir)).toEqual(layouts.map((s) => s.base));
    expectLogHolds(log, written, end);
    await log.close();
  });
});

// ---- the log manager ----

describe('a log manager after a crash', () => {
  it('truncates the damaged partition and leaves the others as they were', async () => {
    const dataDir = tempDir();
    const events: LogManagerEvent[] = [];
    const open = (): LogManager =>
      LogManager.open(
        { ...DEFAULT_LOG_MANAGER_CONFIG, dataDir },
        { fs: nodeFs, clock: new ManualClock(), configFor: () => CONFIG, log: (e) => events.push(e) },
      );
    const partitions = [
      ['orders', 0],
      ['orders', 1],
      ['audit', 0],
    ] as const;
    const rand = seededRandom(31);
    const written = new Map<string, ExpectedBatch[]>();
    const manager = open();
    const appendSome = (count: number): void => {
      for (const [topic, partition] of partitions) {
        const log = manager.createLog(topic, partition);
        const list = written.get(`${topic}-${partition}`) ?? [];
        for (let i = 0; i < count; i++) {
          const next = list.at(-1) === undefined ? 0 : list.at(-1)!.lastOffset + 1;
          const batch = expectedBatch(randomRecords(rand, list.length), next);
          expect(log.append(unstamped(batch)).baseOffset).toBe(next);
          list.push(batch);
        }
        written.set(`${topic}-${partition}`, list);
      }
    };
    appendSome(30);
    await manager.flushAll(); // recovery points and checkpoints land here ...
    appendSome(40); // ... and the damage goes past them
    manager.crashForTesting();
    for (const { log } of manager.allLogs()) await log.flush(); // drain background flushes

    const victimDir = join(dataDir, 'orders-1');
    const victimWritten = written.get('orders-1')!;
    const last = segmentLayouts(victimDir, victimWritten).at(-1)!;
    expect(last.base).toBeGreaterThan(victimWritten[29]!.lastOffset);
    const k = last.batches.length >> 1;
    truncateSync(segPath(victimDir, last.base, '.log'), last.positions[k]! + 30);
    const kept = keptUpTo(victimWritten, last, k);

    events.length = 0;
    const reopened = open();
    expect(reopened.cleanShutdown).toBe(false);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'truncated', dir: expect.stringContaining('orders-1') }),
    );
    expect(events.filter((e) => e.kind === 'truncated')).toHaveLength(1);
    for (const [topic, partition] of partitions) {
      const log = reopened.getLog(topic, partition)!;
      const all = written.get(`${topic}-${partition}`)!;
      if (topic === 'orders' && partition === 1) expectLogHolds(log, kept, firstMissing(all, kept));
      else expectLogHolds(log, all, all.at(-1)!.lastOffset + 1);
    }
    await reopened.close();

    const again = open();
    expect(again.cleanShutdown).toBe(true);
    expectLogHolds(again.getLog('orders', 1)!, kept, firstMissing(victimWritten, kept));
    await again.close();
  });
});
