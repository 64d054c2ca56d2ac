// The group heartbeat protocol as the coordinator sees it: the request and answer of
// GroupHeartbeat, the special epochs, what a group needs from the broker (topics, limits, time),
// and the checks of a joining member's settings. consumer-group.ts is the state machine on top.

import { RE2JS } from 're2js';
import { WeirError } from '../../proto/errors.js';
import { ASSIGNORS, type AssignorName, type TopicPartition } from './assignors.js';

export type GroupState = 'Empty' | 'Reconciling' | 'Stable';
export type RebalanceReason =
  'join' | 'leave' | 'session-timeout' | 'rebalance-timeout' | 'fenced' | 'subscription' | 'partitions';

export const LEAVE_EPOCH = -1;
export const STATIC_LEAVE_EPOCH = -2;
export const JOIN_EPOCH = 0;
export const MAX_MEMBER_ID_BYTES = 255;
/**
 * The longest subscription pattern accepted. Topic names are at most 249 characters, so a pattern
 * four times that is room for any real alternation of names, and bounds what compiling costs.
 */
export const MAX_PATTERN_LENGTH = 1000;
/** How much more often a member heartbeats while partitions it is due are being revoked elsewhere. */
export const PENDING_HEARTBEAT_DIVISOR = 5;

/** What the group needs to know of the topics: it never reads the broker directly. */
export interface TopicView {
  /** Partitions of a topic; 0 when it does not exist. */
  partitionCount(topic: string): number;
  /** Every topic a subscription pattern may match (internal topics are left out). */
  topicNames(): readonly string[];
}

export interface GroupLimits {
  readonly heartbeatIntervalMs: number;
  readonly sessionTimeoutMs: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly maxHistory: number;
}

export interface GroupContext {
  readonly now: number;
  readonly topics: TopicView;
  readonly limits: GroupLimits;
  /** A fresh member id (the coordinator passes a random one, the simulation a seeded one). */
  readonly newMemberId: (clientId: string) => string;
}

export interface HeartbeatRequest {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId: string;
  readonly clientId: string;
  readonly host: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly subscribedTopics: readonly string[];
  readonly subscribedPattern: string;
  readonly assignor: string;
  readonly owned: readonly TopicPartition[];
}

export interface HeartbeatResult {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  /** Own exactly these; revoke the rest. Empty after a leave. */
  readonly assignment: TopicPartition[];
  readonly groupEpoch: number;
  /** The member's session timeout in force (0 after a leave). */
  readonly sessionTimeoutMs: number;
}

export interface RebalanceRecord {
  readonly generation: number;
  readonly reason: RebalanceReason;
  readonly memberId: string;
  readonly timestamp: number;
}

export interface MemberDescription {
  readonly memberId: string;
  readonly instanceId: string;
  readonly clientId: string;
  readonly host: string;
  readonly memberEpoch: number;
  readonly assignment: TopicPartition[];
  readonly pendingRevocation: TopicPartition[];
  readonly subscribedTopics: string[];
  readonly subscribedPattern: string;
}

/**
 * A subscription pattern matches whole topic names, in RE2/J syntax as Kafka's (KIP-848). RE2
 * matches in time linear in the topic name, so no pattern can hold the event loop (a backtracking
 * engine takes seconds on `(a|aa)+b` against a few dozen characters).
 */
export function compilePattern(pattern: string): RE2JS {
  if (pattern.length > MAX_PATTERN_LENGTH)
    throw new WeirError(
      'INVALID_REGULAR_EXPRESSION',
      `subscription pattern of ${pattern.length} characters is longer than ${MAX_PATTERN_LENGTH}`,
    );
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw new WeirError(
      'INVALID_REGULAR_EXPRESSION',
      `subscription pattern '${pattern}' is not valid RE2/J syntax: ${(err as Error).message}`,
    );
  }
}

export function checkAssignorName(name: string): AssignorName | null {
  if (name === '') return null;
  if (!(ASSIGNORS as readonly string[]).includes(name))
    throw new WeirError('UNSUPPORTED_ASSIGNOR', `'${name}'; the broker has ${ASSIGNORS.join(', ')}`);
  return name as AssignorName;
}

export function checkSessionTimeout(ms: number, limits: GroupLimits): number {
  if (ms === 0) return limits.sessionTimeoutMs;
  if (!Number.isInteger(ms) || ms < limits.minSessionTimeoutMs || ms > limits.maxSessionTimeoutMs)
    throw new WeirError(
      'INVALID_SESSION_TIMEOUT',
      `${ms} ms is outside ${limits.minSessionTimeoutMs}..${limits.maxSessionTimeoutMs} ms`,
    );
  return ms;
}

export function checkRebalanceTimeout(ms: number, limits: GroupLimits): number {
  if (ms === 0) return limits.rebalanceTimeoutMs;
  if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000)
    throw new WeirError('INVALID_REQUEST', `rebalance timeout ${ms} ms is outside 1..3600000 ms`);
  return ms;
}
