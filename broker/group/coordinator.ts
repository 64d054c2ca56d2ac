// The group coordinator: membership (consumer-group.ts) for every group this broker coordinates,
// and committed offsets kept as records in the internal compacted topic __consumer_offsets.
//
// A group's coordinator is the leader of partition abs(javaHashCode(groupId)) % N of that topic,
// Kafka's rule, so a group maps to the same partition number as it would on Kafka. With one broker
// that is always this broker, but every group call goes through the same lookup so a cluster can
// move it; a broker asked about a group it does not coordinate answers NOT_COORDINATOR.
//
// A commit is written to the log first and enters the in-memory view once the append is done
// (flushed as the topic's policy asks; with peers, held by a majority), never before; when
// this broker becomes the leader of a partition of the topic (on one broker: every partition, at
// start-up or when the topic is created) the view is rebuilt by replaying that partition, so
// commits survive restarts and kill -9 (under the topic's flush policy). Membership is not persisted: after a restart, members rejoin
// (their heartbeats get UNKNOWN_MEMBER_ID) and resume from the committed offsets.

import assert from 'node:assert/strict';
import { WeirError } from '../../proto/errors.js';

export type { OffsetReset, ResetTarget } from './offset-reset.js';
import { encodeBatch, type RecordInput } from '../../proto/record-batch.js';
import type { TimerHandle } from '../../proto/clock.js';
import type { BrokerInfo } from '../metadata-cache.js';
import type { GroupBroker } from './group-broker.js';
import type { TopicPartition } from './assignors.js';
import { resetOffset, type OffsetReset, type ResetTarget } from './offset-reset.js';
import { CommittedOffsets, type Committed } from './committed-offsets.js';
import type {
  ClassicGroup,
  JoinAnswer,
  JoinRequest,
  MemberRef,
  SyncAnswer,
  SyncRequest,
} from './classic-group.js';
import { ClassicGroups } from './classic-groups.js';
import { CONSUMER_PROTOCOL_TYPE, assignedPartitions, subscribedTopics } from './consumer-protocol.js';
import { compareTopicPartitions, partitionKey, splitPartitionKey } from './partition-key.js';
import {
  ConsumerGroup,
  type GroupContext,
  type GroupLimits,
  type GroupState,
  type HeartbeatRequest,
  type HeartbeatResult,
  type MemberDescription,
  type RebalanceRecord,
  type TopicView,
} from './consumer-group.js';
import {
  MAX_GROUP_ID_BYTES,
  MAX_METADATA_BYTES,
  encodeOffsetKey,
  encodeOffsetValue,
  type OffsetKey,
  type OffsetValue,
} from './offset-record.js';

export const OFFSETS_TOPIC = '__consumer_offsets';
/** Kafka's settings for its offsets topic: compacted, 100 MiB segments. */
export const OFFSETS_TOPIC_CONFIGS = {
  'cleanup.policy': 'compact',
  'segment.bytes': String(100 * 1024 * 1024),
};
const LOAD_CHUNK_BYTES = 4 * 1024 * 1024;

interface OffsetEntry {
  readonly key: OffsetKey;
  /** null: a tombstone. */
  readonly value: OffsetValue | null;
}

export interface CommitRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
}

export interface PartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly error: WeirError | null;
}

export interface FetchedOffset extends PartitionResult {
  /** -1 when nothing is committed. */
  readonly offset: number;
  readonly metadata: string;
  readonly commitTimestamp: number;
}

/** Which protocol a group's members speak: classic (JoinGroup/SyncGroup) or consumer (KIP-848). */
export type GroupType = 'classic' | 'consumer';

export interface GroupSummary {
  readonly groupId: string;
  readonly state: GroupState | ClassicGroup['state'];
  readonly members: number;
  readonly generation: number;
}

export interface GroupOffset {
  readonly topic: string;
  readonly partition: number;
  /** -1 when nothing is committed. */
  readonly committed: number;
  /** -1 when the topic is gone. */
  readonly highWatermark: number;
  /** highWatermark - committed (never below 0); -1 when either is unknown (null over HTTP and in the SDK). */
  readonly lag: number;
  readonly metadata: string;
}

