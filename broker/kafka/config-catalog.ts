// What a Kafka client is told about a config: its Kafka type, the broker config that sets its
// default (Kafka's "synonym": log.retention.ms for retention.ms), where its value comes from, and
// its documentation. weir's topic configs already carry Kafka's names (storage/log-config.ts); this
// adds only the facts DescribeConfigs reports beside the value.
//
// Where a value comes from (Kafka's config sources): set on the topic (1, a dynamic topic config),
// set in the broker's topicDefaults (4, a static broker config: weir reads its config once at
// start, so none is dynamic), or weir's own default (5). A broker default equal to weir's own
// counts as weir's own: the resolved config no longer says whether it was written down.

import assert from 'node:assert/strict';
import {
  DEFAULT_LOG_CONFIG,
  LOG_CONFIG_NAMES,
  LOG_CONFIG_NUMBERS,
  logConfigEntries,
} from '../../storage/index.js';
import { BROKER_CONFIG_KEYS, type BrokerConfig } from '../config.js';

/** ConfigResource types on the wire. */
export const RESOURCE_TOPIC = 2;
export const RESOURCE_BROKER = 4;
export const RESOURCE_BROKER_LOGGER = 8;

/** Config sources on the wire. */
export const SOURCE_TOPIC = 1;
export const SOURCE_STATIC_BROKER = 4;
export const SOURCE_DEFAULT = 5;

/** Config types on the wire (DescribeConfigs v3+). */
const TYPE_BOOLEAN = 1;
const TYPE_STRING = 2;
const TYPE_INT = 3;
const TYPE_LONG = 5;
const TYPE_DOUBLE = 6;
const TYPE_LIST = 7;

interface TopicConfigFacts {
  /** Kafka's type of the value. */
  readonly type: number;
  /** The broker config that sets the default of every topic, as Kafka names it. */
  readonly brokerName: string;
}

// prettier-ignore
const TOPIC_CONFIG_FACTS: Readonly<Record<string, TopicConfigFacts>> = {
  'segment.bytes': { type: TYPE_INT, brokerName: 'log.segment.bytes' },
  'segment.ms': { type: TYPE_LONG, brokerName: 'log.roll.ms' },
  'segment.index.bytes': { type: TYPE_INT, brokerName: 'log.index.size.max.bytes' },
  'index.interval.bytes': { type: TYPE_INT, brokerName: 'log.index.interval.bytes' },
  'flush.messages': { type: TYPE_LONG, brokerName: 'log.flush.interval.messages' },
  'flush.ms': { type: TYPE_LONG, brokerName: 'log.flush.interval.ms' },
  'retention.ms': { type: TYPE_LONG, brokerName: 'log.retention.ms' },
  'retention.bytes': { type: TYPE_LONG, brokerName: 'log.retention.bytes' },
  'delete.retention.ms': { type: TYPE_LONG, brokerName: 'log.cleaner.delete.retention.ms' },
  'min.cleanable.dirty.ratio': { type: TYPE_DOUBLE, brokerName: 'log.cleaner.min.cleanable.ratio' },
  'max.message.bytes': { type: TYPE_INT, brokerName: 'message.max.bytes' },
  'cleanup.policy': { type: TYPE_LIST, brokerName: 'log.cleanup.policy' },
};

// Every topic config has its facts, and nothing else does.
assert.deepEqual(Object.keys(TOPIC_CONFIG_FACTS).sort(), [...LOG_CONFIG_NAMES].sort());

const CLEANUP_POLICY_DOC =
  'delete (retention removes old segments), compact (keep the latest record of each key), or both';

/** Configs whose value is a comma-separated list (IncrementalAlterConfigs may append or subtract). */
export function isListConfig(name: string): boolean {
  return TOPIC_CONFIG_FACTS[name]?.type === TYPE_LIST;
}

export function isTopicConfig(name: string): boolean {
  return TOPIC_CONFIG_FACTS[name] !== undefined;
}

/** One config as DescribeConfigs answers it (before the version decides which fields go out). */
export interface DescribedConfig {
  readonly name: string;
  readonly value: string;
  readonly source: number;
  readonly readOnly: boolean;
  readonly type: number;
  readonly doc: string;
  /** Where the value could come from, highest priority first, as Kafka lists synonyms. */
  readonly synonyms: readonly { name: string; value: string; source: number }[];
}

function topicConfigDoc(name: string): string {
  return LOG_CONFIG_NUMBERS.find((d) => d.name === name)?.doc ?? CLEANUP_POLICY_DOC;
}

