// The assignors give every subscribed partition to exactly one member subscribed to its topic; range
// and round-robin match Kafka's documented examples; sticky stays balanced and moves only what it
// must when members join or leave.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ASSIGNORS,
  assign,
  rangeAssign,
  roundRobinAssign,
  stickyAssign,
  type Assignment,
  type GroupMember,
  type TopicPartition,
} from '../../../broker/group/assignors.js';

const member = (memberId: string, topics: string[], owned: TopicPartition[] = []): GroupMember => ({
  memberId,
  topics,
  owned,
});
const asObject = (a: Assignment): Record<string, string[]> =>
  Object.fromEntries([...a].map(([id, list]) => [id, list.map((x) => `${x.topic}-${x.partition}`)]));

describe('range', () => {
  it('splits 3 partitions between 2 members as [0, 1] and [2]', () => {
    const a = rangeAssign([member('member-2', ['t']), member('member-1', ['t'])], new Map([['t', 3]]));
    expect(asObject(a)).toEqual({ 'member-1': ['t-0', 't-1'], 'member-2': ['t-2'] });
  });

  it("matches Kafka's example: two topics of 3 partitions, two consumers", () => {
    const a = rangeAssign(
      [member('C0', ['t0', 't1']), member('C1', ['t0', 't1'])],
      new Map([
        ['t0', 3],
        ['t1', 3],
      ]),
    );
    expect(asObject(a)).toEqual({ C0: ['t0-0', 't0-1', 't1-0', 't1-1'], C1: ['t0-2', 't1-2'] });
  });
});

describe('roundrobin', () => {
  it("matches Kafka's example: two topics of 3 partitions, two consumers", () => {
    const a = roundRobinAssign(
      [member('C0', ['t0', 't1']), member('C1', ['t0', 't1'])],
      new Map([
        ['t0', 3],
        ['t1', 3],
      ]),
    );
    expect(asObject(a)).toEqual({ C0: ['t0-0', 't0-2', 't1-1'], C1: ['t0-1', 't1-0', 't1-2'] });
  });
});

const TOPICS = ['a', 'b', 'c'];
const groupArb = fc
  .record({
    partitions: fc.tuple(
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: 0, max: 12 }),
    ),
    members: fc.uniqueArray(
      fc.record({
        memberId: fc.stringMatching(/^m[0-9]{1,3}$/),
        topics: fc.subarray(TOPICS, { minLength: 1 }),
        owned: fc.array(
          fc.record({ topic: fc.constantFrom(...TOPICS), partition: fc.integer({ min: 0, max: 14 }) }),
          { maxLength: 8 },
        ),
      }),
      { minLength: 1, maxLength: 8, selector: (m) => m.memberId },
    ),
  })
  .map(({ partitions, members }) => ({
    members: members as GroupMember[],
    partitions: new Map(TOPICS.map((t, i) => [t, partitions[i] as number])),
  }));

describe.each(ASSIGNORS)('%s, for any group', (name) => {
  it('gives each subscribed partition to exactly one member subscribed to its topic, and is deterministic', () => {
    fc.assert(
      fc.property(groupArb, ({ members, partitions }) => {
        const a = assign(name, members, partitions);
        expect([...a.keys()].sort()).toEqual(members.map((m) => m.memberId).sort());
        const seen = new Map<string, string>();
        for (const [id, list] of a) {
          const m = members.find((x) => x.memberId === id) as GroupMember;
          for (const x of list) {
            expect(m.topics).toContain(x.topic);
            expect(x.partition).toBeLessThan(partitions.get(x.topic) ?? 0);
            const k = `${x.topic}-${x.partition}`;
            expect(seen.has(k), `${k} assigned twice`).toBe(false);
            seen.set(k, id);
          }
        }
        for (const t of new Set(members.flatMap((m) => m.topics))) {
          for (let p = 0; p < (partitions.get(t) ?? 0); p++)
            expect(seen.has(`${t}-${p}`), `${t}-${p} unassigned`).toBe(true);
        }
        expect(asObject(assign(name, [...members].reverse(), partitions))).toEqual(asObject(a));
      }),
      { numRuns: 300 },
    );
  });
});

/** Members that all subscribe to every topic, each owning what a previous sticky run gave it. */
const homogeneousArb = fc.record({
  count: fc.integer({ min: 1, max: 9 }),
  partitions: fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })),
});

function evenGroup(
  count: number,
  partitions: Map<string, number>,
): { members: GroupMember[]; assignment: Assignment } {
  const members = Array.from({ length: count }, (_, i) => member(`m${i}`, ['a', 'b']));
  const assignment = stickyAssign(members, partitions);
  return { members: members.map((m) => ({ ...m, owned: assignment.get(m.memberId) ?? [] })), assignment };
}

const loads = (a: Assignment): number[] => [...a.values()].map((l) => l.length);

describe('sticky', () => {
  it('balances members with the same subscription within one partition', () => {
    fc.assert(
      fc.property(homogeneousArb, ({ count, partitions: [pa, pb] }) => {
        const { assignment } = evenGroup(
          count,
          new Map([
            ['a', pa],
            ['b', pb],
          ]),
        );
        expect(Math.max(...loads(assignment)) - Math.min(...loads(assignment))).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('when a member joins, moves only the partitions the newcomer needs, and stays balanced', () => {
    fc.assert(
      fc.property(homogeneousArb, ({ count, partitions: [pa, pb] }) => {
        const partitions = new Map([
          ['a', pa],
          ['b', pb],
        ]);
        const { members, assignment: before } = evenGroup(count, partitions);
        const after = stickyAssign([...members, member('new', ['a', 'b'])], partitions);
        const owner = (a: Assignment): Map<string, string> =>
          new Map(
            [...a].flatMap(([id, list]) => list.map((x) => [`${x.topic}-${x.partition}`, id] as const)),
          );
        const was = owner(before);
        const moved = [...owner(after)].filter(([k, id]) => was.get(k) !== id);
        // Every moved partition went to the newcomer, and the newcomer got exactly its fair share.
        expect(moved.every(([, id]) => id === 'new')).toBe(true);
        expect(moved.length).toBe(Math.floor((pa + pb) / (count + 1)));
        expect(Math.max(...loads(after)) - Math.min(...loads(after))).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('when a member leaves, moves only its partitions', () => {
    fc.assert(
      fc.property(
        homogeneousArb.filter((g) => g.count >= 2),
        ({ count, partitions: [pa, pb] }) => {
          const partitions = new Map([
            ['a', pa],
            ['b', pb],
          ]);
          const { members, assignment: before } = evenGroup(count, partitions);
          const after = stickyAssign(members.slice(1), partitions);
          for (const m of members.slice(1)) {
            const kept = before.get(m.memberId) ?? [];
            const now = after.get(m.memberId) ?? [];
            for (const x of kept) expect(now).toContainEqual(x);
          }
          expect(Math.max(...loads(after)) - Math.min(...loads(after))).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});
