// The safety checker of the Raft simulation: it watches every log append, every fsync, every ack and
// (after every step) every replica's role and high watermark, and throws a Violation naming the
// property broken. The properties:
//
//   election safety      at most one leader per term (over the whole run, crashed ones included)
//   log matching         an (offset, term) pair names one entry, with one term before it, on every
//                        replica; by induction on the offset, equal pairs mean equal prefixes
//   leader completeness  a replica that becomes leader holds every entry committed in lower terms
//   committed / acks     the committed prefix (what any replica's high watermark has covered) never
//                        changes; an acknowledged entry is in it, on every replica up to its high
//                        watermark, and on every replica's durable log up to its high watermark
//   high watermark       never goes back on a replica, except across a crash: a restarted replica
//                        starts from 0 and learns it again from the leader (it can prove nothing
//                        more without the leader), so the checker restarts its baseline there too
//
// `strictDurable: false` skips the durable-log comparison, so a negative control can show the loss
// that skipping fsync leads to (after a power loss) rather than its earlier symptom.

import type { Entry } from '../../broker/raft/messages.js';
import type { RaftNode } from '../../broker/raft/raft-node.js';

export type ViolationKind =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'committed-changed'
  | 'ack-lost'
  | 'hw-regressed'
  | 'hw-beyond-durable'
  | 'liveness'
  | 'assertion';

export class Violation extends Error {
  constructor(
    readonly kind: ViolationKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}

/** What the checker may look at on one replica. */
export interface ReplicaView {
  readonly id: number;
  /** The running state machine, or null while crashed. */
  readonly node: RaftNode | null;
  /** The log as it would be after a power loss now. */
  readonly durableEntries: readonly Entry[];
}

export interface CheckerCounts {
  steps: number;
  appendsChecked: number;
  leadersChecked: number;
  committedChecked: number;
  durableChecked: number;
  acks: number;
}

export function sameEntry(a: Entry | undefined, b: Entry | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a === b) return true;
  if (a.term !== b.term || a.kind !== b.kind || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** Every count at zero: a checker's start, and the start of totals over many seeds. */
export function noCounts(): CheckerCounts {
  return { steps: 0, appendsChecked: 0, leadersChecked: 0, committedChecked: 0, durableChecked: 0, acks: 0 };
}

export class RaftChecker {
  readonly counts: CheckerCounts = noCounts();
  /** The committed prefix, entry by entry, as first covered by some replica's high watermark. */
  readonly committed: Entry[] = [];
  /**
   * Per committed offset, the term of the replica that first showed it committed: at least the term
   * of the leader that committed it (commit news flows from that leader to higher terms only).
   */
  private readonly committedTerm: number[] = [];
  readonly acks = new Map<number, Entry>();
  private readonly leaders = new Map<number, number>();
  private readonly pairs = new Map<string, { entry: Entry; prevTerm: number }>();
  private readonly hwSeen: number[];

  constructor(
    replicas: number,
    private readonly strictDurable: boolean,
  ) {
    this.hwSeen = new Array<number>(replicas).fill(0);
  }

  /** A replica put `entry` at `offset`, after an entry of `prevTerm`. */
  onAppend(id: number, offset: number, entry: Entry, prevTerm: number): void {
    this.counts.appendsChecked++;
    if (entry.term < prevTerm) {
      throw new Violation(
        'log-matching',
        `replica ${id}: term ${entry.term} at ${offset} after term ${prevTerm}`,
      );
    }
    const key = `${offset}/${entry.term}`;
    const seen = this.pairs.get(key);
    if (seen === undefined) this.pairs.set(key, { entry, prevTerm });
    else if (!sameEntry(seen.entry, entry) || seen.prevTerm !== prevTerm) {
      throw new Violation(
        'log-matching',
        `replica ${id}: (${offset}, term ${entry.term}) differs from another replica's (prev term ${prevTerm} vs ${seen.prevTerm})`,
      );
    }
  }

  onRestart(id: number): void {
    this.hwSeen[id] = 0;
  }

  /** A replica's disk completed an fsync: what is durable below its high watermark is committed. */
  onSync(r: ReplicaView): void {
    if (!this.strictDurable) return;
    const hw = Math.min(this.hwSeen[r.id]!, r.durableEntries.length);
    for (let o = 0; o < hw; o++) this.expectCommitted(r.id, o, r.durableEntries[o], 'durable log');
  }

  onAck(offset: number, entry: Entry): void {
    this.counts.acks++;
    if (!sameEntry(this.committed[offset], entry)) {
      throw new Violation('ack-lost', `offset ${offset} acknowledged but not the committed entry there`);
    }
    this.acks.set(offset, entry);
  }

  afterStep(replicas: readonly ReplicaView[]): void {
    this.counts.steps++;
    for (const r of replicas) {
      const n = r.node;
      if (n === null) continue;
      if (n.role === 'leader') this.checkLeader(n);
      const from = this.hwSeen[r.id]!;
      const hw = n.highWatermark;
      if (hw < from) throw new Violation('hw-regressed', `replica ${r.id}: high watermark ${from} -> ${hw}`);
      for (let o = from; o < hw; o++) {
        const e = n.entryAt(o);
        if (this.strictDurable) {
          this.counts.durableChecked++;
          if (!sameEntry(r.durableEntries[o], e)) {
            throw new Violation(
              'hw-beyond-durable',
              `replica ${r.id}: offset ${o} below hw ${hw} is not durable`,
            );
          }
        }
        this.counts.committedChecked++;
        if (o < this.committed.length) this.expectCommitted(r.id, o, e, 'log');
        else {
          this.committed.push(e!);
          this.committedTerm.push(n.currentTerm);
        }
      }
      this.hwSeen[r.id] = hw;
    }
  }

  /** At the end of a run: every replica's log and durable log agree with the committed prefix. */
  finalCheck(replicas: readonly ReplicaView[]): void {
    for (const r of replicas) {
      const n = r.node!;
      for (let o = 0; o < n.highWatermark; o++) {
        this.expectCommitted(r.id, o, n.entryAt(o), 'log');
        if (this.strictDurable) this.expectCommitted(r.id, o, r.durableEntries[o], 'durable log');
      }
    }
    for (const [o, e] of this.acks) {
      if (!sameEntry(this.committed[o], e))
        throw new Violation('ack-lost', `acknowledged offset ${o} changed`);
    }
  }

  private checkLeader(n: RaftNode): void {
    const known = this.leaders.get(n.currentTerm);
    if (known === n.id) return;
    if (known !== undefined) {
      throw new Violation('election-safety', `replicas ${known} and ${n.id} both lead term ${n.currentTerm}`);
    }
    this.leaders.set(n.currentTerm, n.id);
    this.counts.leadersChecked++;
    for (let o = 0; o < this.committed.length; o++) {
      // A leader of an older term may still be elected (and soon deposed) after a newer one commits.
      if (this.committedTerm[o]! >= n.currentTerm) continue;
      if (!sameEntry(n.entryAt(o), this.committed[o])) {
        throw new Violation(
          'leader-completeness',
          `replica ${n.id} leads term ${n.currentTerm} without committed offset ${o}${this.acks.has(o) ? ' (acknowledged)' : ''}`,
        );
      }
    }
  }

  private expectCommitted(id: number, o: number, e: Entry | undefined, where: string): void {
    if (sameEntry(this.committed[o], e)) return;
    const kind = this.acks.has(o) ? 'ack-lost' : 'committed-changed';
    throw new Violation(kind, `replica ${id}: committed offset ${o} differs on its ${where}`);
  }
}
