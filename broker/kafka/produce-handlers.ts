// Produce and InitProducerId on the Kafka listener. A Kafka producer's batches are RecordBatch v2
// bytes, which is what weir stores, so they go to the same append path the gRPC API uses (the
// same checks, idempotence and replication); only the request and answer shapes differ. zstd
// batches need Produce v7 or later, as in Kafka (KIP-110): an older client cannot have meant them.

import { holdsCodec } from '../../proto/batch-inflate.js';
import { COMPRESSION_ZSTD } from '../../proto/compression.js';
import { WeirError, isWeirError } from '../../proto/errors.js';
import {
  InitProducerIdApi,
  ProduceApi,
  type ProduceResponsePartition,
  type ProduceResponseTopic,
} from '../../proto/kafka/generated/index.js';
import type { Broker } from '../broker.js';
import type { Acks, ProduceOutcome } from '../partition.js';
import { deadlineOf } from '../produce-deadline.js';
import { NO_RESPONSE, kafkaHandler, type KafkaHandler } from './kafka-server.js';

/** The first Produce version that may carry zstd batches. */
export const ZSTD_MIN_PRODUCE_VERSION = 7;

/** Kafka's acks: 0 none, 1 the leader, -1 all in-sync replicas (a majority of the Raft group). */
function acksOf(acks: number): Acks {
  if (acks === 0) return 'none';
  if (acks === 1) return 'leader';
  if (acks === -1) return 'all';
  throw new WeirError('INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1, not ${acks}`);
}

/** An error as a partition's answer; what is not a WeirError is a bug, reported and answered as one. */
function partitionError(
  index: number,
  err: unknown,
  onInternalError: (err: unknown, api: string) => void,
): ProduceResponsePartition {
  let error: WeirError;
  if (isWeirError(err)) error = err;
  else {
    onInternalError(err, 'Produce');
    error = new WeirError('UNKNOWN_SERVER_ERROR', 'the append failed unexpectedly');
  }
  return {
    ...answer(index, -1, -1),
    errorCode: error.id,
    errorMessage: error.message,
  };
}

function answer(index: number, baseOffset: number, logStartOffset: number): ProduceResponsePartition {
  return {
    index,
    errorCode: 0,
    baseOffset,
    logAppendTimeMs: -1,
    logStartOffset,
    recordErrors: [],
    errorMessage: null,
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
  };
}

export function produceHandler(
  broker: Broker,
  onInternalError: (err: unknown, api: string) => void,
): KafkaHandler {
  return kafkaHandler({
    api: ProduceApi,
    handle: async (request, context) => {
      let acks: Acks | null = null;
      let refused: WeirError | null = null;
      try {
        acks = acksOf(request.acks);
        if (request.transactionalId !== null)
          throw new WeirError(
            'INVALID_REQUEST',
            'weir has no transactions; produce without a transactional id',
          );
      } catch (err) {
        if (!isWeirError(err)) throw err;
        refused = err;
      }
      // Every append starts here, in request order, before anything waits: requests on one
      // connection append in the order they came.
      const started = request.topicData.map((topic) =>
        topic.partitionData.map((p): Promise<ProduceOutcome> => {
          try {
            if (refused !== null) throw refused;
            if (p.records === null || p.records.length === 0)
              throw new WeirError(
                'INVALID_RECORD',
                'a produce request needs record batches for each partition',
              );
            const records = Buffer.isBuffer(p.records) ? p.records : Buffer.concat(p.records);
            if (context.apiVersion < ZSTD_MIN_PRODUCE_VERSION && holdsCodec(records, COMPRESSION_ZSTD))
              throw new WeirError(
                'UNSUPPORTED_COMPRESSION_TYPE',
                `zstd batches need Produce v${ZSTD_MIN_PRODUCE_VERSION} or later, not v${context.apiVersion}`,
              );
            return broker.produce(topic.name, p.index, records, acks!);
          } catch (err) {
            return Promise.reject(err);
          }
        }),
      );
      for (const list of started) for (const p of list) p.catch(() => undefined);
      if (acks === 'none') return NO_RESPONSE;
      const deadline = deadlineOf(request.timeoutMs);
      const responses: ProduceResponseTopic[] = [];
      for (let t = 0; t < started.length; t++) {
        const topic = request.topicData[t]!;
        const partitionResponses: ProduceResponsePartition[] = [];
        for (let i = 0; i < started[t]!.length; i++) {
          const index = topic.partitionData[i]!.index;
          try {
            const outcome = await deadline.race(started[t]![i]!);
            const logStart = broker.partition(topic.name, index).logStartOffset;
            partitionResponses.push(answer(index, outcome.baseOffset, logStart));
          } catch (err) {
            partitionResponses.push(partitionError(index, err, onInternalError));
          }
        }
        responses.push({ name: topic.name, partitionResponses });
      }
      deadline.cancel();
      return { ...ProduceApi.defaultResponse(), responses };
    },
  });
}

/** A producer id for an idempotent producer; a transactional id is refused (no transactions yet). */
export function initProducerIdHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: InitProducerIdApi,
    handle: (request) => {
      if (request.transactionalId !== null)
        return {
          ...InitProducerIdApi.defaultResponse(),
          errorCode: new WeirError('INVALID_REQUEST').id,
        };
      const { producerId, producerEpoch } = broker.initProducerId();
      return { ...InitProducerIdApi.defaultResponse(), producerId, producerEpoch };
    },
  });
}
