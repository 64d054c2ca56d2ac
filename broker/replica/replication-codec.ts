// The protobuf encoding of the replication stream's frames (proto/replication.proto: Frame and all
// it holds), written out by hand for the Send stream. The bytes are the .proto's; only the work is
// less. Three brokers sharing a thousand idle partitions exchange some 13,000 heartbeats and answers
// a second; through the generic loader (an object conversion each way on top of the encoding) they
// cost 5 to 7 µs each, more than the Raft groups' own work; here about 1 µs. A message is written
// straight from the shape envelopeToWire gives, every field an object sets (as the loader writes
// them, so both write the same bytes), and read straight into the shape the loader gives
// (Frame__Output: defaults filled in, longs as numbers, enums as names, only the oneof member set),
// so replication-wire.ts checks it as before. A test holds the two codecs to the same bytes and the
// same decoded values.
//
// Reading follows the protobuf rules a peer may rely on: fields in any order, unknown fields
// skipped, the last value of a scalar field wins, repeated int32 packed or not. An embedded message
// that occurs twice is taken from its last occurrence rather than merged (no encoder of this
// protocol splits one). Numbers are JS numbers: 64-bit fields beyond 2^53 lose precision, and
// replication-wire.ts refuses them as out of range. Malformed bytes throw, as the loader's decoder
// does (grpc-js then ends the call).

