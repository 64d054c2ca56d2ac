// ListGroups, DescribeGroups and DeleteGroups on the Kafka listener, over the coordinator's groups
// of both protocols. Like Kafka's, each broker lists and describes the groups it coordinates;
// an admin client asks every broker and the coordinator of each group.

import { WeirError } from '../../proto/errors.js';
import {
  DeleteGroupsApi,
  DescribeGroupsApi,
  ListGroupsApi,
  type DescribedGroup,
} from '../../proto/kafka/generated/index.js';
import type { Broker } from '../broker.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';
import { errorCodeOf } from './error-answers.js';

/** A filter matches when empty, or when it names the value (case aside, as Kafka compares). */
function passes(filter: readonly string[], value: string): boolean {
  return filter.length === 0 || filter.some((f) => f.toLowerCase() === value.toLowerCase());
}

export function listGroupsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: ListGroupsApi,
    handle: (request) => {
      const groups = broker.groups.listGroupTypes().flatMap((g) => {
        if (!passes(request.statesFilter, g.state) || !passes(request.typesFilter, g.type)) return [];
        return [{ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.type }];
      });
      return { ...ListGroupsApi.defaultResponse(), groups };
    },
  });
}

function describeOne(broker: Broker, groupId: string): DescribedGroup {
  const answer: DescribedGroup = {
    errorCode: 0,
    groupId,
    groupState: 'Dead',
    protocolType: '',
    protocolData: '',
    members: [],
    authorizedOperations: -2147483648,
  };
  try {
    const group = broker.groups.classicGroup(groupId);
    if (group === 'consumer')
      throw new WeirError('GROUP_ID_NOT_FOUND', `group '${groupId}' is a consumer group, not a classic one`);
    if (group === undefined) {
      // Known only by its committed offsets: an empty group, as Kafka shows one; else none.
      return broker.groups.hasCommitted(groupId) ? { ...answer, groupState: 'Empty' } : answer;
    }
    return {
      ...answer,
      groupState: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: group.protocolName ?? '',
      members: group.describeMembers().map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.host,
        memberMetadata: m.metadata,
        memberAssignment: m.assignment,
      })),
    };
  } catch (err) {
    return { ...answer, groupState: '', errorCode: errorCodeOf(err) };
  }
}

export function describeGroupsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: DescribeGroupsApi,
    handle: (request) => ({
      ...DescribeGroupsApi.defaultResponse(),
      groups: request.groups.map((groupId) => describeOne(broker, groupId)),
    }),
  });
}

export function deleteGroupsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: DeleteGroupsApi,
    handle: async (request) => {
      const results = [];
      for (const groupId of request.groupsNames) {
        try {
          await broker.groups.deleteGroup(groupId);
          results.push({ groupId, errorCode: 0 });
        } catch (err) {
          results.push({ groupId, errorCode: errorCodeOf(err) });
        }
      }
      return { ...DeleteGroupsApi.defaultResponse(), results };
    },
  });
}
