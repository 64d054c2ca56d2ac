// How large the records of a snappy, lz4 or zstd batch can inflate, read from the framing alone,
// before anything is inflated: the guard against decompression bombs for codecs whose libraries
// only inflate in one shot. A few hundred bytes of any of them can declare or hold gigabytes, and
// a one-shot inflate allocates what it is told, so the broker reads the bound first and inflates
// only a batch whose bound fits its limit (compression.ts). gzip needs none of this: zlib stops
// itself at maxOutputLength.
//
// snappy, raw (what librdkafka and kafkajs write):
//   varint uncompressed length, then the compressed block. The bound is that length, exactly.
// snappy, xerial stream framing (what the Java client writes):
//   0     magic        8 bytes  0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
//   8     version      int32 BE (1)
//   12    compatible   int32 BE (1)
//   16    blocks       each: int32 BE length, then a raw snappy block of that length
//   The bound is the sum of the blocks' varint lengths, exactly.
// lz4 frame (LZ4 Frame Format 1.6; all integers little-endian):
//   0     magic        0x184D2204
//   4     FLG          bits 7-6 version (01), 5 block independence, 4 block checksum,
//                      3 content size, 2 content checksum, 1 reserved (0), 0 dictionary id
//   5     BD           bits 6-4 block maximum size: 4 = 64 KiB, 5 = 256 KiB, 6 = 1 MiB, 7 = 4 MiB
//   6     [content size uint64] [dictionary id uint32] header checksum (1 byte)
//   then  blocks       each: uint32 size (high bit: stored uncompressed), data, [checksum uint32];
//                      a size of 0 ends the frame, then [content checksum uint32]
//   A compressed block inflates to at most the block maximum size, and to at most 255 bytes per
//   byte (a match-length byte adds at most 255); a stored one to its size. One frame per batch:
//   the Java client writes and reads one, and the decoder here would ignore a second.
// zstd frame (RFC 8878; little-endian):
//   0     magic        0xFD2FB528
//   4     header byte  bits 7-6 content size flag, 5 single segment, 3 reserved (0),
//                      2 content checksum, 1-0 dictionary id flag
//   5     [window descriptor (absent when single segment)] [dictionary id 0/1/2/4 bytes]
//         [content size 0/1/2/4/8 bytes]
//   then  blocks       each: 3-byte header (bit 0 last, bits 2-1 type, bits 23-3 size), data;
//                      [content checksum uint32] after the last
//   A raw block inflates to its size, an RLE block (one byte of data) to its size, a compressed
//   one to at most 128 KiB (Block_Maximum_Size).
// zstd data may hold several frames back to back, and skippable frames (magic
// 0x184D2A50-0x184D2A5F, uint32 size, data), which inflate to nothing.
//
// The bound of a compressed lz4 or zstd block is its maximum, so a bound can exceed what a frame
// really inflates to by up to one block (128 KiB for zstd, 4 MiB at most for lz4) per flush the
// encoder made: a batch within that of the limit may be refused, never one past it let through.

import assert from 'node:assert/strict';

export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
export const XERIAL_VERSION = 1;
export const XERIAL_COMPATIBLE_VERSION = 1;
export const XERIAL_HEADER_SIZE = 16;
/** The Java client's xerial block size (snappy-java's default): 32 KiB of input per block. */
export const XERIAL_BLOCK_BYTES = 32 * 1024;

export const LZ4_MAGIC = 0x184d2204;
export const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MIN = 0x184d2a50;
const SKIPPABLE_MAGIC_MAX = 0x184d2a5f;
/** zstd's Block_Maximum_Size: what one compressed block can inflate to. */
export const ZSTD_MAX_BLOCK_BYTES = 128 * 1024;
const LZ4_UNCOMPRESSED_BIT = 0x8000_0000;

assert.equal(XERIAL_MAGIC.length + 8, XERIAL_HEADER_SIZE);