import type { Entry as WireEntry, Entry__Output } from '../../proto/generated/weir/replication/v1/Entry.js';
import type { Envelope__Output } from '../../proto/generated/weir/replication/v1/Envelope.js';
import type { Frame, Frame__Output } from '../../proto/generated/weir/replication/v1/Frame.js';
import type {
  GroupMessage as WireGroupMessage,
  GroupMessage__Output,
} from '../../proto/generated/weir/replication/v1/GroupMessage.js';
import type {
  Membership as WireMembership,
  Membership__Output,
} from '../../proto/generated/weir/replication/v1/Membership.js';
import type { MembershipAt__Output } from '../../proto/generated/weir/replication/v1/MembershipAt.js';

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** A growing buffer with protobuf's primitives; embedded messages get their length patched in. */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A non-negative integer up to 2^53, or a negative int32 as ten bytes (protobuf's int32). */
  varint(n: number): void {
    this.room(10);
    if (n < 0) {
      // Two's complement over 64 bits: the low 32 bits, then all ones.
      let lo = n >>> 0;
      for (let i = 0; i < 4; i++) {
        this.buf[this.pos++] = (lo & 0x7f) | 0x80;
        lo >>>= 7;
      }
      this.buf[this.pos++] = (lo & 0x0f) | 0x70 | 0x80;
      for (let i = 0; i < 4; i++) this.buf[this.pos++] = 0xff;
      this.buf[this.pos++] = 0x01;
      return;
    }
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  tag(field: number, type: number): void {
    this.varint(field * 8 + type);
  }

  /**
   * A scalar field, written even at its default, as the loader writes every field an object sets
   * (so both write the same bytes).
   */
  uint(field: number, n: number): void {
    this.tag(field, VARINT);
    this.varint(n);
  }

  sint(field: number, n: number): void {
    this.tag(field, VARINT);
    this.varint(n < 0 ? -2 * n - 1 : 2 * n);
  }

  bool(field: number, b: boolean): void {
    this.tag(field, VARINT);
    this.varint(b ? 1 : 0);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(data.byteLength);
    this.room(data.byteLength);
    this.buf.set(data, this.pos);
    this.pos += data.byteLength;
  }

  string(field: number, s: string): void {
    this.tag(field, LEN);
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varint(bytes);
    this.room(bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Starts an embedded message: five bytes kept for its length, which end() fills in. */
  begin(field: number): number {
    this.tag(field, LEN);
    this.room(5);
    const at = this.pos;
    this.pos += 5;
    return at;
  }

  /** Ends the embedded message begun at `at`: writes its length and moves its content up to it. */
  end(at: number): void {
    const start = at + 5;
    let length = this.pos - start;
    let p = at;
    while (length >= 0x80) {
      this.buf[p++] = (length & 0x7f) | 0x80;
      length >>>= 7;
    }
    this.buf[p++] = length;
    if (p < start) {
      // Most messages are a few dozen bytes: a loop beats a call into the buffer copy for those.
      const buf = this.buf;
      if (this.pos - start < 64) for (let i = start; i < this.pos; i++) buf[p + i - start] = buf[i]!;
      else buf.copy(buf, p, start, this.pos);
      this.pos -= start - p;
    }
  }
}

/** Frame bytes for the Send stream (the requestSerialize of Replication.Send). */
export function encodeFrame(frame: Frame): Buffer {
  const w = new Writer(sizeHint(frame));
  if (frame.open) {
    const at = w.begin(1);
    w.string(1, frame.open.clusterId ?? '');
    w.uint(2, frame.open.from ?? 0);
    w.uint(3, frame.open.to ?? 0);
    w.end(at);
  } else if (frame.envelope) {
    const e = frame.envelope;
    const at = w.begin(2);
    w.uint(1, e.from ?? 0);
    w.uint(2, e.to ?? 0);
    for (const m of e.messages ?? []) writeGroupMessage(w, m);
    w.end(at);
  }
  return w.buf.subarray(0, w.pos);
}

/** Room for most frames at once: a bound on each message but its entries' data, plus that data. */
function sizeHint(frame: Frame): number {
  let bytes = 64;
  for (const m of frame.envelope?.messages ?? []) {
    bytes += 160 + (m.group?.length ?? 0) * 3;
    for (const e of m.appendRequest?.entries ?? [])
      bytes += 64 + ((e.data as Uint8Array | undefined)?.byteLength ?? 0);
  }
  return bytes;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}

function writeGroupMessage(w: Writer, g: WireGroupMessage): void {
  const at = w.begin(3);
  w.string(1, g.group ?? '');
  if (g.appendRequest) {
    const m = g.appendRequest;
    const a = w.begin(4);
    w.uint(1, m.from ?? 0);
    w.uint(2, m.to ?? 0);
    w.uint(3, num(m.term));
    w.sint(4, num(m.prevOffset));
    w.uint(5, num(m.prevTerm));
    for (const e of m.entries ?? []) writeEntry(w, e);
    w.bool(7, m.fromStart ?? false);
    if (m.startMembership) {
      const s = w.begin(8);
      w.sint(1, num(m.startMembership.offset));
      if (m.startMembership.membership) writeMembership(w, 2, m.startMembership.membership);
      w.end(s);
    }
    w.uint(9, num(m.commitEnd));
    w.sint(10, num(m.incarnation));
    w.uint(11, num(m.rejoinEnd));
    if (m.startState !== undefined) w.bytes(12, m.startState as Uint8Array);
    if (m.quiesce !== undefined) w.bool(13, m.quiesce);
    w.end(a);
  } else if (g.appendResponse) {
    const m = g.appendResponse;
    const a = w.begin(5);
    w.uint(1, m.from ?? 0);
    w.uint(2, m.to ?? 0);
    w.uint(3, num(m.term));
    w.bool(4, m.success ?? false);
    w.sint(5, num(m.prevOffset));
    w.uint(6, num(m.matchEnd));
    w.uint(7, num(m.durableEnd));
    w.sint(8, num(m.hintOffset));
    w.uint(9, num(m.hintTerm));
    w.sint(10, num(m.incarnation));
    w.bool(11, m.amnesiac ?? false);
    w.end(a);
  } else if (g.voteRequest) {
    const m = g.voteRequest;
    const a = w.begin(2);
    w.uint(1, m.from ?? 0);
    w.uint(2, m.to ?? 0);
    w.uint(3, num(m.term));
    w.bool(4, m.preVote ?? false);
    w.sint(5, num(m.lastOffset));
    w.uint(6, num(m.lastTerm));
    w.end(a);
  } else if (g.voteResponse) {
    const m = g.voteResponse;
    const a = w.begin(3);
    w.uint(1, m.from ?? 0);
    w.uint(2, m.to ?? 0);
    w.uint(3, num(m.term));
    w.bool(4, m.preVote ?? false);
    w.uint(5, num(m.voteTerm));
    w.bool(6, m.granted ?? false);
    w.bool(7, m.amnesiac ?? false);
    w.end(a);
  } else if (g.timeoutNow) {
    const m = g.timeoutNow;
    const a = w.begin(6);
    w.uint(1, m.from ?? 0);
    w.uint(2, m.to ?? 0);
    w.uint(3, num(m.term));
    w.end(a);
  }
  w.end(at);
}

const KIND_NUMBER: Readonly<Record<string, number>> = {
  ENTRY_KIND_UNSPECIFIED: 0,
  ENTRY_KIND_DATA: 1,
  ENTRY_KIND_NOOP: 2,
  ENTRY_KIND_CONFIG: 3,
};
const KIND_NAME = ['ENTRY_KIND_UNSPECIFIED', 'ENTRY_KIND_DATA', 'ENTRY_KIND_NOOP', 'ENTRY_KIND_CONFIG'];

function writeEntry(w: Writer, e: WireEntry): void {
  const at = w.begin(6);
  w.uint(1, num(e.offset));
  w.uint(2, e.count ?? 0);
  w.uint(3, num(e.term));
  w.uint(4, typeof e.kind === 'number' ? e.kind : (KIND_NUMBER[e.kind ?? ''] ?? 0));
  w.bytes(5, (e.data as Uint8Array | undefined) ?? EMPTY);
  if (e.membership) writeMembership(w, 6, e.membership);
  w.end(at);
}

function writeMembership(w: Writer, field: number, m: WireMembership): void {
  const at = w.begin(field);
  for (const [f, ids] of [
    [1, m.voters ?? []],
    [2, m.learners ?? []],
  ] as const) {
    if (ids.length === 0) continue;
    const p = w.begin(f);
    for (const id of ids) w.varint(id);
    w.end(p);
  }
  w.end(at);
}

/** Reads protobuf primitives from a slice of a buffer; throws on bytes that cannot be protobuf. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get more(): boolean {
    return this.pos < this.end;
  }

  /** A varint as a JS number (exact up to 2^53). */
  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError('a varint runs past the end');
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
    throw new RangeError('a varint longer than ten bytes');
  }

  /** An int32: its low 32 bits (a negative one comes as ten bytes, sign-extended to 64). */
  int32(): number {
    let lo = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new RangeError('a varint runs past the end');
      const b = this.buf[this.pos++]!;
      if (shift < 32) lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo | 0;
    }
    throw new RangeError('a varint longer than ten bytes');
  }

  sint(): number {
    const n = this.varint();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  /** The bounds of a length-delimited field's content. */
  span(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) throw new RangeError('a field runs past the end');
    this.pos = end;
    return [start, end];
  }

  sub(): Reader {
    const [start, end] = this.span();
    return new Reader(this.buf, start, end);
  }

  string(): string {
    const [start, end] = this.span();
    return this.buf.toString('utf8', start, end);
  }

  bytes(): Buffer {
    const [start, end] = this.span();
    return this.buf.subarray(start, end);
  }

  skip(type: number): void {
    if (type === VARINT) this.varint();
    else if (type === LEN) this.span();
    else if (type === I64) this.pos += 8;
    else if (type === I32) this.pos += 4;
    else throw new RangeError(`wire type ${type} is not supported`);
    if (this.pos > this.end) throw new RangeError('a field runs past the end');
  }

  /** The next field's number and wire type. */
  tag(): [number, number] {
    const t = this.varint();
    return [Math.floor(t / 8), t % 8];
  }
}

