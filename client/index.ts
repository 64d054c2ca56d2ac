// The weir client SDK: Producer, Consumer, GroupConsumer and Admin over the weir.v1 gRPC API, with
// the error table every surface shares. Everything a user needs is exported from here; the other
// modules are internals whose shape may change.

export { Producer, type ProducerOptions } from './producer.js';
export { Consumer, type AutoOffsetReset, type ConsumerOptions } from './consumer.js';
export type { ConsumerBatch, SeekPosition } from './fetch-buffer.js';
export {
  GroupConsumer,
  type GroupAssignor,
  type GroupConsumerOptions,
  type RebalanceListener,
} from './group-consumer.js';
export {
  Admin,
  type AdminOptions,
  type AlterConfigOptions,
  type BrokerInfo,
  type ClusterMetadata,
  type CreateTopicOptions,
  type DeletedRecords,
  type DeleteRecordsTarget,
  type FollowerLag,
  type PartitionDescription,
  type PartitionMetadata,
  type PartitionOffset,
  type TopicDescription,
  type TopicMetadata,
  type TopicSummary,
} from './admin.js';
export type {
  CommittedOffset,
  DeleteOffsetsTarget,
  GroupCoordinator,
  GroupDescription,
  GroupMemberDescription,
  GroupOffsetDescription,
  GroupRebalance,
  GroupState,
  GroupSummary,
  OffsetResetPlan,
  OffsetToCommit,
  ResetOffsetsOptions,
  ResetOffsetsResult,
  ResetOffsetsTarget,
} from './group-admin.js';
export {
  Connection,
  DEFAULT_BOOTSTRAP,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type CallOptions,
  type ClientConnectionOptions,
  type ConnectionOptions,
} from './connection.js';
export type { OffsetSpec } from './offsets.js';
export type { Partitioner } from './partitioner.js';
export type { AcksOption } from './producer-config.js';
export type { Clock, Random, TimerHandle } from './clock.js';
export type { ProduceTransport } from './produce-transport.js';
export type {
  Bytes,
  ConsumerRecord,
  Message,
  ProducerHeader,
  ProducerHeaders,
  ProducerRecord,
  RecordHeader,
  RecordMetadata,
  TopicMessages,
  TopicPartition,
} from './records.js';
export { ERRORS, WeirError, isWeirError, type ErrorCode, type ErrorSpec } from '../proto/errors.js';
export { partitionForKey } from '../proto/partitioner.js';
export type { Compression } from '../proto/record-batch.js';
