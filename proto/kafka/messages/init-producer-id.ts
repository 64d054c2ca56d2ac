// InitProducerId (key 22): a producer id and epoch for an idempotent producer. weir has no
// transactions yet, so a transactional id is refused.

import { api, f } from '../schema.js';

export const InitProducerId = api(
  22,
  'InitProducerId',
  '0-5',
  '2+',
  [
    f('transactionalId', 'string', '0+', { nullable: '0+' }),
    f('transactionTimeoutMs', 'int32', '0+'),
    f('producerId', 'int64', '3+', { default: -1 }),
    f('producerEpoch', 'int16', '3+', { default: -1 }),
  ],
  [
    f('throttleTimeMs', 'int32', '0+'),
    f('errorCode', 'int16', '0+'),
    f('producerId', 'int64', '0+', { default: -1 }),
    f('producerEpoch', 'int16', '0+'),
  ],
);
