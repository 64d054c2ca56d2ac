// The replicas this broker holds, and the requests served from them: produce, fetch and list
// offsets over the local partitions, with one queue for the requests that wait on them (see
// waiting-requests.ts). Topic administration adds and removes partitions here; whoever serves a
// partition's data as its leader (the group coordinator for __consumer_offsets) hears of it
// through the leadership listeners. On one broker every partition is led here from the moment it
// is added until the broker stops.

import assert from 'node:assert/strict';
import type { Clock } from '../../proto/clock.js';
import { WeirError } from '../../proto/errors.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { LeaderEpochCache, type PartitionLog, type StorageFs } from '../../storage/index.js';
import type { BrokerConfig } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import { Partition, type Acks, type LogStats, type ProduceOutcome } from '../partition.js';
import { INTERNAL_PREFIX } from '../topic-registry.js';
import { fetchMaxBytes, partitionFetchMaxBytes } from './fetch-limits.js';
import {
  groupByPartition,
  sequencedBatch,
  type ProducedRecord,
  type ProducerFields,
} from './produced-records.js';
import { PartitionReplica, type ReplicaEvents, type ReplicaStart } from './partition-replica.js';
import type { Membership, MembershipChange } from '../raft/membership.js';
import { RaftGroups, type Envelope, type RaftTransport } from './raft-groups.js';
import type { RaftTotals } from './raft-totals.js';
import { replicaSync, type FollowerLag, type ReplicaSync } from './replica-sync.js';
import { WaitingRequests } from './waiting-requests.js';

export const EARLIEST = -2;
export const LATEST = -1;

export interface PartitionStats extends LogStats {
  readonly partition: number;
  readonly leader: number;
  readonly replicas: number[];
  /** In-sync replicas as this broker knows them: all of them leading, else the leader (replica-sync.ts). */
  readonly isr: number[];
  /** The Raft term (leader epoch) this replica is in. */
  readonly term: number;
  /** Leading: each follower's lag; otherwise empty. */
  readonly followers: FollowerLag[];
  /** A move in flight (with peers): the replicas it adds, and those it removes once done. */
  readonly addingReplicas?: number[];
  readonly removingReplicas?: number[];
  /** This broker's replica of the group is quiesced (idle: no heartbeats, no election timer). */
  readonly quiesced?: boolean;
}

export interface FetchPartitionRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxBytes: number;
  /** The leader epoch the client knows (Kafka's Fetch v9+), fenced at each read; absent: none. */
  readonly currentLeaderEpoch?: number;
}

export interface FetchPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly batches: Buffer;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly nextOffset: number;
  readonly error: WeirError | null;
}

/** Told when this broker starts or stops leading partitions of a topic. */
export interface LeadershipListener {
  becameLeader(topic: string, partitions: readonly number[]): void;
  resigned(topic: string, partitions: readonly number[]): void;
}

export interface ReplicaManagerDeps {
  readonly config: Pick<
    BrokerConfig,
    'nodeId' | 'maxInflatedBatchBytes' | 'maxFetchWaitMs' | 'replicaLagTimeMaxMs' | 'replicationThrottleBytes'
  >;
  /** Record timestamps. */
  readonly clock: Clock;
  /** Timers of waiting requests: real time, even when `clock` is simulated. */
  readonly waitClock: Clock;
  readonly lifecycle: Lifecycle;
  /** Makes a topic this broker has no partitions of (auto-create), or throws why it cannot. */
  readonly ensureTopic: (topic: string) => void;
  /** Where the partitions' Raft state (term, vote and amnesia; leader epochs) is kept. */
  readonly fs: StorageFs;
  /** Uniform in [0, 1): election timeouts. */
  readonly random: () => number;
  /** The host's boot and the last stop: whether a replica may have lost what it acknowledged. */
  readonly start: ReplicaStart;
  /** Carries the groups' messages to peer brokers; none on one broker, where every group is of one. */
  readonly transport?: RaftTransport;
  /**
   * The first voters of a partition's group (what a replica takes the group to be until its log
   * holds a config entry). Default: this broker alone.
   */
  readonly votersOf?: (topic: string, partition: number) => readonly number[];
  /**
   * Every broker holding a replica of the partition, for readers: its voters, and the replicas a
   * move in flight adds. Default: votersOf.
   */
  readonly holdersOf?: (topic: string, partition: number) => readonly number[];
  /** A topic's partition count, held here or not (0: no such topic). Default: those held here. */
  readonly topicPartitions?: (topic: string) => number;
  /** A partition's group failed on its own and left (see RaftGroupsOptions.onGroupFailed). */
  readonly onGroupFailed?: (group: string, err: unknown) => void;
}

