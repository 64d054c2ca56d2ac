// The second half of the Raft simulation's CI seeds, in a file of its own so vitest runs the two
// halves on both cores. A failing seed replays through raft.sim.test.ts like any other.

import { describe } from 'vitest';
import { seedsTest } from './raft-sim-seeds.js';

describe.skipIf(process.env['WEIR_SIM_SEED'] !== undefined || process.env['WEIR_SIM_SEEDS'] !== undefined)(
  'raft simulation, second half',
  () => {
    seedsTest(2_001, 2_000);
  },
);
