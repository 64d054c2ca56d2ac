// New partitions in the Raft simulation: groups of two to five replicas that all start without
// state, so amnesiac, as the replicas a broker creates for a new partition do (it cannot tell a new
// replica from a wiped one). Under every fault of the seeds' scenarios they must elect, commit and
// converge, and lose nothing acknowledged. Groups of an even size are the ones the rule of odd
// sizes (a majority of whole replicas) leaves stuck; see VoteTally.

import { describe, expect, it } from 'vitest';
import { RaftSimulation } from './raft-sim.js';

const SEEDS = 100;

describe.skipIf(process.env['WEIR_SIM_SEED'] !== undefined || process.env['WEIR_SIM_SEEDS'] !== undefined)(
  'raft simulation of new partitions',
  () => {
    it.each([2, 3, 4, 5])(
      'groups of %i that start amnesiac: safe, and converge once healed',
      (replicas) => {
        const failures: string[] = [];
        let committed = 0;
        for (let seed = 1; seed <= SEEDS; seed++) {
          try {
            const result = new RaftSimulation(seed, {
              scenario: { replicas, membership: false, freshAmnesiac: true },
            }).run();
            committed += result.counts.acks;
          } catch (e) {
            failures.push(`seed ${seed}: ${(e as Error).message}`);
          }
        }
        console.log(
          `raft sim, new partitions of ${replicas}: ${SEEDS} seeds, ${committed} acknowledgements checked`,
        );
        expect(failures).toEqual([]);
        expect(committed).toBeGreaterThan(0);
      },
      120_000,
    );
  },
);
