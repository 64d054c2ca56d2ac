// The topic administration of a broker with peers: what the admin API's topic requests become
// once topics are the metadata log's. Each request goes to the controller (ClusterMember.request
// forwards it when the controller is another broker) and answers once this broker's own image has
// applied the change, so the caller reads its change here at once. Topics the broker makes for
// itself (auto-created ones, `__consumer_offsets`) are asked for in the background, and callers
// get a retriable error meanwhile, as Kafka answers them. Reads (list, describe, where a partition
// is) come from the image, whether this broker holds the topic or not.
//
// One broker (no peers) has none of this: its Broker goes to TopicAdmin directly.

import { WeirError } from '../proto/errors.js';
import { invalidTopicName, logConfigEntries, logConfigFrom } from '../storage/index.js';
import type { ControllerCommand } from './cluster/controller-commands.js';
import { servingReplicas, type MetadataImage } from './cluster/metadata-image.js';
import type { ClusterMember } from './cluster-member.js';
import type { BrokerConfig } from './config.js';
import type { Lifecycle } from './lifecycle.js';
import type { ReplicaManager } from './replica/replica-manager.js';
import type { TopicDescription } from './topic-admin.js';
import { INTERNAL_PREFIX } from './topic-registry.js';

export interface ClusterAdminDeps {
  readonly config: BrokerConfig;
  readonly member: ClusterMember;
  readonly replicas: ReplicaManager;
  readonly lifecycle: Lifecycle;
  /** How many peers the cluster has (`__consumer_offsets` takes min(3, peers) replicas). */
  readonly peerCount: number;
  /** A background creation that failed (for the log). */
  readonly report: (message: string) => void;
}

export class ClusterAdmin {
  /** Topics being created in the background (auto-create, the broker's own), one request each. */
  private readonly creating = new Set<string>();

  constructor(private readonly deps: ClusterAdminDeps) {}

  private get image(): MetadataImage {
    return this.deps.member.image;
  }

