// fast-check generators for metadata records, and a few fixed records, shared by the cluster suites.

import fc from 'fast-check';
import {
  MAX_CONFIG_KEY_LENGTH,
  MAX_HOST_LENGTH,
  MAX_NODE_ID,
  MAX_PARTITION_COUNT,
  MAX_REPLICATION_FACTOR,
  type MetadataRecord,
} from '../../../broker/cluster/metadata-records.js';

/** Small ids most of the time (so records meet), the int32 edge now and then. */
export const nodeId = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 9 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: MAX_NODE_ID }) },
);
export const incarnation = fc.uuid();
const port = fc.integer({ min: 1, max: 65_535 });
// Any characters but whitespace and controls, up to the limit (IPv6 literals and names alike).
const host = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
  .map((s) => s.replace(/[\s\p{Cc}]/gu, 'x').slice(0, MAX_HOST_LENGTH))
  .filter((s) => s.length > 0);
const LEGAL = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-';
export const topicName = fc
  .string({ unit: fc.constantFrom(...LEGAL), minLength: 1, maxLength: 30 })
  .filter((s) => s !== '.' && s !== '..');
const configKey = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._-'),
  minLength: 1,
  maxLength: MAX_CONFIG_KEY_LENGTH,
});
const count = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: MAX_PARTITION_COUNT }));

interface Draws {
  readonly nodeId: fc.Arbitrary<number>;
  readonly incarnation: fc.Arbitrary<string>;
  readonly topicName: fc.Arbitrary<string>;
  readonly partition: fc.Arbitrary<number>;
}

function records(d: Draws): fc.Arbitrary<MetadataRecord> {
  return fc.oneof(
    fc.record(
      {
        type: fc.constant('registerBroker' as const),
        nodeId: d.nodeId,
        incarnation: d.incarnation,
        host,
        grpcPort: port,
        httpPort: port,
        replicationPort: port,
        kafkaPort: port,
      },
      // A broker without a Kafka listener registers without its port.
      { requiredKeys: ['type', 'nodeId', 'incarnation', 'host', 'grpcPort', 'httpPort', 'replicationPort'] },
    ),
    fc.record({ type: fc.constant('fenceBroker' as const), nodeId: d.nodeId, incarnation: d.incarnation }),
    fc.record({ type: fc.constant('unfenceBroker' as const), nodeId: d.nodeId, incarnation: d.incarnation }),
    fc.record({
      type: fc.constant('topic' as const),
      name: d.topicName,
      topicId: fc.uuid(),
      partitions: count,
      replicationFactor: fc.integer({ min: 1, max: MAX_REPLICATION_FACTOR }),
    }),
    fc.record({
      type: fc.constant('partition' as const),
      topic: d.topicName,
      partition: d.partition,
      replicas: fc.uniqueArray(d.nodeId, { minLength: 1, maxLength: 5 }),
    }),
    fc.record({
      type: fc.constant('reassign' as const),
      topic: d.topicName,
      partition: d.partition,
      target: fc.uniqueArray(d.nodeId, { minLength: 1, maxLength: 5 }),
    }),
    fc.record({
      type: fc.constant('config' as const),
      topic: d.topicName,
      key: configKey,
      value: fc.option(fc.string({ unit: 'binary', maxLength: 30 }), { nil: null }),
    }),
    fc.record({ type: fc.constant('removeTopic' as const), name: d.topicName }),
  );
}

/** Any valid record, over the whole range of every field. */
export const metadataRecord: fc.Arbitrary<MetadataRecord> = records({
  nodeId,
  incarnation,
  topicName,
  partition: fc.integer({ min: 0, max: MAX_PARTITION_COUNT - 1 }),
});

/** Records over a few names, ids and incarnations, so that in a sequence they often meet. */
export const relatedRecord: fc.Arbitrary<MetadataRecord> = records({
  nodeId: fc.integer({ min: 0, max: 4 }),
  incarnation: fc.constantFrom(
    '11111111-1111-4111-8111-111111111111',
    '22222222-2222-4222-8222-222222222222',
  ),
  topicName: fc.constantFrom('a', 'b', 'c'),
  partition: fc.integer({ min: 0, max: 4 }),
});

/** An incarnation the example-based tests use. */
export const A = '11111111-1111-4111-8111-111111111111';

export const unfence = (nodeId: number, incarnation = A): MetadataRecord => ({
  type: 'unfenceBroker',
  nodeId,
  incarnation,
});
export const fence = (nodeId: number, incarnation = A): MetadataRecord => ({
  type: 'fenceBroker',
  nodeId,
  incarnation,
});
