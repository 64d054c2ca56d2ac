// The replication listener (broker/replica/replication-server.ts) over real gRPC on 127.0.0.1:
// given a server for node 2 of cluster "blue", when a stream opens from another cluster, to another
// node, or without its open frame, then it is refused with a status and code from the error table;
// an accepted stream hands envelopes over as they were sent; shutdown ends open streams. The client
// API server does not serve the service, and a transport pointed at it says so.

import { connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODE_KEY } from '../../../proto/grpc.js';
import type { WeirError } from '../../../proto/errors.js';
import type { Frame } from '../../../proto/generated/weir/replication/v1/Frame.js';
import type { ReplicationClient } from '../../../proto/generated/weir/replication/v1/Replication.js';
import type { Envelope } from '../../../broker/replica/raft-groups.js';
import { GrpcRaftTransport } from '../../../broker/replica/grpc-raft-transport.js';
import {
  REPLICATION_RECEIVE_WINDOW_BYTES,
  ReplicationServer,
} from '../../../broker/replica/replication-server.js';
import { envelopeToWire, replicationProto } from '../../../broker/replica/replication-wire.js';
import { ManualClock } from '../../../storage/clock.js';
import { removeDir, startTestBroker, type TestBroker } from '../support.js';
import { until } from './replication-support.js';

const HEARTBEAT: Envelope = {
  from: 1,
  to: 2,
  messages: [
    {
      group: 't-0',
      message: {
        type: 'append',
        from: 1,
        to: 2,
        term: 3,
        prevOffset: 41,
        prevTerm: 3,
        entries: [],
        fromStart: false,
        startMembership: null,
        startState: null,
        commitEnd: 42,
        incarnation: 0,
        rejoinEnd: 0,
      },
    },
  ],
};

function client(address: string): ReplicationClient {
  const Replication = replicationProto().Replication;
  return new Replication(address, grpc.credentials.createInsecure()) as unknown as ReplicationClient;
}

/** Opens a Send stream, writes `frames`, and resolves with how the receiver ended it. */
function stream(
  c: ReplicationClient,
  frames: Frame[],
): {
  call: grpc.ClientWritableStream<Frame>;
  ended: Promise<grpc.ServiceError | null>;
  accepted: Promise<void>;
} {
  let call!: grpc.ClientWritableStream<Frame>;
  const ended = new Promise<grpc.ServiceError | null>((resolve) => {
    call = c.Send((err) => resolve(err));
  });
  const accepted = new Promise<void>((resolve) => call.on('metadata', () => resolve()));
  for (const f of frames) call.write(f);
  return { call, ended, accepted };
}

const open = (fields: Partial<{ clusterId: string; from: number; to: number }> = {}): Frame => ({
  open: { clusterId: 'blue', from: 1, to: 2, ...fields },
});

