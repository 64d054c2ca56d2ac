// Runs the broker simulation (broker-sim.ts) over a range of seeds as vitest tests, and replays one.
//
//   npx vitest run test/sim/broker.sim.test.ts        the CI share (seeds 1-150)
//   WEIR_BSIM_SEED=123 npx vitest run test/sim/broker.sim.test.ts       replays seed 123 with a trace
//   WEIR_BSIM_FROM=151 WEIR_BSIM_SEEDS=5000 npx vitest run test/sim/broker.sim.test.ts
//                                                     an off-CI campaign of 5,000 more seeds
//
// A failing seed prints one line naming it and the command that replays it.

import { expect, it } from 'vitest';
import { BrokerSimulation, type BrokerSimOptions, type BrokerSimResult } from './broker-sim.js';
import { Violation, noCounts, type CheckerCounts, type ViolationKind } from './raft-checker.js';

/** A seed slower than this is named in the output (the typical one takes a fifth of a second). */
const SLOW_SEED_MS = 5_000;

export const REPLAY_FILE = 'test/sim/broker.sim.test.ts';

export function replayCommand(seed: number): string {
  return `WEIR_BSIM_SEED=${seed} npx vitest run ${REPLAY_FILE}`;
}

interface Totals extends CheckerCounts {
  seeds: number;
  byPolicy: Record<string, number>;
  byPartitions: Record<number, number>;
  events: number;
  committed: number;
  clientAcks: number;
  crashes: number;
  powerLosses: number;
}

function add(t: Totals, r: BrokerSimResult): void {
  t.seeds++;
  t.byPolicy[r.policy] = (t.byPolicy[r.policy] ?? 0) + 1;
  t.byPartitions[r.partitions] = (t.byPartitions[r.partitions] ?? 0) + 1;
  for (const k of Object.keys(r.counts) as (keyof CheckerCounts)[]) t[k] += r.counts[k];
  t.events += r.events;
  t.committed += r.committed;
  t.clientAcks += r.acks;
  t.crashes += r.crashes;
  t.powerLosses += r.powerLosses;
}

/** Seeds [from, from + count) must all pass; prints the totals and the time per seed. */
export function seedsTest(from: number, count: number, timeoutMs = 180_000): void {
  it(
    `seeds ${from}-${from + count - 1}: safe at every step, converge once healed`,
    { timeout: timeoutMs },
    async () => {
      const totals: Totals = {
        ...noCounts(),
        seeds: 0,
        byPolicy: {},
        byPartitions: {},
        events: 0,
        committed: 0,
        clientAcks: 0,
        crashes: 0,
        powerLosses: 0,
      };
      const failures: string[] = [];
      const started = performance.now();
      for (let seed = from; seed < from + count; seed++) {
        const seedStarted = performance.now();
        try {
          add(totals, await new BrokerSimulation(seed).run());
          const seedMs = performance.now() - seedStarted;
          if (seedMs > SLOW_SEED_MS)
            console.log(`broker sim: seed ${seed} took ${(seedMs / 1000).toFixed(1)} s`);
        } catch (e) {
          const line = `broker sim: seed ${seed} failed (${(e as Error).message}); replay: ${replayCommand(seed)}`;
          console.log(line);
          failures.push(line);
        }
      }
      const ms = performance.now() - started;
      console.log(
        `broker sim: ${count} seeds from ${from} in ${(ms / 1000).toFixed(1)} s, ${(ms / count).toFixed(1)} ms/seed`,
      );
      console.log(`broker sim: ${JSON.stringify(totals)}`);
      expect(failures).toEqual([]);
    },
  );
}

/** Replays one seed with its trace. */
export function replayTest(seed: number): void {
  it(`replays seed ${seed}`, { timeout: 0 }, async () => {
    // One write at the end: a console.log per line costs more than the run.
    const lines: string[] = [];
    try {
      lines.push(
        JSON.stringify(await new BrokerSimulation(seed, { trace: (line) => lines.push(line) }).run()),
      );
    } finally {
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  });
}

/**
 * The first seed in [1, limit] at which a broken variant fails with one of `kinds`, or the kinds
 * seen if none did.
 */
export async function firstCaught(
  options: BrokerSimOptions,
  kinds: readonly ViolationKind[],
  limit: number,
): Promise<{ seed: number; message: string } | { seen: string[] }> {
  const seen = new Set<string>();
  for (let seed = 1; seed <= limit; seed++) {
    try {
      await new BrokerSimulation(seed, options).run();
    } catch (e) {
      if (!(e instanceof Violation)) throw e;
      if (kinds.includes(e.kind)) return { seed, message: e.message };
      seen.add(e.kind);
    }
  }
  return { seen: [...seen] };
}
