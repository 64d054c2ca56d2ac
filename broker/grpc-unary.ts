// What every gRPC handler shares: the hooks the broker passes in, the wrapping that turns
// requests that do not decode into INVALID_REQUEST, and the unary-call adapter that maps
// WeirErrors to statuses (and anything else, a bug, to UNKNOWN_SERVER_ERROR after logging it).

import type * as grpc from '@grpc/grpc-js';
import { WeirError } from '../proto/errors.js';
import { toServiceError } from '../proto/grpc.js';
import { escapedStorageError } from '../storage/index.js';

export interface GrpcSurfaceHooks {
  /** Called for every failure that is not a WeirError (a bug): the broker logs it. */
  readonly onInternalError: (err: unknown, method: string) => void;
  /** Called for a failed system call that reached the surface unconverted (KAFKA_STORAGE_ERROR). */
  readonly onStorageError?: (err: WeirError) => void;
  readonly onWarning?: (message: string) => void;
  readonly onProduce?: (
    topic: string,
    partition: number,
    records: number,
    bytes: number,
    seconds: number,
    error: WeirError | null,
  ) => void;
  readonly onFetch?: (
    topic: string,
    partition: number,
    bytes: number,
    seconds: number,
    error: WeirError | null,
  ) => void;
}

/** What a request that does not decode becomes, so the handler can answer INVALID_REQUEST. */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

/**
 * grpc-js answers a request that does not decode with a bare INTERNAL status. Wrapping each
 * method's deserializer turns it into a value the handlers refuse with INVALID_REQUEST instead.
 */
export function withMalformedRequests(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new MalformedRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out;
}

export function assertWellFormed(request: unknown): void {
  if (request instanceof MalformedRequest)
    throw new WeirError('INVALID_REQUEST', `malformed request: ${request.reason}`);
}

export function asWeirError(err: unknown, hooks: GrpcSurfaceHooks, method: string): WeirError {
  if (err instanceof WeirError) return err;
  const storage = escapedStorageError(err, method);
  if (storage !== null) {
    hooks.onStorageError?.(storage);
    return storage;
  }
  hooks.onInternalError(err, method);
  return new WeirError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err));
}

export function unary<Req, Res>(
  method: string,
  hooks: GrpcSurfaceHooks,
  run: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => {
        assertWellFormed(call.request);
        return run(call.request, call);
      })
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(asWeirError(err, hooks, method))),
      );
  };
}
