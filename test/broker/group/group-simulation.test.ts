// Deterministic simulation of one consumer group (STYLE 11): several consumers over a few topics,
// a producer appending records, and faults (crashes, stalled heartbeats, lost answers, slow and
// timed-out revocations, leaves, static restarts before and after their session timeout, partition
// growth, new topics, subscription changes, offset resets while the group is empty), all on a
// seeded clock. After every step the checker asserts:
//
//   - no partition is consumed by two members holding the same epoch (zombies included), and a
//     member the group still knows consumes only what the group counts as its own;
//   - the coordinator never has a partition under two members;
//   - every record below a committed offset was delivered (commits never run ahead of delivery);
//   - committed offsets never go back, except by an explicit reset.
//
// Then the faults stop and the live members heartbeat until the group is Stable, every subscribed
// partition is owned by exactly one live member and every member is at the group epoch; they drain
// the log and commit, and every committed offset reaches the end of its log.
//
// Each scenario is a seed for the simulation's own PRNG, a step count and the faults allowed;
// fast-check draws them (from FC_SEED, see test/setup.ts) and shrinks a failure to fewer steps and
// fewer faults. A failure prints the scenario as a GROUP_SIM='{…}' line and the end of its trace;
// to replay it with the whole trace, prefix that line to
//   npx vitest run test/broker/group/group-simulation.test.ts
// GROUP_SIM_RUNS=n explores more scenarios per assignor; GROUP_SIM_STATS=1 prints what they did.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ASSIGNORS, type AssignorName } from '../../../broker/group/assignors.js';
import { partitionKey } from '../../../broker/group/partition-key.js';
import {
  SIM_LIMITS,
  SUBSCRIPTIONS,
  SimFailure,
  World,
  emptyStats,
  fail,
  show,
  showSubscription,
  type ClientOptions,
  type Faults,
  type Scenario,
  type SimClient,
  type Stats,
  type Subscription,
} from './sim-support.js';

const MAX_CLIENTS = 6;
const STATIC_IDS = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8'];
const LATER_TOPICS = ['audit', 'logs-a', 'logs-b'];
/** The liveness phase must converge within this much simulated time. */
const SETTLE_LIMIT_MS = 3 * SIM_LIMITS.maxSessionTimeoutMs + 10_000;

interface PendingStart {
  readonly at: number;
  readonly opts: ClientOptions;
}

class Driver {
  readonly w: World;
  private readonly pending: PendingStart[] = [];
  private nextSweepAt = 0;

  constructor(scenario: Scenario, traceLine: ((line: string) => void) | null) {
    this.w = new World(scenario, traceLine);
  }

  run(steps: number): void {
    const { w } = this;
    w.setPartitions('orders', w.rng.int(1, 4));
    w.setPartitions('payments', w.rng.int(1, 3));
    const first = w.rng.int(2, 4);
    for (let i = 0; i < first; i++) this.schedule(w.rng.int(0, 400), this.freshOptions());
    for (let i = 0; i < steps; i++) this.step(true);
    this.settle();
    this.drain();
  }

  // ---- clients ----

  private freshOptions(): ClientOptions {
    const { rng } = this.w;
    const used = new Set([
      ...this.w.running().map((c) => c.instanceId),
      ...this.pending.map((p) => p.opts.instanceId),
    ]);
    const free = STATIC_IDS.filter((id) => !used.has(id));
    return {
      instanceId: free.length > 0 && rng.chance(0.4) ? rng.pick(free) : '',
      subscription: rng.pick(SUBSCRIPTIONS),
      sessionTimeoutMs: rng.chance(0.5)
        ? 0
        : rng.int(SIM_LIMITS.minSessionTimeoutMs, SIM_LIMITS.maxSessionTimeoutMs),
      rebalanceTimeoutMs: rng.chance(0.5) ? 0 : rng.int(1000, 4000),
      memberId: '',
    };
  }

  private schedule(delayMs: number, opts: ClientOptions): void {
    this.pending.push({ at: this.w.now + delayMs, opts });
  }

  private startDue(): void {
    for (let i = 0; i < this.pending.length;) {
      const p = this.pending[i] as PendingStart;
      if (p.at > this.w.now) {
        i++;
        continue;
      }
      this.pending.splice(i, 1);
      this.w.newClient(p.opts);
    }
  }

