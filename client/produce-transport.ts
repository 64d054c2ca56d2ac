// How produce requests reach the broker. The sender sees only ProduceTransport, so its retry and
// ordering logic runs against an in-memory fake in tests; the real one pipelines requests over
// the bidirectional ProduceStream RPC.
//
// Why a stream: many requests can be in flight on it at once, each answered with the request's
// correlation id (in request order per partition), with none of the per-call setup a unary RPC
// costs. Why the whole stream is dropped on one request's timeout or on any stream error (as
// Kafka closes the connection): after that the broker's view of the requests in flight is unknown,
// so every pending request fails with a retriable error and the sender resends in order on a
// fresh stream; the broker's sequence check makes those resends safe.
//
// One stream per broker: a request carries only partitions led by the broker it is sent to, and
// each broker's stream lives and dies on its own, so a leader that goes away fails only what was
// sent to it. A stream runs to the address its node id stood for when it opened; a node the client
// did not know then (fenced while it restarted, say) went to any broker, which answers
// NOT_LEADER_OR_FOLLOWER. So each send checks where the node id goes now, and a stream to an
// address the node no longer stands for is ended (after its answers) and a new one opened.

import type * as grpc from '@grpc/grpc-js';
import { WeirError, isWeirError } from '../proto/errors.js';
import { fromServiceError } from '../proto/grpc.js';
import type { Acks } from '../proto/generated/weir/v1/Acks.js';
import type { PartitionProduceResult__Output } from '../proto/generated/weir/v1/PartitionProduceResult.js';
import type { ProduceRequest } from '../proto/generated/weir/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../proto/generated/weir/v1/ProduceResponse.js';
import type { Connection, ProduceStreamCall } from './connection.js';
import type { AcksOption } from './producer-config.js';

export const WIRE_ACKS: Readonly<Record<AcksOption, Acks>> = {
  none: 'ACKS_NONE',
  leader: 'ACKS_LEADER',
  all: 'ACKS_ALL',
};

export interface ProduceTransport {
  /**
   * Sends one request (the transport sets its correlation id). Resolves with the broker's
   * response; with `expectResponse` false (acks 'none') resolves with null once written. Rejects
   * with a WeirError when the request's fate is unknown. `broker` is the node id of the leader of
   * every partition in it (absent: any broker, as with a single one).
   */
  send(
    request: ProduceRequest,
    expectResponse: boolean,
    broker?: number,
  ): Promise<ProduceResponse__Output | null>;
  /** Ends the streams after the requests in flight are answered, or at the latest after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** The stream key of requests sent without a broker. */
const ANY_BROKER = -1;

type Stream = grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;

interface Pending {
  resolve(response: ProduceResponse__Output): void;
  reject(err: WeirError): void;
  timer: NodeJS.Timeout;
}

/** What the transport needs of a Connection (a test may give a fake). */
export type ProduceStreams = Pick<Connection, 'addressFor' | 'openProduceStream'>;

/** One open ProduceStream call and the requests waiting on it. */
class StreamState {
  readonly key: number;
  readonly address: string;
  readonly call: Stream;
  readonly pending = new Map<number, Pending>();
  dead = false;
  /** Called when nothing is pending any more (or the stream died); set while closing. */
  onIdle: (() => void) | null = null;
  constructor(key: number, opened: ProduceStreamCall) {
    this.key = key;
    this.address = opened.address;
    this.call = opened.call;
  }
}

function asWeirError(err: unknown): WeirError {
  if (isWeirError(err)) return err;
  const serviceError = err as grpc.ServiceError;
  if (serviceError !== null && typeof serviceError === 'object' && typeof serviceError.code === 'number') {
    return fromServiceError(serviceError);
  }
  return new WeirError('NETWORK_EXCEPTION', String(err), { cause: err });
}

export class StreamProduceTransport implements ProduceTransport {
  private readonly connection: ProduceStreams;
  private readonly requestTimeoutMs: number;
  /** The open stream of each broker (by node id; ANY_BROKER for "any"). */
  private readonly streams = new Map<number, StreamState>();
  /** Streams to an address their node id no longer stands for, ending after their answers. */
  private readonly retired = new Set<StreamState>();
  private nextCorrelationId = 1;
  private closed = false;

  constructor(connection: ProduceStreams, requestTimeoutMs: number) {
    this.connection = connection;
    this.requestTimeoutMs = requestTimeoutMs;
  }

