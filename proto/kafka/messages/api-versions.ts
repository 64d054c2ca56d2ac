// ApiVersions (key 18): what the client sends first, and the broker's list of APIs and versions.
// A broker answers an ApiVersions request of a version it does not know with version 0 of the
// response (header v0, error UNSUPPORTED_VERSION and its own list), so a newer client can retry.

import { api, f, structs } from '../schema.js';

export const ApiVersions = api(
  18,
  'ApiVersions',
  '0-4',
  '3+',
  [f('clientSoftwareName', 'string', '3+'), f('clientSoftwareVersion', 'string', '3+')],
  [
    f('errorCode', 'int16', '0+'),
    structs('apiKeys', 'ApiVersionsResponseApiKey', '0+', [
      f('apiKey', 'int16', '0+'),
      f('minVersion', 'int16', '0+'),
      f('maxVersion', 'int16', '0+'),
    ]),
    f('throttleTimeMs', 'int32', '1+'),
    structs(
      'supportedFeatures',
      'ApiVersionsResponseSupportedFeature',
      '3+',
      [f('name', 'string', '3+'), f('minVersion', 'int16', '3+'), f('maxVersion', 'int16', '3+')],
      { tag: 0 },
    ),
    f('finalizedFeaturesEpoch', 'int64', '3+', { tag: 1, default: -1 }),
    structs(
      'finalizedFeatures',
      'ApiVersionsResponseFinalizedFeature',
      '3+',
      [f('name', 'string', '3+'), f('maxVersionLevel', 'int16', '3+'), f('minVersionLevel', 'int16', '3+')],
      { tag: 2 },
    ),
    f('zkMigrationReady', 'bool', '3+', { tag: 3 }),
  ],
);
