// Replica reassignment in the Raft simulation (raft-sim-moves.ts): the group moved from target to
// random target, of one to five replicas, disjoint or not, the leader leaving or not, each move
// carried out by its leaders with the broker's own nextReassignStep, through every fault of the
// seeds' scenarios. Safe at every step, every move reported done has its target committed, and the
// move in flight finishes once the faults stop.
//
//   npx vitest run test/sim/raft-moves.sim.test.ts            the CI share and the controls
//   WEIR_SIM_SEED=123 npx vitest run test/sim/raft-moves.sim.test.ts      replays seed 123, traced
//   WEIR_SIM_FROM=1 WEIR_SIM_SEEDS=3000 npx vitest run test/sim/raft-moves.sim.test.ts  a campaign
//
// The negative controls: a replica a move creates that takes the target as its bootstrap voters
// (it and the target's other new replicas, all amnesiac, are a majority of the configuration they
// believe in, so their grants count and they elect one of themselves with an empty log; a target of
// one elects itself at once); a replica brought back to a group it left that campaigns and votes
// while it copies the log; and a leader that never makes an amnesiac learner of an idle group
// whole (the move never finishes).

import { describe, expect, it } from 'vitest';
import type { ViolationKind } from './raft-checker.js';
import type { MovesCounts } from './raft-sim-moves.js';
import { RaftSimulation, type SimOptions } from './raft-sim.js';
import { firstCaught } from './raft-sim-seeds.js';

const SEEDS = 150;
const MOVES: SimOptions = { scenario: { reassign: true } };
const LOSS: ViolationKind[] = ['leader-completeness', 'ack-lost', 'committed-changed'];
const SPLIT: ViolationKind[] = ['election-safety', 'log-matching', 'move-uncommitted', ...LOSS];

const replay = process.env['WEIR_SIM_SEED'];
const campaign = process.env['WEIR_SIM_SEEDS'];

function replayCommand(seed: number): string {
  return `WEIR_SIM_SEED=${seed} npx vitest run test/sim/raft-moves.sim.test.ts`;
}

/** Seeds [from, from + count) with moves: every one passes; the moves and faults they ran. */
function movesTest(from: number, count: number, timeoutMs: number): void {
  it(
    `seeds ${from}-${from + count - 1} with moves: safe at every step, moves finish once healed`,
    () => {
      const totals: MovesCounts & { crashes: number; powerLosses: number; wipes: number; acks: number } = {
        started: 0,
        done: 0,
        disjoint: 0,
        leaderLeaving: 0,
        handovers: 0,
        changes: 0,
        crashes: 0,
        powerLosses: 0,
        wipes: 0,
        acks: 0,
      };
      const failures: string[] = [];
      const started = performance.now();
      for (let seed = from; seed < from + count; seed++) {
        try {
          const r = new RaftSimulation(seed, MOVES).run();
          for (const k of Object.keys(r.moves!) as (keyof MovesCounts)[]) totals[k] += r.moves![k];
          totals.crashes += r.crashes;
          totals.powerLosses += r.powerLosses;
          totals.wipes += r.wipes;
          totals.acks += r.counts.acks;
        } catch (e) {
          const line = `raft sim with moves: seed ${seed} failed (${(e as Error).message}); replay: ${replayCommand(seed)}`;
          console.log(line);
          failures.push(line);
        }
      }
      const ms = performance.now() - started;
      console.log(
        `raft sim with moves: ${count} seeds from ${from} in ${(ms / 1000).toFixed(1)} s: ${JSON.stringify(totals)}`,
      );
      expect(failures).toEqual([]);
      // The scenario does what it says: moves finish, disjoint ones and ones the leader leaves.
      expect(totals.done).toBeGreaterThan(count);
      expect(totals.disjoint).toBeGreaterThan(0);
      expect(totals.leaderLeaving).toBeGreaterThan(0);
      expect(totals.handovers).toBeGreaterThan(0);
    },
    timeoutMs,
  );
}

describe('raft simulation with moves', () => {
  if (replay !== undefined) {
    it(`replays seed ${replay} with moves`, () => {
      const result = new RaftSimulation(Number(replay), {
        ...MOVES,
        trace: (line) => console.log(line),
      }).run();
      console.log(JSON.stringify(result));
    });
    return;
  }
  if (campaign !== undefined) {
    movesTest(Number(process.env['WEIR_SIM_FROM'] ?? 1), Number(campaign), 0);
    return;
  }
  movesTest(1, SEEDS, 180_000);

  const controls: [string, SimOptions, ViolationKind[]][] = [
    // A target of one replica: it joins as a group of one, not amnesiac, and elects itself at once.
    [
      'a new replica that takes the target as its bootstrap voters',
      { ...MOVES, joinWithTargetVoters: true },
      SPLIT,
    ],
    // Targets of two or more: the new replicas, all amnesiac, are a majority amnesiac of the
    // configuration they believe in, so their grants count as whole ones.
    [
      'new replicas that take a target of several as their bootstrap voters',
      { scenario: { reassign: true, targetSizes: [2, 3, 4, 5] }, joinWithTargetVoters: true },
      SPLIT,
    ],
    // A replica a move brings back to a group it left, that campaigns and votes while it copies
    // the log: it passes a configuration naming its id (the earlier replica's), perhaps alone.
    [
      'a replica brought back that campaigns and votes as its log says',
      // Among four replicas moves bring replicas back all the time.
      { scenario: { reassign: true, movePool: 4, targetSizes: [1, 2, 3] }, faults: { joinerVotes: true } },
      SPLIT,
    ],
    [
      'a leader that never makes an amnesiac learner of an idle group whole',
      { ...MOVES, faults: { noRejoinNoop: true } },
      ['liveness'],
    ],
  ];
  it.each(controls)(
    'catches %s',
    (name, options, kinds) => {
      const caught = firstCaught(options, kinds, SEEDS);
      console.log(`raft control "${name}": ${JSON.stringify(caught)}`);
      expect(caught).toHaveProperty('seed');
    },
    180_000,
  );
});
