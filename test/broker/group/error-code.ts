// What a call throws, as its error code, so a table of cases reads as code expectations.

import { isWeirError, type ErrorCode } from '../../../proto/errors.js';

/** The code of the WeirError `fn` throws, or 'no error'; anything else is rethrown (a bug). */
export function codeOf(fn: () => unknown): ErrorCode | 'no error' {
  try {
    fn();
  } catch (err) {
    if (isWeirError(err)) return err.code;
    throw err;
  }
  return 'no error';
}
