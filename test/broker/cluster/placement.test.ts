// Replica placement: distinct replicas, replicas and preferred leaders balanced to within one on an
// empty cluster, load kept balanced on a loaded one, determinism, and the refusals.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BrokerLoad } from '../../../broker/cluster/metadata-image.js';
import { placeReplicas } from '../../../broker/cluster/placement.js';
import { isWeirError } from '../../../proto/errors.js';

/** Replicas and leaders per broker: `load` plus what `placed` adds. */
function counts(ids: readonly number[], placed: number[][], load = new Map<number, BrokerLoad>()) {
  const replicas = new Map(ids.map((id) => [id, load.get(id)?.replicas ?? 0]));
  const leaders = new Map(ids.map((id) => [id, load.get(id)?.leaders ?? 0]));
  for (const list of placed)
    list.forEach((id, i) => {
      replicas.set(id, replicas.get(id)! + 1);
      if (i === 0) leaders.set(id, leaders.get(id)! + 1);
    });
  return { replicas: [...replicas.values()], leaders: [...leaders.values()] };
}

const spread = (values: number[]): number => Math.max(...values) - Math.min(...values);

/** Distinct node ids in any order, and a replication factor they can hold. */
const cluster = fc
  .uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 12 })
  .chain((ids) => fc.record({ ids: fc.constant(ids), rf: fc.integer({ min: 1, max: ids.length }) }));

