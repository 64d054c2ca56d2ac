// Inflating the records of a compressed batch off the event loop, within a size limit.
//
// record-batch.ts inflates synchronously: right for a client decoding what it asked for, wrong
// for a broker, where one large batch would stall every other request while it inflates. These
// functions inflate on libuv's thread pool (compression.ts) and never past a limit: a batch is
// limited by its compressed size (max.message.bytes), and a few hundred kilobytes of any codec can
// hold gigabytes. Uncompressed batches never come here.
//
// Two shapes, for two callers: produce validates every record, so it inflates a batch whole
// (inflateRecords) and hands the bytes to invalidRecords; a fetch answered as records wants only as
// many records as its max_bytes, so it inflates as it walks and stops when it has enough
// (forEachInflatedRecord).

import { createGunzip } from 'node:zlib';
import {
  BATCH_HEADER_SIZE,
  COMPRESSION_MASK,
  TIMESTAMP_TYPE_BIT,
  batchAttributes,
  batchBaseOffset,
  batchBaseTimestamp,
  batchMaxTimestamp,
  batchRecordsCount,
  batchSize,
} from './batch-header.js';
import {
  COMPRESSION_GZIP,
  COMPRESSION_NONE,
  INFLATED_TOO_LARGE,
  inflate,
  type Inflated,
} from './compression.js';
import { forEachRecordInflated, type RecordEntry, type RecordVisitor } from './record-batch.js';
import { readRecord, recordView } from './record.js';
import { readVarint, varintCursor } from './varint.js';

export { INFLATED_TOO_LARGE, type Inflated } from './compression.js';

/** Output chunks of a walk: large enough that a big record takes few turns of the event loop. */
const WALK_CHUNK_BYTES = 256 * 1024;
/** The longest varint: a record whose length prefix is cut holds fewer bytes than this. */
const MAX_VARINT_BYTES = 5;

/**
 * Whether any whole batch in `batches` (back to back, as a produce or fetch carries them) is
 * compressed with `codec`. Stops at the first batch that is cut or too short to be one.
 */
export function holdsCodec(batches: Buffer, codec: number): boolean {
  for (let off = 0; off + BATCH_HEADER_SIZE <= batches.length;) {
    const size = batchSize(batches, off);
    if (size < BATCH_HEADER_SIZE) return false;
    if ((batchAttributes(batches, off) & COMPRESSION_MASK) === codec) return true;
    off += size;
  }
  return false;
}

/** Whether the batch at off (header valid) has compressed records. */
export function isCompressed(buf: Buffer, off: number): boolean {
  return (batchAttributes(buf, off) & COMPRESSION_MASK) !== COMPRESSION_NONE;
}

/**
 * The records of the compressed batch at off (header valid), inflated on the thread pool but not
 * past maxBytes. Codecs 5-7 are a reason, worded as record-batch.ts words it.
 */
export function inflateRecords(buf: Buffer, off: number, maxBytes: number): Promise<Inflated> {
  const codec = batchAttributes(buf, off) & COMPRESSION_MASK;
  return inflate(codec, buf.subarray(off + BATCH_HEADER_SIZE, off + batchSize(buf, off)), maxBytes);
}

/**
 * Inflated bytes not yet walked: `head` from `pos` on, then `tail` chunks. They are joined only
 * once they hold the whole next record, so a record spread over many chunks is copied once.
 */
interface Pending {
  head: Buffer;
  pos: number;
  tail: Buffer[];
  tailBytes: number;
}

/** How many bytes the next record needs, from its length prefix (a guess when that is cut). */
function bytesNeeded(p: Pending): number {
  const cursor = varintCursor(p.pos);
  const length = readVarint(p.head, cursor, p.head.length);
  return cursor.reason === null ? cursor.pos - p.pos + length : MAX_VARINT_BYTES;
}

function join(p: Pending): void {
  p.head = Buffer.concat([p.head.subarray(p.pos), ...p.tail]);
  p.pos = 0;
  p.tail = [];
  p.tailBytes = 0;
}

/**
 * Walks the records of the compressed batch at off, which is valid (stored batches were checked
 * on produce), inflating on the thread pool. A gzip batch inflates only as far as the walk goes (a
 * visitor that returns false stops inflation too); the other codecs' libraries inflate in one
 * shot, so their batches inflate whole, within the same limit. Past maxInflatedBytes the walk ends
 * with INFLATED_TOO_LARGE. Keys and values in the entry are views into the inflated bytes; the
 * entry is reused.
 */
export async function forEachInflatedRecord<S>(
  buf: Buffer,
  off: number,
  maxInflatedBytes: number,
  visit: RecordVisitor<S>,
  state: S,
): Promise<string | null | typeof INFLATED_TOO_LARGE> {
  const codec = batchAttributes(buf, off) & COMPRESSION_MASK;
  if (codec !== COMPRESSION_GZIP) {
    const inflated = await inflateRecords(buf, off, maxInflatedBytes);
    if (typeof inflated !== 'object') return inflated;
    return forEachRecordInflated(buf, off, inflated, visit, state);
  }
  const count = batchRecordsCount(buf, off);
  const baseOffset = batchBaseOffset(buf, off);
  const baseTimestamp = batchBaseTimestamp(buf, off);
  const logAppendTime = (batchAttributes(buf, off) & TIMESTAMP_TYPE_BIT) !== 0;
  const maxTimestamp = batchMaxTimestamp(buf, off);
  const view = recordView();
  const entry: RecordEntry = { offset: 0, timestamp: 0, data: buf, view };
  const pending: Pending = { head: Buffer.alloc(0), pos: 0, tail: [], tailBytes: 0 };
  const stream = createGunzip({ chunkSize: WALK_CHUNK_BYTES });
  stream.end(buf.subarray(off + BATCH_HEADER_SIZE, off + batchSize(buf, off)));
  let inflated = 0;
  let walked = 0;
  let need = 1;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      inflated += chunk.length;
      if (inflated > maxInflatedBytes) return INFLATED_TOO_LARGE;
      pending.tail.push(chunk);
      pending.tailBytes += chunk.length;
      if (pending.head.length - pending.pos + pending.tailBytes < need) continue;
      join(pending);
      while (walked < count) {
        const reason = readRecord(pending.head, pending.pos, pending.head.length, view);
        if (reason !== null) {
          need = bytesNeeded(pending);
          break;
        }
        entry.data = pending.head;
        entry.offset = baseOffset + view.offsetDelta;
        entry.timestamp = logAppendTime ? maxTimestamp : baseTimestamp + view.timestampDelta;
        pending.pos = view.end;
        walked++;
        if (visit(entry, state) === false) return null;
      }
      if (walked === count) return null;
    }
  } catch (err) {
    return `gzip: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    stream.destroy();
  }
  if (walked === count) return null;
  join(pending);
  const reason = readRecord(pending.head, pending.pos, pending.head.length, view);
  return `record ${walked}: ${reason ?? 'not reached'}`;
}
