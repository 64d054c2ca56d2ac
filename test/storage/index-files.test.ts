// Offset and time indexes: lookups agree with a linear scan, entries survive flush and reload,
// truncation drops exactly the entries past the cut, torn files are reported.

import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFs } from '../../storage/fs.js';
import { OffsetIndex } from '../../storage/offset-index.js';
import { TimeIndex } from '../../storage/time-index.js';

const root = mkdtempSync(join(tmpdir(), 'weir-index-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const path = (suffix: string): string => join(root, `${n++}${suffix}`);

/** Strictly increasing pairs built from positive steps. */
const entriesArb = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 5000 })), { maxLength: 300 })
  .map((steps) => {
    let o = -1;
    let p = -1;
    return steps.map(([a, b]) => [(o += a), (p += b)] as [number, number]);
  });

describe('OffsetIndex', () => {
  it('finds the greatest entry at or below a target, like a linear scan', () => {
    fc.assert(
      fc.property(entriesArb, fc.integer({ min: -10, max: 400_000 }), (entries, target) => {
        const index = new OffsetIndex(nodeFs, path('.index'), 1 << 20, false);
        for (const [o, p] of entries) index.append(o, p);
        const floor = entries.filter(([o]) => o <= target).pop();
        expect(index.lookup(target)).toBe(floor === undefined ? 0 : floor[1]);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('writes entries on flush and reads the same ones back', async () => {
    const file = path('.index');
    const index = new OffsetIndex(nodeFs, file, 1 << 20, false);
    const entries = fc.sample(entriesArb, { numRuns: 1, seed: 3 })[0] as [number, number][];
    for (const [o, p] of entries) index.append(o, p);
    await index.file.flush();
    expect(statSync(file).size).toBe(entries.length * 8);
    const reloaded = new OffsetIndex(nodeFs, file, 1 << 20, true);
    expect(reloaded.entries).toBe(entries.length);
    entries.forEach(([o, p], i) => {
      expect(reloaded.relativeOffsetAt(i)).toBe(o);
      expect(reloaded.positionAt(i)).toBe(p);
    });
    expect(reloaded.invalid(Number.MAX_SAFE_INTEGER)).toBeNull();
  });

  it('drops entries at and past the truncation offset, on disk too', async () => {
    const file = path('.index');
    const index = new OffsetIndex(nodeFs, file, 1 << 20, false);
    for (let i = 0; i < 10; i++) index.append(i * 10, i * 100);
    await index.file.flush();
    index.truncateFrom(45);
    expect(index.entries).toBe(5);
    expect(statSync(file).size).toBe(40);
    expect(index.lookup(1000)).toBe(400);
  });

  it('reports a torn file and an entry past the log', async () => {
    const file = path('.index');
    const index = new OffsetIndex(nodeFs, file, 1 << 20, false);
    for (let i = 0; i < 4; i++) index.append(i, i * 100);
    await index.file.flush();
    expect(new OffsetIndex(nodeFs, file, 1 << 20, true).invalid(250)).toMatch(/past the log/);
    truncateSync(file, 29);
    expect(new OffsetIndex(nodeFs, file, 1 << 20, true).invalid(1000)).toMatch(/torn/);
  });

  it('is full at segment.index.bytes', () => {
    const index = new OffsetIndex(nodeFs, path('.index'), 24, false);
    for (let i = 0; i < 3; i++) index.append(i, i);
    expect(index.isFull).toBe(true);
  });
});

describe('TimeIndex', () => {
  it('starts a scan at the last entry strictly before the target, like a linear scan', () => {
    fc.assert(
      fc.property(entriesArb, fc.integer({ min: -10, max: 400_000 }), (entries, target) => {
        const index = new TimeIndex(nodeFs, path('.timeindex'), 1 << 20, false);
        // Reuse the pairs as (timestamp, offset): both increase.
        for (const [o, p] of entries) expect(index.maybeAppend(p + 1_700_000_000_000, o)).toBe(true);
        const before = entries.filter(([, p]) => p + 1_700_000_000_000 < target + 1_700_000_000_000).pop();
        expect(index.lookup(target + 1_700_000_000_000)).toBe(before === undefined ? -1 : before[0]);
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('only appends when the timestamp grows', () => {
    const index = new TimeIndex(nodeFs, path('.timeindex'), 1 << 20, false);
    expect(index.maybeAppend(100, 0)).toBe(true);
    expect(index.maybeAppend(100, 5)).toBe(false);
    expect(index.maybeAppend(99, 6)).toBe(false);
    expect(index.maybeAppend(101, 7)).toBe(true);
    expect(index.entries).toBe(2);
    expect(index.lastTimestamp()).toBe(101);
  });

  it('survives flush and reload, truncates by offset, reports torn files', async () => {
    const file = path('.timeindex');
    const index = new TimeIndex(nodeFs, file, 1 << 20, false);
    for (let i = 0; i < 6; i++) index.maybeAppend(1000 + i, i * 10);
    await index.file.flush();
    const reloaded = new TimeIndex(nodeFs, file, 1 << 20, true);
    expect(reloaded.entries).toBe(6);
    expect(reloaded.timestampAt(5)).toBe(1005);
    reloaded.truncateFrom(30);
    expect(reloaded.entries).toBe(3);
    expect(statSync(file).size).toBe(36);
    truncateSync(file, 30);
    expect(new TimeIndex(nodeFs, file, 1 << 20, true).invalid(100)).toMatch(/torn/);
  });
});
