// What the group handlers share: a failure as a Kafka error code, the client's host.

import { isWeirError } from '../../proto/errors.js';

/** A WeirError's id for a Kafka answer; anything else is a bug and is passed on. */
export function errorCodeOf(err: unknown): number {
  if (!isWeirError(err)) throw err;
  return err.id;
}

/** The client's address without its port ("127.0.0.1:53122" → "127.0.0.1"). */
export function hostOf(remoteAddress: string): string {
  const host = remoteAddress.replace(/:[^:]*$/, '');
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
