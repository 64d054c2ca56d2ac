// FindCoordinator (key 10): which broker coordinates a group (key type 0). Up to version 3 one key
// and one answer; from version 4 a batch of keys, each with its own answer.

import { api, f, list, structs } from '../schema.js';

export const FindCoordinator = api(
  10,
  'FindCoordinator',
  '0-6',
  '3+',
  [f('key', 'string', '0-3'), f('keyType', 'int8', '1+'), list('coordinatorKeys', 'string', '4+')],
  [
    f('throttleTimeMs', 'int32', '1+'),
    f('errorCode', 'int16', '0-3'),
    f('errorMessage', 'string', '1-3', { nullable: '1-3', default: null }),
    f('nodeId', 'int32', '0-3'),
    f('host', 'string', '0-3'),
    f('port', 'int32', '0-3'),
    structs('coordinators', 'FindCoordinatorResponseCoordinator', '4+', [
      f('key', 'string', '4+'),
      f('nodeId', 'int32', '4+'),
      f('host', 'string', '4+'),
      f('port', 'int32', '4+'),
      f('errorCode', 'int16', '4+'),
      f('errorMessage', 'string', '4+', { nullable: '4+', default: null }),
    ]),
  ],
);
