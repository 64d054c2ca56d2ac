// The cluster metadata as one broker knows it: the committed metadata log (metadata-records.ts)
// applied in log order. Every broker holds one; the controller plans against its own.
//
// Mutable, but only through apply(): the log is replayed record by record (thousands at a start),
// and copying whole maps per record, as a persistent image would, costs a quadratic replay for a
// benefit no reader needs yet. Readers still get stable values: each broker and topic entry is
// frozen and replaced, never changed in place, so an entry a reader holds does not change under
// it; only the image's maps move on. A broker's entry is replaced by each registration and by
// each fence or unfence that changes it, and by nothing else, so a reader can tell by identity
// whether the broker's state moved (BrokerLiveness relies on that).
//
// apply() is deterministic and total. The controller appends only records that fit the image it
// planned against, but a broker replaying the log must never throw on one that does not (a log
// written by an older controller, a record planned against an image that moved on). Such a record
// changes nothing, and apply() returns why, for a log line. The rules, each as KRaft's
// ReplicationControlManager and ClusterControlManager behave in spirit:
//
// - registerBroker always applies, and replaces any earlier registration of the node id: a new
//   incarnation is a new process (the old one is gone or about to be fenced by its own restart).
//   A registered broker is fenced until the controller unfences it on its first heartbeat, as in
//   KRaft, so no leadership or placement goes to a broker that has not shown it is running.
// - fenceBroker / unfenceBroker apply only to the registered broker of that node id and that
//   incarnation: a record about an earlier incarnation must not fence or unfence its successor.
//   Fencing a fenced broker (or unfencing a live one) applies and changes nothing.
// - topic applies unless a topic of that name exists (the earlier one wins; a name is taken once
//   until removeTopic). It starts with no partitions: as in KRaft, a topic has the partitions its
//   partition records place, and the topic record's count (what it was created with) is for
//   readers of the log. So no record can make a broker allocate partitions no record places.
// - partition applies to a known topic at a partition number up to its count: below the count it
//   replaces the replicas (a reassignment), at the count it adds the partition (creation, growth).
//   Past the count it would leave a gap and is ignored. Replicas may name brokers the image does
//   not know (placement is the log's word; a broker registers when it starts). It ends any move of
//   the partition in flight: the replicas it sets are where the partition is.
// - reassign applies to an existing partition, and sets where it is moving to (replacing an
//   earlier target, though the controller plans no move over one in flight).
// - config applies to a known topic; null removes the key.
// - removeTopic applies to a known topic.

import type { MetadataRecord, RegisterBrokerRecord } from './metadata-records.js';
import { replicasWithTarget } from '../topic-registry.js';

/** A registered broker: its registration, and whether it is fenced. */
export interface BrokerImage extends Omit<RegisterBrokerRecord, 'type'> {
  readonly fenced: boolean;
}

export interface PartitionImage {
  /** Node ids, distinct; the first is the preferred leader. */
  readonly replicas: readonly number[];
  /** Where the partition is moving to (a reassignment in flight), or null. */
  readonly target: readonly number[] | null;
}

/**
 * Every broker that holds (or is to hold) a replica of the partition: its replicas, then those a
 * move in flight adds. While it moves, both the old and the new replicas serve it.
 */
export function servingReplicas(p: PartitionImage): number[] {
  return replicasWithTarget(p.replicas, p.target);
}

export interface TopicImage {
  readonly name: string;
  readonly topicId: string;
  readonly replicationFactor: number;
  readonly partitions: readonly PartitionImage[];
  /** Only the keys set on this topic. */
  readonly configs: Readonly<Record<string, string>>;
}

/** How many replicas, and preferred leaders, a broker holds. */
export interface BrokerLoad {
  readonly replicas: number;
  readonly leaders: number;
}

/** The image as plain data (for /v1/cluster): brokers by node id, topics by name. */
export interface ClusterSnapshot {
  readonly brokers: readonly BrokerImage[];
  readonly topics: readonly TopicImage[];
}

function freezeTopic(topic: TopicImage): TopicImage {
  return Object.freeze({ ...topic, partitions: Object.freeze([...topic.partitions]) });
}

export class MetadataImage {
  private readonly brokerMap = new Map<number, BrokerImage>();
  private readonly topicMap = new Map<string, TopicImage>();

  /** An image of `records` applied in order. */
  static of(records: Iterable<MetadataRecord>): MetadataImage {
    const image = new MetadataImage();
    for (const r of records) image.apply(r);
    return image;
  }