/** A Frame as the loader decodes it (the requestDeserialize of Replication.Send). */
export function decodeFrame(buf: Buffer): Frame__Output {
  const r = new Reader(buf, 0, buf.length);
  let out: Frame__Output = {};
  while (r.more) {
    const [field, type] = r.tag();
    if (field === 1 && type === LEN) {
      const o = r.sub();
      const open = { clusterId: '', from: 0, to: 0 };
      while (o.more) {
        const [f, t] = o.tag();
        if (f === 1 && t === LEN) open.clusterId = o.string();
        else if (f === 2 && t === VARINT) open.from = o.int32();
        else if (f === 3 && t === VARINT) open.to = o.int32();
        else o.skip(t);
      }
      out = { open, frame: 'open' };
    } else if (field === 2 && type === LEN) {
      out = { envelope: readEnvelope(r.sub()), frame: 'envelope' };
    } else r.skip(type);
  }
  return out;
}

function readEnvelope(r: Reader): Envelope__Output {
  const e: Envelope__Output = { from: 0, to: 0, messages: [] };
  while (r.more) {
    const [f, t] = r.tag();
    if (f === 1 && t === VARINT) e.from = r.int32();
    else if (f === 2 && t === VARINT) e.to = r.int32();
    else if (f === 3 && t === LEN) e.messages.push(readGroupMessage(r.sub()));
    else r.skip(t);
  }
  return e;
}