/** How long the broker's own replicated appends wait for a majority (Kafka's offsets.commit.timeout.ms). */
const INTERNAL_COMMIT_TIMEOUT_MS = 5_000;

/** How often every Raft group ticks: heartbeats every 2 ticks, elections after 8 to 16. */
const RAFT_TICK_MS = 100;

/**
 * With a replication throttle, a follower that has not held its leader's whole log for this long
 * is catching up, and its appends are throttled (broker/raft/catch-up-quota.ts): long enough that
 * a follower keeping pace is never taken for one (it counts as caught up at each answer), short
 * enough that a broker back after a few seconds away is throttled from its first append.
 */
const CATCH_UP_AFTER_MS = 2_000;

export class ReplicaManager {
  private readonly config: ReplicaManagerDeps['config'];
  private readonly clock: Clock;
  private readonly lifecycle: Lifecycle;
  private readonly ensureTopic: (topic: string) => void;
  private readonly partitions = new Map<string, Partition[]>();
  private readonly waiting: WaitingRequests<Partition>;
  private readonly waitClock: Clock;
  private readonly fs: StorageFs;
  private readonly random: () => number;
  private readonly start: ReplicaStart;
  /** Every partition's Raft group; on one broker each has this broker as its only voter. */
  private readonly groups: RaftGroups;
  private readonly votersOf: (topic: string, partition: number) => readonly number[];
  private readonly holdersOf: (topic: string, partition: number) => readonly number[];
  private readonly topicPartitions: (topic: string) => number;
  private readonly onGroupFailed: (group: string, err: unknown) => void;
  private readonly leadership: LeadershipListener[] = [];
  /** Where records without a key go when the broker partitions them: round robin per request. */
  private roundRobin = 0;
  private stopped = false;
  /** Each partition's way to wake the requests waiting on it (one function for all of them). */
  private readonly dataArrived = (p: Partition): void => this.waiting.notify(p);
  /** Each partition's way to tell the leadership listeners it was elected or deposed. */
  private readonly leadershipChanged = (p: Partition, leads: boolean): void => {
    if (this.stopped || this.partitions.get(p.topic)?.[p.id] !== p) return;
    for (const l of this.leadership) {
      if (leads) l.becameLeader(p.topic, [p.id]);
      else l.resigned(p.topic, [p.id]);
    }
  };

  constructor(deps: ReplicaManagerDeps) {
    this.config = deps.config;
    this.clock = deps.clock;
    this.lifecycle = deps.lifecycle;
    this.ensureTopic = deps.ensureTopic;
    this.waiting = new WaitingRequests(deps.waitClock);
    this.waitClock = deps.waitClock;
    this.fs = deps.fs;
    this.random = deps.random;
    this.start = deps.start;
    this.onGroupFailed = deps.onGroupFailed ?? ((): void => undefined);
    const self = deps.config.nodeId;
    this.votersOf = deps.votersOf ?? ((): readonly number[] => [self]);
    this.holdersOf = deps.holdersOf ?? this.votersOf;
    this.topicPartitions =
      deps.topicPartitions ?? ((topic): number => this.partitions.get(topic)?.length ?? 0);
    // One broker has no peers to send to.
    const transport = deps.transport ?? {
      send: (): void => assert.fail('a group of one has nobody to send to'),
    };
    this.groups = new RaftGroups({
      self,
      transport,
      clock: this.clock,
      tickMs: RAFT_TICK_MS,
      ...(deps.config.replicationThrottleBytes > 0
        ? {
            throttle: {
              bytesPerSecond: deps.config.replicationThrottleBytes,
              lagTicks: CATCH_UP_AFTER_MS / RAFT_TICK_MS,
            },
          }
        : null),
      onGroupFailed: (group, err) => {
        const at = group.lastIndexOf('/');
        this.find(group.slice(0, at), Number(group.slice(at + 1)))?.groupFailed();
        this.onGroupFailed(group, err);
      },
    });
  }

