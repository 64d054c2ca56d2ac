// The sending end of broker-to-broker Raft traffic: RaftGroups' transport port over gRPC. Each
// peer broker gets one outgoing Send stream (proto/replication.proto), opened when the first
// envelope for it is sent, that opens with this broker's cluster id and node ids and then carries
// every envelope for that peer.
//
// Raft tolerates lost messages (it resends on its ticks), so `send` never blocks and never
// buffers without bound: an envelope is dropped, and counted, when its peer's stream is down
// (waiting out its backoff after an error) or already holds `maxQueuedBytes` not yet written to
// the socket (the peer or the network is slower than this broker's Raft traffic). After an error a
// stream is opened again by the next send once a backoff has passed, doubling from
// `backoffMs.initial` to `backoffMs.max` and starting over once a peer accepts a stream (its
// response headers). The backoff is read off the Clock port; no timer is kept, so there is none to
// cancel and nothing keeps the process alive but the streams themselves, which `close` cancels.
//
// grpc-js details this relies on: its own retry buffer is turned off (it would report writes as
// done while they sit in its buffer, hiding backpressure); its reconnection backoff follows this
// one (by default it waits up to two minutes before dialling a peer that came back); keepalive
// pings notice a peer that vanished without closing its connection.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../proto/clock.js';
import { WeirError } from '../../proto/errors.js';
import { fromServiceError } from '../../proto/grpc.js';
import type { Frame } from '../../proto/generated/weir/replication/v1/Frame.js';
import type { ReplicationClient } from '../../proto/generated/weir/replication/v1/Replication.js';
import type { Envelope, RaftTransport } from './raft-groups.js';
import { REPLICATION_MAX_MESSAGE_BYTES } from './replication-server.js';
import { envelopeBytes, envelopeToWire, REPLICATION_SERVICE, replicationProto } from './replication-wire.js';

/** Bytes an outgoing stream may hold unwritten before envelopes to its peer are dropped, by default. */
export const REPLICATION_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
export const REPLICATION_BACKOFF_MS = { initial: 50, max: 2_000 } as const;
const KEEPALIVE_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 5_000;

export interface GrpcRaftTransportOptions {
  /** This broker's node id. */
  readonly self: number;
  readonly clusterId: string;
  /** Every peer broker's replication listener (`host:port`), by node id. */
  readonly peers: ReadonlyMap<number, string>;
  readonly clock: Clock;
  /** Bytes a stream may hold not yet written to its socket; beyond that envelopes are dropped. */
  readonly maxQueuedBytes?: number;
  /** The peers' limit on one envelope (their replication servers' maxMessageBytes). */
  readonly maxMessageBytes?: number;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /** A stream to `peer` failed (refused, unreachable, broken), for the broker's log. */
  readonly onStreamError?: (peer: number, err: WeirError) => void;
}

/** What the transport did with the envelopes it was given, for tests and metrics. */
export interface TransportCounters {
  /** Written to a stream (which may still lose them if it breaks). */
  sent: number;
  /** Dropped: the peer's stream was down, waiting out its backoff. */
  droppedDown: number;
  /** Dropped: the peer's stream held maxQueuedBytes not yet written. */
  droppedBackpressure: number;
  /** Dropped: no address is known for the destination. */
  droppedUnknownPeer: number;
  /** Dropped: larger than maxMessageBytes, which the peer would refuse. */
  droppedTooLarge: number;
  streamsOpened: number;
  streamsFailed: number;
}

/** One outgoing Send call and the bytes written to it that grpc-js has not yet sent. */
class OutboundStream {
  queuedBytes = 0;
  /** The sizes of the writes not yet done, oldest first (grpc-js completes writes in order). */
  private readonly pending: number[] = [];
  readonly call: grpc.ClientWritableStream<Frame>;

  constructor(
    private readonly link: PeerLink,
    client: ReplicationClient,
    open: Frame,
  ) {
    this.call = client.Send(this.ended);
    this.call.on('metadata', this.accepted);
    // Failures come as the call's status; a failed write only repeats one.
    this.call.on('error', ignore);
    this.call.write(open);
  }

  write(frame: Frame, bytes: number): void {
    this.queuedBytes += bytes;
    this.pending.push(bytes);
    this.call.write(frame, this.written);
  }

  private readonly written = (): void => {
    this.queuedBytes -= this.pending.shift() ?? 0;
  };

  private readonly accepted = (): void => {
    this.link.accepted(this);
  };

  private readonly ended = (err: grpc.ServiceError | null): void => {
    this.link.ended(this, err);
  };
}

function ignore(): void {}

/** Everything about one peer: its channel, its current stream and its backoff. */
class PeerLink {
  private client: ReplicationClient | null = null;
  stream: OutboundStream | null = null;
  /** Stream failures since a stream was last accepted. */
  private failures = 0;
  /** No stream is opened before this time (Clock ms). */
  retryAt = 0;

  constructor(
    private readonly transport: GrpcRaftTransport,
    readonly peer: number,
    readonly address: string,
  ) {}

  /** The stream to write to, opened if it may be, or null while backing off. */
  writable(now: number): OutboundStream | null {
    if (this.stream !== null) return this.stream;
    if (now < this.retryAt) return null;
    const t = this.transport;
    if (this.client === null) {
      const Replication = replicationProto().Replication;
      this.client = new Replication(
        this.address,
        grpc.credentials.createInsecure(),
        t.channelOptions,
      ) as unknown as ReplicationClient;
    }
    t.counters.streamsOpened++;
    this.stream = new OutboundStream(this, this.client, {
      open: { clusterId: t.clusterId, from: t.self, to: this.peer },
    });
    return this.stream;
  }

