// A group's committed offsets: OffsetCommit (key 8) and OffsetFetch (key 9). OffsetFetch asks
// about one group up to version 7, and about a batch of groups from version 8.

import { api, f, list, structs } from '../schema.js';

export const OffsetCommit = api(
  8,
  'OffsetCommit',
  '0-9',
  '8+',
  [
    f('groupId', 'string', '0+'),
    f('generationIdOrMemberEpoch', 'int32', '1+', { default: -1 }),
    f('memberId', 'string', '1+'),
    f('groupInstanceId', 'string', '7+', { nullable: '7+', default: null }),
    f('retentionTimeMs', 'int64', '2-4', { default: -1 }),
    structs('topics', 'OffsetCommitRequestTopic', '0+', [
      f('name', 'string', '0+'),
      structs('partitions', 'OffsetCommitRequestPartition', '0+', [
        f('partitionIndex', 'int32', '0+'),
        f('committedOffset', 'int64', '0+'),
        f('committedLeaderEpoch', 'int32', '6+', { default: -1 }),
        f('commitTimestamp', 'int64', '1', { default: -1 }),
        f('committedMetadata', 'string', '0+', { nullable: '0+' }),
      ]),
    ]),
  ],
  [
    f('throttleTimeMs', 'int32', '3+'),
    structs('topics', 'OffsetCommitResponseTopic', '0+', [
      f('name', 'string', '0+'),
      structs('partitions', 'OffsetCommitResponsePartition', '0+', [
        f('partitionIndex', 'int32', '0+'),
        f('errorCode', 'int16', '0+'),
      ]),
    ]),
  ],
);

export const OffsetFetch = api(
  9,
  'OffsetFetch',
  '0-9',
  '6+',
  [
    f('groupId', 'string', '0-7'),
    structs(
      'topics',
      'OffsetFetchRequestTopic',
      '0-7',
      [f('name', 'string', '0-7'), list('partitionIndexes', 'int32', '0-7')],
      { nullable: '2-7' },
    ),
    structs('groups', 'OffsetFetchRequestGroup', '8+', [
      f('groupId', 'string', '8+'),
      f('memberId', 'string', '9+', { nullable: '9+', default: null }),
      f('memberEpoch', 'int32', '9+', { default: -1 }),
      structs(
        'topics',
        'OffsetFetchRequestGroupTopic',
        '8+',
        [f('name', 'string', '8+'), list('partitionIndexes', 'int32', '8+')],
        { nullable: '8+' },
      ),
    ]),
    f('requireStable', 'bool', '7+'),
  ],
  [
    f('throttleTimeMs', 'int32', '3+'),
    structs('topics', 'OffsetFetchResponseTopic', '0-7', [
      f('name', 'string', '0-7'),
      structs('partitions', 'OffsetFetchResponsePartition', '0-7', [
        f('partitionIndex', 'int32', '0-7'),
        f('committedOffset', 'int64', '0-7'),
        f('committedLeaderEpoch', 'int32', '5-7', { default: -1 }),
        f('metadata', 'string', '0-7', { nullable: '0-7' }),
        f('errorCode', 'int16', '0-7'),
      ]),
    ]),
    f('errorCode', 'int16', '2-7'),
    structs('groups', 'OffsetFetchResponseGroup', '8+', [
      f('groupId', 'string', '8+'),
      structs('topics', 'OffsetFetchResponseGroupTopic', '8+', [
        f('name', 'string', '8+'),
        structs('partitions', 'OffsetFetchResponseGroupPartition', '8+', [
          f('partitionIndex', 'int32', '8+'),
          f('committedOffset', 'int64', '8+'),
          f('committedLeaderEpoch', 'int32', '8+', { default: -1 }),
          f('metadata', 'string', '8+', { nullable: '8+' }),
          f('errorCode', 'int16', '8+'),
        ]),
      ]),
      f('errorCode', 'int16', '8+'),
    ]),
  ],
);
