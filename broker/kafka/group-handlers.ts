// FindCoordinator, OffsetCommit and OffsetFetch on the Kafka listener: the same coordinator and
// committed offsets the gRPC and HTTP surfaces use (a commit from a Kafka consumer shows in
// `weir group describe`, and the reverse). Errors the coordinator throws for a whole group
// (NOT_COORDINATOR, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION...) become the error code of every
// partition asked about, or of the group where the version has a field for it.

import { WeirError, isWeirError } from '../../proto/errors.js';
import {
  FindCoordinatorApi,
  OffsetCommitApi,
  OffsetFetchApi,
  type FindCoordinatorResponseCoordinator,
  type OffsetCommitResponseTopic,
} from '../../proto/kafka/generated/index.js';
import type { Broker } from '../broker.js';
import type { PartitionResult } from '../group/coordinator.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';
import type { KafkaAddressOf } from './metadata-handler.js';

/** Key type 0: a consumer group (1 is a transactional id, 2 a share group; weir has neither). */
const GROUP_KEY = 0;

export function findCoordinatorHandler(broker: Broker, kafkaAddressOf: KafkaAddressOf): KafkaHandler {
  const one = (key: string, keyType: number): FindCoordinatorResponseCoordinator => {
    try {
      if (keyType !== GROUP_KEY)
        throw new WeirError(
          'INVALID_REQUEST',
          `key type ${keyType}: weir coordinates consumer groups (0) only`,
        );
      const { coordinator } = broker.groups.findCoordinator(key);
      const address = kafkaAddressOf(coordinator.nodeId);
      if (address === undefined)
        throw new WeirError(
          'COORDINATOR_NOT_AVAILABLE',
          `broker ${coordinator.nodeId} has no Kafka listener`,
        );
      return { key, nodeId: coordinator.nodeId, ...address, errorCode: 0, errorMessage: null };
    } catch (err) {
      if (!isWeirError(err)) throw err;
      return { key, nodeId: -1, host: '', port: -1, errorCode: err.id, errorMessage: err.message };
    }
  };
  return kafkaHandler({
    api: FindCoordinatorApi,
    handle: (request, context) => {
      if (context.apiVersion >= 4)
        return {
          ...FindCoordinatorApi.defaultResponse(),
          coordinators: request.coordinatorKeys.map((key) => one(key, request.keyType)),
        };
      const { nodeId, host, port, errorCode, errorMessage } = one(request.key, request.keyType);
      return { ...FindCoordinatorApi.defaultResponse(), nodeId, host, port, errorCode, errorMessage };
    },
  });
}

export function offsetCommitHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: OffsetCommitApi,
    handle: async (request) => {
      const asked = request.topics.flatMap((t) =>
        t.partitions.map((p) => ({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          metadata: p.committedMetadata ?? '',
        })),
      );
      let results: PartitionResult[];
      try {
        results = await broker.groups.commit(
          request.groupId,
          request.memberId,
          request.generationIdOrMemberEpoch,
          asked,
          request.groupInstanceId,
        );
      } catch (err) {
        if (!isWeirError(err)) throw err;
        results = asked.map((a) => ({ topic: a.topic, partition: a.partition, error: err }));
      }
      // Results come in the order asked: hand them back topic by topic.
      let i = 0;
      const topics: OffsetCommitResponseTopic[] = request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: results[i++]!.error?.id ?? 0,
        })),
      }));
      return { ...OffsetCommitApi.defaultResponse(), topics };
    },
  });
}

interface AskedTopic {
  readonly name: string;
  readonly partitionIndexes: readonly number[];
}

interface FetchedTopic {
  name: string;
  partitions: {
    partitionIndex: number;
    committedOffset: number;
    committedLeaderEpoch: number;
    metadata: string | null;
    errorCode: number;
  }[];
}

/** One group's offsets (`topics` null: every partition it committed), or the group's error. */
function fetchGroup(
  broker: Broker,
  groupId: string,
  topics: readonly AskedTopic[] | null,
): { errorCode: number; topics: FetchedTopic[] } {
  try {
    const asked = (topics ?? []).flatMap((t) =>
      t.partitionIndexes.map((partition) => ({ topic: t.name, partition })),
    );
    if (topics !== null && asked.length === 0)
      return { errorCode: 0, topics: topics.map((t) => ({ name: t.name, partitions: [] })) };
    const byTopic = new Map<string, FetchedTopic>();
    for (const o of broker.groups.fetchOffsets(groupId, asked)) {
      let topic = byTopic.get(o.topic);
      if (topic === undefined) byTopic.set(o.topic, (topic = { name: o.topic, partitions: [] }));
      topic.partitions.push({
        partitionIndex: o.partition,
        committedOffset: o.offset,
        committedLeaderEpoch: -1,
        metadata: o.metadata,
        errorCode: o.error?.id ?? 0,
      });
    }
    return { errorCode: 0, topics: [...byTopic.values()] };
  } catch (err) {
    if (!isWeirError(err)) throw err;
    return { errorCode: err.id, topics: [] };
  }
}

/** Versions 0-1 have no group error field: each partition asked about carries it. */
function errorPerPartition(topics: readonly AskedTopic[], errorCode: number): FetchedTopic[] {
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({
      partitionIndex,
      committedOffset: -1,
      committedLeaderEpoch: -1,
      metadata: '',
      errorCode,
    })),
  }));
}

export function offsetFetchHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: OffsetFetchApi,
    handle: (request, context) => {
      if (context.apiVersion >= 8)
        return {
          ...OffsetFetchApi.defaultResponse(),
          groups: request.groups.map((g) => ({
            groupId: g.groupId,
            ...fetchGroup(broker, g.groupId, g.topics),
          })),
        };
      const { errorCode, topics } = fetchGroup(broker, request.groupId, request.topics);
      if (context.apiVersion < 2 && errorCode !== 0)
        return {
          ...OffsetFetchApi.defaultResponse(),
          topics: errorPerPartition(request.topics ?? [], errorCode),
        };
      return { ...OffsetFetchApi.defaultResponse(), errorCode, topics };
    },
  });
}
