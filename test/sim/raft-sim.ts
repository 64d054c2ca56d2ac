// A seeded simulation of one Raft group (STYLE 11, after TigerBeetle's VOPR): replicas in one
// process on a virtual clock, a network that drops, delays, duplicates and reorders messages and
// partitions replicas (both ways or one way) until the partition heals, crashes that lose whatever
// was not fsynced (one replica, or every replica at once), pauses, clocks that run fast or slow
// (each replica ticks at its own rate, drawn again at each restart), retention removing a committed
// prefix on one replica, membership changes (a replica added as a learner, promoted, removed, one
// at a time, among five replicas of which three start as voters; or, in a scenario of its own,
// moves of the group from target to target among a pool of replicas, raft-sim-moves.ts), and
// clients appending batches of one to a few offsets to whichever replica leads. The seed decides
// everything, the scenario's intensities included (swarm testing: some seeds are calm, some
// stormy), so a failing seed replays exactly.
//
// Groups quiesce (RaftConfig.quiesce), so each replica also runs the broker's failure detector
// (raft-groups.ts): replicas send each other liveness pulses every heartbeat over the same faulty
// network, and a peer silent for an election timeout is suspected (RaftNode.peerDown), heard again
// cleared (peerUp). During the chaos the detector is also wrong at random: it suspects live peers,
// and clears suspicions, for no reason.
//
// A run is a chaotic phase, then a healed one (no drops, no partitions, every replica up) with
// three liveness stages, each within a bound of virtual time: left alone, the group elects a leader
// and every member converges on its log and commit, and the group goes quiet; then a new append
// commits and every member converges; then, where a majority of whole voters would remain, the
// quiet group's leader dies for good and the others must notice, elect, commit a new append and
// converge. The checker (raft-checker.ts) runs after every step.

import { AssertionError } from 'node:assert';
import type { Message } from '../../broker/raft/messages.js';
import type { RaftFaults } from '../../broker/raft/raft-config.js';
import { isMember, type Membership, type MembershipChange } from '../../broker/raft/membership.js';
import { entryEnd } from '../../broker/raft/raft-log.js';
import { RaftChecker, Violation, entryAtOffset, sameEntry, type CheckerCounts } from './raft-checker.js';
import { EventQueue } from './raft-sim-queue.js';
import { SimReplica, diskLogEnd, type DiskState, type ReplicaHost } from './raft-sim-replica.js';
import { SimProducer, producerData, producerOf } from './raft-sim-producers.js';
import { WeirError } from '../../proto/errors.js';
import { lastSequence } from '../../broker/producer-state.js';
import { seededRandom } from '../storage/helpers.js';
import { amnesiacAtJoin } from '../../broker/replica/partition-replica.js';
import { SimMoves, type MovesCounts, type MovesHost } from './raft-sim-moves.js';
import { ReplicationThrottle } from '../../broker/replica/replication-throttle.js';
import { RaftTotals } from '../../broker/replica/raft-totals.js';

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
/** The failure detector's pulse interval and timeout, as RaftGroups': a heartbeat, an election timeout. */
const PULSE_MS = HEARTBEAT_TICKS * TICK_MS;
const SUSPECT_MS = ELECTION_TICKS * TICK_MS;
/** After the faults heal, the group must elect, commit and converge within this much virtual time. */
export const LIVENESS_BOUND_MS = 8_000;

type SimEvent =
  | { kind: 'tick' }
  | { kind: 'replicaTick'; r: SimReplica }
  | { kind: 'deliver'; m: Message }
  | { kind: 'pulseAll' }
  | { kind: 'sync'; r: SimReplica; seq: number; incarnation: number; state: DiskState }
  | { kind: 'restart'; r: SimReplica }
  | { kind: 'recovered'; r: SimReplica; incarnation: number }
  | { kind: 'unpause'; r: SimReplica }
  | { kind: 'heal'; pairs: string[] }
  | { kind: 'calm' };

export interface SimOptions {
  readonly faults?: RaftFaults;
  /** Negative control: a new leader rebuilds producer state from its committed entries only. */
  readonly producerStateFromCommitted?: boolean;
  /** Negative control: retention drops the producer state of the entries it removes. */
  readonly producerStateLostToRetention?: boolean;
  /** Fault intensities that replace the seed's own draws (a control aiming at one rare path). */
  readonly scenario?: Partial<Scenario>;
  /**
   * Negative control (with `scenario.reassign`): a replica a move creates takes the move's target
   * as its bootstrap voters instead of the group's voters.
   */
  readonly joinWithTargetVoters?: boolean;
  readonly strictDurable?: boolean;
  /** Groups quiesce (the default, as in a broker); false runs the protocol without it. */
  readonly quiesce?: boolean;
  /**
   * Each replica leads with the broker's replication throttle (replication-throttle.ts) of this
   * many bytes per second of virtual time, on the virtual clock. Not given: none.
   */
  readonly throttleBytes?: number;
  readonly trace?: (line: string) => void;
}

export interface SimResult {
  readonly replicas: number;
  readonly virtualMs: number;
  readonly counts: CheckerCounts;
  readonly committed: number;
  readonly crashes: number;
  readonly powerLosses: number;
  readonly leaders: number;
  readonly truncations: number;
  readonly deletions: number;
  readonly wipes: number;
  readonly pageCache: boolean;
  /** Retries of an idempotent producer answered with the original offsets. */
  readonly duplicatesAnswered: number;
  /** Membership changes a leader started (config entries appended). */
  readonly membershipChanges: number;
  readonly transfers: number;
  /** Under `scenario.reassign`: the moves started, finished and how. */
  readonly moves: MovesCounts | null;
}

