// The controller's planning: each admin request becomes the records that carry it out, or the
// typed error the single broker gives for the same request; and what it plans, applied, gives the
// topic it asked for.

import { describe, expect, it } from 'vitest';
import {
  planAlterConfigs,
  planCreatePartitions,
  planCreateTopic,
  planCompleteReassign,
  planDeleteTopic,
  planReassign,
  planRegisterBroker,
  type CreateTopicRequest,
} from '../../../broker/cluster/controller-planner.js';
import { MetadataImage } from '../../../broker/cluster/metadata-image.js';
import type { MetadataRecord } from '../../../broker/cluster/metadata-records.js';
import { MAX_PARTITIONS_PER_TOPIC } from '../../../broker/topic-admin.js';
import type { TopicLimits } from '../../../broker/topic-registry.js';
import { isWeirError, type ErrorCode } from '../../../proto/errors.js';
import { DEFAULT_LOG_CONFIG } from '../../../storage/index.js';

const LIMITS: TopicLimits = { maxPartitions: MAX_PARTITIONS_PER_TOPIC, topicDefaults: DEFAULT_LOG_CONFIG };
const INC = '11111111-1111-4111-8111-111111111111';
const ID = '5b1f0c3e-8a0e-4c55-9d43-6f1b8a5b7e21';

const registration = (nodeId: number) => ({
  nodeId,
  incarnation: INC,
  host: `b${nodeId}`,
  grpcPort: 9093,
  httpPort: 8080,
  replicationPort: 9094,
});

/** A cluster of `live` unfenced brokers (node ids 1..live) and `fenced` more, fenced. */
function cluster(live: number, fenced = 0): MetadataImage {
  const image = new MetadataImage();
  for (let id = 1; id <= live + fenced; id++) {
    image.apply({ type: 'registerBroker', ...registration(id) });
    if (id <= live) image.apply({ type: 'unfenceBroker', nodeId: id, incarnation: INC });
  }
  return image;
}

function applyAll(image: MetadataImage, records: MetadataRecord[]): MetadataImage {
  for (const r of records) expect(image.apply(r), JSON.stringify(r)).toBeNull();
  return image;
}

const create = (over: Partial<CreateTopicRequest> = {}): CreateTopicRequest => ({
  name: 'orders',
  partitions: 3,
  replicationFactor: 2,
  configs: {},
  ...over,
});

/** The code and message `fn` is refused with. */
function refusal(fn: () => unknown): [ErrorCode, string] {
  try {
    fn();
  } catch (err) {
    if (isWeirError(err)) return [err.code, err.message];
    throw err;
  }
  throw new Error('not refused');
}

