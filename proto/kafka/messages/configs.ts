// Configs of topics and brokers: DescribeConfigs (key 32), AlterConfigs (key 33, the whole set of a
// resource's configs at once, which older clients such as kafkajs send) and IncrementalAlterConfigs
// (key 44, set, delete, append to or subtract from one config at a time). A resource is named by
// its type (2 topic, 4 broker, 8 broker logger) and its name (the topic, or the broker id).

import { api, f, list, structs } from '../schema.js';

export const DescribeConfigs = api(
  32,
  'DescribeConfigs',
  '0-4',
  '4+',
  [
    structs('resources', 'DescribeConfigsRequestResource', '0+', [
      f('resourceType', 'int8', '0+'),
      f('resourceName', 'string', '0+'),
      list('configurationKeys', 'string', '0+', { nullable: '0+' }),
    ]),
    f('includeSynonyms', 'bool', '1+'),
    f('includeDocumentation', 'bool', '3+'),
  ],
  [
    f('throttleTimeMs', 'int32', '0+'),
    structs('results', 'DescribeConfigsResult', '0+', [
      f('errorCode', 'int16', '0+'),
      f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
      f('resourceType', 'int8', '0+'),
      f('resourceName', 'string', '0+'),
      structs('configs', 'DescribeConfigsResourceResult', '0+', [
        f('name', 'string', '0+'),
        f('value', 'string', '0+', { nullable: '0+' }),
        f('readOnly', 'bool', '0+'),
        f('isDefault', 'bool', '0'),
        f('configSource', 'int8', '1+', { default: -1 }),
        f('isSensitive', 'bool', '0+'),
        structs('synonyms', 'DescribeConfigsSynonym', '1+', [
          f('name', 'string', '1+'),
          f('value', 'string', '1+', { nullable: '0+' }),
          f('source', 'int8', '1+'),
        ]),
        f('configType', 'int8', '3+'),
        f('documentation', 'string', '3+', { nullable: '0+' }),
      ]),
    ]),
  ],
);

export const AlterConfigs = api(
  33,
  'AlterConfigs',
  '0-2',
  '2+',
  [
    structs('resources', 'AlterConfigsRequestResource', '0+', [
      f('resourceType', 'int8', '0+'),
      f('resourceName', 'string', '0+'),
      structs('configs', 'AlterConfigsRequestConfig', '0+', [
        f('name', 'string', '0+'),
        f('value', 'string', '0+', { nullable: '0+' }),
      ]),
    ]),
    f('validateOnly', 'bool', '0+'),
  ],
  [
    f('throttleTimeMs', 'int32', '0+'),
    structs('responses', 'AlterConfigsResourceResponse', '0+', [
      f('errorCode', 'int16', '0+'),
      f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
      f('resourceType', 'int8', '0+'),
      f('resourceName', 'string', '0+'),
    ]),
  ],
);

export const IncrementalAlterConfigs = api(
  44,
  'IncrementalAlterConfigs',
  '0-1',
  '1+',
  [
    structs('resources', 'IncrementalAlterConfigsRequestResource', '0+', [
      f('resourceType', 'int8', '0+'),
      f('resourceName', 'string', '0+'),
      structs('configs', 'IncrementalAlterConfigsRequestConfig', '0+', [
        f('name', 'string', '0+'),
        f('configOperation', 'int8', '0+'),
        f('value', 'string', '0+', { nullable: '0+' }),
      ]),
    ]),
    f('validateOnly', 'bool', '0+'),
  ],
  [
    f('throttleTimeMs', 'int32', '0+'),
    structs('responses', 'IncrementalAlterConfigsResourceResponse', '0+', [
      f('errorCode', 'int16', '0+'),
      f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
      f('resourceType', 'int8', '0+'),
      f('resourceName', 'string', '0+'),
    ]),
  ],
);