export class RaftSimulation implements ReplicaHost, MovesHost {
  readonly checker: RaftChecker;
  /** What every replica's replication throttle let through and held back (SimOptions.throttleBytes). */
  readonly throttleTotals = new RaftTotals();
  private readonly rand: () => number;
  private readonly queue = new EventQueue<SimEvent>();
  readonly replicas: SimReplica[] = [];
  /** Per replica, the bootstrap voters it joins with (a move sets them when it creates one). */
  private readonly bootstrap: (readonly number[])[] = [];
  private readonly moves: SimMoves | null = null;
  private readonly initialVoters: readonly number[];
  private readonly blocked = new Map<string, number>();
  /** Per replica, what reached it while paused, in arrival order. */
  private readonly deferred: SimEvent[][] = [];
  private now = 0;
  private calm = false;
  /** The healed phase's liveness stage (see the header), and when it began. */
  private stage: 'settle' | 'marker' | 'requiesce' | 'failover' = 'settle';
  private stageSince = 0;
  /** The leader the failover stage killed: it stays down. */
  private killed: SimReplica | null = null;
  /** Per observer, per peer: when a pulse last came, and whether the peer is suspected. */
  private readonly heardAt: number[][] = [];
  private readonly suspected: boolean[][] = [];
  private suspicions = 0;
  private clientSeq = 0;
  private pending: {
    id: number;
    incarnation: number;
    term: number;
    offset: number;
    marker: boolean;
    producer?: SimProducer;
  }[] = [];
  private readonly producers: SimProducer[] = [];
  private nextProducerId = 1;
  private marker: 'none' | 'proposed' | 'acked' = 'none';
  private crashes = 0;
  private powerLosses = 0;
  private deletions = 0;
  private wipes = 0;
  private membershipChanges = 0;
  private transfers = 0;
  private readonly s: Scenario;

  readonly producerStateFromCommitted: boolean;
  readonly producerStateLostToRetention: boolean;

  constructor(
    readonly seed: number,
    private readonly options: SimOptions = {},
  ) {
    this.producerStateFromCommitted = options.producerStateFromCommitted === true;
    this.producerStateLostToRetention = options.producerStateLostToRetention === true;
    this.rand = seededRandom(seed);
    const s: Scenario = { ...scenario(this.rand), ...options.scenario };
    // Moves draw their targets from a pool of replicas (eight: a target of five can be disjoint
    // from a group of three).
    this.s = s.reassign ? { ...s, replicas: s.movePool, membership: false } : s;
    for (let p = 0; p < this.s.producers; p++) this.producers.push(new SimProducer(this.nextProducerId++));
    // Under the page-cache policy nothing promises that an entry below the high watermark is
    // fsynced; the promise is that acknowledged entries survive crashes and a minority's power loss.
    const fsync = this.s.policy === 'fsync';
    this.checker = new RaftChecker(this.s.replicas, options.strictDurable ?? fsync);
    const ids = Array.from({ length: this.s.replicas }, (_, i) => i);
    // With membership changes the group starts as three voters and two replicas outside it; with
    // moves, as one to five voters, the rest of the pool not created yet.
    const initial = this.s.reassign
      ? 1 + Math.floor(this.rand() * Math.min(5, this.s.replicas))
      : BOOTSTRAP_VOTERS;
    const voters = this.s.membership || this.s.reassign ? ids.slice(0, initial) : ids;
    this.initialVoters = voters;
    for (const id of ids) {
      this.bootstrap.push(voters);
      const config = () => ({
        id,
        voters: this.bootstrap[id]!,
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: HEARTBEAT_TICKS,
        // Enough that a wiped replica catches up on a long log within the liveness bound.
        maxEntriesPerAppend: 64,
        quiesce: options.quiesce ?? true,
        // The seed picks how a leader feeds a follower (without drawing from the random stream, so
        // the rest of the seed's run is as before): one append unanswered at a time, two, or eight;
        // appends of a few entries (a client's is 10 to 20 bytes) or of 64.
        maxInflightAppends: [1, 2, 8][seed % 3],
        maxBytesPerAppend: seed % 2 === 0 ? 100 : undefined,
        random: this.rand,
        faults: options.faults ?? {},
        ...(options.throttleBytes === undefined
          ? null
          : { catchUpQuota: this.throttle(options.throttleBytes) }),
      });
      const r = new SimReplica(id, this, config, this.s.policy, this.s.freshAmnesiac);
      // With moves, the pool's replicas outside the group do not exist yet.
      r.removed = this.s.reassign && !voters.includes(id);
      this.replicas.push(r);
      this.deferred.push([]);
      this.heardAt.push(ids.map(() => 0));
      this.suspected.push(ids.map(() => false));
    }
    if (this.s.reassign) {
      const rates = {
        moveRate: pick(this.rand, [0.01, 0.03, 0.1]),
        roundRate: pick(this.rand, [0.05, 0.2, 1]),
        targetSizes: this.s.targetSizes,
        joinWithTargetVoters: options.joinWithTargetVoters === true,
      };
      this.moves = new SimMoves(this, this.rand, rates, voters);
    }
  }

