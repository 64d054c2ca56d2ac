// Topic administration on the Kafka listener: CreateTopics, DeleteTopics and CreatePartitions go
// to the broker's own admin calls (through the controller when the broker has peers), so topics
// made from a Kafka client are the same as those made with `weir topic create`. Each topic gets
// its own answer; one topic's error does not fail the others.

import { WeirError } from '../../proto/errors.js';
import { ZERO_UUID } from '../../proto/kafka/codec-support.js';
import {
  CreatePartitionsApi,
  CreateTopicsApi,
  DeleteTopicsApi,
  type CreateTopicsRequestTopic,
  type CreateTopicsResponseTopic,
} from '../../proto/kafka/generated/index.js';
import type { Broker } from '../broker.js';
import { failure } from './error-answers.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';
import { TopicIds } from './topic-ids.js';

/** Kafka's -1 for "the broker's default", as weir's admin call takes it. */
function partitionsOf(broker: Broker, t: CreateTopicsRequestTopic): number {
  return t.numPartitions === -1 ? broker.config.defaultPartitions : t.numPartitions;
}

async function createOne(
  broker: Broker,
  t: CreateTopicsRequestTopic,
  validateOnly: boolean,
): Promise<CreateTopicsResponseTopic> {
  const answer: CreateTopicsResponseTopic = {
    name: t.name,
    topicId: ZERO_UUID,
    errorCode: 0,
    errorMessage: null,
    topicConfigErrorCode: 0,
    numPartitions: -1,
    replicationFactor: -1,
    configs: null,
  };
  try {
    if (t.assignments.length > 0)
      throw new WeirError(
        'INVALID_REQUEST',
        'weir places replicas itself; create the topic without an assignment',
      );
    const configs: Record<string, string> = {};
    for (const c of t.configs) {
      if (c.value === null) throw new WeirError('INVALID_CONFIG', `config ${c.name} has no value`);
      configs[c.name] = c.value;
    }
    const rf = t.replicationFactor === -1 ? 0 : t.replicationFactor;
    const d = await broker.adminCreateTopic(t.name, partitionsOf(broker, t), rf, configs, validateOnly);
    const topicId = validateOnly ? undefined : broker.metadata([t.name], false)[0]?.topicId;
    return {
      ...answer,
      topicId: topicId ?? ZERO_UUID,
      numPartitions: d.partitions.length,
      replicationFactor: d.replicationFactor,
      configs: Object.entries(d.configs).map(([name, value]) => ({
        name,
        value,
        readOnly: false,
        // 1: a dynamic topic config (set on this topic); 5: the broker's default.
        configSource: name in d.overrides ? 1 : 5,
        isSensitive: false,
      })),
    };
  } catch (err) {
    return { ...answer, ...failure(err) };
  }
}

export function createTopicsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: CreateTopicsApi,
    handle: async (request) => {
      const topics: CreateTopicsResponseTopic[] = [];
      for (const t of request.topics) topics.push(await createOne(broker, t, request.validateOnly));
      return { ...CreateTopicsApi.defaultResponse(), topics };
    },
  });
}

export function deleteTopicsHandler(broker: Broker): KafkaHandler {
  const ids = new TopicIds(broker);
  return kafkaHandler({
    api: DeleteTopicsApi,
    handle: async (request, context) => {
      // Up to v5 by name; from v6 by name or by id.
      const asked =
        context.apiVersion >= 6
          ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
          : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
      const responses = [];
      for (const t of asked) {
        let name = t.name;
        try {
          if (name === null) {
            name = ids.name(t.topicId) ?? null;
            if (name === null) throw new WeirError('UNKNOWN_TOPIC_ID', `no topic has id ${t.topicId}`);
          }
          const topicId = broker.metadata([name], false)[0]?.topicId ?? ZERO_UUID;
          await broker.adminDeleteTopic(name);
          responses.push({ name, topicId, errorCode: 0, errorMessage: null });
        } catch (err) {
          responses.push({ name, topicId: t.topicId, ...failure(err) });
        }
      }
      return { ...DeleteTopicsApi.defaultResponse(), responses };
    },
  });
}

export function createPartitionsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: CreatePartitionsApi,
    handle: async (request) => {
      const results = [];
      for (const t of request.topics) {
        try {
          if (t.assignments !== null)
            throw new WeirError(
              'INVALID_REQUEST',
              'weir places replicas itself; add partitions without an assignment',
            );
          if (request.validateOnly)
            throw new WeirError(
              'INVALID_REQUEST',
              'weir cannot validate a partition count without adding the partitions',
            );
          await broker.adminCreatePartitions(t.name, t.count);
          results.push({ name: t.name, errorCode: 0, errorMessage: null });
        } catch (err) {
          results.push({ name: t.name, ...failure(err) });
        }
      }
      return { ...CreatePartitionsApi.defaultResponse(), results };
    },
  });
}
