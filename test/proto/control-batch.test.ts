// A new leader's no-op is a Kafka LeaderChange control batch: it round-trips, passes the batch
// codec's validation as a control batch, is taken by the storage layer, and is skipped by both
// consumers of records (the SDK's fetch decoder, the broker's records form). A membership change
// is weir's own control batch, and is skipped the same way.

import { describe, expect, it } from 'vitest';
import { fetchAnswer } from '../../broker/fetch-records.js';
import { Partition } from '../../broker/partition.js';
import { decodeFetched } from '../../client/fetch-decoder.js';
import type { ConsumerRecord } from '../../client/records.js';
import {
  batchBaseOffset,
  batchIsControl,
  batchLastOffsetDelta,
  batchLeaderEpoch,
  batchProducerId,
  invalidBatch,
} from '../../proto/batch-header.js';
import {
  CONTROL_TYPE_LEADER_CHANGE,
  CONTROL_TYPE_WEIR_MEMBERSHIP,
  decodeControlRecordType,
  decodeLeaderChange,
  decodeLeaderChangeMessage,
  decodeMembershipBatch,
  decodeMembershipValue,
  encodeLeaderChange,
  encodeMembership,
  leaderChangeBatch,
  membershipBatch,
} from '../../proto/control-batch.js';
import { decodeBatch, encodeBatch, invalidRecords } from '../../proto/record-batch.js';
import { openLog, readAllBatches, testLogConfig, useTempDirs } from '../storage/helpers.js';

const tempDir = useTempDirs();

const change = { leaderId: 2, voters: [1, 2, 3], grantingVoters: [2, 3] };

function noop(baseOffset: number, leaderEpoch = 4): Buffer {
  return leaderChangeBatch({ ...change, leaderEpoch, timestamp: 1_700_000_000_000, baseOffset });
}

function data(baseOffset: number, values: string[]): Buffer {
  return encodeBatch(
    values.map((v) => ({ timestamp: 1, key: null, value: Buffer.from(v) })),
    { baseOffset },
  );
}

