// Given random sequences of appends, reads, rolls, truncations, timestamp lookups and restarts
// (clean, and crashes without a flush), the log agrees with a plain in-memory model: a list of the
// batches appended, with the offsets each one got.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { batchBaseOffset, batchLastOffset, batchSize } from '../../proto/batch-header.js';
import { decodeBatch, encodeBatch } from '../../proto/record-batch.js';
import { ManualClock, PartitionLog, logConfigFrom, nodeFs, type LogConfig } from '../../storage/index.js';

const root = mkdtempSync(join(tmpdir(), 'weir-model-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface ModelBatch {
  base: number;
  last: number;
  timestamps: number[];
  values: string[];
}

type Op =
  | { op: 'append'; records: { value: string; tsStep: number }[] }
  | { op: 'read'; at: number; maxBytes: number }
  | { op: 'roll' }
  | { op: 'truncate'; at: number }
  | { op: 'lookup'; at: number }
  | { op: 'restart'; clean: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('append' as const),
      records: fc.array(
        fc.record({ value: fc.string({ maxLength: 120 }), tsStep: fc.integer({ min: -5, max: 50 }) }),
        {
          minLength: 1,
          maxLength: 12,
        },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('read' as const),
      at: fc.nat(),
      maxBytes: fc.integer({ min: 0, max: 1200 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('roll' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('lookup' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restart' as const), clean: fc.boolean() }) },
);

function decodeAll(buf: Buffer): { base: number; last: number; values: string[] }[] {
  const out: { base: number; last: number; values: string[] }[] = [];
  for (let off = 0; off < buf.length; off += batchSize(buf, off)) {
    const d = decodeBatch(buf, off, off + batchSize(buf, off));
    if (!d.ok) throw new Error(d.reason);
    out.push({
      base: batchBaseOffset(buf, off),
      last: batchLastOffset(buf, off),
      values: d.batch.records.map((r) => r.value?.toString() ?? ''),
    });
  }
  return out;
}

let runId = 0;

async function runOps(ops: Op[], config: LogConfig): Promise<void> {
  const dir = join(root, `model-${runId++}`);
  const clock = new ManualClock();
  const deps = { fs: nodeFs, clock };
  let log = PartitionLog.open(dir, config, deps, {
    recoveryPoint: 0,
    logStartOffset: 0,
    cleanShutdown: false,
  });
  const model: ModelBatch[] = [];
  let ts = 1_000_000;
  // The log start stays 0 here (no retention), so an emptied log ends at 0 again.
  const end = (): number => (model.length === 0 ? 0 : (model[model.length - 1] as ModelBatch).last + 1);
  try {
    for (const op of ops) {
      switch (op.op) {
        case 'append': {
          const timestamps = op.records.map((r) => (ts = Math.max(0, ts + r.tsStep)));
          const batch = encodeBatch(
            op.records.map((r, i) => ({
              timestamp: timestamps[i] as number,
              key: null,
              value: Buffer.from(r.value),
            })),
          );
          const result = log.append(batch);
          expect(result.baseOffset).toBe(end());
          model.push({
            base: result.baseOffset,
            last: result.lastOffset,
            timestamps,
            values: op.records.map((r) => r.value),
          });
          expect(result.logEndOffset).toBe(end());
          break;
        }
        case 'read': {
          const at = model.length === 0 ? end() : op.at % (end() + 1);
          const { records } = log.read(at, op.maxBytes);
          const got = decodeAll(records);
          if (got.length > 1) expect(records.length).toBeLessThanOrEqual(op.maxBytes);
          const first = model.findIndex((b) => b.last >= at);
          if (first < 0) {
            expect(got).toEqual([]);
            break;
          }
          // At least one whole batch, the one holding `at`, then whole batches while they fit.
          expect(got.length).toBeGreaterThan(0);
          got.forEach((g, i) => {
            const m = model[first + i] as ModelBatch;
            expect(g).toEqual({ base: m.base, last: m.last, values: m.values });
          });
          break;
        }
        case 'roll':
          if (!log.activeSegment.isEmpty) log.roll();
          break;
        case 'truncate': {
          const at = op.at % (end() + 1);
          log.truncateTo(at);
          // Batches go whole: the log may end below `at`.
          while (model.length > 0 && (model[model.length - 1] as ModelBatch).last >= at) model.pop();
          break;
        }
        case 'lookup': {
          const all = model.flatMap((b) => b.timestamps.map((t, i) => ({ t, offset: b.base + i })));
          const target =
            all.length === 0 ? ts : (all[op.at % all.length] as { t: number }).t + (op.at % 3) - 1;
          const expected = all.find((r) => r.t >= target)?.offset ?? null;
          expect(log.offsetForTimestamp(target)).toBe(expected);
          break;
        }
        case 'restart':
          if (op.clean) await log.close();
          else log.closeNow();
          log = PartitionLog.open(dir, config, deps, {
            recoveryPoint: op.clean ? end() : 0,
            logStartOffset: 0,
            cleanShutdown: op.clean,
          });
          break;
      }
      expect(log.logEndOffset).toBe(end());
    }
  } finally {
    await log.delete();
  }
}

describe('PartitionLog against a model', () => {
  const configs: [string, LogConfig][] = [
    ['tiny segments, dense indexes', logConfigFrom({ 'segment.bytes': 2048, 'index.interval.bytes': 100 })],
    ['indexes every batch', logConfigFrom({ 'segment.bytes': 1 << 20, 'index.interval.bytes': 0 })],
    [
      'small index files',
      logConfigFrom({ 'segment.bytes': 1 << 20, 'index.interval.bytes': 0, 'segment.index.bytes': 96 }),
    ],
  ];
  for (const [name, config] of configs) {
    it(`agrees with the model: ${name}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runOps(ops, config)),
        { numRuns: 60, seed: 20261122 },
      );
    });
  }
});
