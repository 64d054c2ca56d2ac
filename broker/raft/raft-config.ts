// What a replica is told when it is created: who it is, who its peers are, how long its timeouts
// are, and where its randomness comes from (STYLE 10: nothing is drawn inside the protocol).
//
// Out of scope here: membership changes (the voter set is fixed for the group's life) and
// heartbeats coalesced across the groups two brokers share.

import assert from 'node:assert';

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
}

export interface RaftConfig {
  readonly id: number;
  /** Every voter of the group, this replica included. */
  readonly voters: readonly number[];
  /** Base election timeout; each wait is drawn from [electionTicks, 2 * electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxEntriesPerAppend: number;
  /** Uniform in [0, 1); the only source of randomness (election timeouts). */
  readonly random: () => number;
  /**
   * Grows each time this replica may have lost what it acknowledged (HardState.amnesiac): peers
   * ignore what a lower incarnation told them. 0 when not given. In a cluster it comes from the
   * controller's broker epoch, which grows with every registration.
   */
  readonly incarnation?: number;
  readonly faults?: RaftFaults;
}

export function validateRaftConfig(c: RaftConfig): void {
  assert(c.voters.includes(c.id), 'a replica is one of its group’s voters');
  assert(new Set(c.voters).size === c.voters.length, 'voters are distinct');
  assert(
    c.heartbeatTicks >= 1 && c.heartbeatTicks < c.electionTicks,
    'heartbeats come well within a timeout',
  );
  assert(c.maxEntriesPerAppend >= 1, 'an append can carry an entry');
}
