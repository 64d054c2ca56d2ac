// The replication wire form (broker/replica/replication-wire.ts over proto/replication.proto):
// every Raft message survives a trip through the real protobuf encoder and decoder, field for
// field (property-based), big batches included and received without copying; and each way a
// peer's envelope can be malformed is a reason, not an assertion inside RaftNode.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Envelope__Output } from '../../../proto/generated/weir/replication/v1/Envelope.js';
import type { Entry, Message } from '../../../broker/raft/messages.js';
import type { Membership } from '../../../broker/raft/membership.js';
import type { Envelope } from '../../../broker/replica/raft-groups.js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../../../proto/grpc.js';
import { decodeFrame, encodeFrame } from '../../../broker/replica/replication-codec.js';
import {
  envelopeFromWire,
  envelopeToWire,
  REPLICATION_SERVICE,
  replicationProto,
  replicationProtoPath,
} from '../../../broker/replica/replication-wire.js';

/** An envelope through the service's own serializer and deserializer, as grpc-js carries it. */
function overTheWire(e: Envelope): { decoded: Envelope | string; bytes: Buffer } {
  const send = replicationProto().Replication.service.Send;
  const bytes = send.requestSerialize({ envelope: envelopeToWire(e) });
  const frame = send.requestDeserialize(bytes);
  expect(frame.frame).toBe('envelope');
  return { decoded: envelopeFromWire(frame.envelope!), bytes };
}

const nodeId = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const term = fc.maxSafeNat();
const end = fc.maxSafeNat();
const offsetOrBefore = fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER });
const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const membership: fc.Arbitrary<Membership> = fc
  .uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 7 })
  .chain((ids) =>
    fc.integer({ min: 1, max: ids.length }).map((n) => ({ voters: ids.slice(0, n), learners: ids.slice(n) })),
  );
const entryBase = {
  offset: end,
  count: fc.integer({ min: 1, max: 2 ** 31 }),
  term,
  data: bytes,
};
const entry: fc.Arbitrary<Entry> = fc.oneof(
  fc.record({ ...entryBase, kind: fc.constantFrom('data' as const, 'noop' as const) }),
  fc.record({ ...entryBase, kind: fc.constant('config' as const), membership }),
);

function message(from: number, to: number): fc.Arbitrary<Message> {
  const ends = { from: fc.constant(from), to: fc.constant(to), term };
  return fc.oneof(
    fc.record({
      ...ends,
      type: fc.constantFrom('vote' as const, 'preVote' as const),
      lastOffset: offsetOrBefore,
      lastTerm: term,
    }),
    fc.record({
      ...ends,
      type: fc.constantFrom('voteResponse' as const, 'preVoteResponse' as const),
      voteTerm: term,
      granted: fc.boolean(),
      amnesiac: fc.boolean(),
    }),
    fc
      .record({
        ...ends,
        type: fc.constant('append' as const),
        prevOffset: offsetOrBefore,
        prevTerm: term,
        entries: fc.array(entry, { maxLength: 5 }),
        fromStart: fc.boolean(),
        startMembership: fc.option(fc.record({ offset: offsetOrBefore, membership }), { nil: null }),
        startState: fc.option(
          fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
          { nil: null },
        ),
        commitEnd: end,
        incarnation: offsetOrBefore,
        rejoinEnd: end,
      })
      .chain((m) => fc.boolean().map((quiesce) => (quiesce ? { ...m, quiesce } : m))),
    fc.record({
      ...ends,
      type: fc.constant('appendResponse' as const),
      success: fc.boolean(),
      prevOffset: offsetOrBefore,
      matchEnd: end,
      durableEnd: end,
      hintOffset: offsetOrBefore,
      hintTerm: term,
      incarnation: offsetOrBefore,
      amnesiac: fc.boolean(),
    }),
    fc.record({ ...ends, type: fc.constant('timeoutNow' as const) }),
  );
}