  /** A restarted process comes back before its session timeout or after it, as often. */
  private restartLater(sessionMs: number, opts: ClientOptions): void {
    const { rng } = this.w;
    const beforeTimeout = rng.chance(0.5);
    const delay = beforeTimeout ? rng.int(50, Math.floor(sessionMs * 0.7)) : sessionMs + rng.int(200, 3000);
    this.schedule(delay, opts);
  }

  // ---- one step ----

  private step(faulty: boolean): void {
    const { w } = this;
    const { rng } = w;
    w.faultsOn = faulty;
    w.stats.steps++;
    w.now += w.fault('stall', 0.03) ? rng.int(200, 1000) : rng.int(0, faulty ? 150 : 100);
    this.startDue();
    const sweepFirst = rng.chance(0.5);
    if (sweepFirst) this.sweepIfDue();
    for (const c of w.running()) c.tick(w);
    if (!sweepFirst) this.sweepIfDue();

    if (faulty && rng.chance(0.7)) {
      const key = rng.pick(w.partitionKeys());
      w.produce(key, rng.int(1, 5));
    }
    for (const c of w.running())
      for (const key of [...c.consuming.keys()]) if (rng.chance(0.6)) c.consume(w, key, rng.int(1, 6));
    for (const c of w.running()) if (rng.chance(0.08)) c.autoCommit(w);

    if (faulty) this.inject();
    w.check();
  }

  private sweepIfDue(): void {
    if (this.w.now < this.nextSweepAt) return;
    this.w.sweep();
    this.nextSweepAt = this.w.now + this.w.rng.int(50, 300);
  }

  private inject(): void {
    const { w } = this;
    const { rng } = w;
    const running = w.running();
    const starting = this.pending.length;
    if (running.length + starting < MAX_CLIENTS && rng.chance(running.length + starting < 2 ? 0.1 : 0.02))
      this.schedule(0, this.freshOptions());
    if (running.length === 0) {
      this.maybeReset();
      return;
    }
    if (w.fault('crash', 0.012)) {
      const c = rng.pick(running);
      c.crash(w);
      if (c.instanceId !== '' && w.faults.staticRestart && rng.chance(0.8))
        this.restartLater(c.sessionMs, this.optionsOf(c));
      else if (c.instanceId === '' && rng.chance(0.5))
        this.schedule(rng.int(50, 2000), { ...this.optionsOf(c), memberId: c.memberId });
    }
    if (w.fault('leave', 0.008)) {
      rng.pick(running).leave(w, false);
      if (rng.chance(0.5)) this.schedule(rng.int(100, 3000), this.freshOptions());
    }
    const statics = running.filter((c) => c.instanceId !== '' && c.status === 'running');
    if (statics.length > 0 && w.fault('staticRestart', 0.015)) {
      const c = rng.pick(statics);
      c.leave(w, true);
      this.restartLater(c.sessionMs, this.optionsOf(c));
    }
    if (w.fault('pause', 0.01)) {
      const c = rng.pick(running);
      if (c.status === 'running') {
        c.pausedUntil = w.now + rng.int(Math.floor(c.sessionMs * 0.3), c.sessionMs * 2);
        w.stats.pauses++;
        w.log(c.name, `heartbeats stall until ${c.pausedUntil}`);
      }
    }
    if (w.fault('topics', 0.006)) {
      const missing = LATER_TOPICS.filter((t) => !w.topics.has(t));
      if (missing.length > 0 && rng.chance(0.4)) w.setPartitions(rng.pick(missing), rng.int(1, 3));
      else {
        const topic = rng.pick([...w.topics.keys()]);
        const count = w.topics.get(topic) ?? 0;
        if (count < 8) w.setPartitions(topic, count + rng.int(1, 2));
      }
    }
    if (w.fault('subscription', 0.004)) {
      const c = rng.pick(running);
      if (c.status === 'running') {
        const next: Subscription = rng.pick(SUBSCRIPTIONS);
        c.subscription = next;
        w.stats.subscriptionChanges++;
        w.log(c.name, `subscribes to ${showSubscription(next)}`);
      }
    }
    // Everyone leaves now and then, so that the group is empty and offsets may be reset.
    if (w.fault('reset', 0.004)) {
      w.log('adm', 'every consumer stops');
      for (const c of w.running()) c.leave(w, false);
      this.pending.length = 0;
      for (let i = rng.int(1, 3); i > 0; i--) this.schedule(rng.int(1000, 5000), this.freshOptions());
    }
    this.maybeReset();
  }

