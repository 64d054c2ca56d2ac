// The control batch a new leader appends first in its term, as KRaft's LeaderChange record: the
// no-op of Raft §5.4.2 (a leader commits nothing of earlier terms until an entry of its own term
// is committed), written so that every Kafka reader knows to skip it.
//
// A RecordBatch v2 (batch-header.ts) with the control attribute (bit 5) set, not transactional,
// producerId / producerEpoch / baseSequence -1, holding exactly one record (offset delta 0):
//
//  record key (4 bytes)     the control record key, as Kafka's ControlRecordType
//    version   int16        0
//    type      int16        2 = LEADER_CHANGE (0 ABORT, 1 COMMIT, 3/4 snapshot header/footer, ...)
//  record value             a LeaderChangeMessage v0, Kafka's flexible encoding:
//    Version         int16           0
//    LeaderId        int32           the newly elected leader
//    Voters          compact array   the voters of the quorum in this epoch
//    GrantingVoters  compact array   the voters that granted the leader's election
//    tagged fields   uvarint         0 (none)
//  where a compact array is an unsigned varint N + 1 followed by N Voter structs, and a Voter is
//  VoterId int32 then its own tagged fields (uvarint 0).
//
// Why Kafka's format and not a private one: consumers (the SDK's fetch-decoder.ts, the broker's
// records form in fetch-records.ts, any Kafka client) skip control batches by the attribute bit
// alone, so the no-op takes an offset without ever showing up as a record; and a batch that Kafka
// tools can decode keeps weir's logs readable by them. The batch's partitionLeaderEpoch is the
// leader's term.

import assert from 'node:assert/strict';
import {
  ATTRIBUTES_OFFSET,
  CRC_OFFSET,
  CONTROL_BIT,
  batchIsControl,
  batchRecordsCount,
  computeBatchCrc,
} from './batch-header.js';
import { decodeBatch, encodeBatch } from './record-batch.js';

/** ControlRecordType values (the key's `type`), as Kafka numbers them. */
export const CONTROL_TYPE_ABORT = 0;
export const CONTROL_TYPE_COMMIT = 1;
export const CONTROL_TYPE_LEADER_CHANGE = 2;
/**
 * weir's membership change of a partition's Raft group (voters and learners). Not a Kafka type:
 * Kafka clients skip every control batch, and read an unknown type as UNKNOWN.
 */
export const CONTROL_TYPE_WEIR_MEMBERSHIP = 100;
/** The membership record's only version. */
export const MEMBERSHIP_VERSION = 0;
/** The control record key version Kafka writes and reads. */
export const CONTROL_KEY_VERSION = 0;
/** The key: version int16, type int16. */
export const CONTROL_KEY_SIZE = 4;
/** LeaderChangeMessage's only version. */
export const LEADER_CHANGE_VERSION = 0;

export interface LeaderChange {
  readonly leaderId: number;
  readonly voters: readonly number[];
  readonly grantingVoters: readonly number[];
}

export interface LeaderChangeBatchInput extends LeaderChange {
  /** The leader's term, stamped as the batch's partitionLeaderEpoch. */
  readonly leaderEpoch: number;
  /** The record's timestamp (ms). */
  readonly timestamp: number;
  /** The offset the batch takes (the log end when the leader appends it). */
  readonly baseOffset: number;
}

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

