// The key partitioner must put a key on the same partition number as Kafka's Java client. Checked
// against kafkajs's port of Kafka's murmur2 (an implementation nobody here wrote) on random keys,
// and against values Kafka's own Utils.murmur2 gives for fixed strings.

import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, toPositive } from '../../proto/partitioner.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: Buffer | string,
) => number;

describe('murmur2', () => {
  it('agrees with kafkajs for random keys of every length mod 4', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(murmur2(bytes)).toBe(kafkajsMurmur2(Buffer.from(bytes)));
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('gives Kafka Utils.murmur2(%j) = %d', (key, expected) => {
    expect(murmur2(Buffer.from(key))).toBe(expected);
    expect(kafkajsMurmur2(Buffer.from(key))).toBe(expected);
  });

  it('maps keys to partitions with toPositive, never negative', () => {
    expect(toPositive(-2147483648)).toBe(0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
        const p = partitionForKey(key, n);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
        expect(p).toBe((kafkajsMurmur2(Buffer.from(key)) & 0x7fffffff) % n);
      }),
      { seed: 9, numRuns: 500 },
    );
  });
});
