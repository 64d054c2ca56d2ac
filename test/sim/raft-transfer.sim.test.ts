// Leadership transfer in the Raft simulation: leaders hand their leadership to another voter at
// random (as the broker's preferred-leader balancer does), through every fault of the seeds'
// scenarios, and nothing acknowledged is lost, no term has two leaders, and groups converge.
// The negative control takes the leadership over without an election, and is caught.

import { describe, expect, it } from 'vitest';
import { firstCaught } from './raft-sim-seeds.js';
import { RaftSimulation } from './raft-sim.js';

const SEEDS = 300;
const TRANSFERS = { transferRate: 0.05 };

describe.skipIf(process.env['WEIR_SIM_SEED'] !== undefined || process.env['WEIR_SIM_SEEDS'] !== undefined)(
  'raft simulation with leadership transfers',
  () => {
    it('is safe at every step and converges once healed', () => {
      const failures: string[] = [];
      let transfers = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        try {
          transfers += new RaftSimulation(seed, { scenario: TRANSFERS }).run().transfers;
        } catch (e) {
          failures.push(`seed ${seed}: ${(e as Error).message}`);
        }
      }
      console.log(`raft sim with transfers: ${SEEDS} seeds, ${transfers} transfers`);
      expect(failures).toEqual([]);
      expect(transfers).toBeGreaterThan(SEEDS);
    }, 180_000);

    it('catches a transfer that takes the leadership without an election', () => {
      const caught = firstCaught(
        { scenario: TRANSFERS, faults: { transferWithoutElection: true } },
        ['election-safety'],
        SEEDS,
      );
      console.log(`raft control "transfer without an election": ${JSON.stringify(caught)}`);
      expect(caught).toHaveProperty('seed');
    });
  },
);
