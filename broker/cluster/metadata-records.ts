// The records of the cluster metadata log (Raft group 0, led by the controller), in the spirit of
// KRaft's metadata records (RegisterBrokerRecord, FenceBrokerRecord, UnfenceBrokerRecord,
// TopicRecord, PartitionRecord, ConfigRecord, RemoveTopicRecord; and a reassignment's target, as
// KRaft's PartitionChangeRecord carries adding and removing replicas). Every broker applies the
// committed log in order to its MetadataImage (metadata-image.ts).
//
// Layout of one encoded record:
//
//   offset 0   version   uint8   METADATA_RECORD_VERSION (0)
//   offset 1   body      UTF-8 JSON of one object: "type" first, then the type's fields in the
//                        order of RECORD_FIELDS, and no other key; an optional field
//                        (OPTIONAL_FIELDS) is left out when it has no value
//
// Why JSON after a version byte and not a binary layout: the metadata log is small and rarely
// written (a record per admin request or broker state change), and JSON keeps it readable by the
// same tools that read any topic. The fixed key order makes the bytes of a record a function of
// its value, so two controllers planning the same change write the same bytes. Decoding is strict
// (exact key set, types, ranges, canonical UUIDs, well-formed UTF-8), and takes only that one
// encoding of a value (JSON.stringify's: no spaces, no other key order, no repeated key, numbers
// as integers): a record the log holds is applied by every broker for the life of the cluster, so
// nothing loose may enter it, and a record has one form to compare, hash or search for.
//
// A field added to a record type after logs were written is optional: a record without it is the
// record the older broker wrote, byte for byte, so older logs still load and stay canonical (the
// Kafka listener's port of registerBroker came this way). A broker older than the field refuses a
// record that carries it (an unknown field) and reports it; the cluster's brokers are upgraded
// before one is started with a Kafka listener.

import assert from 'node:assert/strict';
import { WeirError } from '../../proto/errors.js';
import { invalidTopicId, invalidTopicName } from '../../storage/index.js';

export const METADATA_RECORD_VERSION = 0;
/** Bytes before the JSON body. */
export const METADATA_HEADER_SIZE = 1;
/** Kafka's node ids and partition numbers are int32; negative ids mean "none" there. */
export const MAX_NODE_ID = 0x7fff_ffff;
export const MAX_PARTITION_COUNT = 0x7fff_ffff;
/** Kafka's replication factor is an int16. */
export const MAX_REPLICATION_FACTOR = 0x7fff;
export const MAX_HOST_LENGTH = 255;
export const MAX_CONFIG_KEY_LENGTH = 255;

export interface RegisterBrokerRecord {
  readonly type: 'registerBroker';
  readonly nodeId: number;
  /** A lowercase UUID the broker draws at each process start (KRaft's incarnation id). */
  readonly incarnation: string;
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly replicationPort: number;
  /** The Kafka listener's port, at `host`; absent when the broker has no Kafka listener. */
  readonly kafkaPort?: number;
}
export interface FenceBrokerRecord {
  readonly type: 'fenceBroker';
  readonly nodeId: number;
  readonly incarnation: string;
}
export interface UnfenceBrokerRecord {
  readonly type: 'unfenceBroker';
  readonly nodeId: number;
  readonly incarnation: string;
}
export interface TopicCreationRecord {
  readonly type: 'topic';
  readonly name: string;
  readonly topicId: string;
  /** The partition count at creation; the partition records that follow place them. */
  readonly partitions: number;
  readonly replicationFactor: number;
}
export interface PartitionRecord {
  readonly type: 'partition';
  readonly topic: string;
  readonly partition: number;
  /** Node ids, distinct; the first is the preferred leader. */
  readonly replicas: readonly number[];
}
/**
 * A partition starts moving to `target` (its replicas once the move is done): the partition's
 * leader carries the move out in its Raft group, one replica at a time, and asks the controller
 * for a partition record with the new replicas when its group's voters are `target`.
 */
