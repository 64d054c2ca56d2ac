// Fetch and ListOffsets on the Kafka listener. A Kafka fetch answer carries a partition's record
// batches as the bytes stored, which is what the broker's fetch reads, so they go out as they are.
//
// Fetch sessions (KIP-227) are left out: every answer has session id 0, which tells the client the
// broker keeps no session, so it sends full fetches. From version 13 topics are named by id; an id
// the broker does not know gets UNKNOWN_TOPIC_ID. weir has no transactions, so the last stable
// offset is the high watermark and no transaction is ever aborted. A partition named with the
// client's leader epoch is fenced at each read (Partition.requireLeaderEpoch), after a long-poll
// too. A fetch older than v10 whose answer would hold zstd batches gets
// UNSUPPORTED_COMPRESSION_TYPE for that partition, as in Kafka (KIP-110): such a client cannot
// read them.

import { holdsCodec } from '../../proto/batch-inflate.js';
import { COMPRESSION_ZSTD } from '../../proto/compression.js';
import { WeirError, isWeirError } from '../../proto/errors.js';
import {
  FetchApi,
  ListOffsetsApi,
  type FetchRequestTopic,
  type FetchResponsePartition,
  type FetchResponseTopic,
  type ListOffsetsResponsePartition,
} from '../../proto/kafka/generated/index.js';
import type { Broker } from '../broker.js';
import type { FetchPartitionRequest } from '../replica/replica-manager.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';
import { TopicIds } from './topic-ids.js';

// A partition answered with an error still carries a records field, and it must be empty, not null:
// Kafka writes an empty record set there, and librdkafka (kcat, confluent-kafka) fails to parse a
// null one (size -1 before v12, "invalid MessageSetSize -1") and fetches again at once, in a loop.
const NO_RECORDS = Buffer.alloc(0);

/** The first Fetch version that may be answered with zstd batches. */
export const ZSTD_MIN_FETCH_VERSION = 10;

function emptyPartition(partitionIndex: number, error: WeirError): FetchResponsePartition {
  return {
    ...partitionAnswer(partitionIndex),
    errorCode: error.id,
    highWatermark: -1,
    lastStableOffset: -1,
  };
}

function partitionAnswer(partitionIndex: number): FetchResponsePartition {
  return {
    partitionIndex,
    errorCode: 0,
    highWatermark: 0,
    lastStableOffset: 0,
    logStartOffset: -1,
    divergingEpoch: { epoch: -1, endOffset: -1 },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1, epoch: -1 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: NO_RECORDS,
  };
}

export function fetchHandler(broker: Broker): KafkaHandler {
  const ids = new TopicIds(broker);
  return kafkaHandler({
    api: FetchApi,
    handle: async (request, context) => {
      const byId = context.apiVersion >= 13;
      if (request.sessionId !== 0)
        return {
          ...FetchApi.defaultResponse(),
          errorCode: new WeirError('FETCH_SESSION_ID_NOT_FOUND').id,
          sessionId: 0,
        };
      // Which partitions to read; those of a topic id not known are answered without a read.
      const reads: FetchPartitionRequest[] = [];
      const topics = request.topics.map((t: FetchRequestTopic) => {
        const name = byId ? ids.name(t.topicId) : t.topic;
        if (name !== undefined)
          for (const p of t.partitions)
            reads.push({
              topic: name,
              partition: p.partition,
              offset: p.fetchOffset,
              maxBytes: p.partitionMaxBytes,
              currentLeaderEpoch: p.currentLeaderEpoch,
            });
        return { request: t, name };
      });
      const results = await broker.fetch(reads, request.maxBytes, request.minBytes, request.maxWaitMs);
      let next = 0;
      const responses: FetchResponseTopic[] = topics.map(({ request: t, name }) => ({
        topic: t.topic,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => {
          if (name === undefined)
            return emptyPartition(
              p.partition,
              new WeirError('UNKNOWN_TOPIC_ID', `no topic has id ${t.topicId}`),
            );
          const r = results[next++]!;
          if (r.error !== null) return errorPartition(broker, name, p.partition, r.error);
          if (context.apiVersion < ZSTD_MIN_FETCH_VERSION && holdsCodec(r.batches, COMPRESSION_ZSTD))
            return emptyPartition(
              p.partition,
              new WeirError(
                'UNSUPPORTED_COMPRESSION_TYPE',
                `zstd batches need Fetch v${ZSTD_MIN_FETCH_VERSION}`,
              ),
            );
          return {
            ...partitionAnswer(p.partition),
            highWatermark: r.highWatermark,
            lastStableOffset: r.highWatermark,
            logStartOffset: r.logStartOffset,
            records: r.batches,
          };
        }),
      }));
      return { ...FetchApi.defaultResponse(), responses };
    },
  });
}

/**
 * A partition's error answer; a fenced one (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH) carries the
 * leader as this broker knows it, which a client of v12+ takes without asking Metadata again.
 */
function errorPartition(
  broker: Broker,
  topic: string,
  index: number,
  error: WeirError,
): FetchResponsePartition {
  const answer = emptyPartition(index, error);
  if (error.code !== 'FENCED_LEADER_EPOCH' && error.code !== 'UNKNOWN_LEADER_EPOCH') return answer;
  const partition = broker.find(topic, index);
  if (partition === undefined) return answer;
  return {
    ...answer,
    currentLeader: { leaderId: partition.leaderId ?? -1, leaderEpoch: partition.leaderEpoch },
  };
}

/** Kafka's special timestamps: the earliest offset, and the earliest local one (no tiers here). */
const EARLIEST = -2;
const EARLIEST_LOCAL = -4;

export function listOffsetsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: ListOffsetsApi,
    // Version 7 adds the largest-timestamp lookup (-3), which weir has no index for yet.
    maxVersion: 6,
    handle: (request) => ({
      ...ListOffsetsApi.defaultResponse(),
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p): ListOffsetsResponsePartition => {
          try {
            broker.find(t.name, p.partitionIndex)?.requireLeaderEpoch(p.currentLeaderEpoch);
            const ts = p.timestamp === EARLIEST_LOCAL ? EARLIEST : p.timestamp;
            const found = broker.listOffset(t.name, p.partitionIndex, ts);
            return {
              partitionIndex: p.partitionIndex,
              errorCode: 0,
              timestamp: found.timestamp,
              offset: found.offset,
              // Looked up again: the lookup may have created the topic (auto-create).
              leaderEpoch: broker.find(t.name, p.partitionIndex)?.leaderEpoch ?? -1,
            };
          } catch (err) {
            if (!isWeirError(err)) throw err;
            return {
              partitionIndex: p.partitionIndex,
              errorCode: err.id,
              timestamp: -1,
              offset: -1,
              leaderEpoch: -1,
            };
          }
        }),
      })),
    }),
  });
}
