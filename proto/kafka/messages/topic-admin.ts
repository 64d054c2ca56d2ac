// Topic administration: CreateTopics (key 19), DeleteTopics (key 20), CreatePartitions (key 37).
// CreateTopics from version 2 and DeleteTopics from version 1 (Kafka 4.0's floors).

import { api, f, list, structs } from '../schema.js';

export const CreateTopics = api(
  19,
  'CreateTopics',
  '2-7',
  '5+',
  [
    structs('topics', 'CreateTopicsRequestTopic', '0+', [
      f('name', 'string', '0+'),
      f('numPartitions', 'int32', '0+'),
      f('replicationFactor', 'int16', '0+'),
      structs('assignments', 'CreateTopicsRequestAssignment', '0+', [
        f('partitionIndex', 'int32', '0+'),
        list('brokerIds', 'int32', '0+'),
      ]),
      structs('configs', 'CreateTopicsRequestConfig', '0+', [
        f('name', 'string', '0+'),
        f('value', 'string', '0+', { nullable: '0+' }),
      ]),
    ]),
    f('timeoutMs', 'int32', '0+', { default: 60000 }),
    f('validateOnly', 'bool', '1+'),
  ],
  [
    f('throttleTimeMs', 'int32', '2+'),
    structs('topics', 'CreateTopicsResponseTopic', '0+', [
      f('name', 'string', '0+'),
      f('topicId', 'uuid', '7+'),
      f('errorCode', 'int16', '0+'),
      f('errorMessage', 'string', '1+', { nullable: '0+', default: null }),
      f('topicConfigErrorCode', 'int16', '5+', { tag: 0 }),
      f('numPartitions', 'int32', '5+', { default: -1 }),
      f('replicationFactor', 'int16', '5+', { default: -1 }),
      structs(
        'configs',
        'CreateTopicsResponseConfig',
        '5+',
        [
          f('name', 'string', '5+'),
          f('value', 'string', '5+', { nullable: '5+' }),
          f('readOnly', 'bool', '5+'),
          f('configSource', 'int8', '5+', { default: -1 }),
          f('isSensitive', 'bool', '5+'),
        ],
        { nullable: '5+' },
      ),
    ]),
  ],
);

export const DeleteTopics = api(
  20,
  'DeleteTopics',
  '1-6',
  '4+',
  [
    structs('topics', 'DeleteTopicsRequestTopic', '6+', [
      f('name', 'string', '6+', { nullable: '6+', default: null }),
      f('topicId', 'uuid', '6+'),
    ]),
    list('topicNames', 'string', '0-5'),
    f('timeoutMs', 'int32', '0+'),
  ],
  [
    f('throttleTimeMs', 'int32', '1+'),
    structs('responses', 'DeleteTopicsResponseTopic', '0+', [
      f('name', 'string', '0+', { nullable: '6+' }),
      f('topicId', 'uuid', '6+'),
      f('errorCode', 'int16', '0+'),
      f('errorMessage', 'string', '5+', { nullable: '5+', default: null }),
    ]),
  ],
);

export const CreatePartitions = api(
  37,
  'CreatePartitions',
  '0-3',
  '2+',
  [
    structs('topics', 'CreatePartitionsRequestTopic', '0+', [
      f('name', 'string', '0+'),
      f('count', 'int32', '0+'),
      structs('assignments', 'CreatePartitionsRequestAssignment', '0+', [list('brokerIds', 'int32', '0+')], {
        nullable: '0+',
      }),
    ]),
    f('timeoutMs', 'int32', '0+'),
    f('validateOnly', 'bool', '0+'),
  ],
  [
    f('throttleTimeMs', 'int32', '0+'),
    structs('results', 'CreatePartitionsResponseResult', '0+', [
      f('name', 'string', '0+'),
      f('errorCode', 'int16', '0+'),
      f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
    ]),
  ],
);
