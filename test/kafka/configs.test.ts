// Topic and broker configs through the Kafka listener: a Kafka admin client (kafkajs) describes and
// alters a topic's configs and sees what weir's own admin API sees; raw requests cover what kafkajs
// does not send (IncrementalAlterConfigs, DescribeConfigs v0 and v4) and the per-resource errors.

import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../client/index.js';
import {
  AlterConfigsApi,
  DescribeConfigsApi,
  IncrementalAlterConfigsApi,
  type DescribeConfigsResult,
  type IncrementalAlterConfigsRequestResource,
} from '../../proto/kafka/generated/index.js';
import { startTestBroker, uniqueTopic, type TestBroker } from '../client/helpers.js';
import { kafkaRequest } from './kafka-request.js';

const TOPIC = 2;
const BROKER = 4;
const INVALID_CONFIG = 40;
const INVALID_REQUEST = 42;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const [SET, DELETE, APPEND, SUBTRACT] = [0, 1, 2, 3];
const [SOURCE_TOPIC, SOURCE_STATIC_BROKER, SOURCE_DEFAULT] = [1, 4, 5];

let broker: TestBroker;
let port: number;
let admin: Admin;

beforeAll(async () => {
  // A broker default for every topic's retention.bytes: a static broker config to Kafka clients.
  broker = await startTestBroker({ kafkaPort: 0, topicDefaults: { 'retention.bytes': '5000000' } });
  port = Number(broker.running.kafkaAddress!.split(':').pop());
  admin = new Admin({ bootstrap: broker.bootstrap });
});

afterAll(async () => {
  await admin?.close();
  await broker?.close();
});

