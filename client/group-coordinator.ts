// The group calls routed to each group's coordinator: the broker leading the group's partition of
// __consumer_offsets, which FindCoordinator (answered by any broker) names. The coordinator is
// looked up the first time a group is used and kept until a call says it moved (NOT_COORDINATOR,
// or COORDINATOR_NOT_AVAILABLE while the group's partition elects a leader) or cannot reach it (a
// broker gone or shutting down): that call fails with its retriable error, as before, and the
// caller's own retry (the heartbeat loop, the commit loop) finds the coordinator anew. Retrying
// here too would stack a second backoff on the caller's.
//
// Listing groups is the one call without a group: every broker answers for the groups it
// coordinates, so the list is gathered from all the brokers Metadata names.

import { WeirError, isWeirError } from '../proto/errors.js';
import type { DeleteOffsetsRequest } from '../proto/generated/weir/v1/DeleteOffsetsRequest.js';
import type { DeleteOffsetsResponse__Output } from '../proto/generated/weir/v1/DeleteOffsetsResponse.js';
import type { DescribeGroupRequest } from '../proto/generated/weir/v1/DescribeGroupRequest.js';
import type { FindCoordinatorResponse__Output } from '../proto/generated/weir/v1/FindCoordinatorResponse.js';
import type { GroupDescription__Output } from '../proto/generated/weir/v1/GroupDescription.js';
import type { GroupHeartbeatRequest } from '../proto/generated/weir/v1/GroupHeartbeatRequest.js';
import type { GroupHeartbeatResponse__Output } from '../proto/generated/weir/v1/GroupHeartbeatResponse.js';
import type { ListGroupsResponse__Output } from '../proto/generated/weir/v1/ListGroupsResponse.js';
import type { OffsetCommitRequest } from '../proto/generated/weir/v1/OffsetCommitRequest.js';
import type { OffsetCommitResponse__Output } from '../proto/generated/weir/v1/OffsetCommitResponse.js';
import type { OffsetFetchRequest } from '../proto/generated/weir/v1/OffsetFetchRequest.js';
import type { OffsetFetchResponse__Output } from '../proto/generated/weir/v1/OffsetFetchResponse.js';
import type { ResetOffsetsRequest } from '../proto/generated/weir/v1/ResetOffsetsRequest.js';
import type { ResetOffsetsResponse__Output } from '../proto/generated/weir/v1/ResetOffsetsResponse.js';
import type { CallOptions, Connection } from './connection.js';
import type { GroupRpc } from './group-rpc.js';

/** Errors after which the group's coordinator is looked up again before the next call. */
const COORDINATOR_MOVED = new Set<string>([
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'BROKER_SHUTTING_DOWN',
  'REQUEST_TIMED_OUT',
]);

/** Errors of a broker that could not be reached (or is going away). */
const GONE = new Set<string>(['NETWORK_EXCEPTION', 'BROKER_SHUTTING_DOWN']);

export class CoordinatorRouter implements GroupRpc {
  private readonly connection: Connection;
  /** Each group's coordinator, by node id, as last found. */
  private readonly coordinators = new Map<string, number>();
  /** Lookups under way, shared by the calls that wait on them. */
  private readonly lookups = new Map<string, Promise<number>>();

  constructor(connection: Connection) {
    this.connection = connection;
  }

  /** The coordinator of a group, asked of any broker (and remembered for the group's calls). */
  async findCoordinator(groupId: string, call?: CallOptions): Promise<FindCoordinatorResponse__Output> {
    const answer = await this.connection.findCoordinator(groupId, { ...call, broker: undefined });
    this.connection.learnBroker(answer.coordinator);
    // Routing by node id needs the cluster's brokers; the coordinator alone does not say them.
    if (!this.connection.knowsCluster) await this.connection.getMetadata([], { ...call, broker: undefined });
    if (answer.coordinator !== null) this.coordinators.set(groupId, answer.coordinator.nodeId);
    return answer;
  }

  /** The node id the router sends this group's calls to now, if it knows one. */
  coordinatorOf(groupId: string): number | undefined {
    return this.coordinators.get(groupId);
  }

