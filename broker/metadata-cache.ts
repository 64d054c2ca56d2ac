// The cluster as this broker sees it: the brokers, the controller, the topics and who leads each
// partition. On one broker it is read straight from the topic registry and the broker's own
// config; with a replicated metadata log it becomes the applied state of that log.

import assert from 'node:assert/strict';
import { WeirError } from '../proto/errors.js';
import { invalidTopicName } from '../storage/index.js';
import type { BrokerConfig } from './config.js';
import type { Lifecycle } from './lifecycle.js';
import type { TopicRecord } from './topic-registry.js';

export interface BrokerInfo {
  readonly nodeId: number;
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
}

/** A broker as the metadata log registers it: its addresses, the Kafka listener's port among them. */
export interface RegisteredBroker extends BrokerInfo {
  /** Absent when the broker has no Kafka listener. */
  readonly kafkaPort?: number;
}

/** Where Kafka clients reach a broker: its advertised host and its Kafka listener's port. */
export interface KafkaAddress {
  readonly host: string;
  readonly port: number;
}

export interface ClusterView {
  readonly clusterId: string;
  readonly controllerId: number;
  readonly brokers: BrokerInfo[];
}

export interface MetadataCacheDeps {
  /**
   * The broker's config as it is now: read on every call, because the ports a broker advertises
   * are known only once its listeners are bound, after it opened (main.ts).
   */
  readonly config: () => Pick<
    BrokerConfig,
    'nodeId' | 'advertisedHost' | 'grpcPort' | 'httpPort' | 'kafkaPort' | 'autoCreateTopics'
  >;
  readonly lifecycle: Lifecycle;
  /** The controller's node id: the metadata log's leader (one broker: itself), -1 when unknown. */
  readonly controller: () => number;
  /** With peers: the brokers registered and unfenced in the committed metadata log; else null. */
  readonly registered: () => readonly RegisteredBroker[] | null;
  /** The topics as the registry holds them. */
  readonly topics: {
    readonly clusterId: string;
    get(name: string): TopicRecord | undefined;
    all(): readonly TopicRecord[];
  };
  /** Checks that a partition exists, creating its topic first when auto-create is on. */
  readonly requirePartition: (topic: string, partition: number) => void;
}

/** One topic as Metadata answers it: its partition count, or why there is none. */
export interface TopicMetadata {
  name: string;
  /** Null for a topic that does not exist. */
  topicId: string | null;
  partitions: number;
  internal: boolean;
  error: WeirError | null;
}

export class MetadataCache {
  private readonly deps: MetadataCacheDeps;

  constructor(deps: MetadataCacheDeps) {
    this.deps = deps;
  }

  get clusterId(): string {
    return this.deps.topics.clusterId;
  }

  /**
   * The brokers of the cluster and its controller (one broker: this one). With peers, the brokers
   * are those live in the committed metadata log (this one always among them: it is answering),
   * and the controller is the metadata log's leader.
   */
  cluster(): ClusterView {
    const { nodeId, advertisedHost, grpcPort, httpPort } = this.deps.config();
    const self: BrokerInfo = { nodeId, host: advertisedHost, grpcPort, httpPort };
    const registered = this.deps.registered();
    // This broker as it runs now, not as an earlier incarnation may still stand in the log.
    const brokers = (registered ?? [])
      .filter((b) => b.nodeId !== nodeId)
      .map((b) => ({ nodeId: b.nodeId, host: b.host, grpcPort: b.grpcPort, httpPort: b.httpPort }));
    brokers.push(self);
    brokers.sort((a, b) => a.nodeId - b.nodeId);
    return { clusterId: this.clusterId, controllerId: this.deps.controller(), brokers };
  }

  /**
   * Where Kafka clients reach another live broker of the cluster, as its registration in the
   * committed metadata log says; undefined for one without a Kafka listener, or not live. This
   * broker's own address is its listener's (kafka-listener.ts), which knows the bound port.
   */
  kafkaAddressOf(nodeId: number): KafkaAddress | undefined {
    const b = this.deps.registered()?.find((r) => r.nodeId === nodeId);
    return b?.kafkaPort === undefined ? undefined : { host: b.host, port: b.kafkaPort };
  }

  /** The broker leading a partition (one broker: this one, for every partition). */
  leaderOf(topic: string, partition: number): BrokerInfo {
    this.deps.requirePartition(topic, partition);
    const self = this.cluster().brokers.find((b) => b.nodeId === this.deps.config().nodeId);
    assert(self !== undefined, 'this broker is missing from its own cluster view');
    return self;
  }

  /**
   * Topics by name (every topic for an empty list). `autoCreate` false keeps a missing topic
   * missing even when the broker auto-creates (a Kafka client's allow.auto.create.topics=false).
   */
  metadata(topics: readonly string[], autoCreate = true): TopicMetadata[] {
    const registry = this.deps.topics;
    const names = topics.length === 0 ? registry.all().map((t) => t.name) : topics;
    return names.map((name) => {
      // As Kafka's metadata request: a topic asked for by name is created when auto-create is on.
      if (
        autoCreate &&
        this.deps.config().autoCreateTopics &&
        !this.deps.lifecycle.closing &&
        registry.get(name) === undefined
      ) {
        try {
          this.deps.requirePartition(name, 0);
        } catch (err) {
          if (!(err instanceof WeirError)) throw err;
        }
      }
      const t = registry.get(name);
      if (t !== undefined)
        return { name, topicId: t.topicId, partitions: t.partitions, internal: t.internal, error: null };
      const reason = invalidTopicName(name);
      const error =
        reason !== null
          ? new WeirError('INVALID_TOPIC_EXCEPTION', reason)
          : new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
      return { name, topicId: null, partitions: 0, internal: false, error };
    });
  }
}