  private maybeReset(): void {
    const { w } = this;
    if (!w.fault('reset', 0.05)) return;
    const key = w.rng.pick(w.partitionKeys());
    w.reset(key, w.rng.chance(0.1) ? null : w.rng.int(0, w.logEnd(key)));
  }

  private optionsOf(c: SimClient): ClientOptions {
    return {
      instanceId: c.instanceId,
      subscription: c.subscription,
      sessionTimeoutMs: c.sessionTimeoutMs,
      rebalanceTimeoutMs: c.rebalanceTimeoutMs,
      memberId: '',
    };
  }

  // ---- the end: liveness ----

  /** Faults stop; restarts still pending happen soon; live members heartbeat until settled. */
  private settle(): void {
    const { w } = this;
    w.faultsOn = false;
    w.log('sim', '---- faults stop ----');
    for (const c of w.running()) {
      c.pausedUntil = 0;
      for (const key of c.revokeAt.keys()) c.revokeAt.set(key, w.now);
    }
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i] as PendingStart;
      this.pending[i] = { at: Math.min(p.at, w.now + 500), opts: p.opts };
    }
    for (let n = w.running().length + this.pending.length; n < 2; n++) this.schedule(0, this.freshOptions());
    const start = w.now;
    while (w.now - start < SETTLE_LIMIT_MS) {
      this.step(false);
      if (this.pending.length === 0 && this.unsettled() === null) break;
    }
    w.stats.settleMs = w.now - start;
    const why = this.unsettled();
    if (why !== null) fail(`not settled ${w.now - start} ms after the faults stopped: ${why}`);
  }

  /** Why the group has not settled yet, or null when it has. */
  private unsettled(): string | null {
    const { w } = this;
    const group = w.group;
    if (group.state !== 'Stable') return `group is ${group.state}`;
    const live = w.running();
    const members = group.describeMembers();
    if (members.length !== live.length)
      return `group has ${members.length} members, ${live.length} consumers are running`;
    const owner = new Map<string, string>();
    const subscribed = new Set<string>();
    for (const c of live) {
      const m = members.find((x) => x.memberId === c.memberId);
      if (m === undefined) return `${c.name} (${c.memberId}) is not a member`;
      if (m.memberEpoch !== group.generation || c.epoch !== group.generation)
        return `${c.name} is at epoch ${c.epoch} (group says ${m.memberEpoch}), group at ${group.generation}`;
      if (m.pendingRevocation.length > 0 || c.revokeAt.size > 0) return `${c.name} is still revoking`;
      const given = m.assignment.map((tp) => partitionKey(tp.topic, tp.partition));
      if (given.length !== c.consuming.size || given.some((k) => !c.consuming.has(k)))
        return `${c.name} consumes other partitions than it was given`;
      for (const key of given) {
        if (owner.has(key)) return `${show(key)} is owned by ${owner.get(key)} and ${c.name}`;
        owner.set(key, c.name);
      }
      const regex = c.subscription.pattern === '' ? null : new RegExp(`^(?:${c.subscription.pattern})$`, 'u');
      for (const [topic, count] of w.topics) {
        if (!c.subscription.topics.includes(topic) && regex?.test(topic) !== true) continue;
        for (let p = 0; p < count; p++) subscribed.add(partitionKey(topic, p));
      }
    }
    for (const key of subscribed) if (!owner.has(key)) return `${show(key)} is subscribed but not owned`;
    for (const key of owner.keys()) if (!subscribed.has(key)) return `${show(key)} is owned, not subscribed`;
    return null;
  }

  /** The live members read to the end of their logs and commit: commits reach every log's end. */
  private drain(): void {
    const { w } = this;
    for (const c of w.running()) {
      for (const key of [...c.consuming.keys()]) c.consume(w, key, Number.MAX_SAFE_INTEGER);
      c.autoCommit(w);
    }
    w.check();
    for (const c of w.running())
      for (const key of c.consuming.keys())
        if (w.committed(key) !== w.logEnd(key))
          fail(
            `${show(key)}: committed ${w.committed(key)} after the drain, the log ends at ${w.logEnd(key)}`,
          );
    w.checkDeliveries();
    w.checkReplay();
  }
}

