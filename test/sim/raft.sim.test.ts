// The Raft core (broker/raft) in the seeded simulation (raft-sim.ts): the first half of the CI
// seeds, a replay of one seed, or an off-CI campaign (see raft-sim-seeds.ts for the commands).

import { describe, expect, it } from 'vitest';
import { RaftSimulation } from './raft-sim.js';
import { replayTest, seedsTest } from './raft-sim-seeds.js';

const replay = process.env['WEIR_SIM_SEED'];
const campaign = process.env['WEIR_SIM_SEEDS'];

describe('raft simulation', () => {
  if (replay !== undefined) replayTest(Number(replay));
  else if (campaign !== undefined) seedsTest(Number(process.env['WEIR_SIM_FROM'] ?? 1), Number(campaign), 0);
  else {
    it('replays a seed exactly', () => {
      const lines = (seed: number) => {
        const trace: string[] = [];
        new RaftSimulation(seed, { trace: (line) => trace.push(line) }).run();
        return trace;
      };
      const first = lines(5);
      expect(first.length).toBeGreaterThan(100);
      expect(lines(5)).toEqual(first);
    });
    seedsTest(1, 2_000);
  }
});