  groupHeartbeat(
    request: GroupHeartbeatRequest,
    call?: CallOptions,
  ): Promise<GroupHeartbeatResponse__Output> {
    return this.routed(request.groupId ?? '', call, (c) => this.connection.groupHeartbeat(request, c));
  }

  offsetCommit(request: OffsetCommitRequest, call?: CallOptions): Promise<OffsetCommitResponse__Output> {
    return this.routed(request.groupId ?? '', call, (c) => this.connection.offsetCommit(request, c));
  }

  offsetFetch(request: OffsetFetchRequest, call?: CallOptions): Promise<OffsetFetchResponse__Output> {
    return this.routed(request.groupId ?? '', call, (c) => this.connection.offsetFetch(request, c));
  }

  describeGroup(request: DescribeGroupRequest, call?: CallOptions): Promise<GroupDescription__Output> {
    return this.routed(request.groupId ?? '', call, (c) => this.connection.describeGroup(request, c));
  }

  deleteGroup(groupId: string, call?: CallOptions): Promise<void> {
    return this.routed(groupId, call, (c) => this.connection.deleteGroup(groupId, c));
  }

  resetOffsets(request: ResetOffsetsRequest, call?: CallOptions): Promise<ResetOffsetsResponse__Output> {
    return this.routed(request.groupId ?? '', call, (c) => this.connection.resetOffsets(request, c));
  }

  deleteOffsets(request: DeleteOffsetsRequest, call?: CallOptions): Promise<DeleteOffsetsResponse__Output> {
    return this.routed(request.groupId ?? '', call, (c) => this.connection.deleteOffsets(request, c));
  }

  /**
   * The groups of every broker Metadata names (each lists those it coordinates), merged. A broker
   * that cannot be reached is left out (its groups have moved to the others, or will once it is
   * fenced); the call fails only when none answers, or on any other error.
   */
  async listGroups(call?: CallOptions): Promise<ListGroupsResponse__Output> {
    const metadata = await this.connection.getMetadata([], { ...call, broker: undefined });
    if (metadata.brokers.length <= 1) return await this.connection.listGroups({ ...call, broker: undefined });
    const outcomes = await Promise.allSettled(
      metadata.brokers.map((b) => this.connection.listGroups({ ...call, broker: b.nodeId })),
    );
    const seen = new Map<string, ListGroupsResponse__Output['groups'][number]>();
    let unreachable: unknown = null;
    let answered = 0;
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        const err: unknown = outcome.reason;
        if (!isWeirError(err) || !GONE.has(err.code)) throw err;
        unreachable ??= err;
        continue;
      }
      answered++;
      for (const group of outcome.value.groups) seen.set(group.groupId, group);
    }
    if (answered === 0) throw unreachable;
    return { groups: [...seen.values()].sort((a, b) => a.groupId.localeCompare(b.groupId)) };
  }

  private async routed<T>(
    groupId: string,
    call: CallOptions | undefined,
    send: (call: CallOptions) => Promise<T>,
  ): Promise<T> {
    const node = await this.coordinator(groupId, call);
    try {
      return await send({ ...call, broker: node });
    } catch (err) {
      if (isWeirError(err) && COORDINATOR_MOVED.has(err.code)) this.forget(groupId, node);
      throw err;
    }
  }

  private coordinator(groupId: string, call: CallOptions | undefined): Promise<number> {
    const known = this.coordinators.get(groupId);
    if (known !== undefined) return Promise.resolve(known);
    let lookup = this.lookups.get(groupId);
    if (lookup === undefined) {
      lookup = this.findCoordinator(groupId, call)
        .then((answer) => {
          if (answer.coordinator === null) {
            throw new WeirError('NOT_COORDINATOR', `no coordinator named for group ${groupId}`);
          }
          return answer.coordinator.nodeId;
        })
        .finally(() => this.lookups.delete(groupId));
      this.lookups.set(groupId, lookup);
    }
    return lookup;
  }

  /** Forgets a coordinator that failed, unless a newer lookup already replaced it. */
  private forget(groupId: string, node: number): void {
    if (this.coordinators.get(groupId) === node) this.coordinators.delete(groupId);
  }
}