const envelope: fc.Arbitrary<Envelope> = fc
  .tuple(nodeId, nodeId)
  .filter(([from, to]) => from !== to)
  .chain(([from, to]) =>
    fc.record({
      from: fc.constant(from),
      to: fc.constant(to),
      messages: fc.array(
        fc.record({ group: fc.string({ minLength: 1, maxLength: 40 }), message: message(from, to) }),
        { maxLength: 6 },
      ),
    }),
  );

/** One envelope with every message type, every entry kind and both memberships. */
const EVERY_KIND: Envelope = {
  from: 1,
  to: 2,
  messages: [
    { group: 'a-0', message: { type: 'preVote', from: 1, to: 2, term: 5, lastOffset: -1, lastTerm: 0 } },
    {
      group: 'a-1',
      message: {
        type: 'voteResponse',
        from: 1,
        to: 2,
        term: 5,
        voteTerm: 5,
        granted: true,
        amnesiac: true,
      },
    },
    {
      group: 'a-2',
      message: {
        type: 'append',
        from: 1,
        to: 2,
        term: 7,
        prevOffset: 9,
        prevTerm: 6,
        entries: [
          { offset: 10, count: 1, term: 7, kind: 'noop', data: Buffer.from([1]) },
          { offset: 11, count: 3, term: 7, kind: 'data', data: Buffer.from('three records') },
          {
            offset: 14,
            count: 1,
            term: 7,
            kind: 'config',
            data: Buffer.from([2]),
            membership: { voters: [1, 2, 3], learners: [4] },
          },
        ],
        fromStart: true,
        startMembership: { offset: -1, membership: { voters: [1], learners: [] } },
        startState: Buffer.from('producer state'),
        commitEnd: 10,
        incarnation: -1,
        rejoinEnd: 0,
        quiesce: true,
      },
    },
    {
      group: 'a-3',
      message: {
        type: 'appendResponse',
        from: 1,
        to: 2,
        term: 7,
        success: false,
        prevOffset: 9,
        matchEnd: 0,
        durableEnd: 0,
        hintOffset: -1,
        hintTerm: 0,
        incarnation: 3,
        amnesiac: false,
      },
    },
  ],
};

/** EVERY_KIND encoded (written by the encoder when the proto was fixed, checked by hand in part). */
const GOLDEN = join(import.meta.dirname, '../../fixtures/replication/every-kind.hex');

describe('an envelope on the wire', () => {
  it('comes back field for field, whatever the messages', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        expect(overTheWire(e).decoded).toEqual(e);
      }),
      { numRuns: 300 },
    );
  });

  it('covers every message type, entry kind, a config membership, a start membership and a start state', () => {
    expect(overTheWire(EVERY_KIND).decoded).toEqual(EVERY_KIND);
  });

  it('is laid out as the golden bytes say, both ways (field numbers and types are the contract)', () => {
    const golden = Buffer.from(readFileSync(GOLDEN, 'utf8').trim(), 'hex');
    const send = replicationProto().Replication.service.Send;
    expect(send.requestSerialize({ envelope: envelopeToWire(EVERY_KIND) }).toString('hex')).toBe(
      golden.toString('hex'),
    );
    expect(envelopeFromWire(send.requestDeserialize(golden).envelope!)).toEqual(EVERY_KIND);
    // By hand: Frame.envelope (field 2, 194 bytes), Envelope.from = 1, to = 2; then the first
    // message's VoteRequest (field 2 of GroupMessage, 12 bytes): from 1, to 2, term 5, pre_vote,
    // last_offset -1 as a sint64 (zigzag 1, one byte), last_term 0; and the append's start_state
    // (field 12, length-delimited: tag 0x62, 14 bytes), then its quiesce (field 13, varint: 0x68, 1).
    expect(golden.subarray(0, 7).toString('hex')).toBe('12c20108011002');
    expect(golden.toString('hex')).toContain('0a03612d30120c080110021805200128013000');
    expect(golden.toString('hex')).toContain(`620e${Buffer.from('producer state').toString('hex')}6801`);
  });

  it('carries 1 MiB batches whole, and the receiver reads them in place', () => {
    const batches = [0, 1, 2].map((i) => Buffer.alloc(1024 * 1024, i + 1));
    const e: Envelope = {
      from: 3,
      to: 1,
      messages: [
        {
          group: 'big-0',
          message: {
            type: 'append',
            from: 3,
            to: 1,
            term: 2,
            prevOffset: 99,
            prevTerm: 2,
            entries: batches.map((data, i) => ({
              offset: 100 + i * 500,
              count: 500,
              term: 2,
              kind: 'data',
              data,
            })),
            fromStart: false,
            startMembership: null,
            startState: null,
            commitEnd: 100,
            incarnation: 0,
            rejoinEnd: 0,
          },
        },
      ],
    };
    const { decoded, bytes } = overTheWire(e);
    if (typeof decoded === 'string') throw new Error(decoded);
    const m = decoded.messages[0]!.message;
    if (m.type !== 'append') throw new Error(m.type);
    expect(m.entries).toHaveLength(3);
    m.entries.forEach((entry, i) => {
      expect(Buffer.from(entry.data).equals(batches[i]!)).toBe(true);
      // A view into the received message, not a copy of it.
      expect(entry.data.buffer).toBe(bytes.buffer);
    });
  });
});

