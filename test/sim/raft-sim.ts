// A seeded simulation of one Raft group (STYLE 11, after TigerBeetle's VOPR): replicas in one
// process on a virtual clock, a network that drops, delays, duplicates and reorders messages and
// partitions replicas (both ways or one way) until the partition heals, crashes that lose whatever
// was not fsynced (one replica, or every replica at once), pauses, retention removing a committed
// prefix on one replica, and clients appending batches of one to a few offsets to whichever replica
// leads. The seed decides everything, the scenario's intensities included (swarm
// testing: some seeds are calm, some stormy), so a failing seed replays exactly.
//
// A run is a chaotic phase, then a healed one (no drops, no partitions, every replica up) in which a
// leader must emerge, a new append must commit and every replica must converge within a bound of
// virtual time. The checker (raft-checker.ts) runs after every step.

import { AssertionError } from 'node:assert';
import type { Message } from '../../broker/raft/messages.js';
import type { RaftFaults } from '../../broker/raft/raft-config.js';
import { entryEnd } from '../../broker/raft/raft-log.js';
import { RaftChecker, Violation, entryAtOffset, sameEntry, type CheckerCounts } from './raft-checker.js';
import { EventQueue } from './raft-sim-queue.js';
import { SimReplica, diskLogEnd, type DiskState, type ReplicaHost } from './raft-sim-replica.js';
import { seededRandom } from '../storage/helpers.js';

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
/** After the faults heal, the group must elect, commit and converge within this much virtual time. */
export const LIVENESS_BOUND_MS = 8_000;

type SimEvent =
  | { kind: 'tick' }
  | { kind: 'deliver'; m: Message }
  | { kind: 'sync'; r: SimReplica; seq: number; incarnation: number; state: DiskState }
  | { kind: 'restart'; r: SimReplica }
  | { kind: 'recovered'; r: SimReplica; incarnation: number }
  | { kind: 'unpause'; r: SimReplica }
  | { kind: 'heal'; pairs: string[] }
  | { kind: 'calm' };

export interface SimOptions {
  readonly faults?: RaftFaults;
  readonly strictDurable?: boolean;
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
}

export class RaftSimulation implements ReplicaHost {
  readonly checker: RaftChecker;
  private readonly rand: () => number;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly replicas: SimReplica[] = [];
  private readonly blocked = new Map<string, number>();
  /** Per replica, what reached it while paused, in arrival order. */
  private readonly deferred: SimEvent[][] = [];
  private now = 0;
  private calm = false;
  private calmSince = 0;
  private clientSeq = 0;
  private pending: { id: number; incarnation: number; term: number; offset: number; marker: boolean }[] = [];
  private marker: 'none' | 'proposed' | 'acked' = 'none';
  private crashes = 0;
  private powerLosses = 0;
  private deletions = 0;
  private readonly s: ReturnType<typeof scenario>;

  constructor(
    readonly seed: number,
    private readonly options: SimOptions = {},
  ) {
    this.rand = seededRandom(seed);
    this.s = scenario(this.rand);
    this.checker = new RaftChecker(this.s.replicas, options.strictDurable ?? true);
    const voters = Array.from({ length: this.s.replicas }, (_, i) => i);
    for (const id of voters) {
      const config = () => ({
        id,
        voters,
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: HEARTBEAT_TICKS,
        maxEntriesPerAppend: 8,
        random: this.rand,
        faults: options.faults ?? {},
      });
      this.replicas.push(new SimReplica(id, this, config));
      this.deferred.push([]);
    }
  }