function readGroupMessage(r: Reader): GroupMessage__Output {
  let group = '';
  let field = 0;
  let value: unknown = null;
  while (r.more) {
    const [f, t] = r.tag();
    if (f === 1 && t === LEN) group = r.string();
    else if (t !== LEN || f < 2 || f > 6) r.skip(t);
    else {
      // A oneof: the last member set wins; as the loader, only that one is present.
      field = f;
      const s = r.sub();
      value =
        f === 2
          ? readVoteRequest(s)
          : f === 3
            ? readVoteResponse(s)
            : f === 4
              ? readAppendRequest(s)
              : f === 5
                ? readAppendResponse(s)
                : readTimeoutNow(s);
    }
  }
  // Literal shapes, one per member: objects built with a computed key are slow to make and read.
  switch (field) {
    case 2:
      return { group, voteRequest: value as VoteRequest, message: 'voteRequest' };
    case 3:
      return { group, voteResponse: value as VoteResponse, message: 'voteResponse' };
    case 4:
      return { group, appendRequest: value as AppendRequest, message: 'appendRequest' };
    case 5:
      return { group, appendResponse: value as AppendResponse, message: 'appendResponse' };
    case 6:
      return { group, timeoutNow: value as TimeoutNow, message: 'timeoutNow' };
    default:
      return { group } as GroupMessage__Output;
  }
}

type VoteRequest = NonNullable<GroupMessage__Output['voteRequest']>;
type VoteResponse = NonNullable<GroupMessage__Output['voteResponse']>;
type AppendRequest = NonNullable<GroupMessage__Output['appendRequest']>;
type AppendResponse = NonNullable<GroupMessage__Output['appendResponse']>;
type TimeoutNow = NonNullable<GroupMessage__Output['timeoutNow']>;

function readVoteRequest(r: Reader): NonNullable<GroupMessage__Output['voteRequest']> {
  const m = { from: 0, to: 0, term: 0, preVote: false, lastOffset: 0, lastTerm: 0 };
  while (r.more) {
    const [f, t] = r.tag();
    if (t !== VARINT) r.skip(t);
    else if (f === 1) m.from = r.int32();
    else if (f === 2) m.to = r.int32();
    else if (f === 3) m.term = r.varint();
    else if (f === 4) m.preVote = r.bool();
    else if (f === 5) m.lastOffset = r.sint();
    else if (f === 6) m.lastTerm = r.varint();
    else r.skip(t);
  }
  return m;
}

function readVoteResponse(r: Reader): NonNullable<GroupMessage__Output['voteResponse']> {
  const m = { from: 0, to: 0, term: 0, preVote: false, voteTerm: 0, granted: false, amnesiac: false };
  while (r.more) {
    const [f, t] = r.tag();
    if (t !== VARINT) r.skip(t);
    else if (f === 1) m.from = r.int32();
    else if (f === 2) m.to = r.int32();
    else if (f === 3) m.term = r.varint();
    else if (f === 4) m.preVote = r.bool();
    else if (f === 5) m.voteTerm = r.varint();
    else if (f === 6) m.granted = r.bool();
    else if (f === 7) m.amnesiac = r.bool();
    else r.skip(t);
  }
  return m;
}

function readTimeoutNow(r: Reader): NonNullable<GroupMessage__Output['timeoutNow']> {
  const m = { from: 0, to: 0, term: 0 };
  while (r.more) {
    const [f, t] = r.tag();
    if (t !== VARINT) r.skip(t);
    else if (f === 1) m.from = r.int32();
    else if (f === 2) m.to = r.int32();
    else if (f === 3) m.term = r.varint();
    else r.skip(t);
  }
  return m;
}

