// ListOffsets (key 2): a partition's earliest (-2) or latest (-1) offset, the offset of the
// largest timestamp (-3), or the first offset at or after a timestamp. Versions 1+ (Kafka 4.0's
// floor; version 0's list of old-style offsets is gone).

import { api, f, structs } from '../schema.js';

export const ListOffsets = api(
  2,
  'ListOffsets',
  '1-8',
  '6+',
  [
    f('replicaId', 'int32', '0+'),
    f('isolationLevel', 'int8', '2+'),
    structs('topics', 'ListOffsetsRequestTopic', '0+', [
      f('name', 'string', '0+'),
      structs('partitions', 'ListOffsetsRequestPartition', '0+', [
        f('partitionIndex', 'int32', '0+'),
        f('currentLeaderEpoch', 'int32', '4+', { default: -1 }),
        f('timestamp', 'int64', '0+'),
      ]),
    ]),
  ],
  [
    f('throttleTimeMs', 'int32', '2+'),
    structs('topics', 'ListOffsetsResponseTopic', '0+', [
      f('name', 'string', '0+'),
      structs('partitions', 'ListOffsetsResponsePartition', '0+', [
        f('partitionIndex', 'int32', '0+'),
        f('errorCode', 'int16', '0+'),
        f('timestamp', 'int64', '1+', { default: -1 }),
        f('offset', 'int64', '1+', { default: -1 }),
        f('leaderEpoch', 'int32', '4+', { default: -1 }),
      ]),
    ]),
  ],
);
