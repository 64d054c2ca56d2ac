// The classic group protocol on the Kafka listener: JoinGroup, SyncGroup, Heartbeat and LeaveGroup
// mapped onto the coordinator's classic groups (broker/group/classic-group.ts). A JoinGroup or
// SyncGroup is answered when the group settles it, so the handler awaits it; the connection's
// later requests wait behind it, as they do on Kafka.

import {
  HeartbeatApi,
  JoinGroupApi,
  LeaveGroupApi,
  SyncGroupApi,
  type JoinGroupResponse,
} from '../../proto/kafka/generated/index.js';
import type { Broker } from '../broker.js';
import type { JoinAnswer } from '../group/classic-group.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';
import { hostOf } from '../peer-host.js';
import { errorCodeOf } from './error-answers.js';

function joinResponse(a: JoinAnswer, version: number): JoinGroupResponse {
  return {
    ...JoinGroupApi.defaultResponse(),
    errorCode: a.error?.id ?? 0,
    generationId: a.generation,
    protocolType: a.protocolType,
    // Null only from version 7; before, an answer without a protocol names it ''.
    protocolName: a.protocolName ?? (version >= 7 ? null : ''),
    leader: a.leader,
    skipAssignment: a.skipAssignment,
    memberId: a.memberId,
    members: a.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.instanceId,
      metadata: m.metadata,
    })),
  };
}

export function joinGroupHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: JoinGroupApi,
    handle: async (request, context) => {
      const v = context.apiVersion;
      try {
        const answer = await broker.groups.joinGroup(request.groupId, {
          memberId: request.memberId,
          instanceId: request.groupInstanceId,
          clientId: context.clientId ?? '',
          host: hostOf(context.remoteAddress),
          sessionTimeoutMs: request.sessionTimeoutMs,
          rebalanceTimeoutMs: request.rebalanceTimeoutMs,
          protocolType: request.protocolType,
          protocols: request.protocols,
          requireKnownMemberId: v >= 4,
        });
        return joinResponse(answer, v);
      } catch (err) {
        return {
          ...JoinGroupApi.defaultResponse(),
          errorCode: errorCodeOf(err),
          protocolName: v >= 7 ? null : '',
          memberId: request.memberId,
        };
      }
    },
  });
}

export function syncGroupHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: SyncGroupApi,
    handle: async (request) => {
      try {
        const answer = await broker.groups.syncGroup(request.groupId, {
          memberId: request.memberId,
          instanceId: request.groupInstanceId,
          generation: request.generationId,
          protocolType: request.protocolType,
          protocolName: request.protocolName,
          assignments: request.assignments,
        });
        return {
          ...SyncGroupApi.defaultResponse(),
          errorCode: answer.error?.id ?? 0,
          protocolType: answer.protocolType,
          protocolName: answer.protocolName,
          assignment: answer.assignment,
        };
      } catch (err) {
        return { ...SyncGroupApi.defaultResponse(), errorCode: errorCodeOf(err) };
      }
    },
  });
}

export function heartbeatHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: HeartbeatApi,
    handle: (request) => {
      try {
        broker.groups.classicHeartbeat(request.groupId, {
          memberId: request.memberId,
          instanceId: request.groupInstanceId,
          generation: request.generationId,
        });
        return HeartbeatApi.defaultResponse();
      } catch (err) {
        return { ...HeartbeatApi.defaultResponse(), errorCode: errorCodeOf(err) };
      }
    },
  });
}

/** Up to version 2 one member by id; from version 3 a list, each with its own answer. */
export function leaveGroupHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: LeaveGroupApi,
    handle: (request, context) => {
      const batch = context.apiVersion >= 3;
      const who = batch
        ? request.members.map((m) => ({ memberId: m.memberId, instanceId: m.groupInstanceId }))
        : [{ memberId: request.memberId, instanceId: null }];
      try {
        const errors = broker.groups.leaveGroup(request.groupId, who);
        return {
          ...LeaveGroupApi.defaultResponse(),
          errorCode: batch ? 0 : (errors[0]?.id ?? 0),
          members: who.map((m, i) => ({
            memberId: m.memberId,
            groupInstanceId: m.instanceId,
            errorCode: errors[i]?.id ?? 0,
          })),
        };
      } catch (err) {
        return { ...LeaveGroupApi.defaultResponse(), errorCode: errorCodeOf(err) };
      }
    },
  });
}
