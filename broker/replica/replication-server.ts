// The receiving end of broker-to-broker Raft traffic: a gRPC server of its own (the replication
// listener, separate from the client API's) serving weir.replication.v1.Replication
// (proto/replication.proto). Each peer broker keeps one Send stream open to it; every envelope
// that arrives is checked (replication-wire.ts) and handed to `receive` (RaftGroups.receive).
//
// A stream is refused, with a status from the error table, when it opens for another cluster
// (INCONSISTENT_CLUSTER_ID), for another node id (INVALID_VOTER_KEY: a peer list that names the
// wrong address), or does not follow the protocol (INVALID_REQUEST). The client API server does not
// serve this service, so a peer pointed at a client port gets grpc-js's UNIMPLEMENTED, which the
// transport reports as such (grpc-raft-transport.ts).
//
// Nothing is answered per envelope: a peer's answers go back on the stream this broker opened to it.
//
// Heartbeat, a unary call, carries a broker's heartbeat to the controller (`heartbeat`, which
// answers NOT_CONTROLLER when this broker is not it), and Controller an admin request a broker
// forwards to it (`controller`); either from another cluster is refused too.

import type { EventEmitter } from 'node:events';
import type { Http2Session, ServerOptions as Http2ServerOptions } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { WeirError } from '../../proto/errors.js';
import { toServiceError } from '../../proto/grpc.js';
import type { ControllerRequest__Output } from '../../proto/generated/weir/replication/v1/ControllerRequest.js';
import type { ControllerResponse } from '../../proto/generated/weir/replication/v1/ControllerResponse.js';
import type { Frame__Output } from '../../proto/generated/weir/replication/v1/Frame.js';
import type { HeartbeatRequest__Output } from '../../proto/generated/weir/replication/v1/HeartbeatRequest.js';
import type { HeartbeatResponse } from '../../proto/generated/weir/replication/v1/HeartbeatResponse.js';
import type { ReplicationHandlers } from '../../proto/generated/weir/replication/v1/Replication.js';
import type { SendResult } from '../../proto/generated/weir/replication/v1/SendResult.js';
import type { Envelope } from './raft-groups.js';
import { envelopeFromWire, replicationProto } from './replication-wire.js';

/** The largest message (one envelope) a replication server takes, by default. */
export const REPLICATION_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * The HTTP/2 receive window of a peer's stream and of its connection: a follower catching up is
 * sent up to a few MiB unanswered (RaftConfig.maxInflightAppends), which HTTP/2's default 64 KiB
 * would let through one window update at a time.
 */
export const REPLICATION_RECEIVE_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * grpc-js 1.14 takes 'grpc-node.flow_control_window' on a client only; its server keeps Node's
 * default window. This sets it through the server's internals: the settings its HTTP/2 server is
 * created with (the window of each stream; before bind), and each new session's connection window
 * (after bind). If a grpc-js version lacks either field, the window stays the default: slower, not
 * wrong.
 */
function widenReceiveWindow(server: grpc.Server, bytes: number, phase: 'beforeBind' | 'afterBind'): void {
  const internals = server as unknown as {
    commonServerOptions?: Http2ServerOptions;
    http2Servers?: Map<EventEmitter, unknown>;
  };
  if (phase === 'beforeBind') {
    const options = internals.commonServerOptions;
    if (options !== undefined) options.settings = { ...options.settings, initialWindowSize: bytes };
    return;
  }
  for (const http2Server of internals.http2Servers?.keys() ?? []) {
    http2Server.on('session', (session: Http2Session) => {
      try {
        session.setLocalWindowSize(bytes);
      } catch {
        // A session already closing: nothing to widen.
      }
    });
  }
}

