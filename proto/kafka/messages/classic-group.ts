// The classic group protocol: JoinGroup (key 11), Heartbeat (12), LeaveGroup (13) and SyncGroup
// (14). The broker keeps members and generations; the assignment is computed by the group's
// leader (a client) and passed through the broker as opaque bytes.

import { api, f, structs } from '../schema.js';

export const JoinGroup = api(
  11,
  'JoinGroup',
  '0-9',
  '6+',
  [
    f('groupId', 'string', '0+'),
    f('sessionTimeoutMs', 'int32', '0+'),
    f('rebalanceTimeoutMs', 'int32', '1+', { default: -1 }),
    f('memberId', 'string', '0+'),
    f('groupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
    f('protocolType', 'string', '0+'),
    structs('protocols', 'JoinGroupRequestProtocol', '0+', [
      f('name', 'string', '0+'),
      f('metadata', 'bytes', '0+'),
    ]),
    f('reason', 'string', '8+', { nullable: '8+', default: null }),
  ],
  [
    f('throttleTimeMs', 'int32', '2+'),
    f('errorCode', 'int16', '0+'),
    f('generationId', 'int32', '0+', { default: -1 }),
    f('protocolType', 'string', '7+', { nullable: '7+', default: null }),
    f('protocolName', 'string', '0+', { nullable: '7+' }),
    f('leader', 'string', '0+'),
    f('skipAssignment', 'bool', '9+'),
    f('memberId', 'string', '0+'),
    structs('members', 'JoinGroupResponseMember', '0+', [
      f('memberId', 'string', '0+'),
      f('groupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
      f('metadata', 'bytes', '0+'),
    ]),
  ],
);

export const Heartbeat = api(
  12,
  'Heartbeat',
  '0-4',
  '4+',
  [
    f('groupId', 'string', '0+'),
    f('generationId', 'int32', '0+'),
    f('memberId', 'string', '0+'),
    f('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
  ],
  [f('throttleTimeMs', 'int32', '1+'), f('errorCode', 'int16', '0+')],
);

export const LeaveGroup = api(
  13,
  'LeaveGroup',
  '0-5',
  '4+',
  [
    f('groupId', 'string', '0+'),
    f('memberId', 'string', '0-2'),
    structs('members', 'LeaveGroupRequestMember', '3+', [
      f('memberId', 'string', '3+'),
      f('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
      f('reason', 'string', '5+', { nullable: '5+', default: null }),
    ]),
  ],
  [
    f('throttleTimeMs', 'int32', '1+'),
    f('errorCode', 'int16', '0+'),
    structs('members', 'LeaveGroupResponseMember', '3+', [
      f('memberId', 'string', '3+'),
      f('groupInstanceId', 'string', '3+', { nullable: '3+' }),
      f('errorCode', 'int16', '3+'),
    ]),
  ],
);

export const SyncGroup = api(
  14,
  'SyncGroup',
  '0-5',
  '4+',
  [
    f('groupId', 'string', '0+'),
    f('generationId', 'int32', '0+'),
    f('memberId', 'string', '0+'),
    f('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
    f('protocolType', 'string', '5+', { nullable: '5+', default: null }),
    f('protocolName', 'string', '5+', { nullable: '5+', default: null }),
    structs('assignments', 'SyncGroupRequestAssignment', '0+', [
      f('memberId', 'string', '0+'),
      f('assignment', 'bytes', '0+'),
    ]),
  ],
  [
    f('throttleTimeMs', 'int32', '1+'),
    f('errorCode', 'int16', '0+'),
    f('protocolType', 'string', '5+', { nullable: '5+', default: null }),
    f('protocolName', 'string', '5+', { nullable: '5+', default: null }),
    f('assignment', 'bytes', '0+'),
  ],
);
