// Consumer-group administration: the answers of the group RPCs copied into the SDK's own types
// (camelCase, numbers, flat partition lists), as admin.ts does for topics. Admin's group methods
// are one call each into here; keeping them apart keeps admin.ts about topics.

import { WeirError } from '../proto/errors.js';
import { fromWireError } from '../proto/grpc.js';
import type { GroupDescription__Output } from '../proto/generated/weir/v1/GroupDescription.js';
import type { ResetOffsetsRequest } from '../proto/generated/weir/v1/ResetOffsetsRequest.js';
import type { BrokerInfo } from './admin.js';
import type { CallOptions } from './connection.js';
import type { GroupRpc } from './group-rpc.js';
import { checkGroupId, fromWirePartitions, toWirePartitions } from './group-partitions.js';
import { checkTopic, checkTopicPartition, type TopicPartition } from './records.js';

/**
 * Empty: no members. Reconciling: members are still moving to the current assignment. A group of
 * Kafka's classic protocol (Kafka clients on the broker's Kafka listener) has Kafka's classic
 * states: PreparingRebalance while members rejoin, CompletingRebalance until the leader's
 * assignment is handed out, then Stable.
 */
export type GroupState = 'Empty' | 'Reconciling' | 'Stable' | 'PreparingRebalance' | 'CompletingRebalance';

export interface GroupSummary {
  groupId: string;
  state: GroupState;
  members: number;
  /** The group epoch: it moves on every change that can change the assignment. */
  generation: number;
}

export interface GroupMemberDescription {
  memberId: string;
  /** The static member's instance id; null for a dynamic member. */
  instanceId: string | null;
  clientId: string;
  host: string;
  memberEpoch: number;
  /** The partitions the member owns now. */
  assignment: TopicPartition[];
  /** Partitions it was asked to give up and has not yet confirmed. */
  pendingRevocation: TopicPartition[];
  subscribedTopics: string[];
  /** The subscription's regular expression; null when subscribed by topic names. */
  subscribedPattern: string | null;
}

export interface GroupOffsetDescription {
  topic: string;
  partition: number;
  /** The next offset the group will consume; -1 when nothing is committed. */
  committed: number;
  highWatermark: number;
  /** highWatermark - committed; null when unknown (nothing committed, or the topic is gone). */
  lag: number | null;
  metadata: string;
}

export interface GroupRebalance {
  generation: number;
  /** join, leave, session-timeout, rebalance-timeout, fenced, subscription or partitions. */
  reason: string;
  /** The member that caused it; null when none did (a topic grew, say). */
  memberId: string | null;
  timestamp: number;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  generation: number;
  assignor: string;
  members: GroupMemberDescription[];
  offsets: GroupOffsetDescription[];
  /** The latest rebalances, newest last. */
  rebalances: GroupRebalance[];
}

/** A group's committed offset of one partition. */
export interface CommittedOffset {
  topic: string;
  partition: number;
  /** The next offset to consume; -1 when nothing is committed. */
  offset: number;
  metadata: string;
  /** When it was committed, ms since the epoch; -1 (or 0) when nothing is committed. */
  commitTimestamp: number;
}

/** An offset to commit: `offset` is the next offset to consume, as in Kafka. */
export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string;
}

/** Where resetOffsets moves a group's positions. */
export type ResetOffsetsTarget =
  | { earliest: true }
  | { latest: true }
  /** The first offset at or after this time (the end of the log if none). */
  | { timestamp: number | Date }
  /** Clamped to the log's range. */
  | { offset: number }
  /** From the committed offset (or the earliest, if none), clamped. */
  | { shiftBy: number };

export interface ResetOffsetsOptions {
  topic: string;
  /** Default: every partition of the topic. */
  partitions?: readonly number[];
  to: ResetOffsetsTarget;
  /** false (the default) is a dry run: the plan is answered and nothing changes. */
  execute?: boolean;
}

export interface OffsetResetPlan {
  topic: string;
  partition: number;
  /** -1 when nothing was committed. */
  previous: number;
  offset: number;
}

