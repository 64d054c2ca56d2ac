// Given random elections, appends, truncations at either end, reopens and OffsetForLeaderEpoch
// queries, the leader-epoch cache agrees with a model that keeps the epoch of every offset of the
// log: its entries are the first offset of each epoch still in the log (plus the latest epoch at
// the log end when nothing was written in it yet), and its answers match a scan over the offsets.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { LeaderEpochCache, nodeFs, type EpochEndOffset } from '../../storage/index.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

type Op =
  | { op: 'elect'; step: number }
  | { op: 'append'; count: number }
  | { op: 'truncate-end'; at: number }
  | { op: 'truncate-start'; at: number }
  | { op: 'reopen' }
  | { op: 'query'; back: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('elect' as const), step: fc.integer({ min: 1, max: 3 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('append' as const), count: fc.integer({ min: 1, max: 6 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate-end' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate-start' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reopen' as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('query' as const), back: fc.integer({ min: -2, max: 12 }) }),
  },
);

/** The log as the model sees it: the epoch of each offset from its start to its end. */
class ModelLog {
  start = 0;
  /** epochs[i] is the epoch of offset start + i. */
  epochs: number[] = [];
  /** The latest epoch the cache was told of and that truncation has not removed. */
  latest: number | null = null;

  get end(): number {
    return this.start + this.epochs.length;
  }

  /** The expected entries: where each epoch's first offset still in the log is. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    this.epochs.forEach((epoch, i) => {
      if (i === 0 || epoch !== this.epochs[i - 1]) out.push([epoch, this.start + i]);
    });
    const last = out.at(-1);
    if (this.latest !== null && (last === undefined || this.latest > last[0]))
      out.push([this.latest, this.end]);
    return out;
  }

  /** OffsetForLeaderEpoch by scanning the offsets, as KIP-279 defines it. */
  endOffsetFor(requested: number): EpochEndOffset {
    const undefinedAnswer = { epoch: -1, endOffset: -1 };
    if (requested === -1 || this.latest === null || requested > this.latest) return undefinedAnswer;
    if (requested === this.latest) return { epoch: requested, endOffset: this.end };
    let i = 0;
    let floor = requested;
    while (i < this.epochs.length && (this.epochs[i] as number) <= requested)
      floor = this.epochs[i++] as number;
    // Past the last record only the latest epoch (which is above `requested`) can start.
    return { epoch: floor, endOffset: this.start + i };
  }
}

function pairs(cache: LeaderEpochCache): [number, number][] {
  return cache.list().map((e) => [e.epoch, e.startOffset]);
}

describe('leader-epoch cache against a per-offset model', () => {
  it('agrees after every operation, across reopens', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
        const dir = tempDir('weir-epochs-model-');
        let cache = LeaderEpochCache.open(nodeFs, dir);
        const model = new ModelLog();
        for (const step of ops) {
          const span = model.end - model.start + 1;
          switch (step.op) {
            case 'elect': {
              const epoch = (model.latest ?? -1) + step.step;
              cache.assign(epoch, model.end);
              model.latest = epoch;
              break;
            }
            case 'append':
              if (model.latest === null) break;
              // Each batch's epoch is assigned at its base offset; after the first it is a repeat.
              for (let n = 0; n < step.count; n++) {
                cache.assign(model.latest, model.end);
                model.epochs.push(model.latest);
              }
              break;
            case 'truncate-end': {
              const at = model.start + (step.at % span);
              cache.truncateFromEnd(at);
              model.epochs.length = at - model.start;
              model.latest = model.epochs.at(-1) ?? null;
              break;
            }
            case 'truncate-start': {
              const at = model.start + (step.at % span);
              cache.truncateFromStart(at);
              model.epochs.splice(0, at - model.start);
              model.start = at;
              break;
            }
            case 'reopen':
              cache = LeaderEpochCache.open(nodeFs, dir);
              break;
            case 'query': {
              // Epochs near the latest, where the cases are: above it, it, gaps and older ones.
              const epoch = Math.max(-1, (model.latest ?? 0) - step.back);
              assert.deepEqual(
                cache.endOffsetFor(epoch, model.end),
                model.endOffsetFor(epoch),
                `endOffsetFor(${epoch})`,
              );
              break;
            }
          }
          assert.deepEqual(pairs(cache), model.entries(), `entries after ${JSON.stringify(step)}`);
          assert.equal(cache.latestEpoch, model.latest ?? -1);
        }
        assert.deepEqual(pairs(LeaderEpochCache.open(nodeFs, dir)), model.entries(), 'entries on disk');
      }),
      { numRuns: 100 },
    );
  });
});
