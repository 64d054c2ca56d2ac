// The plan a partition's leader follows to move its Raft group: every new replica joins as a
// learner, each is promoted, the leaving ones are removed with the leader last (after handing its
// leadership over), and the move is done once the voters are the target.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextReassignStep } from '../../../broker/cluster/reassignment.js';
import { applyChange, type Membership } from '../../../broker/raft/membership.js';

const m = (voters: number[], learners: number[] = []): Membership => ({ voters, learners });

describe('nextReassignStep', () => {
  it('waits while the configuration in force is not committed', () => {
    expect(nextReassignStep(m([1, 2, 3]), [4, 2, 3], 1, false)).toEqual({ kind: 'wait' });
  });

  it('adds every new replica as a learner before promoting any', () => {
    expect(nextReassignStep(m([1, 2, 3]), [4, 5, 3], 1, true)).toEqual({
      kind: 'change',
      change: { kind: 'addLearner', id: 4 },
    });
    expect(nextReassignStep(m([1, 2, 3], [4]), [4, 5, 3], 1, true)).toEqual({
      kind: 'change',
      change: { kind: 'addLearner', id: 5 },
    });
    expect(nextReassignStep(m([1, 2, 3], [4, 5]), [4, 5, 3], 1, true)).toEqual({
      kind: 'change',
      change: { kind: 'promote', id: 4 },
    });
  });

  it('removes the leaving voters, this leader last, by handing its leadership to the target', () => {
    expect(nextReassignStep(m([1, 2, 3, 4]), [4, 3, 2], 1, true)).toEqual({
      kind: 'transfer',
      to: [4, 3, 2],
    });
    expect(nextReassignStep(m([1, 2, 3, 4]), [4, 3], 1, true)).toEqual({
      kind: 'change',
      change: { kind: 'remove', id: 2 },
    });
    expect(nextReassignStep(m([1, 2, 3, 4]), [4, 3], 4, true)).toEqual({
      kind: 'change',
      change: { kind: 'remove', id: 1 },
    });
  });

  it('removes a learner the target does not name', () => {
    expect(nextReassignStep(m([1, 2], [7]), [1, 2], 1, true)).toEqual({
      kind: 'change',
      change: { kind: 'remove', id: 7 },
    });
  });

  it('is done once the voters are the target, in any order, and nothing else', () => {
    expect(nextReassignStep(m([3, 2, 4]), [4, 3, 2], 4, true)).toEqual({ kind: 'done' });
  });

  it('from any start, reaches the target one change at a time, never below the smaller group', () => {
    const ids = fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(ids, ids, fc.nat(), (start, target, pick) => {
        let now: Membership = m(start);
        let leader = start[pick % start.length]!;
        const floor = Math.min(start.length, target.length);
        for (let steps = 0; steps < 40; steps++) {
          const step = nextReassignStep(now, target, leader, true);
          if (step.kind === 'done') {
            expect([...now.voters].sort()).toEqual([...target].sort());
            expect(now.learners).toEqual([]);
            return;
          }
          if (step.kind === 'transfer') {
            expect(step.to.every((id) => now.voters.includes(id))).toBe(true);
            leader = step.to[0]!;
            continue;
          }
          expect(step.kind).toBe('change');
          if (step.kind !== 'change') return;
          // The leader never removes itself: it hands over first.
          expect(step.change.id === leader && step.change.kind === 'remove').toBe(false);
          const next = applyChange(now, step.change);
          expect(typeof next).not.toBe('string');
          now = next as Membership;
          expect(now.voters.length).toBeGreaterThanOrEqual(floor);
        }
        throw new Error(`no end after 40 steps from ${JSON.stringify(start)} to ${JSON.stringify(target)}`);
      }),
    );
  });
});
