// Replica reassignment in the Raft simulation: instead of random membership changes, the group is
// moved to one random target after another, and every replica that leads carries the move out as a
// broker's Reassigner does (broker/cluster-reassign.ts): each round it asks nextReassignStep
// (broker/cluster/reassignment.ts, called here, not copied) for the next step of its own log's
// membership, proposes that change, or hands its leadership to a target voter when it is itself
// leaving, or, once its log's configuration is the target and committed, reports the move done.
//
// The simulation plays the controller and the brokers around the group: a move starts by creating
// the target's replicas that the group lacks, empty, with the group's voters at that moment as
// their bootstrap voters (the partition's replicas, as the broker's registry has them), so they
// count themselves voters only once a config entry says so; a move reported done makes the target
// the group's replicas, which join with them as bootstrap voters from their next start on (the
// broker's registry), and the replicas outside it delete their copies (they stop, their disk
// wiped, until a later move creates them again).
//
// Targets take 1 to 5 of the pool's replicas in random order (the preferred first): a random
// subset, or (a quarter of the moves) one disjoint from the voters, so that every old replica,
// the leader included, leaves. Safety is the checker's; a reported move must also have its target
// committed as the group's configuration, and once the faults stop the move in flight must finish.

import { nextReassignStep } from '../../broker/cluster/reassignment.js';
import type { Membership } from '../../broker/raft/membership.js';
import { Violation } from './raft-checker.js';
import type { SimReplica } from './raft-sim-replica.js';

/** What the moves need from the simulation around them. */
export interface MovesHost {
  readonly replicas: readonly SimReplica[];
  /** Whether `r` is paused (it takes no step). */
  paused(r: SimReplica): boolean;
  /** Creates `r` again, empty, joining with `voters` as its bootstrap voters. */
  join(r: SimReplica, voters: readonly number[]): void;
  /** Deletes `r`'s copy: it stops and its disk is wiped. */
  remove(r: SimReplica): void;
  /** The group's replicas are `voters` now: each of them joins with them when it next starts. */
  recordReplicas(voters: readonly number[]): void;
  /** The configuration of the committed prefix's last config entry (the bootstrap before any). */
  committedMembership(): Membership;
  /** Whether wiping or a power loss may still hit the voters of every configuration in `configs`. */
  withinAmnesiaBound(configs: readonly (readonly number[])[]): boolean;
  trace(line: string): void;
}

export interface MovesRates {
  /** Per tick without a move in flight: a new move starts. */
  readonly moveRate: number;
  /** Per tick and leader: the leader runs a round (the broker's runs every 500 ms). */
  readonly roundRate: number;
  /** Target sizes to draw from (1 to 5). */
  readonly targetSizes: readonly number[];
  /**
   * Negative control: a replica a move creates takes the target as its bootstrap voters (a
   * plausible registry bug), so it counts itself a voter before any config entry says so.
   */
  readonly joinWithTargetVoters: boolean;
}

export interface MovesCounts {
  started: number;
  done: number;
  /** Moves whose target shares no replica with the voters they start from. */
  disjoint: number;
  /** Moves the leader at their start is not part of. */
  leaderLeaving: number;
  /** Handovers a leader leaving its group started (a 'transfer' step). */
  handovers: number;
  /** Membership changes the moves proposed (config entries appended). */
  changes: number;
}

export class SimMoves {
  readonly counts: MovesCounts = {
    started: 0,
    done: 0,
    disjoint: 0,
    leaderLeaving: 0,
    handovers: 0,
    changes: 0,
  };
  /** The group's replicas as the controller has them: the last target reached. */
  private voters: readonly number[];
  private target: readonly number[] | null = null;

  constructor(
    private readonly host: MovesHost,
    private readonly rand: () => number,
    private readonly rates: MovesRates,
    voters: readonly number[],
  ) {
    this.voters = voters;
  }

  get inFlight(): boolean {
    return this.target !== null;
  }

  /** The voter sets the group may pass through while the move in flight goes on (or its voters). */
  possibleConfigs(): number[][] {
    return this.target === null ? [[...this.voters]] : voterSetsOfMove(this.voters, this.target);
  }

