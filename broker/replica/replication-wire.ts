// The broker-to-broker Raft traffic on the wire (proto/replication.proto, weir.replication.v1): the
// service definition at run time, and the mapping between RaftGroups' Envelope and its proto form.
//
// proto/replication.proto is the source of truth; @grpc/proto-loader loads it with the same options
// as the client API (proto/grpc.ts), the Send stream's frames are encoded and decoded by hand to the
// same bytes and shapes (replication-codec.ts), and the types come from the generator
// (scripts/gen-proto-types.sh). This module only maps shapes, and checks what arrives from a peer
// before RaftNode sees it: RaftNode asserts on what it is given (a message addressed to it, entries
// of a known kind), so a malformed message becomes a reason string here, never an assertion there.
//
// Entry data is carried without copying on the receiving side: protobufjs decodes a `bytes` field
// as a view into the message grpc-js received. On the sending side protobufjs writes it into the
// serialized message (one copy), which grpc-js frames (a second one); grpc-js offers no way to hand
// it pieces instead.

import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, weirProtoPath } from '../../proto/grpc.js';
import type { ProtoGrpcType } from '../../proto/generated/replication.js';
import type { Entry as WireEntry, Entry__Output } from '../../proto/generated/weir/replication/v1/Entry.js';
import type {
  Envelope as WireEnvelope,
  Envelope__Output,
} from '../../proto/generated/weir/replication/v1/Envelope.js';
import type {
  GroupMessage as WireGroupMessage,
  GroupMessage__Output,
} from '../../proto/generated/weir/replication/v1/GroupMessage.js';
import type {
  Membership as WireMembership,
  Membership__Output,
} from '../../proto/generated/weir/replication/v1/Membership.js';
import type { MembershipAt__Output } from '../../proto/generated/weir/replication/v1/MembershipAt.js';
import type { Entry, EntryKind, Message } from '../raft/messages.js';
import type { Membership, MembershipAt } from '../raft/membership.js';
import type { Envelope, GroupMessage } from './raft-groups.js';
import { decodeFrame, encodeFrame } from './replication-codec.js';

/** The replication service's full name, as a client-API server that does not serve it names it. */
export const REPLICATION_SERVICE = 'weir.replication.v1.Replication';

/** proto/replication.proto, which ships beside proto/weir.proto. */
export function replicationProtoPath(): string {
  return join(dirname(weirProtoPath()), 'replication.proto');
}

let loaded: ProtoGrpcType | null = null;

