// Leader epochs on the Kafka listener. A partition's leader epoch is its Raft term: Metadata
// reports it, every batch a leader appends carries it in partitionLeaderEpoch (the Raft log stamps
// the term on append), and the partition's leader-epoch cache (storage/leader-epoch-cache.ts, kept
// by the Raft log for its own consistency checks) says where each epoch starts in the log.
//
// Two uses, as in Kafka (KIP-320):
// - fencing: a Fetch, ListOffsets or OffsetForLeaderEpoch that names the epoch the client knows
//   is checked against this replica's (Partition.requireLeaderEpoch; a fetch at each read, so
//   also after its long-poll);
// - OffsetForLeaderEpoch: where an epoch ends here, so a consumer that read records of epoch E
//   can tell whether the leader still has them (truncation detection).

import { WeirError, isWeirError } from '../../proto/errors.js';
import {
  OffsetForLeaderEpochApi,
  type OffsetForLeaderEpochEndOffset,
} from '../../proto/kafka/generated/index.js';
import { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, type EpochEntry } from '../../storage/index.js';
import type { Broker } from '../broker.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';

/** Where a log's epochs stand: their starts, the leader's epoch now, the log's bounds. */
export interface EpochHistory {
  readonly epochs: readonly EpochEntry[];
  readonly leaderEpoch: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

const UNDEFINED = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
const UNDEFINED_ANSWER = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };

/**
 * Kafka's answer to "where does epoch `requested` end": for the leader's latest epoch, the log end;
 * for an older one, the start of the next epoch, with the largest epoch at or below the one asked
 * (itself when it is known); below every known epoch, the first one's start; above the latest,
 * or for -1, undefined (-1, -1).
 *
 * The leader's own epoch counts from the log end when nothing was appended in it yet (a group of
 * one appends no no-op at election), as Kafka's leader records its epoch at the log end when it
 * is elected. An end below the log start (the cache keeps the entry covering start - 1) is the
 * log start: the older records are gone, and a consumer must start no lower.
 */
export function epochEndOffset(
  history: EpochHistory,
  requested: number,
): { epoch: number; endOffset: number } {
  const epochs = [...history.epochs];
  const latest = epochs.at(-1);
  if (latest === undefined || history.leaderEpoch > latest.epoch)
    epochs.push({ epoch: history.leaderEpoch, startOffset: history.logEndOffset });
  if (requested === UNDEFINED_EPOCH) return UNDEFINED;
  if (requested === epochs.at(-1)!.epoch) return { epoch: requested, endOffset: history.logEndOffset };
  const higher = epochs.findIndex((e) => e.epoch > requested);
  if (higher < 0) return UNDEFINED;
  const endOffset = Math.max(epochs[higher]!.startOffset, history.logStartOffset);
  return { epoch: higher === 0 ? requested : epochs[higher - 1]!.epoch, endOffset };
}

function endOffsetOf(
  broker: Broker,
  topic: string,
  p: { partition: number; currentLeaderEpoch: number; leaderEpoch: number },
): OffsetForLeaderEpochEndOffset {
  const answer = { errorCode: 0, partition: p.partition, ...UNDEFINED_ANSWER };
  try {
    const partition = broker.find(topic, p.partition);
    if (partition === undefined)
      throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}/${p.partition} is not on this broker`);
    partition.requireLeaderEpoch(p.currentLeaderEpoch);
    partition.requireLeader();
    const found = epochEndOffset(
      {
        epochs: partition.leaderEpochs(),
        leaderEpoch: partition.leaderEpoch,
        logStartOffset: partition.logStartOffset,
        logEndOffset: partition.logEndOffset,
      },
      p.leaderEpoch,
    );
    return { ...answer, leaderEpoch: found.epoch, endOffset: found.endOffset };
  } catch (err) {
    if (!isWeirError(err)) throw err;
    return { ...answer, errorCode: err.id };
  }
}

export function offsetForLeaderEpochHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: OffsetForLeaderEpochApi,
    handle: (request) => ({
      ...OffsetForLeaderEpochApi.defaultResponse(),
      topics: request.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => endOffsetOf(broker, t.topic, p)),
      })),
    }),
  });
}
