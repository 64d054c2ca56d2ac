// A seeded simulation of whole brokers replicating partitions to each other (STYLE 11): three
// brokers in one process, each with its own in-memory disk (memory-fs.ts), real storage (the log
// manager, partition logs, leader-epoch caches, raft-state files), each partition's real Raft log
// over that storage (PartitionRaftLog) and one real RaftGroups per broker, all on a virtual clock
// driven by one agenda of events. Where the Raft simulation (raft-sim.ts) proves the protocol over
// a log in memory, this one proves the broker's side of it: the driver, the log adapter, the flush
// policies and recovery from what a disk kept.
//
// The seed decides everything: the scenario (how many partitions, which flush policy, segment
// size, fault intensities), the network (it drops, delays, duplicates and reorders envelopes, and
// partitions brokers, one way or both, until the partition heals), crashes of a broker's process
// (the disk keeps everything written) and power losses (the disk keeps what MemoryFs.crash leaves;
// under the page-cache policy only on a minority, which restarts amnesiac), when each fdatasync
// lands, and clients appending RecordBatch v2 batches to whichever broker leads a partition, each
// acknowledged (acks=all) once that leader's high watermark passes it while it still leads.
//
// A run is a chaotic phase, then a healed one (no drops, no partitions, every broker up) in which
// every partition must elect a leader, commit a new append and converge within a bound of virtual
// time. The checker (broker-sim-checker.ts) runs after every step and once at the end.
//
// Nothing here reads a real clock, a real file or Math.random. The storage's asynchronous parts
// (fdatasync completions and what waits on them) run as promise continuations: after each event
// the loop lets them all settle (setImmediate runs after every pending microtask) before the next.

import { AssertionError } from 'node:assert';
import type { RaftFaults } from '../../broker/raft/raft-config.js';
import type { Envelope } from '../../broker/replica/raft-groups.js';
import type { Entry } from '../../broker/raft/messages.js';
import { stampBaseOffset, stampLeaderEpoch } from '../../proto/batch-header.js';
import type { Clock } from '../../proto/clock.js';
import { encodeBatch } from '../../proto/record-batch.js';
import type { PartitionLog } from '../../storage/index.js';
import { seededRandom } from '../storage/helpers.js';
import {
  SimBroker,
  TICK_MS,
  VOTERS,
  groupKey,
  type BrokerHost,
  type FlushPolicy,
} from './broker-sim-broker.js';
import { BrokerChecker } from './broker-sim-checker.js';
import { Violation, type CheckerCounts } from './raft-checker.js';
import { SimNetwork, type NetworkEvent } from './broker-sim-network.js';
import { EventQueue } from './raft-sim-queue.js';

/** After the faults heal, every partition must elect, commit and converge within this much virtual time. */
export const LIVENESS_BOUND_MS = 10_000;
/** More events than this at one virtual instant is a loop that never lets time move. */
const MAX_EVENTS_AT_ONCE = 100_000;
/** The brokers' wall clock at virtual time 0. */
const EPOCH_MS = 1_700_000_000_000;

interface Cancellable {
  cancelled: boolean;
}

type SimEvent =
  | { kind: 'tick' }
  | { kind: 'timer'; b: SimBroker; life: number; fn: () => void; t: Cancellable }
  | { kind: 'sync'; fn: () => void }
  | NetworkEvent
  | { kind: 'restart'; b: SimBroker }
  | { kind: 'calm' };

export interface BrokerSimOptions {
  /** A broken variant of the protocol, for the negative control. */
  readonly faults?: RaftFaults;
  /** Negative control: brokers restart after a power loss without their amnesia (SimBroker). */
  readonly forgetAmnesia?: boolean;
  /** Entries wait for their flush through LogFlusher's waiters, as the broker wires it (BrokerHost.whenFlushed). */
  readonly flushWaitInLog?: boolean;
  readonly trace?: (line: string) => void;
}

export interface BrokerSimResult {
  readonly partitions: number;
  readonly policy: FlushPolicy;
  readonly virtualMs: number;
  readonly events: number;
  readonly counts: CheckerCounts;
  readonly committed: number;
  readonly acks: number;
  readonly crashes: number;
  readonly powerLosses: number;
}

interface Pending {
  readonly key: string;
  readonly b: SimBroker;
  readonly life: number;
  readonly term: number;
  readonly offset: number;
  /** The batch as the leader must have stored it: offsets and epoch stamped. */
  readonly expected: Buffer;
  readonly marker: boolean;
}

