// What the controller appends to the metadata log for an admin request: pure functions from the
// controller's image and a request to the records that carry it out, or a typed error saying why
// the request is refused. Nothing is applied here; the controller appends the records, and every
// broker (the controller too) applies them once committed. Validating against the image before
// appending is what lets apply() treat a record that does not fit as an anomaly to skip.
//
// The rules are the single broker's (topic-admin.ts), with replication factors checked against
// the live brokers instead of one broker. The records of one request are meant to be appended
// together, as one batch, so that no broker sees a topic without its placement or half of a config
// change.

import { WeirError } from '../../proto/errors.js';
import { invalidTopicName, logConfigFrom } from '../../storage/index.js';
import { INTERNAL_PREFIX, type TopicLimits } from '../topic-registry.js';
import type { MetadataImage, TopicImage } from './metadata-image.js';
import {
  MAX_REPLICATION_FACTOR,
  invalidMetadataRecord,
  type MetadataRecord,
  type RegisterBrokerRecord,
} from './metadata-records.js';
import { placeReplicas } from './placement.js';

export interface CreateTopicRequest {
  readonly name: string;
  readonly partitions: number;
  /** Resolved by the caller: a request that leaves it out gets the broker's default before this. */
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
  /** The broker's own topics (`__consumer_offsets`): the only ones whose name may start with `__`. */
  readonly internal?: boolean;
}

/** Sorted keys, so records come out in the same order from every controller. */
function sortedKeys(o: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function requireTopic(image: MetadataImage, name: string): TopicImage {
  const reason = invalidTopicName(name);
  if (reason !== null) throw new WeirError('INVALID_TOPIC_EXCEPTION', reason);
  const topic = image.topic(name);
  if (topic === undefined)
    throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
  return topic;
}

function partitionRecords(
  image: MetadataImage,
  topic: string,
  from: number,
  count: number,
  replicationFactor: number,
): MetadataRecord[] {
  const live = image.liveBrokers().map((b) => b.nodeId);
  return placeReplicas(live, count, replicationFactor, image.load()).map((replicas, i) => ({
    type: 'partition',
    topic,
    partition: from + i,
    replicas,
  }));
}

/**
 * A new topic: its topic record, one partition record per partition (placed over the live
 * brokers), then one config record per override. `topicId` is a fresh id the caller drew.
 */
export function planCreateTopic(
  image: MetadataImage,
  request: CreateTopicRequest,
  topicId: string,
  limits: TopicLimits,
): MetadataRecord[] {
  const { name, partitions, replicationFactor, configs } = request;
  const reason = invalidTopicName(name);
  if (reason !== null) throw new WeirError('INVALID_TOPIC_EXCEPTION', reason);
  const internal = request.internal === true;
  if (name.startsWith(INTERNAL_PREFIX) !== internal)
    throw new WeirError(
      'POLICY_VIOLATION',
      internal
        ? `internal topic '${name}' must start with '${INTERNAL_PREFIX}'`
        : `topic names starting with '${INTERNAL_PREFIX}' are reserved for the broker`,
    );
  if (image.topic(name) !== undefined)
    throw new WeirError('TOPIC_ALREADY_EXISTS', `topic '${name}' already exists`);
  // '.' and '_' collide in metric names, as in Kafka (and as topic-admin.ts refuses on one broker).
  const normal = name.replaceAll('.', '_');
  const clash = image.topics().find((t) => t.name.replaceAll('.', '_') === normal);
  if (clash !== undefined)
    throw new WeirError(
      'INVALID_TOPIC_EXCEPTION',
      `topic '${name}' collides with '${clash.name}' ('.' and '_' are the same in metric names)`,
    );
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > limits.maxPartitions)
    throw new WeirError(
      'INVALID_PARTITIONS',
      `a topic needs 1 to ${limits.maxPartitions} partitions, got ${partitions}`,
    );
  if (
    !Number.isInteger(replicationFactor) ||
    replicationFactor < 1 ||
    replicationFactor > MAX_REPLICATION_FACTOR
  )
    throw new WeirError(
      'INVALID_REPLICATION_FACTOR',
      `replication factor must be an integer from 1 to ${MAX_REPLICATION_FACTOR}, got ${replicationFactor}`,
    );
  logConfigFrom(configs, limits.topicDefaults);
  // Placement refuses a factor above the live brokers, naming them (INVALID_REPLICATION_FACTOR).
  const placed = partitionRecords(image, name, 0, partitions, replicationFactor);
  const records: MetadataRecord[] = [
    { type: 'topic', name, topicId, partitions, replicationFactor },
    ...placed,
  ];
  for (const key of sortedKeys(configs))
    records.push({ type: 'config', topic: name, key, value: configs[key]! });
  return validated(records);
}

