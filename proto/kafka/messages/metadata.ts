// Metadata (key 3): the brokers, the controller, and each topic's partitions with leader, leader
// epoch, replicas and in-sync replicas. A null topic list (v1+) asks for every topic.

import { api, f, list, structs } from '../schema.js';

export const Metadata = api(
  3,
  'Metadata',
  '0-12',
  '9+',
  [
    structs(
      'topics',
      'MetadataRequestTopic',
      '0+',
      [f('topicId', 'uuid', '10+'), f('name', 'string', '0+', { nullable: '10+' })],
      { nullable: '1+' },
    ),
    f('allowAutoTopicCreation', 'bool', '4+', { default: true }),
    f('includeClusterAuthorizedOperations', 'bool', '8-10'),
    f('includeTopicAuthorizedOperations', 'bool', '8+'),
  ],
  [
    f('throttleTimeMs', 'int32', '3+'),
    structs('brokers', 'MetadataResponseBroker', '0+', [
      f('nodeId', 'int32', '0+'),
      f('host', 'string', '0+'),
      f('port', 'int32', '0+'),
      f('rack', 'string', '1+', { nullable: '1+', default: null }),
    ]),
    f('clusterId', 'string', '2+', { nullable: '2+', default: null }),
    f('controllerId', 'int32', '1+', { default: -1 }),
    structs('topics', 'MetadataResponseTopic', '0+', [
      f('errorCode', 'int16', '0+'),
      f('name', 'string', '0+', { nullable: '12+' }),
      f('topicId', 'uuid', '10+'),
      f('isInternal', 'bool', '1+'),
      structs('partitions', 'MetadataResponsePartition', '0+', [
        f('errorCode', 'int16', '0+'),
        f('partitionIndex', 'int32', '0+'),
        f('leaderId', 'int32', '0+'),
        f('leaderEpoch', 'int32', '7+', { default: -1 }),
        list('replicaNodes', 'int32', '0+'),
        list('isrNodes', 'int32', '0+'),
        list('offlineReplicas', 'int32', '5+'),
      ]),
      f('topicAuthorizedOperations', 'int32', '8+', { default: -2147483648 }),
    ]),
    f('clusterAuthorizedOperations', 'int32', '8-10', { default: -2147483648 }),
  ],
);
