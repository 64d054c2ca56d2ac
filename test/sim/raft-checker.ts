// The safety checker of the Raft simulation: it watches every log append, every fsync, every ack and
// (after every step) every replica's role and high watermark, and throws a Violation naming the
// property broken. The properties:
//
//   election safety      at most one leader per term (over the whole run, crashed ones included)
//   log matching         an (offset, term) pair names one entry (its offsets and bytes), with one
//                        term before it, on every replica; by induction, equal pairs mean equal
//                        prefixes
//   leader completeness  a replica that becomes leader holds every entry committed in lower terms
//   committed / acks     the committed prefix (what any replica's high watermark has covered) never
//                        changes; an acknowledged entry is in it, on every replica up to its high
//                        watermark, and on every replica's durable log up to its high watermark
//   high watermark       never goes back on a replica, except across a crash: a restarted replica
//                        starts from 0 and learns it again from the leader (it can prove nothing
//                        more without the leader), so the checker restarts its baseline there too
//   moves                a move reported done (raft-sim-moves.ts) has its target as the committed
//                        prefix's configuration (raft-sim-moves.ts checks it against `committed`)
//
// Entries are record batches at Kafka offsets, each taking one or more offsets; a high watermark
// always falls between entries. Retention may remove a committed prefix on any replica: what a
// replica no longer holds below its log start is not compared.
//
// `strictDurable: false` skips the durable-log comparison, so a negative control can show the loss
// that skipping fsync leads to (after a power loss) rather than its earlier symptom.

import type { Entry } from '../../broker/raft/messages.js';
import { entryEnd, type MemoryRaftLog } from '../../broker/raft/raft-log.js';
import type { RaftNode } from '../../broker/raft/raft-node.js';
import type { DiskLog } from './raft-sim-replica.js';
import { producerOf } from './raft-sim-producers.js';

export type ViolationKind =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'committed-changed'
  | 'ack-lost'
  | 'hw-regressed'
  | 'hw-beyond-durable'
  | 'liveness'
  | 'duplicate'
  | 'move-uncommitted'
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
  /** The running state machine and its log, or null while crashed. */
  readonly node: RaftNode | null;
  readonly log: MemoryRaftLog | null;
  /** The log as it would be after a power loss now. */
  readonly durableLog: DiskLog;
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
  if (a.offset !== b.offset || a.count !== b.count || a.term !== b.term || a.kind !== b.kind) return false;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** The index of the first entry at or after `offset` in an ascending list. */
