// Negative controls: each deliberately broken variant of the Raft core (RaftFaults) must be caught
// by the checker, with the kind of violation that rule exists to prevent, within the CI seeds.

import { describe, expect, it } from 'vitest';
import type { RaftFaults } from '../../broker/raft/raft-config.js';
import type { ViolationKind } from './raft-checker.js';
import { firstCaught } from './raft-sim-seeds.js';

const LIMIT = 2_000;
const LOSS: ViolationKind[] = ['leader-completeness', 'ack-lost', 'committed-changed'];

const controls: [string, RaftFaults, ViolationKind[], boolean][] = [
  ['commit on a minority', { commitOnMinority: true }, LOSS, true],
  ['no truncation of a diverging suffix', { noTruncate: true }, ['log-matching'], true],
  ['a vote for a candidate whose log is behind', { voteForStaleLog: true }, LOSS, true],
  ['counting an entry before its fsync', { countBeforeFsync: true }, ['hw-beyond-durable'], true],
  // The same bug with the durable-log comparison off: what it costs is committed entries lost to
  // power losses (a leader elected without them).
  ['counting an entry before its fsync, seen through a power loss', { countBeforeFsync: true }, LOSS, false],
];

describe.skipIf(process.env['WEIR_SIM_SEED'] !== undefined || process.env['WEIR_SIM_SEEDS'] !== undefined)(
  'raft simulation negative controls',
  () => {
    it.each(controls)('%s is caught', (name, faults, kinds, strict) => {
      const caught = firstCaught(faults, kinds, LIMIT, strict);
      console.log(`raft control "${name}": ${JSON.stringify(caught)}`);
      expect(caught).toHaveProperty('seed');
    });
  },
);