export interface GroupDescription extends GroupSummary {
  readonly assignor: string;
  readonly memberList: MemberDescription[];
  readonly offsets: GroupOffset[];
  readonly rebalances: readonly RebalanceRecord[];
}

/** Java's String.hashCode over UTF-16 code units, then Kafka's Utils.abs. */
export function groupHash(groupId: string): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(31, h) + groupId.charCodeAt(i)) | 0;
  return h === -2147483648 ? 0 : Math.abs(h);
}

/**
 * The group's partition could not take the append because its leadership is going (handed over,
 * or lost): to a member that is NOT_COORDINATOR, as in Kafka, so it looks the coordinator up
 * again rather than retrying here.
 */
function asNotCoordinator(err: unknown, partition: number): unknown {
  if (!(err instanceof WeirError) || err.code !== 'NOT_LEADER_OR_FOLLOWER') return err;
  return new WeirError('NOT_COORDINATOR', `${OFFSETS_TOPIC}/${partition}: ${err.message}`, { cause: err });
}

export function invalidGroupId(groupId: string): string | null {
  if (typeof groupId !== 'string' || groupId.length === 0) return 'a group id must not be empty';
  if (Buffer.byteLength(groupId, 'utf8') > MAX_GROUP_ID_BYTES)
    return `a group id is at most ${MAX_GROUP_ID_BYTES} bytes`;
  return null;
}

export class GroupCoordinator {
  private readonly broker: GroupBroker;
  private readonly limits: GroupLimits;
  private readonly offsets = new CommittedOffsets();
  private readonly groups = new Map<string, ConsumerGroup>();
  /** Groups of the classic protocol; a group id is in this or in `groups`, never both. */
  private readonly classic: ClassicGroups;
  private readonly topics: TopicView;
  private sweepTimer: TimerHandle | null = null;
  private readonly sweepIntervalMs: number;
  private closed = false;
  private started = false;
  /** The partitions of __consumer_offsets this broker leads, whose commits are in the view. */
  private readonly led = new Set<number>();
  private readonly log: (message: string) => void;

  constructor(broker: GroupBroker, log: (message: string) => void = () => {}) {
    this.broker = broker;
    this.log = log;
    this.classic = new ClassicGroups(log);
    const c = broker.config;
    this.limits = {
      heartbeatIntervalMs: c.groupHeartbeatIntervalMs,
      sessionTimeoutMs: c.groupSessionTimeoutMs,
      minSessionTimeoutMs: c.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: c.groupMaxSessionTimeoutMs,
      rebalanceTimeoutMs: c.groupRebalanceTimeoutMs,
      maxHistory: c.groupMaxRebalanceHistory,
    };
    // Deadlines are checked a few times per heartbeat interval, never more often than every 10 ms.
    this.sweepIntervalMs = Math.max(10, Math.min(1000, Math.floor(c.groupHeartbeatIntervalMs / 2)));
    this.topics = {
      partitionCount: (topic) => broker.partitionCount(topic),
      topicNames: () => broker.listTopics(false).map((t) => t.name),
    };
    broker.onTopicsChanged(() => this.onTopicsChanged());
  }

  /** Starts checking session deadlines (the partitions already led were loaded when they became so). */
  start(): void {
    this.started = true;
    this.scheduleSweep();
  }

  /**
   * This broker became the leader of `partitions` of __consumer_offsets: their commits are replayed
   * into the view before any group call routed to them is served.
   */
  onBecomeLeader(partitions: readonly number[]): void {
    let loaded = 0;
    for (const p of partitions) {
      assert(!this.led.has(p), `${OFFSETS_TOPIC}/${p} became leader twice`);
      loaded += this.load(p);
      this.led.add(p);
    }
    // At start-up the line confirms the replay even when there was nothing to read; a partition
    // led later is worth a line only when it had commits.
    if (!this.started || loaded > 0)
      this.log(`loaded committed offsets of ${this.offsets.groupIds().length} groups from ${loaded} reads`);
  }

