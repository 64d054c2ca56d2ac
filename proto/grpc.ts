// The weir.v1 gRPC contract at run time: the service definition loaded from proto/weir.proto, and
// the mapping between the error table and gRPC statuses, used by the broker and the client alike.
//
// The loader options must match scripts/gen-proto-types.sh, which generates the message types in
// proto/generated/ from the same file: int64 as JS numbers (weir keeps offsets within 2^53),
// enums as their names, defaults filled in, oneofs named.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ERRORS, WeirError, type ErrorCode } from './errors.js';
import type { ProtoGrpcType } from './generated/weir.js';
import type { Error as WireError } from './generated/weir/v1/Error.js';

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** proto/weir.proto, found from this module both in the source tree and under dist/. */
export function weirProtoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'proto', 'weir.proto');
    if (existsSync(candidate)) return candidate;
    const sibling = join(dir, 'weir.proto');
    if (existsSync(sibling)) return sibling;
    dir = dirname(dir);
  }
  throw new Error('proto/weir.proto not found beside the weir package');
}

let loaded: ProtoGrpcType | null = null;

/** The weir.v1 package: `weirProto().weir.v1.Weir` is the client constructor and service. */
export function weirProto(): ProtoGrpcType {
  if (loaded === null) {
    const definition = protoLoader.loadSync(weirProtoPath(), LOADER_OPTIONS);
    loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return loaded;
}

export const ERROR_CODE_KEY = 'weir-error-code';
export const ERROR_ID_KEY = 'weir-error-id';
export const ERROR_RETRIABLE_KEY = 'weir-retriable';

/** A WeirError as a gRPC status, with the code in trailing metadata. */
export function toServiceError(err: WeirError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, err.code);
  metadata.set(ERROR_ID_KEY, String(err.id));
  metadata.set(ERROR_RETRIABLE_KEY, String(err.retriable));
  return { code: ERRORS[err.code].grpc, details: err.message, metadata };
}

/** A WeirError as the per-partition Error message. */
export function toWireError(err: WeirError): WireError {
  return { code: err.code, id: err.id, retriable: err.retriable, message: err.message };
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/** The WeirError behind a per-partition Error, or null when it carries none. */
export function fromWireError(error: WireError | null | undefined): WeirError | null {
  if (error === null || error === undefined || !error.code) return null;
  const code = isErrorCode(error.code) ? error.code : 'UNKNOWN_SERVER_ERROR';
  return WeirError.fromMessage(code, error.message ?? '', undefined, error.retriable ?? undefined);
}

/**
 * The WeirError behind a failed call: from the trailing metadata when the broker sent a code, else
 * from the gRPC status alone (a transport failure, a deadline, a message over the size limit).
 */
export function fromServiceError(err: grpc.ServiceError): WeirError {
  const name = err.metadata?.get(ERROR_CODE_KEY)[0];
  if (typeof name === 'string' && isErrorCode(name)) {
    const retriable = err.metadata.get(ERROR_RETRIABLE_KEY)[0];
    return WeirError.fromMessage(
      name,
      err.details,
      err,
      retriable === 'true' ? true : retriable === 'false' ? false : undefined,
    );
  }
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      return new WeirError('NETWORK_EXCEPTION', err.details, { cause: err });
    case grpc.status.DEADLINE_EXCEEDED:
      return new WeirError('REQUEST_TIMED_OUT', err.details, { cause: err });
    case grpc.status.RESOURCE_EXHAUSTED:
      return new WeirError('MESSAGE_TOO_LARGE', err.details, { cause: err });
    case grpc.status.CANCELLED:
      return new WeirError('REQUEST_CANCELLED', err.details, { cause: err });
    default:
      return new WeirError('UNKNOWN_SERVER_ERROR', `${grpc.status[err.code] ?? err.code}: ${err.details}`, {
        cause: err,
      });
  }
}