  async createTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Readonly<Record<string, string>>,
    validateOnly: boolean,
  ): Promise<TopicDescription> {
    const { config } = this.deps;
    this.deps.lifecycle.assertOpen();
    const rf = replicationFactor === 0 ? config.defaultReplicationFactor : replicationFactor;
    await this.deps.member.request({
      kind: 'createTopic',
      name,
      partitions,
      replicationFactor: rf,
      configs,
      validateOnly,
    });
    if (!validateOnly) return this.describeTopic(name);
    return {
      name,
      internal: false,
      replicationFactor: rf,
      configs: logConfigEntries(logConfigFrom(configs, config.topicDefaults)),
      overrides: { ...configs },
      partitions: [],
    };
  }

  async deleteTopic(name: string): Promise<void> {
    this.deps.lifecycle.assertOpen();
    await this.deps.member.request({ kind: 'deleteTopic', name });
  }

  async alterTopicConfig(
    name: string,
    set: Readonly<Record<string, string>>,
    remove: readonly string[],
  ): Promise<TopicDescription> {
    return this.thenDescribe(name, { kind: 'alterConfigs', name, set, remove });
  }

  async createPartitions(name: string, count: number): Promise<TopicDescription> {
    return this.thenDescribe(name, { kind: 'createPartitions', name, count });
  }

  /**
   * Starts moving partitions of a topic to other brokers (`moves`: each partition's target
   * replicas, the preferred leader first). Answers once the controller recorded the moves; each
   * partition's leader then carries its move out (cluster-reassign.ts), and describe shows the
   * replicas being added and removed until it is done.
   */
  async reassign(
    name: string,
    moves: readonly { readonly partition: number; readonly replicas: readonly number[] }[],
  ): Promise<TopicDescription> {
    return this.thenDescribe(name, { kind: 'reassign', name, moves });
  }

  private async thenDescribe(name: string, command: ControllerCommand): Promise<TopicDescription> {
    this.deps.lifecycle.assertOpen();
    await this.deps.member.request(command);
    return this.describeTopic(name);
  }

  /**
   * Asks the controller for one of the broker's own topics (`__consumer_offsets`) unless the
   * image has it; meanwhile COORDINATOR_NOT_AVAILABLE (retriable).
   */
  createInternalTopic(name: string, partitions: number, configs: Readonly<Record<string, string>>): void {
    if (this.image.topic(name) !== undefined) return;
    // Kafka's offsets.topic.replication.factor is 3, refused while fewer brokers are live.
    const replicationFactor = Math.min(3, this.deps.peerCount);
    this.createInBackground(name, {
      kind: 'createTopic',
      name,
      partitions,
      replicationFactor,
      configs,
      internal: true,
      validateOnly: false,
    });
    throw new WeirError('COORDINATOR_NOT_AVAILABLE', `internal topic '${name}' is being created`);
  }

  /**
   * A topic this broker holds no partition of: NOT_LEADER_OR_FOLLOWER when the cluster has it (it
   * is placed on other brokers); else, with auto-create on, asks the controller to create it and
   * answers LEADER_NOT_AVAILABLE (retriable) meanwhile, as Kafka does.
   */
  ensureTopic(topic: string): void {
    const { config } = this.deps;
    const reason = invalidTopicName(topic);
    if (reason !== null) throw new WeirError('INVALID_TOPIC_EXCEPTION', reason);
    if (this.image.topic(topic) !== undefined)
      throw new WeirError('NOT_LEADER_OR_FOLLOWER', `broker ${config.nodeId} holds no replica of '${topic}'`);
    if (!config.autoCreateTopics || topic.startsWith(INTERNAL_PREFIX))
      throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist`);
    this.createInBackground(topic, {
      kind: 'createTopic',
      name: topic,
      partitions: config.defaultPartitions,
      replicationFactor: config.defaultReplicationFactor,
      configs: {},
      validateOnly: false,
    });
    throw new WeirError('LEADER_NOT_AVAILABLE', `topic '${topic}' is being created`);
  }

  /** Asks the controller to create a topic, once at a time per name; a failure is only reported. */
  private createInBackground(name: string, command: ControllerCommand): void {
    if (this.creating.has(name) || this.deps.lifecycle.closing) return;
    this.creating.add(name);
    this.deps.member
      .request(command)
      .catch((err: unknown) => {
        if (err instanceof WeirError && err.code === 'TOPIC_ALREADY_EXISTS') return;
        this.deps.report(`creating topic '${name}' failed: ${(err as Error).message}`);
      })
      .finally(() => this.creating.delete(name));
  }

  listTopics(includeInternal: boolean): { name: string; partitions: number; internal: boolean }[] {
    return this.image
      .topics()
      .filter((t) => includeInternal || !t.name.startsWith(INTERNAL_PREFIX))
      .map((t) => ({
        name: t.name,
        partitions: t.partitions.length,
        internal: t.name.startsWith(INTERNAL_PREFIX),
      }));
  }

  /**
   * A topic as the image has it: each partition held here with its stats, one held elsewhere
   * where it is (no log), and a move in flight as the replicas it adds and removes.
   */
  describeTopic(name: string): TopicDescription {
    const { replicas } = this.deps;
    const reason = invalidTopicName(name);
    if (reason !== null) throw new WeirError('INVALID_TOPIC_EXCEPTION', reason);
    const topic = this.image.topic(name);
    if (topic === undefined)
      throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
    return {
      name,
      internal: name.startsWith(INTERNAL_PREFIX),
      replicationFactor: topic.replicationFactor,
      configs: logConfigEntries(logConfigFrom(topic.configs, this.deps.config.topicDefaults)),
      overrides: { ...topic.configs },
      partitions: topic.partitions.map((placed, id) => {
        const p = replicas.find(name, id);
        const stats =
          p !== undefined ? replicas.statsOf(p) : replicas.remoteStats(id, servingReplicas(placed));
        const target = placed.target;
        if (target === null) return stats;
        return {
          ...stats,
          addingReplicas: target.filter((r) => !placed.replicas.includes(r)),
          removingReplicas: placed.replicas.filter((r) => !target.includes(r)),
        };
      }),
    };
  }

  /**
   * Where a partition this broker holds no replica of is: its replicas, and the preferred one as
   * the best guess of its leader (a replica that does not lead answers NOT_LEADER_OR_FOLLOWER
   * naming the one that does). Undefined for a partition the image does not have.
   */
  placementElsewhere(topic: string, partition: number): { leader: number; replicas: number[] } | undefined {
    const placed = this.image.topic(topic)?.partitions[partition];
    if (placed === undefined) return undefined;
    const holders = servingReplicas(placed);
    return { leader: holders[0] ?? -1, replicas: holders };
  }
}