export interface ResetOffsetsResult {
  offsets: OffsetResetPlan[];
  /** false for a dry run. */
  executed: boolean;
}

export interface GroupCoordinator {
  coordinator: BrokerInfo;
  /** The group's partition of __consumer_offsets. */
  partition: number;
}

function stateOf(state: string): GroupState {
  return state as GroupState;
}

function descriptionOf(d: GroupDescription__Output): GroupDescription {
  return {
    groupId: d.groupId,
    state: stateOf(d.state),
    generation: d.generation,
    assignor: d.assignor,
    members: d.members.map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId === '' ? null : m.instanceId,
      clientId: m.clientId,
      host: m.host,
      memberEpoch: m.memberEpoch,
      assignment: fromWirePartitions(m.assignment),
      pendingRevocation: fromWirePartitions(m.pendingRevocation),
      subscribedTopics: [...m.subscribedTopics],
      subscribedPattern: m.subscribedPattern === '' ? null : m.subscribedPattern,
    })),
    offsets: d.offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      committed: o.committed,
      highWatermark: o.highWatermark,
      // The wire's -1 for "unknown" would add into a sum of lags as a real value.
      lag: o.lag < 0 ? null : o.lag,
      metadata: o.metadata,
    })),
    rebalances: d.rebalances.map((r) => ({
      generation: r.generation,
      reason: r.reason,
      memberId: r.memberId === '' ? null : r.memberId,
      timestamp: r.timestamp,
    })),
  };
}