export class BrokerSimulation implements BrokerHost {
  readonly rand: () => number;
  readonly policy: FlushPolicy;
  readonly segmentBytes: number;
  readonly checkpointIntervalMs: number;
  readonly faults: RaftFaults;
  readonly forgetAmnesia: boolean;
  private readonly s: ReturnType<typeof scenario>;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly brokers: SimBroker[];
  private readonly keys: string[];
  private readonly checker: BrokerChecker;
  private readonly network: SimNetwork;
  private now = 0;
  private events = 0;
  /** Events handled at the current virtual time. */
  private eventsNow = 0;
  private calmSince = 0;
  private clientSeq = 0;
  private pending: Pending[] = [];
  private readonly marker = new Map<string, 'none' | 'proposed' | 'acked'>();
  private crashes = 0;
  /** Flushes the groups wait for (BrokerHost.whenFlushed), checked after every step. */
  private flushWaits: { b: SimBroker; life: number; log: PartitionLog; end: number; resolve: () => void }[] =
    [];
  private powerLosses = 0;

  constructor(
    readonly seed: number,
    private readonly options: BrokerSimOptions = {},
  ) {
    this.rand = seededRandom(seed);
    this.s = scenario(this.rand);
    this.policy = this.s.policy;
    this.segmentBytes = this.s.segmentBytes;
    this.checkpointIntervalMs = this.s.checkpointIntervalMs;
    this.faults = options.faults ?? {};
    this.forgetAmnesia = options.forgetAmnesia === true;
    this.keys = Array.from({ length: this.s.partitions }, (_, p) => groupKey(p));
    for (const key of this.keys) this.marker.set(key, 'none');
    this.checker = new BrokerChecker(this.keys);
    this.brokers = VOTERS.map((id) => new SimBroker(id, this, this.keys));
    this.network = new SimNetwork(this.rand, this.s, (delayMs, event) =>
      this.queue.push(this.now + delayMs, event),
    );
  }

