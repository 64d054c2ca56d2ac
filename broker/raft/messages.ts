// What one replica of a Raft group exchanges with its peers and hands to its driver.
//
// Offsets are Kafka offsets: an entry is a record batch, which takes the offsets from its first
// (`offset`) through its last (`offset + count - 1`). Ends are exclusive (`logEnd` is the log end
// offset, `highWatermark` the first offset not yet committed) and always fall between entries.
// Offset -1 stands for "before the log", whose term is 0. A term is a Kafka leader epoch.

import type { Membership, MembershipAt } from './membership.js';

/**
 * A new leader's first entry is a no-op (in weir a control batch, as KRaft's LeaderChange); a
 * 'config' entry changes the group's membership (membership.ts).
 */
export type EntryKind = 'data' | 'noop' | 'config';

export interface Entry {
  /** The entry's first offset (a batch's base offset). */
  readonly offset: number;
  /** How many offsets it takes (a batch's last offset delta + 1): at least 1. */
  readonly count: number;
  readonly term: number;
  readonly kind: EntryKind;
  /** Opaque to the protocol (in weir: RecordBatch bytes). */
  readonly data: Uint8Array;
  /** A 'config' entry's membership (the protocol reads it; data carries it as the store keeps it). */
  readonly membership?: Membership;
}

/** What must survive a crash besides the log: without it a replica could vote twice in a term. */
export interface HardState {
  readonly term: number;
  readonly votedFor: number | null;
  /**
   * This replica may have lost entries it acknowledged (its page cache went in a power loss, or its
   * data directory was wiped), so its votes do not count until a leader has brought it back up to
   * the commit point. The driver sets it at start-up; the replica clears it.
   */
  readonly amnesiac: boolean;
}

interface Envelope {
  readonly from: number;
  readonly to: number;
  /** The sender's current term, except in a pre-vote request (the term it would campaign in). */
  readonly term: number;
}

/** A candidate (or a pre-candidate, `type: 'preVote'`) asks for a vote. */
export interface VoteRequest extends Envelope {
  readonly type: 'vote' | 'preVote';
  readonly lastOffset: number;
  readonly lastTerm: number;
}

export interface VoteResponse extends Envelope {
  readonly type: 'voteResponse' | 'preVoteResponse';
  /** The term the request asked about, so late answers to an earlier round are not counted. */
  readonly voteTerm: number;
  readonly granted: boolean;
  /** The voter may have lost acknowledged entries (HardState.amnesiac): its grant does not count. */
  readonly amnesiac: boolean;
}

export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly prevOffset: number;
  readonly prevTerm: number;
  /** Entries after prevOffset, in order (empty for a heartbeat). */
  readonly entries: readonly Entry[];
  /**
   * The leader's log starts at prevOffset + 1 (retention removed what came before): a follower
   * that does not match at prevOffset starts its log afresh there instead of rejecting.
   */
  readonly fromStart: boolean;
  /** With fromStart: the membership in force at the leader's log start (a snapshot keeps it too). */
  readonly startMembership: MembershipAt | null;
  /** With fromStart: what the leader's log keeps of the entries below its start (startState). */
  readonly startState: Uint8Array | null;
  /** The leader's commit end; a follower exposes no more than it has matched and made durable. */
  readonly commitEnd: number;
  /** The receiver's incarnation as the leader knows it (-1 before it heard from the receiver). */
  readonly incarnation: number;
  /**
   * The leader's commit end if it moved since the leader first heard of this incarnation, else 0.
   * That commit took a majority of whole replicas in the leader's term, so the leader is current and
   * the commit covers everything committed before the incarnation began: an amnesiac replica that
   * holds the log up to it has lost nothing.
   */
  readonly rejoinEnd: number;
  /**
   * A leader's last heartbeat before its group goes quiet: a follower whose log matches the leader's
   * whole log, and which the commit end above covers, stops its election timer until woken.
   */
  readonly quiesce?: boolean;
}

export interface AppendResponse extends Envelope {
  readonly type: 'appendResponse';
  readonly success: boolean;
  /** The request's prevOffset: a rejection older than what the leader knows matches is stale. */
  readonly prevOffset: number;
  /** Success: the follower's log matches the leader's below this end. */
  readonly matchEnd: number;
  /** Success: ... and is durable below this end (what counts toward the majority). */
  readonly durableEnd: number;
  /**
   * Rejection: the follower's last offset at or before prevOffset whose term is at most the
   * leader's prevTerm, and that term (KIP-101's epoch idea): the leader backs up a term at a time.
   */
  readonly hintOffset: number;
  readonly hintTerm: number;
  /**
   * The follower's incarnation (RaftConfig.incarnation): when it grows, the follower may have lost
   * what it acknowledged before, so the leader forgets what that earlier life told it.
   */
  readonly incarnation: number;
  /** The follower is amnesiac (HardState.amnesiac): its copy does not count toward the majority. */
  readonly amnesiac: boolean;
}

/**
 * A leader hands its leadership to a caught-up voter (Raft's TimeoutNow): the receiver starts an
 * election at once, skipping the pre-vote, and wins it as any candidate would.
 */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeoutNow';
}

export type Message = VoteRequest | VoteResponse | AppendRequest | AppendResponse | TimeoutNow;

export function voteRequest(
  type: 'vote' | 'preVote',
  from: number,
  to: number,
  term: number,
  log: { readonly end: number; readonly lastTerm: number },
): VoteRequest {
  return { type, from, to, term, lastOffset: log.end - 1, lastTerm: log.lastTerm };
}

/** The answer to `m` from a replica in `term`. */
export function voteAnswer(m: VoteRequest, term: number, granted: boolean, amnesiac: boolean): VoteResponse {
  const type = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse';
  // A granted pre-vote answers in the asked term, so the asker does not take it for a newer term.
  const answerTerm = m.type === 'preVote' && granted ? m.term : term;
  return { type, from: m.to, to: m.from, term: answerTerm, voteTerm: m.term, granted, amnesiac };
}

/**
 * Everything a replica produced since the last `takeReady()` (its log changes went straight to its
 * RaftLogStore). The driver must write `hardState` (if any) durably, and send `messages` only once
 * that hard state is durable (a vote or a new term must not be forgotten after it was announced).
 * A hard state must also be durable before any entry appended after it is reported durable with
 * `persisted()`, and `hardStatePersisted()` reported once it is. When the log is made durable is
 * the driver's choice (its flush policy); it reports each point with `persisted`.
 */
export interface Ready {
  readonly hardState: HardState | null;
  readonly messages: Message[];
  readonly highWatermark: number;
}
