// The broker's Prometheus metrics, in a registry of its own so several brokers in one process (tests,
// users' embedded brokers) never share or collide on series.
//
// Counters and latency histograms are fed by the gRPC surface's hooks (onProduce, onFetch): one
// call per topic-partition in a Produce or Fetch request. Partition gauges are read from the Broker
// when scraped, so they are never stale and cost nothing between scrapes; with thousands of
// partitions they are written by PartitionGauges (partition-gauges.ts says why), not prom-client,
// and so are the replication metrics (replication-metrics.ts: in-sync replicas, follower lag,
// elections, commit latency), read from the same snapshot.
//
// Process metrics are prom-client's defaults under their standard names (process_cpu_seconds_total,
// process_resident_memory_bytes, nodejs_eventloop_lag_seconds, nodejs_heap_size_used_bytes, ...),
// not prefixed, so the usual Node.js dashboards and alerts work unchanged; weir's own metrics all
// start with `weir_`. Each broker process is its own scrape target, so the unprefixed names do not
// clash between brokers.
//
// Labels are bounded: `topic` is only ever the name of a topic that exists (requests for unknown
// topics are counted under UNKNOWN_TOPIC_LABEL, which no topic can be named, so a client sending
// random names cannot grow the series without bound), `code` is a name from the error table, and
// the series of a deleted topic are removed at the next scrape, as Kafka removes its topic metrics.
//
// Consumer-group metrics are read from the group coordinator at scrape time too: lag and committed
// offset per committed partition, members and generation per group, and rebalances by reason. A
// group's series exist while the coordinator knows the group (it has members or committed offsets)
// and go at the first scrape after it is deleted. Rebalances are counted from the coordinator's
// history of each group (the last groupMaxRebalanceHistory, with reasons): each scrape counts the
// entries newer than the generation it saw last; generations that left the history before a scrape
// saw them count under reason "unknown", so a group's counters always add up to its generation.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WeirError } from '../proto/errors.js';
import type { PartitionStats } from './replica/replica-manager.js';
import type { GroupDescription, GroupSummary } from './group/coordinator.js';
import { PartitionGauges } from './partition-gauges.js';
import type { RaftTotals } from './replica/raft-totals.js';
import { renderReplication } from './replication-metrics.js';

/**
 * How often nodejs_eventloop_lag_* samples the loop's delay. prom-client's 10 ms wakes an idle broker
 * 100 times a second, which alone cost 0.75 % of a core here: a third of an idle cluster broker's
 * CPU. A stall of 100 ms or more still always shows in the percentiles; a shorter one is seen in
 * proportion to its length.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** The `topic` label for requests naming a topic that does not exist ('<' is illegal in names). */
export const UNKNOWN_TOPIC_LABEL = '<unknown>';

/** 100 µs to 10 s, roughly 1-2.5-5 per decade: appends to the page cache up to long-poll waits. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** What the metrics read from the broker; the Broker itself fits. */
export interface MetricsSource {
  listTopics(includeInternal: boolean): { name: string }[];
  /** Every partition's stats, read in one pass. */
  allPartitionStats(): { topic: string; stats: PartitionStats }[];
  /** What the broker's Raft groups did since it started; without it the counters read 0. */
  raftTotals?(): RaftTotals;
  /** 0 when the topic does not exist. */
  partitionCount(topic: string): number;
  /** The group coordinator (the Broker's `groups`); without it there are no group metrics. */
  readonly groups?: GroupMetricsSource;
  /** Storage errors by errno code since start-up (the Broker's `storageHealth`). */
  readonly storageHealth?: { readonly errorsByCode: ReadonlyMap<string, number> };
  /** Partitions offline after a storage failure. */
  offlinePartitions?(): readonly unknown[];
  /** The controller and the live brokers as this broker knows them (the Broker's `cluster`). */
  cluster?(): { readonly controllerId: number; readonly brokers: readonly unknown[] };
}

/** What the group metrics read from the coordinator; GroupCoordinator fits. */
export interface GroupMetricsSource {
  listGroups(): readonly Pick<GroupSummary, 'groupId'>[];
  describeGroup(
    groupId: string,
  ): Pick<GroupDescription, 'generation' | 'memberList' | 'offsets' | 'rebalances'>;
}