describe('a replication server', () => {
  let server: ReplicationServer;
  let c: ReplicationClient;
  const received: Envelope[] = [];
  const refused: WeirError[] = [];

  beforeAll(async () => {
    server = await ReplicationServer.start({
      self: 2,
      clusterId: 'blue',
      host: '127.0.0.1',
      port: 0,
      receive: (e) => received.push(e),
      onRefused: (err) => refused.push(err),
    });
    c = client(server.address);
  });
  afterAll(async () => {
    c.close();
    await server.close();
  });
  afterEach(() => {
    received.length = 0;
    refused.length = 0;
  });

  it('hands over each envelope of an accepted stream as it was sent', async () => {
    const s = stream(c, [open(), { envelope: envelopeToWire(HEARTBEAT) }]);
    await s.accepted;
    await until('the envelope arrives', () => received.length === 1);
    expect(received[0]).toEqual(HEARTBEAT);
    s.call.end();
    expect(await s.ended).toBeNull();
  });

  it.each([
    [
      'from another cluster',
      [open({ clusterId: 'green' })],
      grpc.status.FAILED_PRECONDITION,
      'INCONSISTENT_CLUSTER_ID',
      'broker 1 is in cluster "green", broker 2 in cluster "blue"',
    ],
    [
      'to another node id',
      [open({ to: 5 })],
      grpc.status.FAILED_PRECONDITION,
      'INVALID_VOTER_KEY',
      'broker 1 opened a stream to node 5, but this is node 2',
    ],
    [
      'without an open frame',
      [{ envelope: envelopeToWire(HEARTBEAT) }],
      grpc.status.INVALID_ARGUMENT,
      'INVALID_REQUEST',
      'a replication stream must start with an open frame',
    ],
    [
      'from this node itself',
      [open({ from: 2 })],
      grpc.status.INVALID_ARGUMENT,
      'INVALID_REQUEST',
      'node id 2 cannot open a stream to node 2',
    ],
    [
      'with an envelope from another broker than it opened for',
      [open({ from: 3 }), { envelope: envelopeToWire(HEARTBEAT) }],
      grpc.status.INVALID_ARGUMENT,
      'INVALID_REQUEST',
      'an envelope from 1 to 2 on the stream from broker 3 to 2',
    ],
    [
      'with a malformed envelope',
      [open(), { envelope: { from: 1, to: 2, messages: [{ group: 'g' }] } }],
      grpc.status.INVALID_ARGUMENT,
      'INVALID_REQUEST',
      'a malformed envelope from broker 1: message 0: group g: no message',
    ],
  ])('refuses a stream %s', async (_name, frames, status, code, message) => {
    const err = await stream(c, frames).ended;
    expect(err?.code).toBe(status);
    expect(err?.metadata.get(ERROR_CODE_KEY)).toEqual([code]);
    expect(err?.details).toContain(message);
    expect(received).toEqual([]);
    expect(refused.map((r) => r.code)).toEqual([code]);
  });

  it('opens HTTP/2 windows of REPLICATION_RECEIVE_WINDOW_BYTES to its peers, stream and connection', async () => {
    const session = connect(`http://${server.address}`);
    try {
      const settings = await new Promise<{ initialWindowSize?: number }>((resolve) =>
        session.once('remoteSettings', resolve),
      );
      expect(settings.initialWindowSize).toBe(REPLICATION_RECEIVE_WINDOW_BYTES);
      // The connection's window comes as a WINDOW_UPDATE after the settings.
      await until(
        'the connection window',
        () => (session.state.remoteWindowSize ?? 0) >= REPLICATION_RECEIVE_WINDOW_BYTES,
      );
    } finally {
      session.destroy();
    }
  });

  it('ends every open stream when it shuts down', async () => {
    const other = await ReplicationServer.start({
      self: 2,
      clusterId: 'blue',
      host: '127.0.0.1',
      port: 0,
      receive: () => undefined,
    });
    const oc = client(other.address);
    try {
      const s = stream(oc, [open()]);
      await s.accepted;
      await other.close();
      const err = await s.ended;
      expect(err?.code).toBe(grpc.status.UNAVAILABLE);
      expect(err?.metadata.get(ERROR_CODE_KEY)).toEqual(['BROKER_SHUTTING_DOWN']);
    } finally {
      oc.close();
      await other.close();
    }
  });

  it('refuses an envelope over its message limit before reading it', async () => {
    const small = await ReplicationServer.start({
      self: 2,
      clusterId: 'blue',
      host: '127.0.0.1',
      port: 0,
      receive: (e) => received.push(e),
      maxMessageBytes: 4096,
    });
    const sc = client(small.address);
    try {
      const m = HEARTBEAT.messages[0]!.message;
      if (m.type !== 'append') throw new Error(m.type);
      const entries = [{ offset: 42, count: 1, term: 3, kind: 'data' as const, data: Buffer.alloc(8192) }];
      const big: Envelope = { ...HEARTBEAT, messages: [{ group: 't-0', message: { ...m, entries } }] };
      const err = await stream(sc, [open(), { envelope: envelopeToWire(big) }]).ended;
      expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(received).toEqual([]);
    } finally {
      sc.close();
      await small.close();
    }
  });

  it('tells a transport of another cluster why, and drops what it sends while backing off', async () => {
    const errors: WeirError[] = [];
    const clock = new ManualClock();
    const transport = new GrpcRaftTransport({
      self: 1,
      clusterId: 'green',
      peers: new Map([[2, server.address]]),
      clock,
      onStreamError: (_peer, err) => errors.push(err),
    });
    try {
      transport.send(HEARTBEAT);
      await until('the stream is refused', () => errors.length === 1);
      expect(errors[0]?.code).toBe('INCONSISTENT_CLUSTER_ID');
      expect(errors[0]?.message).toContain(`replication stream to broker 2 at ${server.address}`);
      transport.send(HEARTBEAT);
      expect(transport.counters).toMatchObject({
        sent: 1,
        droppedDown: 1,
        streamsOpened: 1,
        streamsFailed: 1,
      });
      expect(received).toEqual([]);
    } finally {
      transport.close();
    }
  });
});

describe('the client API server', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker();
  });
  afterAll(async () => {
    await b.close();
    removeDir(b.dataDir);
  });

  it('does not serve the replication service: a call gets UNIMPLEMENTED naming the method', async () => {
    const c = client(b.running.grpcAddress);
    try {
      const err = await stream(c, [open()]).ended;
      expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(err?.details).toContain('does not implement the method /weir.replication.v1.Replication/Send');
    } finally {
      c.close();
    }
  });

  it('is reported by a transport pointed at it as a client port, not a replication port', async () => {
    const errors: WeirError[] = [];
    const transport = new GrpcRaftTransport({
      self: 1,
      clusterId: 'blue',
      peers: new Map([[2, b.running.grpcAddress]]),
      clock: new ManualClock(),
      onStreamError: (_peer, err) => errors.push(err),
    });
    try {
      transport.send(HEARTBEAT);
      await until('the stream fails', () => errors.length === 1);
      expect(errors[0]?.code).toBe('INVALID_CONFIG');
      expect(errors[0]?.message).toContain(
        `replication stream to broker 2 at ${b.running.grpcAddress}: the peer does not serve weir.replication.v1.Replication: is that its client API port rather than its replication port?`,
      );
    } finally {
      transport.close();
    }
  });
});
