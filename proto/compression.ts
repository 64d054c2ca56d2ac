// The four codecs of Kafka batches (attributes bits 0-2: 1 gzip, 2 snappy, 3 lz4, 4 zstd), each
// compressing and inflating a batch's records as one stream, synchronously (clients, segment time
// lookups) or on libuv's thread pool (the broker's produce, fetch and compaction).
//
// What each writes, and why:
//   gzip    node:zlib at its defaults, as kafkajs does.
//   snappy  the xerial stream framing in 32 KiB blocks, as the Java client writes it: every client
//           reads it (the Java client, librdkafka and kafkajs's snappy codec recognise its header),
//           while raw snappy, which librdkafka and kafkajs write, is read here too.
//   lz4     one LZ4 frame with independent blocks and no checksums beyond the header's, as the
//           Java client writes it for magic v2; the block size (64 KiB to 4 MiB) is lz4-napi's
//           choice for the input, and every reader takes any.
//   zstd    one zstd frame at level 3, zstd's default and the Java client's.
//
// Inflating never goes past a caller's limit (a guard against decompression bombs): gzip through
// zlib's maxOutputLength; the others, whose libraries inflate in one shot and allocate what the
// data declares, by the bound their framing gives before anything is inflated
// (compression-bounds.ts). The codecs are native addons (napi-rs builds shipped as npm packages)
// because the batches they handle are megabytes and the broker's event loop must not stall on them.

