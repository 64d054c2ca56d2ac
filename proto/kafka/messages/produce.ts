// Produce (key 0): record batches for partitions, answered per partition with the base offset.
// Versions 3+ only: they carry RecordBatch v2 (magic 2), the only format weir stores; Kafka 4.0
// dropped versions 0-2 as well.

import { api, f, struct, structs } from '../schema.js';

export const Produce = api(
  0,
  'Produce',
  '3-11',
  '9+',
  [
    f('transactionalId', 'string', '3+', { nullable: '3+', default: null }),
    f('acks', 'int16', '0+'),
    f('timeoutMs', 'int32', '0+'),
    structs('topicData', 'ProduceRequestTopic', '0+', [
      f('name', 'string', '0+'),
      structs('partitionData', 'ProduceRequestPartition', '0+', [
        f('index', 'int32', '0+'),
        f('records', 'records', '0+', { nullable: '0+' }),
      ]),
    ]),
  ],
  [
    structs('responses', 'ProduceResponseTopic', '0+', [
      f('name', 'string', '0+'),
      structs('partitionResponses', 'ProduceResponsePartition', '0+', [
        f('index', 'int32', '0+'),
        f('errorCode', 'int16', '0+'),
        f('baseOffset', 'int64', '0+'),
        f('logAppendTimeMs', 'int64', '2+', { default: -1 }),
        f('logStartOffset', 'int64', '5+', { default: -1 }),
        structs('recordErrors', 'ProduceResponseRecordError', '8+', [
          f('batchIndex', 'int32', '8+'),
          f('batchIndexErrorMessage', 'string', '8+', { nullable: '8+', default: null }),
        ]),
        f('errorMessage', 'string', '8+', { nullable: '8+', default: null }),
        struct(
          'currentLeader',
          'ProduceResponseLeader',
          '10+',
          [f('leaderId', 'int32', '10+', { default: -1 }), f('leaderEpoch', 'int32', '10+', { default: -1 })],
          { tag: 0 },
        ),
      ]),
    ]),
    f('throttleTimeMs', 'int32', '1+'),
    structs(
      'nodeEndpoints',
      'ProduceResponseNodeEndpoint',
      '10+',
      [
        f('nodeId', 'int32', '10+'),
        f('host', 'string', '10+'),
        f('port', 'int32', '10+'),
        f('rack', 'string', '10+', { nullable: '10+', default: null }),
      ],
      { tag: 0 },
    ),
  ],
);
