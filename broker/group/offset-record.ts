// The records of __consumer_offsets: one per committed offset, keyed by (group, topic, partition),
// so compaction keeps only the newest commit of each partition and a null value (a tombstone)
// forgets it. Both parts start with a version, so the layout can grow without breaking old logs.
//
//   key   (big-endian)
//     0   int16   version = 1
//     2   int16   group length G, then G bytes of UTF-8
//         int16   topic length T, then T bytes of UTF-8
//         int32   partition
//
//   value
//     0   int16   version = 1
//     2   int64   offset (the next offset the group will consume)
//    10   int64   commit timestamp (ms since the epoch)
//    18   int16   metadata length M, then M bytes of UTF-8
//
// Lengths are int16 because group ids, topic names (249 bytes at most) and commit metadata
// (MAX_METADATA_BYTES) are all short. Decoders return a reason string instead of throwing, so a
// damaged record is skipped with a log line instead of stopping the coordinator (STYLE 3).

export const OFFSET_RECORD_VERSION = 1;
export const MAX_METADATA_BYTES = 4096;
export const MAX_GROUP_ID_BYTES = 255;
const VALUE_FIXED_BYTES = 2 + 8 + 8 + 2;

export interface OffsetKey {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
}

export interface OffsetValue {
  readonly offset: number;
  readonly commitTimestamp: number;
  readonly metadata: string;
}

export function encodeOffsetKey(key: OffsetKey): Buffer {
  const group = Buffer.from(key.group, 'utf8');
  const topic = Buffer.from(key.topic, 'utf8');
  const buf = Buffer.allocUnsafe(2 + 2 + group.length + 2 + topic.length + 4);
  let off = buf.writeInt16BE(OFFSET_RECORD_VERSION, 0);
  off = buf.writeInt16BE(group.length, off);
  off += group.copy(buf, off);
  off = buf.writeInt16BE(topic.length, off);
  off += topic.copy(buf, off);
  buf.writeInt32BE(key.partition, off);
  return buf;
}

export function encodeOffsetValue(value: OffsetValue): Buffer {
  const metadata = Buffer.from(value.metadata, 'utf8');
  const buf = Buffer.allocUnsafe(VALUE_FIXED_BYTES + metadata.length);
  let off = buf.writeInt16BE(OFFSET_RECORD_VERSION, 0);
  off = buf.writeBigInt64BE(BigInt(value.offset), off);
  off = buf.writeBigInt64BE(BigInt(value.commitTimestamp), off);
  off = buf.writeInt16BE(metadata.length, off);
  metadata.copy(buf, off);
  return buf;
}

/** A string field at `off` (int16 length + UTF-8), or a reason. */
function readString(buf: Buffer, off: number, what: string): { value: string; end: number } | string {
  if (off + 2 > buf.length) return `${what} length is cut off`;
  const len = buf.readInt16BE(off);
  if (len < 0 || off + 2 + len > buf.length) return `${what} length ${len} runs past the record`;
  return { value: buf.toString('utf8', off + 2, off + 2 + len), end: off + 2 + len };
}

export function decodeOffsetKey(buf: Buffer): OffsetKey | string {
  if (buf.length < 2) return 'key is shorter than its version';
  const version = buf.readInt16BE(0);
  if (version !== OFFSET_RECORD_VERSION) return `unknown key version ${version}`;
  const group = readString(buf, 2, 'group');
  if (typeof group === 'string') return group;
  const topic = readString(buf, group.end, 'topic');
  if (typeof topic === 'string') return topic;
  if (topic.end + 4 !== buf.length) return `key is ${buf.length} bytes, expected ${topic.end + 4}`;
  return { group: group.value, topic: topic.value, partition: buf.readInt32BE(topic.end) };
}

export function decodeOffsetValue(buf: Buffer): OffsetValue | string {
  if (buf.length < VALUE_FIXED_BYTES)
    return `value is ${buf.length} bytes, shorter than ${VALUE_FIXED_BYTES}`;
  const version = buf.readInt16BE(0);
  if (version !== OFFSET_RECORD_VERSION) return `unknown value version ${version}`;
  const offset = buf.readBigInt64BE(2);
  const commitTimestamp = buf.readBigInt64BE(10);
  if (offset < 0n || offset > BigInt(Number.MAX_SAFE_INTEGER)) return `offset ${offset} is out of range`;
  const metadata = readString(buf, 18, 'metadata');
  if (typeof metadata === 'string') return metadata;
  if (metadata.end !== buf.length) return `value has ${buf.length - metadata.end} trailing bytes`;
  return { offset: Number(offset), commitTimestamp: Number(commitTimestamp), metadata: metadata.value };
}