/** Runs one scenario; a broken invariant (or an error thrown by the group) comes with the trace. */
function runScenario(scenario: Scenario, traceLine: ((line: string) => void) | null = null): Stats {
  const driver = new Driver(scenario, traceLine);
  try {
    driver.run(scenario.steps);
  } catch (err) {
    const tail = driver.w.trace.slice(-120).join('\n');
    const kind = err instanceof SimFailure ? 'invariant broken' : 'unexpected error';
    throw new Error(
      `${kind} at t=${driver.w.now}: ${(err as Error).message}\n` +
        `scenario: GROUP_SIM='${JSON.stringify(scenario)}'\n` +
        `last ${Math.min(120, driver.w.trace.length)} of ${driver.w.trace.length} trace lines:\n${tail}`,
      { cause: err },
    );
  }
  return driver.w.stats;
}

const allFaults: Faults = {
  crash: true,
  leave: true,
  staticRestart: true,
  pause: true,
  slowRevoke: true,
  lostResponse: true,
  stall: true,
  topics: true,
  subscription: true,
  reset: true,
};
const noFaults: Faults = Object.fromEntries(
  Object.keys(allFaults).map((k) => [k, false]),
) as unknown as Faults;

// Faults are on by default and shrink to off, so a failure shrinks to the faults it needs.
const faultsArb: fc.Arbitrary<Faults> = fc.record(
  Object.fromEntries(Object.keys(allFaults).map((k) => [k, fc.boolean().map((b) => !b)])) as unknown as {
    [K in keyof Faults]: fc.Arbitrary<boolean>;
  },
);

const scenarioArb = (
  assignor: fc.Arbitrary<AssignorName>,
  faults: fc.Arbitrary<Faults>,
): fc.Arbitrary<Scenario> =>
  fc.record({
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    steps: fc.integer({ min: 20, max: 1500 }),
    assignor,
    faults,
  });

function addStats(total: Stats, s: Stats): void {
  for (const k of Object.keys(total) as (keyof Stats)[]) total[k] += s[k];
}

const runs = Number(process.env['GROUP_SIM_RUNS'] ?? 120);
const replay = process.env['GROUP_SIM'];

describe('consumer group simulation', () => {
  if (replay !== undefined) {
    it('replays GROUP_SIM', () => {
      const stats = runScenario(JSON.parse(replay) as Scenario, (line) => console.log(line));
      console.log(stats);
    });
    return;
  }

  it.each(ASSIGNORS)(
    '%s: safe under crashes, stalls, lost answers, restarts and resets; then settles',
    (assignor) => {
      const total = emptyStats();
      fc.assert(
        fc.property(scenarioArb(fc.constant(assignor), faultsArb), (scenario) => {
          addStats(total, runScenario(scenario));
        }),
        { numRuns: runs },
      );
      if (process.env['GROUP_SIM_STATS'] !== undefined) console.log(assignor, total);
      // The runs went through the paths the checker is there for (a handful of runs may not).
      if (runs < 100) return;
      expect(total.zombieCommitsRefused).toBeGreaterThan(0);
      expect(total.staleCommitsRefused).toBeGreaterThan(0);
      expect(total.evictedSession).toBeGreaterThan(0);
      expect(total.evictedRebalance).toBeGreaterThan(0);
      expect(total.fenced + total.unknownMember).toBeGreaterThan(0);
      expect(total.staticRejoins).toBeGreaterThan(0);
      expect(total.resetsApplied).toBeGreaterThan(0);
      expect(total.resetsRefused).toBeGreaterThan(0);
      expect(total.slowRevocations).toBeGreaterThan(0);
      expect(total.topicChanges).toBeGreaterThan(0);
    },
  );

  it('without faults, nobody is ever evicted or fenced and every commit is accepted', () => {
    fc.assert(
      fc.property(scenarioArb(fc.constantFrom(...ASSIGNORS), fc.constant(noFaults)), (scenario) => {
        const stats = runScenario(scenario);
        expect(stats.evictedSession + stats.evictedRebalance + stats.fenced + stats.unknownMember).toBe(0);
        expect(stats.zombieCommitsRefused + stats.staleCommitsRefused).toBe(0);
      }),
      { numRuns: Math.max(10, Math.floor(runs / 2)) },
    );
  });
});
