import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CRC32C_BACKEND,
  NATIVE_MIN_BYTES,
  crc32c,
  crc32cBackends,
  crc32cUpdate,
} from '../../proto/crc32c.js';

// kafkajs's table-driven CRC-32C, a third implementation independent of both backends.
const require = createRequire(import.meta.url);
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (buf: Buffer) => number;

const ascii = (s: string): Buffer => Buffer.from(s, 'ascii');

// Sizes on both sides of the backend switch, and well past it.
const sizes = fc.oneof(
  fc.nat(NATIVE_MIN_BYTES - 1),
  fc.integer({ min: NATIVE_MIN_BYTES - 2, max: NATIVE_MIN_BYTES + 2 }),
  fc.integer({ min: NATIVE_MIN_BYTES, max: 20_000 }),
);
const buffers = sizes.chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((a) => Buffer.from(a));

describe('crc32c', () => {
  it('given "123456789", then the CRC-32C check value is 0xe3069283', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
  });

  // RFC 3720 (iSCSI) appendix B.4 test vectors.
  it.each([
    ['32 zero bytes', Buffer.alloc(32, 0), 0x8a9136aa],
    ['32 bytes of 0xff', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['32 ascending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
    ['32 descending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
  ])('given %s, then the CRC is the RFC 3720 value', (_, buf, expected) => {
    expect(crc32c(buf)).toBe(expected);
  });

  it('given no bytes, then the CRC is 0', () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('given a buffer, then the result is an unsigned 32-bit integer equal to kafkajs crc32C', () => {
    fc.assert(
      fc.property(buffers, (buf) => {
        const crc = crc32c(buf);
        expect(crc).toBeGreaterThanOrEqual(0);
        expect(crc).toBeLessThanOrEqual(0xffff_ffff);
        expect(crc).toBe(kafkajsCrc32c(buf));
      }),
      { numRuns: 100 },
    );
  });

  it('given a range, then crc32c(buf, start, end) is the CRC of that slice', () => {
    fc.assert(
      fc.property(buffers, fc.nat(), fc.nat(), (buf, a, b) => {
        const start = a % (buf.length + 1);
        const end = start + (b % (buf.length - start + 1));
        expect(crc32c(buf, start, end)).toBe(kafkajsCrc32c(buf.subarray(start, end)));
      }),
      { numRuns: 100 },
    );
  });
});

describe('crc32cUpdate', () => {
  it('given a buffer cut into pieces anywhere, when the CRC is chained over them, then it equals the one-shot CRC', () => {
    fc.assert(
      fc.property(buffers, fc.array(fc.nat(), { maxLength: 6 }), (buf, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((x, y) => x - y);
        let crc = 0;
        let start = 0;
        for (const point of [...points, buf.length]) {
          crc = crc32cUpdate(crc, buf, start, point);
          start = point;
        }
        expect(crc).toBe(crc32c(buf));
      }),
      { numRuns: 200 },
    );
  });

  it('given separate buffers, when chained, then the CRC equals that of their concatenation', () => {
    const a = ascii('1234');
    const b = ascii('56789');
    expect(crc32cUpdate(crc32c(a), b)).toBe(0xe3069283);
  });
});

describe('backends', () => {
  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'given linux-x64, then the native backend loaded (its prebuilt binary ships in the registry package)',
    () => {
      expect(CRC32C_BACKEND).toBe('@node-rs/crc32');
      expect(crc32cBackends.native).not.toBeNull();
    },
  );

  it('given any buffer and seed, then the portable and native backends agree, chained or not', () => {
    const native = crc32cBackends.native;
    if (native === null) return expect(CRC32C_BACKEND).toBe('crc-32');
    fc.assert(
      fc.property(buffers, fc.integer({ min: 0, max: 0xffff_ffff }), (buf, seed) => {
        expect(native(buf, 0)).toBe(crc32cBackends.portable(buf, 0));
        expect(native(buf, seed)).toBe(crc32cBackends.portable(buf, seed));
      }),
      { numRuns: 100 },
    );
  });
});