export function firstAtOrAfter(entries: readonly Entry[], offset: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The entry starting at `offset` in an ascending list. */
export function entryAtOffset(entries: readonly Entry[], offset: number): Entry | undefined {
  const e = entries[firstAtOrAfter(entries, offset)];
  return e?.offset === offset ? e : undefined;
}

/** Every count at zero: a checker's start, and the start of totals over many seeds. */
export function noCounts(): CheckerCounts {
  return { steps: 0, appendsChecked: 0, leadersChecked: 0, committedChecked: 0, durableChecked: 0, acks: 0 };
}

export class RaftChecker {
  readonly counts: CheckerCounts = noCounts();
  /** The committed prefix, entry by entry, as first covered by some replica's high watermark. */
  readonly committed: Entry[] = [];
  /** Where the committed prefix seen so far ends. */
  private committedEnd = 0;
  /**
   * Per committed entry, the term of the replica that first showed it committed: at least the term
   * of the leader that committed it (commit news flows from that leader to higher terms only).
   */
  private readonly committedTerm: number[] = [];
  readonly acks = new Map<number, Entry>();
  /** `producer:sequence` of every committed batch of an idempotent producer. */
  private readonly producerBatches = new Set<string>();
  private readonly leaders = new Map<number, number>();
  private readonly pairs = new Map<string, { entry: Entry; prevTerm: number }>();
  private readonly hwSeen: number[];

  constructor(
    replicas: number,
    private readonly strictDurable: boolean,
  ) {
    this.hwSeen = new Array<number>(replicas).fill(0);
  }

  get committedOffsetEnd(): number {
    return this.committedEnd;
  }

  /** A replica appended `entry`, after an entry of `prevTerm`. */
  onAppend(id: number, entry: Entry, prevTerm: number): void {
    this.counts.appendsChecked++;
    if (entry.term < prevTerm) {
      throw new Violation(
        'log-matching',
        `replica ${id}: term ${entry.term} at ${entry.offset} after term ${prevTerm}`,
      );
    }
    const key = `${entry.offset}/${entry.term}`;
    const seen = this.pairs.get(key);
    if (seen === undefined) this.pairs.set(key, { entry, prevTerm });
    else if (!sameEntry(seen.entry, entry) || seen.prevTerm !== prevTerm) {
      throw new Violation(
        'log-matching',
        `replica ${id}: (${entry.offset}, term ${entry.term}) differs from another replica's (prev term ${prevTerm} vs ${seen.prevTerm})`,
      );
    }
  }

  onRestart(id: number): void {
    this.hwSeen[id] = 0;
  }

  /** A replica's disk completed an fsync: what is durable below its high watermark is committed. */
  onSync(r: ReplicaView): void {
    if (!this.strictDurable) return;
    const hw = this.hwSeen[r.id]!;
    const durable = r.durableLog.entries;
    // Both lists ascend: walk them side by side, looking an entry up only where they part.
    let c = durable.length > 0 ? firstAtOrAfter(this.committed, durable[0]!.offset) : 0;
    for (const e of durable) {
      if (entryEnd(e) > hw) break;
      if (!sameEntry(this.committed[c], e)) {
        this.expectCommitted(r.id, e, 'durable log');
        c = firstAtOrAfter(this.committed, e.offset);
      }
      c++;
    }
  }

  onAck(entry: Entry): void {
    this.counts.acks++;
    if (!sameEntry(this.committedAt(entry.offset), entry)) {
      throw new Violation(
        'ack-lost',
        `offset ${entry.offset} acknowledged but not the committed entry there`,
      );
    }
    this.acks.set(entry.offset, entry);
  }

  afterStep(replicas: readonly ReplicaView[]): void {
    this.counts.steps++;
    for (const r of replicas) {
      const n = r.node;
      const log = r.log;
      if (n === null || log === null) continue;
      if (n.role === 'leader') this.checkLeader(n, log);
      const from = this.hwSeen[r.id]!;
      const hw = n.highWatermark;
      if (hw < from) throw new Violation('hw-regressed', `replica ${r.id}: high watermark ${from} -> ${hw}`);
      if (hw === from) continue;
      const durable = r.durableLog.entries;
      for (const e of log.read(Math.max(from, log.start), Number.MAX_SAFE_INTEGER)) {
        if (e.offset >= hw) break;
        if (entryEnd(e) > hw) throw new Violation('assertion', `replica ${r.id}: hw ${hw} splits an entry`);
        if (this.strictDurable) {
          this.counts.durableChecked++;
          if (e.offset >= r.durableLog.start && !sameEntry(entryAtOffset(durable, e.offset), e)) {
            throw new Violation(
              'hw-beyond-durable',
              `replica ${r.id}: offset ${e.offset} below hw ${hw} is not durable`,
            );
          }
        }
        this.counts.committedChecked++;
        if (e.offset < this.committedEnd) this.expectCommitted(r.id, e, 'log');
        else {
          if (e.offset !== this.committedEnd)
            throw new Violation(
              'assertion',
              `replica ${r.id}: committed ${e.offset} after a gap at ${this.committedEnd}`,
            );
          this.committed.push(e);
          this.committedTerm.push(n.currentTerm);
          this.committedEnd = entryEnd(e);
          this.checkNoDuplicate(e);
        }
      }
      this.hwSeen[r.id] = hw;
    }
  }

  /** At the end of a run: every replica's log and durable log agree with the committed prefix. */
  finalCheck(replicas: readonly ReplicaView[]): void {
    for (const r of replicas) {
      const n = r.node;
      // A replica whose copy a move deleted holds nothing to compare.
      if (n === null) continue;
      for (const e of r.log!.all()) {
        if (entryEnd(e) > n.highWatermark) break;
        this.expectCommitted(r.id, e, 'log');
      }
      if (!this.strictDurable) continue;
      for (const e of r.durableLog.entries) {
        if (entryEnd(e) > n.highWatermark) break;
        this.expectCommitted(r.id, e, 'durable log');
      }
    }
    for (const [o, e] of this.acks) {
      if (!sameEntry(this.committedAt(o), e))
        throw new Violation('ack-lost', `acknowledged offset ${o} changed`);
    }
  }

  /** An idempotent producer's batch is committed once, whatever the retries. */
  private checkNoDuplicate(e: Entry): void {
    const p = producerOf(e);
    if (p === null) return;
    const key = `${p.producerId}:${p.firstSeq}`;
    if (this.producerBatches.has(key))
      throw new Violation(
        'duplicate',
        `producer ${p.producerId} sequence ${p.firstSeq} committed twice (again at ${e.offset})`,
      );
    this.producerBatches.add(key);
  }

  /** The committed entry starting at `offset`, if any. */
  committedAt(offset: number): Entry | undefined {
    return entryAtOffset(this.committed, offset);
  }

  private checkLeader(n: RaftNode, log: MemoryRaftLog): void {
    const known = this.leaders.get(n.currentTerm);
    if (known === n.id) return;
    if (known !== undefined) {
      throw new Violation('election-safety', `replicas ${known} and ${n.id} both lead term ${n.currentTerm}`);
    }
    this.leaders.set(n.currentTerm, n.id);
    this.counts.leadersChecked++;
    // What retention removed below the leader's log start is not asked of it.
    for (let i = firstAtOrAfter(this.committed, log.start); i < this.committed.length; i++) {
      // A leader of an older term may still be elected (and soon deposed) after a newer one commits.
      if (this.committedTerm[i]! >= n.currentTerm) continue;
      const c = this.committed[i]!;
      if (!sameEntry(log.entryAt(c.offset), c)) {
        throw new Violation(
          'leader-completeness',
          `replica ${n.id} leads term ${n.currentTerm} without committed offset ${c.offset}${this.acks.has(c.offset) ? ' (acknowledged)' : ''}`,
        );
      }
    }
  }

  private expectCommitted(id: number, e: Entry, where: string): void {
    if (sameEntry(this.committedAt(e.offset), e)) return;
    const kind = this.acks.has(e.offset) ? 'ack-lost' : 'committed-changed';
    throw new Violation(kind, `replica ${id}: committed offset ${e.offset} differs on its ${where}`);
  }
}
