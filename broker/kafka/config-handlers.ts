// Configs on the Kafka listener: DescribeConfigs of topics and of this broker, and AlterConfigs and
// IncrementalAlterConfigs of topics, over the broker's own topic-config calls (the same ones
// `weir topic alter` and the HTTP admin API use, through the controller when the broker has peers).
//
// As in Kafka, each resource gets its own answer: an unknown config name is INVALID_CONFIG for that
// resource, a topic that does not exist UNKNOWN_TOPIC_OR_PARTITION, and neither fails the others.
// A resource's changes are checked whole before any is made, so a bad one leaves the topic as it
// was. The broker's configs are read-only (weir reads its config once, at start): altering them is
// INVALID_REQUEST, as Kafka answers for configs it cannot change while running.

import { WeirError } from '../../proto/errors.js';
import {
  AlterConfigsApi,
  DescribeConfigsApi,
  IncrementalAlterConfigsApi,
  type DescribeConfigsRequestResource,
  type DescribeConfigsResourceResult,
  type DescribeConfigsResult,
} from '../../proto/kafka/generated/index.js';
import { logConfigFrom } from '../../storage/index.js';
import type { Broker } from '../broker.js';
import {
  RESOURCE_BROKER,
  RESOURCE_BROKER_LOGGER,
  RESOURCE_TOPIC,
  SOURCE_DEFAULT,
  brokerConfigs,
  isListConfig,
  isTopicConfig,
  topicConfigs,
  type DescribedConfig,
} from './config-catalog.js';
import { failure } from './error-answers.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';

/** IncrementalAlterConfigs operations. */
const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;
const OP_SUBTRACT = 3;

/** A broker resource names this broker by its id; '' is the cluster-wide default, which is empty. */
function brokerResource(broker: Broker, name: string): 'self' | 'cluster' {
  if (name === '') return 'cluster';
  if (name !== String(broker.config.nodeId))
    throw new WeirError(
      'INVALID_REQUEST',
      `unexpected broker id: this is broker ${broker.config.nodeId}, asked for '${name}'`,
    );
  return 'self';
}

function unsupportedType(type: number): WeirError {
  return new WeirError('INVALID_REQUEST', `weir has no configs of resource type ${type}`);
}

function describedConfigs(broker: Broker, r: DescribeConfigsRequestResource): DescribedConfig[] {
  if (r.resourceType === RESOURCE_TOPIC) {
    const d = broker.describeTopic(r.resourceName);
    return topicConfigs(d.overrides, d.configs, broker.config);
  }
  if (r.resourceType === RESOURCE_BROKER)
    return brokerResource(broker, r.resourceName) === 'self' ? brokerConfigs(broker.config) : [];
  throw unsupportedType(r.resourceType);
}

function describeOne(
  broker: Broker,
  r: DescribeConfigsRequestResource,
  includeSynonyms: boolean,
  includeDocumentation: boolean,
): DescribeConfigsResult {
  const answer = {
    errorCode: 0,
    errorMessage: null,
    resourceType: r.resourceType,
    resourceName: r.resourceName,
  };
  try {
    // Null or empty: every config; otherwise those named (a name weir does not know is left out).
    const keys =
      r.configurationKeys === null || r.configurationKeys.length === 0 ? null : r.configurationKeys;
    const configs = describedConfigs(broker, r)
      .filter((c) => keys === null || keys.includes(c.name))
      .map((c): DescribeConfigsResourceResult => ({
        name: c.name,
        value: c.value,
        readOnly: c.readOnly,
        isDefault: c.source === SOURCE_DEFAULT,
        configSource: c.source,
        isSensitive: false,
        synonyms: includeSynonyms ? c.synonyms.map((s) => ({ ...s })) : [],
        configType: c.type,
        documentation: includeDocumentation ? c.doc : null,
      }));
    return { ...answer, configs };
  } catch (err) {
    return { ...answer, ...failure(err), configs: [] };
  }
}

export function describeConfigsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: DescribeConfigsApi,
    handle: (request) => ({
      ...DescribeConfigsApi.defaultResponse(),
      results: request.resources.map((r) =>
        describeOne(broker, r, request.includeSynonyms, request.includeDocumentation),
      ),
    }),
  });
}

/** The change to a topic's own configs: values to set, names to drop. */
interface TopicChange {
  readonly set: Record<string, string>;
  readonly remove: string[];
}

function requireTopicConfig(name: string): void {
  if (!isTopicConfig(name)) throw new WeirError('INVALID_CONFIG', `unknown config key '${name}'`);
}

function requireOnce(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new WeirError('INVALID_REQUEST', `config ${n} is named twice`);
    seen.add(n);
  }
}

