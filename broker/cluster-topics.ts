// With peers, the topics are the metadata log's: the controller places them, and each broker makes
// its own replicas match what the committed log says (this file). The local topic registry
// (weir-metadata.json) becomes a record of the topics this broker holds replicas of, as the log
// had them at the registry's `metadataOffset`, with each partition's replicas: that is what lets a
// restarted broker rejoin its partitions' Raft groups at once, before it has heard the log again.
//
// After records that name topics are applied (cluster-member.ts), each named topic is compared
// with the registry:
// - a topic the image no longer has, or has under another id (deleted, then created again), is
//   removed here: the registry drops it in one save, then its logs are deleted as a topic delete
//   deletes them (renamed aside, removed in the background, finished at start-up after a crash);
// - a topic the image has is written to the registry as the image has it (partition count,
//   configs, replicas), if this broker holds any of its partitions or already held the topic; the
//   partitions placed here that are not served yet get their logs and join their groups with the
//   placement's replicas as voters, and the configs reach the partitions already served;
// - a partition moving (a reassignment in flight, cluster-reassign.ts) is held by its replicas and
//   by the brokers the move adds: those join its group with the replicas as first voters, so they
//   take no part in elections until the leader's config entries make them voters;
// - a partition this broker serves or keeps a log of, but that neither its replicas nor a move in
//   flight place here, moved away: its group's voters no longer include this broker (the leader
//   records a move done only once its group's new configuration is committed), so it leaves the
//   group and its log is deleted as a topic delete deletes logs.
//
// Nothing is removed for a topic no applied record named: a topic the registry holds and the image
// has not mentioned (a start-up still replaying the log) is left alone. And while the image is
// behind the log end the registry reflects (a restarted broker replays the log from its start,
// through states older than the one it saved), nothing is applied at all: the topics named are
// kept and compared once the image has caught up, so a replay never undoes a newer state.

import type { Clock, LogConfig } from '../storage/index.js';
import { logConfigFrom } from '../storage/index.js';
import type { MetadataImage, TopicImage } from './cluster/metadata-image.js';
import type { ReplicaManager } from './replica/replica-manager.js';
import type { TopicAdmin } from './topic-admin.js';
import { INTERNAL_PREFIX, type TopicRecord, type TopicRegistry } from './topic-registry.js';

export interface ClusterTopicsDeps {
  readonly self: number;
  readonly image: MetadataImage;
  readonly registry: TopicRegistry;
  readonly admin: TopicAdmin;
  readonly replicas: ReplicaManager;
  readonly topicDefaults: LogConfig;
  readonly clock: Clock;
  /** What could not be applied (a full disk, a reassignment), for the log. */
  readonly report: (message: string) => void;
}

export class ClusterTopics {
  /** Topics named by applied records and not compared yet. */
  private readonly pending = new Set<string>();

  constructor(private readonly deps: ClusterTopicsDeps) {}

  /** Records naming `topics` were applied, and the image holds the log through `appliedEnd`. */
  applied(topics: ReadonlySet<string>, appliedEnd: number): void {
    for (const t of topics) this.pending.add(t);
    const { registry } = this.deps;
    if (appliedEnd < registry.metadataOffset) return;
    const names = [...this.pending];
    this.pending.clear();
    const put: TopicRecord[] = [];
    const removed: TopicRecord[] = [];
    for (const name of names) {
      const topic = this.deps.image.topic(name);
      const local = registry.get(name);
      const same = local !== undefined && topic !== undefined && local.topicId === topic.topicId;
      if (local !== undefined && !same) removed.push(local);
      // A topic record is applied with its partition records (one batch), so an image topic without
      // partitions is not expected; it is compared again when its partitions come.
      if (topic === undefined) continue;
      if (topic.partitions.length === 0) {
        this.pending.add(name);
        continue;
      }
      const record = this.recordOf(topic, same ? local : undefined);
      if (same || this.deps.admin.heldPartitions(record, 0).length > 0) put.push(record);
    }
    try {
      registry.mirror(
        put,
        removed.map((t) => t.name),
        appliedEnd,
      );
    } catch (err) {
      // Nothing changed here (the registry's save failed as a whole): try again at the next apply.
      for (const name of names) this.pending.add(name);
      this.deps.report(`could not apply topics ${names.join(', ')}: ${(err as Error).message}`);
      return;
    }
    for (const t of removed)
      this.deps.admin
        .removeLogs(t)
        .catch((err: unknown) => this.deps.report(`deleting the logs of '${t.name}' failed: ${String(err)}`));
    for (const record of put) this.serve(record);
    if (put.length > 0 || removed.length > 0) this.deps.admin.topicsChanged();
  }

  /** The registry's record of an image topic (`local`: this broker's record of the same topic). */
  private recordOf(topic: TopicImage, local: TopicRecord | undefined): TopicRecord {
    return {
      name: topic.name,
      topicId: topic.topicId,
      partitions: topic.partitions.length,
      replicationFactor: topic.replicationFactor,
      configs: { ...topic.configs },
      internal: topic.name.startsWith(INTERNAL_PREFIX),
      createdAt: local?.createdAt ?? this.deps.clock.now(),
      replicas: topic.partitions.map((p) => [...p.replicas]),
      ...(topic.partitions.some((p) => p.target !== null)
        ? { targets: topic.partitions.map((p) => (p.target === null ? null : [...p.target])) }
        : {}),
    };
  }

  /** Serves the partitions of `record` placed here that are not served yet; updates the others' configs. */
  private serve(record: TopicRecord): void {
    const { admin, replicas } = this.deps;
    const config = logConfigFrom(record.configs, this.deps.topicDefaults);
    for (const p of replicas.partitionsOf(record.name)) p.updateConfig(config);
    const held = new Set(admin.heldPartitions(record, 0));
    const movedAway = admin.localLogIds(record.name).filter((id) => !held.has(id));
    if (movedAway.length > 0) {
      this.deps.report(
        `${record.name}: partitions ${movedAway.join(', ')} moved to other brokers; deleting this broker's copies`,
      );
      admin
        .removePartitionLogs(record.name, movedAway)
        .catch((err: unknown) =>
          this.deps.report(`deleting the moved partitions of '${record.name}' failed: ${String(err)}`),
        );
    }
    const wanted = admin
      .heldPartitions(record, 0)
      .filter((id) => replicas.find(record.name, id) === undefined);
    if (wanted.length === 0) return;
    try {
      // The registry already says these are held: a start-up creates any log missing then.
      replicas.addPartitions(
        record.name,
        admin.openLogs(record, wanted, () => undefined),
      );
    } catch (err) {
      this.deps.report(
        `could not open the replicas of '${record.name}' placed here: ${(err as Error).message}`,
      );
    }
  }
}