describe('the Send stream codec', () => {
  // The loader's own, generic encoding of the same .proto: what the hand-written one must match.
  const generic = (
    protoLoader.loadSync(replicationProtoPath(), LOADER_OPTIONS)[
      REPLICATION_SERVICE
    ] as protoLoader.ServiceDefinition
  ).Send!;

  it('writes the bytes the generic encoder writes, and reads them back as the generic decoder does', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        const frame = { envelope: envelopeToWire(e) };
        const bytes = encodeFrame(frame);
        expect(bytes.toString('hex')).toBe(generic.requestSerialize(frame).toString('hex'));
        expect(decodeFrame(bytes)).toEqual(generic.requestDeserialize(bytes));
      }),
      { numRuns: 300 },
    );
    const open = { open: { clusterId: 'weir-é', from: 3, to: 1 } };
    expect(encodeFrame(open).toString('hex')).toBe(generic.requestSerialize(open).toString('hex'));
    expect(decodeFrame(encodeFrame(open))).toEqual(generic.requestDeserialize(encodeFrame(open)));
  });

  it('reads what a peer may write otherwise: defaults left out, fields out of order, unknown fields, unpacked ids', () => {
    // GroupMessage "g" (field 1) after its AppendResponse (field 5) whose fields come in reverse
    // order, with term left out, an unknown varint field 99 and an unknown length field 100; then
    // a config entry whose voters are written unpacked.
    const response = Buffer.from(
      '5801' + '5002' + '3003' + '2001' + '1001' + '0802' + '98060f' + 'a2060161',
      'hex',
    );
    const membership = Buffer.from('0801' + '0802' + '120103', 'hex'); // voters 1, 2 unpacked; learners [3]
    const entry = Buffer.concat([
      Buffer.from('0807100118022003', 'hex'),
      Buffer.from([0x32, membership.length]),
      membership,
    ]);
    const append = Buffer.concat([
      Buffer.from('08021001180220062802', 'hex'),
      Buffer.from([0x32, entry.length]),
      entry,
    ]);
    const gm1 = Buffer.concat([Buffer.from([0x2a, response.length]), response, Buffer.from('0a0167', 'hex')]);
    const gm2 = Buffer.concat([Buffer.from('0a0168', 'hex'), Buffer.from([0x22, append.length]), append]);
    const env = Buffer.concat([
      Buffer.from('10010802', 'hex'),
      Buffer.from([0x1a, gm1.length]),
      gm1,
      Buffer.from([0x1a, gm2.length]),
      gm2,
    ]);
    const frame = Buffer.concat([Buffer.from([0x12, env.length]), env]);
    expect(decodeFrame(frame)).toEqual(generic.requestDeserialize(frame));
    const decoded = envelopeFromWire(decodeFrame(frame).envelope!);
    if (typeof decoded === 'string') throw new Error(decoded);
    expect(decoded.messages.map((m) => m.group)).toEqual(['g', 'h']);
    const m = decoded.messages[1]!.message;
    expect(m.type === 'append' && m.entries[0]!.membership).toEqual({ voters: [1, 2], learners: [3] });
  });

  it('refuses bytes that cannot be protobuf, as the generic decoder does', () => {
    for (const hex of ['12', '12ff', '1205080110', '12030a']) {
      const bytes = Buffer.from(hex, 'hex');
      expect(() => generic.requestDeserialize(bytes), hex).toThrow();
      expect(() => decodeFrame(bytes), hex).toThrow();
    }
  });
});