/** Removes a topic. The broker's own topics cannot be deleted. */
export function planDeleteTopic(image: MetadataImage, name: string): MetadataRecord[] {
  requireTopic(image, name);
  if (name.startsWith(INTERNAL_PREFIX))
    throw new WeirError('POLICY_VIOLATION', `internal topic '${name}' cannot be deleted`);
  return [{ type: 'removeTopic', name }];
}

/** Grows a topic to `count` partitions, placing the new ones with the topic's replication factor. */
export function planCreatePartitions(
  image: MetadataImage,
  name: string,
  count: number,
  limits: TopicLimits,
): MetadataRecord[] {
  const topic = requireTopic(image, name);
  const current = topic.partitions.length;
  if (!Number.isInteger(count) || count <= current || count > limits.maxPartitions)
    throw new WeirError(
      'INVALID_PARTITIONS',
      `topic '${name}' has ${current} partitions; the new count must be larger (and at most ${limits.maxPartitions}), got ${count}`,
    );
  return validated(partitionRecords(image, name, current, count - current, topic.replicationFactor));
}

/**
 * Starts moving partitions of a topic to new replicas (`moves`: partition to its target replicas,
 * the preferred leader first). Each target names registered, unfenced brokers, distinct; a
 * partition already moving, or a target equal to where it is, is refused, and so is the whole
 * request with it: the moves of one request start together or not at all.
 */
export function planReassign(
  image: MetadataImage,
  name: string,
  moves: readonly { readonly partition: number; readonly replicas: readonly number[] }[],
): MetadataRecord[] {
  const topic = requireTopic(image, name);
  if (moves.length === 0)
    throw new WeirError('INVALID_REQUEST', 'a reassignment names at least one partition');
  const live = new Set(image.liveBrokers().map((b) => b.nodeId));
  const seen = new Set<number>();
  const records: MetadataRecord[] = [];
  for (const { partition, replicas } of moves) {
    const current = topic.partitions[partition];
    if (!Number.isInteger(partition) || current === undefined)
      throw new WeirError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `topic '${name}' has partitions 0 to ${topic.partitions.length - 1}, not ${partition}`,
      );
    if (seen.has(partition)) throw new WeirError('INVALID_REQUEST', `partition ${partition} is named twice`);
    seen.add(partition);
    if (current.target !== null)
      throw new WeirError(
        'REASSIGNMENT_IN_PROGRESS',
        `${name}/${partition} is already moving to brokers ${current.target.join(', ')}`,
      );
    const bad = invalidMetadataRecord({ type: 'reassign', topic: name, partition, target: replicas });
    if (bad !== null) throw new WeirError('INVALID_REPLICA_ASSIGNMENT', `${name}/${partition}: ${bad}`);
    const down = replicas.filter((id) => !live.has(id));
    if (down.length > 0)
      throw new WeirError(
        'INVALID_REPLICA_ASSIGNMENT',
        `${name}/${partition}: brokers ${down.join(', ')} are not registered and live (live: ${[...live].join(', ')})`,
      );
    if (replicas.length === current.replicas.length && replicas.every((id, i) => current.replicas[i] === id))
      throw new WeirError(
        'INVALID_REPLICA_ASSIGNMENT',
        `${name}/${partition} is on brokers ${replicas.join(', ')} already`,
      );
    records.push({ type: 'reassign', topic: name, partition, target: [...replicas] });
  }
  return records;
}

