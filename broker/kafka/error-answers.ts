// A failure as a Kafka answer's error fields. Expected failures are WeirErrors, whose id is Kafka's
// error code where Kafka has the error; anything else is a bug and is passed on.

import { isWeirError } from '../../proto/errors.js';

/** The error code and message of an answer that carries both. */
export function failure(err: unknown): { errorCode: number; errorMessage: string } {
  if (!isWeirError(err)) throw err;
  return { errorCode: err.id, errorMessage: err.message };
}

/** The error code of an answer that carries no message. */
export function errorCodeOf(err: unknown): number {
  return failure(err).errorCode;
}
