// Fetch (key 1): record batches from partitions, long-polling for minBytes up to maxWaitMs.
// Versions 4+ (Kafka 4.0's floor). From version 13 topics are named by id. Fetch sessions
// (version 7+) are optional for a broker: one that answers session id 0 has the client send full
// fetches, which is what weir does.

import { api, f, list, struct, structs } from '../schema.js';

export const Fetch = api(
  1,
  'Fetch',
  '4-17',
  '12+',
  [
    f('clusterId', 'string', '12+', { nullable: '12+', default: null, tag: 0 }),
    f('replicaId', 'int32', '0-14', { default: -1 }),
    struct(
      'replicaState',
      'FetchRequestReplicaState',
      '15+',
      [f('replicaId', 'int32', '15+', { default: -1 }), f('replicaEpoch', 'int64', '15+', { default: -1 })],
      { tag: 1 },
    ),
    f('maxWaitMs', 'int32', '0+'),
    f('minBytes', 'int32', '0+'),
    f('maxBytes', 'int32', '3+', { default: 0x7fffffff }),
    f('isolationLevel', 'int8', '4+'),
    f('sessionId', 'int32', '7+'),
    f('sessionEpoch', 'int32', '7+', { default: -1 }),
    structs('topics', 'FetchRequestTopic', '0+', [
      f('topic', 'string', '0-12'),
      f('topicId', 'uuid', '13+'),
      structs('partitions', 'FetchRequestPartition', '0+', [
        f('partition', 'int32', '0+'),
        f('currentLeaderEpoch', 'int32', '9+', { default: -1 }),
        f('fetchOffset', 'int64', '0+'),
        f('lastFetchedEpoch', 'int32', '12+', { default: -1 }),
        f('logStartOffset', 'int64', '5+', { default: -1 }),
        f('partitionMaxBytes', 'int32', '0+'),
        f('replicaDirectoryId', 'uuid', '17+', { tag: 0 }),
      ]),
    ]),
    structs('forgottenTopicsData', 'FetchRequestForgottenTopic', '7+', [
      f('topic', 'string', '7-12'),
      f('topicId', 'uuid', '13+'),
      list('partitions', 'int32', '7+'),
    ]),
    f('rackId', 'string', '11+'),
  ],
  [
    f('throttleTimeMs', 'int32', '1+'),
    f('errorCode', 'int16', '7+'),
    f('sessionId', 'int32', '7+'),
    structs('responses', 'FetchResponseTopic', '0+', [
      f('topic', 'string', '0-12'),
      f('topicId', 'uuid', '13+'),
      structs('partitions', 'FetchResponsePartition', '0+', [
        f('partitionIndex', 'int32', '0+'),
        f('errorCode', 'int16', '0+'),
        f('highWatermark', 'int64', '0+'),
        f('lastStableOffset', 'int64', '4+', { default: -1 }),
        f('logStartOffset', 'int64', '5+', { default: -1 }),
        struct(
          'divergingEpoch',
          'FetchResponseEpochEndOffset',
          '12+',
          [f('epoch', 'int32', '12+', { default: -1 }), f('endOffset', 'int64', '12+', { default: -1 })],
          { tag: 0 },
        ),
        struct(
          'currentLeader',
          'FetchResponseLeader',
          '12+',
          [f('leaderId', 'int32', '12+', { default: -1 }), f('leaderEpoch', 'int32', '12+', { default: -1 })],
          { tag: 1 },
        ),
        struct(
          'snapshotId',
          'FetchResponseSnapshotId',
          '12+',
          [f('endOffset', 'int64', '0+', { default: -1 }), f('epoch', 'int32', '0+', { default: -1 })],
          { tag: 2 },
        ),
        structs(
          'abortedTransactions',
          'FetchResponseAbortedTransaction',
          '4+',
          [f('producerId', 'int64', '4+'), f('firstOffset', 'int64', '4+')],
          { nullable: '4+' },
        ),
        f('preferredReadReplica', 'int32', '11+', { default: -1 }),
        f('records', 'records', '0+', { nullable: '0+' }),
      ]),
    ]),
    structs(
      'nodeEndpoints',
      'FetchResponseNodeEndpoint',
      '16+',
      [
        f('nodeId', 'int32', '16+'),
        f('host', 'string', '16+'),
        f('port', 'int32', '16+'),
        f('rack', 'string', '16+', { nullable: '16+', default: null }),
      ],
      { tag: 0 },
    ),
  ],
);
