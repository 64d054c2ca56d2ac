// One simulated replica: a RaftNode, the driver around it, and its disk. The disk keeps what was
// written (volatile: the hard state and the log in the page cache) apart from what an fsync made
// durable. A process crash keeps the page cache (the kernel writes it back); a power loss keeps
// only the durable part; a wipe keeps nothing. Syncs complete in the order issued, each making
// durable what was written before it was issued (one device, one queue).
//
// The flush policy decides what the replica reports to Raft as persisted (what counts toward the
// majority): under `fsync` (flush.messages=1) what an fsync completed, under `pageCache` (the
// default policy, as Kafka's) what was written. Under `pageCache` a power loss can take entries
// the replica acknowledged, so it comes back amnesiac, in a new incarnation; so does a wiped one.
//
// The driver follows the Ready contract: hard state first, then log actions, then messages, held
// back until every hard-state write before them is durable, so a vote or a new term is never
// announced and then forgotten.

import assert from 'node:assert';
import type { Entry, HardState, Message, Ready } from '../../broker/raft/messages.js';
import type { RaftConfig } from '../../broker/raft/raft-config.js';
import { MemoryRaftLog, entryEnd } from '../../broker/raft/raft-log.js';
import { RaftNode } from '../../broker/raft/raft-node.js';
import type { MembershipAt } from '../../broker/raft/membership.js';
import type { RaftChecker, ReplicaView } from './raft-checker.js';
import type { ProducerStateTable } from '../../broker/producer-state.js';
import { foldProducerState, rebuildProducerState } from './raft-sim-producers.js';

/**
 * A log as written to the simulated disk: its entries, where it starts, the term before, the
 * membership in force there and the producer state of the entries below it (kept by retention and
 * resets, as a snapshot keeps its configuration and state machine).
 */
export interface DiskLog {
  readonly entries: readonly Entry[];
  readonly start: number;
  readonly startTerm: number;
  readonly startMembership: MembershipAt | null;
  readonly startState: Uint8Array | null;
}

export interface DiskState {
  hardState: HardState;
  log: DiskLog;
}

export function diskLogEnd(log: DiskLog): number {
  const last = log.entries[log.entries.length - 1];
  return last === undefined ? log.start : entryEnd(last);
}

const WIPED: DiskState = {
  hardState: { term: 0, votedFor: null, amnesiac: true },
  log: { entries: [], start: 0, startTerm: 0, startMembership: null, startState: null },
};
const EMPTY_DISK: DiskState = {
  hardState: { term: 0, votedFor: null, amnesiac: false },
  log: { entries: [], start: 0, startTerm: 0, startMembership: null, startState: null },
};

/** What a replica needs from the world around it. */
export interface ReplicaHost {
  readonly checker: RaftChecker;
  /** Negative control: a new leader rebuilds producer state from its committed entries only. */
  readonly producerStateFromCommitted: boolean;
  /** Negative control: retention drops the producer state of the entries it removes. */
  readonly producerStateLostToRetention: boolean;
  send(m: Message): void;
  /** Completes `sync(seq, state)` on this replica later, in issue order. */
  scheduleSync(r: SimReplica, seq: number, incarnation: number, state: DiskState): void;
}

export class SimReplica implements ReplicaView {
  node: RaftNode | null = null;
  /** The running node's log (what the process sees), or null while crashed. */
  log: MemoryRaftLog | null = null;
  /** Bumped by each crash, so completions issued before it are recognised and dropped. */
  incarnation = 0;
  /** The Raft incarnation: bumped each time the replica may have lost what it acknowledged. */
  lives = 0;
  /** While leading: idempotent-producer state, rebuilt from the log on becoming leader. */
  producers: ProducerStateTable | null = null;
  private ledTerm = -1;
  pausedUntil = 0;
  /** The virtual milliseconds between this replica's ticks: its clock's rate (clock skew). */
  tickMs = 10;
  /** When the last sync issued completes: later ones complete no earlier (one queue). */
  lastSyncAt = 0;
  /** Diverging suffixes this replica truncated (the simulation reports how often it happened). */
  truncations = 0;
  /** Its copy is deleted (its broker holds no replica of the group): it stays down until created again. */
  removed = false;
  private volatile: DiskState = EMPTY_DISK;
  private durable: DiskState = EMPTY_DISK;
  private issued = 0;
  private completed = 0;
  /** The last sync carrying a hard-state write: messages wait for it. */
  private hardStateSync = 0;
  private held: { seq: number; messages: Message[] }[] = [];

  constructor(
    readonly id: number,
    private readonly host: ReplicaHost,
    private readonly makeConfig: () => RaftConfig,
    readonly policy: 'fsync' | 'pageCache',
    /** Starts as a new partition's replica does in a broker: no state, so amnesiac. */
    fresh = false,
  ) {
    if (fresh) this.volatile = this.durable = WIPED;
  }

  get durableLog(): DiskLog {
    return this.durable.log;
  }
  get durableHardState(): HardState {
    return this.durable.hardState;
  }

  start(): void {
    assert(this.node === null, 'a running replica is not started again');
    const d = this.durable.log;
    this.log = new MemoryRaftLog(d.entries, d.start, d.startTerm, d.startMembership, d.startState);
    this.node = new RaftNode(
      { ...this.makeConfig(), incarnation: this.lives },
      this.durable.hardState,
      this.log,
    );
    this.host.checker.onRestart(this.id);
  }