  /** Applies one committed record; returns null, or why it changed nothing (rules above). */
  apply(record: MetadataRecord): string | null {
    switch (record.type) {
      case 'registerBroker':
        this.brokerMap.set(record.nodeId, registered(record));
        return null;
      case 'fenceBroker':
      case 'unfenceBroker': {
        const broker = this.brokerMap.get(record.nodeId);
        if (broker === undefined) return `broker ${record.nodeId} is not registered`;
        if (broker.incarnation !== record.incarnation)
          return `broker ${record.nodeId} is registered as incarnation ${broker.incarnation}, not ${record.incarnation}`;
        const fenced = record.type === 'fenceBroker';
        if (broker.fenced !== fenced) this.brokerMap.set(record.nodeId, Object.freeze({ ...broker, fenced }));
        return null;
      }
      case 'topic': {
        if (this.topicMap.has(record.name)) return `topic '${record.name}' exists`;
        const { name, topicId, replicationFactor } = record;
        this.topicMap.set(
          name,
          freezeTopic({ name, topicId, replicationFactor, partitions: [], configs: {} }),
        );
        return null;
      }
      case 'partition': {
        const topic = this.topicMap.get(record.topic);
        if (topic === undefined) return `topic '${record.topic}' does not exist`;
        if (record.partition > topic.partitions.length)
          return `topic '${record.topic}' has ${topic.partitions.length} partitions; partition ${record.partition} would leave a gap`;
        const partitions = [...topic.partitions];
        partitions[record.partition] = Object.freeze({
          replicas: Object.freeze([...record.replicas]),
          target: null,
        });
        this.topicMap.set(record.topic, freezeTopic({ ...topic, partitions }));
        return null;
      }
      case 'reassign': {
        const topic = this.topicMap.get(record.topic);
        if (topic === undefined) return `topic '${record.topic}' does not exist`;
        const current = topic.partitions[record.partition];
        if (current === undefined) return `topic '${record.topic}' has no partition ${record.partition}`;
        const partitions = [...topic.partitions];
        partitions[record.partition] = Object.freeze({
          ...current,
          target: Object.freeze([...record.target]),
        });
        this.topicMap.set(record.topic, freezeTopic({ ...topic, partitions }));
        return null;
      }
      case 'config': {
        const topic = this.topicMap.get(record.topic);
        if (topic === undefined) return `topic '${record.topic}' does not exist`;
        const configs: Record<string, string> = { ...topic.configs };
        if (record.value === null) delete configs[record.key];
        else configs[record.key] = record.value;
        this.topicMap.set(record.topic, freezeTopic({ ...topic, configs: Object.freeze(configs) }));
        return null;
      }
      case 'removeTopic':
        return this.topicMap.delete(record.name) ? null : `topic '${record.name}' does not exist`;
    }
  }

  broker(nodeId: number): BrokerImage | undefined {
    return this.brokerMap.get(nodeId);
  }

  /** Every registered broker, fenced or not, by node id. */
  brokers(): BrokerImage[] {
    return [...this.brokerMap.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** Registered and not fenced, by node id: the brokers placement and leadership may use. */
  liveBrokers(): BrokerImage[] {
    return this.brokers().filter((b) => !b.fenced);
  }

  /** Whether `incarnation` is the registered incarnation of `nodeId` (else it must register again). */
  isCurrent(nodeId: number, incarnation: string): boolean {
    return this.brokerMap.get(nodeId)?.incarnation === incarnation;
  }

  topic(name: string): TopicImage | undefined {
    return this.topicMap.get(name);
  }

  /** Every topic, by name (code point order, the same on every broker whatever its locale). */
  topics(): TopicImage[] {
    return [...this.topicMap.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Replicas and preferred leaders per node id, over every topic (node ids holding none are absent).
   * A partition moving counts where it is going: that is where its load will be.
   */
  load(): Map<number, BrokerLoad> {
    const load = new Map<number, { replicas: number; leaders: number }>();
    for (const topic of this.topicMap.values()) {
      for (const { replicas, target } of topic.partitions) {
        (target ?? replicas).forEach((id, i) => {
          const entry = load.get(id) ?? { replicas: 0, leaders: 0 };
          entry.replicas++;
          if (i === 0) entry.leaders++;
          load.set(id, entry);
        });
      }
    }
    return load;
  }

  /** Plain data, in a stable order, for JSON. */
  toJSON(): ClusterSnapshot {
    return { brokers: this.brokers(), topics: this.topics() };
  }
}

function registered(r: RegisterBrokerRecord): BrokerImage {
  const { nodeId, incarnation, host, grpcPort, httpPort, replicationPort, kafkaPort } = r;
  return Object.freeze({
    nodeId,
    incarnation,
    host,
    grpcPort,
    httpPort,
    replicationPort,
    ...(kafkaPort === undefined ? {} : { kafkaPort }),
    fenced: true,
  });
}
