// Negative controls: each deliberately broken variant of the Raft core (RaftFaults) must be caught
// by the checker, with the kind of violation that rule exists to prevent, within the CI seeds.

import { describe, expect, it } from 'vitest';
import type { SimOptions } from './raft-sim.js';
import type { ViolationKind } from './raft-checker.js';
import { firstCaught } from './raft-sim-seeds.js';

const LIMIT = 2_000;
const LOSS: ViolationKind[] = ['leader-completeness', 'ack-lost', 'committed-changed'];

// Each broken variant, the violations that show it, and whether the durable-log comparison is on
// (by default it is on under the fsync policy, off under the page-cache one).
const controls: [string, SimOptions, ViolationKind[]][] = [
  ['commit on a minority', { faults: { commitOnMinority: true } }, LOSS],
  ['no truncation of a diverging suffix', { faults: { noTruncate: true } }, ['log-matching']],
  ['a vote for a candidate whose log is behind', { faults: { voteForStaleLog: true } }, LOSS],
  [
    'counting an entry before its fsync',
    { faults: { countBeforeFsync: true }, strictDurable: true },
    ['hw-beyond-durable'],
  ],
  // The same bug with the durable-log comparison off: what it costs is committed entries lost to
  // power losses (a leader elected without them).
  [
    'counting an entry before its fsync, seen through a power loss',
    { faults: { countBeforeFsync: true }, strictDurable: false },
    LOSS,
  ],
  // An amnesiac replica's grant and copy counted like a whole one's (a power loss under the
  // page-cache policy, or a wiped disk, then elects a leader without acknowledged entries, or lets
  // a deposed leader commit).
  ['an amnesiac replica’s grant and copy counted', { faults: { ignoreAmnesia: true } }, LOSS],
  // A leader that keeps what a follower's earlier incarnation acknowledged takes its rejections for
  // stale ones and never backs up: the follower is never caught up. (Amnesia keeps this from
  // losing data: the follower cannot vote until it is caught up.)
  ['progress kept across a follower’s incarnations', { faults: { keepStaleProgress: true } }, ['liveness']],
  // A new leader that rebuilds producer state from committed entries only appends a retry of a
  // batch its log already holds a second time.
  ['producer state rebuilt from committed entries only', { producerStateFromCommitted: true }, ['duplicate']],
  // Retention that drops the producer state of the batches it removes: a producer's retry whose
  // original a new leader's retention took is appended again. Rare under the seeds' own retention
  // rates, so the control runs producers, retention, crashes and partitions at their most.
  [
    'producer state dropped by retention',
    {
      producerStateLostToRetention: true,
      scenario: { producers: 3, retentionRate: 0.2, crashRate: 0.05, partitionRate: 0.05 },
    },
    ['duplicate'],
  ],
  // Learners counted as voters: a leader commits with learners that a later election ignores.
  ['learners counted toward the majority', { faults: { countLearners: true } }, LOSS],
  // A second membership change started while the first is in flight (the simulation then starts
  // two at once): two voters change in one step, and a majority of the old voters and one of the
  // new need not meet, so two leaders can be elected in one term.
  [
    'a membership change started while one is in flight',
    { faults: { overlappingChanges: true } },
    ['election-safety', ...LOSS],
  ],
  // Groups of an even size held to the odd sizes' rule (a majority of whole replicas to elect and
  // to commit): a new partition's two replicas both start amnesiac, elect one, and the leader never
  // commits with its amnesiac follower, so never catches it up.
  [
    'an even-sized group that needs a whole majority',
    {
      faults: { wholeMajorityOnly: true },
      scenario: { replicas: 2, membership: false, freshAmnesiac: true },
    },
    ['liveness'],
  ],
  // Quiescence that checks nothing: a leader goes quiet with a follower behind, and the follower
  // goes quiet on the leader's word, so nothing brings it up to date while the group is idle.
  ['a group that goes quiet while a follower is behind', { faults: { quiesceBehind: true } }, ['liveness']],
  // Quiet followers deaf to the failure detector: their leader dies and none of them campaigns.
  ['quiet followers that ignore their leader’s death', { faults: { ignorePeerDown: true } }, ['liveness']],
];

describe.skipIf(process.env['WEIR_SIM_SEED'] !== undefined || process.env['WEIR_SIM_SEEDS'] !== undefined)(
  'raft simulation negative controls',
  () => {
    // Some controls search a few hundred seeds (overlapping changes: 258 at last count).
    it.each(controls)(
      '%s is caught',
      (name, options, kinds) => {
        const caught = firstCaught(options, kinds, LIMIT);
        console.log(`raft control "${name}": ${JSON.stringify(caught)}`);
        expect(caught).toHaveProperty('seed');
      },
      180_000,
    );
  },
);