  /**
   * This broker no longer leads `partitions` of __consumer_offsets (on one broker: at shutdown).
   * Their groups are no longer routed here, and what is known of them is dropped: another broker
   * coordinates them now, and if this one leads the partition again it replays the log afresh (its
   * members rejoin, as members of a coordinator that moved do).
   */
  onResign(partitions: readonly number[]): void {
    for (const p of partitions) this.led.delete(p);
    const count = this.broker.partitionCount(OFFSETS_TOPIC);
    if (count === 0) return;
    const gone = new Set(partitions);
    const movedAway = (groupId: string): boolean => gone.has(groupHash(groupId) % count);
    this.offsets.forget(movedAway);
    for (const groupId of [...this.groups.keys()]) if (movedAway(groupId)) this.groups.delete(groupId);
    this.classic.drop(movedAway, new WeirError('NOT_COORDINATOR', 'the group coordinator moved'));
  }

  close(): void {
    this.closed = true;
    this.classic.drop(() => true, new WeirError('NOT_COORDINATOR', 'the broker is shutting down'));
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
  }

  // ---- routing ----

  /** The coordinator of a group and the group's partition of __consumer_offsets. */
  findCoordinator(groupId: string): { coordinator: BrokerInfo; partition: number } {
    const partition = this.partitionFor(groupId);
    try {
      return { coordinator: this.broker.leaderOf(OFFSETS_TOPIC, partition), partition };
    } catch (err) {
      // With peers, while the group's partition elects a leader.
      if (err instanceof WeirError && err.code === 'LEADER_NOT_AVAILABLE')
        throw new WeirError('COORDINATOR_NOT_AVAILABLE', `group '${groupId}': ${err.message}`, {
          cause: err,
        });
      throw err;
    }
  }

  /**
   * For calls that only read: null when __consumer_offsets does not exist yet (so no group has
   * anything), without creating it; otherwise as route().
   */
  private routeRead(groupId: string): number | null {
    const reason = invalidGroupId(groupId);
    if (reason !== null) throw new WeirError('INVALID_GROUP_ID', reason);
    return this.broker.partitionCount(OFFSETS_TOPIC) === 0 ? null : this.route(groupId);
  }

  /** The group's partition, after checking that this broker coordinates the group. */
  private route(groupId: string): number {
    const { coordinator, partition } = this.findCoordinator(groupId);
    if (coordinator.nodeId !== this.broker.config.nodeId)
      throw new WeirError(
        'NOT_COORDINATOR',
        `group '${groupId}' is coordinated by broker ${coordinator.nodeId} at ${coordinator.host}:${coordinator.grpcPort}`,
      );
    if (!this.led.has(partition))
      throw new WeirError('NOT_COORDINATOR', `${OFFSETS_TOPIC}/${partition} is not led by this broker now`);
    return partition;
  }

  private partitionFor(groupId: string): number {
    const reason = invalidGroupId(groupId);
    if (reason !== null) throw new WeirError('INVALID_GROUP_ID', reason);
    // Created on first use, as Kafka does; its partition count is fixed from then on.
    this.broker.createInternalTopic(
      OFFSETS_TOPIC,
      this.broker.config.offsetsTopicPartitions,
      OFFSETS_TOPIC_CONFIGS,
    );
    return groupHash(groupId) % this.broker.partitionCount(OFFSETS_TOPIC);
  }

  // ---- membership ----

  heartbeat(groupId: string, req: HeartbeatRequest): HeartbeatResult {
    this.route(groupId);
    // A group is of one protocol at a time, as in Kafka (without its migration between the two).
    const classic = this.classic.get(groupId);
    if (classic !== undefined) {
      if (classic.size > 0)
        throw new WeirError(
          'GROUP_ID_NOT_FOUND',
          `group '${groupId}' is a classic group (JoinGroup/SyncGroup), not a consumer group`,
        );
      this.classic.delete(groupId);
    }
    let group = this.groups.get(groupId);
    if (group === undefined) {
      if (req.memberEpoch !== 0)
        throw new WeirError('UNKNOWN_MEMBER_ID', `group '${groupId}' has no member '${req.memberId}'`);
      group = new ConsumerGroup(groupId);
      this.groups.set(groupId, group);
    }
    return group.heartbeat(req, this.context());
  }