  // ---- the local partitions ----

  onLeadership(listener: LeadershipListener): void {
    this.leadership.push(listener);
  }

  /**
   * Serves `logs` as the partitions of `topic` they are of. One broker leads every partition it
   * holds, from the moment it is added; with peers a broker holds the partitions placed on it (so
   * a topic's list may have holes), led by whoever each group elects.
   */
  addPartitions(topic: string, logs: readonly { readonly id: number; readonly log: PartitionLog }[]): void {
    const list = this.partitions.get(topic) ?? [];
    const added = logs.map(({ id, log }) => {
      assert(list[id] === undefined, `partition ${topic}/${id} added twice`);
      const damaged = (q: Partition): boolean => this.repairLater(q, log);
      const p = new Partition(topic, id, log, this.dataArrived, this.leadershipChanged, damaged);
      this.joined(p, log);
      list[id] = p;
      return p;
    });
    this.partitions.set(topic, list);
    // A group of one leads at once; a group with peers leads once elected (not told here yet).
    const led = added.filter((p) => p.role === 'leader').map(idOf);
    if (led.length > 0) for (const l of this.leadership) l.becameLeader(topic, led);
  }

  /**
   * Damage at rest met while serving `p` (partition-replica.ts): with peers, the replica leaves its
   * group and joins it again once the current request is answered, in a new incarnation, which
   * marks it amnesiac and cuts its log at the damage; true. A lone replica stays offline: false.
   */
  private repairLater(p: Partition, log: PartitionLog): boolean {
    if (this.stopped || this.alone(p)) return false;
    setImmediate(() => {
      if (this.stopped || this.partitions.get(p.topic)?.[p.id] !== p) return;
      const incarnation = Math.max((this.start.incarnation ?? 0) + 1, this.clock.now());
      try {
        p.rejoin((events) => this.join(p, log, events, { ...this.start, incarnation }));
      } catch (err) {
        // The repair failed (its fsync, say): the log is offline, and the partition out of its group.
        this.onGroupFailed(`${p.topic}/${p.id}`, err);
      }
    });
    return true;
  }

  /**
   * Whether `p`'s group is this replica alone, as its log has it (a move may have grown a group of
   * one or shrunk a larger one); before it joined, as its first voters say.
   */
  private alone(p: Partition): boolean {
    const self = this.config.nodeId;
    const m = this.membershipOf(p)?.membership ?? { voters: this.votersOf(p.topic, p.id), learners: [] };
    return m.voters.length === 1 && m.voters[0] === self && m.learners.length === 0;
  }

  /**
   * Opens `p`'s Raft state beside its log and joins its group. A group of one elects it at once;
   * a group with peers elects whoever its election picks.
   */
  private joined(p: Partition, log: PartitionLog): Partition {
    const self = this.config.nodeId;
    const voters = this.votersOf(p.topic, p.id);
    // A replica a move brings here is not among the first voters: it joins as a learner, and
    // never campaigns until its leader's config entries make it a voter.
    assert(
      voters.includes(self) || this.holdersOf(p.topic, p.id).includes(self),
      `${p.topic}/${p.id}: this broker holds no replica of it`,
    );
    // A lone replica damaged at rest has nothing to repair from: it stays offline, every byte kept,
    // out of its group (whose Raft log would cut at the damage). See partition-replica.ts.
    const lone = voters.length === 1 && voters[0] === self;
    if (log.damage !== null && lone) return p;
    p.joinGroup((events) => this.join(p, log, events, this.start));
    // (As the group's log has it: a group of one that a move is growing waits for an election.)
    const now = this.membershipOf(p)?.membership;
    if (now !== undefined && now.voters.length === 1 && now.voters[0] === self && now.learners.length === 0)
      assert.equal(p.role, 'leader', `${p.topic}/${p.id}: a group of one elects its replica at once`);
    return p;
  }

