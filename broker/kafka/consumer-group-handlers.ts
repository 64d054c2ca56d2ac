// The KIP-848 consumer group protocol from Kafka clients (group.protocol=consumer):
// ConsumerGroupHeartbeat and ConsumerGroupDescribe, on the same coordinator weir's own clients use
// over gRPC. Two differences of shape are bridged here. Kafka names partitions by topic id, weir by
// topic name. And a Kafka heartbeat leaves out (null) what did not change since the last one, while
// weir's heartbeat carries the whole subscription and the partitions owned: what is left out is
// taken from the member as the coordinator has it (owned: what it was given, with what it has not
// yet confirmed giving up, so nothing is taken as given up by omission).

import { WeirError, isWeirError } from '../../proto/errors.js';
import {
  ConsumerGroupDescribeApi,
  ConsumerGroupHeartbeatApi,
  type ConsumerGroupDescribeGroup,
  type ConsumerGroupHeartbeatRequest,
} from '../../proto/kafka/generated/index.js';
import type { TopicPartition } from '../group/assignors.js';
import type { HeartbeatRequest } from '../group/consumer-group.js';
import type { Broker } from '../broker.js';
import { ZERO_UUID } from '../../proto/kafka/codec-support.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';
import { TopicIds } from './topic-ids.js';
import { hostOf } from '../peer-host.js';

/** Kafka's server-side assignors by weir's: "uniform" is the sticky one. */
const ASSIGNOR_OF_KAFKA: Readonly<Record<string, string>> = { uniform: 'sticky', range: 'range' };

/** A topic's name by id; UNKNOWN_TOPIC_ID when no topic has it. */
function nameById(ids: TopicIds, id: string): string {
  const name = ids.name(id);
  if (name === undefined) throw new WeirError('UNKNOWN_TOPIC_ID', `no topic has id ${id}`);
  return name;
}

/** A topic's id by name; the zero id for a topic that is gone. */
function idByName(ids: TopicIds, name: string): string {
  return ids.id(name) ?? ZERO_UUID;
}

/** Partitions by topic, as Kafka lists them. */
function byTopic(tps: readonly TopicPartition[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { topic, partition } of tps) {
    let list = out.get(topic);
    if (list === undefined) out.set(topic, (list = []));
    list.push(partition);
  }
  return out;
}

function heartbeatOf(
  broker: Broker,
  ids: TopicIds,
  req: ConsumerGroupHeartbeatRequest,
  clientId: string,
  host: string,
): HeartbeatRequest {
  const current = req.memberEpoch > 0 ? broker.groups.consumerMember(req.groupId, req.memberId) : undefined;
  const owned =
    req.topicPartitions === null
      ? [...(current?.assignment ?? []), ...(current?.pendingRevocation ?? [])]
      : req.topicPartitions.flatMap((t) => {
          const topic = nameById(ids, t.topicId);
          return t.partitions.map((partition) => ({ topic, partition }));
        });
  let assignor = '';
  if (req.serverAssignor !== null) {
    const mapped = ASSIGNOR_OF_KAFKA[req.serverAssignor];
    if (mapped === undefined)
      throw new WeirError('UNSUPPORTED_ASSIGNOR', `'${req.serverAssignor}'; the broker has uniform, range`);
    assignor = mapped;
  }
  return {
    memberId: req.memberId,
    memberEpoch: req.memberEpoch,
    instanceId: req.instanceId ?? '',
    clientId,
    host,
    sessionTimeoutMs: 0,
    rebalanceTimeoutMs: req.rebalanceTimeoutMs < 0 ? 0 : req.rebalanceTimeoutMs,
    subscribedTopics: req.subscribedTopicNames ?? current?.subscribedTopics ?? [],
    subscribedPattern: req.subscribedTopicRegex ?? current?.subscribedPattern ?? '',
    assignor,
    owned,
  };
}

export function consumerGroupHeartbeatHandler(broker: Broker): KafkaHandler {
  const ids = new TopicIds(broker);
  return kafkaHandler({
    api: ConsumerGroupHeartbeatApi,
    handle: (request, context) => {
      try {
        const result = broker.groups.heartbeat(
          request.groupId,
          heartbeatOf(broker, ids, request, context.clientId ?? '', hostOf(context.remoteAddress)),
        );
        return {
          ...ConsumerGroupHeartbeatApi.defaultResponse(),
          memberId: result.memberId,
          memberEpoch: result.memberEpoch,
          heartbeatIntervalMs: result.heartbeatIntervalMs,
          // The whole assignment every time: a client takes it as its target, the same one again
          // changes nothing.
          assignment:
            result.memberEpoch < 0
              ? null
              : {
                  topicPartitions: [...byTopic(result.assignment)].map(([topic, partitions]) => ({
                    topicId: idByName(ids, topic),
                    partitions,
                  })),
                },
        };
      } catch (err) {
        if (!isWeirError(err)) throw err;
        return {
          ...ConsumerGroupHeartbeatApi.defaultResponse(),
          errorCode: err.id,
          errorMessage: err.message,
        };
      }
    },
  });
}

function describeOne(broker: Broker, ids: TopicIds, groupId: string): ConsumerGroupDescribeGroup {
  const answer: ConsumerGroupDescribeGroup = {
    errorCode: 0,
    errorMessage: null,
    groupId,
    groupState: 'Dead',
    groupEpoch: -1,
    assignmentEpoch: -1,
    assignorName: '',
    members: [],
    authorizedOperations: -2147483648,
  };
  try {
    if (broker.groups.groupType(groupId) !== 'consumer')
      throw new WeirError('GROUP_ID_NOT_FOUND', `group '${groupId}' is not a consumer group`);
    const d = broker.groups.describeGroup(groupId);
    const assignmentOf = (tps: readonly TopicPartition[]) => ({
      topicPartitions: [...byTopic(tps)].map(([topicName, partitions]) => ({
        topicId: idByName(ids, topicName),
        topicName,
        partitions,
      })),
    });
    return {
      ...answer,
      groupState: d.state,
      groupEpoch: d.generation,
      assignmentEpoch: d.generation,
      assignorName: d.assignor === 'sticky' ? 'uniform' : d.assignor,
      members: d.memberList.map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId === '' ? null : m.instanceId,
        rackId: null,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.host,
        subscribedTopicNames: m.subscribedTopics,
        subscribedTopicRegex: m.subscribedPattern === '' ? null : m.subscribedPattern,
        assignment: assignmentOf(m.assignment),
        // weir's description has what each member owns now; the target it is moving to is the
        // same once the group is stable.
        targetAssignment: assignmentOf(m.assignment),
      })),
    };
  } catch (err) {
    if (!isWeirError(err)) throw err;
    return { ...answer, errorCode: err.id, errorMessage: err.message };
  }
}

export function consumerGroupDescribeHandler(broker: Broker): KafkaHandler {
  const ids = new TopicIds(broker);
  return kafkaHandler({
    api: ConsumerGroupDescribeApi,
    handle: (request) => ({
      ...ConsumerGroupDescribeApi.defaultResponse(),
      groups: request.groupIds.map((groupId) => describeOne(broker, ids, groupId)),
    }),
  });
}