  /**
   * A consumer-protocol member as it is now, so a Kafka heartbeat that leaves its subscription or
   * owned partitions out ("unchanged") can be completed; undefined if the group has no such member.
   */
  consumerMember(groupId: string, memberId: string): MemberDescription | undefined {
    return this.groups
      .get(groupId)
      ?.describeMembers()
      .find((m) => m.memberId === memberId);
  }

  // ---- the classic protocol ----

  /** JoinGroup: answered when the group's join barrier completes (see classic-group.ts). */
  joinGroup(groupId: string, req: JoinRequest): Promise<JoinAnswer> {
    this.route(groupId);
    const consumer = this.groups.get(groupId);
    if (consumer !== undefined) {
      if (consumer.size > 0)
        throw new WeirError(
          'INCONSISTENT_GROUP_PROTOCOL',
          `group '${groupId}' is a consumer group (KIP-848); its members use the consumer protocol`,
        );
      this.groups.delete(groupId);
    }
    return this.classic.join(groupId, req, this.context());
  }

  /** SyncGroup: the leader's answer hands out the assignment; a follower's waits for it. */
  syncGroup(groupId: string, req: SyncRequest): Promise<SyncAnswer> {
    this.route(groupId);
    return this.classic.sync(groupId, req, this.context());
  }

  classicHeartbeat(groupId: string, req: MemberRef & { generation: number }): void {
    this.route(groupId);
    this.classic.heartbeat(groupId, req, this.context());
  }

  leaveGroup(groupId: string, who: readonly MemberRef[]): (WeirError | null)[] {
    this.route(groupId);
    return this.classic.leave(groupId, who, this.context());
  }

  /** The classic group, 'consumer' when the group speaks the consumer protocol, or undefined. */
  classicGroup(groupId: string): ClassicGroup | 'consumer' | undefined {
    this.routeRead(groupId);
    if (this.groups.has(groupId)) return 'consumer';
    return this.classic.get(groupId);
  }

  /** Which protocol the group speaks (a group known only by its offsets counts as classic, as in Kafka). */
  groupType(groupId: string): GroupType {
    return this.groups.has(groupId) ? 'consumer' : 'classic';
  }

  private context(): GroupContext {
    return {
      now: this.broker.clock.now(),
      topics: this.topics,
      limits: this.limits,
      newMemberId: (clientId) => `${clientId === '' ? 'member' : clientId}-${this.broker.ids.uuid()}`,
    };
  }

  private scheduleSweep(): void {
    if (this.closed) return;
    this.sweepTimer = this.broker.clock.schedule(this.sweepIntervalMs, () => {
      this.sweep();
      this.scheduleSweep();
    });
  }

  /** Evicts members whose session or revocation deadline passed. */
  sweep(): void {
    const ctx = this.context();
    this.classic.tick(ctx);
    for (const group of this.groups.values()) {
      if (group.nextDeadline() > ctx.now) continue;
      for (const memberId of group.expire(ctx))
        this.log(`group '${group.groupId}': evicted member ${memberId}, generation ${group.generation}`);
    }
  }

  private onTopicsChanged(): void {
    const ctx = this.context();
    for (const group of this.groups.values()) group.topicsChanged(ctx);
    this.forgetDeletedTopics().catch((err: unknown) =>
      this.log(`could not forget the offsets of deleted topics: ${(err as Error).message}`),
    );
  }

