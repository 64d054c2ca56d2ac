// OffsetForLeaderEpoch (key 23): where a leader epoch ends in a partition's log. A consumer that
// saw records of epoch E asks it after a leader change, and finds records it read that the new
// leader does not have (log truncation detection, KIP-320). Version 2 adds the client's current
// leader epoch, which the broker checks (fencing) before it answers.

import { api, f, structs } from '../schema.js';

export const OffsetForLeaderEpoch = api(
  23,
  'OffsetForLeaderEpoch',
  '0-4',
  '4+',
  [
    f('replicaId', 'int32', '3+', { default: -2 }),
    structs('topics', 'OffsetForLeaderTopic', '0+', [
      f('topic', 'string', '0+'),
      structs('partitions', 'OffsetForLeaderPartition', '0+', [
        f('partition', 'int32', '0+'),
        f('currentLeaderEpoch', 'int32', '2+', { default: -1 }),
        f('leaderEpoch', 'int32', '0+'),
      ]),
    ]),
  ],
  [
    f('throttleTimeMs', 'int32', '2+'),
    structs('topics', 'OffsetForLeaderTopicResult', '0+', [
      f('topic', 'string', '0+'),
      structs('partitions', 'OffsetForLeaderEpochEndOffset', '0+', [
        f('errorCode', 'int16', '0+'),
        f('partition', 'int32', '0+'),
        f('leaderEpoch', 'int32', '1+', { default: -1 }),
        f('endOffset', 'int64', '0+', { default: -1 }),
      ]),
    ]),
  ],
);