/** An upper bound on what a codec's bytes inflate to, or why the framing is not valid. */
export type InflatedBound = number | string;

/** Whether the bytes open with the xerial stream header (a raw snappy block cannot: see below). */
export function isXerial(src: Buffer): boolean {
  // A raw block opens with a varint length; 0x82 followed by 'S' would be a length of 0x2982
  // and then a literal tag 'N' ... possible in principle, so the version ints are checked too.
  return (
    src.length >= XERIAL_HEADER_SIZE &&
    src.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC) &&
    src.readInt32BE(8) >= 1
  );
}

/** The uncompressed length a raw snappy block declares (its leading varint), or a reason. */
function snappyLength(src: Buffer, start: number, end: number): InflatedBound {
  let value = 0;
  for (let i = 0, pos = start; i < 5; i++, pos++) {
    if (pos >= end) return 'snappy: block ends inside its length';
    const byte = src[pos]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return value;
  }
  return 'snappy: block length longer than 5 bytes';
}

/** What snappy bytes (raw or xerial) inflate to, exactly, as their blocks declare it. */
export function snappyBound(src: Buffer): InflatedBound {
  if (!isXerial(src)) return snappyLength(src, 0, src.length);
  let total = 0;
  let pos = XERIAL_HEADER_SIZE;
  while (pos < src.length) {
    if (pos + 4 > src.length) return 'snappy: xerial block length cut short';
    const length = src.readInt32BE(pos);
    pos += 4;
    if (length < 0 || pos + length > src.length)
      return `snappy: xerial block of ${length} bytes overruns the data`;
    const block = snappyLength(src, pos, pos + length);
    if (typeof block === 'string') return block;
    total += block;
    pos += length;
  }
  return total;
}

/** The most a compressed lz4 block of `length` bytes inflates to: 255 bytes a byte. */
const LZ4_MAX_RATIO = 255;

/** Skips a skippable frame at pos: its end, or -1 when it is not one, or a reason. */
function skippable(src: Buffer, pos: number, codec: string): number | string {
  const magic = src.readUInt32LE(pos);
  if (magic < SKIPPABLE_MAGIC_MIN || magic > SKIPPABLE_MAGIC_MAX) return -1;
  if (pos + 8 > src.length) return `${codec}: skippable frame cut short`;
  const end = pos + 8 + src.readUInt32LE(pos + 4);
  return end > src.length ? `${codec}: skippable frame overruns the data` : end;
}

const LZ4_BLOCK_MAX: readonly number[] = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/** One lz4 frame at pos: [its end, its bound], or a reason. */
function lz4Frame(src: Buffer, pos: number): [number, number] | string {
  if (pos + 7 > src.length) return 'lz4: frame header cut short';
  const flg = src[pos + 4]!;
  const bd = src[pos + 5]!;
  if (flg >> 6 !== 1) return `lz4: frame version ${flg >> 6}, not 1`;
  const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 7]!;
  if (blockMax === 0) return `lz4: block maximum size code ${(bd >> 4) & 7}`;
  const blockChecksum = (flg & 0x10) !== 0;
  let p = pos + 6;
  let declared = -1;
  if ((flg & 0x08) !== 0) {
    if (p + 8 > src.length) return 'lz4: frame header cut short';
    declared = Number(src.readBigUInt64LE(p));
    p += 8;
  }
  if ((flg & 0x01) !== 0) p += 4;
  p += 1; // header checksum, checked by the decoder
  let bound = 0;
  for (;;) {
    if (p + 4 > src.length) return 'lz4: frame ends without an end mark';
    const size = src.readUInt32LE(p);
    p += 4;
    if (size === 0) break;
    const stored = (size & LZ4_UNCOMPRESSED_BIT) !== 0;
    const length = size & ~LZ4_UNCOMPRESSED_BIT;
    if (length > blockMax) return `lz4: block of ${length} bytes above the frame's maximum ${blockMax}`;
    bound += stored ? length : Math.min(blockMax, LZ4_MAX_RATIO * length);
    p += length + (blockChecksum ? 4 : 0);
  }
  if ((flg & 0x04) !== 0) p += 4;
  if (p > src.length) return 'lz4: frame overruns the data';
  // A declared size may be a lie the decoder allocates for: the larger of the two bounds memory.
  return [p, Math.max(declared, bound)];
}

