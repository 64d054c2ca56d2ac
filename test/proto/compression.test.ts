// The four codecs: round trips, the formats other clients write (xerial and raw snappy, lz4 frames
// with checksums, several frames back to back), bombs built by each codec refused before they
// inflate, and one test per framing reason.

import { compressFrameSync } from 'lz4-napi';
import { compressSync as rawSnappy, uncompressSync as rawUnsnappy } from 'snappy';
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { lz4Bound, snappyBound, zstdBound } from '../../proto/compression-bounds.js';
import {
  COMPRESSIONS,
  INFLATED_TOO_LARGE,
  compress,
  compressSync,
  inflate,
  inflateSync,
  type Compression,
} from '../../proto/compression.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

function codecOf(name: Compression): number {
  return COMPRESSIONS.indexOf(name);
}

/** Bytes that compress somewhat, like records: a counter and repeated text. */
function sample(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = i % 7 === 0 ? (i * 31) & 0xff : 97 + ((i >> 5) % 26);
  return out;
}

/** The xerial stream framing, built by its layout: header, then int32 length + raw block. */
function xerialByHand(blocks: Buffer[]): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const parts: Buffer[] = [header];
  for (const block of blocks) {
    const raw = rawSnappy(block);
    const length = Buffer.alloc(4);
    length.writeInt32BE(raw.length);
    parts.push(length, raw);
  }
  return Buffer.concat(parts);
}

/** A zstd frame built by RFC 8878's layout: single segment, 1-byte content size, then blocks. */
function zstdByHand(contentSize: number | null, blocks: Buffer[]): Buffer {
  const header =
    contentSize === null
      ? Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]) // no content size, window 1 MiB
      : Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, contentSize]);
  return Buffer.concat([header, ...blocks]);
}

/** A zstd block header: size, type (0 raw, 1 RLE, 2 compressed), last flag. */
function zstdBlock(size: number, type: number, last: boolean, data: Buffer): Buffer {
  const header = Buffer.alloc(3);
  header.writeUIntLE((size << 3) | (type << 1) | (last ? 1 : 0), 0, 3);
  return Buffer.concat([header, data]);
}

describe.each(CODECS)('%s', (codec) => {
  const id = codecOf(codec);

  it.each([0, 1, 100, 300 * KiB])(
    'round-trips %i bytes, synchronously and on the thread pool',
    async (bytes) => {
      const plain = sample(bytes);
      const sync = compressSync(codec, plain);
      const async = await compress(codec, plain);
      for (const packed of [sync, async]) {
        expect((inflateSync(id, packed, 64 * MiB) as Buffer).equals(plain)).toBe(true);
        expect(((await inflate(id, packed, 64 * MiB)) as Buffer).equals(plain)).toBe(true);
      }
    },
  );

  it('round-trips many at once on the thread pool', async () => {
    const plains = Array.from({ length: 16 }, (_, i) => sample(10 * KiB + i * 999));
    const packed = await Promise.all(plains.map((p) => compress(codec, p)));
    const back = await Promise.all(packed.map((p) => inflate(id, p, 64 * MiB)));
    expect(back.map((b, i) => (b as Buffer).equals(plains[i]!))).toEqual(plains.map(() => true));
  });

  it('given a bomb it built (64 MiB of zeros), refuses it past a 1 MiB limit, and inflates it within 80 MiB', async () => {
    const bomb = compressSync(codec, Buffer.alloc(64 * MiB));
    expect(bomb.length).toBeLessThan(codec === 'snappy' ? 4 * MiB : 512 * KiB);
    expect(inflateSync(id, bomb, MiB)).toBe(INFLATED_TOO_LARGE);
    expect(await inflate(id, bomb, MiB)).toBe(INFLATED_TOO_LARGE);
    expect((await inflate(id, bomb, 80 * MiB)) as Buffer).toHaveLength(64 * MiB);
  });

  it('given bytes that are not its format, yields a reason named for the codec', async () => {
    const junk = Buffer.from('definitely not compressed at all, just text');
    expect(inflateSync(id, junk, MiB)).toMatch(new RegExp(`^${codec}: `));
    expect(await inflate(id, junk, MiB)).toMatch(new RegExp(`^${codec}: `));
  });
});