describe('on an empty cluster', () => {
  it('gives every partition RF distinct live brokers', () => {
    fc.assert(
      fc.property(cluster, fc.nat(60), ({ ids, rf }, partitions) => {
        const placed = placeReplicas(ids, partitions, rf);
        expect(placed).toHaveLength(partitions);
        for (const replicas of placed) {
          expect(replicas).toHaveLength(rf);
          expect(new Set(replicas).size).toBe(rf);
          for (const id of replicas) expect(ids).toContain(id);
        }
      }),
    );
  });

  it('balances replicas and preferred leaders to within one per broker', () => {
    fc.assert(
      fc.property(cluster, fc.nat(60), ({ ids, rf }, partitions) => {
        const { replicas, leaders } = counts(ids, placeReplicas(ids, partitions, rf));
        expect(spread(replicas)).toBeLessThanOrEqual(1);
        expect(spread(leaders)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('balances where round robin with a follower shift does not: 2 partitions of RF 3 on 5 brokers', () => {
    const { replicas, leaders } = counts([1, 2, 3, 4, 5], placeReplicas([1, 2, 3, 4, 5], 2, 3));
    expect(replicas.sort()).toEqual([1, 1, 1, 1, 2]);
    expect(leaders.sort()).toEqual([0, 0, 0, 1, 1]);
  });

  it('depends on the set of brokers, not the order they are listed in', () => {
    fc.assert(
      fc.property(cluster, fc.nat(30), fc.boolean(), ({ ids, rf }, partitions, reverse) => {
        const shuffled = reverse ? [...ids].reverse() : [...ids].sort((a, b) => a - b);
        expect(placeReplicas(shuffled, partitions, rf)).toEqual(placeReplicas(ids, partitions, rf));
      }),
    );
  });

  it('places whole rounds as Kafka does, followers shifting by one each round', () => {
    // Leaders 1, 2, 3 in turn; the follower is 1 after its leader in round 0, 2 after in round 1.
    expect(placeReplicas([3, 1, 2], 6, 2)).toEqual([
      [1, 2],
      [2, 3],
      [3, 1],
      [1, 3],
      [2, 1],
      [3, 2],
    ]);
  });

  it('places a partial round by replica slots round the ring', () => {
    // Slots 0..2 and 3..5 round the ring 1..5; the second partition is led by 4, which leads none.
    expect(placeReplicas([1, 2, 3, 4, 5], 2, 3)).toEqual([
      [1, 2, 3],
      [4, 5, 1],
    ]);
  });

  it('balances every cluster of up to 10 brokers and 30 partitions', () => {
    for (let n = 1; n <= 10; n++) {
      const ids = Array.from({ length: n }, (_, i) => i + 1);
      for (let rf = 1; rf <= n; rf++)
        for (let partitions = 0; partitions <= 30; partitions++) {
          const placed = placeReplicas(ids, partitions, rf);
          for (const replicas of placed) expect(new Set(replicas).size).toBe(rf);
          const { replicas, leaders } = counts(ids, placed);
          expect(spread(replicas), `${n} brokers, RF ${rf}, ${partitions} partitions`).toBeLessThanOrEqual(1);
          expect(spread(leaders), `${n} brokers, RF ${rf}, ${partitions} partitions`).toBeLessThanOrEqual(1);
        }
    }
  });

  it('over n - 1 rounds, has every other broker follow each leader', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), (n) => {
        const ids = Array.from({ length: n }, (_, i) => i + 1);
        const followers = new Map(ids.map((id) => [id, new Set<number>()]));
        for (const [leader, follower] of placeReplicas(ids, n * (n - 1), 2))
          followers.get(leader!)!.add(follower!);
        for (const [leader, set] of followers) expect(set.size, `followers of ${leader}`).toBe(n - 1);
      }),
    );
  });
});

describe('on a loaded cluster', () => {
  it('fills the least loaded brokers first', () => {
    const load = new Map([
      [1, { replicas: 5, leaders: 2 }],
      [2, { replicas: 1, leaders: 1 }],
      [3, { replicas: 0, leaders: 0 }],
    ]);
    expect(placeReplicas([1, 2, 3], 1, 2, load)).toEqual([[3, 2]]);
  });

  it('keeps replica counts within one of each other when they were', () => {
    const loaded = cluster.chain(({ ids, rf }) =>
      fc.record({
        ids: fc.constant(ids),
        rf: fc.constant(rf),
        base: fc.nat(5),
        extra: fc.array(fc.boolean(), { minLength: ids.length, maxLength: ids.length }),
      }),
    );
    fc.assert(
      fc.property(loaded, fc.nat(40), ({ ids, rf, base, extra }, partitions) => {
        const load = new Map(ids.map((id, i) => [id, { replicas: base + (extra[i] ? 1 : 0), leaders: 0 }]));
        const { replicas } = counts(ids, placeReplicas(ids, partitions, rf, load), load);
        expect(spread(replicas)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('leads from the replica that leads the fewest', () => {
    const load = new Map([
      [1, { replicas: 1, leaders: 1 }],
      [2, { replicas: 1, leaders: 0 }],
    ]);
    expect(placeReplicas([1, 2], 1, 2, load)).toEqual([[2, 1]]);
  });
});

describe('refuses', () => {
  function refusal(fn: () => unknown): string {
    try {
      fn();
    } catch (err) {
      if (isWeirError(err)) return err.message;
      throw err;
    }
    throw new Error('did not throw');
  }

  it('a replication factor above the live brokers, naming them', () => {
    expect(refusal(() => placeReplicas([3, 1], 4, 3))).toBe(
      'INVALID_REPLICATION_FACTOR: invalid replication factor: replication factor 3 needs 3 live brokers; 2 live (1, 3)',
    );
    expect(refusal(() => placeReplicas([], 1, 1))).toMatch(/^INVALID_REPLICATION_FACTOR.*; none is live$/);
  });

  it('counts a broker listed twice once', () => {
    expect(refusal(() => placeReplicas([1, 1], 1, 2))).toMatch(/needs 2 live brokers; 1 live \(1\)/);
  });

  it('a replication factor that is not a positive integer', () => {
    for (const rf of [0, -1, 1.5, Number.NaN])
      expect(refusal(() => placeReplicas([1, 2], 1, rf))).toMatch(/^INVALID_REPLICATION_FACTOR/);
  });

  it('a partition count that is not a count', () => {
    for (const n of [-1, 0.5]) expect(refusal(() => placeReplicas([1], n, 1))).toMatch(/^INVALID_PARTITIONS/);
    expect(placeReplicas([1], 0, 1)).toEqual([]);
  });
});