  run(): SimResult {
    for (const r of this.replicas) this.restart(r);
    this.queue.push(TICK_MS, { kind: 'tick' });
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
    };
  }

  send(m: Message): void {
    if (this.rand() < this.s.dropRate) return;
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
      case 'deliver': {
        const r = this.replicas[ev.m.to]!;
        if (this.blocked.has(`${ev.m.from}>${ev.m.to}`) || r.node === null) return false;
        if (this.frozen(r)) this.deferred[r.id]!.push(ev);
        else r.step((n) => n.receive(ev.m));
        return false;
      }
      case 'sync':
        if (this.frozen(ev.r)) this.deferred[ev.r.id]!.push(ev);
        else ev.r.sync(ev.seq, ev.incarnation, ev.state);
        return false;
      case 'restart':
        if (ev.r.node === null) this.restart(ev.r);
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
        this.calmSince = this.now;
        this.blocked.clear(); // pauses end on their own, within half a second
        for (const r of this.replicas) {
          if (r.node === null) this.queue.push(this.now + 1, { kind: 'restart', r });
        }
        return false;
    }
  }

  private onTick(): boolean {
    this.queue.push(this.now + TICK_MS, { kind: 'tick' });
    for (const r of this.replicas) if (r.pausedUntil <= this.now) r.step((n) => n.tick());
    if (this.calm) return this.checkConverged();
    this.injectFaults();
    for (let a = this.s.appendRate; a > 0 && this.rand() < a; a--) this.clientAppend(false);
    return false;
  }

  private injectFaults(): void {
    const s = this.s;
    const n = this.replicas.length;
    if (this.rand() < s.crashRate) this.crash(this.replicas[Math.floor(this.rand() * n)]!);
    if (this.rand() < s.powerLossRate) {
      this.powerLosses++;
      this.trace('power loss');
      for (const r of this.replicas) this.crash(r);
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

  private crash(r: SimReplica): void {
    if (r.node === null) return;
    this.crashes++;
    this.trace(`crash ${r.id}`);
    r.crash();
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
    r.start();
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

  /** An append is acknowledged once its leader, still leading in its term, reports it committed. */
  private checkAcks(): void {
    if (this.pending.length === 0) return;
    this.pending = this.pending.filter((p) => {
      const r = this.replicas[p.id]!;
      const n = r.node;
      if (n === null || r.incarnation !== p.incarnation || n.currentTerm !== p.term || n.role !== 'leader') {
        if (p.marker) this.marker = 'none';
        return false; // the client hears an error or nothing: not acknowledged
      }
      if (n.highWatermark <= p.offset) return true;
      this.checker.onAck(r.log!.entryAt(p.offset)!);
      if (p.marker) this.marker = 'acked';
      return false;
    });
  }

  /** In the healed phase: has a leader committed a new append that every replica now holds? */
  private checkConverged(): boolean {
    if (this.now - this.calmSince > LIVENESS_BOUND_MS) {
      const state = this.replicas.map(
        (r) => `${r.id}:${r.node?.role}/${r.node?.currentTerm}/hw${r.node?.highWatermark}`,
      );
      throw new Violation(
        'liveness',
        `no convergence ${LIVENESS_BOUND_MS} ms after healing (${state.join(' ')})`,
      );
    }
    if (this.marker === 'none' && this.clientAppend(true)) this.marker = 'proposed';
    if (this.marker !== 'acked') return false;
    const leader = this.replicas.find((r) => r.node?.role === 'leader');
    const lead = leader?.node;
    if (lead === undefined || lead === null) return false;
    const leadEntries = leader!.log!.all();
    for (const r of this.replicas) {
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
          : `${n.role} t${n.currentTerm} leader ${n.leaderId} log [${r.log!.start}, ${n.logEnd}) (durable to ${diskLogEnd(r.durableLog)}) hw ${n.highWatermark}`;
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

  private trace(line: string): void {
    this.options.trace?.(`${this.now} ms: ${line}`);
  }
}

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

/** The seed's scenario: group size and fault intensities (per tick or per message). */
function scenario(rand: () => number) {
  return {
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
    /** Client appends per tick, on average about this many. */
    appendRate: pick(rand, [0.1, 0.5, 1.5, 3]),
    /** A client's batch takes 1 to this many offsets. */
    maxBatchOffsets: pick(rand, [1, 1, 3, 8]),
    retentionRate: pick(rand, [0, 0, 0.002, 0.01]),
  };
}