  /**
   * The process dies. In a `power` loss everything not fsynced goes with it (under `fsync` nothing
   * it acknowledged); a `process` crash keeps the page cache; a `wipe` loses the whole disk.
   */
  crash(kind: 'process' | 'power' | 'wipe'): void {
    this.node = null;
    this.log = null;
    this.producers = null;
    this.ledTerm = -1;
    this.incarnation++;
    if (kind === 'process') this.durable = this.volatile;
    if (kind === 'wipe') this.durable = WIPED;
    else if (kind === 'power' && this.policy === 'pageCache') {
      this.durable = { ...this.durable, hardState: { ...this.durable.hardState, amnesiac: true } };
      this.lives++;
    }
    if (kind === 'wipe') this.lives++;
    this.volatile = this.durable;
    this.issued = this.completed = this.hardStateSync = 0;
    this.held = [];
  }

  /**
   * The copy is deleted, as a broker deletes a replica moved away: the process stops and the disk
   * is wiped. It stays down until `create`.
   */
  remove(): void {
    this.crash('wipe');
    this.removed = true;
  }

  /**
   * Created (again) with nothing on disk, as a broker creates a replica a move adds: `amnesiac`
   * as the broker decides for a replica without state. A new incarnation: whatever an earlier
   * copy acknowledged is gone.
   */
  create(amnesiac: boolean): void {
    assert(this.node === null, 'a running replica is not created again');
    this.removed = false;
    this.incarnation++;
    this.lives++;
    this.volatile = this.durable = amnesiac ? WIPED : EMPTY_DISK;
  }

  /** Runs `input` on the node, then carries out what it asked for. */
  step(input: (n: RaftNode) => void): void {
    const n = this.node;
    if (n === null) return;
    input(n);
    this.apply(n.takeReady());
    if (n.role !== 'leader') {
      this.producers = null;
      this.ledTerm = -1;
    } else if (this.ledTerm !== n.currentTerm) {
      this.ledTerm = n.currentTerm;
      const below = this.host.producerStateFromCommitted ? n.highWatermark : Infinity;
      this.producers = rebuildProducerState(this.log!.startState, this.log!.all(), below);
    }
  }

  sync(seq: number, incarnation: number, state: DiskState): void {
    if (incarnation !== this.incarnation) return;
    assert(seq === this.completed + 1, `replica ${this.id}: sync ${seq} completes after ${this.completed}`);
    this.completed = seq;
    this.durable = state;
    this.host.checker.onSync(this);
    while (this.held.length > 0 && this.held[0]!.seq <= seq) {
      for (const m of this.held.shift()!.messages) this.host.send(m);
    }
    this.step((n) => n.hardStatePersisted(state.hardState.term));
    this.reportPersisted(this.policy === 'fsync' ? state.log : this.volatile.log);
  }

  /** Tells the node that `log` is persisted, as the flush policy counts it. */
  private reportPersisted(log: DiskLog): void {
    const last = log.entries[log.entries.length - 1];
    this.step((n) => n.persisted(diskLogEnd(log), last?.term ?? log.startTerm));
  }

  /** The replica is amnesiac now (or, while down, will be when it starts). */
  get amnesiac(): boolean {
    return this.node?.isAmnesiac ?? this.durable.hardState.amnesiac;
  }

  /**
   * Retention: the log loses its entries below `offset` (which the high watermark covers), and keeps
   * their producer state, as the broker keeps a producer's state past the log start.
   */
  deleteBefore(offset: number): void {
    const log = this.log!;
    const state = this.host.producerStateLostToRetention
      ? null
      : foldProducerState(log.startState, log.read(log.start, Infinity), offset);
    this.step(() => log.deleteBefore(offset, state));
  }

  private apply(ready: Ready): void {
    const v = this.volatile;
    const actions = this.log!.takeActions();
    let entries = v.log.entries;
    let start = v.log.start;
    let startTerm = v.log.startTerm;
    let startMembership = v.log.startMembership;
    let startState = v.log.startState;
    for (const a of actions) {
      switch (a.kind) {
        case 'truncate': {
          const keep = entries.findIndex((e) => e.offset >= a.from);
          assert(keep >= 0, 'a truncation removes something');
          entries = entries.slice(0, keep);
          this.truncations++;
          break;
        }
        case 'append': {
          const grown = entries.slice();
          for (const e of a.entries) {
            const prev = grown[grown.length - 1];
            const end = prev === undefined ? start : entryEnd(prev);
            assert(e.offset >= end, `append at ${e.offset} inside the log (end ${end})`);
            this.host.checker.onAppend(this.id, e, prev?.term ?? startTerm);
            grown.push(e);
          }
          entries = grown;
          break;
        }
        case 'reset':
          entries = [];
          start = a.start;
          startTerm = a.startTerm;
          startMembership = a.membership;
          startState = a.state;
          break;
        case 'deleteBefore':
          entries = entries.filter((e) => e.offset >= a.offset);
          start = a.offset;
          startTerm = a.startTerm;
          startMembership = a.membership;
          startState = a.state;
          break;
      }
    }
    if (ready.hardState !== null || actions.length > 0) {
      this.volatile = {
        hardState: ready.hardState ?? v.hardState,
        log: { entries, start, startTerm, startMembership, startState },
      };
      const seq = ++this.issued;
      if (ready.hardState !== null) this.hardStateSync = seq;
      this.host.scheduleSync(this, seq, this.incarnation, this.volatile);
      // In the page cache now; counted at once unless a hard state waits for its fsync.
      if (this.policy === 'pageCache' && actions.length > 0 && this.hardStateSync <= this.completed)
        this.reportPersisted(this.volatile.log);
    }
    if (ready.messages.length === 0) return;
    if (this.hardStateSync > this.completed)
      this.held.push({ seq: this.hardStateSync, messages: ready.messages });
    else for (const m of ready.messages) this.host.send(m);
  }
}
