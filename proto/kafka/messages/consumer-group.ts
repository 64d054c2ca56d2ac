// The consumer group protocol of KIP-848 from Kafka clients: ConsumerGroupHeartbeat (key 68) and
// ConsumerGroupDescribe (key 69). The broker computes the assignment; partitions travel by
// topic id. A null field in a heartbeat means "unchanged since the last one".

import { api, f, list, struct, structs } from '../schema.js';

export const ConsumerGroupHeartbeat = api(
  68,
  'ConsumerGroupHeartbeat',
  '0-1',
  '0+',
  [
    f('groupId', 'string', '0+'),
    f('memberId', 'string', '0+'),
    f('memberEpoch', 'int32', '0+'),
    f('instanceId', 'string', '0+', { nullable: '0+', default: null }),
    f('rackId', 'string', '0+', { nullable: '0+', default: null }),
    f('rebalanceTimeoutMs', 'int32', '0+', { default: -1 }),
    list('subscribedTopicNames', 'string', '0+', { nullable: '0+', default: null }),
    f('subscribedTopicRegex', 'string', '1+', { nullable: '1+', default: null }),
    f('serverAssignor', 'string', '0+', { nullable: '0+', default: null }),
    structs(
      'topicPartitions',
      'ConsumerGroupHeartbeatRequestTopic',
      '0+',
      [f('topicId', 'uuid', '0+'), list('partitions', 'int32', '0+')],
      { nullable: '0+', default: null },
    ),
  ],
  [
    f('throttleTimeMs', 'int32', '0+'),
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
    f('memberId', 'string', '0+', { nullable: '0+', default: null }),
    f('memberEpoch', 'int32', '0+'),
    f('heartbeatIntervalMs', 'int32', '0+'),
    struct(
      'assignment',
      'ConsumerGroupHeartbeatAssignment',
      '0+',
      [
        structs('topicPartitions', 'ConsumerGroupHeartbeatResponseTopic', '0+', [
          f('topicId', 'uuid', '0+'),
          list('partitions', 'int32', '0+'),
        ]),
      ],
      { nullable: '0+', default: null },
    ),
  ],
);

const assignmentFields = (structName: string) => [
  structs('topicPartitions', structName, '0+', [
    f('topicId', 'uuid', '0+'),
    f('topicName', 'string', '0+'),
    list('partitions', 'int32', '0+'),
  ]),
];

export const ConsumerGroupDescribe = api(
  69,
  'ConsumerGroupDescribe',
  '0',
  '0+',
  [list('groupIds', 'string', '0+'), f('includeAuthorizedOperations', 'bool', '0+')],
  [
    f('throttleTimeMs', 'int32', '0+'),
    structs('groups', 'ConsumerGroupDescribeGroup', '0+', [
      f('errorCode', 'int16', '0+'),
      f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
      f('groupId', 'string', '0+'),
      f('groupState', 'string', '0+'),
      f('groupEpoch', 'int32', '0+'),
      f('assignmentEpoch', 'int32', '0+'),
      f('assignorName', 'string', '0+'),
      structs('members', 'ConsumerGroupDescribeMember', '0+', [
        f('memberId', 'string', '0+'),
        f('instanceId', 'string', '0+', { nullable: '0+', default: null }),
        f('rackId', 'string', '0+', { nullable: '0+', default: null }),
        f('memberEpoch', 'int32', '0+'),
        f('clientId', 'string', '0+'),
        f('clientHost', 'string', '0+'),
        list('subscribedTopicNames', 'string', '0+'),
        f('subscribedTopicRegex', 'string', '0+', { nullable: '0+', default: null }),
        struct(
          'assignment',
          'ConsumerGroupDescribeAssignment',
          '0+',
          assignmentFields('ConsumerGroupDescribeTopic'),
        ),
        struct(
          'targetAssignment',
          'ConsumerGroupDescribeTargetAssignment',
          '0+',
          assignmentFields('ConsumerGroupDescribeTargetTopic'),
        ),
      ]),
      f('authorizedOperations', 'int32', '0+', { default: -2147483648 }),
    ]),
  ],
);
