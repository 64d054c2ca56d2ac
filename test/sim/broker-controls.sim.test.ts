// Negative controls of the broker simulation: each deliberately broken variant of the Raft core
// (RaftFaults), run by real brokers over real storage, must be caught by the checker, with the kind
// of violation that rule exists to prevent, within the CI seeds.

import { describe, expect, it } from 'vitest';
import type { BrokerSimOptions } from './broker-sim.js';
import { firstCaught } from './broker-sim-seeds.js';
import type { ViolationKind } from './raft-checker.js';

const LIMIT = 150;
const LOSS: ViolationKind[] = ['leader-completeness', 'ack-lost', 'committed-changed'];

const controls: [string, BrokerSimOptions, ViolationKind[]][] = [
  ['commit on a minority', { faults: { commitOnMinority: true } }, LOSS],
  // Under flush.messages=1 every broker may lose power at once: an entry counted before its fsync
  // is then lost though committed.
  [
    'counting an entry before its fsync, seen through a power loss',
    { faults: { countBeforeFsync: true } },
    LOSS,
  ],
  // Under the page-cache policy a broker that lost power may have lost entries it acknowledged:
  // restarted as if whole, its vote elects a leader without them.
  ['a broker restarted after a power loss without its amnesia', { forgetAmnesia: true }, LOSS],
];

describe.skipIf(process.env['WEIR_BSIM_SEED'] !== undefined || process.env['WEIR_BSIM_SEEDS'] !== undefined)(
  'broker simulation negative controls',
  () => {
    it.each(controls)('%s is caught', { timeout: 120_000 }, async (name, options, kinds) => {
      const caught = await firstCaught(options, kinds, LIMIT);
      console.log(`broker control "${name}": ${JSON.stringify(caught)}`);
      expect(caught).toHaveProperty('seed');
    });
  },
);
