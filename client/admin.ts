// Topic and consumer-group administration and cluster metadata. Each method is one RPC; the answers
// are copied into the SDK's own types so callers never see generated message types (whose shape
// follows the proto loader's options, not a promise of this API). The group calls live in
// group-admin.ts and go over the same Connection.
//
// Where calls go: topic administration and metadata to any broker (a broker that is not the
// controller forwards them), moving to another when one cannot be reached; offsets and record
// deletion to each partition's leader; group calls to the group's coordinator.

import { WeirError } from '../proto/errors.js';
import type { GroupRpc } from './group-rpc.js';
import { fromWireError } from '../proto/grpc.js';
import type { PartitionDescription__Output } from '../proto/generated/weir/v1/PartitionDescription.js';
import type { TopicDescription__Output } from '../proto/generated/weir/v1/TopicDescription.js';
import { Connection, type CallOptions, type ClientConnectionOptions } from './connection.js';
import { CoordinatorRouter } from './group-coordinator.js';
import * as groups from './group-admin.js';
import { listOffsetsTimestamp, resolveOffsets, type OffsetSpec } from './offsets.js';
import { groupByLeader, perLeader } from './partition-leaders.js';
import { checkTopic, checkTopicPartition, type TopicPartition } from './records.js';

export type AdminOptions = ClientConnectionOptions;

export interface CreateTopicOptions {
  partitions: number;
  /** Default: the broker's. */
  replicationFactor?: number;
  /** Kafka-style names: retention.ms, cleanup.policy, ... */
  configs?: Readonly<Record<string, string | number | boolean>>;
  /** Check everything, create nothing. */
  validateOnly?: boolean;
}

/** One follower of a partition, as its leader sees it. */
export interface FollowerLag {
  nodeId: number;
  /** The follower's log matches the leader's below this offset. */
  matchEnd: number;
  /** The leader's log end less `matchEnd`. */
  lagRecords: number;
  /** Milliseconds since the follower last held the leader's whole log. */
  lagMs: number;
  /** Caught up within the broker's replicaLagTimeMaxMs. */
  inSync: boolean;
}

export interface PartitionDescription {
  partition: number;
  leader: number;
  replicas: number[];
  /** In-sync replicas: all of them from the leader; from another broker only the leader. */
  isr: number[];
  /** Only from the partition's leader; empty from another broker. */
  followers: FollowerLag[];
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
  sizeBytes: number;
  segments: number;
  /** A move in flight: the brokers it adds, and those it removes once they caught up (else empty). */
  addingReplicas: number[];
  removingReplicas: number[];
}

export interface TopicDescription {
  name: string;
  partitions: PartitionDescription[];
  /** Every config key with the value in force. */
  configs: Record<string, string>;
  /** Only the keys set on this topic. */
  overrides: Record<string, string>;
  internal: boolean;
  replicationFactor: number;
}

export interface TopicSummary {
  name: string;
  partitions: number;
  internal: boolean;
}

export interface AlterConfigOptions {
  set?: Readonly<Record<string, string | number | boolean>>;
  /** Keys to put back to the broker default. */
  delete?: readonly string[];
}

export interface PartitionOffset {
  topic: string;
  partition: number;
  /** -1 when looking up by time and no record is at or after it. */
  offset: number;
  timestamp: number;
}

export interface DeleteRecordsTarget extends TopicPartition {
  /** The new log start offset; -1 means the high watermark (delete everything committed). */
  offset: number;
}

export interface DeletedRecords extends TopicPartition {
  /** The partition's log start offset now; -1 when `error` is set. */
  lowWatermark: number;
  /**
   * Why this partition's records were not deleted (OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION,
   * KAFKA_STORAGE_ERROR...), or null. Partitions succeed or fail one by one: the others of the
   * same call may have been deleted.
   */
  error: WeirError | null;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  grpcPort: number;
  httpPort: number;
}

export interface PartitionMetadata {
  partition: number;
  leader: number;
  replicas: number[];
  leaderEpoch: number;
  /** In-sync replicas as the answering broker knows them (all of them only if it leads). */
  isr: number[];
}

