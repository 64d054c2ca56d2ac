// Compaction keeps the latest record per key outside the active segment, keeps offsets, drops
// tombstones after delete.retention.ms, and a crash at any file-system step of a compaction (or of
// a roll) leaves a log that recovers with no record lost and none duplicated.

import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CRC_OFFSET, batchBaseOffset, batchSize, computeBatchCrc } from '../../proto/batch-header.js';
import { decodeBatch, encodeBatch } from '../../proto/record-batch.js';
import {
  ManualClock,
  PartitionLog,
  compactLog,
  logConfigFrom,
  nodeFs,
  type LogConfig,
  type StorageFs,
} from '../../storage/index.js';
import { FaultyFs } from './faulty-fs.js';

const root = mkdtempSync(join(tmpdir(), 'weir-compaction-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const noPause = (): Promise<void> => Promise.resolve();

interface Rec {
  offset: number;
  key: string | null;
  value: string | null;
}

function readAll(log: PartitionLog): Rec[] {
  const out: Rec[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { records, lastOffset } = log.read(offset, 1 << 20);
    if (records.length === 0) break;
    for (let off = 0; off < records.length; off += batchSize(records, off)) {
      const d = decodeBatch(records, off, off + batchSize(records, off));
      if (!d.ok) throw new Error(d.reason);
      for (const r of d.batch.records)
        out.push({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });
    }
    offset = lastOffset + 1;
  }
  return out;
}

const config = logConfigFrom({
  'cleanup.policy': 'compact',
  'segment.bytes': '2000',
  'index.interval.bytes': '100',
  'delete.retention.ms': '1000',
});

function openLog(dir: string, fs: StorageFs = nodeFs, clean = true, cfg: LogConfig = config): PartitionLog {
  return PartitionLog.open(
    dir,
    cfg,
    { fs, clock: new ManualClock() },
    { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: clean },
  );
}

/** Appends `rounds` updates of `keys` keys, 3 records a batch, plus a keyless record and tombstones. */
function fill(log: PartitionLog, keys: number, rounds: number, timestamp: number): void {
  for (let r = 0; r < rounds; r++) {
    const records = [];
    for (let k = 0; k < keys; k++) {
      const tombstone = r === rounds - 2 && k % 4 === 0;
      records.push({
        timestamp,
        key: Buffer.from(`k${k}`),
        value: tombstone ? null : Buffer.from(`v${r}-${k}-${'x'.repeat(40)}`),
      });
      if (records.length === 3) {
        log.append(encodeBatch(records.splice(0)));
      }
    }
    if (records.length > 0) log.append(encodeBatch(records));
    log.append(encodeBatch([{ timestamp, key: null, value: Buffer.from(`nokey-${r}`) }]));
  }
}

/** What compaction must leave: per key the latest record below the active segment; later records all. */
function expectedAfter(before: Rec[], activeBase: number, horizon: number | null, timestamp: number): Rec[] {
  const latest = new Map<string, number>();
  for (const r of before) if (r.offset < activeBase && r.key !== null) latest.set(r.key, r.offset);
  return before.filter((r) => {
    if (r.offset >= activeBase || r.key === null) return true;
    if (latest.get(r.key) !== r.offset) return false;
    return !(r.value === null && horizon !== null && timestamp < horizon);
  });
}

describe('compaction', () => {
  it('stops when the log goes offline during the run, and swaps nothing in', async () => {
    const fs = new FaultyFs();
    const log = openLog(join(root, `c-${n++}`), fs);
    fill(log, 10, 6, 5_000);
    const before = readAll(log);
    const files = readdirSync(log.dir).sort();
    // At the run's first pause, a write fails with EIO: the log goes offline.
    const goOffline = (): Promise<void> => {
      fs.writeError = 'EIO';
      expect(() =>
        log.append(encodeBatch([{ timestamp: 5_000, key: null, value: Buffer.from('x') }])),
      ).toThrow(/offline/);
      fs.heal();
      return Promise.resolve();
    };
    const outcome = await compactLog(log, 5_500, { fs, pause: goOffline });
    expect(outcome.aborted).toBe(true);
    expect(outcome.segmentsRewritten).toBe(0);
    expect(readdirSync(log.dir).sort()).toEqual(files);
    log.closeNow();
    expect(readAll(openLog(log.dir, nodeFs, false))).toEqual(before);
  });

  it('keeps the latest record per key, all keyless records and the active segment, at their offsets', async () => {
    const log = openLog(join(root, `c-${n++}`));
    fill(log, 10, 6, 5_000);
    const before = readAll(log);
    const activeBase = log.activeSegment.baseOffset;
    const sizeBefore = log.size;
    // now - delete.retention.ms is below the records' timestamp: tombstones stay.
    const outcome = await compactLog(log, 5_500, { fs: nodeFs, pause: noPause });
    expect(outcome.aborted).toBe(false);
    expect(outcome.recordsRemoved).toBeGreaterThan(0);
    expect(readAll(log)).toEqual(expectedAfter(before, activeBase, null, 5_000));
    expect(log.size).toBeLessThan(sizeBefore);
    expect(log.logEndOffset).toBe(before[before.length - 1]!.offset + 1);
    // Still readable after a clean restart and after a recovery scan.
    await log.close();
    const reopened = openLog(log.dir, nodeFs, false);
    expect(readAll(reopened)).toEqual(expectedAfter(before, activeBase, null, 5_000));
    await reopened.close();
  });

  it('rebuilds a gzip batch that keeps some of its records, still gzip, with the same records', async () => {
    const log = openLog(join(root, `c-${n++}`));
    // Each batch: a key written again and again, and a key of its own; most batches lose one record.
    for (let i = 0; i < 60; i++) {
      const records = [
        { timestamp: 5_000, key: Buffer.from('hot'), value: Buffer.from(`hot-${i}-${'y'.repeat(30)}`) },
        { timestamp: 5_000, key: Buffer.from(`u${i}`), value: Buffer.from(`unique-${i}-${'z'.repeat(30)}`) },
      ];
      log.append(encodeBatch(records, { compression: 'gzip' }));
    }
    const before = readAll(log);
    const activeBase = log.activeSegment.baseOffset;
    expect(activeBase).toBeGreaterThan(10);
    const outcome = await compactLog(log, 5_500, { fs: nodeFs, pause: noPause });
    expect(outcome.recordsRemoved).toBeGreaterThan(0);
    expect(readAll(log)).toEqual(expectedAfter(before, activeBase, null, 5_000));
    const { records } = log.read(log.logStartOffset, 1 << 20);
    const first = decodeBatch(records, 0, batchSize(records, 0));
    expect(first.ok && first.batch.compression).toBe(1);
    await log.close();
  });

  it('drops tombstones older than delete.retention.ms', async () => {
    const log = openLog(join(root, `c-${n++}`));
    fill(log, 8, 4, 5_000);
    const before = readAll(log);
    const activeBase = log.activeSegment.baseOffset;
    const outcome = await compactLog(log, 10_000, { fs: nodeFs, pause: noPause });
    expect(outcome.tombstonesRemoved).toBeGreaterThan(0);
    const after = readAll(log);
    expect(after).toEqual(expectedAfter(before, activeBase, 10_000 - 1_000, 5_000));
    expect(after.filter((r) => r.offset < activeBase && r.value === null)).toEqual([]);
    await log.close();
  });

  it('is idempotent: a second pass with nothing new changes nothing', async () => {
    const log = openLog(join(root, `c-${n++}`));
    fill(log, 6, 5, 5_000);
    await compactLog(log, 5_500, { fs: nodeFs, pause: noPause });
    const once = readAll(log);
    const outcome = await compactLog(log, 5_500, { fs: nodeFs, pause: noPause });
    expect(outcome.segmentsRewritten).toBe(0);
    expect(readAll(log)).toEqual(once);
    await log.close();
  });

  it('stops without harm when the log is truncated while it runs', async () => {
    const log = openLog(join(root, `c-${n++}`));
    fill(log, 10, 6, 5_000);
    let paused = 0;
    const outcome = await compactLog(log, 5_500, {
      fs: nodeFs,
      pause: async () => {
        if (paused++ === 0) log.truncateTo(Math.floor(log.logEndOffset / 2));
      },
    });
    expect(outcome.aborted).toBe(true);
    const after = readAll(log);
    expect(after.every((r, i) => i === 0 || r.offset > (after[i - 1] as Rec).offset)).toBe(true);
    await log.close();
  });
});

const KiB = 1024;

/** Every file of the log's directory and its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

function rec(
  key: string | null,
  value: string | null,
): { timestamp: number; key: Buffer | null; value: Buffer | null } {
  return {
    timestamp: 5_000,
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
  };
}

/** The closed segments' batches, copied, by base offset. */
function storedBatches(log: PartitionLog): Map<number, Buffer> {
  const batches = new Map<number, Buffer>();
  for (const seg of log.segments.slice(0, -1)) {
    seg.forEachBatch((buf, off) => {
      batches.set(batchBaseOffset(buf, off), Buffer.from(buf.subarray(off, off + batchSize(buf, off))));
      return true;
    });
  }
  return batches;
}

/** Appends small uncompressed batches until the segments so far are closed. */
function roll(log: PartitionLog): void {
  const base = log.activeSegment.baseOffset;
  for (let i = 0; log.activeSegment.baseOffset === base; i++)
    log.append(encodeBatch([rec(null, `pad-${i}-${'p'.repeat(200)}`)]));
}

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

describe('compaction of compressed batches', () => {
  it.each(CODECS)(
    'given %s batches that lose some records and batches that lose none, keeps exactly the latest records, in the same codec',
    async (compression) => {
      const log = openLog(join(root, `gz-${n++}`));
      // A batch whose records span many inflate chunks, half of them superseded later.
      const big = [];
      for (let i = 0; i < 40; i++)
        big.push(rec(`big-${i}`, `${i}-${String.fromCharCode(97 + (i % 26)).repeat(20 * KiB)}`));
      log.append(encodeBatch(big, { compression }));
      log.append(
        encodeBatch([rec('a', 'a0'), rec('b', 'b0'), rec(null, 'free'), rec('c', 'c0')], {
          compression,
        }),
      );
      log.append(encodeBatch([rec('d', 'd0'), rec('e', 'e0')], { compression }));
      log.append(encodeBatch([rec('a', 'a1'), rec('c', null)]));
      const superseding = [];
      for (let i = 0; i < 40; i += 2) superseding.push(rec(`big-${i}`, `again-${i}`));
      log.append(encodeBatch(superseding, { compression }));
      log.append(encodeBatch([rec('b', 'b1'), rec('a', 'a2')], { compression }));
      roll(log);
      const before = readAll(log);
      const activeBase = log.activeSegment.baseOffset;
      const storedBefore = storedBatches(log);

      const outcome = await compactLog(log, 5_500, { fs: nodeFs, pause: noPause });

      expect(outcome.aborted).toBe(false);
      expect(outcome.recordsRemoved).toBe(20 + 4);
      expect(readAll(log)).toEqual(expectedAfter(before, activeBase, null, 5_000));
      // The batches that lost nothing are their stored bytes; those that lost some keep their codec.
      const after = storedBatches(log);
      const dEBase = 40 + 4;
      expect(after.get(dEBase)).toEqual(storedBefore.get(dEBase));
      for (const base of [0, 40]) {
        const d = decodeBatch(after.get(base) as Buffer);
        expect(d.ok && d.batch.compression).toBe(CODECS.indexOf(compression) + 1);
      }
      await log.close();
    },
  );

  it('while it inflates a large gzip batch, other callbacks run', async () => {
    const events: string[] = [];
    const fs: StorageFs = {
      ...nodeFs,
      writeSync: (...a) => (events.push('write'), nodeFs.writeSync(...a)),
    };
    const log = openLog(join(root, `gz-${n++}`), fs);
    // 16 MiB of records that deflate to a few KiB; a quarter of them superseded within the batch.
    const records = [];
    for (let i = 0; i < 32; i++) records.push(rec(`k${i % 24}`, 'v'.repeat(512 * KiB)));
    log.append(encodeBatch(records, { compression: 'gzip' }));
    roll(log);
    events.length = 0;
    setImmediate(() => events.push('immediate before compaction'));

    const outcome = await compactLog(log, 5_500, {
      fs,
      pause: () => {
        events.push('key map built');
        setImmediate(() => events.push('immediate after the key map'));
        return Promise.resolve();
      },
    });

    expect(outcome.recordsRemoved).toBe(8);
    // The only batch that takes any time to walk is the large one, first in the log: in each pass
    // a callback queued before it ran while it was inflating.
    expect(events.indexOf('immediate before compaction')).toBeLessThan(events.indexOf('key map built'));
    expect(events.indexOf('immediate after the key map')).toBeGreaterThan(events.indexOf('key map built'));
    expect(events.indexOf('immediate after the key map')).toBeLessThan(events.indexOf('write'));
    await log.close();
  });

  /** A gzip batch with the given records, its compressed bytes spoiled and its CRC made right again. */
  function spoiledGzipBatch(): Buffer {
    const batch = encodeBatch([rec('x', 'x'.repeat(4 * KiB)), rec('y', 'y0')], { compression: 'gzip' });
    batch.fill(0xee, 61 + 12, batch.length - 8);
    batch.writeUInt32BE(computeBatchCrc(batch, 0), CRC_OFFSET);
    return batch;
  }

  /** A gzip batch (CRC right) whose two records come in the wrong offset order. */
  function swappedGzipBatch(): Buffer {
    const plain = encodeBatch([rec('x', 'x1'), rec('y', 'y1')]);
    const records = plain.subarray(61);
    // The first record alone, at offset delta 0, is the same bytes.
    const first = encodeBatch([rec('x', 'x1')]).length - 61;
    const swapped = Buffer.concat([records.subarray(first), records.subarray(0, first)]);
    const compressed = gzipSync(swapped);
    const batch = Buffer.concat([plain.subarray(0, 61), compressed]);
    batch.writeInt32BE(batch.length - 12, 8);
    batch.writeInt16BE(plain.readInt16BE(21) | 1, 21);
    batch.writeUInt32BE(computeBatchCrc(batch, 0), CRC_OFFSET);
    return batch;
  }

  it.each([
    ['records out of offset order', (): Buffer => swappedGzipBatch(), undefined, /record offset/],
    ['corrupt gzip data', (): Buffer => spoiledGzipBatch(), undefined, /gzip/],
    [
      'records inflating past maxInflatedBytes',
      (): Buffer => encodeBatch([rec('x', 'x0'), rec('x', 'x'.repeat(256 * KiB))], { compression: 'gzip' }),
      64 * KiB,
      /inflate past/,
    ],
  ])(
    'given a stored batch with %s, aborts with KAFKA_STORAGE_ERROR and leaves the log as it was',
    async (_, batch, maxInflatedBytes, message) => {
      const log = openLog(join(root, `gz-${n++}`));
      log.append(encodeBatch([rec('x', 'old'), rec('y', 'old')]));
      log.append(batch());
      log.append(encodeBatch([rec('x', 'new')], { compression: 'gzip' }));
      roll(log);
      const files = snapshot(log.dir);
      const segments = [...log.segments];

      await expect(
        compactLog(log, 5_500, { fs: nodeFs, pause: noPause, maxInflatedBytes }),
      ).rejects.toMatchObject({
        code: 'KAFKA_STORAGE_ERROR',
        message,
      });

      expect(log.segments).toEqual(segments);
      expect(snapshot(log.dir)).toEqual(files);
      await log.close();
    },
  );

  it('stops without harm when the log is truncated while a gzip batch inflates', async () => {
    const log = openLog(join(root, `gz-${n++}`));
    log.append(encodeBatch([rec('a', 'a0')]));
    roll(log);
    const cut = log.logEndOffset;
    const records = [];
    for (let i = 0; i < 16; i++) records.push(rec(`k${i % 8}`, 'w'.repeat(256 * KiB)));
    log.append(encodeBatch(records, { compression: 'gzip' }));
    roll(log);
    log.append(encodeBatch([rec('a', 'a1')]));
    roll(log);
    const before = readAll(log);
    // Removes the segment being walked while its batch inflates.
    setImmediate(() => log.truncateTo(cut));

    const outcome = await compactLog(log, 5_500, { fs: nodeFs, pause: noPause });

    expect(outcome.aborted).toBe(true);
    expect(readAll(log)).toEqual(before.filter((r) => r.offset < cut));
    expect(log.logEndOffset).toBe(cut);
    expect(readdirSync(log.dir).filter((f) => f.endsWith('.cleaned'))).toEqual([]);
    await log.close();
  });
});

/** node:fs that, once armed, throws at the k-th mutating call: a crash at that step. */
function crashingFs(): { fs: StorageFs; arm: (k: number) => void; steps: () => number } {
  let count = 0;
  let at = Number.MAX_SAFE_INTEGER;
  const step = (): void => {
    if (++count === at) throw new Error(`simulated crash at step ${at}`);
  };
  const fs: StorageFs = {
    ...nodeFs,
    writeSync: (...a) => (step(), nodeFs.writeSync(...a)),
    renameSync: (...a) => (step(), nodeFs.renameSync(...a)),
    unlinkSync: (...a) => (step(), nodeFs.unlinkSync(...a)),
    ftruncateSync: (...a) => (step(), nodeFs.ftruncateSync(...a)),
    fsyncDirSync: (...a) => (step(), nodeFs.fsyncDirSync(...a)),
    fdatasync: async (fd) => (step(), nodeFs.fdatasync(fd)),
    openSync: (path, flags) => (flags !== 'r' && step(), nodeFs.openSync(path, flags)),
  };
  return {
    fs,
    arm: (k) => {
      count = 0;
      at = k;
    },
    steps: () => count,
  };
}

describe('a crash at any step', () => {
  it('of a compaction recovers to the log before or after it, never anything else', async () => {
    const seedLog = (dir: string): { before: Rec[]; activeBase: number } => {
      const seed = openLog(dir);
      fill(seed, 8, 5, 5_000);
      const before = readAll(seed);
      const activeBase = seed.activeSegment.baseOffset;
      seed.closeNow();
      return { before, activeBase };
    };
    // Count the file-system steps of one whole compaction.
    const probe = crashingFs();
    const probeDir = join(root, `crash-probe-${n++}`);
    seedLog(probeDir);
    const counted = openLog(probeDir, probe.fs, false);
    probe.arm(Number.MAX_SAFE_INTEGER);
    await compactLog(counted, 10_000, { fs: probe.fs, pause: noPause });
    const steps = probe.steps();
    expect(steps).toBeGreaterThan(5);
    counted.closeNow();

    for (let k = 1; k <= steps; k++) {
      const dir = join(root, `crash-${n++}`);
      const { before, activeBase } = seedLog(dir);
      const crash = crashingFs();
      const log = openLog(dir, crash.fs, false);
      crash.arm(k);
      await expect(compactLog(log, 10_000, { fs: crash.fs, pause: noPause })).rejects.toThrow(
        /simulated crash|swap .* failed/,
      );
      crash.arm(Number.MAX_SAFE_INTEGER);
      log.closeNow();
      const recovered = openLog(dir, nodeFs, false);
      const after = readAll(recovered);
      // Each record is exactly as before, offsets are unique and ordered, and every record a full
      // compaction keeps is still there: nothing lost, nothing duplicated, nothing invented.
      const offsets = after.map((r) => r.offset);
      expect(new Set(offsets).size).toBe(offsets.length);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      const byOffset = new Map(before.map((r) => [r.offset, r]));
      for (const r of after) expect(r).toEqual(byOffset.get(r.offset));
      const present = new Set(offsets);
      for (const r of expectedAfter(before, activeBase, 10_000 - 1_000, 5_000))
        expect(present.has(r.offset)).toBe(true);
      expect(recovered.logEndOffset).toBe((before[before.length - 1] as Rec).offset + 1);
      await recovered.close();
    }
  });

  it('of appends with rolls recovers to a prefix of whole batches', async () => {
    const cfg = logConfigFrom({ 'segment.bytes': '1500', 'index.interval.bytes': '100' });
    for (let k = 1; k <= 120; k += 7) {
      const dir = join(root, `roll-crash-${n++}`);
      const crash = crashingFs();
      const log = openLog(dir, crash.fs, true, cfg);
      crash.arm(k);
      const appended: string[] = [];
      try {
        for (let i = 0; i < 30; i++) {
          log.append(
            encodeBatch([{ timestamp: i, key: null, value: Buffer.from(`r${i}-${'y'.repeat(200)}`) }]),
          );
          appended.push(`r${i}-${'y'.repeat(200)}`);
        }
      } catch (err) {
        if (!String(err).includes('simulated crash')) throw err;
      }
      crash.arm(Number.MAX_SAFE_INTEGER);
      log.closeNow();
      const recovered = openLog(dir, nodeFs, false, cfg);
      const values = readAll(recovered).map((r) => r.value);
      // A prefix of what was appended, each once; the append that crashed may or may not be there.
      expect(appended.slice(0, values.length)).toEqual(values.slice(0, appended.length));
      expect(values.length).toBeGreaterThanOrEqual(appended.length);
      expect(values.length).toBeLessThanOrEqual(appended.length + 1);
      await recovered.close();
    }
  });
});