  async run(): Promise<BrokerSimResult> {
    this.trace(`scenario ${JSON.stringify(this.s)}`);
    for (const b of this.brokers) this.start(b);
    this.queue.push(TICK_MS, { kind: 'tick' });
    this.queue.push(this.s.chaosMs, { kind: 'calm' });
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined) throw new Error('the agenda ran dry');
      if (next.time !== this.now) this.eventsNow = 0;
      this.now = next.time;
      this.events++;
      if (++this.eventsNow > MAX_EVENTS_AT_ONCE)
        throw new Violation('liveness', `time stands still at ${this.now} ms (a timer or message loop)`);
      try {
        const done = this.handle(next.event);
        // What the step set going (fsync continuations, and what waited on them) runs before
        // anything else happens.
        do await settle();
        while (this.flushesLanded());
        if (done) break;
        for (const b of this.brokers) b.noteRecovered();
        this.checker.afterStep(this.brokers);
        this.checkAcks();
        if (this.options.trace !== undefined) this.traceChanges(next.event);
      } catch (e) {
        throw asViolation(e);
      }
    }
    try {
      this.checker.finalCheck(this.brokers);
    } catch (e) {
      throw asViolation(e);
    }
    let acks = 0;
    for (const a of this.checker.acks.values()) acks += a.size;
    return {
      partitions: this.s.partitions,
      policy: this.policy,
      virtualMs: this.now,
      events: this.events,
      counts: this.checker.counts,
      committed: this.checker.committed,
      acks,
      crashes: this.crashes,
      powerLosses: this.powerLosses,
    };
  }

  clockFor(b: SimBroker): Clock {
    const life = b.life;
    return {
      now: () => EPOCH_MS + this.now,
      schedule: (delayMs, fn) => {
        const t: Cancellable = { cancelled: false };
        this.queue.push(this.now + Math.max(0, Math.ceil(delayMs)), { kind: 'timer', b, life, fn, t });
        return { cancel: () => void (t.cancelled = true) };
      },
    };
  }

  scheduleSync(_b: SimBroker, complete: () => void): void {
    this.queue.push(this.now + 1 + Math.floor(this.rand() * this.s.syncMs), { kind: 'sync', fn: complete });
  }

  whenFlushed(b: SimBroker, log: PartitionLog, end: number): Promise<void> {
    if (this.options.flushWaitInLog !== false) return log.waitFlushed(end);
    return new Promise((resolve) => this.flushWaits.push({ b, life: b.life, log, end, resolve }));
  }

  /** Resolves the flush waits that are met; true if any was. A dead process's log never answers. */
  private flushesLanded(): boolean {
    if (this.flushWaits.length === 0) return false;
    const before = this.flushWaits.length;
    this.flushWaits = this.flushWaits.filter((w) => {
      if (w.b.life !== w.life || !w.b.up) return false; // the process that waited is gone
      if (w.log.flushedOffset < w.end) return true;
      w.resolve();
      return false;
    });
    return this.flushWaits.length < before;
  }

  send(e: Envelope): void {
    this.network.send(e);
  }

  onAppend(key: string, id: number, entry: Entry, prevTerm: number): void {
    this.checker.onAppend(key, id, entry, prevTerm);
  }

  /** Handles one event; true once the healed cluster has converged. */
  private handle(ev: SimEvent): boolean {
    switch (ev.kind) {
      case 'tick':
        return this.onTick();
      case 'timer':
        if (!ev.t.cancelled && ev.b.life === ev.life && ev.b.up) ev.fn();
        return false;
      case 'sync':
        ev.fn();
        return false;
      case 'deliver': {
        const b = this.brokers[ev.e.to - 1]!;
        const e = b.up ? this.network.arrive(ev.e) : null;
        if (e !== null) b.groups!.receive(e);
        return false;
      }
      case 'restart':
        if (!ev.b.up) this.start(ev.b);
        return false;
      case 'heal':
        this.network.heal(ev.pairs);
        return false;
      case 'calm':
        this.trace('faults stop');
        this.network.calmDown();
        this.calmSince = this.now;
        for (const b of this.brokers) if (!b.up) this.queue.push(this.now + 1, { kind: 'restart', b });
        return false;
    }
  }

  private onTick(): boolean {
    this.queue.push(this.now + TICK_MS, { kind: 'tick' });
    if (this.network.calm) return this.checkConverged();
    this.injectFaults();
    for (let a = this.s.appendRate; a > 0 && this.rand() < a; a--)
      this.clientAppend(this.keys[Math.floor(this.rand() * this.keys.length)]!, false);
    return false;
  }

  private injectFaults(): void {
    const s = this.s;
    const up = this.brokers.filter((b) => b.up);
    if (up.length > 0 && this.rand() < s.crashRate) this.crash(pick(this.rand, up), 'process');
    if (this.rand() < s.powerLossRate) {
      // Under the page-cache policy the promise covers a minority: the rest keep their caches.
      // Under flush.messages=1 nothing acknowledged was only in a cache, so all may lose power.
      const hit =
        this.policy === 'written'
          ? this.minority()
          : this.rand() < 0.3
            ? up
            : up.length > 0
              ? [pick(this.rand, up)]
              : [];
      if (hit.length > 0) {
        this.powerLosses++;
        this.trace(`power loss ${hit.map((b) => b.id).join(' ')}`);
      }
      for (const b of hit) this.crash(b, 'power');
    }
    if (this.rand() < s.partitionRate) {
      const pairs = this.network.partition(this.brokers.map((b) => b.id));
      this.trace(`partition ${pairs.join(' ')}`);
    }
  }

  /** One running broker that may lose its page cache while a majority stays whole, or none. */
  private minority(): SimBroker[] {
    const room =
      Math.floor((this.brokers.length - 1) / 2) - this.brokers.filter((b) => b.amnesiac.size > 0).length;
    const whole = this.brokers.filter((b) => b.up && b.amnesiac.size === 0);
    return room > 0 && whole.length > 0 ? [pick(this.rand, whole)] : [];
  }

  private crash(b: SimBroker, kind: 'process' | 'power'): void {
    if (!b.up) return;
    this.crashes++;
    this.trace(`crash ${b.id} (${kind})`);
    b.crash(kind);
    this.queue.push(this.now + 20 + Math.floor(this.rand() * 600), { kind: 'restart', b });
  }

  private start(b: SimBroker): void {
    b.start();
    this.checker.onRestart(b.id);
    this.trace(`start ${b.id}${b.amnesiac.size > 0 ? ' amnesiac' : ''} (incarnation ${b.lives})`);
  }

  /** A client appends a batch at a broker that says it leads `key` (a stale leader may answer too). */
  private clientAppend(key: string, marker: boolean): boolean {
    const leaders = this.brokers.filter((b) => b.node(key)?.role === 'leader');
    if (leaders.length === 0) return false;
    const b = pick(this.rand, leaders);
    const n = b.node(key)!;
    const seq = this.clientSeq++;
    const count = 1 + Math.floor(this.rand() * this.s.maxRecords);
    const records = Array.from({ length: count }, (_, i) => ({
      timestamp: EPOCH_MS + this.now,
      key: Buffer.from(`key-${seq % 7}`),
      value: Buffer.from(`${marker ? 'marker' : 'client'}-${seq}-${i}`),
    }));
    const batch = encodeBatch(records);
    const expected = Buffer.from(batch);
    const offset = b.groups!.propose(key, batch, count);
    if (offset === null) return false;
    stampBaseOffset(expected, 0, offset);
    stampLeaderEpoch(expected, 0, n.currentTerm);
    this.pending.push({ key, b, life: b.life, term: n.currentTerm, offset, expected, marker });
    return true;
  }

  /** An append is acknowledged once its leader, still leading in its term, has its high watermark past it. */
  private checkAcks(): void {
    if (this.pending.length === 0) return;
    this.pending = this.pending.filter((p) => {
      const n = p.b.node(p.key);
      if (n === null || p.b.life !== p.life || n.currentTerm !== p.term || n.role !== 'leader') {
        if (p.marker) this.marker.set(p.key, 'none');
        return false; // the client hears an error or nothing: not acknowledged
      }
      if (n.highWatermark <= p.offset) return true;
      this.checker.onAck(p.key, p.offset, p.expected);
      if (p.marker) this.marker.set(p.key, 'acked');
      return false;
    });
  }

  /** In the healed phase: has every partition's leader committed a new append that every broker holds? */
  private checkConverged(): boolean {
    if (this.now - this.calmSince > LIVENESS_BOUND_MS) {
      const state = this.keys.map(
        (key) =>
          `${key}: ${this.brokers.map((b) => `${b.id}:${b.node(key)?.role}/${b.node(key)?.currentTerm}/hw${b.node(key)?.highWatermark}/end${b.node(key)?.logEnd}`).join(' ')}`,
      );
      throw new Violation(
        'liveness',
        `no convergence ${LIVENESS_BOUND_MS} ms after healing (${state.join('; ')})`,
      );
    }
    for (const key of this.keys)
      if (this.marker.get(key) === 'none' && this.clientAppend(key, true)) this.marker.set(key, 'proposed');
    if (this.keys.some((key) => this.marker.get(key) !== 'acked')) return false;
    if (this.brokers.some((b) => !b.up)) return false;
    for (const key of this.keys) {
      const leaders = this.brokers.filter((b) => b.node(key)?.role === 'leader');
      if (leaders.length !== 1) return false;
      const lead = leaders[0]!.node(key)!;
      for (const b of this.brokers) {
        const n = b.node(key)!;
        if (n.highWatermark !== lead.highWatermark || n.logEnd !== lead.logEnd) return false;
      }
    }
    return true;
  }

  private readonly lastState = new Map<string, string>();

  /** Replay only: one line per replica whose role, term, log or high watermark changed. */
  private traceChanges(ev: SimEvent): void {
    for (const b of this.brokers) {
      for (const key of this.keys) {
        const n = b.node(key);
        const log = b.raftLog(key);
        const state =
          n === null || log === null
            ? 'down'
            : `${n.role} t${n.currentTerm} leader ${n.leaderId} log [${log.start}, ${n.logEnd}) flushed ${log.log.flushedOffset} hw ${n.highWatermark}${n.isAmnesiac ? ' amnesiac' : ''}`;
        const id = `${b.id} ${key}`;
        if (this.lastState.get(id) === state) continue;
        this.lastState.set(id, state);
        const cause =
          ev.kind === 'deliver'
            ? `envelope ${ev.e.from}>${ev.e.to} (${ev.e.messages.map((m) => m.message.type).join(',')})`
            : ev.kind;
        this.trace(`${id}: ${state} after ${cause}`);
      }
    }
  }

  private trace(line: string): void {
    this.options.trace?.(`${this.now} ms: ${line}`);
  }
}

