// The Raft simulation with every replica leading under a replication throttle
// (broker/replica/replication-throttle.ts on the virtual clock): appends to members catching up
// wait for the bucket, under every fault of the seeds' scenarios. The group must stay safe and
// converge once healed within the same bound as without one, and the throttle must have held
// appends back in some seeds (or it proved nothing).

import { describe, expect, it } from 'vitest';
import { RaftSimulation } from './raft-sim.js';

const SEEDS = 200;
/** Bytes per second of virtual time: a few of the simulation's 10-20 byte batches per tick. */
const THROTTLE_BYTES = 5_000;

describe.skipIf(process.env['WEIR_SIM_SEED'] !== undefined || process.env['WEIR_SIM_SEEDS'] !== undefined)(
  'raft simulation under a replication throttle',
  () => {
    it(`seeds 1-${SEEDS}: safe at every step, converge once healed`, () => {
      const failures: string[] = [];
      let throttledSeeds = 0;
      let catchUpBytes = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        const sim = new RaftSimulation(seed, { throttleBytes: THROTTLE_BYTES });
        try {
          sim.run();
        } catch (e) {
          failures.push(`seed ${seed}: ${(e as Error).message}`);
        }
        if (sim.throttleTotals.throttledSeconds > 0) throttledSeeds++;
        catchUpBytes += sim.throttleTotals.catchUpBytes;
      }
      console.log(
        `raft sim under a throttle: ${SEEDS} seeds, ${throttledSeeds} held appends back, ${catchUpBytes} bytes to members catching up`,
      );
      expect(failures).toEqual([]);
      expect(throttledSeeds).toBeGreaterThan(0);
    }, 360_000);
  },
);
