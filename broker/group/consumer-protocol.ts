// The bytes Kafka's consumers put in a classic group's protocol metadata (the subscription, in
// JoinGroup) and assignment (in SyncGroup), when the protocol type is "consumer". The broker
// passes both through unchanged; it reads them only to describe the group (which topics each
// member subscribes to, which partitions it was given), as Kafka's tools do. Layout, big-endian,
// versions 0-3 all start alike:
//
//   subscription  int16 version, int32 topic count, then each topic as int16 length + UTF-8, ...
//   assignment    int16 version, int32 topic count, then each topic as int16 length + UTF-8 and
//                 int32 partition count + int32 partitions, ...
//
// What follows (user data, owned partitions, generation, rack) is not needed and not read. Bytes
// that do not parse give null: they belong to a client, and describing them must not fail.

import { isWeirError } from '../../proto/errors.js';
import { Reader } from '../../proto/kafka/wire.js';
import type { TopicPartition } from './assignors.js';

/** The protocol type of Kafka's consumers, whose metadata this file reads. */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

function parse<T>(bytes: Buffer, read: (r: Reader) => T): T | null {
  if (bytes.length === 0) return null;
  try {
    const r = new Reader(bytes);
    if (r.int16() < 0) return null;
    return read(r);
  } catch (err) {
    if (isWeirError(err)) return null;
    throw err;
  }
}

function count(r: Reader): number {
  const n = r.arrayLength(false);
  return n === null ? 0 : n;
}

function topicName(r: Reader): string {
  return r.string(false) ?? '';
}

/** The topics a consumer's subscription names, or null if the bytes are not one. */
export function subscribedTopics(metadata: Buffer): string[] | null {
  return parse(metadata, (r) => Array.from({ length: count(r) }, () => topicName(r)));
}

/** The partitions a consumer's assignment gives it, or null if the bytes are not one. */
export function assignedPartitions(assignment: Buffer): TopicPartition[] | null {
  return parse(assignment, (r) => {
    const out: TopicPartition[] = [];
    const topics = count(r);
    for (let t = 0; t < topics; t++) {
      const topic = topicName(r);
      const partitions = count(r);
      for (let p = 0; p < partitions; p++) out.push({ topic, partition: r.int32() });
    }
    return out;
  });
}