function readAppendResponse(r: Reader): NonNullable<GroupMessage__Output['appendResponse']> {
  const m = {
    from: 0,
    to: 0,
    term: 0,
    success: false,
    prevOffset: 0,
    matchEnd: 0,
    durableEnd: 0,
    hintOffset: 0,
    hintTerm: 0,
    incarnation: 0,
    amnesiac: false,
  };
  while (r.more) {
    const [f, t] = r.tag();
    if (t !== VARINT) r.skip(t);
    else if (f === 1) m.from = r.int32();
    else if (f === 2) m.to = r.int32();
    else if (f === 3) m.term = r.varint();
    else if (f === 4) m.success = r.bool();
    else if (f === 5) m.prevOffset = r.sint();
    else if (f === 6) m.matchEnd = r.varint();
    else if (f === 7) m.durableEnd = r.varint();
    else if (f === 8) m.hintOffset = r.sint();
    else if (f === 9) m.hintTerm = r.varint();
    else if (f === 10) m.incarnation = r.sint();
    else if (f === 11) m.amnesiac = r.bool();
    else r.skip(t);
  }
  return m;
}

function readAppendRequest(r: Reader): NonNullable<GroupMessage__Output['appendRequest']> {
  const m: NonNullable<GroupMessage__Output['appendRequest']> = {
    from: 0,
    to: 0,
    term: 0,
    prevOffset: 0,
    prevTerm: 0,
    entries: [],
    fromStart: false,
    startMembership: null,
    commitEnd: 0,
    incarnation: 0,
    rejoinEnd: 0,
    quiesce: false,
  };
  while (r.more) {
    const [f, t] = r.tag();
    if (f === 6 && t === LEN) m.entries.push(readEntry(r.sub()));
    else if (f === 8 && t === LEN) m.startMembership = readMembershipAt(r.sub());
    else if (f === 12 && t === LEN) {
      m.startState = r.bytes();
      m._startState = 'startState';
    } else if (t !== VARINT) r.skip(t);
    else if (f === 1) m.from = r.int32();
    else if (f === 2) m.to = r.int32();
    else if (f === 3) m.term = r.varint();
    else if (f === 4) m.prevOffset = r.sint();
    else if (f === 5) m.prevTerm = r.varint();
    else if (f === 7) m.fromStart = r.bool();
    else if (f === 9) m.commitEnd = r.varint();
    else if (f === 10) m.incarnation = r.sint();
    else if (f === 11) m.rejoinEnd = r.varint();
    else if (f === 13) m.quiesce = r.bool();
    else r.skip(t);
  }
  return m;
}

const EMPTY = Buffer.alloc(0);

function readEntry(r: Reader): Entry__Output {
  const e: Entry__Output = {
    offset: 0,
    count: 0,
    term: 0,
    kind: 'ENTRY_KIND_UNSPECIFIED',
    data: EMPTY,
    membership: null,
  };
  while (r.more) {
    const [f, t] = r.tag();
    if (f === 5 && t === LEN) e.data = r.bytes();
    else if (f === 6 && t === LEN) e.membership = readMembership(r.sub());
    else if (t !== VARINT) r.skip(t);
    else if (f === 1) e.offset = r.varint();
    else if (f === 2) e.count = r.varint() % 2 ** 32;
    else if (f === 3) e.term = r.varint();
    else if (f === 4) {
      const k = r.int32();
      // An enum value this build does not know reads as its number, as the loader gives it.
      e.kind = (KIND_NAME[k] ?? k) as Entry__Output['kind'];
    } else r.skip(t);
  }
  return e;
}

function readMembershipAt(r: Reader): MembershipAt__Output {
  const m: MembershipAt__Output = { offset: 0, membership: null };
  while (r.more) {
    const [f, t] = r.tag();
    if (f === 1 && t === VARINT) m.offset = r.sint();
    else if (f === 2 && t === LEN) m.membership = readMembership(r.sub());
    else r.skip(t);
  }
  return m;
}

function readMembership(r: Reader): Membership__Output {
  const m: Membership__Output = { voters: [], learners: [] };
  while (r.more) {
    const [f, t] = r.tag();
    const list = f === 1 ? m.voters : f === 2 ? m.learners : null;
    if (list === null) r.skip(t);
    else if (t === VARINT) list.push(r.int32());
    else if (t === LEN) {
      const p = r.sub();
      while (p.more) list.push(p.int32());
    } else r.skip(t);
  }
  return m;
}