/** A list config's items, as Kafka splits them (commas, spaces trimmed, empty items dropped). */
function items(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** An IncrementalAlterConfigs operation on one config, into `change`; `effective` is the value now. */
function applyOperation(
  change: TopicChange,
  op: { name: string; configOperation: number; value: string | null },
  effective: string,
): void {
  const { name, configOperation, value } = op;
  requireTopicConfig(name);
  if (configOperation === OP_DELETE) {
    change.remove.push(name);
    return;
  }
  if (value === null) throw new WeirError('INVALID_REQUEST', `config ${name} has no value`);
  if (configOperation === OP_SET) {
    change.set[name] = value;
    return;
  }
  if (configOperation !== OP_APPEND && configOperation !== OP_SUBTRACT)
    throw new WeirError('INVALID_REQUEST', `unknown config operation ${configOperation} for ${name}`);
  if (!isListConfig(name))
    throw new WeirError('INVALID_CONFIG', `${name} is not a list: only list configs take append or subtract`);
  const now = items(effective);
  const given = items(value);
  const next =
    configOperation === OP_APPEND
      ? [...now, ...given.filter((v) => !now.includes(v))]
      : now.filter((v) => !given.includes(v));
  change.set[name] = next.join(',');
}

/**
 * Checks a topic's change whole (the topic exists, every value is valid over the broker's
 * defaults), then makes it unless only asked to validate.
 */
async function alterTopic(
  broker: Broker,
  topic: string,
  change: (
    overrides: Readonly<Record<string, string>>,
    effective: Readonly<Record<string, string>>,
  ) => TopicChange,
  validateOnly: boolean,
): Promise<void> {
  const d = broker.describeTopic(topic);
  const { set, remove } = change(d.overrides, d.configs);
  const next: Record<string, string> = { ...d.overrides, ...set };
  for (const name of remove) delete next[name];
  logConfigFrom(next, broker.config.topicDefaults);
  if (!validateOnly) await broker.adminAlterTopicConfig(topic, set, remove);
}

/** Refuses a resource that is not a topic: the broker's configs are read-only, others unknown. */
function requireTopicResource(broker: Broker, type: number, name: string): void {
  if (type === RESOURCE_TOPIC) return;
  if (type === RESOURCE_BROKER || type === RESOURCE_BROKER_LOGGER) {
    brokerResource(broker, name);
    throw new WeirError(
      'INVALID_REQUEST',
      "weir's broker configs are read-only: they are read once, at start (flags, WEIR_* variables, --config)",
    );
  }
  throw unsupportedType(type);
}

/** Each resource's answer; a resource named twice in one request is INVALID_REQUEST, as in Kafka. */
async function perResource<R extends { resourceType: number; resourceName: string }>(
  resources: readonly R[],
  alter: (r: R) => Promise<void>,
): Promise<{ errorCode: number; errorMessage: string | null; resourceType: number; resourceName: string }[]> {
  const counts = new Map<string, number>();
  const key = (r: R): string => `${r.resourceType}:${r.resourceName}`;
  for (const r of resources) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  const out = [];
  for (const r of resources) {
    const answer = {
      errorCode: 0,
      errorMessage: null,
      resourceType: r.resourceType,
      resourceName: r.resourceName,
    };
    try {
      if (counts.get(key(r))! > 1)
        throw new WeirError('INVALID_REQUEST', `resource ${r.resourceName} is named more than once`);
      await alter(r);
      out.push(answer);
    } catch (err) {
      out.push({ ...answer, ...failure(err) });
    }
  }
  return out;
}

export function incrementalAlterConfigsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: IncrementalAlterConfigsApi,
    handle: async (request) => ({
      ...IncrementalAlterConfigsApi.defaultResponse(),
      responses: await perResource(request.resources, async (r) => {
        requireTopicResource(broker, r.resourceType, r.resourceName);
        requireOnce(r.configs.map((c) => c.name));
        await alterTopic(
          broker,
          r.resourceName,
          (_overrides, effective) => {
            const change: TopicChange = { set: {}, remove: [] };
            for (const c of r.configs) applyOperation(change, c, effective[c.name] ?? '');
            return change;
          },
          request.validateOnly,
        );
      }),
    }),
  });
}

/** AlterConfigs replaces a topic's own configs with those given: the ones left out go back to defaults. */
export function alterConfigsHandler(broker: Broker): KafkaHandler {
  return kafkaHandler({
    api: AlterConfigsApi,
    handle: async (request) => ({
      ...AlterConfigsApi.defaultResponse(),
      responses: await perResource(request.resources, async (r) => {
        requireTopicResource(broker, r.resourceType, r.resourceName);
        requireOnce(r.configs.map((c) => c.name));
        await alterTopic(
          broker,
          r.resourceName,
          (overrides) => {
            const set: Record<string, string> = {};
            for (const c of r.configs) {
              requireTopicConfig(c.name);
              if (c.value === null) throw new WeirError('INVALID_REQUEST', `config ${c.name} has no value`);
              set[c.name] = c.value;
            }
            return { set, remove: Object.keys(overrides).filter((n) => !(n in set)) };
          },
          request.validateOnly,
        );
      }),
    }),
  });
}
