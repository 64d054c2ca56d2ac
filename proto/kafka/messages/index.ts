// Every Kafka API weir has message definitions for; the code generator reads this list.

import type { ApiDef } from '../schema.js';
import { ApiVersions } from './api-versions.js';
import { ConsumerGroupDescribe, ConsumerGroupHeartbeat } from './consumer-group.js';
import { Fetch } from './fetch.js';
import { FindCoordinator } from './find-coordinator.js';
import { Heartbeat, JoinGroup, LeaveGroup, SyncGroup } from './classic-group.js';
import { DeleteGroups, DescribeGroups, ListGroups } from './group-admin.js';
import { OffsetCommit, OffsetFetch } from './group-offsets.js';
import { InitProducerId } from './init-producer-id.js';
import { ListOffsets } from './list-offsets.js';
import { Metadata } from './metadata.js';
import { Produce } from './produce.js';
import { CreatePartitions, CreateTopics, DeleteTopics } from './topic-admin.js';
import { AlterConfigs, DescribeConfigs, IncrementalAlterConfigs } from './configs.js';
import { DescribeCluster } from './describe-cluster.js';
import { OffsetForLeaderEpoch } from './offset-for-leader-epoch.js';

export const KAFKA_APIS: readonly ApiDef[] = [
  Produce,
  Fetch,
  ListOffsets,
  Metadata,
  ApiVersions,
  CreateTopics,
  DeleteTopics,
  InitProducerId,
  CreatePartitions,
  DescribeConfigs,
  AlterConfigs,
  IncrementalAlterConfigs,
  DescribeCluster,
  OffsetForLeaderEpoch,
  FindCoordinator,
  OffsetCommit,
  OffsetFetch,
  JoinGroup,
  Heartbeat,
  LeaveGroup,
  SyncGroup,
  DescribeGroups,
  ListGroups,
  DeleteGroups,
  ConsumerGroupHeartbeat,
  ConsumerGroupDescribe,
];