describe('LeaderChange control batch', () => {
  it('encodes the message in Kafka flexible v0 layout', () => {
    // version 0, leader 2, voters [1,2,3] and granting [2,3] as compact arrays of tagged structs.
    const hex =
      '0000' +
      '00000002' +
      '04' +
      '0000000100' +
      '0000000200' +
      '0000000300' +
      '03' +
      '0000000200' +
      '0000000300' +
      '00';
    expect(encodeLeaderChange(change).toString('hex')).toBe(hex);
    expect(decodeLeaderChangeMessage(Buffer.from(hex, 'hex'))).toEqual(change);
  });

  it('round-trips, a valid control batch of one offset in the leader epoch', () => {
    const batch = noop(41, 7);
    expect(invalidBatch(batch, 0)).toBeNull();
    expect(invalidRecords(batch, 0)).toBeNull();
    expect(batchIsControl(batch, 0)).toBe(true);
    expect(batchBaseOffset(batch, 0)).toBe(41);
    expect(batchLastOffsetDelta(batch, 0)).toBe(0);
    expect(batchLeaderEpoch(batch, 0)).toBe(7);
    expect(batchProducerId(batch, 0)).toBe(-1);
    const decoded = decodeBatch(batch);
    expect(decoded.ok && decoded.batch.control && !decoded.batch.transactional).toBe(true);
    expect(decodeControlRecordType(batch)).toBe(CONTROL_TYPE_LEADER_CHANGE);
    expect(decodeLeaderChange(batch)).toEqual(change);
  });

  it('decodes with no voters too', () => {
    const empty = { leaderId: 0, voters: [], grantingVoters: [] };
    const batch = leaderChangeBatch({ ...empty, leaderEpoch: 1, timestamp: 0, baseOffset: 0 });
    expect(decodeLeaderChange(batch)).toEqual(empty);
  });

  it('says why a batch is not a LeaderChange', () => {
    expect(decodeControlRecordType(data(0, ['a']))).toBe('not a control batch');
    const torn = noop(0);
    torn.writeUInt8(torn.readUInt8(torn.length - 1) ^ 1, torn.length - 1);
    expect(decodeLeaderChange(torn)).toMatch(/CRC mismatch/);
    expect(decodeLeaderChangeMessage(Buffer.from('0001', 'hex'))).toMatch(/truncated/);
    expect(decodeLeaderChangeMessage(Buffer.from('000100000002010100', 'hex'))).toMatch(/version 1/);
    const trailing = Buffer.concat([encodeLeaderChange(change), Buffer.from([0])]);
    expect(decodeLeaderChangeMessage(trailing)).toBe('1 bytes left over');
  });

  it('is taken by a log append at the log end and read back as stored', () => {
    const { log } = openLog(tempDir(), testLogConfig());
    log.append(data(0, ['a', 'b']));
    const batch = noop(2);
    const result = log.append(Buffer.from(batch), { assignOffsets: false, leaderEpoch: 4 });
    expect(result).toMatchObject({ baseOffset: 2, lastOffset: 2, logEndOffset: 3 });
    expect(readAllBatches(log).at(-1)?.bytes.equals(batch)).toBe(true);
    log.closeNow();
  });

  it('is refused from a client by the produce path, which writes nothing', async () => {
    const { log } = openLog(tempDir(), testLogConfig());
    const partition = new Partition('t', 0, log, () => undefined);
    await expect(partition.produce(noop(0), 'leader', 0, 1 << 20)).rejects.toMatchObject({
      code: 'INVALID_RECORD',
    });
    expect(log.logEndOffset).toBe(0);
    log.closeNow();
  });

  it('is skipped by the SDK fetch decoder, which moves past it', () => {
    const out: ConsumerRecord[] = [];
    const batches = Buffer.concat([data(0, ['a']), noop(1), data(2, ['b'])]);
    expect(decodeFetched('t', 0, batches, 0, out)).toEqual({ nextOffset: 3, corrupt: null });
    expect(out.map((r) => [r.offset, r.value?.toString()])).toEqual([
      [0, 'a'],
      [2, 'b'],
    ]);
    const alone: ConsumerRecord[] = [];
    expect(decodeFetched('t', 0, noop(5), 5, alone).nextOffset).toBe(6);
    expect(alone).toEqual([]);
  });

  it('is skipped by the broker records form, which moves past it', async () => {
    const batches = Buffer.concat([noop(0), data(1, ['x'])]);
    const stored = {
      topic: 't',
      partition: 0,
      batches,
      highWatermark: 2,
      logStartOffset: 0,
      nextOffset: 2,
      error: null,
    };
    const [answer] = await fetchAnswer([stored], [{ offset: 0, maxBytes: 0 }], {
      asRecords: true,
      maxBytes: 0,
      maxInflatedBytes: 1 << 20,
    });
    expect(answer?.records?.map((r) => [r.offset, r.value?.toString()])).toEqual([[1, 'x']]);
    expect(answer?.nextOffset).toBe(2);
  });
});

describe('membership control batch', () => {
  const members = { voters: [1, 2, 3], learners: [4] };
  const batch = (): Buffer =>
    membershipBatch(members, { leaderEpoch: 3, timestamp: 1_700_000_000_000, baseOffset: 9 });

  it('round-trips, a valid control batch of one offset in the leader epoch', () => {
    const b = batch();
    expect(invalidBatch(b, 0)).toBeNull();
    expect([batchIsControl(b, 0), batchBaseOffset(b, 0), batchLastOffsetDelta(b, 0)]).toEqual([true, 9, 0]);
    expect(batchLeaderEpoch(b, 0)).toBe(3);
    expect(decodeControlRecordType(b)).toBe(CONTROL_TYPE_WEIR_MEMBERSHIP);
    expect(decodeMembershipBatch(b)).toEqual(members);
    expect(decodeMembershipBatch(noop(0))).toBeNull();
  });

  it('says why a membership record does not parse', () => {
    expect(decodeMembershipValue(Buffer.from('00', 'hex'))).toMatch(/truncated/);
    expect(decodeMembershipValue(Buffer.from('0001', 'hex'))).toMatch(/version 1/);
    expect(decodeMembershipValue(Buffer.from('000000000005', 'hex'))).toMatch(/voters: bad count 5/);
    const trailing = Buffer.concat([encodeMembership(members), Buffer.from([0])]);
    expect(decodeMembershipValue(trailing)).toBe('1 bytes left over');
  });

  it('is skipped by the SDK fetch decoder, as every control batch is', () => {
    const out: ConsumerRecord[] = [];
    const batches = Buffer.concat([data(8, ['a']), batch(), data(10, ['b'])]);
    expect(decodeFetched('t', 0, batches, 8, out)).toEqual({ nextOffset: 11, corrupt: null });
    expect(out.map((r) => r.offset)).toEqual([8, 10]);
  });
});