function sizeOfUnsignedVarint(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

function writeUnsignedVarint(buf: Buffer, off: number, value: number): number {
  while (value >= 0x80) {
    buf[off++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buf[off++] = value;
  return off;
}

/** An unsigned varint of at most 32 bits at `cursor.pos`, or NaN when truncated or too long. */
function readUnsignedVarint(buf: Buffer, cursor: { pos: number }, end: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (cursor.pos >= end) return Number.NaN;
    const b = buf[cursor.pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value <= 0xffff_ffff ? value : Number.NaN;
    scale *= 0x80;
  }
  return Number.NaN;
}

function checkId(id: number, what: string): void {
  assert.ok(Number.isInteger(id) && id >= INT32_MIN && id <= INT32_MAX, `${what} ${id} is not an int32`);
}

/** The LeaderChangeMessage v0 bytes (the control record's value). */
export function encodeLeaderChange(change: LeaderChange): Buffer {
  checkId(change.leaderId, 'leader id');
  for (const v of change.voters) checkId(v, 'voter');
  for (const v of change.grantingVoters) checkId(v, 'granting voter');
  const arraySize = (ids: readonly number[]): number => sizeOfUnsignedVarint(ids.length + 1) + ids.length * 5;
  const size = 2 + 4 + arraySize(change.voters) + arraySize(change.grantingVoters) + 1;
  const buf = Buffer.alloc(size);
  let off = buf.writeInt16BE(LEADER_CHANGE_VERSION, 0);
  off = buf.writeInt32BE(change.leaderId, off);
  for (const ids of [change.voters, change.grantingVoters]) {
    off = writeUnsignedVarint(buf, off, ids.length + 1);
    for (const id of ids) {
      off = buf.writeInt32BE(id, off);
      off = writeUnsignedVarint(buf, off, 0);
    }
  }
  off = writeUnsignedVarint(buf, off, 0);
  assert.equal(off, size, 'LeaderChangeMessage did not fill its computed size');
  return buf;
}

/** Skips a tagged-field section; false when it does not parse. */
function skipTaggedFields(buf: Buffer, cursor: { pos: number }, end: number): boolean {
  const count = readUnsignedVarint(buf, cursor, end);
  if (Number.isNaN(count)) return false;
  for (let i = 0; i < count; i++) {
    if (Number.isNaN(readUnsignedVarint(buf, cursor, end))) return false;
    const size = readUnsignedVarint(buf, cursor, end);
    if (Number.isNaN(size) || cursor.pos + size > end) return false;
    cursor.pos += size;
  }
  return true;
}

/** Decodes a LeaderChangeMessage v0, or says why it does not parse. */
export function decodeLeaderChangeMessage(buf: Buffer): LeaderChange | string {
  const end = buf.length;
  if (end < 6) return `LeaderChangeMessage of ${end} bytes is truncated`;
  const version = buf.readInt16BE(0);
  if (version !== LEADER_CHANGE_VERSION) return `unknown LeaderChangeMessage version ${version}`;
  const leaderId = buf.readInt32BE(2);
  const cursor = { pos: 6 };
  const arrays: number[][] = [];
  for (const name of ['voters', 'granting voters']) {
    const n = readUnsignedVarint(buf, cursor, end);
    if (Number.isNaN(n) || n === 0) return `${name}: bad or null array length`;
    const ids: number[] = [];
    for (let i = 0; i < n - 1; i++) {
      if (cursor.pos + 4 > end) return `${name}: truncated at voter ${i}`;
      ids.push(buf.readInt32BE(cursor.pos));
      cursor.pos += 4;
      if (!skipTaggedFields(buf, cursor, end)) return `${name}: bad tagged fields at voter ${i}`;
    }
    arrays.push(ids);
  }
  if (!skipTaggedFields(buf, cursor, end)) return 'bad tagged fields';
  if (cursor.pos !== end) return `${end - cursor.pos} bytes left over`;
  return { leaderId, voters: arrays[0]!, grantingVoters: arrays[1]! };
}

/** A LeaderChange control batch with a valid CRC, at `baseOffset` in term `leaderEpoch`. */
export function leaderChangeBatch(input: LeaderChangeBatchInput): Buffer {
  return controlBatch(CONTROL_TYPE_LEADER_CHANGE, encodeLeaderChange(input), input);
}

/** A Raft group's members, as a membership record carries them. */
export interface MembershipRecord {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

/** The membership record's value: version int16, then voters and learners, each an int32 count and ids. */
export function encodeMembership(m: MembershipRecord): Buffer {
  for (const id of [...m.voters, ...m.learners]) checkId(id, 'replica');
  const buf = Buffer.alloc(2 + 4 + m.voters.length * 4 + 4 + m.learners.length * 4);
  let off = buf.writeInt16BE(MEMBERSHIP_VERSION, 0);
  for (const ids of [m.voters, m.learners]) {
    off = buf.writeInt32BE(ids.length, off);
    for (const id of ids) off = buf.writeInt32BE(id, off);
  }
  return buf;
}

export function decodeMembershipValue(buf: Buffer): MembershipRecord | string {
  if (buf.length < 2) return 'membership record truncated';
  const version = buf.readInt16BE(0);
  if (version !== MEMBERSHIP_VERSION) return `unknown membership record version ${version}`;
  let off = 2;
  const lists: number[][] = [];
  for (const name of ['voters', 'learners']) {
    if (off + 4 > buf.length) return `${name}: truncated`;
    const n = buf.readInt32BE(off);
    off += 4;
    if (n < 0 || off + n * 4 > buf.length) return `${name}: bad count ${n}`;
    const ids: number[] = [];
    for (let i = 0; i < n; i++, off += 4) ids.push(buf.readInt32BE(off));
    lists.push(ids);
  }
  if (off !== buf.length) return `${buf.length - off} bytes left over`;
  return { voters: lists[0]!, learners: lists[1]! };
}

/** A membership control batch with a valid CRC, at `baseOffset` in term `leaderEpoch`. */
export function membershipBatch(
  m: MembershipRecord,
  at: { readonly leaderEpoch: number; readonly timestamp: number; readonly baseOffset: number },
): Buffer {
  return controlBatch(CONTROL_TYPE_WEIR_MEMBERSHIP, encodeMembership(m), at);
}

/** The membership of the control batch at `off`, null for another control type, or why it cannot be read. */
export function decodeMembershipBatch(buf: Buffer, off = 0): MembershipRecord | null | string {
  const record = controlRecord(buf, off);
  if (typeof record === 'string') return record;
  if (record.type !== CONTROL_TYPE_WEIR_MEMBERSHIP) return null;
  if (record.value === null) return 'membership record has no value';
  return decodeMembershipValue(record.value);
}

function controlBatch(
  type: number,
  value: Buffer,
  at: { readonly leaderEpoch: number; readonly timestamp: number; readonly baseOffset: number },
): Buffer {
  const key = Buffer.alloc(CONTROL_KEY_SIZE);
  key.writeInt16BE(CONTROL_KEY_VERSION, 0);
  key.writeInt16BE(type, 2);
  const batch = encodeBatch([{ timestamp: at.timestamp, key, value }], {
    baseOffset: at.baseOffset,
    partitionLeaderEpoch: at.leaderEpoch,
  });
  // encodeBatch writes data batches; the control bit is covered by the CRC, so both change here.
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | CONTROL_BIT, ATTRIBUTES_OFFSET);
  batch.writeUInt32BE(computeBatchCrc(batch, 0), CRC_OFFSET);
  return batch;
}

/**
 * The control record type of the control batch at `off` (its one record's key), or why it has
 * none: not a valid batch, not a control batch, not one record, or a key Kafka would not parse.
 */
export function decodeControlRecordType(buf: Buffer, off = 0): number | string {
  const record = controlRecord(buf, off);
  if (typeof record === 'string') return record;
  return record.type;
}

/** The LeaderChange message of the control batch at `off`, or why it is not one. */
export function decodeLeaderChange(buf: Buffer, off = 0): LeaderChange | string {
  const record = controlRecord(buf, off);
  if (typeof record === 'string') return record;
  if (record.type !== CONTROL_TYPE_LEADER_CHANGE)
    return `control record type ${record.type} is not LeaderChange`;
  if (record.value === null) return 'LeaderChange record has no value';
  return decodeLeaderChangeMessage(record.value);
}

function controlRecord(buf: Buffer, off: number): { type: number; value: Buffer | null } | string {
  const decoded = decodeBatch(buf, off);
  if (!decoded.ok) return decoded.reason;
  if (!batchIsControl(buf, off)) return 'not a control batch';
  if (batchRecordsCount(buf, off) !== 1)
    return `control batch holds ${batchRecordsCount(buf, off)} records, not 1`;
  const record = decoded.batch.records[0]!;
  const key = record.key;
  if (key === null || key.length < CONTROL_KEY_SIZE) return 'control record key is missing or short';
  const version = key.readInt16BE(0);
  if (version !== CONTROL_KEY_VERSION) return `control record key version ${version}`;
  return { type: key.readInt16BE(2), value: record.value };
}