  /** One tick: maybe start a move (not once the faults have stopped), and each leader's round. */
  tick(calm: boolean): void {
    if (this.target === null) {
      if (!calm && this.rand() < this.rates.moveRate) this.start();
      return;
    }
    for (const r of this.host.replicas) {
      if (this.target === null) return;
      if (r.node?.role !== 'leader' || this.host.paused(r)) continue;
      if (this.rand() < this.rates.roundRate) this.round(r, this.target);
    }
  }

  private start(): void {
    const pool = this.host.replicas.map((r) => r.id);
    const outside = pool.filter((id) => !this.voters.includes(id));
    const disjoint = this.rand() < 0.25;
    const from = disjoint ? outside : pool;
    const size = Math.min(
      this.rates.targetSizes[Math.floor(this.rand() * this.rates.targetSizes.length)]!,
      from.length,
    );
    const target = shuffled(this.rand, from).slice(0, size);
    // Faults must keep their promise (a minority of any configuration amnesiac): a move that would
    // pass through a configuration the amnesiac replicas already break waits for them to catch up.
    if (!this.host.withinAmnesiaBound(voterSetsOfMove(this.voters, target))) return;
    this.target = target;
    this.counts.started++;
    if (target.every((id) => !this.voters.includes(id))) this.counts.disjoint++;
    const leader = this.host.replicas.find((r) => r.node?.role === 'leader');
    if (leader !== undefined && !target.includes(leader.id)) this.counts.leaderLeaving++;
    this.host.trace(`move from [${this.voters.join(' ')}] to [${target.join(' ')}] starts`);
    for (const id of target) {
      if (this.voters.includes(id)) continue;
      const bootstrap = this.rates.joinWithTargetVoters ? target : this.voters;
      this.host.join(this.host.replicas[id]!, bootstrap);
    }
  }

  /** The leader `r`'s round: the broker's Reassigner.round for this one partition. */
  private round(r: SimReplica, target: readonly number[]): void {
    const n = r.node!;
    const step = nextReassignStep(n.membership, target, r.id, n.membershipAt < n.highWatermark);
    switch (step.kind) {
      case 'wait':
        return;
      case 'change': {
        let result: number | string = '';
        r.step((x) => (result = x.proposeMembership(step.change)));
        if (typeof result === 'string') return;
        this.counts.changes++;
        this.host.trace(`${r.id} proposes ${step.change.kind} ${step.change.id} at ${result} (move)`);
        return;
      }
      case 'transfer':
        for (const to of step.to) {
          let refused: string | null = '';
          r.step((x) => (refused = x.transferLeadership(to)));
          if (refused !== null) continue;
          this.counts.handovers++;
          this.host.trace(`${r.id} leaves: hands its leadership to ${to}`);
          return;
        }
        return;
      case 'done':
        this.complete(r, target);
        return;
    }
  }

  /** The controller records the move: the target is the group, and the others delete their copies. */
  private complete(r: SimReplica, target: readonly number[]): void {
    const committed = this.host.committedMembership();
    const exact = (xs: readonly number[]) =>
      xs.length === target.length && xs.every((id) => target.includes(id));
    if (!exact(committed.voters) || committed.learners.length > 0) {
      throw new Violation(
        'move-uncommitted',
        `replica ${r.id} reports the move to [${target.join(' ')}] done, but the committed configuration is voters [${committed.voters.join(' ')}] learners [${committed.learners.join(' ')}]`,
      );
    }
    this.host.trace(`move to [${target.join(' ')}] done, reported by ${r.id}`);
    this.counts.done++;
    this.voters = target;
    this.target = null;
    this.host.recordReplicas(target);
    for (const x of this.host.replicas) if (!target.includes(x.id) && !x.removed) this.host.remove(x);
  }
}

/**
 * The voter sets a move from `voters` to `target` passes through, whichever replica leads each
 * step: the target's new replicas promoted in target order, then any subset of the leaving voters
 * still in (the leader of the moment removes the others before itself).
 */
export function voterSetsOfMove(voters: readonly number[], target: readonly number[]): number[][] {
  const sets: number[][] = [];
  const joining = target.filter((id) => !voters.includes(id));
  for (let k = 0; k <= joining.length; k++) sets.push([...voters, ...joining.slice(0, k)]);
  const leaving = voters.filter((id) => !target.includes(id));
  for (let mask = 0; mask < 1 << leaving.length; mask++) {
    sets.push([...target, ...leaving.filter((_, i) => (mask & (1 << i)) !== 0)]);
  }
  return sets;
}

function shuffled(rand: () => number, xs: readonly number[]): number[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
