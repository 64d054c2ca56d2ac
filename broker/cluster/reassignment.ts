// How a partition's leader moves its Raft group to a reassignment's target: a pure function from
// the group's membership (as the leader's log has it) to the next step, so that the broker and the
// simulation (test/sim) run the same plan.
//
// The controller only records where the partition is to go (a `reassign` record); the group's
// leader carries it out, because only it can change the group's membership, and it does so with
// the Raft core's one-replica changes (membership.ts), in this order:
//
// 1. every new replica joins as a learner: it copies the log without counting toward commits,
//    so a slow copy does not stall the partition;
// 2. each learner is promoted to voter once it holds everything committed (the Raft core refuses
//    before, and the leader asks again on its next round);
// 3. the replicas leaving are removed, this leader last: it first hands its leadership to a
//    target replica, which then removes it (a leader could remove itself and step down, but a
//    handover leaves no gap without a leader);
// 4. once the voters are the target and nothing else, and that configuration is committed, the
//    move is done: the leader asks the controller to make the target the partition's replicas,
//    and the brokers no longer among them delete their copies.
//
// Adding every new replica before removing any old one means the group never has fewer copies
// than it had or than it will have (Kafka's reassignment keeps the same order). Each step is one
// config entry, and the Raft core starts a change only when the one before is committed.

import type { Membership, MembershipChange } from '../raft/membership.js';

export type ReassignStep =
  /** Propose this membership change. */
  | { readonly kind: 'change'; readonly change: MembershipChange }
  /** Hand the leadership to one of `to` (target voters, the preferred first), which goes on. */
  | { readonly kind: 'transfer'; readonly to: readonly number[] }
  /** The group's voters are the target: ask the controller to record it. */
  | { readonly kind: 'done' }
  /** The configuration in force is not committed yet: ask again later. */
  | { readonly kind: 'wait' };

/**
 * The next step of moving the group that `self` leads, whose latest configuration is `m`
 * (`committed`: that configuration's entry is committed), to the voters `target`.
 */
export function nextReassignStep(
  m: Membership,
  target: readonly number[],
  self: number,
  committed: boolean,
): ReassignStep {
  if (!committed) return { kind: 'wait' };
  const member = (id: number): boolean => m.voters.includes(id) || m.learners.includes(id);
  const joining = target.find((id) => !member(id));
  if (joining !== undefined) return { kind: 'change', change: { kind: 'addLearner', id: joining } };
  const learner = target.find((id) => m.learners.includes(id));
  if (learner !== undefined) return { kind: 'change', change: { kind: 'promote', id: learner } };
  const strayLearner = m.learners.find((id) => !target.includes(id));
  if (strayLearner !== undefined) return { kind: 'change', change: { kind: 'remove', id: strayLearner } };
  const leaving = m.voters.find((id) => id !== self && !target.includes(id));
  if (leaving !== undefined) return { kind: 'change', change: { kind: 'remove', id: leaving } };
  if (!target.includes(self)) return { kind: 'transfer', to: target };
  return { kind: 'done' };
}
