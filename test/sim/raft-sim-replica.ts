// One simulated replica: a RaftNode, the driver around it, and its disk. The disk keeps what was
// written (volatile: the hard state and the log as the process sees them) apart from what an fsync
// made durable; a crash keeps only the durable part. Syncs complete in the order issued, each making
// durable what was written before it was issued (one device, one queue).
//
// The driver follows the Ready contract: hard state first, then log actions, then messages, held
// back until every hard-state write before them is durable, so a vote or a new term is never
// announced and then forgotten.

import assert from 'node:assert';
import type { Entry, HardState, Message, Ready } from '../../broker/raft/messages.js';
import type { RaftConfig } from '../../broker/raft/raft-config.js';
import { RaftNode } from '../../broker/raft/raft-node.js';
import type { RaftChecker, ReplicaView } from './raft-checker.js';

export interface DiskState {
  hardState: HardState;
  entries: Entry[];
}

/** What a replica needs from the world around it. */
export interface ReplicaHost {
  readonly checker: RaftChecker;
  send(m: Message): void;
  /** Completes `sync(seq, state)` on this replica later, in issue order. */
  scheduleSync(r: SimReplica, seq: number, incarnation: number, state: DiskState): void;
}

export class SimReplica implements ReplicaView {
  node: RaftNode | null = null;
  /** Bumped by each crash, so completions issued before it are recognised and dropped. */
  incarnation = 0;
  pausedUntil = 0;
  /** When the last sync issued completes: later ones complete no earlier (one queue). */
  lastSyncAt = 0;
  /** Diverging suffixes this replica truncated (the simulation reports how often it happened). */
  truncations = 0;
  private volatile: DiskState = { hardState: { term: 0, votedFor: null }, entries: [] };
  private durable: DiskState = { hardState: { term: 0, votedFor: null }, entries: [] };
  private issued = 0;
  private completed = 0;
  /** The last sync carrying a hard-state write: messages wait for it. */
  private hardStateSync = 0;
  private held: { seq: number; messages: Message[] }[] = [];

  constructor(
    readonly id: number,
    private readonly host: ReplicaHost,
    private readonly makeConfig: () => RaftConfig,
  ) {}

  get durableEntries(): readonly Entry[] {
    return this.durable.entries;
  }
  get durableHardState(): HardState {
    return this.durable.hardState;
  }

  start(): void {
    assert(this.node === null, 'a running replica is not started again');
    this.node = new RaftNode(this.makeConfig(), {
      hardState: this.durable.hardState,
      entries: this.durable.entries,
    });
    this.host.checker.onRestart(this.id);
  }

  /** Power loss: everything not fsynced is gone, and so is everything in memory. */
  crash(): void {
    this.node = null;
    this.incarnation++;
    this.volatile = { hardState: this.durable.hardState, entries: this.durable.entries.slice() };
    this.issued = this.completed = this.hardStateSync = 0;
    this.held = [];
  }

  /** Runs `input` on the node, then carries out what it asked for. */
  step(input: (n: RaftNode) => void): void {
    const n = this.node;
    if (n === null) return;
    input(n);
    this.apply(n.takeReady());
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
    const end = state.entries.length;
    if (end > 0) this.step((n) => n.persisted(end, state.entries[end - 1]!.term));
  }

  private apply(ready: Ready): void {
    const v = this.volatile;
    if (ready.hardState !== null) v.hardState = ready.hardState;
    for (const a of ready.logActions) {
      if (a.kind === 'truncate') {
        assert(a.from < v.entries.length, 'a truncation removes something');
        v.entries.length = a.from;
        this.truncations++;
        continue;
      }
      assert(a.offset === v.entries.length, `append at ${a.offset} but the log ends at ${v.entries.length}`);
      for (const e of a.entries) {
        const o = v.entries.length;
        this.host.checker.onAppend(this.id, o, e, o === 0 ? 0 : v.entries[o - 1]!.term);
        v.entries.push(e);
      }
    }
    if (ready.hardState !== null || ready.logActions.length > 0) {
      const seq = ++this.issued;
      if (ready.hardState !== null) this.hardStateSync = seq;
      this.host.scheduleSync(this, seq, this.incarnation, {
        hardState: v.hardState,
        entries: v.entries.slice(),
      });
    }
    if (ready.messages.length === 0) return;
    if (this.hardStateSync > this.completed)
      this.held.push({ seq: this.hardStateSync, messages: ready.messages });
    else for (const m of ready.messages) this.host.send(m);
  }
}