  /** A replication throttle on the virtual clock (a replica's restart makes a new one, as a broker's). */
  private throttle(bytesPerSecond: number): ReplicationThrottle {
    const clock = {
      now: (): number => this.now,
      schedule: (): never => {
        throw new Error('the throttle keeps no timers');
      },
    };
    // Catching up after half an election timeout without the leader's whole log.
    const lagTicks = ELECTION_TICKS / 2;
    return new ReplicationThrottle({ bytesPerSecond, lagTicks, clock, totals: this.throttleTotals });
  }

  run(): SimResult {
    for (const r of this.replicas) if (!r.removed) this.restart(r);
    this.queue.push(TICK_MS, { kind: 'tick' });
    this.queue.push(PULSE_MS, { kind: 'pulseAll' });
    for (const r of this.replicas) this.queue.push(r.tickMs, { kind: 'replicaTick', r });
    this.queue.push(this.s.chaosMs, { kind: 'calm' });
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined) throw new Error('the agenda ran dry');
      this.now = next.time;
      try {
        if (this.handle(next.event)) break;
        // The checker first records what the step committed; acks are checked against that.
        this.checker.afterStep(this.replicas);
        this.checkAcks();
        if (this.options.trace !== undefined) this.traceChanges(next.event);
      } catch (e) {
        if (e instanceof AssertionError)
          throw Object.assign(new Violation('assertion', e.message), { cause: e });
        throw e;
      }
    }
    this.checker.finalCheck(this.replicas);
    return {
      replicas: this.s.replicas,
      virtualMs: this.now,
      counts: this.checker.counts,
      committed: this.checker.committed.length,
      crashes: this.crashes,
      powerLosses: this.powerLosses,
      leaders: this.checker.counts.leadersChecked,
      truncations: this.replicas.reduce((sum, r) => sum + r.truncations, 0),
      deletions: this.deletions,
      wipes: this.wipes,
      pageCache: this.s.policy === 'pageCache',
      duplicatesAnswered: this.producers.reduce((sum, p) => sum + p.duplicatesAnswered, 0),
      membershipChanges: this.membershipChanges,
      transfers: this.transfers,
      moves: this.moves?.counts ?? null,
    };
  }

  send(m: Message): void {
    // Once healed the network loses nothing (it may still delay, duplicate and reorder).
    if (!this.calm && this.rand() < this.s.dropRate) return;
    this.queue.push(this.now + this.delay(), { kind: 'deliver', m });
    if (this.rand() < this.s.duplicateRate) this.queue.push(this.now + this.delay(), { kind: 'deliver', m });
  }

  scheduleSync(r: SimReplica, seq: number, incarnation: number, state: DiskState): void {
    // Same-time events keep their scheduling order, so syncs of one replica stay in issue order.
    const at = Math.max(this.now + 1 + Math.floor(this.rand() * this.s.syncMs), r.lastSyncAt);
    r.lastSyncAt = at;
    this.queue.push(at, { kind: 'sync', r, seq, incarnation, state });
  }

  /** Handles one event; true once the healed group has converged. */
  private handle(ev: SimEvent): boolean {
    switch (ev.kind) {
      case 'tick':
        return this.onTick();
      case 'replicaTick':
        // Each replica's timer runs at its own clock's rate (skew); a paused one misses its ticks.
        this.queue.push(this.now + ev.r.tickMs, ev);
        if (ev.r.pausedUntil <= this.now) ev.r.step((n) => n.tick());
        return false;
      case 'deliver': {
        const r = this.replicas[ev.m.to]!;
        if (this.blocked.has(`${ev.m.from}>${ev.m.to}`) || r.node === null) return false;
        if (this.frozen(r)) this.deferred[r.id]!.push(ev);
        else r.step((n) => n.receive(ev.m));
        return false;
      }
      case 'pulseAll':
        this.queue.push(this.now + PULSE_MS, ev);
        this.pulseAll();
        return false;
      case 'sync':
        if (this.frozen(ev.r)) this.deferred[ev.r.id]!.push(ev);
        else ev.r.sync(ev.seq, ev.incarnation, ev.state);
        return false;
      case 'restart':
        if (ev.r.node === null && !ev.r.removed && ev.r !== this.killed) this.restart(ev.r);
        return false;
      case 'recovered':
        if (ev.r.incarnation === ev.incarnation) ev.r.step((n) => n.recoveryDone());
        return false;
      case 'unpause': {
        // A longer pause that began meanwhile has its own unpause event.
        if (ev.r.pausedUntil > this.now) return false;
        const deferred = this.deferred[ev.r.id]!.splice(0);
        for (const d of deferred) this.handle(d);
        return false;
      }
      case 'heal':
        for (const p of ev.pairs) {
          const c = (this.blocked.get(p) ?? 0) - 1;
          if (c <= 0) this.blocked.delete(p);
          else this.blocked.set(p, c);
        }
        return false;
      case 'calm':
        this.trace('faults stop');
        this.calm = true;
        this.stageSince = this.now;
        this.blocked.clear(); // pauses end on their own, within half a second
        for (const r of this.replicas) {
          if (r.node === null && !r.removed) this.queue.push(this.now + 1, { kind: 'restart', r });
        }
        return false;
    }
  }

  private onTick(): boolean {
    this.queue.push(this.now + TICK_MS, { kind: 'tick' });
    // The move in flight goes on once the faults stop: it must finish.
    this.moves?.tick(this.calm);
    this.detectFailures();
    if (this.calm) return this.checkLiveness();
    this.injectFaults();
    for (let a = this.s.appendRate; a > 0 && this.rand() < a; a--) this.clientAppend(false);
    for (const p of this.producers) if (!p.waiting && this.rand() < this.s.produceRate) this.produce(p);
    if (this.s.membership && this.rand() < this.s.changeRate) this.changeMembership();
    // Drawn only when on, so the seeds' own runs stay as they were.
    if (this.s.transferRate > 0 && this.rand() < this.s.transferRate) this.transferLeadership();
    return false;
  }

  /** A leader hands its leadership to another voter, as a preferred-leader balancer does. */
  private transferLeadership(): void {
    const leaders = this.replicas.filter((r) => r.node?.role === 'leader' && r.pausedUntil <= this.now);
    const r = leaders[Math.floor(this.rand() * leaders.length)];
    if (r === undefined) return;
    const others = r.node!.membership.voters.filter((v) => v !== r.id);
    const to = others[Math.floor(this.rand() * others.length)];
    if (to === undefined) return;
    let refused: string | null = '';
    r.step((n) => (refused = n.transferLeadership(to)));
    if (refused !== null) return;
    this.transfers++;
    this.trace(`${r.id} hands its leadership to ${to}`);
  }

  /**
   * A leader adds a replica as a learner, promotes a learner, or removes a member, keeping three to
   * five voters; it refuses while a change is in flight or a learner has not caught up.
   */
  private changeMembership(): void {
    // Under the negative control a leader starts a second change at once, while the first is in
    // flight (two voters changed in one step).
    if (this.proposeChange() && this.options.faults?.overlappingChanges === true) this.proposeChange();
  }

  /** One change at a random leader; whether it was started. */
  private proposeChange(): boolean {
    const leaders = this.replicas.filter((r) => r.node?.role === 'leader' && r.pausedUntil <= this.now);
    const r = leaders[Math.floor(this.rand() * leaders.length)];
    if (r === undefined) return false;
    const m = r.node!.membership;
    const options: MembershipChange[] = [];
    for (const x of this.replicas) {
      const id = x.id;
      if (!isMember(m, id)) options.push({ kind: 'addLearner', id });
      else if (m.learners.includes(id)) {
        options.push({ kind: 'remove', id });
        if (m.voters.length < this.replicas.length) options.push({ kind: 'promote', id });
      } else if (m.voters.length > BOOTSTRAP_VOTERS) options.push({ kind: 'remove', id });
    }
    const change = options[Math.floor(this.rand() * options.length)];
    if (change === undefined) return false;
    let result: number | string = '';
    r.step((n) => (result = n.proposeMembership(change)));
    if (typeof result === 'string') return false;
    this.membershipChanges++;
    this.trace(`${r.id} proposes ${change.kind} ${change.id} at ${result}`);
    return true;
  }

  private injectFaults(): void {
    const s = this.s;
    const n = this.replicas.length;
    const pageCache = s.policy === 'pageCache';
    const victim = this.replicas[Math.floor(this.rand() * n)]!;
    // Under fsync a crash may as well be a power loss: nothing acknowledged was only in the cache.
    if (this.rand() < s.crashRate) this.crash(victim, pageCache ? 'process' : 'power');
    if (this.rand() < s.powerLossRate) {
      // Under the page-cache policy the promise covers a minority: the rest keep their caches.
      const hit = pageCache ? this.minority(n) : this.replicas.filter((r) => r.node !== null);
      if (hit.length > 0) {
        this.powerLosses++;
        this.trace(`power loss ${hit.map((r) => r.id).join(' ')}`);
      }
      for (const r of hit) this.crash(r, 'power');
    }
    if (this.rand() < s.wipeRate) {
      for (const r of this.minority(1)) {
        this.wipes++;
        this.crash(r, 'wipe');
      }
    }
    if (n > 1 && this.rand() < s.partitionRate) {
      const pairs: string[] = [];
      if (this.rand() < 0.5) {
        // Both ways: a random side against the rest.
        const side = this.replicas.map(() => this.rand() < 0.5);
        for (let a = 0; a < n; a++)
          for (let b = 0; b < n; b++) if (side[a] !== side[b]) pairs.push(`${a}>${b}`);
      } else {
        // One way: a cannot reach b, b still reaches a.
        const a = Math.floor(this.rand() * n);
        const b = (a + 1 + Math.floor(this.rand() * (n - 1))) % n;
        pairs.push(`${a}>${b}`);
      }
      for (const p of pairs) this.blocked.set(p, (this.blocked.get(p) ?? 0) + 1);
      this.trace(`partition ${pairs.join(' ')}`);
      this.queue.push(this.now + 50 + Math.floor(this.rand() * 1000), { kind: 'heal', pairs });
    }
    if (this.rand() < s.retentionRate) this.retention(this.replicas[Math.floor(this.rand() * n)]!);
    if (this.rand() < s.pauseRate) {
      const r = this.replicas[Math.floor(this.rand() * n)]!;
      r.pausedUntil = Math.max(r.pausedUntil, this.now + 20 + Math.floor(this.rand() * 500));
      this.queue.push(r.pausedUntil, { kind: 'unpause', r });
    }
  }

  /** A paused replica handles nothing; what reached it waits, in order, until the pause ends. */
  private frozen(r: SimReplica): boolean {
    return r.pausedUntil > this.now || this.deferred[r.id]!.length > 0;
  }

  /**
   * Up to `max` running replicas, at random, that may lose what they acknowledged while a majority
   * of the group stays whole (counting those already amnesiac).
   */
  private minority(max: number): SimReplica[] {
    if (this.moves !== null) return this.forgetful(max);
    // Membership changes keep at least three voters: a minority of those.
    const n = this.s.membership ? BOOTSTRAP_VOTERS : this.replicas.length;
    const room = Math.floor((n - 1) / 2) - this.replicas.filter((r) => r.amnesiac).length;
    const up = this.replicas.filter((r) => r.node !== null && !r.amnesiac);
    const count = Math.min(max, room, up.length, 1 + Math.floor(this.rand() * Math.max(1, room)));
    const hit: SimReplica[] = [];
    while (hit.length < count) {
      const r = up.splice(Math.floor(this.rand() * up.length), 1)[0]!;
      hit.push(r);
    }
    return hit;
  }

  /**
   * Under moves: up to `max` running replicas, at random, whose amnesia leaves a minority of every
   * configuration amnesiac, of those the move in flight may pass through and those the running
   * replicas hold (a group of one or two then takes none: it promises nothing across such a loss).
   */
  private forgetful(max: number): SimReplica[] {
    const configs = this.moves!.possibleConfigs();
    const up = this.replicas.filter((r) => r.node !== null && !r.amnesiac);
    const count = 1 + Math.floor(this.rand() * max);
    const hit: SimReplica[] = [];
    while (hit.length < count && up.length > 0) {
      const r = up.splice(Math.floor(this.rand() * up.length), 1)[0]!;
      if (this.withinAmnesiaBound(configs, [...hit, r])) hit.push(r);
    }
    return hit;
  }

  /**
   * Whether `configs` and the configurations the replicas hold (a running one's, or a down one's
   * latest on disk) each have a minority of amnesiac voters, counting `also` amnesiac. A replica
   * counts where it is amnesiac and some replica's configuration makes it a voter: a new replica
   * is amnesiac until caught up, but it is promoted only once it is.
   */
  withinAmnesiaBound(configs: readonly (readonly number[])[], also: readonly SimReplica[] = []): boolean {
    const held = this.replicas.flatMap((r) => (r.removed ? [] : [this.heldVoters(r)]));
    const voting = new Set(held.flat());
    const amnesiac = new Set(also.map((r) => r.id));
    for (const r of this.replicas) if (r.amnesiac && voting.has(r.id)) amnesiac.add(r.id);
    return [...configs, ...held].every(
      (c) => c.filter((id) => amnesiac.has(id)).length <= Math.floor((c.length - 1) / 2),
    );
  }

  /** The voters of the configuration `r` acts on, or will when it starts again. */
  private heldVoters(r: SimReplica): readonly number[] {
    if (r.node !== null) return r.node.membership.voters;
    const { entries, startMembership } = r.durableLog;
    for (let i = entries.length - 1; i >= 0; i--) {
      const m = entries[i]!.membership;
      if (m !== undefined) return m.voters;
    }
    return startMembership?.membership.voters ?? this.bootstrap[r.id]!;
  }

  paused(r: SimReplica): boolean {
    return r.pausedUntil > this.now;
  }

  /** A move creates `r` (as a broker does a replica placed on it), joining with `voters`. */
  join(r: SimReplica, voters: readonly number[]): void {
    if (!r.removed) throw new Error(`replica ${r.id} joins while it holds a copy`);
    this.bootstrap[r.id] = voters;
    // The broker's own rule: without state, amnesiac unless it is a group of one by itself.
    const amnesiac = amnesiacAtJoin({
      self: r.id,
      voters,
      found: false,
      storedAmnesiac: false,
      storedBootId: null,
      bootId: null,
      pageCache: this.s.policy === 'pageCache',
      cleanShutdown: true,
    });
    this.trace(`create ${r.id} with voters [${voters.join(' ')}]${amnesiac ? ' amnesiac' : ''}`);
    r.create(amnesiac);
    this.restart(r);
  }

  recordReplicas(voters: readonly number[]): void {
    for (const id of voters) this.bootstrap[id] = voters;
  }

  remove(r: SimReplica): void {
    this.trace(`delete ${r.id}`);
    r.remove();
  }

  committedMembership(): Membership {
    const committed = this.checker.committed;
    for (let i = committed.length - 1; i >= 0; i--) {
      const m = committed[i]!.membership;
      if (m !== undefined) return m;
    }
    return { voters: this.initialVoters, learners: [] };
  }

  private crash(r: SimReplica, kind: 'process' | 'power' | 'wipe'): void {
    if (r.node === null) return;
    this.crashes++;
    this.trace(`crash ${r.id} (${kind})`);
    r.crash(kind);
    this.queue.push(this.now + 20 + Math.floor(this.rand() * 600), { kind: 'restart', r });
  }

  /** Retention on one replica: its log loses a random part of what its high watermark covers. */
  private retention(r: SimReplica): void {
    const n = r.node;
    const log = r.log;
    if (n === null || log === null || r.pausedUntil > this.now) return;
    const below = log.all().filter((e) => entryEnd(e) <= n.highWatermark);
    if (below.length === 0) return;
    const to = entryEnd(below[Math.floor(this.rand() * below.length)]!);
    this.deletions++;
    this.trace(`retention ${r.id} to ${to}`);
    r.deleteBefore(to);
  }

  private restart(r: SimReplica): void {
    // A process's clock runs fast or slow by up to the scenario's skew, drawn again at each start.
    r.tickMs = Math.max(1, Math.round(TICK_MS * (1 + (2 * this.rand() - 1) * this.s.clockSkew)));
    r.start();
    // A new process: it has heard from nobody yet, and suspects nobody.
    this.heardAt[r.id]!.fill(this.now);
    this.suspected[r.id]!.fill(false);
    const d = r.durableLog;
    this.trace(`start ${r.id} term ${r.durableHardState.term} log [${d.start}, ${diskLogEnd(d)})`);
    this.queue.push(this.now + Math.floor(this.rand() * 100), {
      kind: 'recovered',
      r,
      incarnation: r.incarnation,
    });
  }

  /** A client appends at whichever replica says it leads (a stale leader may answer too). */
  private clientAppend(marker: boolean): boolean {
    const leaders = this.replicas.filter((r) => r.node?.role === 'leader' && r.pausedUntil <= this.now);
    const r = leaders[Math.floor(this.rand() * leaders.length)];
    if (r === undefined) return false;
    const data = Buffer.from(`${marker ? 'marker' : 'client'}-${this.clientSeq++}`);
    const count = 1 + Math.floor(this.rand() * this.s.maxBatchOffsets);
    let offset: number | null = null;
    r.step((n) => (offset = n.propose(data, count)));
    if (offset === null) return false;
    const n = r.node!;
    this.pending.push({ id: r.id, incarnation: r.incarnation, term: n.currentTerm, offset, marker });
    return true;
  }

  /**
   * An idempotent producer sends its batch in flight (a retry keeps its sequence numbers) to
   * whichever replica says it leads, which checks it against its producer state first.
   */
  private produce(p: SimProducer): void {
    const leaders = this.replicas.filter((r) => r.node?.role === 'leader' && r.pausedUntil <= this.now);
    const r = leaders[Math.floor(this.rand() * leaders.length)];
    if (r === undefined) return;
    const b = p.batch(1 + Math.floor(this.rand() * this.s.maxBatchOffsets));
    const lastSeq = lastSequence(b.firstSeq, b.count);
    const n = r.node!;
    let offset: number;
    try {
      const check = r.producers!.check(b.producerId, 0, b.firstSeq, lastSeq);
      if (check.kind === 'duplicate') {
        p.duplicatesAnswered++;
        offset = check.batch.baseOffset;
        this.trace(`producer ${b.producerId} seq ${b.firstSeq} at ${r.id}: duplicate of ${offset}`);
      } else {
        let proposed: number | null = null;
        r.step((x) => (proposed = x.propose(producerData(b), b.count)));
        if (proposed === null) return;
        offset = proposed;
        this.trace(`producer ${b.producerId} seq ${b.firstSeq}+${b.count} at ${r.id}: appended at ${offset}`);
        r.producers?.record(b.producerId, 0, {
          firstSeq: b.firstSeq,
          lastSeq,
          baseOffset: offset,
          lastOffset: offset + b.count - 1,
          appendTime: 0,
        });
      }
    } catch (e) {
      // Retention took the producer's batches from this leader's log: start over with a new id.
      if (e instanceof WeirError && e.code === 'UNKNOWN_PRODUCER_ID') {
        p.restartAs(this.nextProducerId++);
        return;
      }
      // A deposed leader that has not heard of its successor lacks the batches acknowledged since:
      // its refusal is an error the producer retries past. The leader of the newest term holds
      // every acknowledged batch, so from it a refusal means a lost one.
      // Terms of crashed replicas count: a leader they deposed may be the only one left running.
      const newest = Math.max(...this.replicas.map((x) => x.node?.currentTerm ?? x.durableHardState.term));
      if (e instanceof WeirError && n.currentTerm < newest) return;
      if (e instanceof WeirError) throw new Violation('duplicate', `producer ${b.producerId}: ${e.message}`);
      throw e;
    }
    p.waiting = true;
    this.pending.push({
      id: r.id,
      incarnation: r.incarnation,
      term: n.currentTerm,
      offset,
      marker: false,
      producer: p,
    });
  }

  /** An append is acknowledged once its leader, still leading in its term, reports it committed. */
  private checkAcks(): void {
    if (this.pending.length === 0) return;
    this.pending = this.pending.filter((p) => {
      const r = this.replicas[p.id]!;
      const n = r.node;
      if (n === null || r.incarnation !== p.incarnation || n.currentTerm !== p.term || n.role !== 'leader') {
        if (p.marker) this.marker = 'none';
        if (p.producer !== undefined) p.producer.waiting = false; // it retries
        return false; // the client hears an error or nothing: not acknowledged
      }
      if (n.highWatermark <= p.offset) return true;
      // Retention may have removed a retried batch's original since: the committed one stands in.
      const entry = r.log!.entryAt(p.offset) ?? this.checker.committedAt(p.offset);
      if (entry === undefined)
        throw new Violation('ack-lost', `offset ${p.offset} acknowledged but never committed`);
      this.checker.onAck(entry);
      if (p.marker) this.marker = 'acked';
      if (p.producer !== undefined) {
        const sent = p.producer.inFlight!;
        const got = producerOf(entry);
        if (got?.producerId !== sent.producerId || got.firstSeq !== sent.firstSeq) {
          throw new Violation(
            'duplicate',
            `producer ${sent.producerId} sequence ${sent.firstSeq} answered with offset ${p.offset}, another batch`,
          );
        }
        this.trace(`producer ${sent.producerId} seq ${sent.firstSeq} acknowledged at ${p.offset}`);
        p.producer.acknowledged();
        p.producer.waiting = false;
      }
      return false;
    });
  }

  /**
   * Every running replica not paused pulses every other: the pulse arrives unless the pair is
   * partitioned, the receiver is down or paused, or (during the chaos) the network drops it. Taken
   * as arriving at once: its delay is small beside the timeout, and events per pair per pulse
   * would double the simulation's cost.
   */
  private pulseAll(): void {
    for (const a of this.replicas) {
      if (a.node === null || a.pausedUntil > this.now) continue;
      for (const b of this.replicas) {
        if (b === a || b.node === null || this.frozen(b) || this.blocked.has(`${a.id}>${b.id}`)) continue;
        if (!this.calm && this.rand() < this.s.dropRate) continue;
        this.heard(b, a.id);
      }
    }
  }

  /** A pulse from `from` reached `r`: a suspicion of it is cleared. */
  private heard(r: SimReplica, from: number): void {
    this.heardAt[r.id]![from] = this.now;
    if (!this.suspected[r.id]![from]) return;
    this.suspected[r.id]![from] = false;
    r.step((n) => n.peerUp(from));
  }

  /**
   * Each running replica suspects the peers it has not heard from within SUSPECT_MS; during the
   * chaos the detector also errs at random, both ways.
   */
  private detectFailures(): void {
    for (const r of this.replicas) {
      if (r.node === null || r.pausedUntil > this.now) continue;
      for (const p of this.replicas) {
        if (p === r || this.suspected[r.id]![p.id] || this.now - this.heardAt[r.id]![p.id]! < SUSPECT_MS)
          continue;
        this.suspect(r, p.id);
      }
    }
    if (this.calm || this.s.detectorErrorRate === 0 || this.rand() >= this.s.detectorErrorRate) return;
    const r = this.replicas[Math.floor(this.rand() * this.replicas.length)]!;
    const p = Math.floor(this.rand() * this.replicas.length);
    if (p === r.id || r.node === null) return;
    if (this.rand() < 0.5) this.suspect(r, p);
    else r.step((n) => n.peerUp(p));
  }

  private suspect(r: SimReplica, peer: number): void {
    this.suspected[r.id]![peer] = true;
    this.suspicions++;
    this.trace(`${r.id} suspects ${peer}`);
    r.step((n) => n.peerDown(peer));
  }

  /** In the healed phase: the liveness stages (see the header); true once the last is met. */
  private checkLiveness(): boolean {
    if (this.now - this.stageSince > LIVENESS_BOUND_MS) {
      if (this.moves?.inFlight === true)
        throw new Violation('liveness', `a move still in flight ${LIVENESS_BOUND_MS} ms after healing`);
      const state = this.replicas.map(
        (r) =>
          `${r.id}:${r.node?.role}/${r.node?.currentTerm}/hw${r.node?.highWatermark}/end${r.node?.logEnd}${r.node?.quiesced === true ? '/quiet' : ''}`,
      );
      throw new Violation(
        'liveness',
        `stage ${this.stage} not met within ${LIVENESS_BOUND_MS} ms (${state.join(' ')})`,
      );
    }
    switch (this.stage) {
      case 'settle':
        // Left alone (no appends), a leader emerges and catches every member up, then goes quiet.
        if (this.moves?.inFlight === true || !this.convergedQuiet()) return false;
        return this.nextStage('marker');
      case 'marker':
        if (!this.checkConverged()) return false;
        return this.nextStage('requiesce');
      case 'requiesce': {
        if (this.options.quiesce === false) return true;
        if (!this.convergedQuiet()) return false;
        const leader = this.currentLeader()!;
        const lead = leader.node!;
        // The leader's death must leave a majority of whole voters to elect from.
        const voters = lead.membership.voters;
        if (voters.length < 3 || voters.some((v) => this.replicas[v]!.node?.isAmnesiac !== false))
          return true;
        this.trace(`the quiet group's leader ${leader.id} dies for good`);
        this.killed = leader;
        leader.crash('process');
        this.marker = 'none';
        return this.nextStage('failover');
      }
      case 'failover':
        return this.checkConverged();
    }
  }

  private nextStage(stage: 'marker' | 'requiesce' | 'failover'): boolean {
    this.trace(`liveness stage ${stage}`);
    this.stage = stage;
    this.stageSince = this.now;
    return false;
  }

  /**
   * A leader whose every member holds its log and commit, and (with quiescence, in a group of
   * more than one) it and its voters quiet. A learner may be left awake by a heartbeat the network
   * delayed past the quiesce one (a broker's stream keeps their order): it sends nothing and never
   * campaigns, so it costs nothing; an awake voter would campaign and wake the leader.
   */
  private convergedQuiet(): boolean {
    const leader = this.currentLeader();
    if (leader === undefined || !this.membersMatch(leader)) return false;
    const lead = leader.node!;
    // A group of one, or one with learners (a leader does not quiesce it), stays awake.
    if (
      this.options.quiesce === false ||
      lead.membership.voters.length < 2 ||
      lead.membership.learners.length > 0
    )
      return true;
    return lead.quiesced && lead.membership.voters.every((v) => this.replicas[v]!.node?.quiesced === true);
  }

  /** In the healed phase: has a leader committed a new append that every replica now holds? */
  private checkConverged(): boolean {
    if (this.marker === 'none' && this.clientAppend(true)) this.marker = 'proposed';
    if (this.marker !== 'acked' || this.moves?.inFlight === true) return false;
    const leader = this.currentLeader();
    return leader !== undefined && this.membersMatch(leader);
  }

  /** The leader of the newest term among the running replicas (a deposed one may not know yet). */
  private currentLeader(): SimReplica | undefined {
    let best: SimReplica | undefined;
    for (const r of this.replicas)
      if (r.node?.role === 'leader' && (best === undefined || r.node.currentTerm > best.node!.currentTerm))
        best = r;
    return best;
  }

  /** Every member of `leader`'s group but a killed one holds its log and high watermark. */
  private membersMatch(leader: SimReplica): boolean {
    const lead = leader.node!;
    const leadEntries = leader.log!.all();
    for (const r of this.replicas) {
      // A replica outside the group is left where it was; the killed leader stays dead.
      if (!isMember(lead.membership, r.id) || r === this.killed) continue;
      const n = r.node;
      if (n === null || n.highWatermark !== lead.highWatermark || n.logEnd !== lead.logEnd) return false;
      // Byte-identical where both still hold the log (retention runs on each replica on its own).
      const from = Math.max(r.log!.start, leader!.log!.start);
      for (const e of leadEntries) {
        if (e.offset >= from && !sameEntry(r.log!.entryAt(e.offset), e)) return false;
      }
      for (const e of r.log!.read(from, Number.MAX_SAFE_INTEGER)) {
        if (!sameEntry(entryAtOffset(leadEntries, e.offset), e)) return false;
      }
    }
    return true;
  }

  private readonly lastState: string[] = [];

  /** Replay only: one line per replica whose role, term, log or high watermark changed. */
  private traceChanges(ev: SimEvent): void {
    for (const r of this.replicas) {
      const n = r.node;
      const state =
        n === null
          ? 'down'
          : `${n.role} t${n.currentTerm} leader ${n.leaderId} log [${r.log!.start}, ${n.logEnd}) (durable to ${diskLogEnd(r.durableLog)}) hw ${n.highWatermark}${n.isAmnesiac ? ' amnesiac' : ''}`;
      if (this.lastState[r.id] === state) continue;
      this.lastState[r.id] = state;
      const cause = ev.kind === 'deliver' ? `${ev.m.type} from ${ev.m.from}` : ev.kind;
      this.trace(`${r.id}: ${state} after ${cause}`);
    }
  }

  private delay(): number {
    let d = 1 + Math.floor(this.rand() * this.s.delayMs);
    if (this.rand() < this.s.reorderRate) d += Math.floor(this.rand() * 200);
    return d;
  }

  trace(line: string): void {
    this.options.trace?.(`${this.now} ms: ${line}`);
  }
}

