// A replica's log as the protocol sees it: entries at Kafka offsets, each a record batch that takes
// `count` offsets from `offset`, in ascending order, possibly with gaps between them (compaction
// removes whole batches). The protocol never holds the log itself: it asks a RaftLogStore, which
// in the broker is the partition's log and leader-epoch cache, and in the simulation an array.
//
// The term at an offset is the term of the last entry starting at or before it (as a leader-epoch
// cache answers), so it is defined in gaps too. A log may have lost its beginning to retention: it
// then starts at `start`, remembers the term just before it (`startTerm`, as a Raft snapshot keeps
// the last included term) and holds no entry below it. Deletion only ever removes what the high
// watermark covered.

import assert from 'node:assert';
import type { Entry } from './messages.js';
import { membershipBeforeIn, type MembershipAt } from './membership.js';

export interface RaftLogStore {
  /** The first offset the log can hold; offsets below it are gone. */
  readonly start: number;
  /** The term at start - 1 (0 when the log starts at 0). */
  readonly startTerm: number;
  /** The log end offset: one past the last entry's last offset (`start` when empty). */
  readonly end: number;
  /** The term of the last entry (startTerm when empty). */
  readonly lastTerm: number;
  /** The term at `offset`, for start - 1 <= offset < end; -1 stands for "before the log" (term 0). */
  termAt(offset: number): number;
  /** The first offset of the entry covering `offset`, or `offset` itself in a gap. */
  entryStart(offset: number): number;
  /**
   * Where the run of termAt(offset) begins in this log (start <= offset < end): the first offset at
   * or after the log start with that term. A leader-epoch cache answers it without reading the log.
   */
  termStart(offset: number): number;
  /**
   * Up to `max` entries, the first at or after `from` (from >= start), and no more than `maxBytes`
   * of their data once the first is counted: the first entry is returned whatever its size.
   */
  read(from: number, max: number, maxBytes?: number): Entry[];
  /** Appends at the end: entry.offset >= end, and its term is no lower than the last. */
  append(entry: Entry): void;
  /** Removes every entry at or after `from`, which is an entry's first offset or the end. */
  truncateFrom(from: number): void;
  /**
   * Drops the whole log and starts it afresh at `start`, whose preceding term is `startTerm` and
   * where `membership` is in force (null: the group's bootstrap membership).
   */
  resetTo(start: number, startTerm: number, membership: MembershipAt | null, state: Uint8Array | null): void;
  /**
   * What the application kept of the entries below the start when retention or a reset removed
   * them (in weir, the idempotent-producer state), opaque to the protocol; null when there is none.
   * A from-start append hands it to the follower with the log, as a Raft snapshot carries the state
   * machine with the log it replaces.
   */
  readonly startState: Uint8Array | null;
  /**
   * The membership in force just before `offset` (start <= offset <= end): that of the last config
   * entry below it, or the one kept from before the log start (retention and a reset keep it, as a
   * snapshot keeps its configuration), or null when neither exists (the bootstrap membership).
   */
  membershipBefore(offset: number): MembershipAt | null;
}

/** The last offset at or before `offset` whose term is at most `term` (start - 1 if none is known). */
export function lastOffsetWithTermAtMost(log: RaftLogStore, offset: number, term: number): number {
  let o = Math.min(offset, log.end - 1);
  if (o < log.start - 1) return -1;
  // Terms never go down along a log, so a whole run of a newer term is skipped at once.
  while (o >= log.start && log.termAt(o) > term) o = log.termStart(o) - 1;
  if (o >= log.start) return o;
  // Below the log only start - 1 has a known term.
  return log.startTerm <= term ? log.start - 1 : -1;
}

/** Raft §5.4.1: a candidate's log is at least as up to date as `log` (last term, then length). */
export function isUpToDate(log: RaftLogStore, lastOffset: number, lastTerm: number): boolean {
  const mine = log.lastTerm;
  return lastTerm > mine || (lastTerm === mine && lastOffset >= log.end - 1);
}