export interface ReplicationServerOptions {
  /** This broker's node id: a stream must be addressed to it. */
  readonly self: number;
  /** This broker's cluster: a stream must come from the same one. */
  readonly clusterId: string;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Takes each envelope a peer sent (RaftGroups.receive in the broker). */
  readonly receive: (envelope: Envelope) => void;
  /** Envelopes larger than this are refused by grpc-js before they are read (RESOURCE_EXHAUSTED). */
  readonly maxMessageBytes?: number;
  /** A stream this server refused, and why (for the broker's log). */
  readonly onRefused?: (err: WeirError) => void;
  /** Takes a peer's heartbeat to the controller; absent: this broker takes none. */
  readonly heartbeat?: (request: HeartbeatRequest__Output) => Promise<HeartbeatResponse>;
  /** Takes an admin request a peer forwards to the controller; absent: this broker takes none. */
  readonly controller?: (request: ControllerRequest__Output) => Promise<ControllerResponse>;
}

type SendCall = grpc.ServerReadableStream<Frame__Output, SendResult>;
type SendCallback = grpc.sendUnaryData<SendResult>;

/** One peer's stream into this broker. */
class InboundStream {
  /** The sending broker, once its open frame was accepted. */
  private peer: number | null = null;
  private done = false;

  constructor(
    private readonly server: ReplicationServer,
    private readonly call: SendCall,
    private readonly callback: SendCallback,
  ) {}

  frame(frame: Frame__Output): void {
    if (this.done) return;
    if (this.peer === null) {
      this.open(frame);
      return;
    }
    if (frame.frame !== 'envelope' || !frame.envelope) {
      this.refuse(
        new WeirError('INVALID_REQUEST', `a second open frame on the stream from broker ${this.peer}`),
      );
      return;
    }
    const envelope = envelopeFromWire(frame.envelope);
    if (typeof envelope === 'string') {
      this.refuse(
        new WeirError('INVALID_REQUEST', `a malformed envelope from broker ${this.peer}: ${envelope}`),
      );
      return;
    }
    if (envelope.from !== this.peer || envelope.to !== this.server.self) {
      this.refuse(
        new WeirError(
          'INVALID_REQUEST',
          `an envelope from ${envelope.from} to ${envelope.to} on the stream from broker ${this.peer} to ${this.server.self}`,
        ),
      );
      return;
    }
    this.server.options.receive(envelope);
  }

  private open(frame: Frame__Output): void {
    const open = frame.open;
    if (frame.frame !== 'open' || !open) {
      this.refuse(new WeirError('INVALID_REQUEST', 'a replication stream must start with an open frame'));
      return;
    }
    const { self, options } = this.server;
    if (open.clusterId !== options.clusterId) {
      this.refuse(
        new WeirError(
          'INCONSISTENT_CLUSTER_ID',
          `broker ${open.from} is in cluster "${open.clusterId}", broker ${self} in cluster "${options.clusterId}"`,
        ),
      );
      return;
    }
    if (open.to !== self) {
      this.refuse(
        new WeirError(
          'INVALID_VOTER_KEY',
          `broker ${open.from} opened a stream to node ${open.to}, but this is node ${self}: its peer list names the wrong address`,
        ),
      );
      return;
    }
    if (!Number.isInteger(open.from) || open.from < 0 || open.from === self) {
      this.refuse(
        new WeirError('INVALID_REQUEST', `node id ${open.from} cannot open a stream to node ${self}`),
      );
      return;
    }
    this.peer = open.from;
    // Response headers tell the sender the stream was accepted (it then resets its backoff).
    this.call.sendMetadata(new grpc.Metadata());
  }

  /** The sender half-closed the stream. */
  ended(): void {
    this.finish(null);
  }

  /** The call went away (cancelled by the sender, or the connection broke). */
  gone(): void {
    this.done = true;
    this.server.forget(this);
  }

  refuse(err: WeirError): void {
    if (this.done) return;
    this.server.options.onRefused?.(err);
    this.finish(err);
  }

  /** Ends the stream with `err` (null: OK). */
  finish(err: WeirError | null): void {
    if (this.done) return;
    this.done = true;
    this.server.forget(this);
    if (err === null) this.callback(null, {});
    else this.callback(toServiceError(err));
  }
}

