// Whole brokers replicating over simulated disks and a simulated network (broker-sim.ts): the CI
// seeds, a replay of one seed, or an off-CI campaign (see broker-sim-seeds.ts for the commands).

import { describe, expect, it } from 'vitest';
import { BrokerSimulation } from './broker-sim.js';
import { replayTest, seedsTest } from './broker-sim-seeds.js';

const replay = process.env['WEIR_BSIM_SEED'];
const campaign = process.env['WEIR_BSIM_SEEDS'];

describe('broker simulation', () => {
  if (replay !== undefined) replayTest(Number(replay));
  else if (campaign !== undefined) seedsTest(Number(process.env['WEIR_BSIM_FROM'] ?? 1), Number(campaign), 0);
  else {
    it('replays a seed exactly', async () => {
      const lines = async (seed: number) => {
        const trace: string[] = [];
        await new BrokerSimulation(seed, { trace: (line) => trace.push(line) }).run();
        return trace;
      };
      const first = await lines(5);
      expect(first.length).toBeGreaterThan(100);
      expect(await lines(5)).toEqual(first);
    });
    seedsTest(1, 150);
  }
});
