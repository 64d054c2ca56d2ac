// The broker as the group coordinator sees it: the few calls the coordinator makes on the rest of
// the broker (its __consumer_offsets partitions, the topics it checks commits against, the cluster
// view that says who coordinates a group, the clock). The coordinator depends on this, not on the
// Broker class, so the two do not import each other and a test or a simulation can stand in for
// the broker. Broker implements it.

import type { Clock } from '../../proto/clock.js';
import type { ReadOptions, ReadResult } from '../../storage/index.js';
import type { BrokerConfig } from '../config.js';
import type { Ids } from '../ids.js';
import type { BrokerInfo } from '../metadata-cache.js';

/** The settings the coordinator reads. */
export type GroupConfig = Pick<
  BrokerConfig,
  | 'nodeId'
  | 'offsetsTopicPartitions'
  | 'groupHeartbeatIntervalMs'
  | 'groupSessionTimeoutMs'
  | 'groupMinSessionTimeoutMs'
  | 'groupMaxSessionTimeoutMs'
  | 'groupRebalanceTimeoutMs'
  | 'groupMaxRebalanceHistory'
>;

/** A partition as the coordinator reads it: its offsets and its records. */
export interface GroupPartitionView {
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
  read(offset: number, maxBytes: number, options?: ReadOptions): ReadResult;
}

export interface GroupBroker {
  readonly config: GroupConfig;
  readonly clock: Clock;
  /** Member ids. */
  readonly ids: Ids;
  readonly isClosing: boolean;

  // ---- topics ----
  /** 0 when the topic does not exist. */
  partitionCount(topic: string): number;
  listTopics(includeInternal: boolean): readonly { name: string }[];
  /** Calls `listener` after a topic is created or deleted, or its partition count grows. */
  onTopicsChanged(listener: () => void): void;
  /** Creates `__consumer_offsets` on first use; nothing if it exists. */
  createInternalTopic(name: string, partitions: number, configs: Readonly<Record<string, string>>): void;

  // ---- partitions ----
  /** The partition (creating its topic when auto-create is on; the coordinator asks for existing ones). */
  partition(topic: string, partition: number): GroupPartitionView;
  /** Earliest (-2), latest (-1), or the first record at or after a timestamp. */
  listOffset(topic: string, partition: number, timestamp: number): { offset: number; timestamp: number };
  /** Appends the coordinator's own batch to an internal topic at once; see Partition.appendInternal. */
  appendInternal(
    topic: string,
    partition: number,
    batch: Buffer,
  ): { baseOffset: number; flushed: Promise<void> };

  // ---- cluster ----
  leaderOf(topic: string, partition: number): BrokerInfo;
}
