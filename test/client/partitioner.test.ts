// The sticky partitioner on its own: one partition per topic until told its batch closed, then a
// different one; never out of range; a seeded random makes the choices replayable.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StickyPartitioner } from '../../client/partitioner.js';
import { ProducerBatch } from '../../client/producer-batch.js';
import { seededRandom } from '../storage/helpers.js';

describe('StickyPartitioner', () => {
  it('sticks to one partition while its batch is open and moves to another once it closes', () => {
    const sticky = new StickyPartitioner(seededRandom(7));
    const first = sticky.partition('t', 6);
    const batch = new ProducerBatch('t', first, 0);
    sticky.appended('t', batch);
    for (let i = 0; i < 10; i++) expect(sticky.partition('t', 6)).toBe(first);
    batch.state = 'queued'; // closed by linger
    const second = sticky.partition('t', 6);
    expect(second).not.toBe(first);
  });

  it('moves on when an append closed the batch at once, or when told to', () => {
    const sticky = new StickyPartitioner(seededRandom(3));
    const first = sticky.partition('t', 3);
    sticky.appended('t', undefined);
    const second = sticky.partition('t', 3);
    expect(second).not.toBe(first);
    const third = sticky.switchFrom('t', 3);
    expect(third).not.toBe(second);
  });

  it('keeps topics apart and stays in range when the partition count shrinks in its view', () => {
    const sticky = new StickyPartitioner(seededRandom(11));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), (count) => {
        const p = sticky.partition(`topic-${count}`, count);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(count);
        expect(sticky.partition('shrinking', count)).toBeLessThan(count);
      }),
      { seed: 5, numRuns: 200 },
    );
  });

  it('spreads over every partition as batches close', () => {
    const sticky = new StickyPartitioner(seededRandom(99));
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      seen.add(sticky.partition('t', 4));
      sticky.appended('t', undefined);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });

  it('always answers 0 for a topic with one partition', () => {
    const sticky = new StickyPartitioner(seededRandom(1));
    for (let i = 0; i < 5; i++) {
      expect(sticky.partition('one', 1)).toBe(0);
      sticky.appended('one', undefined);
    }
  });
});
