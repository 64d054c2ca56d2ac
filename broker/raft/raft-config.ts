// What a replica is told when it is created: who it is, who its peers are, how long its timeouts
// are, and where its randomness comes from (STYLE 10: nothing is drawn inside the protocol).
//
// `voters` is the group's bootstrap membership: a config entry in the log (membership.ts) overrides
// it from its offset on.

import assert from 'node:assert';
import type { CatchUpQuota } from './catch-up-quota.js';

/**
 * Deliberately broken variants for the simulation's negative controls: each removes one safety
 * rule so the test can prove the checker notices. Never set outside tests.
 */
export interface RaftFaults {
  /** The leader commits once a minority (floor(n/2) replicas) holds an entry. */
  readonly commitOnMinority?: boolean;
  /** A follower keeps a diverging suffix and appends past it instead of truncating. */
  readonly noTruncate?: boolean;
  /** A vote (and a pre-vote) is granted whatever the candidate's log. */
  readonly voteForStaleLog?: boolean;
  /** An entry counts toward the majority (and the high watermark) once appended, before fsync. */
  readonly countBeforeFsync?: boolean;
  /** A grant from an amnesiac voter, and an amnesiac follower's copy, count like any other. */
  readonly ignoreAmnesia?: boolean;
  /** A leader keeps what a follower's earlier incarnation acknowledged. */
  readonly keepStaleProgress?: boolean;
  /** Learners' copies count toward the majority and their grants toward an election. */
  readonly countLearners?: boolean;
  /**
   * A group of an even size elects and commits only with a majority of whole replicas (the rule
   * of odd sizes): a group of two with one amnesiac replica never makes progress again.
   */
  readonly wholeMajorityOnly?: boolean;
  /** A replica told to take over the leadership leads in the current term, without an election. */
  readonly transferWithoutElection?: boolean;
  /** A leader starts a membership change while the previous one is still uncommitted. */
  readonly overlappingChanges?: boolean;
  /**
   * A leader with nothing to commit appends no no-op when an amnesiac member's new incarnation
   * answers: in an idle group that member is never whole again (a learner never promoted).
   */
  readonly noRejoinNoop?: boolean;
  /**
   * An amnesiac replica outside its bootstrap voters campaigns and votes as its log says: one a
   * move brings back to a group it left takes an earlier configuration naming it for its own.
   */
  readonly joinerVotes?: boolean;
  /**
   * Quiescence checks nothing: a leader quiesces its group whatever its followers hold, and a
   * follower told to quiesce does so whether or not its log matches the leader's.
   */
  readonly quiesceBehind?: boolean;
  /** A quiesced follower ignores peerDown: it never wakes when its leader's broker goes. */
  readonly ignorePeerDown?: boolean;
}

export interface RaftConfig {
  readonly id: number;
  /**
   * The group's voters until a config entry in the log says otherwise (its bootstrap membership).
   * A replica added later is not among them, and waits as a non-voter until its log tells it.
   */
  readonly voters: readonly number[];
  /** Base election timeout; each wait is drawn from [electionTicks, 2 * electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxEntriesPerAppend: number;
  /**
   * Entry bytes one append carries at most (the first entry goes whatever its size). Not given:
   * only the entry count bounds an append.
   */
  readonly maxBytesPerAppend?: number;
  /**
   * Appends carrying entries a leader has unanswered to one follower (one while it probes for where
   * their logs match). Further entries wait for an answer, and then go together in the next append:
   * a follower far behind is fed as fast as it answers and no faster, and a lost append shows on the
   * next heartbeat, which goes out without entries. Not given: 8.
   */
  readonly maxInflightAppends?: number;
  /** Uniform in [0, 1); the only source of randomness (election timeouts). */
  readonly random: () => number;
  /**
   * Grows each time this replica may have lost what it acknowledged (HardState.amnesiac): peers
   * ignore what a lower incarnation told them. 0 when not given. In a cluster it comes from the
   * controller's broker epoch, which grows with every registration.
   */
  readonly incarnation?: number;
  /**
   * Idle groups quiesce (raft-node.ts, quiescence): a leader whose followers hold its whole log and
   * its commit stops heartbeating, and its followers stop their election timers. The driver then
   * owes the group a failure detector (RaftNode.peerDown). Off when not given.
   */
  readonly quiesce?: boolean;
  /**
   * A leader's budget for appends to members catching up (catch-up-quota.ts). Not given: every
   * member is fed as fast as its window allows.
   */
  readonly catchUpQuota?: CatchUpQuota;
  readonly faults?: RaftFaults;
}

export function validateRaftConfig(c: RaftConfig): void {
  assert(c.voters.length >= 1, 'a group has a voter');
  assert(new Set(c.voters).size === c.voters.length, 'voters are distinct');
  assert(
    c.heartbeatTicks >= 1 && c.heartbeatTicks < c.electionTicks,
    'heartbeats come well within a timeout',
  );
  assert(c.maxEntriesPerAppend >= 1, 'an append can carry an entry');
  assert(c.maxBytesPerAppend === undefined || c.maxBytesPerAppend >= 0, 'a byte budget is not negative');
  assert(
    c.maxInflightAppends === undefined ||
      (Number.isInteger(c.maxInflightAppends) && c.maxInflightAppends >= 1),
    'an append can be in flight',
  );
  assert(c.catchUpQuota === undefined || c.catchUpQuota.lagTicks >= 0, 'a lag limit is not negative');
}
