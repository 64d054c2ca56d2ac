// The operating system's I/O failures, as the error table's KAFKA_STORAGE_ERROR.
//
// Node reports a failed system call as an Error with a string `code` (ENOSPC, EROFS, EIO, ...).
// Left as it is, such an error reaches a client as a non-retriable UNKNOWN_SERVER_ERROR with a
// stack trace in the broker's log for every refused request. Storage converts it where it happens,
// and says whether retrying can help: a full disk or a descriptor table can drain, while a read-only
// file system, a device error or a log taken offline after a failed fsync stay until an operator
// acts and the broker restarts.

import { WeirError } from '../proto/errors.js';

/** Failures that can clear by themselves (space freed, descriptors closed): worth a client's retry. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ENOSPC',
  'EDQUOT',
  'EMFILE',
  'ENFILE',
  'EAGAIN',
  'ENOMEM',
]);

/** The errno name of a failed system call (`ENOSPC`), or null when `err` is not one. */
export function ioErrorCode(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : null;
}

/**
 * `err` as a KAFKA_STORAGE_ERROR when it is a failed system call (naming `what` was being done),
 * else `err` unchanged: a WeirError already has its code, and anything else is a bug.
 */
export function toStorageError(err: unknown, what: string): unknown {
  const code = ioErrorCode(err);
  if (code === null || err instanceof WeirError) return err;
  return new WeirError('KAFKA_STORAGE_ERROR', `${what}: ${code}: ${(err as Error).message}`, {
    cause: err,
    retriable: TRANSIENT_CODES.has(code),
  });
}

/**
 * Whether a failed write leaves the log's bytes unknown, so the log must stop serving: a device
 * error, or a file system the kernel remounted read-only after one. (Every failed fsync is.)
 */
export function isFatalWriteError(err: unknown): boolean {
  const code = ioErrorCode(err);
  return code === 'EIO' || code === 'EROFS';
}

/** Codes that only a disk or the file table gives: a network error (ECONNRESET...) is never one. */
const DISK_CODES: ReadonlySet<string> = new Set([
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EIO',
  'EFBIG',
  'EMFILE',
  'ENFILE',
]);

/**
 * For the surfaces: `err` as a KAFKA_STORAGE_ERROR when it is a file-system failure that escaped
 * storage (one naming a path, or a disk-only code), else null. A client hanging up mid-request
 * also fails a system call (ECONNRESET on read), and must not count as the disk failing.
 */
export function escapedStorageError(err: unknown, what: string): WeirError | null {
  const code = ioErrorCode(err);
  if (code === null || err instanceof WeirError) return null;
  const path = (err as NodeJS.ErrnoException).path;
  if (typeof path !== 'string' && !DISK_CODES.has(code)) return null;
  return toStorageError(err, what) as WeirError;
}

/**
 * Whether a failure while flushing leaves what was written unknown, so the log must go offline: an
 * fsync or fdatasync that failed (never to be retried and believed), a write with EIO or EROFS, or
 * anything not recognisable as a failed system call. Opening a file for the flush (out of
 * descriptors) or writing out an index (out of space) touched none of the data already written.
 */
export function isFatalFlushError(err: unknown): boolean {
  const base = err instanceof WeirError && err.cause !== undefined ? err.cause : err;
  if (ioErrorCode(base) === null) return true;
  const syscall = (base as NodeJS.ErrnoException).syscall;
  if (syscall === undefined || syscall === 'fsync' || syscall === 'fdatasync') return true;
  return isFatalWriteError(base);
}
