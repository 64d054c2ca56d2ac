// The classic group protocol as the coordinator sees it: the requests and answers of JoinGroup and
// SyncGroup, the replies to held requests, and what a member looks like from outside.
// classic-group.ts is the state machine on top.

import type { WeirError } from '../../proto/errors.js';

export type ClassicState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface ClassicProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinRequest {
  /** '' for a member new to the group. */
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly clientId: string;
  readonly host: string;
  readonly sessionTimeoutMs: number;
  /** -1: the session timeout (JoinGroup v0 has no rebalance timeout). */
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly ClassicProtocol[];
  /** JoinGroup v4+: a new member is first given an id and asked to join again with it. */
  readonly requireKnownMemberId: boolean;
}

export interface JoinMember {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly metadata: Buffer;
}

export interface JoinAnswer {
  readonly error: WeirError | null;
  readonly generation: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leader: string;
  readonly memberId: string;
  /** Every member with its metadata for the chosen protocol: for the leader only. */
  readonly members: readonly JoinMember[];
  /** A static leader that came back while nothing changed need not assign again (v9+). */
  readonly skipAssignment: boolean;
}

export interface SyncRequest {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly generation: number;
  /** Checked when given (SyncGroup v5+). */
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's assignment: member id → bytes (followers send none). */
  readonly assignments: readonly { memberId: string; assignment: Buffer }[];
}

export interface SyncAnswer {
  readonly error: WeirError | null;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Buffer;
}

export interface MemberRef {
  readonly memberId: string;
  readonly instanceId: string | null;
}

/** An answer to a held JoinGroup or SyncGroup. */
export type ClassicReply =
  | { readonly ticket: number; readonly join: JoinAnswer }
  | { readonly ticket: number; readonly sync: SyncAnswer };

export interface ClassicMemberDescription {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly clientId: string;
  readonly host: string;
  /** The member's metadata for the group's protocol (empty before one is chosen). */
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}
