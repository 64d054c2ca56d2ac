// Group administration: DescribeGroups (key 15), ListGroups (16) and DeleteGroups (42).

import { api, f, list, structs } from '../schema.js';

export const DescribeGroups = api(
  15,
  'DescribeGroups',
  '0-5',
  '5+',
  [list('groups', 'string', '0+'), f('includeAuthorizedOperations', 'bool', '3+')],
  [
    f('throttleTimeMs', 'int32', '1+'),
    structs('groups', 'DescribedGroup', '0+', [
      f('errorCode', 'int16', '0+'),
      f('groupId', 'string', '0+'),
      f('groupState', 'string', '0+'),
      f('protocolType', 'string', '0+'),
      f('protocolData', 'string', '0+'),
      structs('members', 'DescribedGroupMember', '0+', [
        f('memberId', 'string', '0+'),
        f('groupInstanceId', 'string', '4+', { nullable: '4+', default: null }),
        f('clientId', 'string', '0+'),
        f('clientHost', 'string', '0+'),
        f('memberMetadata', 'bytes', '0+'),
        f('memberAssignment', 'bytes', '0+'),
      ]),
      f('authorizedOperations', 'int32', '3+', { default: -2147483648 }),
    ]),
  ],
);

export const ListGroups = api(
  16,
  'ListGroups',
  '0-5',
  '3+',
  [list('statesFilter', 'string', '4+'), list('typesFilter', 'string', '5+')],
  [
    f('throttleTimeMs', 'int32', '1+'),
    f('errorCode', 'int16', '0+'),
    structs('groups', 'ListedGroup', '0+', [
      f('groupId', 'string', '0+'),
      f('protocolType', 'string', '0+'),
      f('groupState', 'string', '4+'),
      f('groupType', 'string', '5+'),
    ]),
  ],
);

export const DeleteGroups = api(
  42,
  'DeleteGroups',
  '0-2',
  '2+',
  [list('groupsNames', 'string', '0+')],
  [
    f('throttleTimeMs', 'int32', '0+'),
    structs('results', 'DeletableGroupResult', '0+', [
      f('groupId', 'string', '0+'),
      f('errorCode', 'int16', '0+'),
    ]),
  ],
);