  send(
    request: ProduceRequest,
    expectResponse: boolean,
    broker?: number,
  ): Promise<ProduceResponse__Output | null> {
    return new Promise<ProduceResponse__Output | null>((resolve, reject) => {
      if (this.closed) {
        reject(new WeirError('REQUEST_CANCELLED', 'producer transport is closed'));
        return;
      }
      let state: StreamState;
      try {
        state = this.stream(broker ?? ANY_BROKER);
      } catch (err) {
        reject(asWeirError(err));
        return;
      }
      const id = this.nextCorrelationId++;
      request.correlationId = id;
      if (expectResponse) {
        const timer = setTimeout(() => this.timedOut(state, id), this.requestTimeoutMs);
        state.pending.set(id, { resolve, reject, timer });
      }
      try {
        state.call.write(request, (err: unknown) => {
          if (expectResponse) return; // the response (or the stream's end) settles it
          if (err === null || err === undefined) resolve(null);
          else reject(asWeirError(err));
        });
      } catch (err) {
        this.kill(state, asWeirError(err));
        if (!expectResponse) reject(asWeirError(err));
      }
    });
  }

  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const states = [...this.streams.values(), ...this.retired];
    this.streams.clear();
    this.retired.clear();
    await Promise.all(states.map((state) => this.closeStream(state, graceMs)));
  }

  private async closeStream(state: StreamState, graceMs: number): Promise<void> {
    if (state.dead) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.kill(state, new WeirError('REQUEST_CANCELLED', 'producer closed'));
        resolve();
      }, graceMs);
      timer.unref();
      const finish = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // Half-closing while answers are still due could race them; end after the last one.
      state.onIdle = () => {
        state.onIdle = null;
        if (state.dead) return finish();
        state.call.once('close', finish);
        state.call.end();
      };
      if (state.pending.size === 0) state.onIdle();
    });
  }

  private stream(key: number): StreamState {
    const broker = key === ANY_BROKER ? undefined : key;
    const current = this.streams.get(key);
    if (current !== undefined && !current.dead) {
      if (current.address === this.connection.addressFor(broker)) return current;
      this.retire(current);
    }
    const state = new StreamState(key, this.connection.openProduceStream(broker));
    this.streams.set(key, state);
    state.call.on('data', (response: ProduceResponse__Output) => {
      const pending = state.pending.get(response.correlationId);
      if (pending === undefined) return; // acks 'none', or an answer after we gave up on it
      state.pending.delete(response.correlationId);
      clearTimeout(pending.timer);
      pending.resolve(response);
      if (state.pending.size === 0) state.onIdle?.();
    });
    state.call.on('error', (err: grpc.ServiceError) => this.kill(state, fromServiceError(err)));
    state.call.on('end', () =>
      this.kill(state, new WeirError('NETWORK_EXCEPTION', 'the broker ended the produce stream')),
    );
    state.call.on('close', () =>
      this.kill(state, new WeirError('NETWORK_EXCEPTION', 'the produce stream closed')),
    );
    return state;
  }

  /** Ends a stream once its requests are answered (or time out); new requests go elsewhere. */
  private retire(state: StreamState): void {
    this.streams.delete(state.key);
    this.retired.add(state);
    void this.closeStream(state, this.requestTimeoutMs).then(() => this.retired.delete(state));
  }

  private timedOut(state: StreamState, id: number): void {
    const pending = state.pending.get(id);
    if (pending === undefined) return;
    state.pending.delete(id);
    pending.reject(new WeirError('REQUEST_TIMED_OUT', `no produce response in ${this.requestTimeoutMs} ms`));
    this.kill(state, new WeirError('REQUEST_CANCELLED', 'produce stream dropped after a timeout'));
  }

  /** Fails everything pending on the stream and drops it; the next send opens a new one. */
  private kill(state: StreamState, err: WeirError): void {
    if (this.streams.get(state.key) === state) this.streams.delete(state.key);
    const wasDead = state.dead;
    state.dead = true;
    const pending = [...state.pending.values()];
    state.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    if (!wasDead) {
      // Errors after this point (e.g. the CANCELLED status cancel() causes) have no one to reach.
      state.call.on('error', () => {});
      state.call.cancel();
    }
    state.onIdle?.();
  }
}

/** The result for the i-th partition of the request: normally at the same index. */
export function findResult(
  response: ProduceResponse__Output,
  index: number,
  batch: { topic: string; partition: number },
): PartitionProduceResult__Output | null {
  const results = response.results;
  const same = results[index];
  if (same !== undefined && same.topic === batch.topic && same.partition === batch.partition) return same;
  for (const result of results) {
    if (result.topic === batch.topic && result.partition === batch.partition) return result;
  }
  return null;
}