/** Voters a group with membership changes starts with, and keeps at least. */
const BOOTSTRAP_VOTERS = 3;

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

type Scenario = ReturnType<typeof scenario>;

/** The seed's scenario: group size and fault intensities (per tick or per message). */
function scenario(rand: () => number) {
  const s = {
    replicas: pick(rand, [1, 3, 3, 3, 3, 5, 5, 5, 5, 5]),
    chaosMs: 2_000 + Math.floor(rand() * 6_000),
    dropRate: pick(rand, [0, 0.02, 0.1, 0.3]),
    duplicateRate: pick(rand, [0, 0.05, 0.2]),
    reorderRate: pick(rand, [0, 0.05, 0.2]),
    delayMs: pick(rand, [2, 10, 40]),
    syncMs: pick(rand, [1, 10, 40]),
    crashRate: pick(rand, [0, 0.005, 0.02, 0.05]),
    powerLossRate: pick(rand, [0, 0, 0.002, 0.01]),
    partitionRate: pick(rand, [0, 0.005, 0.02, 0.05]),
    pauseRate: pick(rand, [0, 0.005, 0.02]),
    /** How far a replica's clock may run fast or slow: its ticks come every TICK_MS * (1 ± skew). */
    clockSkew: pick(rand, [0, 0.1, 0.3, 0.5]),
    /** What counts toward the majority: fsynced entries (flush.messages=1) or written ones. */
    policy: pick(rand, ['fsync', 'pageCache'] as const),
    wipeRate: pick(rand, [0, 0, 0.002, 0.005]),
    /** Client appends per tick, on average about this many. */
    appendRate: pick(rand, [0.1, 0.5, 1.5, 3]),
    /** A client's batch takes 1 to this many offsets. */
    maxBatchOffsets: pick(rand, [1, 1, 3, 8]),
    retentionRate: pick(rand, [0, 0, 0.002, 0.01]),
    /** Idempotent producers, each with one batch in flight, and how often each sends per tick. */
    producers: pick(rand, [0, 1, 3]),
    produceRate: pick(rand, [0.2, 0.6]),
    /** Membership changes a leader starts per tick, about. */
    changeRate: pick(rand, [0.005, 0.02, 0.05]),
    /** Replicas join and leave the group: five replicas then, three of them voters at first. */
    membership: rand() < 0.3,
    /** How often, per tick, the failure detector errs (a false suspicion, or a cleared one). */
    detectorErrorRate: pick(rand, [0, 0.01, 0.05]),
  };
  return {
    ...s,
    replicas: s.membership ? 5 : s.replicas,
    /**
     * Every replica starts without state, so amnesiac, as a new partition's replicas do in a broker
     * (never drawn: a scenario override turns it on, so the seeds' own scenarios stay as they were).
     */
    freshAmnesiac: false,
    /** Leaders hand their leadership to another voter, per tick, about (an override turns it on). */
    transferRate: 0,
    /**
     * Moves (raft-sim-moves.ts) instead of random membership changes: a pool of eight replicas,
     * one to five of them voters at first (an override turns it on).
     */
    reassign: false,
    /** The sizes a move's target is drawn from. */
    targetSizes: [1, 2, 3, 4, 5] as readonly number[],
    /** The replicas moves draw their targets from. */
    movePool: 8,
  };
}
