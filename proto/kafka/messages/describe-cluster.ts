// DescribeCluster (key 60): the cluster id, the controller and the brokers with their Kafka
// listeners, as the admin client's describeCluster asks for them (newer clients ask this rather
// than Metadata). Version 1 names the kind of endpoint asked for (1 brokers, 2 controllers).

import { api, f, structs } from '../schema.js';

export const DescribeCluster = api(
  60,
  'DescribeCluster',
  '0-1',
  '0+',
  [f('includeClusterAuthorizedOperations', 'bool', '0+'), f('endpointType', 'int8', '1+', { default: 1 })],
  [
    f('throttleTimeMs', 'int32', '0+'),
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
    f('endpointType', 'int8', '1+', { default: 1 }),
    f('clusterId', 'string', '0+'),
    f('controllerId', 'int32', '0+', { default: -1 }),
    structs('brokers', 'DescribeClusterBroker', '0+', [
      f('brokerId', 'int32', '0+'),
      f('host', 'string', '0+'),
      f('port', 'int32', '0+'),
      f('rack', 'string', '0+', { nullable: '0+', default: null }),
    ]),
    f('clusterAuthorizedOperations', 'int32', '0+', { default: -2147483648 }),
  ],
);
