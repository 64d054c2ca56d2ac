// A replica's view of its log inside the state machine: the terms and bytes of every entry it holds
// (durable or not). The driver keeps the real log in step through the Ready's log actions; this
// copy lets the protocol answer consistency checks and build AppendEntries without I/O.

import assert from 'node:assert';
import type { Entry, LogAction } from './messages.js';

export class RaftLog {
  private readonly entries: Entry[];
  /** Changes since the last takeActions(), for the driver's copy. */
  private actions: LogAction[] = [];

  constructor(entries: readonly Entry[]) {
    this.entries = entries.slice();
    for (let o = 1; o < this.entries.length; o++) {
      // Terms never go down along a log: each leader appends in its own term after its predecessors'.
      assert(this.entries[o]!.term >= this.entries[o - 1]!.term, `terms go down at offset ${o}`);
    }
  }

  /** The log end offset: one past the last entry. */
  get end(): number {
    return this.entries.length;
  }

  get lastTerm(): number {
    return this.termAt(this.entries.length - 1);
  }

  /** The term of the entry at `offset`; 0 for -1 (before the log). */
  termAt(offset: number): number {
    if (offset === -1) return 0;
    const e = this.entries[offset];
    assert(e !== undefined, `no entry at offset ${offset} (end ${this.entries.length})`);
    return e.term;
  }

  entryAt(offset: number): Entry | undefined {
    return this.entries[offset];
  }

  /** Entries in [from, to). */
  slice(from: number, to: number): Entry[] {
    return this.entries.slice(from, to);
  }

  append(entry: Entry): number {
    assert(entry.term >= this.lastTerm, 'an appended entry may not go back in term');
    this.entries.push(entry);
    const offset = this.entries.length - 1;
    const last = this.actions[this.actions.length - 1];
    if (last?.kind === 'append' && last.offset + last.entries.length === offset) last.entries.push(entry);
    else this.actions.push({ kind: 'append', offset, entries: [entry] });
    return offset;
  }

  /** Removes offsets >= from. */
  truncateFrom(from: number): void {
    assert(
      from >= 0 && from < this.entries.length,
      `truncation at ${from} outside [0, ${this.entries.length})`,
    );
    this.entries.length = from;
    this.actions.push({ kind: 'truncate', from });
  }

  takeActions(): LogAction[] {
    const actions = this.actions;
    this.actions = [];
    return actions;
  }

  /**
   * The last offset at or before `offset` whose term is at most `term` (-1 if none). Both sides of
   * a rejected append use it, so the leader backs up over whole terms, not one entry at a time.
   */
  lastOffsetWithTermAtMost(offset: number, term: number): number {
    let o = Math.min(offset, this.entries.length - 1);
    while (o >= 0 && this.entries[o]!.term > term) o--;
    return o;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours (last term, then length). */
  isUpToDate(lastOffset: number, lastTerm: number): boolean {
    const mine = this.lastTerm;
    return lastTerm > mine || (lastTerm === mine && lastOffset >= this.entries.length - 1);
  }
}
