// Who takes part in a Raft group: voters (elect leaders and make up the majority that commits) and
// learners (receive the log but neither vote nor count), changed one replica at a time.
//
// A change is a log entry of kind 'config' (in weir a control batch, as KRaft keeps its voters in
// its log), and a replica acts on the latest one its log holds, committed or not (Raft
// dissertation §4.1). Each change adds or removes at most one voter, so any majority of the old
// voter set and any majority of the new one share a replica: two leaders of one term stay
// impossible while the change is in flight. A new replica joins as a learner, is promoted once it
// has caught up (so adding it does not stall commits while it copies the log), and a leader starts
// a change only when the previous one is committed and it has committed an entry of its own term
// (the fix to single-server changes published after the dissertation: without it a leader elected
// under an older configuration could commit a change that a concurrent, uncommitted one overlaps).

import assert from 'node:assert';

export interface Membership {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

/** A membership and the offset of the config entry that set it (-1: the group's bootstrap). */
export interface MembershipAt {
  readonly offset: number;
  readonly membership: Membership;
}

export type MembershipChange =
  | { readonly kind: 'addLearner'; readonly id: number }
  | { readonly kind: 'promote'; readonly id: number }
  | { readonly kind: 'remove'; readonly id: number };

export function isVoter(m: Membership, id: number): boolean {
  return m.voters.includes(id);
}

export function isMember(m: Membership, id: number): boolean {
  return m.voters.includes(id) || m.learners.includes(id);
}

/** Every member but `self`, voters first: whom a leader replicates to. */
export function peersOf(m: Membership, self: number): number[] {
  return [...m.voters, ...m.learners].filter((id) => id !== self);
}

export function majorityOf(m: Membership): number {
  return Math.floor(m.voters.length / 2) + 1;
}

export function validateMembership(m: Membership): void {
  const all = [...m.voters, ...m.learners];
  assert(m.voters.length >= 1, 'a group has a voter');
  assert(new Set(all).size === all.length, 'a replica is a voter or a learner, once');
  for (const id of all) assert(Number.isInteger(id) && id >= 0, `replica id ${id}`);
}

/** The membership after `change`, or why the change does not apply to `m`. */
export function applyChange(m: Membership, change: MembershipChange): Membership | string {
  const { id } = change;
  switch (change.kind) {
    case 'addLearner':
      if (isMember(m, id)) return `replica ${id} is already a member`;
      return { voters: m.voters, learners: [...m.learners, id] };
    case 'promote':
      if (!m.learners.includes(id)) return `replica ${id} is not a learner`;
      return { voters: [...m.voters, id], learners: m.learners.filter((l) => l !== id) };
    case 'remove':
      if (!isMember(m, id)) return `replica ${id} is not a member`;
      if (m.voters.length === 1 && m.voters[0] === id) return `replica ${id} is the last voter`;
      return { voters: m.voters.filter((v) => v !== id), learners: m.learners.filter((l) => l !== id) };
  }
}

/** The last of `changes` (ascending by offset) set below `offset`, or null. */
export function membershipBeforeIn(changes: readonly MembershipAt[], offset: number): MembershipAt | null {
  for (let i = changes.length - 1; i >= 0; i--) if (changes[i]!.offset < offset) return changes[i]!;
  return null;
}

export function sameMembership(a: Membership, b: Membership): boolean {
  const same = (x: readonly number[], y: readonly number[]): boolean =>
    x.length === y.length && x.every((id) => y.includes(id));
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}
