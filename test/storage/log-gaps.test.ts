// Opening a log reports what would otherwise be silent: a segment missing between two others (an
// error whatever the cleanup policy: compaction keeps each rewritten run's last offset, so it
// leaves no such gap), and a checkpointed log start past the log's end, which must not hide the
// records on disk. A segment that runs into the next one is cut where the next one starts.

import { appendFileSync, existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../proto/record-batch.js';
import type { LogEvent } from '../../storage/index.js';
import { openLog, readAllBatches, testLogConfig, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

function segmentFiles(dir: string, base: number): string[] {
  const name = String(base).padStart(20, '0');
  return ['.log', '.index', '.timeindex'].map((s) => join(dir, name + s));
}

/** A closed log of `batches` 1 KiB batches over several 8 KiB segments; returns the segments' bases. */
async function buildLog(dir: string, policy: string, batches: number): Promise<number[]> {
  const { log } = openLog(dir, testLogConfig({ 'cleanup.policy': policy }));
  for (let i = 0; i < batches; i++)
    log.append(
      encodeBatch([{ timestamp: 1000 + i, key: Buffer.from(`k${i}`), value: Buffer.alloc(1000, i) }]),
    );
  const bases = log.segments.map((s) => s.baseOffset);
  await log.close();
  return bases;
}

describe('a segment missing in the middle of a log', () => {
  it.each(['delete', 'compact', 'compact,delete'] as const)(
    'is reported (cleanup.policy %s)',
    async (policy) => {
      const dir = tempDir();
      const bases = await buildLog(dir, policy, 30);
      expect(bases.length).toBeGreaterThanOrEqual(4);
      // Given: the second segment's files are gone.
      for (const f of segmentFiles(dir, bases[1]!)) if (existsSync(f)) unlinkSync(f);

      for (const clean of [true, false]) {
        const { log, events } = openLog(dir, testLogConfig({ 'cleanup.policy': policy }), {
          cleanShutdown: clean,
          recoveryPoint: clean ? 30 : 0,
        });
        const gaps = events.filter(
          (e): e is Extract<LogEvent, { kind: 'segment-gap' }> => e.kind === 'segment-gap',
        );
        expect(gaps.map(({ from, to }) => ({ from, to }))).toEqual([{ from: bases[1], to: bases[2] }]);
        expect(gaps[0]!.reason).toMatch(/missing/);
        // The records around the gap are kept.
        expect(log.read(0, 1 << 20).firstOffset).toBe(0);
        expect(log.read(bases[2]!, 1 << 20).firstOffset).toBe(bases[2]);
        expect(log.logEndOffset).toBe(30);
        await log.close();
      }
    },
  );

  it('a log without a gap reports none', async () => {
    const dir = tempDir();
    await buildLog(dir, 'delete', 30);
    const { log, events } = openLog(dir, testLogConfig(), { cleanShutdown: false, recoveryPoint: 0 });
    expect(events.filter((e) => e.kind === 'segment-gap')).toEqual([]);
    await log.close();
  });
});

describe('a batch that starts past the log end (a follower copying a gap)', () => {
  it('starts the segment it rolls at the log end, so the gap lies inside a segment', async () => {
    const dir = tempDir();
    const { log } = openLog(dir, testLogConfig());
    const batch = (base: number): Buffer =>
      encodeBatch([{ timestamp: 1, key: null, value: Buffer.alloc(1000, base) }], { baseOffset: base });
    let end = 0;
    while (log.segments.length === 1) {
      end = log.logEndOffset;
      log.append(batch(end + 10), { assignOffsets: false });
    }
    // The batch that rolled starts 10 past the end of the one before; its segment starts there.
    expect(log.segments.map((s) => s.baseOffset)).toEqual([0, end]);
    expect(log.read(end, 1 << 20).firstOffset).toBe(end + 10);
    await log.close();
    const again = openLog(dir, testLogConfig(), { cleanShutdown: false, recoveryPoint: 0 });
    expect(again.events.filter((e) => e.kind === 'segment-gap')).toEqual([]);
    expect(again.log.logEndOffset).toBe(log.logEndOffset);
    await again.log.close();
  });
});

describe('a checkpointed log start past the log end', () => {
  it('is reported, and every record on disk stays readable', async () => {
    const dir = tempDir();
    await buildLog(dir, 'delete', 12);
    const { log, events } = openLog(dir, testLogConfig(), {
      cleanShutdown: true,
      recoveryPoint: 12,
      logStartOffset: 500,
    });
    expect(events).toContainEqual({ kind: 'log-start-past-end', dir, checkpointed: 500, logEndOffset: 12 });
    expect(log.logStartOffset).toBe(0);
    expect(readAllBatches(log).map((b) => b.baseOffset)).toEqual([...Array(12).keys()]);
    await log.close();
  });

  it('a log start within the log is kept as it is, without a report', async () => {
    const dir = tempDir();
    await buildLog(dir, 'delete', 12);
    const { log, events } = openLog(dir, testLogConfig(), {
      cleanShutdown: true,
      recoveryPoint: 12,
      logStartOffset: 12,
    });
    expect(events.filter((e) => e.kind === 'log-start-past-end')).toEqual([]);
    expect(log.logStartOffset).toBe(12);
    await log.close();
  });
});

describe('a segment that runs into the next one (a truncation a power loss undid)', () => {
  it('is cut where the next segment starts, and the next segment’s batches are read', async () => {
    const dir = tempDir();
    const bases = await buildLog(dir, 'delete', 30);
    expect(bases.length).toBeGreaterThanOrEqual(3);
    const first = join(dir, `${String(bases[0]).padStart(20, '0')}.log`);
    const second = join(dir, `${String(bases[1]).padStart(20, '0')}.log`);
    // Given: the first segment holds, past its end, a stale copy of the second segment's first
    // two offsets with other bytes, as if a truncation of it had been undone.
    const stale = Buffer.concat(
      [0, 1].map((i) =>
        encodeBatch([{ timestamp: 1, key: null, value: Buffer.alloc(1000, 0xee) }], {
          baseOffset: bases[1]! + i,
        }),
      ),
    );
    const before = openLog(dir, testLogConfig(), { cleanShutdown: true, recoveryPoint: 30 }).log;
    const fresh = readAllBatches(before).filter((b) => b.baseOffset === bases[1]);
    await before.close();
    appendFileSync(first, stale);

    const { log, events } = openLog(dir, testLogConfig(), { cleanShutdown: false, recoveryPoint: 0 });
    expect(events.filter((e) => e.kind === 'segment-overlap-cut')).toEqual([
      {
        kind: 'segment-overlap-cut',
        dir,
        segment: bases[0],
        from: bases[1],
        to: bases[1]! + 2,
        truncatedBytes: stale.length,
      },
    ]);
    expect(log.segments[0]!.nextOffset).toBe(bases[1]);
    const read = readAllBatches(log).filter((b) => b.baseOffset === bases[1]);
    expect(read.map((b) => b.bytes.toString('hex'))).toEqual(fresh.map((b) => b.bytes.toString('hex')));
    expect(read[0]!.bytes.includes(Buffer.alloc(8, 0xee))).toBe(false);
    expect(existsSync(second)).toBe(true);
    expect(log.logEndOffset).toBe(30);
    await log.close();
  });
});