import { Decoder as ZstdDecoder, Encoder as ZstdEncoder } from '@toondepauw/node-zstd';
import { compressFrame, compressFrameSync, decompressFrame, decompressFrameSync } from 'lz4-napi';
import { gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib';
import {
  compress as snappyCompress,
  compressSync as snappyCompressSync,
  uncompress as snappyUncompress,
  uncompressSync as snappyUncompressSync,
} from 'snappy';
import {
  XERIAL_BLOCK_BYTES,
  XERIAL_COMPATIBLE_VERSION,
  XERIAL_HEADER_SIZE,
  XERIAL_MAGIC,
  XERIAL_VERSION,
  isXerial,
  lz4Bound,
  snappyBound,
  zstdBound,
  type InflatedBound,
} from './compression-bounds.js';

export const COMPRESSION_NONE = 0;
export const COMPRESSION_GZIP = 1;
export const COMPRESSION_SNAPPY = 2;
export const COMPRESSION_LZ4 = 3;
export const COMPRESSION_ZSTD = 4;

/** The codecs by name, as options and flags spell them; the index is the attributes value. */
export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** The records would inflate past the limit; nothing past the limit was inflated. */
export const INFLATED_TOO_LARGE = Symbol('inflated too large');

/** What inflation yields: the records, the reason they could not be had, or too large. */
export type Inflated = Buffer | string | typeof INFLATED_TOO_LARGE;

/** zstd's default level, and the Java client's. */
const ZSTD_LEVEL = 3;

const zstdEncoder = new ZstdEncoder(ZSTD_LEVEL);
const zstdDecoder = new ZstdDecoder();

/** The codec number (attributes bits 0-2) of a codec name. */
export function compressionCodec(name: Compression): number {
  return COMPRESSIONS.indexOf(name);
}

/** The name of a codec number, or null for 5-7, which no Kafka version defines. */
export function compressionName(codec: number): Compression | null {
  return COMPRESSIONS[codec] ?? null;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Raw snappy blocks of XERIAL_BLOCK_BYTES of input each, behind the xerial header. */
function xerialSync(plain: Buffer): Buffer {
  const parts: Buffer[] = [xerialHeader()];
  for (let pos = 0; pos < plain.length; pos += XERIAL_BLOCK_BYTES) {
    const block = snappyCompressSync(plain.subarray(pos, pos + XERIAL_BLOCK_BYTES));
    parts.push(blockLength(block.length), block);
  }
  return Buffer.concat(parts);
}

async function xerial(plain: Buffer): Promise<Buffer> {
  const blocks: Promise<Buffer>[] = [];
  for (let pos = 0; pos < plain.length; pos += XERIAL_BLOCK_BYTES) {
    blocks.push(snappyCompress(plain.subarray(pos, pos + XERIAL_BLOCK_BYTES)));
  }
  const parts: Buffer[] = [xerialHeader()];
  for (const block of await Promise.all(blocks)) parts.push(blockLength(block.length), block);
  return Buffer.concat(parts);
}

function xerialHeader(): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  return header;
}

function blockLength(length: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeInt32BE(length, 0);
  return out;
}

/** The raw blocks of a xerial stream (its framing already checked by snappyBound). */
function xerialBlocks(src: Buffer): Buffer[] {
  const blocks: Buffer[] = [];
  for (let pos = XERIAL_HEADER_SIZE; pos < src.length;) {
    const length = src.readInt32BE(pos);
    blocks.push(src.subarray(pos + 4, pos + 4 + length));
    pos += 4 + length;
  }
  return blocks;
}

function unsnappySync(src: Buffer): Buffer {
  if (!isXerial(src)) return snappyUncompressSync(src) as Buffer;
  return Buffer.concat(xerialBlocks(src).map((block) => snappyUncompressSync(block) as Buffer));
}

async function unsnappy(src: Buffer): Promise<Buffer> {
  if (!isXerial(src)) return (await snappyUncompress(src)) as Buffer;
  const blocks = await Promise.all(xerialBlocks(src).map((block) => snappyUncompress(block)));
  return Buffer.concat(blocks as Buffer[]);
}

/** Compresses a batch's records with the codec (not 'none'). */
export function compressSync(codec: Compression, plain: Buffer): Buffer {
  switch (codec) {
    case 'gzip':
      return gzipSync(plain);
    case 'snappy':
      return xerialSync(plain);
    case 'lz4':
      return compressFrameSync(plain);
    case 'zstd':
      return zstdEncoder.encodeSync(plain);
    case 'none':
      throw new Error('compressSync: nothing to compress with codec none');
  }
}

/** compressSync on libuv's thread pool. */
export function compress(codec: Compression, plain: Buffer): Promise<Buffer> {
  switch (codec) {
    case 'gzip':
      return new Promise((resolve, reject) => {
        gzip(plain, (err, out) => (err === null ? resolve(out) : reject(err)));
      });
    case 'snappy':
      return xerial(plain);
    case 'lz4':
      return compressFrame(plain);
    case 'zstd':
      return zstdEncoder.encode(plain);
    case 'none':
      return Promise.reject(new Error('compress: nothing to compress with codec none'));
  }
}

/** The bound of snappy, lz4 or zstd bytes (gzip is bounded as it inflates). */
function bound(codec: number, src: Buffer): InflatedBound {
  if (codec === COMPRESSION_SNAPPY) return snappyBound(src);
  if (codec === COMPRESSION_LZ4) return lz4Bound(src);
  return zstdBound(src);
}

function isTooLarge(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE';
}

/** Why the codec number cannot be inflated here, or null. */
function unsupported(codec: number): string | null {
  return codec >= COMPRESSION_GZIP && codec <= COMPRESSION_ZSTD
    ? null
    : `unsupported compression codec ${codec}`;
}

/** Inflates src (compressed with codec 1-4) synchronously, never past maxBytes. */
export function inflateSync(codec: number, src: Buffer, maxBytes: number): Inflated {
  const reason = unsupported(codec);
  if (reason !== null) return reason;
  const name = COMPRESSIONS[codec]!;
  try {
    if (codec === COMPRESSION_GZIP) return gunzipSync(src, { maxOutputLength: maxBytes });
    const limit = bound(codec, src);
    if (typeof limit === 'string') return limit;
    if (limit > maxBytes) return INFLATED_TOO_LARGE;
    if (codec === COMPRESSION_SNAPPY) return unsnappySync(src);
    if (codec === COMPRESSION_LZ4) return decompressFrameSync(src);
    return zstdDecoder.decodeSync(src);
  } catch (err) {
    if (isTooLarge(err)) return INFLATED_TOO_LARGE;
    return `${name}: ${message(err)}`;
  }
}

/** inflateSync on libuv's thread pool. */
export async function inflate(codec: number, src: Buffer, maxBytes: number): Promise<Inflated> {
  const reason = unsupported(codec);
  if (reason !== null) return reason;
  const name = COMPRESSIONS[codec]!;
  try {
    if (codec === COMPRESSION_GZIP) {
      return await new Promise<Buffer>((resolve, reject) => {
        gunzip(src, { maxOutputLength: maxBytes }, (err, out) => (err === null ? resolve(out) : reject(err)));
      });
    }
    const limit = bound(codec, src);
    if (typeof limit === 'string') return limit;
    if (limit > maxBytes) return INFLATED_TOO_LARGE;
    if (codec === COMPRESSION_SNAPPY) return await unsnappy(src);
    if (codec === COMPRESSION_LZ4) return await decompressFrame(src);
    return await zstdDecoder.decode(src);
  } catch (err) {
    if (isTooLarge(err)) return INFLATED_TOO_LARGE;
    return `${name}: ${message(err)}`;
  }
}