/** The `reason` label for rebalances that left the coordinator's history before a scrape saw them. */
export const UNKNOWN_REASON_LABEL = 'unknown';

export interface BrokerMetricsOptions {
  /** prom-client's process and Node.js metrics; default true. */
  readonly defaultMetrics?: boolean;
}

type TopicLabel = 'topic';
type GroupPartitionLabel = 'group' | 'topic' | 'partition';

export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly source: MetricsSource;

  private readonly produceRequests: Counter<TopicLabel>;
  private readonly produceRecords: Counter<TopicLabel>;
  private readonly produceBytes: Counter<TopicLabel>;
  private readonly produceErrors: Counter<TopicLabel | 'code'>;
  private readonly produceLatency: Histogram;
  private readonly fetchRequests: Counter<TopicLabel>;
  private readonly fetchBytes: Counter<TopicLabel>;
  private readonly fetchErrors: Counter<TopicLabel | 'code'>;
  private readonly fetchLatency: Histogram;

  private readonly partitionGauges = new PartitionGauges();

  private readonly groupLag: Gauge<GroupPartitionLabel>;
  private readonly groupCommitted: Gauge<GroupPartitionLabel>;
  private readonly groupMembers: Gauge<'group'>;
  private readonly groupGeneration: Gauge<'group'>;
  private readonly groupRebalances: Counter<'group' | 'reason'>;
  /** Per group: the generation counted into groupRebalances so far, and the reasons it has series for. */
  private readonly rebalancesSeen = new Map<string, { generation: number; reasons: Set<string> }>();

  /** Topics that have counter series, with the error codes each has, to remove them on deletion. */
  private readonly labelled = new Map<string, Set<string>>();
  /** Set during one scrape's collection, so its metrics share one read of the broker. */
  private refreshed = false;
  /** The storage error counts already added to weir_storage_errors_total, by code. */
  private readonly storageErrorsSeen = new Map<string, number>();

  constructor(source: MetricsSource, options: BrokerMetricsOptions = {}) {
    this.source = source;
    const registers = [this.registry];
    if (options.defaultMetrics ?? true)
      collectDefaultMetrics({
        register: this.registry,
        eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
      });

    // Every weir_ metric collects through refresh, so whichever prom-client reads first drops a
    // deleted topic's series and brings the group gauges up to date before any of them is written.
    const collect = (): void => this.refresh();
    const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
      new Counter({ name, help, labelNames, registers, collect });
    this.produceRequests = counter(
      'weir_produce_requests_total',
      'Partition produce requests (one per topic-partition of a Produce call), failed ones included.',
      ['topic'],
    );
    this.produceRecords = counter('weir_produce_records_total', 'Records appended by produce.', ['topic']);
    this.produceBytes = counter('weir_produce_bytes_total', 'Record batch bytes appended by produce.', [
      'topic',
    ]);
    this.produceErrors = counter('weir_produce_errors_total', 'Failed partition produce requests.', [
      'topic',
      'code',
    ]);
    this.fetchRequests = counter(
      'weir_fetch_requests_total',
      'Partition fetch requests (one per topic-partition of a Fetch call), failed ones included.',
      ['topic'],
    );
    this.fetchBytes = counter('weir_fetch_bytes_total', 'Record batch bytes returned by fetch.', ['topic']);
    this.fetchErrors = counter('weir_fetch_errors_total', 'Failed partition fetch requests.', [
      'topic',
      'code',
    ]);

    const buckets = [...LATENCY_BUCKETS_SECONDS];
    this.produceLatency = new Histogram({
      name: 'weir_produce_latency_seconds',
      help: 'Time to produce to one partition, from the request to its acknowledgement, failures included.',
      buckets,
      registers,
      collect,
    });
    this.fetchLatency = new Histogram({
      name: 'weir_fetch_latency_seconds',
      help: 'Time to answer a Fetch, observed once per partition in it; includes the long-poll wait (max_wait_ms).',
      buckets,
      registers,
      collect,
    });

    const groupGauge = <L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> =>
      new Gauge({ name, help, labelNames, registers, collect });
    this.groupLag = groupGauge(
      'weir_group_lag',
      "Records a group has yet to consume: the partition's high watermark minus the group's committed offset.",
      ['group', 'topic', 'partition'],
    );
    this.groupCommitted = groupGauge(
      'weir_group_committed_offset',
      "The group's committed offset: the next offset it will consume.",
      ['group', 'topic', 'partition'],
    );
    this.groupMembers = groupGauge('weir_group_members', 'Members of the group.', ['group']);
    this.groupGeneration = groupGauge(
      'weir_group_generation',
      'The group epoch: it moves on every change that can change the assignment.',
      ['group'],
    );
    this.groupRebalances = counter(
      'weir_group_rebalances_total',
      'Rebalances (group epoch bumps) by reason: join, leave, session-timeout, rebalance-timeout, ' +
        `fenced, subscription, partitions, or ${UNKNOWN_REASON_LABEL} when not seen in the history.`,
      ['group', 'reason'],
    );

    // Storage health is read from the broker's own counts at scrape time.
    const storageErrors: Counter<'code'> = new Counter({
      name: 'weir_storage_errors_total',
      help: 'Storage errors (failed writes, fsyncs, opens) by errno code, e.g. ENOSPC, EIO, EROFS, EMFILE.',
      labelNames: ['code'],
      registers,
      collect: () => {
        for (const [code, total] of source.storageHealth?.errorsByCode ?? []) {
          const seen = this.storageErrorsSeen.get(code) ?? 0;
          if (total > seen) storageErrors.inc({ code }, total - seen);
          this.storageErrorsSeen.set(code, total);
        }
      },
    });
    const offline: Gauge = new Gauge({
      name: 'weir_offline_partitions',
      help: 'Partitions offline after a storage failure (a failed fsync, a device error), until the broker restarts.',
      registers,
      collect: () => offline.set(source.offlinePartitions?.().length ?? 0),
    });

    // The cluster as this broker knows it (one broker: itself, as controller and only broker).
    const controller: Gauge = new Gauge({
      name: 'weir_cluster_controller_id',
      help: "The controller's node id (the metadata log's leader) as this broker knows it; -1 when none is known.",
      registers,
      collect: () => controller.set(source.cluster?.().controllerId ?? -1),
    });
    const brokers: Gauge = new Gauge({
      name: 'weir_cluster_brokers',
      help: 'Brokers registered and not fenced in the committed metadata log, as this broker has applied it.',
      registers,
      collect: () => brokers.set(source.cluster?.().brokers.length ?? 0),
    });
  }

  /** Matches GrpcSurfaceHooks.onProduce; a field so it can be handed over as it is. */
  readonly onProduce = (
    topic: string,
    _partition: number,
    records: number,
    bytes: number,
    seconds: number,
    error: WeirError | null,
  ): void => {
    const label = this.topicLabel(topic, error);
    this.produceRequests.inc({ topic: label });
    this.produceLatency.observe(seconds);
    if (error !== null) {
      this.produceErrors.inc({ topic: label, code: error.code });
      this.noteCode(label, error.code);
      return;
    }
    // Counted only once appended, as Kafka's BytesInPerSec: refused bytes are not traffic in the log.
    this.produceRecords.inc({ topic: label }, records);
    this.produceBytes.inc({ topic: label }, bytes);
  };

  /** Matches GrpcSurfaceHooks.onFetch; a field so it can be handed over as it is. */
  readonly onFetch = (
    topic: string,
    _partition: number,
    bytes: number,
    seconds: number,
    error: WeirError | null,
  ): void => {
    const label = this.topicLabel(topic, error);
    this.fetchRequests.inc({ topic: label });
    this.fetchLatency.observe(seconds);
    if (error !== null) {
      this.fetchErrors.inc({ topic: label, code: error.code });
      this.noteCode(label, error.code);
      return;
    }
    this.fetchBytes.inc({ topic: label }, bytes);
  };

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  async scrape(): Promise<string> {
    const registered = await this.registry.metrics();
    const stats = this.source.allPartitionStats();
    const partitions = await this.partitionGauges.render(stats);
    const replication = await renderReplication(stats, this.source.raftTotals?.());
    return `${registered}\n${partitions}\n${replication}`;
  }

  private topicLabel(topic: string, error: WeirError | null): string {
    const known = error === null || this.source.partitionCount(topic) > 0;
    const label = known ? topic : UNKNOWN_TOPIC_LABEL;
    if (!this.labelled.has(label)) this.labelled.set(label, new Set());
    return label;
  }

  private noteCode(label: string, code: string): void {
    this.labelled.get(label)?.add(code);
  }

  /**
   * Forgets deleted topics and reads the groups, once per scrape: prom-client calls every metric's
   * collect in one synchronous pass, so the first does the work and the flag is cleared in the
   * microtask after the pass. (Were collects ever spread over several ticks, each would only read
   * the broker again: more work, never stale values.)
   */
  private refresh(): void {
    if (this.refreshed) return;
    this.refreshed = true;
    queueMicrotask(() => {
      this.refreshed = false;
    });
    const present = new Set<string>([UNKNOWN_TOPIC_LABEL]);
    for (const { name } of this.source.listTopics(true)) present.add(name);
    for (const [topic, codes] of this.labelled) {
      if (present.has(topic)) continue;
      this.forget(topic, codes);
    }
    this.refreshGroups();
  }

  private refreshGroups(): void {
    const groups = this.source.groups;
    if (groups === undefined) return;
    for (const g of [this.groupLag, this.groupCommitted, this.groupMembers, this.groupGeneration]) g.reset();
    const present = new Set<string>();
    for (const { groupId } of groups.listGroups()) {
      let d: ReturnType<GroupMetricsSource['describeGroup']>;
      try {
        d = groups.describeGroup(groupId);
      } catch {
        continue; // deleted since listed, or (in a cluster) coordinated elsewhere now
      }
      present.add(groupId);
      this.groupMembers.set({ group: groupId }, d.memberList.length);
      this.groupGeneration.set({ group: groupId }, d.generation);
      for (const o of d.offsets) {
        if (o.committed < 0) continue; // owned, nothing committed yet
        const labels = { group: groupId, topic: o.topic, partition: String(o.partition) };
        this.groupCommitted.set(labels, o.committed);
        if (o.lag >= 0) this.groupLag.set(labels, o.lag);
      }
      this.countRebalances(groupId, d.generation, d.rebalances);
    }
    for (const [groupId, seen] of this.rebalancesSeen) {
      if (present.has(groupId)) continue;
      for (const reason of seen.reasons) this.groupRebalances.remove({ group: groupId, reason });
      this.rebalancesSeen.delete(groupId);
    }
  }

  /** Counts the group's rebalances since the last scrape; see the file comment. */
  private countRebalances(
    groupId: string,
    generation: number,
    history: readonly { generation: number; reason: string }[],
  ): void {
    let seen = this.rebalancesSeen.get(groupId);
    if (seen === undefined) this.rebalancesSeen.set(groupId, (seen = { generation: 0, reasons: new Set() }));
    // A lower generation is a new group under the same id (deleted and made again between scrapes).
    const since = generation < seen.generation ? 0 : seen.generation;
    let counted = 0;
    for (const r of history) {
      if (r.generation <= since || r.generation > generation) continue;
      this.incRebalances(seen.reasons, groupId, r.reason, 1);
      counted++;
    }
    this.incRebalances(seen.reasons, groupId, UNKNOWN_REASON_LABEL, generation - since - counted);
    seen.generation = generation;
  }

  private incRebalances(reasons: Set<string>, group: string, reason: string, n: number): void {
    if (n <= 0) return;
    this.groupRebalances.inc({ group, reason }, n);
    reasons.add(reason);
  }

  /** Removes a deleted topic's counter and error series. */
  private forget(topic: string, codes: ReadonlySet<string>): void {
    for (const c of [
      this.produceRequests,
      this.produceRecords,
      this.produceBytes,
      this.fetchRequests,
      this.fetchBytes,
    ])
      c.remove({ topic });
    for (const code of codes) {
      this.produceErrors.remove({ topic, code });
      this.fetchErrors.remove({ topic, code });
    }
    this.labelled.delete(topic);
  }
}