export interface TopicMetadata {
  name: string;
  internal: boolean;
  partitions: PartitionMetadata[];
  /** Set for a topic asked for by name that cannot be described (e.g. UNKNOWN_TOPIC_OR_PARTITION). */
  error: WeirError | null;
}

export interface ClusterMetadata {
  clusterId: string;
  controllerId: number;
  brokers: BrokerInfo[];
  topics: TopicMetadata[];
}

function stringMap(
  values: Readonly<Record<string, string | number | boolean>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (values === undefined) return out;
  if (values === null || typeof values !== 'object')
    throw new WeirError('INVALID_CONFIG', 'configs must be an object');
  for (const [k, v] of Object.entries(values)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new WeirError('INVALID_CONFIG', `config ${k} must be a string, number or boolean`);
    }
    out[k] = String(v);
  }
  return out;
}

function partitionOf(p: PartitionDescription__Output): PartitionDescription {
  return {
    partition: p.partition,
    leader: p.leader,
    replicas: [...p.replicas],
    isr: [...p.isr],
    followers: p.followers.map((f) => ({
      nodeId: f.nodeId,
      matchEnd: f.matchEnd,
      lagRecords: f.lagRecords,
      lagMs: f.lagMs,
      inSync: f.inSync,
    })),
    addingReplicas: [...p.addingReplicas],
    removingReplicas: [...p.removingReplicas],
    logStartOffset: p.logStartOffset,
    highWatermark: p.highWatermark,
    logEndOffset: p.logEndOffset,
    sizeBytes: p.sizeBytes,
    segments: p.segments,
  };
}

function topicOf(t: TopicDescription__Output): TopicDescription {
  return {
    name: t.name,
    partitions: t.partitions.map(partitionOf),
    configs: { ...t.configs },
    overrides: { ...t.overrides },
    internal: t.internal,
    replicationFactor: t.replicationFactor,
  };
}

function positiveInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0x7fffffff) {
    throw new WeirError('INVALID_PARTITIONS', `${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegativeInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new WeirError(
      'INVALID_REPLICA_ASSIGNMENT',
      `${name} must be an integer from 0, got ${String(value)}`,
    );
  }
  return value;
}

export class Admin {
  readonly connection: Connection;
  private readonly ownsConnection: boolean;
  private readonly coordinators: CoordinatorRouter;
  private closed = false;

  constructor(options: AdminOptions = {}) {
    const { connection, owned } = Connection.from(options);
    this.connection = connection;
    this.ownsConnection = owned;
    this.coordinators = new CoordinatorRouter(connection);
  }

  async createTopic(
    name: string,
    options: CreateTopicOptions,
    call?: CallOptions,
  ): Promise<TopicDescription> {
    checkTopic(name);
    if (options === null || typeof options !== 'object') {
      throw new WeirError('INVALID_PARTITIONS', 'createTopic needs { partitions }');
    }
    const replicationFactor = options.replicationFactor ?? 0;
    if (!Number.isInteger(replicationFactor) || replicationFactor < 0) {
      throw new WeirError('INVALID_REPLICATION_FACTOR', `replication factor ${String(replicationFactor)}`);
    }
    const response = await this.connection.createTopic(
      {
        name,
        partitions: positiveInt('partitions', options.partitions),
        replicationFactor,
        configs: stringMap(options.configs),
        validateOnly: options.validateOnly === true,
      },
      call,
    );
    return topicOf(response);
  }

  async deleteTopic(name: string, call?: CallOptions): Promise<void> {
    await this.connection.deleteTopic(checkTopic(name), call);
  }

  async listTopics(options: { includeInternal?: boolean } = {}, call?: CallOptions): Promise<TopicSummary[]> {
    const response = await this.connection.listTopics(options.includeInternal === true, call);
    return response.topics.map((t) => ({ name: t.name, partitions: t.partitions, internal: t.internal }));
  }

  async describeTopic(name: string, call?: CallOptions): Promise<TopicDescription> {
    return topicOf(await this.connection.describeTopic(checkTopic(name), call));
  }

  async alterTopicConfig(
    name: string,
    changes: AlterConfigOptions,
    call?: CallOptions,
  ): Promise<TopicDescription> {
    checkTopic(name);
    const remove = changes?.delete ?? [];
    if (!Array.isArray(remove) || remove.some((k) => typeof k !== 'string')) {
      throw new WeirError('INVALID_CONFIG', 'delete must be a list of config names');
    }
    const response = await this.connection.alterTopicConfig(
      { name, set: stringMap(changes?.set), delete: [...remove] },
      call,
    );
    return topicOf(response);
  }

  /** Raises the topic's partition count to `count` (the new total). */
  async createPartitions(name: string, count: number, call?: CallOptions): Promise<TopicDescription> {
    checkTopic(name);
    return topicOf(
      await this.connection.createPartitions({ name, count: positiveInt('count', count) }, call),
    );
  }

  /**
   * Moves partitions of a topic to other brokers of the cluster: `moves` maps each partition to
   * its target replicas (node ids, the preferred leader first). Resolves once the move is recorded;
   * the partition's leader then adds the new replicas, lets them catch up, and removes the old
   * ones. describeTopic shows `addingReplicas` and `removingReplicas` until it is done.
   */
  async reassignPartitions(
    name: string,
    moves: readonly { partition: number; replicas: readonly number[] }[],
    call?: CallOptions,
  ): Promise<TopicDescription> {
    checkTopic(name);
    if (!Array.isArray(moves) || moves.length === 0)
      throw new WeirError('INVALID_REQUEST', 'a reassignment names at least one partition');
    const partitions = moves.map((m) => {
      if (!Array.isArray(m.replicas) || m.replicas.length === 0)
        throw new WeirError('INVALID_REPLICA_ASSIGNMENT', `partition ${m.partition}: no replicas`);
      return {
        partition: nonNegativeInt('partition', m.partition),
        replicas: m.replicas.map((r: unknown) => nonNegativeInt('replica', r)),
      };
    });
    return topicOf(await this.connection.reassignPartitions({ name, partitions }, call));
  }

  /**
   * The earliest offset, the latest (the high watermark, where the next record will go), or the
   * first at or after a time, for each partition. Throws the first partition's error, if any.
   */
  async listOffsets(
    partitions: readonly TopicPartition[],
    spec: OffsetSpec,
    call?: CallOptions,
  ): Promise<PartitionOffset[]> {
    const timestamp = listOffsetsTimestamp(spec);
    const asked = partitions.map((tp) => ({ ...checkTopicPartition(tp), timestamp }));
    const groups = await groupByLeader(this.connection, asked, call);
    const results = await perLeader(groups, asked, call, (some, c) =>
      resolveOffsets(this.connection, some, c),
    );
    return results.map((r) => {
      if (r.error !== null) throw r.error;
      return { topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp };
    });
  }

  /**
   * Deletes the records of each partition below an offset (Kafka's DeleteRecords): the log start
   * offset rises to it, reads below it fail with OFFSET_OUT_OF_RANGE, and the segments wholly below
   * it are removed. `offset` -1 means the high watermark; one above it fails with
   * OFFSET_OUT_OF_RANGE. Answers every partition asked for, in order: its log start offset now
   * (its low watermark), or its `error`. Partitions succeed or fail one by one, so check each
   * result's `error`; the call itself throws only when no partition was tried (bad arguments, no
   * broker).
   */
  async deleteRecords(
    partitions: readonly DeleteRecordsTarget[],
    call?: CallOptions,
  ): Promise<DeletedRecords[]> {
    const asked = partitions.map((p) => {
      const { topic, partition } = checkTopicPartition(p);
      if (!Number.isSafeInteger(p.offset) || p.offset < -1)
        throw new WeirError('INVALID_REQUEST', `offset must be an integer >= -1, got ${String(p.offset)}`);
      return { topic, partition, offset: p.offset };
    });
    const groups = await groupByLeader(this.connection, asked, call);
    return await perLeader(groups, asked, call, async (some, c) => {
      const response = await this.connection.deleteRecords({ partitions: some }, c);
      return some.map(({ topic, partition }, i) => {
        let r = response.results[i];
        if (r === undefined || r.topic !== topic || r.partition !== partition) {
          r = response.results.find((x) => x.topic === topic && x.partition === partition);
        }
        if (r === undefined) {
          const error = new WeirError('UNKNOWN_SERVER_ERROR', `no answer for ${topic}-${partition}`);
          return { topic, partition, lowWatermark: -1, error };
        }
        const error = fromWireError(r.error);
        return { topic, partition, lowWatermark: error === null ? r.lowWatermark : -1, error };
      });
    });
  }

  /** Brokers, and the topics asked for (default: every topic) with their partitions' leaders. */
  async metadata(topics: readonly string[] = [], call?: CallOptions): Promise<ClusterMetadata> {
    const response = await this.connection.getMetadata(topics.map(checkTopic), call);
    return {
      clusterId: response.clusterId,
      controllerId: response.controllerId,
      brokers: response.brokers.map((b) => ({
        nodeId: b.nodeId,
        host: b.host,
        grpcPort: b.grpcPort,
        httpPort: b.httpPort,
      })),
      topics: response.topics.map((t) => ({
        name: t.name,
        internal: t.internal,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          leader: p.leader,
          replicas: [...p.replicas],
          leaderEpoch: p.leaderEpoch,
          isr: [...p.isr],
        })),
        error: fromWireError(t.error),
      })),
    };
  }

  // ---- consumer groups ----

  /** Every consumer group the broker coordinates, with its state and member count. */
  async listGroups(call?: CallOptions): Promise<groups.GroupSummary[]> {
    return await groups.listGroups(this.groups(), call);
  }

  /**
   * Members with their assignments, committed offsets with lag, and recent rebalances.
   * GROUP_ID_NOT_FOUND if the broker has no such group.
   */
  async describeGroup(groupId: string, call?: CallOptions): Promise<groups.GroupDescription> {
    return await groups.describeGroup(this.groups(), groupId, call);
  }

  /**
   * Deletes a group and its committed offsets: NON_EMPTY_GROUP while it has members,
   * GROUP_ID_NOT_FOUND if the broker has no such group.
   */
  async deleteGroup(groupId: string, call?: CallOptions): Promise<void> {
    return await groups.deleteGroup(this.groups(), groupId, call);
  }

  /**
   * Moves a group's committed offsets of one topic (a dry run unless `execute: true`). Only while
   * the group has no members (NON_EMPTY_GROUP otherwise).
   */
  async resetOffsets(
    groupId: string,
    options: groups.ResetOffsetsOptions,
    call?: CallOptions,
  ): Promise<groups.ResetOffsetsResult> {
    return await groups.resetOffsets(this.groups(), groupId, options, call);
  }

  /**
   * Deletes a group's committed offsets of some partitions (Kafka's OffsetDelete), e.g. of a topic
   * it no longer reads: GROUP_SUBSCRIBED_TO_TOPIC while a member subscribes to that topic,
   * GROUP_ID_NOT_FOUND if the broker has no such group.
   */
  async deleteOffsets(
    groupId: string,
    targets: readonly groups.DeleteOffsetsTarget[],
    call?: CallOptions,
  ): Promise<TopicPartition[]> {
    return await groups.deleteOffsets(this.groups(), groupId, targets, call);
  }

  /** The group's committed offsets of these partitions (default: all it has committed). */
  async fetchOffsets(
    groupId: string,
    partitions?: readonly TopicPartition[],
    call?: CallOptions,
  ): Promise<groups.CommittedOffset[]> {
    return await groups.fetchOffsets(this.groups(), groupId, partitions, call);
  }

  /**
   * Commits offsets (each the next offset to consume) from outside the group, which the broker
   * allows only while the group has no members (UNKNOWN_MEMBER_ID otherwise).
   */
  async commitOffsets(
    groupId: string,
    offsets: readonly groups.OffsetToCommit[],
    call?: CallOptions,
  ): Promise<void> {
    return await groups.commitOffsets(this.groups(), groupId, offsets, call);
  }

  /** The broker coordinating the group, and the group's partition of __consumer_offsets. */
  async findCoordinator(groupId: string, call?: CallOptions): Promise<groups.GroupCoordinator> {
    return await groups.findCoordinator(this.groups(), groupId, call);
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.ownsConnection) this.connection.close();
    return Promise.resolve();
  }

  private groups(): GroupRpc {
    if (this.closed) throw new WeirError('REQUEST_CANCELLED', 'the admin client is closed');
    return this.coordinators;
  }
}