export function entryEnd(e: Entry): number {
  return e.offset + e.count;
}

/** A log kept in an array: the simulation's and the scenario tests' store. */
export class MemoryRaftLog implements RaftLogStore {
  private entries: Entry[];
  private logStart: number;
  private termBeforeStart: number;
  /** The config entries of the log, oldest first, after the membership in force at its start. */
  private configs: MembershipAt[];
  private stateAtStart: Uint8Array | null;
  /** Changes since the last takeActions(), for a driver that mirrors the log on a disk. */
  private actions: LogAction[] = [];

  constructor(
    entries: readonly Entry[] = [],
    start = 0,
    startTerm = 0,
    startMembership: MembershipAt | null = null,
    startState: Uint8Array | null = null,
  ) {
    this.entries = entries.slice();
    this.stateAtStart = startState;
    this.logStart = start;
    this.termBeforeStart = startTerm;
    assert(
      startMembership === null || startMembership.offset < start,
      'the start membership is below the start',
    );
    this.configs = startMembership === null ? [] : [startMembership];
    for (const e of this.entries) if (e.kind === 'config') this.configs.push(configOf(e));
    let end = start;
    let term = startTerm;
    for (const e of this.entries) {
      assert(e.count >= 1 && e.offset >= end, `entry at ${e.offset} overlaps the one before (end ${end})`);
      // Terms never go down along a log: each leader appends in its own term after its predecessors'.
      assert(e.term >= term, `terms go down at offset ${e.offset}`);
      end = entryEnd(e);
      term = e.term;
    }
  }

  get start(): number {
    return this.logStart;
  }
  get startTerm(): number {
    return this.termBeforeStart;
  }
  get end(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.logStart : entryEnd(last);
  }
  get lastTerm(): number {
    return this.entries[this.entries.length - 1]?.term ?? this.termBeforeStart;
  }
  get startState(): Uint8Array | null {
    return this.stateAtStart;
  }

  /** Every entry, oldest first (a copy). */
  all(): Entry[] {
    return this.entries.slice();
  }

  termAt(offset: number): number {
    if (offset === -1) return 0;
    assert(
      offset >= this.logStart - 1 && offset < this.end,
      `no term at ${offset} (log [${this.logStart}, ${this.end}))`,
    );
    const i = this.indexAtOrBefore(offset);
    return i < 0 ? this.termBeforeStart : this.entries[i]!.term;
  }

  entryStart(offset: number): number {
    const e = this.entries[this.indexAtOrBefore(offset)];
    return e !== undefined && offset < entryEnd(e) ? e.offset : offset;
  }

  termStart(offset: number): number {
    let i = this.indexAtOrBefore(offset);
    if (i < 0) return this.logStart;
    const term = this.entries[i]!.term;
    while (i > 0 && this.entries[i - 1]!.term === term) i--;
    if (i > 0 || term !== this.termBeforeStart) return this.entries[i]!.offset;
    return this.logStart;
  }

  /** The entry starting at `offset`, if any. */
  entryAt(offset: number): Entry | undefined {
    const e = this.entries[this.indexAtOrBefore(offset)];
    return e?.offset === offset ? e : undefined;
  }

  read(from: number, max: number, maxBytes = Infinity): Entry[] {
    assert(from >= this.logStart, `read from ${from} below the log start ${this.logStart}`);
    let i = this.indexAtOrBefore(from);
    if (i < 0 || this.entries[i]!.offset < from) i++;
    const last = Math.min(this.entries.length, i + max);
    let end = i;
    let bytes = 0;
    while (end < last) {
      bytes += this.entries[end]!.data.length;
      if (bytes > maxBytes && end > i) break;
      end++;
    }
    return this.entries.slice(i, end);
  }

