// The storage layer's public surface: what broker/ and tests import.

export { systemClock, ManualClock, type Clock, type TimerHandle } from './clock.js';
export { nodeFs, type StorageFs } from './fs.js';
export { FdCache, CachedFile } from './fd-cache.js';
export {
  DEFAULT_LOG_CONFIG,
  LOG_CONFIG_NAMES,
  LOG_CONFIG_NUMBERS,
  logConfigEntries,
  logConfigFrom,
  type CleanupPolicy,
  type LogConfig,
} from './log-config.js';
export {
  REPLICATION_OFFSET_CHECKPOINT,
  checkpointKey,
  readCheckpoint,
  readCheckpointLines,
  writeCheckpoint,
  writeCheckpointLines,
  writeFileAtomic,
} from './checkpoint.js';
export {
  LEADER_EPOCH_CHECKPOINT,
  LeaderEpochCache,
  UNDEFINED_EPOCH,
  UNDEFINED_EPOCH_OFFSET,
  type EpochEndOffset,
  type EpochEntry,
} from './leader-epoch-cache.js';
export {
  INITIAL_RAFT_STATE,
  NO_VOTE,
  RAFT_STATE_FILE,
  RAFT_STATE_VERSION,
  RaftStateFile,
  decodeRaftState,
  encodeRaftState,
  isRaftStateUuid,
  type DecodedRaftState,
  type RaftState,
  type RaftStateHost,
  type RaftStateRecord,
} from './raft-state.js';
export { escapedStorageError, ioErrorCode, toStorageError } from './storage-error.js';
export {
  PARTITION_METADATA_FILE,
  invalidTopicId,
  readPartitionTopicId,
  writePartitionTopicId,
} from './partition-metadata.js';
export { DELETE_DIR_SUFFIX, DELETE_RETRY_MS, ORPHANED_DIR_SUFFIX } from './log-removal.js';
export {
  invalidTopicName,
  assertTopicName,
  partitionDir,
  parsePartitionDirName,
  type TopicPartition,
} from './names.js';
export {
  PartitionLog,
  type AppendOptions,
  type AppendResult,
  type LogDeps,
  type ReadOptions,
  type ReadResult,
} from './partition-log.js';
export type { LogEvent } from './log-event.js';
export type { LogDamage, OpenOptions } from './log-loader.js';
export { applyRetention, expiredByTime, excessBySize, type RetentionOutcome } from './retention.js';
export { compactLog, dirtyRatio, type CompactionOutcome } from './compaction.js';
export {
  CLEAN_SHUTDOWN_MARKER,
  DEFAULT_LOG_MANAGER_CONFIG,
  DEFAULT_MAX_CACHED_FILES,
  LogManager,
  type LogManagerConfig,
  type LogManagerDeps,
  type LogManagerEvent,
  type LogStartRaise,
} from './log-manager.js';