export interface ReassignRecord {
  readonly type: 'reassign';
  readonly topic: string;
  readonly partition: number;
  /** Node ids, distinct; the first is the preferred leader once the move is done. */
  readonly target: readonly number[];
}
export interface ConfigRecord {
  readonly type: 'config';
  readonly topic: string;
  readonly key: string;
  /** null removes the override. */
  readonly value: string | null;
}
export interface RemoveTopicRecord {
  readonly type: 'removeTopic';
  readonly name: string;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | TopicCreationRecord
  | PartitionRecord
  | ReassignRecord
  | ConfigRecord
  | RemoveTopicRecord;

export type MetadataRecordType = MetadataRecord['type'];

/** Why a field's value is not acceptable, or null. */
type FieldCheck = (value: unknown) => string | null;

// Canonical lowercase: an incarnation is compared as a string, so 'A' and 'a' must not both occur.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOST = /^[^\s\p{Cc}]+$/u;
const CONFIG_KEY = /^[a-z0-9._-]+$/;

function integer(min: number, max: number): FieldCheck {
  return (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
      ? null
      : `${JSON.stringify(v)} is not an integer from ${min} to ${max}`;
}

const nodeId = integer(0, MAX_NODE_ID);
const port = integer(1, 65_535);
const incarnation: FieldCheck = (v) =>
  typeof v === 'string' && UUID.test(v) ? null : `${JSON.stringify(v)} is not a lowercase UUID`;
const topicName: FieldCheck = (v) =>
  typeof v !== 'string' ? `${JSON.stringify(v)} is not a string` : invalidTopicName(v);
const host: FieldCheck = (v) =>
  typeof v === 'string' && v.length <= MAX_HOST_LENGTH && HOST.test(v)
    ? null
    : `${JSON.stringify(v)} is not a host of 1 to ${MAX_HOST_LENGTH} characters without spaces`;
const configKey: FieldCheck = (v) =>
  typeof v === 'string' && v.length <= MAX_CONFIG_KEY_LENGTH && CONFIG_KEY.test(v)
    ? null
    : `${JSON.stringify(v)} is not a config key of 1 to ${MAX_CONFIG_KEY_LENGTH} characters of [a-z0-9._-]`;
const configValue: FieldCheck = (v) =>
  v === null || typeof v === 'string' ? null : `${JSON.stringify(v)} is neither a string nor null`;
const replicas: FieldCheck = (v) => {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_REPLICATION_FACTOR)
    return `${JSON.stringify(v)} is not a list of 1 to ${MAX_REPLICATION_FACTOR} node ids`;
  for (const id of v as unknown[]) {
    const bad = nodeId(id);
    if (bad !== null) return `node id ${bad}`;
  }
  return new Set(v).size === v.length ? null : `${JSON.stringify(v)} names a node twice`;
};

/** Each type's fields, in encoding order. */
export const RECORD_FIELDS: { readonly [T in MetadataRecordType]: Readonly<Record<string, FieldCheck>> } = {
  registerBroker: {
    nodeId,
    incarnation,
    host,
    grpcPort: port,
    httpPort: port,
    replicationPort: port,
    kafkaPort: port,
  },
  fenceBroker: { nodeId, incarnation },
  unfenceBroker: { nodeId, incarnation },
  topic: {
    name: topicName,
    topicId: invalidTopicId,
    partitions: integer(1, MAX_PARTITION_COUNT),
    replicationFactor: integer(1, MAX_REPLICATION_FACTOR),
  },
  partition: { topic: topicName, partition: integer(0, MAX_PARTITION_COUNT - 1), replicas },
  reassign: { topic: topicName, partition: integer(0, MAX_PARTITION_COUNT - 1), target: replicas },
  config: { topic: topicName, key: configKey, value: configValue },
  removeTopic: { name: topicName },
};

/** Fields of RECORD_FIELDS a record may leave out (added after logs without them were written). */
export const OPTIONAL_FIELDS: { readonly [T in MetadataRecordType]?: ReadonlySet<string> } = {
  registerBroker: new Set(['kafkaPort']),
};

function isOptional(type: MetadataRecordType, field: string): boolean {
  return OPTIONAL_FIELDS[type]?.has(field) === true;
}

function isRecordType(t: unknown): t is MetadataRecordType {
  return typeof t === 'string' && Object.hasOwn(RECORD_FIELDS, t);
}

/** Why `value` is not a metadata record, or null. */
export function invalidMetadataRecord(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const r = value as Record<string, unknown>;
  if (!Object.hasOwn(r, 'type')) return 'no type';
  if (!isRecordType(r.type)) return `unknown type ${JSON.stringify(r.type)}`;
  const fields = RECORD_FIELDS[r.type];
  for (const [name, check] of Object.entries(fields)) {
    if (!Object.hasOwn(r, name)) {
      if (isOptional(r.type, name)) continue;
      return `${r.type}: missing field ${name}`;
    }
    const bad = check(r[name]);
    if (bad !== null) return `${r.type}.${name}: ${bad}`;
  }
  for (const key of Object.keys(r))
    if (key !== 'type' && !Object.hasOwn(fields, key))
      return `${r.type}: unknown field ${JSON.stringify(key)}`;
  return null;
}

/** The record's bytes (layout above). An invalid record is a bug of the caller: it asserts. */
export function encodeMetadataRecord(record: MetadataRecord): Buffer {
  const reason = invalidMetadataRecord(record);
  assert.equal(reason, null, `invalid metadata record: ${reason}`);
  const body = Buffer.from(canonicalJson(record), 'utf8');
  const out = Buffer.allocUnsafe(METADATA_HEADER_SIZE + body.length);
  out[0] = METADATA_RECORD_VERSION;
  body.copy(out, METADATA_HEADER_SIZE);
  return out;
}

/** The body of a valid record: "type", then its fields in RECORD_FIELDS order (optional ones it has). */
function canonicalJson(record: MetadataRecord): string {
  const ordered: Record<string, unknown> = { type: record.type };
  const fields = record as unknown as Record<string, unknown>;
  for (const name of Object.keys(RECORD_FIELDS[record.type]))
    if (Object.hasOwn(fields, name)) ordered[name] = fields[name];
  return JSON.stringify(ordered);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Why `buf` is not an encoded metadata record, or null; on null, `parsed` is set to the record. */
function invalidEncoding(buf: Uint8Array, out: { parsed?: unknown }): string | null {
  if (buf.length < METADATA_HEADER_SIZE + 2) return `${buf.length} bytes is too short for a record`;
  if (buf[0] !== METADATA_RECORD_VERSION) return `unknown version ${buf[0]}`;
  let text: string;
  try {
    text = UTF8.decode(buf.subarray(METADATA_HEADER_SIZE));
  } catch {
    return 'body is not well-formed UTF-8';
  }
  try {
    out.parsed = JSON.parse(text);
  } catch (err) {
    return `body is not JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  const reason = invalidMetadataRecord(out.parsed);
  if (reason !== null) return reason;
  return canonicalJson(out.parsed as MetadataRecord) === text
    ? null
    : 'body is not in the one encoding of its value (spacing, key order, a repeated key or a number form)';
}

/** The record in `buf`, or INVALID_RECORD naming what is wrong. The result is frozen. */
export function decodeMetadataRecord(buf: Uint8Array): MetadataRecord {
  const out: { parsed?: unknown } = {};
  const reason = invalidEncoding(buf, out);
  if (reason !== null) throw new WeirError('INVALID_RECORD', `metadata record: ${reason}`);
  const record = out.parsed as MetadataRecord;
  if (record.type === 'partition') Object.freeze(record.replicas);
  if (record.type === 'reassign') Object.freeze(record.target);
  return Object.freeze(record);
}