  private join(
    p: Partition,
    log: PartitionLog,
    events: ReplicaEvents,
    start: ReplicaStart,
  ): PartitionReplica {
    const options = {
      fs: this.fs,
      groups: this.groups,
      key: `${p.topic}/${p.id}`,
      self: this.config.nodeId,
      voters: [...this.votersOf(p.topic, p.id)],
      random: this.random,
      start,
      // Internal topics (the metadata log, the group coordinator's offsets) are small and every
      // broker needs them current: their catch-up is never throttled.
      ...(this.groups.throttle === null || p.topic.startsWith(INTERNAL_PREFIX)
        ? null
        : { catchUpQuota: this.groups.throttle }),
    };
    return PartitionReplica.join(log, LeaderEpochCache.open(this.fs, log.dir), options, events);
  }

  /** Takes an envelope of Raft messages from a peer broker (the replication listener's). */
  receive(envelope: Envelope): void {
    this.groups.receive(envelope);
  }

  /** Stops serving a deleted topic; its waiting requests are woken by wake() once its logs are gone. */
  removeTopic(topic: string): Partition[] {
    const list = held(this.partitions.get(topic));
    this.partitions.delete(topic);
    for (const p of list) p.leaveGroup();
    if (list.length > 0) for (const l of this.leadership) l.resigned(topic, list.map(idOf));
    return list;
  }

  /**
   * Stops serving partitions `ids` of `topic` (moved away from this broker); its waiting requests
   * are woken by wake() once their logs are gone. Those not served here are skipped.
   */
  removePartitions(topic: string, ids: readonly number[]): Partition[] {
    const list = this.partitions.get(topic);
    if (list === undefined) return [];
    const gone: Partition[] = [];
    for (const id of ids) {
      const p = list[id];
      if (p === undefined) continue;
      delete list[id];
      p.leaveGroup();
      gone.push(p);
    }
    if (held(list).length === 0) this.partitions.delete(topic);
    if (gone.length > 0) for (const l of this.leadership) l.resigned(topic, gone.map(idOf));
    return gone;
  }

  /**
   * The membership of `p`'s group as this replica's log has it, and whether that configuration's
   * entry is committed; undefined when the group is gone.
   */
  membershipOf(p: Partition): { membership: Membership; committed: boolean } | undefined {
    const node = this.groups.node(`${p.topic}/${p.id}`);
    if (node === undefined) return undefined;
    return { membership: node.membership, committed: node.membershipAt < node.highWatermark };
  }

  /** Starts a one-replica change of `p`'s group, which this broker leads; null, or why not. */
  proposeMembership(p: Partition, change: MembershipChange): string | null {
    return this.groups.proposeMembership(`${p.topic}/${p.id}`, change);
  }

  /** Wakes the requests waiting on `partitions` (the partitions went away). */
  wake(partitions: readonly Partition[]): void {
    for (const p of partitions) this.waiting.notify(p);
  }