  append(entry: Entry): void {
    assert(entry.count >= 1, 'an entry takes at least one offset');
    assert(entry.offset >= this.end, `append at ${entry.offset} inside the log (end ${this.end})`);
    assert(entry.term >= this.lastTerm, 'an appended entry may not go back in term');
    this.entries.push(entry);
    if (entry.kind === 'config') this.configs.push(configOf(entry));
    const last = this.actions[this.actions.length - 1];
    if (last?.kind === 'append') last.entries.push(entry);
    else this.actions.push({ kind: 'append', entries: [entry] });
  }

  truncateFrom(from: number): void {
    assert(from >= this.logStart && from < this.end, `truncation at ${from} outside the log`);
    assert(this.entryStart(from) === from, `truncation at ${from} splits an entry`);
    let i = this.indexAtOrBefore(from);
    if (i < 0 || this.entries[i]!.offset < from) i++;
    this.entries.length = i;
    this.configs = this.configs.filter((c) => c.offset < from);
    this.actions.push({ kind: 'truncate', from });
  }

  resetTo(start: number, startTerm: number, membership: MembershipAt | null, state: Uint8Array | null): void {
    assert(membership === null || membership.offset < start, 'the start membership is below the start');
    this.entries = [];
    this.logStart = start;
    this.termBeforeStart = startTerm;
    this.configs = membership === null ? [] : [membership];
    this.stateAtStart = state;
    this.actions.push({ kind: 'reset', start, startTerm, membership, state });
  }

  membershipBefore(offset: number): MembershipAt | null {
    assert(offset >= this.logStart && offset <= this.end, `no membership before ${offset}`);
    return membershipBeforeIn(this.configs, offset);
  }

  /** The membership in force at the log start (what retention keeps), or null for the bootstrap. */
  get startMembership(): MembershipAt | null {
    return this.membershipBefore(this.logStart);
  }

  /**
   * Retention: removes the entries wholly below `offset`, an entry's first offset or the end.
   * `state` is what the application keeps of everything below it (see startState).
   */
  deleteBefore(offset: number, state: Uint8Array | null): void {
    assert(offset > this.logStart && offset <= this.end, `deletion to ${offset} outside the log`);
    assert(this.entryStart(offset) === offset, `deletion to ${offset} splits an entry`);
    const startTerm = this.termAt(offset - 1);
    const membership = this.membershipBefore(offset);
    this.entries = this.entries.slice(this.indexAtOrBefore(offset - 1) + 1);
    this.logStart = offset;
    this.termBeforeStart = startTerm;
    this.configs = this.configs.filter((c) => c.offset >= offset);
    if (membership !== null) this.configs.unshift(membership);
    this.stateAtStart = state;
    this.actions.push({ kind: 'deleteBefore', offset, startTerm, membership, state });
  }

  takeActions(): LogAction[] {
    const actions = this.actions;
    this.actions = [];
    return actions;
  }

  /** The index of the last entry starting at or before `offset` (-1 if none). */
  private indexAtOrBefore(offset: number): number {
    let lo = 0;
    let hi = this.entries.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.offset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}

/** A change to a MemoryRaftLog, for a driver that keeps a disk copy in step. */
export type LogAction =
  | { readonly kind: 'truncate'; readonly from: number }
  | { readonly kind: 'append'; readonly entries: Entry[] }
  | {
      readonly kind: 'reset';
      readonly start: number;
      readonly startTerm: number;
      readonly membership: MembershipAt | null;
      readonly state: Uint8Array | null;
    }
  | {
      readonly kind: 'deleteBefore';
      readonly offset: number;
      readonly startTerm: number;
      readonly membership: MembershipAt | null;
      readonly state: Uint8Array | null;
    };

/** The membership a config entry sets. */
export function configOf(e: Entry): MembershipAt {
  assert(e.kind === 'config' && e.membership !== undefined, `entry at ${e.offset} is no config entry`);
  return { offset: e.offset, membership: e.membership };
}
