// Runs the Raft simulation over a range of seeds as vitest tests, and replays one seed.
//
//   npx vitest run test/sim                          the CI share (seeds 1-4,000 over two files)
//   WEIR_SIM_SEED=123 npx vitest run test/sim/raft.sim.test.ts     replays seed 123 with a trace
//   WEIR_SIM_FROM=4001 WEIR_SIM_SEEDS=100000 npx vitest run test/sim/raft.sim.test.ts
//                                                    an off-CI campaign of 100,000 more seeds
//
// A failing seed prints one line naming it and the command that replays it.

import { expect, it } from 'vitest';
import { Violation, noCounts, type CheckerCounts, type ViolationKind } from './raft-checker.js';
import { RaftSimulation, type SimOptions, type SimResult } from './raft-sim.js';

export const REPLAY_FILE = 'test/sim/raft.sim.test.ts';

export function replayCommand(seed: number): string {
  return `WEIR_SIM_SEED=${seed} npx vitest run ${REPLAY_FILE}`;
}

interface Totals extends CheckerCounts {
  seeds: number;
  byReplicas: Record<number, number>;
  crashes: number;
  powerLosses: number;
  truncations: number;
  deletions: number;
  wipes: number;
  pageCacheSeeds: number;
  duplicatesAnswered: number;
  membershipSeeds: number;
  membershipChanges: number;
}

function add(t: Totals, r: SimResult): void {
  t.seeds++;
  t.byReplicas[r.replicas] = (t.byReplicas[r.replicas] ?? 0) + 1;
  for (const k of Object.keys(r.counts) as (keyof CheckerCounts)[]) t[k] += r.counts[k];
  t.crashes += r.crashes;
  t.powerLosses += r.powerLosses;
  t.truncations += r.truncations;
  t.deletions += r.deletions;
  t.wipes += r.wipes;
  if (r.pageCache) t.pageCacheSeeds++;
  t.duplicatesAnswered += r.duplicatesAnswered;
  if (r.membershipChanges > 0) t.membershipSeeds++;
  t.membershipChanges += r.membershipChanges;
}

/** Seeds [from, from + count) must all pass; prints the totals and the time per seed. */
// Each seed runs three liveness stages once healed (raft-sim.ts), the last killing a quiet group's
// leader: about twice the virtual time per seed of the single stage before.
export function seedsTest(from: number, count: number, timeoutMs = 360_000): void {
  it(
    `seeds ${from}-${from + count - 1}: safe at every step, converge once healed`,
    { timeout: timeoutMs },
    () => {
      const totals: Totals = {
        ...noCounts(),
        seeds: 0,
        byReplicas: {},
        crashes: 0,
        powerLosses: 0,
        truncations: 0,
        deletions: 0,
        wipes: 0,
        pageCacheSeeds: 0,
        duplicatesAnswered: 0,
        membershipSeeds: 0,
        membershipChanges: 0,
      };
      const failures: string[] = [];
      const started = performance.now();
      for (let seed = from; seed < from + count; seed++) {
        try {
          add(totals, new RaftSimulation(seed).run());
        } catch (e) {
          const line = `raft sim: seed ${seed} failed (${(e as Error).message}); replay: ${replayCommand(seed)}`;
          console.log(line);
          failures.push(line);
        }
      }
      const ms = performance.now() - started;
      console.log(
        `raft sim: ${count} seeds from ${from} in ${(ms / 1000).toFixed(1)} s, ${(ms / count).toFixed(2)} ms/seed`,
      );
      console.log(`raft sim: ${JSON.stringify(totals)}`);
      expect(failures).toEqual([]);
    },
  );
}

/** Replays one seed with its trace. */
export function replayTest(seed: number): void {
  it(`replays seed ${seed}`, () => {
    const result = new RaftSimulation(seed, { trace: (line) => console.log(line) }).run();
    console.log(JSON.stringify(result));
  });
}

/**
 * The first seed in [1, limit] at which a broken variant fails with one of `kinds`, or the kinds
 * seen if none did.
 */
export function firstCaught(
  options: SimOptions,
  kinds: readonly ViolationKind[],
  limit: number,
): { seed: number; message: string } | { seen: string[] } {
  const seen = new Set<string>();
  for (let seed = 1; seed <= limit; seed++) {
    try {
      new RaftSimulation(seed, options).run();
    } catch (e) {
      if (!(e instanceof Violation)) throw e;
      if (kinds.includes(e.kind)) return { seed, message: e.message };
      seen.add(e.kind);
    }
  }
  return { seen: [...seen] };
}