describe('a malformed envelope from a peer', () => {
  const append = {
    from: 1,
    to: 2,
    term: 1,
    prevOffset: -1,
    prevTerm: 0,
    entries: [],
    fromStart: false,
    startMembership: null,
    commitEnd: 0,
    incarnation: 0,
    rejoinEnd: 0,
  };
  const entry = {
    offset: 0,
    count: 1,
    term: 1,
    kind: 'ENTRY_KIND_DATA',
    data: Buffer.alloc(1),
    membership: null,
  };
  const wire = (messages: unknown[], from = 1, to = 2): Envelope__Output =>
    ({ from, to, messages }) as Envelope__Output;
  const appendWith = (fields: object): unknown => ({
    group: 'g',
    message: 'appendRequest',
    appendRequest: { ...append, ...fields },
  });

  it.each([
    ['a negative node id', wire([], -1, 2), 'from -1 is not a node id'],
    ['an envelope to its sender', wire([], 2, 2), 'an envelope from 2 to itself'],
    [
      'a message without a group',
      wire([{ group: '', message: 'appendRequest', appendRequest: append }]),
      'no group',
    ],
    ['a group without a message', wire([{ group: 'g' }]), 'group g: no message'],
    [
      'a message between other brokers',
      wire([appendWith({ from: 3 })]),
      'group g: a message from 3 to 2 in an envelope from 1 to 2',
    ],
    ['an offset below -1', wire([appendWith({ prevOffset: -2 })]), 'prevOffset -2 is out of range'],
    ['a term past 2^53', wire([appendWith({ term: 2 ** 60 })]), `term ${2 ** 60} is out of range`],
    [
      'an entry of no kind',
      wire([appendWith({ entries: [{ ...entry, kind: 'ENTRY_KIND_UNSPECIFIED' }] })]),
      'entry at 0: kind ENTRY_KIND_UNSPECIFIED',
    ],
    [
      'an entry taking no offsets',
      wire([appendWith({ entries: [{ ...entry, count: 0 }] })]),
      'entry at 0: count 0 is out of range',
    ],
    [
      'a config entry without a membership',
      wire([appendWith({ entries: [{ ...entry, kind: 'ENTRY_KIND_CONFIG' }] })]),
      'entry at 0: a config entry without a membership',
    ],
    [
      'a data entry with a membership',
      wire([appendWith({ entries: [{ ...entry, membership: { voters: [1], learners: [] } }] })]),
      'entry at 0: a data entry with a membership',
    ],
    [
      'a membership without voters',
      wire([
        appendWith({
          entries: [{ ...entry, kind: 'ENTRY_KIND_CONFIG', membership: { voters: [], learners: [1] } }],
        }),
      ]),
      'a membership without voters',
    ],
    [
      'a replica listed twice',
      wire([
        appendWith({
          entries: [{ ...entry, kind: 'ENTRY_KIND_CONFIG', membership: { voters: [1, 2], learners: [2] } }],
        }),
      ]),
      'a replica listed twice in a membership',
    ],
    [
      'a start membership without its membership',
      wire([appendWith({ startMembership: { offset: 3, membership: null } })]),
      'start membership: no membership',
    ],
  ])('%s is refused with a reason', (_name, w, reason) => {
    const decoded = envelopeFromWire(w);
    expect(typeof decoded).toBe('string');
    expect(decoded).toContain(reason);
  });
});
