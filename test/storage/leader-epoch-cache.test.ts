// The leader-epoch cache answers OffsetForLeaderEpoch as Kafka does, keeps its entries ascending,
// and is the same list after a reopen; a malformed `leader-epoch-checkpoint` is a storage error.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import {
  LEADER_EPOCH_CHECKPOINT,
  LeaderEpochCache,
  UNDEFINED_EPOCH,
  nodeFs,
  type EpochEntry,
} from '../../storage/index.js';
import { FaultyFs } from './faulty-fs.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const UNDEFINED = { epoch: -1, endOffset: -1 };

/** A cache in a fresh directory holding `entries`, assigned in order. */
function cacheWith(entries: readonly [number, number][]): LeaderEpochCache {
  const cache = LeaderEpochCache.open(nodeFs, tempDir('weir-epochs-'));
  for (const [epoch, offset] of entries) cache.assign(epoch, offset);
  return cache;
}

const pairs = (cache: LeaderEpochCache): [number, number][] =>
  cache.list().map((e: EpochEntry) => [e.epoch, e.startOffset]);

describe('leader-epoch cache: OffsetForLeaderEpoch', () => {
  // Given epochs 1 at 0, 3 at 10, 6 at 25, and a log end of 40.
  const given = (): LeaderEpochCache =>
    cacheWith([
      [1, 0],
      [3, 10],
      [6, 25],
    ]);

  it('answers the latest epoch with the log end offset', () => {
    expect(given().endOffsetFor(6, 40)).toEqual({ epoch: 6, endOffset: 40 });
  });

  it('answers a known older epoch with the start of the next one', () => {
    expect(given().endOffsetFor(1, 40)).toEqual({ epoch: 1, endOffset: 10 });
    expect(given().endOffsetFor(3, 40)).toEqual({ epoch: 3, endOffset: 25 });
  });

  it('answers an absent epoch with the largest epoch below it and the start of the next one', () => {
    expect(given().endOffsetFor(2, 40)).toEqual({ epoch: 1, endOffset: 10 });
    expect(given().endOffsetFor(5, 40)).toEqual({ epoch: 3, endOffset: 25 });
  });

  it('answers an epoch below the earliest with itself and the start of the earliest', () => {
    const cache = cacheWith([
      [4, 100],
      [6, 150],
    ]);
    expect(cache.endOffsetFor(2, 200)).toEqual({ epoch: 2, endOffset: 100 });
  });

  it('answers UNDEFINED for an epoch above the latest, for UNDEFINED_EPOCH, and when empty', () => {
    expect(given().endOffsetFor(7, 40)).toEqual(UNDEFINED);
    expect(given().endOffsetFor(UNDEFINED_EPOCH, 40)).toEqual(UNDEFINED);
    expect(cacheWith([]).endOffsetFor(0, 0)).toEqual(UNDEFINED);
    expect(cacheWith([]).latestEpoch).toBe(UNDEFINED_EPOCH);
  });
});