  /** Commits of a deleted topic are tombstoned, as Kafka does, so its lag does not linger. */
  private async forgetDeletedTopics(): Promise<void> {
    const count = this.broker.partitionCount(OFFSETS_TOPIC);
    if (count === 0 || this.broker.isClosing) return;
    for (const groupId of this.offsets.groupIds()) {
      const gone = [...this.offsets.of(groupId).keys()]
        .map(splitPartitionKey)
        .filter((tp) => this.broker.partitionCount(tp.topic) === 0);
      if (gone.length > 0)
        await this.append(
          groupHash(groupId) % count,
          gone.map((tp) => ({ key: { group: groupId, ...tp }, value: null })),
        );
    }
  }

  // ---- offsets ----

  async commit(
    groupId: string,
    memberId: string,
    generation: number,
    requests: readonly CommitRequest[],
    instanceId: string | null = null,
  ): Promise<PartitionResult[]> {
    const partition = this.route(groupId);
    const group = this.groups.get(groupId);
    const classic = this.classic.get(groupId);
    let refused = new Set<string>();
    if (classic !== undefined) classic.checkCommit({ memberId, instanceId }, generation);
    else if (group !== undefined) refused = group.checkCommit(memberId, generation, requests);
    else if (memberId !== '' || generation !== -1)
      throw new WeirError('UNKNOWN_MEMBER_ID', `group '${groupId}' has no member '${memberId}'`);
    const now = this.broker.clock.now();
    const results: PartitionResult[] = [];
    const entries: OffsetEntry[] = [];
    for (const req of requests) {
      const error = this.invalidCommit(req, refused);
      results.push({ topic: req.topic, partition: req.partition, error });
      if (error !== null) continue;
      entries.push({
        key: { group: groupId, topic: req.topic, partition: req.partition },
        value: { offset: req.offset, commitTimestamp: now, metadata: req.metadata },
      });
    }
    if (entries.length > 0) await this.append(partition, entries);
    return results;
  }

