// fast-check generators for metadata records, shared by the cluster suites.

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

export const metadataRecord: fc.Arbitrary<MetadataRecord> = fc.oneof(
  fc.record({
    type: fc.constant('registerBroker' as const),
    nodeId,
    incarnation,
    host,
    grpcPort: port,
    httpPort: port,
    replicationPort: port,
  }),
  fc.record({ type: fc.constant('fenceBroker' as const), nodeId, incarnation }),
  fc.record({ type: fc.constant('unfenceBroker' as const), nodeId, incarnation }),
  fc.record({
    type: fc.constant('topic' as const),
    name: topicName,
    topicId: fc.uuid(),
    partitions: count,
    replicationFactor: fc.integer({ min: 1, max: MAX_REPLICATION_FACTOR }),
  }),
  fc.record({
    type: fc.constant('partition' as const),
    topic: topicName,
    partition: fc.integer({ min: 0, max: MAX_PARTITION_COUNT - 1 }),
    replicas: fc.uniqueArray(nodeId, { minLength: 1, maxLength: 5 }),
  }),
  fc.record({
    type: fc.constant('config' as const),
    topic: topicName,
    key: configKey,
    value: fc.option(fc.string({ unit: 'binary', maxLength: 30 }), { nil: null }),
  }),
  fc.record({ type: fc.constant('removeTopic' as const), name: topicName }),
);
