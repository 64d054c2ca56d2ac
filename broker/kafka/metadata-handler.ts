// Metadata on the Kafka listener: a thin mapping from Kafka's request to the broker core
// the gRPC API uses too (the same topics, errors and placement), and back to Kafka's response.

import { WeirError } from '../../proto/errors.js';
import {
  MetadataApi,
  type MetadataResponsePartition,
  type MetadataResponseTopic,
} from '../../proto/kafka/generated/index.js';
import { ZERO_UUID } from '../../proto/kafka/codec-support.js';
import type { Broker } from '../broker.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';

/**
 * Where Kafka clients reach a broker: its advertised host and Kafka port, if it is live and has a
 * listener (on a cluster, as its registration in the metadata log says).
 */
export type KafkaAddressOf = (nodeId: number) => { host: string; port: number } | undefined;

/** The live brokers with a Kafka listener, at its address, as Metadata and DescribeCluster list them. */
export function kafkaBrokers(
  brokers: readonly { nodeId: number }[],
  kafkaAddressOf: KafkaAddressOf,
): { nodeId: number; host: string; port: number; rack: null }[] {
  return brokers.flatMap((b) => {
    const address = kafkaAddressOf(b.nodeId);
    return address === undefined
      ? []
      : [{ nodeId: b.nodeId, host: address.host, port: address.port, rack: null }];
  });
}

const NONE = 0;

function errorCode(err: WeirError | null): number {
  return err === null ? NONE : err.id;
}

/**
 * Metadata: the live brokers with a Kafka listener, at its address; the controller (the metadata
 * log's leader); and per partition its leader, leader epoch (the Raft term), replicas and in-sync
 * replicas, by node id, as this broker sees them (a partition it holds no replica of: the
 * metadata log's replicas, the preferred one as the leader). A topic asked for by name
 * is created when the broker auto-creates topics and the client allows it.
 */
export function metadataHandler(broker: Broker, kafkaAddressOf: KafkaAddressOf): KafkaHandler {
  return kafkaHandler({
    api: MetadataApi,
    handle: (request, context) => {
      const cluster = broker.cluster();
      const brokers = kafkaBrokers(cluster.brokers, kafkaAddressOf);
      // v0: an empty list means every topic; v1+: a null list does, an empty one none.
      const all = request.topics === null || (context.apiVersion === 0 && request.topics.length === 0);
      const names = all ? [] : request.topics!.flatMap((t) => (t.name === null ? [] : [t.name]));
      const topics: MetadataResponseTopic[] =
        !all && names.length === 0
          ? []
          : broker.metadata(names, request.allowAutoTopicCreation).map((t) => ({
              errorCode: errorCode(t.error),
              name: t.name,
              topicId: t.topicId ?? ZERO_UUID,
              isInternal: t.internal,
              partitions: Array.from({ length: t.partitions }, (_, p) => partitionOf(broker, t.name, p)),
              topicAuthorizedOperations: -2147483648,
            }));
      return {
        ...MetadataApi.defaultResponse(),
        brokers,
        clusterId: cluster.clusterId,
        controllerId: cluster.controllerId,
        topics,
      };
    },
  });
}

function partitionOf(broker: Broker, topic: string, partition: number): MetadataResponsePartition {
  const placed = broker.placement(topic, partition);
  const leaderEpoch = broker.find(topic, partition)?.leaderEpoch ?? -1;
  return {
    errorCode: placed.leader < 0 ? new WeirError('LEADER_NOT_AVAILABLE').id : NONE,
    partitionIndex: partition,
    leaderId: placed.leader,
    leaderEpoch,
    replicaNodes: placed.replicas,
    // Where no replica is held the progress of none is known: the leader alone, as a follower says.
    isrNodes: placed.isr ?? (placed.leader < 0 ? [] : [placed.leader]),
    offlineReplicas: [],
  };
}