/**
 * Ends a move: the partition's leader says its group's voters are `replicas`. Only a move in
 * flight to exactly those replicas ends (its partition record makes them the replicas); anything
 * else is a stale or repeated report, and plans nothing.
 */
export function planCompleteReassign(
  image: MetadataImage,
  name: string,
  partition: number,
  replicas: readonly number[],
): MetadataRecord[] {
  const target = image.topic(name)?.partitions[partition]?.target;
  if (target === null || target === undefined) return [];
  if (target.length !== replicas.length || target.some((id, i) => replicas[i] !== id)) return [];
  return [{ type: 'partition', topic: name, partition, replicas: [...target] }];
}

/**
 * Sets and removes config overrides of a topic, validated as a whole over the broker's defaults.
 * Only keys whose value changes get a record, so a request that changes nothing plans nothing.
 */
export function planAlterConfigs(
  image: MetadataImage,
  name: string,
  set: Readonly<Record<string, string>>,
  remove: readonly string[],
  limits: TopicLimits,
): MetadataRecord[] {
  const topic = requireTopic(image, name);
  const both = remove.find((key) => Object.hasOwn(set, key));
  if (both !== undefined)
    throw new WeirError('INVALID_REQUEST', `config '${both}' is both set and removed in one request`);
  const next: Record<string, string> = { ...topic.configs, ...set };
  for (const key of remove) delete next[key];
  logConfigFrom(next, limits.topicDefaults);
  const records: MetadataRecord[] = [];
  for (const key of sortedKeys({ ...topic.configs, ...next })) {
    const before = Object.hasOwn(topic.configs, key) ? topic.configs[key]! : null;
    const after = Object.hasOwn(next, key) ? next[key]! : null;
    if (before !== after) records.push({ type: 'config', topic: name, key, value: after });
  }
  return validated(records);
}

/**
 * A broker's registration. A retry of the registration in force (same incarnation and endpoints,
 * the Kafka listener's among them) plans nothing, so a broker that did not hear the answer can ask
 * again without fencing itself. A broker without a Kafka listener registers without its port.
 */
export function planRegisterBroker(
  image: MetadataImage,
  registration: Omit<RegisterBrokerRecord, 'type'>,
): MetadataRecord[] {
  const { kafkaPort, ...endpoints } = registration;
  const record: RegisterBrokerRecord = {
    type: 'registerBroker',
    ...endpoints,
    ...(kafkaPort === undefined ? {} : { kafkaPort }),
  };
  const reason = invalidMetadataRecord(record);
  if (reason !== null) throw new WeirError('INVALID_REQUEST', reason);
  const current = image.broker(record.nodeId);
  if (
    current !== undefined &&
    current.incarnation === record.incarnation &&
    current.host === record.host &&
    current.grpcPort === record.grpcPort &&
    current.httpPort === record.httpPort &&
    current.replicationPort === record.replicationPort &&
    current.kafkaPort === record.kafkaPort
  )
    return [];
  return [record];
}

/**
 * Refuses, as a typed error, a record a request built from values the codec would not take (an
 * id or key out of the log's bounds) rather than failing its encode as a bug.
 */
function validated(records: MetadataRecord[]): MetadataRecord[] {
  for (const r of records) {
    const reason = invalidMetadataRecord(r);
    if (reason === null) continue;
    throw new WeirError(r.type === 'config' ? 'INVALID_CONFIG' : 'INVALID_REQUEST', reason);
  }
  return records;
}