/** An upper bound on what one lz4 frame inflates to. */
export function lz4Bound(src: Buffer): InflatedBound {
  if (src.length < 4) return 'lz4: no frame';
  if (src.readUInt32LE(0) !== LZ4_MAGIC) return 'lz4: bad frame magic at byte 0';
  const read = lz4Frame(src, 0);
  if (typeof read === 'string') return read;
  if (read[0] < src.length) return `lz4: ${src.length - read[0]} bytes after the frame`;
  return read[1];
}

const ZSTD_DICT_ID_BYTES: readonly number[] = [0, 1, 2, 4];
const ZSTD_CONTENT_SIZE_BYTES: readonly number[] = [0, 2, 4, 8];

/** One zstd frame at pos: [its end, its bound], or a reason. */
function zstdFrame(src: Buffer, pos: number): [number, number] | string {
  if (pos + 5 > src.length) return 'zstd: frame header cut short';
  const fhd = src[pos + 4]!;
  if ((fhd & 0x08) !== 0) return 'zstd: reserved frame header bit set';
  const singleSegment = (fhd & 0x20) !== 0;
  const sizeBytes = fhd >> 6 === 0 && singleSegment ? 1 : ZSTD_CONTENT_SIZE_BYTES[fhd >> 6]!;
  const p0 = pos + 5 + (singleSegment ? 0 : 1) + ZSTD_DICT_ID_BYTES[fhd & 3]! + sizeBytes;
  if (p0 > src.length) return 'zstd: frame header cut short';
  let p = p0;
  let bound = 0;
  for (;;) {
    if (p + 3 > src.length) return 'zstd: frame ends inside a block header';
    const header = src.readUIntLE(p, 3);
    p += 3;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (type === 3) return 'zstd: reserved block type';
    if (type === 1) {
      bound += size;
      p += 1;
    } else {
      if (type === 0) bound += size;
      else bound += ZSTD_MAX_BLOCK_BYTES;
      p += size;
    }
    if ((header & 1) !== 0) break;
  }
  if ((fhd & 0x04) !== 0) p += 4;
  if (p > src.length) return 'zstd: frame overruns the data';
  if (sizeBytes > 0) {
    const at = p0 - sizeBytes;
    const declared =
      sizeBytes === 8
        ? Number(src.readBigUInt64LE(at))
        : src.readUIntLE(at, sizeBytes) + (sizeBytes === 2 ? 256 : 0);
    // A declared size may be a lie the decoder allocates for: the larger of the two bounds memory.
    bound = Math.max(bound, declared);
  }
  return [p, bound];
}

/** An upper bound on what zstd frames (and skippable frames) back to back inflate to. */
export function zstdBound(src: Buffer): InflatedBound {
  if (src.length < 4) return 'zstd: no frame';
  let total = 0;
  let pos = 0;
  while (pos < src.length) {
    if (pos + 4 > src.length) return `zstd: ${src.length - pos} bytes after the last frame`;
    const skipped = skippable(src, pos, 'zstd');
    if (typeof skipped === 'string') return skipped;
    if (skipped >= 0) {
      pos = skipped;
      continue;
    }
    if (src.readUInt32LE(pos) !== ZSTD_MAGIC) return `zstd: bad frame magic at byte ${pos}`;
    const read = zstdFrame(src, pos);
    if (typeof read === 'string') return read;
    pos = read[0];
    total += read[1];
  }
  return total;
}
