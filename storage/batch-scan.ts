// Walks the record batches of a `.log` file region in large chunks, validating each header (and,
// for recovery, its CRC) before handing it to a visitor. A bad batch ends the walk with the reason
// and the byte position where the damage starts, so callers can truncate there (STYLE 8).

import {
  LOG_OVERHEAD,
  MAX_BATCH_LENGTH,
  MIN_BATCH_LENGTH,
  batchSize,
  invalidBatch,
  invalidBatchHeader,
} from '../proto/batch-header.js';
import { BATCH_HEADER_SIZE } from '../proto/batch-header.js';
import type { StorageFs } from './fs.js';

/** The largest read of a walk; walks that start near their target begin smaller and double. */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

/** Return false to stop the walk. `buf` is only valid during the call. */
export type BatchVisitor = (buf: Buffer, off: number, position: number) => boolean;

export type ScanOutcome =
  | { readonly kind: 'ok'; readonly position: number }
  | { readonly kind: 'corrupt'; readonly reason: string; readonly position: number };

export function readAt(fs: StorageFs, fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/**
 * Visits batches in [start, end) of the file. Returns where the walk stopped: `ok` at `end` or where
 * the visitor stopped, `corrupt` at the first byte of a batch that is torn or fails validation.
 * `firstChunkBytes` sizes the first read (a lookup that starts at an index entry needs little);
 * each later read doubles, up to SCAN_CHUNK_BYTES.
 */
export function scanBatches(
  fs: StorageFs,
  fd: number,
  start: number,
  end: number,
  checkCrc: boolean,
  visit: BatchVisitor,
  firstChunkBytes: number = SCAN_CHUNK_BYTES,
): ScanOutcome {
  let chunkBytes = Math.min(Math.max(firstChunkBytes, BATCH_HEADER_SIZE), SCAN_CHUNK_BYTES);
  let chunk: Buffer = Buffer.alloc(0);
  let chunkPos = start;
  let pos = start;
  while (pos < end) {
    let off = pos - chunkPos;
    if (off + BATCH_HEADER_SIZE > chunk.length && chunkPos + chunk.length < end) {
      chunk = readAt(fs, fd, pos, Math.min(chunkBytes, end - pos));
      chunkBytes = Math.min(chunkBytes * 2, SCAN_CHUNK_BYTES);
      chunkPos = pos;
      off = 0;
    }
    if (chunk.length - off < LOG_OVERHEAD) {
      return { kind: 'corrupt', reason: invalidBatchHeader(chunk, off) ?? 'truncated batch', position: pos };
    }
    const length = chunk.readInt32BE(off + 8);
    if (length >= MIN_BATCH_LENGTH && length <= MAX_BATCH_LENGTH) {
      const size = batchSize(chunk, off);
      if (off + size > chunk.length && pos + size <= end) {
        chunk = readAt(fs, fd, pos, Math.min(Math.max(chunkBytes, size), end - pos));
        chunkBytes = Math.min(chunkBytes * 2, SCAN_CHUNK_BYTES);
        chunkPos = pos;
        off = 0;
      }
    }
    const reason = checkCrc
      ? invalidBatch(chunk, off, chunk.length)
      : invalidBatchHeader(chunk, off, chunk.length);
    if (reason !== null) return { kind: 'corrupt', reason, position: pos };
    if (!visit(chunk, off, pos)) return { kind: 'ok', position: pos };
    pos += batchSize(chunk, off);
  }
  return { kind: 'ok', position: pos };
}