describe('planCreateTopic', () => {
  it('plans the topic, each partition placed over the live brokers, then its configs in key order', () => {
    const image = cluster(3, 1);
    const configs = { 'retention.ms': '1000', 'cleanup.policy': 'compact' };
    expect(planCreateTopic(image, create({ configs }), ID, LIMITS)).toEqual([
      { type: 'topic', name: 'orders', topicId: ID, partitions: 3, replicationFactor: 2 },
      { type: 'partition', topic: 'orders', partition: 0, replicas: [1, 2] },
      { type: 'partition', topic: 'orders', partition: 1, replicas: [2, 3] },
      { type: 'partition', topic: 'orders', partition: 2, replicas: [3, 1] },
      { type: 'config', topic: 'orders', key: 'cleanup.policy', value: 'compact' },
      { type: 'config', topic: 'orders', key: 'retention.ms', value: '1000' },
    ]);
  });

  it('applied, gives the topic asked for', () => {
    const image = cluster(3);
    applyAll(image, planCreateTopic(image, create({ configs: { 'retention.ms': '5' } }), ID, LIMITS));
    expect(image.topic('orders')).toMatchObject({
      topicId: ID,
      replicationFactor: 2,
      configs: { 'retention.ms': '5' },
    });
    expect(image.topic('orders')?.partitions).toHaveLength(3);
  });

  it('places a second topic on the least loaded brokers', () => {
    const image = cluster(3);
    applyAll(image, planCreateTopic(image, create({ partitions: 1, replicationFactor: 2 }), ID, LIMITS));
    const second = planCreateTopic(
      image,
      create({ name: 'b', partitions: 1, replicationFactor: 1 }),
      ID,
      LIMITS,
    );
    expect(second[1]).toMatchObject({ replicas: [3] });
  });

  it.each<[string, Partial<CreateTopicRequest>, ErrorCode, RegExp]>([
    ['an illegal name', { name: 'a/b' }, 'INVALID_TOPIC_EXCEPTION', /outside \[a-zA-Z0-9._-\]/],
    ['an empty name', { name: '' }, 'INVALID_TOPIC_EXCEPTION', /empty/],
    ['a reserved name', { name: '__mine' }, 'POLICY_VIOLATION', /reserved for the broker/],
    ['an internal topic without the prefix', { internal: true }, 'POLICY_VIOLATION', /must start with '__'/],
    ['no partitions', { partitions: 0 }, 'INVALID_PARTITIONS', /1 to 10000 partitions, got 0/],
    ['too many partitions', { partitions: 10_001 }, 'INVALID_PARTITIONS', /got 10001/],
    ['a fraction of a partition', { partitions: 1.5 }, 'INVALID_PARTITIONS', /got 1.5/],
    ['replication factor 0', { replicationFactor: 0 }, 'INVALID_REPLICATION_FACTOR', /integer from 1/],
    [
      'more replicas than live brokers',
      { replicationFactor: 4 },
      'INVALID_REPLICATION_FACTOR',
      /needs 4 live brokers; 3 live \(1, 2, 3\)/,
    ],
    [
      'an unknown config',
      { configs: { 'retention.weeks': '1' } },
      'INVALID_CONFIG',
      /unknown config key 'retention.weeks'/,
    ],
    [
      'a bad config value',
      { configs: { 'retention.ms': 'soon' } },
      'INVALID_CONFIG',
      /retention.ms must be an integer/,
    ],
  ])('refuses %s', (_what, over, code, message) => {
    const [got, text] = refusal(() => planCreateTopic(cluster(3, 2), create(over), ID, LIMITS));
    expect(got).toBe(code);
    expect(text).toMatch(message);
  });

  it('creates an internal topic when asked to', () => {
    const records = planCreateTopic(
      cluster(1),
      create({ name: '__offsets', replicationFactor: 1, internal: true }),
      ID,
      LIMITS,
    );
    expect(records[0]).toMatchObject({ type: 'topic', name: '__offsets' });
  });

  it('refuses a name taken, and one that collides in metric names', () => {
    const image = cluster(3);
    applyAll(image, planCreateTopic(image, create({ name: 'a.b' }), ID, LIMITS));
    expect(refusal(() => planCreateTopic(image, create({ name: 'a.b' }), ID, LIMITS))).toEqual([
      'TOPIC_ALREADY_EXISTS',
      "TOPIC_ALREADY_EXISTS: topic already exists: topic 'a.b' already exists",
    ]);
    expect(refusal(() => planCreateTopic(image, create({ name: 'a_b' }), ID, LIMITS))[1]).toMatch(
      /'a_b' collides with 'a.b'/,
    );
  });

  it('refuses a topic id the log cannot hold', () => {
    expect(refusal(() => planCreateTopic(cluster(3), create(), 'not an id', LIMITS))[0]).toBe(
      'INVALID_REQUEST',
    );
  });
});