function kafkaAdmin(): ReturnType<Kafka['admin']> {
  return new Kafka({
    clientId: 'weir-test',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
}

function incremental(
  resources: IncrementalAlterConfigsRequestResource[],
  version = 1,
  validateOnly = false,
): Promise<{ errorCode: number; resourceName: string }[]> {
  return kafkaRequest(port, IncrementalAlterConfigsApi, version, {
    throttleTimeMs: 0,
    resources,
    validateOnly,
  } as never).then((r) => r.responses);
}

function describeRaw(
  version: number,
  resources: { resourceType: number; resourceName: string; configurationKeys: string[] | null }[],
  options: { includeSynonyms?: boolean; includeDocumentation?: boolean } = {},
): Promise<DescribeConfigsResult[]> {
  return kafkaRequest(port, DescribeConfigsApi, version, {
    resources,
    includeSynonyms: options.includeSynonyms ?? false,
    includeDocumentation: options.includeDocumentation ?? false,
  }).then((r) => r.results);
}

describe('configs on the Kafka listener', () => {
  it("describes a topic's configs to a Kafka admin client with their sources and synonyms", async () => {
    const topic = uniqueTopic('kconf');
    await admin.createTopic(topic, { partitions: 1, configs: { 'retention.ms': '60000' } });
    const kadmin = kafkaAdmin();
    await kadmin.connect();
    try {
      const { resources } = await kadmin.describeConfigs({
        includeSynonyms: true,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      });
      expect(resources).toHaveLength(1);
      expect(resources[0]!.errorCode).toBe(0);
      const entries = new Map(resources[0]!.configEntries.map((e) => [e.configName, e]));
      // Every config weir's own API reports, with the same values.
      const own = await admin.describeTopic(topic);
      expect([...entries.keys()].sort()).toEqual(Object.keys(own.configs).sort());
      for (const [name, value] of Object.entries(own.configs))
        expect(entries.get(name)!.configValue).toBe(value);
      // Set on the topic, set in the broker's defaults, and weir's own default.
      expect(entries.get('retention.ms')).toMatchObject({
        configValue: '60000',
        configSource: SOURCE_TOPIC,
        readOnly: false,
        configSynonyms: [
          { configName: 'retention.ms', configValue: '60000', configSource: SOURCE_TOPIC },
          {
            configName: 'log.retention.ms',
            configValue: String(7 * 24 * 3600 * 1000),
            configSource: SOURCE_DEFAULT,
          },
        ],
      });
      expect(entries.get('retention.bytes')).toMatchObject({
        configValue: '5000000',
        configSource: SOURCE_STATIC_BROKER,
        configSynonyms: [
          { configName: 'log.retention.bytes', configValue: '5000000', configSource: SOURCE_STATIC_BROKER },
          { configName: 'log.retention.bytes', configValue: '-1', configSource: SOURCE_DEFAULT },
        ],
      });
      expect(entries.get('cleanup.policy')).toMatchObject({
        configValue: 'delete',
        configSource: SOURCE_DEFAULT,
        isDefault: true,
      });

      // Only the configs asked for; a name weir does not know is left out.
      const some = await kadmin.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['segment.bytes', 'no.such'] },
        ],
      });
      expect(some.resources[0]!.configEntries.map((e) => e.configName)).toEqual(['segment.bytes']);
    } finally {
      await kadmin.disconnect();
    }
  });

  it("alters a topic's configs for a Kafka admin client: the set given replaces the topic's own", async () => {
    const topic = uniqueTopic('kalter');
    await admin.createTopic(topic, { partitions: 1, configs: { 'retention.ms': '60000' } });
    const kadmin = kafkaAdmin();
    await kadmin.connect();
    try {
      await kadmin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: topic,
            configEntries: [
              { name: 'cleanup.policy', value: 'compact' },
              { name: 'max.message.bytes', value: '2000000' },
            ],
          },
        ],
      });
      // retention.ms was left out: back to the default.
      expect((await admin.describeTopic(topic)).overrides).toEqual({
        'cleanup.policy': 'compact',
        'max.message.bytes': '2000000',
      });
      // validateOnly changes nothing.
      await kadmin.alterConfigs({
        validateOnly: true,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [] }],
      });
      expect(Object.keys((await admin.describeTopic(topic)).overrides)).toHaveLength(2);
    } finally {
      await kadmin.disconnect();
    }

    // Each resource answers alone: an unknown name, a bad value and a missing topic fail only theirs.
    const missing = uniqueTopic('missing');
    const answer = await kafkaRequest(port, AlterConfigsApi, 2, {
      validateOnly: false,
      resources: [
        { resourceType: TOPIC, resourceName: topic, configs: [{ name: 'min.insync.replicas', value: '2' }] },
        { resourceType: TOPIC, resourceName: topic, configs: [{ name: 'retention.ms', value: 'soon' }] },
        { resourceType: TOPIC, resourceName: missing, configs: [] },
      ],
    });
    // The topic named twice is INVALID_REQUEST for both, as in Kafka.
    expect(answer.responses.map((r) => [r.resourceName, r.errorCode])).toEqual([
      [topic, INVALID_REQUEST],
      [topic, INVALID_REQUEST],
      [missing, UNKNOWN_TOPIC_OR_PARTITION],
    ]);
    // Kafka configs weir does not have, and a value that is not a number: INVALID_CONFIG naming it.
    for (const [name, value] of [
      ['min.insync.replicas', '2'],
      ['message.timestamp.type', 'LogAppendTime'],
      ['retention.ms', 'soon'],
    ] as const) {
      const bad = await kafkaRequest(port, AlterConfigsApi, 0, {
        validateOnly: false,
        resources: [{ resourceType: TOPIC, resourceName: topic, configs: [{ name, value }] }],
      });
      expect(bad.responses[0], name).toMatchObject({ errorCode: INVALID_CONFIG });
      expect(bad.responses[0]!.errorMessage, name).toContain(name);
    }
    expect((await admin.describeTopic(topic)).overrides).toEqual({
      'cleanup.policy': 'compact',
      'max.message.bytes': '2000000',
    });
  });

  it('sets, deletes, appends to and subtracts from configs one at a time (IncrementalAlterConfigs v0, v1)', async () => {
    const topic = uniqueTopic('kincr');
    const other = uniqueTopic('kincr-other');
    await admin.createTopic(topic, {
      partitions: 1,
      configs: { 'retention.ms': '60000', 'flush.ms': '1000' },
    });
    await admin.createTopic(other, { partitions: 1 });

    for (const version of [0, 1]) {
      const answers = await incremental(
        [
          {
            resourceType: TOPIC,
            resourceName: topic,
            configs: [
              { name: 'segment.bytes', configOperation: SET, value: String(1 << 20) },
              { name: 'flush.ms', configOperation: DELETE, value: null },
              { name: 'cleanup.policy', configOperation: APPEND, value: 'compact' },
            ],
          },
          // An unknown name fails its own resource only.
          {
            resourceType: TOPIC,
            resourceName: other,
            configs: [
              { name: 'retention.ms', configOperation: SET, value: '1000' },
              { name: 'no.such.config', configOperation: SET, value: '1' },
            ],
          },
        ],
        version,
      );
      expect(answers.map((a) => [a.resourceName, a.errorCode])).toEqual([
        [topic, 0],
        [other, INVALID_CONFIG],
      ]);
      expect((await admin.describeTopic(topic)).overrides).toEqual({
        'retention.ms': '60000',
        'segment.bytes': String(1 << 20),
        'cleanup.policy': 'delete,compact',
      });
      // Nothing of the failed resource was made, not even its valid change.
      expect((await admin.describeTopic(other)).overrides).toEqual({});
      // Back to the start for the next version.
      expect(
        await incremental([
          {
            resourceType: TOPIC,
            resourceName: topic,
            configs: [
              { name: 'segment.bytes', configOperation: DELETE, value: null },
              { name: 'flush.ms', configOperation: SET, value: '1000' },
              { name: 'cleanup.policy', configOperation: SUBTRACT, value: 'compact' },
            ],
          },
        ]),
      ).toEqual([expect.objectContaining({ errorCode: 0 })]);
      expect((await admin.describeTopic(topic)).overrides).toEqual({
        'retention.ms': '60000',
        'flush.ms': '1000',
        'cleanup.policy': 'delete',
      });
    }

    // Append to a config that is not a list, a bad value, and validateOnly: none changes the topic.
    const before = (await admin.describeTopic(topic)).overrides;
    const refused = await incremental([
      {
        resourceType: TOPIC,
        resourceName: topic,
        configs: [{ name: 'retention.ms', configOperation: APPEND, value: '1' }],
      },
    ]);
    expect(refused[0]!.errorCode).toBe(INVALID_CONFIG);
    const badValue = await incremental([
      {
        resourceType: TOPIC,
        resourceName: topic,
        configs: [{ name: 'retention.ms', configOperation: SET, value: '-7' }],
      },
    ]);
    expect(badValue[0]!.errorCode).toBe(INVALID_CONFIG);
    const validated = await incremental(
      [
        {
          resourceType: TOPIC,
          resourceName: topic,
          configs: [{ name: 'retention.ms', configOperation: SET, value: '5' }],
        },
      ],
      1,
      true,
    );
    expect(validated[0]!.errorCode).toBe(0);
    expect((await admin.describeTopic(topic)).overrides).toEqual(before);

    // The broker's configs are read-only.
    const brokerAlter = await incremental([
      {
        resourceType: BROKER,
        resourceName: String(broker.running.nodeId),
        configs: [{ name: 'log.retention.ms', configOperation: SET, value: '1' }],
      },
    ]);
    expect(brokerAlter[0]!.errorCode).toBe(INVALID_REQUEST);
  });

  it("describes this broker's configs under Kafka's names, read-only, and answers each version's fields", async () => {
    const self = String(broker.running.nodeId);
    const [mine, cluster, otherBroker, unknownType] = await describeRaw(
      4,
      [
        { resourceType: BROKER, resourceName: self, configurationKeys: null },
        { resourceType: BROKER, resourceName: '', configurationKeys: null },
        { resourceType: BROKER, resourceName: String(broker.running.nodeId + 1), configurationKeys: null },
        { resourceType: 16, resourceName: 'x', configurationKeys: null },
      ],
      { includeSynonyms: true, includeDocumentation: true },
    );
    expect(mine!.errorCode).toBe(0);
    const byName = new Map(mine!.configs.map((c) => [c.name, c]));
    expect(byName.get('log.retention.bytes')).toMatchObject({
      value: '5000000',
      readOnly: true,
      configSource: SOURCE_STATIC_BROKER,
      configType: 5,
    });
    expect(byName.get('log.retention.bytes')!.documentation).toMatch(/retention\.bytes/);
    expect(byName.get('node.id')).toMatchObject({ value: self, readOnly: true });
    expect(byName.get('log.cleanup.policy')).toMatchObject({
      value: 'delete',
      configSource: SOURCE_DEFAULT,
      configType: 7,
    });
    // The cluster-wide dynamic defaults: weir has none.
    expect(cluster).toMatchObject({ errorCode: 0, configs: [] });
    expect(otherBroker!.errorCode).toBe(INVALID_REQUEST);
    expect(unknownType!.errorCode).toBe(INVALID_REQUEST);

    // v0 has isDefault and no source, synonyms, type or documentation.
    const topic = uniqueTopic('kv0');
    await admin.createTopic(topic, { partitions: 1, configs: { 'segment.ms': '3600000' } });
    const [v0, missing] = await describeRaw(0, [
      { resourceType: TOPIC, resourceName: topic, configurationKeys: ['segment.ms', 'segment.bytes'] },
      { resourceType: TOPIC, resourceName: uniqueTopic('missing'), configurationKeys: null },
    ]);
    expect(v0!.configs.map((c) => [c.name, c.value, c.isDefault])).toEqual([
      ['segment.bytes', String(1024 * 1024 * 1024), true],
      ['segment.ms', '3600000', false],
    ]);
    expect(missing!.errorCode).toBe(UNKNOWN_TOPIC_OR_PARTITION);
  });
});