  /** The partition, creating the topic first when auto-create is on. */
  partition(topic: string, partition: number): Partition {
    let list = this.partitions.get(topic);
    if (list === undefined) {
      this.ensureTopic(topic);
      list = this.partitions.get(topic);
      assert(list !== undefined, `topic '${topic}' was created without partitions`);
    }
    const p = Number.isInteger(partition) ? list[partition] : undefined;
    if (p === undefined) {
      const count = this.topicPartitions(topic);
      if (Number.isInteger(partition) && partition >= 0 && partition < count)
        throw new WeirError(
          'NOT_LEADER_OR_FOLLOWER',
          `broker ${this.config.nodeId} holds no replica of ${topic}/${partition}`,
        );
      throw new WeirError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `topic '${topic}' has no partition ${partition} (it has ${this.topicPartitions(topic)})`,
      );
    }
    return p;
  }

  /** The partition if this broker has it; never creates a topic. */
  find(topic: string, partition: number): Partition | undefined {
    return Number.isInteger(partition) ? this.partitions.get(topic)?.[partition] : undefined;
  }

  /** The partitions of `topic` this broker holds (with peers, those placed on it). */
  partitionsOf(topic: string): readonly Partition[] {
    return held(this.partitions.get(topic));
  }

  statsOf(p: Partition): PartitionStats {
    const leader = p.leaderId ?? -1;
    const replicas = [...this.holdersOf(p.topic, p.id)];
    const { term, isr, followers } = this.syncOf(p, replicas);
    const stats = { partition: p.id, leader, replicas, isr, term, followers, ...p.stats() };
    // Only said when so (only groups with peers quiesce): one broker's stats are as they were.
    return this.groups.node(`${p.topic}/${p.id}`)?.quiesced === true ? { ...stats, quiesced: true } : stats;
  }

  /**
   * The stats of a partition placed on other brokers: where it is, and no log (offsets -1). The
   * preferred replica stands for the leader, which only its replicas know.
   */
  remoteStats(partition: number, replicas: readonly number[]): PartitionStats {
    return {
      partition,
      leader: replicas[0] ?? -1,
      replicas: [...replicas],
      isr: [],
      term: -1,
      followers: [],
      logStartOffset: -1,
      highWatermark: -1,
      logEndOffset: -1,
      sizeBytes: 0,
      segments: 0,
    };
  }

  /**
   * Who leads `p` as this broker knows it (-1: nobody known), the replicas of its group and the
   * in-sync ones (replica-sync.ts says what a broker that does not lead it answers).
   */
  placementOf(p: Partition): { leader: number; replicas: number[]; isr: number[] } {
    const replicas = [...this.holdersOf(p.topic, p.id)];
    return { leader: p.leaderId ?? -1, replicas, isr: this.syncOf(p, replicas).isr };
  }

  /** The group's term, in-sync replicas and followers' lag (a group that left: none known). */
  private syncOf(p: Partition, replicas: readonly number[]): ReplicaSync {
    const node = this.groups.node(`${p.topic}/${p.id}`);
    if (node === undefined) return { term: p.leaderEpoch, isr: [], followers: [] };
    return replicaSync(node, replicas, RAFT_TICK_MS, this.config.replicaLagTimeMaxMs);
  }

  /** What all of this broker's Raft groups did since it started. */
  get raftTotals(): RaftTotals {
    return this.groups.totals;
  }

  /** Every partition's stats, for a metrics scrape (no configs computed). */
  allPartitionStats(): { topic: string; stats: PartitionStats }[] {
    const out: { topic: string; stats: PartitionStats }[] = [];
    for (const [topic, list] of this.partitions)
      for (const p of held(list)) out.push({ topic, stats: this.statsOf(p) });
    return out;
  }

  /** Partitions whose log went offline (a failed fsync, a device error) until the next restart. */
  offlinePartitions(): { topic: string; partition: number; reason: string }[] {
    const out: { topic: string; partition: number; reason: string }[] = [];
    for (const [topic, list] of this.partitions)
      for (const p of held(list)) {
        const failure = p.failed;
        if (failure !== null) out.push({ topic, partition: p.id, reason: failure.message });
      }
    return out;
  }

  /**
   * The preferred-leader balancer's round: each partition this broker leads whose preferred
   * replica (the first of its replicas) is another broker that `live` says is up hands it the
   * leadership, once that replica has caught up (its Raft group checks; a refusal waits for the
   * next round). Returns how many were asked.
   */
  balanceLeaders(
    live: ReadonlySet<number>,
    exclude: (topic: string, partition: number) => boolean = () => false,
  ): number {
    if (this.stopped) return 0;
    let asked = 0;
    for (const [topic, list] of this.partitions) {
      for (const p of held(list)) {
        if (p.role !== 'leader' || exclude(topic, p.id)) continue;
        const preferred = this.votersOf(p.topic, p.id)[0];
        if (preferred === undefined || preferred === this.config.nodeId || !live.has(preferred)) continue;
        if (p.transferLeadership(preferred) === null) asked++;
      }
    }
    return asked;
  }

  /** Wakes every waiting request and resigns every partition (shutdown). */
  stop(): void {
    this.waiting.notifyAll();
    if (this.stopped) return;
    this.stopped = true;
    this.groups.close();
    for (const [topic, list] of this.partitions)
      for (const l of this.leadership) l.resigned(topic, held(list).map(idOf));
  }

  /** Settles once every produce accepted so far has appended or failed (shutdown waits for it). */
  async appended(): Promise<void> {
    const accepted: Promise<void>[] = [];
    for (const list of this.partitions.values()) for (const p of held(list)) accepted.push(p.appended());
    await Promise.all(accepted);
  }

  // ---- producing ----

  /** Appends RecordBatch bytes to one partition. */
  produce(topic: string, partition: number, batches: Buffer, acks: Acks): Promise<ProduceOutcome> {
    this.lifecycle.assertOpen();
    if (topic.startsWith(INTERNAL_PREFIX))
      throw new WeirError('POLICY_VIOLATION', `only the broker writes to internal topic '${topic}'`);
    return this.partition(topic, partition).produce(
      batches,
      acks,
      this.clock.now(),
      this.config.maxInflatedBatchBytes,
    );
  }

  /** Appends to one of the broker's own topics (the group coordinator's commits); see Partition. */
  appendInternal(
    topic: string,
    partition: number,
    batch: Buffer,
  ): { baseOffset: number; flushed: Promise<void> } {
    this.lifecycle.assertOpen();
    assert(topic.startsWith(INTERNAL_PREFIX), `'${topic}' is not an internal topic`);
    const p = this.partition(topic, partition);
    if (this.alone(p)) return p.appendInternal(batch);
    // Replicated: answered once a majority holds it, so that a new leader has it (acks=all), or
    // REQUEST_TIMED_OUT after Kafka's offsets.commit.timeout.ms (it may still commit).
    const { baseOffset, committed } = p.appendInternalCommitted(batch);
    return {
      baseOffset,
      flushed: this.within(committed, INTERNAL_COMMIT_TIMEOUT_MS, `${topic}/${partition}`),
    };
  }

  /** `waited`, or REQUEST_TIMED_OUT once `ms` passed. */
  private within(waited: Promise<void>, ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.waitClock.schedule(ms, () =>
        reject(
          new WeirError(
            'REQUEST_TIMED_OUT',
            `${what}: no majority of its replicas acknowledged within ${ms} ms`,
          ),
        ),
      );
      waited.then(
        () => {
          timer.cancel();
          resolve();
        },
        (err: unknown) => {
          timer.cancel();
          reject(err as Error);
        },
      );
    });
  }

  /**
   * Appends plain records. With partition -1 the broker partitions them: by Kafka's murmur2 of the
   * key, and records without a key all to one partition chosen round robin per request. With
   * producer fields the batch is built with them in its header, so it goes through the same
   * idempotence checks as a batch produced as bytes (a retry answers the original offsets).
   */
  async produceRecords(
    topic: string,
    partition: number,
    records: readonly ProducedRecord[],
    acks: Acks,
    producer: ProducerFields = {},
  ): Promise<{ partition: number; outcome: ProduceOutcome }[]> {
    this.lifecycle.assertOpen();
    if (records.length === 0) throw new WeirError('INVALID_REQUEST', 'no records to produce');
    const sequenced = sequencedBatch(producer, partition);
    let count = 0;
    let unkeyed = partition;
    if (partition === -1) {
      this.partition(topic, 0); // the topic must exist (or be auto-created) before it is counted
      count = this.topicPartitions(topic);
      unkeyed = this.roundRobin++ % count;
    }
    const groups = groupByPartition(records, partition, count, unkeyed, this.clock.now());
    // All groups are appended before any fsync is awaited, in one synchronous pass.
    const appends = [...groups].map(([p, group]) =>
      this.produce(topic, p, encodeBatch(group, sequenced ?? {}), acks).then((outcome) => ({
        partition: p,
        outcome,
      })),
    );
    return Promise.all(appends);
  }

  // ---- fetching ----

  /**
   * Reads each requested partition from its offset, up to its max bytes and what is left of the
   * response's (0 = the defaults above). If fewer than `minBytes` came back, waits up to
   * `maxWaitMs` for new data, then reads once more.
   */
  async fetch(
    requests: readonly FetchPartitionRequest[],
    maxBytes: number,
    minBytes: number,
    maxWaitMs: number,
    signal?: AbortSignal,
  ): Promise<FetchPartitionResult[]> {
    this.lifecycle.assertOpen();
    if (!Number.isInteger(maxBytes) || maxBytes < 0)
      throw new WeirError('INVALID_REQUEST', `max_bytes ${maxBytes}`);
    let results = this.readAll(requests, maxBytes);
    const wait = Math.min(Math.max(0, maxWaitMs), this.config.maxFetchWaitMs);
    if (wait === 0 || bytesOf(results) >= Math.max(1, minBytes) || results.some((r) => r.error !== null))
      return results;
    await this.waitForData(requests, wait, signal);
    if (!this.lifecycle.closing) results = this.readAll(requests, maxBytes);
    return results;
  }

  private readAll(requests: readonly FetchPartitionRequest[], maxBytes: number): FetchPartitionResult[] {
    let budget = fetchMaxBytes(maxBytes);
    let nothingYet = true;
    const results: FetchPartitionResult[] = [];
    for (const req of requests) {
      try {
        const p = this.partition(req.topic, req.partition);
        p.requireLeader();
        if (req.currentLeaderEpoch !== undefined) p.requireLeaderEpoch(req.currentLeaderEpoch);
        const limit = Math.min(partitionFetchMaxBytes(req.maxBytes), budget);
        // The first partition with data always gets at least one batch, as Kafka's fetch does.
        const read = p.read(req.offset, limit, { maxOffset: p.highWatermark, minOneBatch: nothingYet });
        budget = Math.max(0, budget - read.records.length);
        if (read.records.length > 0) nothingYet = false;
        results.push({
          topic: req.topic,
          partition: req.partition,
          batches: read.records,
          highWatermark: p.highWatermark,
          logStartOffset: read.logStartOffset,
          nextOffset: read.records.length > 0 ? read.lastOffset + 1 : req.offset,
          error: null,
        });
      } catch (err) {
        if (!(err instanceof WeirError)) throw err;
        // A client told OFFSET_OUT_OF_RANGE resets from these, so they are the partition's own
        // whenever it exists; -1 only when there is no such partition.
        const known = this.find(req.topic, req.partition);
        results.push({
          topic: req.topic,
          partition: req.partition,
          batches: EMPTY,
          highWatermark: known?.highWatermark ?? -1,
          logStartOffset: known?.logStartOffset ?? -1,
          nextOffset: req.offset,
          error: err,
        });
      }
    }
    return results;
  }

  /** Resolves when any of the partitions gets data, after `ms`, or when `signal` aborts. */
  waitForData(
    requests: readonly { topic: string; partition: number }[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.lifecycle.closing) return Promise.resolve();
    const watched: Partition[] = [];
    for (const req of requests) {
      const p = this.partitions.get(req.topic)?.[req.partition];
      if (p !== undefined) watched.push(p);
    }
    return this.waiting.wait(watched, ms, signal);
  }

  /**
   * Earliest (-2), latest (-1), or the first record at or after a timestamp: its offset and its own
   * timestamp (-1 and -1 if there is none).
   */
  listOffset(topic: string, partition: number, timestamp: number): { offset: number; timestamp: number } {
    const p = this.partition(topic, partition);
    p.requireLeader();
    if (timestamp === EARLIEST) return { offset: p.logStartOffset, timestamp: -1 };
    if (timestamp === LATEST) return { offset: p.highWatermark, timestamp: -1 };
    if (!Number.isSafeInteger(timestamp) || timestamp < 0)
      throw new WeirError('INVALID_TIMESTAMP', `timestamp ${timestamp}`);
    const found = p.recordAtOrAfter(timestamp);
    if (found === null || found.offset >= p.highWatermark) return { offset: -1, timestamp: -1 };
    return found;
  }
}

const EMPTY = Buffer.alloc(0);

/** The partitions of a list with holes (a broker with peers holds only those placed on it). */
function held(list: readonly (Partition | undefined)[] | undefined): Partition[] {
  return list === undefined ? [] : list.filter((p): p is Partition => p !== undefined);
}

function idOf(p: Partition): number {
  return p.id;
}

function bytesOf(results: readonly FetchPartitionResult[]): number {
  let n = 0;
  for (const r of results) n += r.batches.length;
  return n;
}