describe('planDeleteTopic', () => {
  it('removes a topic', () => {
    const image = cluster(2);
    applyAll(image, planCreateTopic(image, create({ replicationFactor: 1 }), ID, LIMITS));
    expect(planDeleteTopic(image, 'orders')).toEqual([{ type: 'removeTopic', name: 'orders' }]);
  });

  it('refuses an unknown topic, an illegal name and an internal topic', () => {
    const image = cluster(1);
    applyAll(
      image,
      planCreateTopic(image, create({ name: '__o', replicationFactor: 1, internal: true }), ID, LIMITS),
    );
    expect(refusal(() => planDeleteTopic(image, 'nope'))[0]).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(refusal(() => planDeleteTopic(image, '..'))[0]).toBe('INVALID_TOPIC_EXCEPTION');
    expect(refusal(() => planDeleteTopic(image, '__o'))).toEqual([
      'POLICY_VIOLATION',
      "POLICY_VIOLATION: not allowed by the broker: internal topic '__o' cannot be deleted",
    ]);
  });
});

describe('planCreatePartitions', () => {
  it('adds the new partitions after the last, with the topic replication factor', () => {
    const image = cluster(3);
    applyAll(image, planCreateTopic(image, create({ partitions: 1 }), ID, LIMITS));
    const records = planCreatePartitions(image, 'orders', 3, LIMITS);
    expect(records.map((r) => r.type === 'partition' && [r.partition, r.replicas.length])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    applyAll(image, records);
    expect(image.topic('orders')?.partitions).toHaveLength(3);
  });

  it('refuses to shrink, to stay, to pass the limit, an unknown topic, and too few live brokers', () => {
    const image = cluster(3);
    applyAll(image, planCreateTopic(image, create({ partitions: 2, replicationFactor: 3 }), ID, LIMITS));
    for (const count of [1, 2, 10_001, 2.5])
      expect(refusal(() => planCreatePartitions(image, 'orders', count, LIMITS))).toEqual([
        'INVALID_PARTITIONS',
        expect.stringContaining(`topic 'orders' has 2 partitions; the new count must be larger`),
      ]);
    expect(refusal(() => planCreatePartitions(image, 'nope', 5, LIMITS))[0]).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
    image.apply({ type: 'fenceBroker', nodeId: 3, incarnation: INC });
    expect(refusal(() => planCreatePartitions(image, 'orders', 3, LIMITS))[0]).toBe(
      'INVALID_REPLICATION_FACTOR',
    );
  });
});

describe('planReassign and planCompleteReassign', () => {
  /** Three live brokers, a fourth fenced, and 'orders' with two partitions on brokers 1 and 2. */
  function placed(): MetadataImage {
    const image = cluster(3, 1);
    applyAll(image, [
      { type: 'topic', name: 'orders', topicId: ID, partitions: 2, replicationFactor: 2 },
      { type: 'partition', topic: 'orders', partition: 0, replicas: [1, 2] },
      { type: 'partition', topic: 'orders', partition: 1, replicas: [2, 1] },
    ]);
    return image;
  }

  it('records each target; applied, the partitions move while their replicas stay', () => {
    const image = placed();
    const records = planReassign(image, 'orders', [
      { partition: 0, replicas: [3, 2] },
      { partition: 1, replicas: [2, 1, 3] },
    ]);
    expect(records).toEqual([
      { type: 'reassign', topic: 'orders', partition: 0, target: [3, 2] },
      { type: 'reassign', topic: 'orders', partition: 1, target: [2, 1, 3] },
    ]);
    applyAll(image, records);
    expect(image.topic('orders')?.partitions).toEqual([
      { replicas: [1, 2], target: [3, 2] },
      { replicas: [2, 1], target: [2, 1, 3] },
    ]);
    // Placement counts a moving partition where it goes.
    expect(image.load().get(3)).toEqual({ replicas: 2, leaders: 1 });
  });

  it('completes only the move in flight to exactly the replicas reported, once', () => {
    const image = placed();
    applyAll(image, planReassign(image, 'orders', [{ partition: 0, replicas: [3, 2] }]));
    expect(planCompleteReassign(image, 'orders', 0, [2, 3])).toEqual([]);
    expect(planCompleteReassign(image, 'orders', 1, [2, 1])).toEqual([]);
    expect(planCompleteReassign(image, 'gone', 0, [3, 2])).toEqual([]);
    const done = planCompleteReassign(image, 'orders', 0, [3, 2]);
    expect(done).toEqual([{ type: 'partition', topic: 'orders', partition: 0, replicas: [3, 2] }]);
    applyAll(image, done);
    expect(image.topic('orders')?.partitions[0]).toEqual({ replicas: [3, 2], target: null });
    expect(planCompleteReassign(image, 'orders', 0, [3, 2])).toEqual([]);
  });

  it('refuses a move in flight, fenced or unknown brokers, a target equal to the replicas, and bad partitions', () => {
    const image = placed();
    applyAll(image, planReassign(image, 'orders', [{ partition: 0, replicas: [3, 2] }]));
    expect(refusal(() => planReassign(image, 'orders', [{ partition: 0, replicas: [1, 3] }]))).toEqual([
      'REASSIGNMENT_IN_PROGRESS',
      expect.stringContaining('orders/0 is already moving to brokers 3, 2'),
    ]);
    expect(refusal(() => planReassign(image, 'orders', [{ partition: 1, replicas: [4, 1] }]))).toEqual([
      'INVALID_REPLICA_ASSIGNMENT',
      expect.stringContaining('brokers 4 are not registered and live'),
    ]);
    expect(refusal(() => planReassign(image, 'orders', [{ partition: 1, replicas: [9] }]))[0]).toBe(
      'INVALID_REPLICA_ASSIGNMENT',
    );
    expect(refusal(() => planReassign(image, 'orders', [{ partition: 1, replicas: [2, 1] }]))).toEqual([
      'INVALID_REPLICA_ASSIGNMENT',
      expect.stringContaining('orders/1 is on brokers 2, 1 already'),
    ]);
    expect(refusal(() => planReassign(image, 'orders', [{ partition: 1, replicas: [3, 3] }]))[0]).toBe(
      'INVALID_REPLICA_ASSIGNMENT',
    );
    expect(refusal(() => planReassign(image, 'orders', [{ partition: 1, replicas: [] }]))[0]).toBe(
      'INVALID_REPLICA_ASSIGNMENT',
    );
    expect(refusal(() => planReassign(image, 'orders', [{ partition: 2, replicas: [3] }]))[0]).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
    expect(
      refusal(() =>
        planReassign(image, 'orders', [
          { partition: 1, replicas: [3] },
          { partition: 1, replicas: [1] },
        ]),
      )[0],
    ).toBe('INVALID_REQUEST');
    expect(refusal(() => planReassign(image, 'orders', []))[0]).toBe('INVALID_REQUEST');
    expect(refusal(() => planReassign(image, 'nope', [{ partition: 0, replicas: [3] }]))[0]).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
    // One refused move refuses the request: partition 1 did not start moving.
    expect(image.topic('orders')?.partitions[1]?.target).toBeNull();
  });
});

describe('planAlterConfigs', () => {
  function withTopic(configs: Record<string, string>): MetadataImage {
    const image = cluster(1);
    return applyAll(image, planCreateTopic(image, create({ replicationFactor: 1, configs }), ID, LIMITS));
  }

  it('plans only the keys that change: set, changed, removed', () => {
    const image = withTopic({ 'retention.ms': '1000', 'cleanup.policy': 'compact', 'segment.ms': '60000' });
    const records = planAlterConfigs(
      image,
      'orders',
      { 'retention.ms': '2000', 'cleanup.policy': 'compact', 'retention.bytes': '10' },
      ['segment.ms', 'max.message.bytes'],
      LIMITS,
    );
    expect(records).toEqual([
      { type: 'config', topic: 'orders', key: 'retention.bytes', value: '10' },
      { type: 'config', topic: 'orders', key: 'retention.ms', value: '2000' },
      { type: 'config', topic: 'orders', key: 'segment.ms', value: null },
    ]);
    applyAll(image, records);
    expect(image.topic('orders')?.configs).toEqual({
      'cleanup.policy': 'compact',
      'retention.bytes': '10',
      'retention.ms': '2000',
    });
  });

  it('plans nothing for a request that changes nothing', () => {
    expect(
      planAlterConfigs(withTopic({ 'retention.ms': '1' }), 'orders', { 'retention.ms': '1' }, [], LIMITS),
    ).toEqual([]);
  });

  it('refuses a bad value, an unknown key, a key both set and removed, and an unknown topic', () => {
    const image = withTopic({});
    expect(refusal(() => planAlterConfigs(image, 'orders', { 'retention.ms': '-5' }, [], LIMITS))[0]).toBe(
      'INVALID_CONFIG',
    );
    expect(refusal(() => planAlterConfigs(image, 'orders', { nope: '1' }, [], LIMITS))[0]).toBe(
      'INVALID_CONFIG',
    );
    expect(
      refusal(() => planAlterConfigs(image, 'orders', { 'retention.ms': '1' }, ['retention.ms'], LIMITS)),
    ).toEqual([
      'INVALID_REQUEST',
      "INVALID_REQUEST: invalid request: config 'retention.ms' is both set and removed in one request",
    ]);
    expect(refusal(() => planAlterConfigs(image, 'nope', {}, [], LIMITS))[0]).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
  });
});

describe('planRegisterBroker', () => {
  it('registers a new broker, a new incarnation, and changed endpoints', () => {
    const image = new MetadataImage();
    expect(planRegisterBroker(image, registration(1))).toEqual([
      { type: 'registerBroker', ...registration(1) },
    ]);
    image.apply({ type: 'registerBroker', ...registration(1) });
    const restarted = { ...registration(1), incarnation: '22222222-2222-4222-8222-222222222222' };
    expect(planRegisterBroker(image, restarted)).toEqual([{ type: 'registerBroker', ...restarted }]);
    expect(planRegisterBroker(image, { ...registration(1), httpPort: 8081 })).toHaveLength(1);
  });

  it('registers a Kafka listener that opened, moved or closed, and carries its port into the image', () => {
    const image = new MetadataImage();
    image.apply({ type: 'registerBroker', ...registration(1) });
    const opened = planRegisterBroker(image, { ...registration(1), kafkaPort: 9092 });
    expect(opened).toEqual([{ type: 'registerBroker', ...registration(1), kafkaPort: 9092 }]);
    image.apply(opened[0]!);
    expect(image.broker(1)?.kafkaPort).toBe(9092);
    expect(planRegisterBroker(image, { ...registration(1), kafkaPort: 9092 })).toEqual([]);
    expect(planRegisterBroker(image, { ...registration(1), kafkaPort: 19092 })).toHaveLength(1);
    // A port given as undefined is no port: the record leaves the field out.
    const closed = planRegisterBroker(image, { ...registration(1), kafkaPort: undefined });
    expect(closed).toEqual([{ type: 'registerBroker', ...registration(1) }]);
    expect(Object.hasOwn(closed[0]!, 'kafkaPort')).toBe(false);
    image.apply(closed[0]!);
    expect(image.broker(1)?.kafkaPort).toBeUndefined();
  });

  it('plans nothing for a retry of the registration in force', () => {
    const image = new MetadataImage();
    image.apply({ type: 'registerBroker', ...registration(1) });
    image.apply({ type: 'unfenceBroker', nodeId: 1, incarnation: INC });
    expect(planRegisterBroker(image, registration(1))).toEqual([]);
    expect(image.broker(1)?.fenced).toBe(false);
  });

  it('refuses a registration the log cannot hold', () => {
    expect(
      refusal(() => planRegisterBroker(new MetadataImage(), { ...registration(1), grpcPort: 0 })),
    ).toEqual([
      'INVALID_REQUEST',
      expect.stringContaining('registerBroker.grpcPort: 0 is not an integer from 1 to 65535'),
    ]);
  });
});
