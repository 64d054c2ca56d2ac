// The consumer-group calls of the gRPC surface: decode, call the group coordinator, encode. As in
// grpc-server.ts, no group logic lives here.

import { WeirError } from '../proto/errors.js';
import type { ResetOffsetsRequest__Output } from '../proto/generated/weir/v1/ResetOffsetsRequest.js';
import type { WeirHandlers } from '../proto/generated/weir/v1/Weir.js';
import { toWireError } from '../proto/grpc.js';
import { fromWirePartitions, toWirePartitions } from '../proto/topic-partitions.js';
import type { Broker } from './broker.js';
import type { ResetTarget } from './group/coordinator.js';
import { unary, type GrpcSurfaceHooks } from './grpc-unary.js';
import { hostOf } from './peer-host.js';

type GroupMethods =
  | 'FindCoordinator'
  | 'GroupHeartbeat'
  | 'OffsetCommit'
  | 'OffsetFetch'
  | 'ListGroups'
  | 'DescribeGroup'
  | 'DeleteGroup'
  | 'ResetOffsets'
  | 'DeleteOffsets';

function resetTarget(req: ResetOffsetsRequest__Output): ResetTarget {
  switch (req.to) {
    case 'earliest':
      return { kind: 'earliest' };
    case 'latest':
      return { kind: 'latest' };
    case 'timestamp':
      return { kind: 'timestamp', timestamp: req.timestamp ?? 0 };
    case 'offset':
      return { kind: 'offset', offset: req.offset ?? 0 };
    case 'shiftBy':
      return { kind: 'shiftBy', shiftBy: req.shiftBy ?? 0 };
    default:
      throw new WeirError(
        'INVALID_REQUEST',
        'say where to reset to: earliest, latest, timestamp, offset or shift_by',
      );
  }
}

export function groupHandlers(broker: Broker, hooks: GrpcSurfaceHooks): Pick<WeirHandlers, GroupMethods> {
  const groups = broker.groups;
  return {
    FindCoordinator: unary('FindCoordinator', hooks, (req) => groups.findCoordinator(req.groupId)),
    GroupHeartbeat: unary('GroupHeartbeat', hooks, (req, call) => {
      const result = groups.heartbeat(req.groupId, {
        memberId: req.memberId,
        memberEpoch: req.memberEpoch,
        instanceId: req.instanceId,
        clientId: req.clientId,
        host: hostOf(call.getPeer()),
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        subscribedTopics: req.subscribedTopics,
        subscribedPattern: req.subscribedPattern,
        assignor: req.assignor,
        owned: fromWirePartitions(req.owned),
      });
      return { ...result, assignment: toWirePartitions(result.assignment) };
    }),
    OffsetCommit: unary('OffsetCommit', hooks, async (req) => {
      const results = await groups.commit(req.groupId, req.memberId, req.generation, req.partitions);
      return {
        results: results.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          ...(r.error !== null ? { error: toWireError(r.error) } : {}),
        })),
      };
    }),
    OffsetFetch: unary('OffsetFetch', hooks, (req) => ({
      offsets: groups
        .fetchOffsets(req.groupId, fromWirePartitions(req.partitions))
        .map(({ error, ...o }) => ({
          ...o,
          ...(error !== null ? { error: toWireError(error) } : {}),
        })),
    })),
    ListGroups: unary('ListGroups', hooks, () => ({ groups: groups.listGroups() })),
    DescribeGroup: unary('DescribeGroup', hooks, (req) => {
      const d = groups.describeGroup(req.groupId);
      return {
        groupId: d.groupId,
        state: d.state,
        generation: d.generation,
        assignor: d.assignor,
        members: d.memberList.map((m) => ({
          ...m,
          assignment: toWirePartitions(m.assignment),
          pendingRevocation: toWirePartitions(m.pendingRevocation),
        })),
        offsets: d.offsets,
        rebalances: [...d.rebalances],
      };
    }),
    DeleteGroup: unary('DeleteGroup', hooks, async (req) => {
      await groups.deleteGroup(req.groupId);
      return {};
    }),
    ResetOffsets: unary('ResetOffsets', hooks, async (req) => ({
      offsets: await groups.resetOffsets(
        req.groupId,
        req.topic,
        req.partitions,
        resetTarget(req),
        req.execute,
      ),
      executed: req.execute,
    })),
    DeleteOffsets: unary('DeleteOffsets', hooks, async (req) => ({
      results: (await groups.deleteOffsets(req.groupId, req.partitions)).map((r) => ({
        topic: r.topic,
        partition: r.partition,
        ...(r.error !== null ? { error: toWireError(r.error) } : {}),
      })),
    })),
  };
}