describe('snappy', () => {
  it('writes the xerial framing in 32 KiB blocks, as the Java client does', () => {
    const plain = sample(100 * KiB);
    const out = compressSync('snappy', plain);
    expect(out.subarray(0, 16).toString('hex')).toBe('82534e41505059000000000100000001');
    const blocks: Buffer[] = [];
    for (let pos = 16; pos < out.length;) {
      const length = out.readInt32BE(pos);
      blocks.push(rawUnsnappy(out.subarray(pos + 4, pos + 4 + length)) as Buffer);
      pos += 4 + length;
    }
    expect(blocks.map((b) => b.length)).toEqual([32 * KiB, 32 * KiB, 32 * KiB, 4 * KiB]);
    expect(Buffer.concat(blocks)).toEqual(plain);
  });

  it('reads a xerial stream built by its layout, and raw snappy as librdkafka and kafkajs write it', () => {
    const a = sample(5000);
    const b = Buffer.from('second block');
    const xerial = xerialByHand([a, b]);
    expect(snappyBound(xerial)).toBe(a.length + b.length);
    expect(inflateSync(2, xerial, MiB)).toEqual(Buffer.concat([a, b]));
    expect(inflateSync(2, rawSnappy(a), MiB)).toEqual(a);
    expect(inflateSync(2, xerialByHand([]), MiB)).toEqual(Buffer.alloc(0));
  });

  it('refuses a length that claims 4 GiB before allocating it', () => {
    // varint 0xffffffff, then a literal of one byte.
    const lie = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x61]);
    expect(snappyBound(lie)).toBe(0xffffffff);
    expect(inflateSync(2, lie, 64 * MiB)).toBe(INFLATED_TOO_LARGE);
  });

  it.each([
    [
      'a raw block that ends inside its length',
      Buffer.from([0xff, 0xff]),
      'snappy: block ends inside its length',
    ],
    [
      'a raw length longer than 5 bytes',
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      'snappy: block length longer than 5 bytes',
    ],
    [
      'a xerial block length cut short',
      Buffer.concat([xerialByHand([]), Buffer.from([0, 0])]),
      'snappy: xerial block length cut short',
    ],
    [
      'a xerial block overrunning the data',
      Buffer.concat([xerialByHand([]), Buffer.from([0, 0, 0, 9, 1])]),
      'snappy: xerial block of 9 bytes overruns the data',
    ],
  ])('given %s, gives the reason', (_, bytes, reason) => {
    expect(snappyBound(bytes)).toBe(reason);
    expect(inflateSync(2, bytes, MiB)).toBe(reason);
  });
});

describe('lz4', () => {
  it('writes an LZ4 frame: version 1, independent blocks, no checksums but the header', () => {
    const out = compressSync('lz4', sample(1000));
    expect(out.readUInt32LE(0)).toBe(0x184d2204);
    expect(out[4]).toBe(0x60);
  });

  it('reads a frame with block and content checksums; refuses a second frame, which would be ignored', () => {
    const a = sample(200 * KiB);
    const checked = compressFrameSync(a, { blockChecksums: true, contentChecksum: true });
    expect(checked[4]! & 0x14).toBe(0x14);
    expect((inflateSync(3, checked, 64 * MiB) as Buffer).equals(a)).toBe(true);
    const second = compressFrameSync(Buffer.from('more'));
    expect(inflateSync(3, Buffer.concat([checked, second]), 64 * MiB)).toBe(
      `lz4: ${second.length} bytes after the frame`,
    );
  });

  it('bounds a compressed block by 255 bytes a byte, below its maximum size', () => {
    // BD 0x70: 4 MiB blocks; one compressed block of 10 bytes, then the end mark.
    const frame = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0, 10, 0, 0, 0]),
      Buffer.alloc(10),
      Buffer.alloc(4),
    ]);
    expect(lz4Bound(frame)).toBe(2550);
  });

  it('refuses a frame that declares 1 TiB of content before inflating it', () => {
    // FLG: version 1, independent blocks, content size; BD: 64 KiB blocks; size; HC; end mark.
    const frame = Buffer.alloc(4 + 2 + 8 + 1 + 4);
    frame.writeUInt32LE(0x184d2204, 0);
    frame[4] = 0x68;
    frame[5] = 0x40;
    frame.writeBigUInt64LE(1n << 40n, 6);
    expect(lz4Bound(frame)).toBe(2 ** 40);
    expect(inflateSync(3, frame, 64 * MiB)).toBe(INFLATED_TOO_LARGE);
  });

  it.each([
    ['fewer than 4 bytes', Buffer.from([4, 0x22]), 'lz4: no frame'],
    ['another magic', Buffer.from('not a frame'), 'lz4: bad frame magic at byte 0'],
    ['version 0', Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x20, 0x40, 0]), 'lz4: frame version 0, not 1'],
    [
      'block size code 2',
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x20, 0]),
      'lz4: block maximum size code 2',
    ],
    [
      'no end mark',
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0]),
      'lz4: frame ends without an end mark',
    ],
    [
      'a block above the maximum',
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0, 0x01, 0x00, 0x01, 0x00]),
      "lz4: block of 65537 bytes above the frame's maximum 65536",
    ],
    [
      'a block overrunning the data',
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0, 0x10, 0, 0, 0, 1, 2, 0, 0, 0, 0]),
      'lz4: frame ends without an end mark',
    ],
  ])('given %s, gives the reason', (_, bytes, reason) => {
    expect(lz4Bound(bytes)).toBe(reason);
    expect(inflateSync(3, bytes, MiB)).toBe(reason);
  });
});