/** The weir.replication.v1 package: `.Replication` is the client constructor and the service. */
export function replicationProto(): ProtoGrpcType['weir']['replication']['v1'] {
  if (loaded === null) {
    const definition = protoLoader.loadSync(replicationProtoPath(), LOADER_OPTIONS);
    // The Send stream's frames go through the hand-written codec (replication-codec.ts says why):
    // the same bytes, both ends, with less work than the loader's.
    const service = definition[REPLICATION_SERVICE] as protoLoader.ServiceDefinition;
    definition[REPLICATION_SERVICE] = {
      ...service,
      Send: { ...service.Send!, requestSerialize: encodeFrame, requestDeserialize: decodeFrame },
    };
    loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return loaded.weir.replication.v1;
}

const KIND_TO_WIRE = {
  data: 'ENTRY_KIND_DATA',
  noop: 'ENTRY_KIND_NOOP',
  config: 'ENTRY_KIND_CONFIG',
} as const satisfies Record<EntryKind, string>;

const KIND_FROM_WIRE: Readonly<Record<string, EntryKind>> = {
  ENTRY_KIND_DATA: 'data',
  ENTRY_KIND_NOOP: 'noop',
  ENTRY_KIND_CONFIG: 'config',
};

/** An envelope in its proto form, ready for the stream. */
export function envelopeToWire(e: Envelope): WireEnvelope {
  return { from: e.from, to: e.to, messages: e.messages.map(groupMessageToWire) };
}

function groupMessageToWire({ group, message: m }: GroupMessage): WireGroupMessage {
  switch (m.type) {
    case 'vote':
    case 'preVote':
      return {
        group,
        voteRequest: {
          from: m.from,
          to: m.to,
          term: m.term,
          preVote: m.type === 'preVote',
          lastOffset: m.lastOffset,
          lastTerm: m.lastTerm,
        },
      };
    case 'voteResponse':
    case 'preVoteResponse':
      return {
        group,
        voteResponse: {
          from: m.from,
          to: m.to,
          term: m.term,
          preVote: m.type === 'preVoteResponse',
          voteTerm: m.voteTerm,
          granted: m.granted,
          amnesiac: m.amnesiac,
        },
      };
    case 'append':
      return {
        group,
        appendRequest: {
          from: m.from,
          to: m.to,
          term: m.term,
          prevOffset: m.prevOffset,
          prevTerm: m.prevTerm,
          entries: m.entries.map(entryToWire),
          fromStart: m.fromStart,
          startMembership:
            m.startMembership === null
              ? null
              : {
                  offset: m.startMembership.offset,
                  membership: membershipToWire(m.startMembership.membership),
                },
          commitEnd: m.commitEnd,
          incarnation: m.incarnation,
          rejoinEnd: m.rejoinEnd,
          ...(m.startState === null ? {} : { startState: m.startState }),
          // Set only when true: an idle group's every other heartbeat stays as it was on the wire.
          ...(m.quiesce === true ? { quiesce: true } : {}),
        },
      };
    case 'appendResponse':
      return {
        group,
        appendResponse: {
          from: m.from,
          to: m.to,
          term: m.term,
          success: m.success,
          prevOffset: m.prevOffset,
          matchEnd: m.matchEnd,
          durableEnd: m.durableEnd,
          hintOffset: m.hintOffset,
          hintTerm: m.hintTerm,
          incarnation: m.incarnation,
          amnesiac: m.amnesiac,
        },
      };
    case 'timeoutNow':
      return { group, timeoutNow: { from: m.from, to: m.to, term: m.term } };
  }
}

function entryToWire(e: Entry): WireEntry {
  return {
    offset: e.offset,
    count: e.count,
    term: e.term,
    kind: KIND_TO_WIRE[e.kind],
    data: e.data,
    membership: e.membership === undefined ? null : membershipToWire(e.membership),
  };
}

function membershipToWire(m: Membership): WireMembership {
  return { voters: [...m.voters], learners: [...m.learners] };
}

/** Roughly what an envelope takes on the wire: its entries' data plus a bound on the rest. */
export function envelopeBytes(e: Envelope): number {
  let bytes = 16;
  for (const { group, message } of e.messages) {
    bytes += 96 + group.length * 3;
    if (message.type !== 'append') continue;
    for (const entry of message.entries) bytes += 48 + entry.data.byteLength;
  }
  return bytes;
}

/** Why a decoded value is not what the protocol may be given, or null. */
type Reason = string | null;

function badNodeId(what: string, id: number): Reason {
  return Number.isInteger(id) && id >= 0 ? null : `${what} ${id} is not a node id`;
}

function badNumber(what: string, n: number, min: number): Reason {
  return Number.isSafeInteger(n) && n >= min ? null : `${what} ${n} is out of range`;
}

/** The envelope a peer sent, or why it is malformed. */
export function envelopeFromWire(w: Envelope__Output): Envelope | string {
  const bad = badNodeId('from', w.from) ?? badNodeId('to', w.to);
  if (bad !== null) return bad;
  if (w.from === w.to) return `an envelope from ${w.from} to itself`;
  const messages: GroupMessage[] = [];
  for (let i = 0; i < w.messages.length; i++) {
    const decoded = groupMessageFromWire(w.messages[i] as GroupMessage__Output, w.from, w.to);
    if (typeof decoded === 'string') return `message ${i}: ${decoded}`;
    messages.push(decoded);
  }
  return { from: w.from, to: w.to, messages };
}

function groupMessageFromWire(w: GroupMessage__Output, from: number, to: number): GroupMessage | string {
  if (w.group.length === 0) return 'no group';
  const message = messageFromWire(w);
  if (typeof message === 'string') return `group ${w.group}: ${message}`;
  if (message.from !== from || message.to !== to)
    return `group ${w.group}: a message from ${message.from} to ${message.to} in an envelope from ${from} to ${to}`;
  return { group: w.group, message };
}

function messageFromWire(w: GroupMessage__Output): Message | string {
  let bad: Reason;
  switch (w.message) {
    case 'voteRequest': {
      const m = w.voteRequest!;
      bad =
        badNumber('term', m.term, 0) ??
        badNumber('lastOffset', m.lastOffset, -1) ??
        badNumber('lastTerm', m.lastTerm, 0);
      if (bad !== null) return bad;
      return {
        type: m.preVote ? 'preVote' : 'vote',
        from: m.from,
        to: m.to,
        term: m.term,
        lastOffset: m.lastOffset,
        lastTerm: m.lastTerm,
      };
    }
    case 'voteResponse': {
      const m = w.voteResponse!;
      bad = badNumber('term', m.term, 0) ?? badNumber('voteTerm', m.voteTerm, 0);
      if (bad !== null) return bad;
      return {
        type: m.preVote ? 'preVoteResponse' : 'voteResponse',
        from: m.from,
        to: m.to,
        term: m.term,
        voteTerm: m.voteTerm,
        granted: m.granted,
        amnesiac: m.amnesiac,
      };
    }
    case 'appendRequest': {
      const m = w.appendRequest!;
      bad =
        badNumber('term', m.term, 0) ??
        badNumber('prevOffset', m.prevOffset, -1) ??
        badNumber('prevTerm', m.prevTerm, 0) ??
        badNumber('commitEnd', m.commitEnd, 0) ??
        badNumber('incarnation', m.incarnation, -1) ??
        badNumber('rejoinEnd', m.rejoinEnd, 0);
      if (bad !== null) return bad;
      const entries: Entry[] = [];
      for (const e of m.entries) {
        const entry = entryFromWire(e);
        if (typeof entry === 'string') return entry;
        entries.push(entry);
      }
      let startMembership: MembershipAt | null = null;
      if (m.startMembership !== null) {
        const at = membershipAtFromWire(m.startMembership);
        if (typeof at === 'string') return `start membership: ${at}`;
        startMembership = at;
      }
      return {
        type: 'append',
        from: m.from,
        to: m.to,
        term: m.term,
        prevOffset: m.prevOffset,
        prevTerm: m.prevTerm,
        entries,
        fromStart: m.fromStart,
        startMembership,
        startState: m.startState ?? null,
        commitEnd: m.commitEnd,
        incarnation: m.incarnation,
        rejoinEnd: m.rejoinEnd,
        ...(m.quiesce ? { quiesce: true } : {}),
      };
    }
    case 'timeoutNow': {
      const m = w.timeoutNow!;
      bad = badNumber('term', m.term, 0);
      if (bad !== null) return bad;
      return { type: 'timeoutNow', from: m.from, to: m.to, term: m.term };
    }
    case 'appendResponse': {
      const m = w.appendResponse!;
      bad =
        badNumber('term', m.term, 0) ??
        badNumber('prevOffset', m.prevOffset, -1) ??
        badNumber('matchEnd', m.matchEnd, 0) ??
        badNumber('durableEnd', m.durableEnd, 0) ??
        badNumber('hintOffset', m.hintOffset, -1) ??
        badNumber('hintTerm', m.hintTerm, 0) ??
        badNumber('incarnation', m.incarnation, -1);
      if (bad !== null) return bad;
      return {
        type: 'appendResponse',
        from: m.from,
        to: m.to,
        term: m.term,
        success: m.success,
        prevOffset: m.prevOffset,
        matchEnd: m.matchEnd,
        durableEnd: m.durableEnd,
        hintOffset: m.hintOffset,
        hintTerm: m.hintTerm,
        incarnation: m.incarnation,
        amnesiac: m.amnesiac,
      };
    }
    default:
      return 'no message';
  }
}

function entryFromWire(w: Entry__Output): Entry | string {
  const kind = KIND_FROM_WIRE[w.kind];
  const at = `entry at ${w.offset}`;
  if (kind === undefined) return `${at}: kind ${w.kind}`;
  const bad =
    badNumber('offset', w.offset, 0) ?? badNumber('count', w.count, 1) ?? badNumber('term', w.term, 0);
  if (bad !== null) return `${at}: ${bad}`;
  const entry = { offset: w.offset, count: w.count, term: w.term, kind, data: w.data };
  if (kind !== 'config') return w.membership === null ? entry : `${at}: a ${kind} entry with a membership`;
  if (w.membership === null) return `${at}: a config entry without a membership`;
  const membership = membershipFromWire(w.membership);
  return typeof membership === 'string' ? `${at}: ${membership}` : { ...entry, membership };
}

function membershipAtFromWire(w: MembershipAt__Output): MembershipAt | string {
  const bad = badNumber('offset', w.offset, -1);
  if (bad !== null) return bad;
  if (w.membership === null) return 'no membership';
  const membership = membershipFromWire(w.membership);
  return typeof membership === 'string' ? membership : { offset: w.offset, membership };
}

function membershipFromWire(w: Membership__Output): Membership | string {
  const all = [...w.voters, ...w.learners];
  if (w.voters.length === 0) return 'a membership without voters';
  for (const id of all) {
    const bad = badNodeId('member', id);
    if (bad !== null) return bad;
  }
  if (new Set(all).size !== all.length) return 'a replica listed twice in a membership';
  return { voters: w.voters, learners: w.learners };
}