function safeInt(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new WeirError('INVALID_REQUEST', `${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** The oneof `to` of ResetOffsetsRequest for a target. */
function resetTarget(to: ResetOffsetsTarget): Partial<ResetOffsetsRequest> {
  if (to === null || typeof to !== 'object') throw new WeirError('INVALID_REQUEST', 'reset needs a target');
  if ('earliest' in to && to.earliest === true) return { earliest: true };
  if ('latest' in to && to.latest === true) return { latest: true };
  if ('timestamp' in to) {
    const t = to.timestamp instanceof Date ? to.timestamp.getTime() : to.timestamp;
    if (!Number.isSafeInteger(t) || t < 0) throw new WeirError('INVALID_TIMESTAMP', `timestamp ${String(t)}`);
    return { timestamp: t };
  }
  if ('offset' in to) return { offset: safeInt('offset', to.offset, 0) };
  if ('shiftBy' in to) return { shiftBy: safeInt('shiftBy', to.shiftBy, Number.MIN_SAFE_INTEGER) };
  throw new WeirError(
    'INVALID_REQUEST',
    'reset target must be { earliest: true }, { latest: true }, { timestamp }, { offset } or { shiftBy }',
  );
}

export async function listGroups(rpc: GroupRpc, call?: CallOptions): Promise<GroupSummary[]> {
  const response = await rpc.listGroups(call);
  return response.groups.map((g) => ({
    groupId: g.groupId,
    state: stateOf(g.state),
    members: g.members,
    generation: g.generation,
  }));
}

export async function describeGroup(
  rpc: GroupRpc,
  groupId: string,
  call?: CallOptions,
): Promise<GroupDescription> {
  return descriptionOf(await rpc.describeGroup({ groupId: checkGroupId(groupId) }, call));
}

export async function deleteGroup(rpc: GroupRpc, groupId: string, call?: CallOptions): Promise<void> {
  await rpc.deleteGroup(checkGroupId(groupId), call);
}

export async function resetOffsets(
  rpc: GroupRpc,
  groupId: string,
  options: ResetOffsetsOptions,
  call?: CallOptions,
): Promise<ResetOffsetsResult> {
  checkGroupId(groupId);
  if (options === null || typeof options !== 'object') {
    throw new WeirError('INVALID_REQUEST', 'resetOffsets needs { topic, to }');
  }
  const partitions = (options.partitions ?? []).map((p) => safeInt('partition', p, 0));
  const response = await rpc.resetOffsets(
    {
      groupId,
      topic: checkTopic(options.topic),
      partitions,
      ...resetTarget(options.to),
      execute: options.execute === true,
    },
    call,
  );
  return {
    offsets: response.offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      previous: o.previous,
      offset: o.offset,
    })),
    executed: response.executed,
  };
}

/**
 * The group's committed offsets of the partitions asked for (default: every partition it has
 * committed). Throws the first partition's error, if any.
 */
export async function fetchOffsets(
  rpc: GroupRpc,
  groupId: string,
  partitions: readonly TopicPartition[] = [],
  call?: CallOptions,
): Promise<CommittedOffset[]> {
  const asked = toWirePartitions(partitions.map(checkTopicPartition));
  const response = await rpc.offsetFetch({ groupId: checkGroupId(groupId), partitions: asked }, call);
  return response.offsets.map((o) => {
    const error = fromWireError(o.error);
    if (error !== null) throw error;
    return {
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      metadata: o.metadata,
      commitTimestamp: o.commitTimestamp,
    };
  });
}

/**
 * Commits offsets from outside the group (member id '' and generation -1), which the broker
 * allows only while the group has no members. Throws the first partition's error, if any.
 */
export async function commitOffsets(
  rpc: GroupRpc,
  groupId: string,
  offsets: readonly OffsetToCommit[],
  call?: CallOptions,
): Promise<void> {
  checkGroupId(groupId);
  const partitions = offsets.map((o) => {
    const { topic, partition } = checkTopicPartition(o);
    const metadata = o.metadata ?? '';
    if (typeof metadata !== 'string') throw new WeirError('INVALID_REQUEST', 'metadata must be a string');
    return { topic, partition, offset: safeInt('offset', o.offset, 0), metadata };
  });
  const response = await rpc.offsetCommit({ groupId, memberId: '', generation: -1, partitions }, call);
  for (const r of response.results) {
    const error = fromWireError(r.error);
    if (error !== null) throw error;
  }
}

export async function findCoordinator(
  rpc: GroupRpc,
  groupId: string,
  call?: CallOptions,
): Promise<GroupCoordinator> {
  const response = await rpc.findCoordinator(checkGroupId(groupId), call);
  const c = response.coordinator;
  if (c === null)
    throw new WeirError('UNKNOWN_SERVER_ERROR', `no coordinator in the answer for '${groupId}'`);
  return {
    coordinator: { nodeId: c.nodeId, host: c.host, grpcPort: c.grpcPort, httpPort: c.httpPort },
    partition: response.partition,
  };
}

/** Which committed offsets deleteOffsets removes: a topic's listed partitions, or all it committed. */
export interface DeleteOffsetsTarget {
  topic: string;
  /** Default: every partition of the topic the group has committed. */
  partitions?: readonly number[];
}

/**
 * Deletes a group's committed offsets (Kafka's OffsetDelete). Throws the first partition's error,
 * if any: GROUP_SUBSCRIBED_TO_TOPIC while a member of the group subscribes to the topic. Answers
 * the partitions whose offsets are gone (or had none).
 */
export async function deleteOffsets(
  rpc: GroupRpc,
  groupId: string,
  targets: readonly DeleteOffsetsTarget[],
  call?: CallOptions,
): Promise<TopicPartition[]> {
  checkGroupId(groupId);
  if (!Array.isArray(targets) || targets.length === 0)
    throw new WeirError('INVALID_REQUEST', 'deleteOffsets needs at least one { topic, partitions? }');
  const partitions = targets.map((t) => ({
    topic: checkTopic(t.topic),
    partitions: (t.partitions ?? []).map((p: number) => safeInt('partition', p, 0)),
  }));
  const response = await rpc.deleteOffsets({ groupId, partitions }, call);
  return response.results.map((r) => {
    const error = fromWireError(r.error);
    if (error !== null) throw error;
    return { topic: r.topic, partition: r.partition };
  });
}