/** Lets every promise continuation the last event started run (setImmediate comes after them all). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function asViolation(e: unknown): unknown {
  if (e instanceof AssertionError) return Object.assign(new Violation('assertion', e.message), { cause: e });
  return e;
}

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

/** The seed's scenario: partitions, flush policy, segment size and fault intensities (per tick or per envelope). */
function scenario(rand: () => number) {
  return {
    partitions: pick(rand, [1, 2, 3]),
    /** What counts toward the majority: written entries (the page cache) or flushed ones (flush.messages=1). */
    policy: pick(rand, ['written', 'flushed'] as const),
    /** Small segments roll often, so recovery and truncation cross segment boundaries. */
    segmentBytes: pick(rand, [1024, 4096, 65_536]),
    checkpointIntervalMs: pick(rand, [100, 1_000, 60_000]),
    chaosMs: 2_000 + Math.floor(rand() * 4_000),
    dropRate: pick(rand, [0, 0.02, 0.1, 0.3]),
    duplicateRate: pick(rand, [0, 0.05, 0.2]),
    reorderRate: pick(rand, [0, 0.05, 0.2]),
    delayMs: pick(rand, [2, 10, 40]),
    syncMs: pick(rand, [1, 10, 40]),
    crashRate: pick(rand, [0, 0.005, 0.02, 0.05]),
    powerLossRate: pick(rand, [0, 0.002, 0.01, 0.02]),
    partitionRate: pick(rand, [0, 0.005, 0.02, 0.05]),
    /** Client appends per tick, on average about this many. */
    appendRate: pick(rand, [0.2, 1, 3]),
    /** A client's batch holds 1 to this many records. */
    maxRecords: pick(rand, [1, 3, 8]),
  };
}
