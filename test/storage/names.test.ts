import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWeirError } from '../../proto/errors.js';
import {
  invalidTopicName,
  parsePartitionDirName,
  partitionDir,
  partitionDirName,
} from '../../storage/names.js';

describe('topic names', () => {
  it.each(['orders', 'a', 'A.b_c-9', 'x'.repeat(249), '...'])('accepts %s', (name) => {
    expect(invalidTopicName(name)).toBeNull();
  });

  it.each([
    ['', /empty/],
    ['.', /cannot be/],
    ['..', /cannot be/],
    ['x'.repeat(250), /longer than 249/],
    ['a/b', /characters/],
    ['../etc', /characters/],
    ['a b', /characters/],
    ['naïve', /characters/],
    ['a\u0000b', /characters/],
  ])('rejects %j', (name, reason) => {
    expect(invalidTopicName(name)).toMatch(reason);
  });

  it('never yields a partition directory outside the data directory', () => {
    const dataDir = '/var/lib/weir-data';
    fc.assert(
      fc.property(
        fc.string({ maxLength: 260, unit: 'binary' }),
        fc.integer({ min: -5, max: 2 ** 31 + 5 }),
        (topic, partition) => {
          let dir: string;
          try {
            dir = partitionDir(dataDir, topic, partition);
          } catch (err) {
            expect(isWeirError(err)).toBe(true);
            return;
          }
          expect(resolve(dir, '..')).toBe(dataDir);
          expect(parsePartitionDirName(partitionDirName(topic, partition))).toEqual({ topic, partition });
        },
      ),
      { seed: 1, numRuns: 2000 },
    );
  });

  it('parses directory names back, topics with dashes included, and rejects others', () => {
    expect(parsePartitionDirName('my-topic-12')).toEqual({ topic: 'my-topic', partition: 12 });
    expect(parsePartitionDirName('my-topic-012')).toBeNull();
    expect(parsePartitionDirName('my-topic')).toBeNull();
    expect(parsePartitionDirName('-3')).toBeNull();
    expect(parsePartitionDirName('t-99999999999')).toBeNull();
    expect(parsePartitionDirName('recovery-point-offset-checkpoint')).toBeNull();
  });
});