/**
 * Answers a peer's unary call with `handle`'s answer: refused when the peer is of another cluster,
 * NOT_CONTROLLER when this broker takes no such calls (`handle` gives undefined), and any failure
 * as the error it is (UNKNOWN_SERVER_ERROR when not a WeirError).
 */
function answerPeer<T>(
  options: ReplicationServerOptions,
  what: string,
  clusterId: string,
  from: number,
  callback: grpc.sendUnaryData<T>,
  handle: () => Promise<T> | undefined,
): void {
  const refuse = (err: WeirError): void => callback(toServiceError(err) as grpc.ServiceError);
  if (clusterId !== options.clusterId) {
    refuse(
      new WeirError(
        'INCONSISTENT_CLUSTER_ID',
        `broker ${from} is in cluster "${clusterId}", broker ${options.self} in cluster "${options.clusterId}"`,
      ),
    );
    return;
  }
  let answer: Promise<T> | undefined;
  try {
    answer = handle();
  } catch (err) {
    answer = Promise.reject(err);
  }
  if (answer === undefined) {
    refuse(new WeirError('NOT_CONTROLLER', `broker ${options.self} takes no ${what} calls`));
    return;
  }
  answer.then(
    (value) => callback(null, value),
    (err: unknown) =>
      refuse(
        err instanceof WeirError
          ? err
          : new WeirError('UNKNOWN_SERVER_ERROR', `${what} failed: ${String(err)}`),
      ),
  );
}

/** A running replication listener. */
export class ReplicationServer {
  readonly self: number;
  private readonly streams = new Set<InboundStream>();
  private closing: Promise<void> | null = null;

  private constructor(
    readonly options: ReplicationServerOptions,
    private readonly server: grpc.Server,
    /** The port bound (the one asked for, or the one the OS picked for 0). */
    readonly port: number,
  ) {
    this.self = options.self;
  }

  /** Binds `host:port` and serves the replication service there alone. */
  static async start(options: ReplicationServerOptions): Promise<ReplicationServer> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxMessageBytes ?? REPLICATION_MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': -1,
    });
    widenReceiveWindow(server, REPLICATION_RECEIVE_WINDOW_BYTES, 'beforeBind');
    let running: ReplicationServer | null = null;
    const handlers: ReplicationHandlers = {
      Send(call, callback) {
        // Calls only arrive once the server is bound, and so once `running` is set.
        const stream = new InboundStream(running!, call, callback);
        running!.streams.add(stream);
        call.on('data', (frame: Frame__Output) => stream.frame(frame));
        call.on('end', () => stream.ended());
        call.on('cancelled', () => stream.gone());
        call.on('error', () => stream.gone());
      },
      Heartbeat(call, callback) {
        answerPeer(options, 'heartbeat', call.request.clusterId, call.request.nodeId, callback, () =>
          options.heartbeat?.(call.request),
        );
      },
      Controller(call, callback) {
        answerPeer(options, 'controller', call.request.clusterId, call.request.from, callback, () =>
          options.controller?.(call.request),
        );
      },
    };
    server.addService(replicationProto().Replication.service, handlers);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(
        `${options.host}:${options.port}`,
        grpc.ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      );
    });
    widenReceiveWindow(server, REPLICATION_RECEIVE_WINDOW_BYTES, 'afterBind');
    running = new ReplicationServer(options, server, port);
    return running;
  }

  /** `host:port` as peers dial it. */
  get address(): string {
    return `${this.options.host}:${this.port}`;
  }

  /** Ends every stream (UNAVAILABLE, BROKER_SHUTTING_DOWN) and stops listening. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const shutdown = new WeirError('BROKER_SHUTTING_DOWN', `broker ${this.self} is shutting down`);
      // Streams never end on their own, so the server's graceful shutdown waits for none.
      for (const stream of [...this.streams]) stream.finish(shutdown);
      this.server.tryShutdown(() => resolve());
    });
    return this.closing;
  }

  /** @internal A stream ended. */
  forget(stream: InboundStream): void {
    this.streams.delete(stream);
  }
}