describe('zstd', () => {
  it('reads a frame built by its layout: a raw block and an RLE block', () => {
    const frame = zstdByHand(8, [
      zstdBlock(3, 0, false, Buffer.from('abc')),
      zstdBlock(5, 1, true, Buffer.from('z')),
    ]);
    expect(zstdBound(frame)).toBe(8);
    expect(inflateSync(4, frame, MiB)).toEqual(Buffer.from('abczzzzz'));
  });

  it('reads frames without a content size (as streaming encoders write them), back to back, and skippable frames', () => {
    const a = zstdByHand(null, [zstdBlock(4, 0, true, Buffer.from('wxyz'))]);
    const b = compressSync('zstd', sample(50 * KiB));
    const skip = Buffer.from([0x5f, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    expect(inflateSync(4, Buffer.concat([a, skip, b]), MiB)).toEqual(
      Buffer.concat([Buffer.from('wxyz'), sample(50 * KiB)]),
    );
  });

  it('refuses 1 MiB of RLE blocks, 32 GiB inflated, before inflating any', async () => {
    const block = zstdBlock(128 * KiB, 1, false, Buffer.from([0]));
    const blocks = Array<Buffer>(256 * KiB).fill(block);
    blocks.push(zstdBlock(1, 1, true, Buffer.from([0])));
    const bomb = zstdByHand(null, blocks);
    expect(bomb.length).toBeLessThan(2 * MiB);
    expect(zstdBound(bomb)).toBe(32 * 1024 * MiB + 1);
    expect(inflateSync(4, bomb, 64 * MiB)).toBe(INFLATED_TOO_LARGE);
    expect(await inflate(4, bomb, 64 * MiB)).toBe(INFLATED_TOO_LARGE);
  });

  it('bounds a compressed block by 128 KiB, and by a declared content size when that is larger', () => {
    const compressed = compressSync('zstd', Buffer.alloc(10 * MiB));
    const bound = zstdBound(compressed) as number;
    expect(bound).toBeGreaterThanOrEqual(10 * MiB);
    expect(bound).toBeLessThan(12 * MiB);
    const lie = zstdByHand(200, [zstdBlock(1, 0, true, Buffer.from('a'))]);
    expect(zstdBound(lie)).toBe(200);
  });

  it.each([
    ['another magic', Buffer.from('not a frame'), 'zstd: bad frame magic at byte 0'],
    [
      'a skippable frame overrunning the data',
      Buffer.from([0x50, 0x2a, 0x4d, 0x18, 9, 0, 0, 0]),
      'zstd: skippable frame overruns the data',
    ],
    [
      'the reserved header bit',
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x08, 0]),
      'zstd: reserved frame header bit set',
    ],
    ['a header cut short', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xc0]), 'zstd: frame header cut short'],
    [
      'no last block',
      zstdByHand(3, [zstdBlock(3, 0, false, Buffer.from('abc'))]),
      'zstd: frame ends inside a block header',
    ],
    [
      'the reserved block type',
      zstdByHand(3, [zstdBlock(3, 3, true, Buffer.from('abc'))]),
      'zstd: reserved block type',
    ],
    [
      'a block overrunning the data',
      zstdByHand(9, [zstdBlock(9, 0, true, Buffer.from('abc'))]),
      'zstd: frame overruns the data',
    ],
    [
      'two stray bytes after a frame',
      Buffer.concat([zstdByHand(1, [zstdBlock(1, 1, true, Buffer.from('a'))]), Buffer.from([1, 2])]),
      'zstd: 2 bytes after the last frame',
    ],
  ])('given %s, gives the reason', (_, bytes, reason) => {
    expect(zstdBound(bytes)).toBe(reason);
    expect(inflateSync(4, bytes, MiB)).toBe(reason);
  });
});

describe('gzip', () => {
  it('reads what node:zlib writes, members back to back', () => {
    const joined = Buffer.concat([gzipSync(Buffer.from('ab')), gzipSync(Buffer.from('cd'))]);
    expect(inflateSync(1, joined, MiB)).toEqual(Buffer.from('abcd'));
  });
});

describe('codecs 5-7', () => {
  it.each([0, 5, 6, 7])('codec %i is unsupported', async (codec) => {
    expect(inflateSync(codec, Buffer.from('x'), MiB)).toBe(`unsupported compression codec ${codec}`);
    expect(await inflate(codec, Buffer.from('x'), MiB)).toBe(`unsupported compression codec ${codec}`);
  });
});
