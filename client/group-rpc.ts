// The consumer-group RPCs (FindCoordinator, GroupHeartbeat, OffsetCommit, OffsetFetch and the
// group administration calls), each a typed method, with failures mapped to WeirErrors by the
// same fromServiceError that Connection uses, so a code means the same here as anywhere.
//
// The client's Connection makes these calls on its one channel; the interface is the seam through
// which tests hand the group consumer a fake (STYLE 10).

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
import type { CallOptions } from './connection.js';

/** The group calls a group consumer and the admin make; Connection is the real one. */
export interface GroupRpc {
  findCoordinator(groupId: string, call?: CallOptions): Promise<FindCoordinatorResponse__Output>;
  groupHeartbeat(request: GroupHeartbeatRequest, call?: CallOptions): Promise<GroupHeartbeatResponse__Output>;
  offsetCommit(request: OffsetCommitRequest, call?: CallOptions): Promise<OffsetCommitResponse__Output>;
  offsetFetch(request: OffsetFetchRequest, call?: CallOptions): Promise<OffsetFetchResponse__Output>;
  listGroups(call?: CallOptions): Promise<ListGroupsResponse__Output>;
  describeGroup(request: DescribeGroupRequest, call?: CallOptions): Promise<GroupDescription__Output>;
  deleteGroup(groupId: string, call?: CallOptions): Promise<void>;
  resetOffsets(request: ResetOffsetsRequest, call?: CallOptions): Promise<ResetOffsetsResponse__Output>;
  deleteOffsets(request: DeleteOffsetsRequest, call?: CallOptions): Promise<DeleteOffsetsResponse__Output>;
}