describe('leader-epoch cache: changes', () => {
  it('ignores a repeat of the latest epoch, and replaces an epoch that wrote nothing', () => {
    const cache = cacheWith([
      [1, 0],
      [1, 7],
      [2, 10],
      [4, 10],
    ]);
    expect(pairs(cache)).toEqual([
      [1, 0],
      [4, 10],
    ]);
    expect(cache.latestEpoch).toBe(4);
  });

  it.each([
    ['an older epoch', 2, 30, /does not ascend/],
    ['an offset before the latest start', 6, 15, /does not ascend/],
    ['the latest epoch before its start', 5, 10, /before its start/],
    ['a negative epoch', -2, 30, /int32/],
  ])('asserts on %s', (_what, epoch, offset, reason) => {
    const cache = cacheWith([
      [3, 0],
      [5, 20],
    ]);
    expect(() => cache.assign(epoch, offset)).toThrow(reason);
    expect(pairs(cache)).toEqual([
      [3, 0],
      [5, 20],
    ]);
  });

  it('truncateFromEnd drops the epochs that start at or after the new end', () => {
    const cache = cacheWith([
      [1, 0],
      [3, 10],
      [6, 25],
    ]);
    cache.truncateFromEnd(26);
    expect(pairs(cache)).toEqual([
      [1, 0],
      [3, 10],
      [6, 25],
    ]);
    cache.truncateFromEnd(25);
    expect(pairs(cache)).toEqual([
      [1, 0],
      [3, 10],
    ]);
    cache.truncateFromEnd(0);
    expect(pairs(cache)).toEqual([]);
  });

  it('truncateFromStart drops epochs before the new start and moves the one holding it', () => {
    const cache = cacheWith([
      [1, 0],
      [3, 10],
      [6, 25],
    ]);
    cache.truncateFromStart(9);
    expect(pairs(cache)).toEqual([
      [1, 9],
      [3, 10],
      [6, 25],
    ]);
    cache.truncateFromStart(10);
    expect(pairs(cache)).toEqual([
      [3, 10],
      [6, 25],
    ]);
    cache.truncateFromStart(30);
    expect(pairs(cache)).toEqual([[6, 30]]);
  });

  it('epochAt answers the epoch of the last entry starting at or before an offset', () => {
    const cache = cacheWith([
      [1, 5],
      [3, 10],
      [6, 25],
    ]);
    expect([4, 5, 9, 10, 24, 25, 1000].map((o) => cache.epochAt(o))).toEqual([
      UNDEFINED_EPOCH,
      1,
      1,
      3,
      3,
      6,
      6,
    ]);
    expect(cacheWith([]).epochAt(0)).toBe(UNDEFINED_EPOCH);
  });

  it('reset replaces every entry in one write, and the list survives a reopen', () => {
    const cache = cacheWith([
      [1, 0],
      [3, 10],
      [6, 25],
    ]);
    cache.reset([{ epoch: 2, startOffset: 14 }]);
    expect(pairs(cache)).toEqual([[2, 14]]);
    expect(pairs(LeaderEpochCache.open(nodeFs, cache.dir))).toEqual([[2, 14]]);
    cache.reset([]);
    expect(pairs(LeaderEpochCache.open(nodeFs, cache.dir))).toEqual([]);
    expect(() =>
      cache.reset([
        { epoch: 2, startOffset: 14 },
        { epoch: 1, startOffset: 20 },
      ]),
    ).toThrow(/does not ascend/);
  });
});

describe('leader-epoch-checkpoint file', () => {
  it('is written in Kafka layout on every change and read back on open', () => {
    const dir = tempDir();
    const cache = LeaderEpochCache.open(nodeFs, dir);
    cache.assign(0, 0);
    cache.assign(2, 1200);
    const path = join(dir, LEADER_EPOCH_CHECKPOINT);
    expect(readFileSync(path, 'utf8')).toBe('0\n2\n0 0\n2 1200\n');
    cache.truncateFromStart(5);
    expect(readFileSync(path, 'utf8')).toBe('0\n2\n0 5\n2 1200\n');
    expect(pairs(LeaderEpochCache.open(nodeFs, dir))).toEqual([
      [0, 5],
      [2, 1200],
    ]);
    cache.truncateFromEnd(1200);
    expect(pairs(LeaderEpochCache.open(nodeFs, dir))).toEqual([[0, 5]]);
    expect(readdirSync(dir).sort()).toEqual([LEADER_EPOCH_CHECKPOINT]);
  });

  it('opens a directory without the file as an empty cache, and writes nothing', () => {
    const dir = tempDir();
    expect(pairs(LeaderEpochCache.open(nodeFs, dir))).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    ['1\n0\n', /unknown version '1'/],
    ['0\n2\n0 0\n', /entry count mismatch/],
    ['0\n1\n0 0', /torn/],
    ['0\n1\n0\n', /malformed line '0'/],
    ['0\n1\n0 -5\n', /malformed line/],
    ['0\n1\n0 x\n', /malformed line/],
    ['0\n2\n3 0\n2 10\n', /does not ascend/],
    ['0\n2\n1 10\n2 10\n', /does not ascend/],
    ['0\n1\n2147483648 0\n', /int32/],
  ])('refuses a malformed file %j as KAFKA_STORAGE_ERROR naming it', (text, reason) => {
    const dir = tempDir();
    const path = join(dir, LEADER_EPOCH_CHECKPOINT);
    writeFileSync(path, text);
    let caught: unknown;
    try {
      LeaderEpochCache.open(nodeFs, dir);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WeirError);
    expect((caught as WeirError).code).toBe('KAFKA_STORAGE_ERROR');
    expect((caught as WeirError).message).toContain(path);
    expect((caught as WeirError).message).toMatch(reason);
  });

  it('keeps the old entries in memory and on disk when the write fails', () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const cache = LeaderEpochCache.open(fs, dir);
    cache.assign(1, 0);
    fs.failWithEnospc((call) => call === 'write');
    expect(() => cache.assign(2, 50)).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
    expect(pairs(cache)).toEqual([[1, 0]]);
    fs.heal();
    expect(pairs(LeaderEpochCache.open(nodeFs, dir))).toEqual([[1, 0]]);
  });
});
