// What the group code shares: partition keys, partition sets in wire and flat form (from
// proto/topic-partitions.ts, which the broker uses too), and the check of a group id.

import { WeirError } from '../proto/errors.js';
import { partitionKey } from './fetcher.js';

export { partitionKey };
export { compareTopicPartitions, fromWirePartitions, toWirePartitions } from '../proto/topic-partitions.js';

/** A group id is any non-empty string (the broker checks the rest). */
export function checkGroupId(groupId: unknown): string {
  if (typeof groupId !== 'string' || groupId.length === 0) {
    throw new WeirError('INVALID_GROUP_ID', `group id must be a non-empty string, got ${String(groupId)}`);
  }
  return groupId;
}
