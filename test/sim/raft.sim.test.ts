// The Raft core (broker/raft) in the seeded simulation (raft-sim.ts): the first half of the CI
// seeds, a replay of one seed, or an off-CI campaign (see raft-sim-seeds.ts for the commands).

import { describe } from 'vitest';
import { replayTest, seedsTest } from './raft-sim-seeds.js';

const replay = process.env['WEIR_SIM_SEED'];
const campaign = process.env['WEIR_SIM_SEEDS'];

describe('raft simulation', () => {
  if (replay !== undefined) replayTest(Number(replay));
  else if (campaign !== undefined) seedsTest(Number(process.env['WEIR_SIM_FROM'] ?? 1), Number(campaign), 0);
  else seedsTest(1, 2_000);
});