  private invalidCommit(req: CommitRequest, refused: ReadonlySet<string>): WeirError | null {
    const count = this.broker.partitionCount(req.topic);
    if (count === 0 || !Number.isInteger(req.partition) || req.partition < 0 || req.partition >= count)
      return new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `${req.topic}/${req.partition}`);
    if (!Number.isSafeInteger(req.offset) || req.offset < 0)
      return new WeirError('INVALID_REQUEST', `offset ${req.offset} for ${req.topic}/${req.partition}`);
    if (Buffer.byteLength(req.metadata, 'utf8') > MAX_METADATA_BYTES)
      return new WeirError('OFFSET_METADATA_TOO_LARGE', `at most ${MAX_METADATA_BYTES} bytes`);
    if (refused.has(partitionKey(req.topic, req.partition)))
      return new WeirError('NOT_PARTITION_OWNER', `${req.topic}/${req.partition}`);
    return null;
  }

  /**
   * Appends commits (or tombstones) to the group's partition in the same synchronous step as the
   * caller's checks, so a commit that passed the ownership check is in the log before any other
   * request (an eviction, another commit) can run. The view takes the records only once the append
   * is done (flushed under the topic's policy; with peers, held by a majority), before the caller
   * answers: an OffsetFetch or a describe never shows a commit that a new leader of the partition
   * may not have, so the committed offsets seen never go back when the coordinator moves (Kafka's
   * coordinator likewise keeps a pending commit out of its committed view). An append that fails
   * (the leadership went, or REQUEST_TIMED_OUT) leaves the view as it was; if the record still
   * commits, the next leader's replay, or the next commit of the partition, brings the view level.
   */
  private append(partition: number, entries: readonly OffsetEntry[]): Promise<void> {
    const now = this.broker.clock.now();
    const records: RecordInput[] = entries.map(({ key, value }) => ({
      key: encodeOffsetKey(key),
      value: value === null ? null : encodeOffsetValue(value),
      timestamp: now,
    }));
    let appended: { baseOffset: number; flushed: Promise<void> };
    try {
      appended = this.broker.appendInternal(OFFSETS_TOPIC, partition, encodeBatch(records));
    } catch (err) {
      return Promise.reject(asNotCoordinator(err, partition));
    }
    const { baseOffset, flushed } = appended;
    return flushed.then(
      () => {
        // Deposed meanwhile: the view of the partition was dropped, and stays so.
        if (!this.led.has(partition)) return;
        entries.forEach(({ key, value }, i) => this.offsets.apply(key, value, baseOffset + i));
      },
      (err: unknown) => {
        throw asNotCoordinator(err, partition);
      },
    );
  }

  fetchOffsets(groupId: string, partitions: readonly TopicPartition[]): FetchedOffset[] {
    this.routeRead(groupId);
    const wanted =
      partitions.length > 0 ? partitions : [...this.offsets.of(groupId).keys()].map(splitPartitionKey);
    return wanted.map(({ topic, partition }) => {
      const c = this.offsets.get(groupId, topic, partition);
      return {
        topic,
        partition,
        offset: c?.offset ?? -1,
        metadata: c?.metadata ?? '',
        commitTimestamp: c?.commitTimestamp ?? -1,
        error: null,
      };
    });
  }

  // ---- administration ----

  /** Whether the group has committed offsets here (a group known by them alone is Empty). */
  hasCommitted(groupId: string): boolean {
    return this.offsets.has(groupId);
  }

  listGroups(): GroupSummary[] {
    const ids = new Set([...this.groups.keys(), ...this.classic.ids(), ...this.offsets.groupIds()]);
    return [...ids].sort().map((id) => this.summary(id));
  }

  /**
   * listGroups with each group's protocol, as Kafka's ListGroups names it: its type, and its
   * protocol type ('consumer' for a KIP-848 group; a classic group's members' own, '' if none).
   */
  listGroupTypes(): (GroupSummary & { readonly type: GroupType; readonly protocolType: string })[] {
    return this.listGroups().map((g) => {
      const type = this.groupType(g.groupId);
      const protocolType =
        type === 'consumer' ? 'consumer' : (this.classic.get(g.groupId)?.protocolType ?? '');
      return { ...g, type, protocolType };
    });
  }

  private summary(groupId: string): GroupSummary {
    const group = this.groups.get(groupId) ?? this.classic.get(groupId);
    return {
      groupId,
      state: group?.state ?? 'Empty',
      members: group?.size ?? 0,
      generation: group?.generation ?? 0,
    };
  }

  describeGroup(groupId: string): GroupDescription {
    this.routeRead(groupId);
    const classic = this.classic.get(groupId);
    if (classic !== undefined) return this.describeClassic(classic);
    const group = this.requireGroup(groupId);
    const committed = this.offsets.of(groupId);
    const keys = new Set([...committed.keys(), ...(group?.ownedPartitions().keys() ?? [])]);
    const offsets = [...keys]
      .map(splitPartitionKey)
      .sort(compareTopicPartitions)
      .map(({ topic, partition }) =>
        this.offsetOf(topic, partition, committed.get(partitionKey(topic, partition))),
      );
    return {
      ...this.summary(groupId),
      assignor: group?.assignorName ?? '',
      memberList: group?.describeMembers() ?? [],
      offsets,
      rebalances: group?.rebalances() ?? [],
    };
  }

  /**
   * A classic group in the same shape as a consumer group: members' subscriptions and assignments
   * read from Kafka's consumer protocol bytes (when the protocol type is "consumer"), the member
   * epoch is the generation, the assignor the protocol the group chose.
   */
  private describeClassic(group: ClassicGroup): GroupDescription {
    const consumer = group.protocolType === CONSUMER_PROTOCOL_TYPE;
    const members = group.describeMembers().map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId ?? '',
      clientId: m.clientId,
      host: m.host,
      memberEpoch: group.generation,
      assignment: consumer ? (assignedPartitions(m.assignment) ?? []) : [],
      pendingRevocation: [],
      subscribedTopics: consumer ? (subscribedTopics(m.metadata) ?? []) : [],
      subscribedPattern: '',
    }));
    const committed = this.offsets.of(group.groupId);
    const keys = new Set(committed.keys());
    for (const m of members) for (const tp of m.assignment) keys.add(partitionKey(tp.topic, tp.partition));
    const offsets = [...keys]
      .map(splitPartitionKey)
      .sort(compareTopicPartitions)
      .map(({ topic, partition }) =>
        this.offsetOf(topic, partition, committed.get(partitionKey(topic, partition))),
      );
    return {
      ...this.summary(group.groupId),
      assignor: group.protocolName ?? '',
      memberList: members,
      offsets,
      rebalances: group.rebalances(),
    };
  }

  /** Lag of every committed partition of every group, for the metrics scrape. */
  allOffsets(): { groupId: string; offsets: GroupOffset[] }[] {
    return this.offsets.groupIds().map((groupId) => ({
      groupId,
      offsets: [...this.offsets.of(groupId)].map(([key, c]) => {
        const { topic, partition } = splitPartitionKey(key);
        return this.offsetOf(topic, partition, c);
      }),
    }));
  }

  private offsetOf(topic: string, partition: number, c: Committed | undefined): GroupOffset {
    const highWatermark =
      partition < this.broker.partitionCount(topic)
        ? this.broker.partition(topic, partition).highWatermark
        : -1;
    const committed = c?.offset ?? -1;
    const lag = committed < 0 || highWatermark < 0 ? -1 : Math.max(0, highWatermark - committed);
    return { topic, partition, committed, highWatermark, lag, metadata: c?.metadata ?? '' };
  }

  private requireGroup(groupId: string): ConsumerGroup | undefined {
    const group = this.groups.get(groupId);
    if (group === undefined && !this.offsets.has(groupId))
      throw new WeirError('GROUP_ID_NOT_FOUND', `group '${groupId}' does not exist`);
    return group;
  }

  async deleteGroup(groupId: string): Promise<void> {
    this.routeRead(groupId);
    const classic = this.classic.get(groupId);
    const group = classic ?? this.requireGroup(groupId);
    const partition = this.route(groupId);
    if (group !== undefined && group.size > 0)
      throw new WeirError('NON_EMPTY_GROUP', `group '${groupId}' has ${group.size} members`);
    if (classic !== undefined) this.classic.delete(groupId);
    const tombstones: OffsetEntry[] = [...this.offsets.of(groupId).keys()].map((key) => ({
      key: { group: groupId, ...splitPartitionKey(key) },
      value: null,
    }));
    if (tombstones.length > 0) await this.append(partition, tombstones);
    if (this.groups.get(groupId)?.size === 0) this.groups.delete(groupId);
  }

  /**
   * Deletes the group's committed offsets of these partitions (Kafka's OffsetDelete); a topic with
   * no partitions listed stands for every partition the group committed. A partition whose topic a
   * member subscribes to is refused with GROUP_SUBSCRIBED_TO_TOPIC; one with nothing committed
   * succeeds without change. A topic that does not exist is refused with
   * UNKNOWN_TOPIC_OR_PARTITION (as Kafka's), before anything is deleted.
   */
  async deleteOffsets(
    groupId: string,
    asked: readonly { topic: string; partitions: readonly number[] }[],
  ): Promise<PartitionResult[]> {
    this.routeRead(groupId);
    const classic = this.classic.get(groupId);
    const group = classic ?? this.requireGroup(groupId);
    const partition = this.route(groupId);
    for (const { topic } of asked)
      if (this.broker.partitionCount(topic) === 0)
        throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist`);
    const committed = [...this.offsets.of(groupId).keys()].map(splitPartitionKey);
    const results: PartitionResult[] = [];
    const tombstones: OffsetEntry[] = [];
    for (const { topic, partitions } of asked) {
      const chosen =
        partitions.length > 0
          ? partitions
          : committed.filter((tp) => tp.topic === topic).map((tp) => tp.partition);
      for (const p of chosen) {
        let error: WeirError | null = null;
        if (group !== undefined && this.subscribes(group, topic))
          error = new WeirError(
            'GROUP_SUBSCRIBED_TO_TOPIC',
            `group '${groupId}' has a member subscribed to '${topic}'; stop it (or change its subscription) first`,
          );
        else if (!Number.isInteger(p) || p < 0 || p >= this.broker.partitionCount(topic))
          error = new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}/${p}`);
        else if (this.offsets.get(groupId, topic, p) !== undefined)
          tombstones.push({ key: { group: groupId, topic, partition: p }, value: null });
        results.push({ topic, partition: p, error });
      }
    }
    if (tombstones.length > 0) await this.append(partition, tombstones);
    return results;
  }

  /** Whether a member subscribes to `topic` (a classic member: as its consumer protocol bytes say). */
  private subscribes(group: ConsumerGroup | ClassicGroup, topic: string): boolean {
    if (group instanceof ConsumerGroup) return group.isSubscribedTo(topic);
    if (group.protocolType !== CONSUMER_PROTOCOL_TYPE) return false;
    return group.describeMembers().some((m) => subscribedTopics(m.metadata)?.includes(topic) === true);
  }

  /**
   * Plans (and with `execute`, commits) new offsets for a group with no members, as Kafka's
   * kafka-consumer-groups --reset-offsets: every target is clamped to the log's current range.
   */
  async resetOffsets(
    groupId: string,
    topic: string,
    partitions: readonly number[],
    to: ResetTarget,
    execute: boolean,
  ): Promise<OffsetReset[]> {
    if (to.kind === 'timestamp' && (!Number.isSafeInteger(to.timestamp) || to.timestamp < 0))
      throw new WeirError('INVALID_TIMESTAMP', `timestamp ${to.timestamp}`);
    const groupPartition = this.route(groupId);
    const group = this.groups.get(groupId) ?? this.classic.get(groupId);
    if (group !== undefined && group.size > 0)
      throw new WeirError(
        'NON_EMPTY_GROUP',
        `group '${groupId}' has ${group.size} members; stop them before resetting its offsets`,
      );
    const count = this.broker.partitionCount(topic);
    if (count === 0) throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist`);
    const chosen =
      partitions.length > 0 ? [...new Set(partitions)].sort((a, b) => a - b) : [...Array(count).keys()];
    for (const p of chosen) {
      if (!Number.isInteger(p) || p < 0 || p >= count)
        throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' has no partition ${p}`);
    }
    const plan = chosen.map((partition) => {
      const previous = this.offsets.get(groupId, topic, partition)?.offset ?? -1;
      return { topic, partition, previous, offset: this.resetOffset(topic, partition, previous, to) };
    });
    if (execute && plan.length > 0) {
      const now = this.broker.clock.now();
      await this.append(
        groupPartition,
        plan.map((r) => ({
          key: { group: groupId, topic, partition: r.partition },
          value: { offset: r.offset, commitTimestamp: now, metadata: '' },
        })),
      );
    }
    return plan;
  }

  private resetOffset(topic: string, partition: number, previous: number, to: ResetTarget): number {
    const p = this.broker.partition(topic, partition);
    return resetOffset(
      {
        earliest: p.logStartOffset,
        latest: p.highWatermark,
        atTime: (timestamp) => this.broker.listOffset(topic, partition, timestamp).offset,
      },
      previous,
      to,
    );
  }

  // ---- leadership ----

  /** Replays one partition's committed records into the view; returns how many reads it took. */
  private load(p: number): number {
    let reads = 0;
    const partition = this.broker.partition(OFFSETS_TOPIC, p);
    let offset = partition.logStartOffset;
    // To the log end, not the high watermark: a new leader's high watermark may still lag what it
    // holds, and everything a leader holds commits with its term's first entry (or it resigns, and
    // the view of the partition is dropped).
    const end = partition.logEndOffset;
    while (offset < end) {
      const read = partition.read(offset, LOAD_CHUNK_BYTES, { maxOffset: end });
      if (read.records.length === 0) break;
      const { skipped, lastReason } = this.offsets.replay(read.records);
      if (skipped > 0)
        this.log(`${OFFSETS_TOPIC}/${p}: skipped ${skipped} undecodable records (${lastReason})`);
      offset = read.lastOffset + 1;
      reads++;
    }
    return reads;
  }
}