  accepted(stream: OutboundStream): void {
    if (stream === this.stream) this.failures = 0;
  }

  ended(stream: OutboundStream, err: grpc.ServiceError | null): void {
    if (stream !== this.stream) return; // cancelled by close(), or replaced already
    this.stream = null;
    if (err === null) return; // the peer ended it cleanly: the next send opens another
    this.failures++;
    this.retryAt = this.transport.failed(this, err, this.failures);
  }

  close(): void {
    const stream = this.stream;
    this.stream = null;
    stream?.call.cancel();
    this.client?.close();
    this.client = null;
  }
}

export class GrpcRaftTransport implements RaftTransport {
  readonly self: number;
  readonly clusterId: string;
  readonly counters: TransportCounters = {
    sent: 0,
    droppedDown: 0,
    droppedBackpressure: 0,
    droppedUnknownPeer: 0,
    droppedTooLarge: 0,
    streamsOpened: 0,
    streamsFailed: 0,
  };
  /** @internal The channel options of every peer's client. */
  readonly channelOptions: grpc.ChannelOptions;
  private readonly clock: Clock;
  private readonly maxQueuedBytes: number;
  private readonly maxMessageBytes: number;
  private readonly backoff: { readonly initial: number; readonly max: number };
  private readonly onStreamError: ((peer: number, err: WeirError) => void) | undefined;
  private readonly links = new Map<number, PeerLink>();
  private closed = false;

  constructor(options: GrpcRaftTransportOptions) {
    this.self = options.self;
    this.clusterId = options.clusterId;
    this.clock = options.clock;
    this.maxQueuedBytes = options.maxQueuedBytes ?? REPLICATION_MAX_QUEUED_BYTES;
    this.maxMessageBytes = options.maxMessageBytes ?? REPLICATION_MAX_MESSAGE_BYTES;
    this.backoff = options.backoffMs ?? REPLICATION_BACKOFF_MS;
    this.onStreamError = options.onStreamError;
    assert(
      this.backoff.initial > 0 && this.backoff.max >= this.backoff.initial,
      'a backoff grows from above 0',
    );
    assert(this.maxQueuedBytes > 0 && this.maxMessageBytes > 0, 'a stream can hold an envelope');
    for (const [peer, address] of options.peers)
      if (peer !== this.self) this.links.set(peer, new PeerLink(this, peer, address));
    this.channelOptions = {
      'grpc.max_send_message_length': this.maxMessageBytes,
      'grpc.enable_retries': 0,
      'grpc.per_rpc_retry_buffer_size': 0,
      'grpc.initial_reconnect_backoff_ms': this.backoff.initial,
      'grpc.max_reconnect_backoff_ms': this.backoff.max,
      'grpc.keepalive_time_ms': KEEPALIVE_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      // Each transport dials its own connections, as a separate process would.
      'grpc.use_local_subchannel_pool': 1,
    };
  }

  send(envelope: Envelope): void {
    if (this.closed) return;
    const link = this.links.get(envelope.to);
    if (link === undefined) {
      this.counters.droppedUnknownPeer++;
      return;
    }
    const bytes = envelopeBytes(envelope);
    if (bytes > this.maxMessageBytes) {
      this.counters.droppedTooLarge++;
      return;
    }
    const stream = link.writable(this.clock.now());
    if (stream === null) {
      this.counters.droppedDown++;
      return;
    }
    // One envelope always fits an empty stream, however large (up to maxMessageBytes).
    if (stream.queuedBytes > 0 && stream.queuedBytes + bytes > this.maxQueuedBytes) {
      this.counters.droppedBackpressure++;
      return;
    }
    stream.write({ envelope: envelopeToWire(envelope) }, bytes);
    this.counters.sent++;
  }

  /** Bytes written to `peer`'s stream and not yet sent (0 with no stream). */
  queuedBytes(peer: number): number {
    return this.links.get(peer)?.stream?.queuedBytes ?? 0;
  }

  /** Cancels every stream and closes every channel; later sends do nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) link.close();
  }

  /** @internal A stream to `link` failed: reports it and returns when the next one may open. */
  failed(link: PeerLink, err: grpc.ServiceError, failures: number): number {
    this.counters.streamsFailed++;
    this.onStreamError?.(link.peer, streamError(link, err));
    const delay = Math.min(this.backoff.max, this.backoff.initial * 2 ** Math.min(failures - 1, 30));
    return this.clock.now() + delay;
  }
}

/** What a failed stream means, naming the peer and its address. */
function streamError(link: PeerLink, err: grpc.ServiceError): WeirError {
  const where = `replication stream to broker ${link.peer} at ${link.address}`;
  if (err.code === grpc.status.UNIMPLEMENTED)
    return new WeirError(
      'INVALID_CONFIG',
      `${where}: the peer does not serve ${REPLICATION_SERVICE}: is that its client API port rather than its replication port? (${err.details})`,
      { cause: err },
    );
  const known = fromServiceError(err);
  return WeirError.fromMessage(known.code, `${where}: ${err.details}`, err, known.retriable);
}