/**
 * A topic's configs: each with its value (the topic's own, else the broker's default, else weir's),
 * its source, and as synonyms the topic's setting and the broker's where each is set, then weir's
 * default under the broker config's name.
 */
export function topicConfigs(
  overrides: Readonly<Record<string, string>>,
  effective: Readonly<Record<string, string>>,
  broker: Pick<BrokerConfig, 'topicDefaults'>,
): DescribedConfig[] {
  const brokerDefaults = logConfigEntries(broker.topicDefaults);
  const builtIn = logConfigEntries(DEFAULT_LOG_CONFIG);
  return LOG_CONFIG_NAMES.map((name) => {
    const facts = TOPIC_CONFIG_FACTS[name]!;
    const synonyms: { name: string; value: string; source: number }[] = [];
    if (name in overrides) synonyms.push({ name, value: effective[name]!, source: SOURCE_TOPIC });
    if (brokerDefaults[name] !== builtIn[name])
      synonyms.push({ name: facts.brokerName, value: brokerDefaults[name]!, source: SOURCE_STATIC_BROKER });
    synonyms.push({ name: facts.brokerName, value: builtIn[name]!, source: SOURCE_DEFAULT });
    return {
      name,
      value: effective[name]!,
      source: synonyms[0]!.source,
      readOnly: false,
      type: facts.type,
      doc: topicConfigDoc(name),
      synonyms,
    };
  });
}

/** The broker configs a Kafka client may know by Kafka's name, and weir's key for each. */
// prettier-ignore
const BROKER_CONFIG_NAMES: readonly { kafka: string; key: keyof BrokerConfig; type: number }[] = [
  { kafka: 'node.id', key: 'nodeId', type: TYPE_INT },
  { kafka: 'auto.create.topics.enable', key: 'autoCreateTopics', type: TYPE_BOOLEAN },
  { kafka: 'num.partitions', key: 'defaultPartitions', type: TYPE_INT },
  { kafka: 'default.replication.factor', key: 'defaultReplicationFactor', type: TYPE_INT },
  { kafka: 'socket.request.max.bytes', key: 'maxRequestBytes', type: TYPE_INT },
  { kafka: 'replica.lag.time.max.ms', key: 'replicaLagTimeMaxMs', type: TYPE_LONG },
  { kafka: 'offsets.topic.num.partitions', key: 'offsetsTopicPartitions', type: TYPE_INT },
  { kafka: 'group.consumer.heartbeat.interval.ms', key: 'groupHeartbeatIntervalMs', type: TYPE_INT },
  { kafka: 'group.consumer.session.timeout.ms', key: 'groupSessionTimeoutMs', type: TYPE_INT },
  { kafka: 'group.consumer.min.session.timeout.ms', key: 'groupMinSessionTimeoutMs', type: TYPE_INT },
  { kafka: 'group.consumer.max.session.timeout.ms', key: 'groupMaxSessionTimeoutMs', type: TYPE_INT },
  { kafka: 'log.dirs', key: 'dataDir', type: TYPE_STRING },
];

/**
 * This broker's configs under Kafka's names: the topic defaults (log.retention.ms, ...) and the
 * broker settings above. All read-only: weir reads its config once, at start.
 */
export function brokerConfigs(config: BrokerConfig): DescribedConfig[] {
  const defaults = logConfigEntries(config.topicDefaults);
  const builtIn = logConfigEntries(DEFAULT_LOG_CONFIG);
  const out: DescribedConfig[] = LOG_CONFIG_NAMES.map((name) =>
    brokerEntry(
      TOPIC_CONFIG_FACTS[name]!.brokerName,
      defaults[name]!,
      builtIn[name]!,
      TOPIC_CONFIG_FACTS[name]!.type,
      `default of every topic's ${name}: ${topicConfigDoc(name)}`,
    ),
  );
  for (const b of BROKER_CONFIG_NAMES) {
    const def = BROKER_CONFIG_KEYS.find((d) => d.key === b.key);
    assert(def !== undefined, `no broker config key ${b.key}`);
    out.push(brokerEntry(b.kafka, String(config[b.key]), String(def.default), b.type, def.doc));
  }
  return out;
}

/** A broker config: set in the broker's config when it differs from weir's default. */
function brokerEntry(
  name: string,
  value: string,
  builtIn: string,
  type: number,
  doc: string,
): DescribedConfig {
  const synonyms = [{ name, value: builtIn, source: SOURCE_DEFAULT }];
  if (value !== builtIn) synonyms.unshift({ name, value, source: SOURCE_STATIC_BROKER });
  return { name, value, source: synonyms[0]!.source, readOnly: true, type, doc, synonyms };
}
