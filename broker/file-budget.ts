// The broker's budget of open files (maxOpenFiles), and how the log storage shares it.
//
// Every partition's active segment holds its `.log` descriptor for as long as the broker runs;
// closed segments borrow one from a shared LRU cache (storage/fd-cache.ts). The default budget is
// the process's RLIMIT_NOFILE soft limit minus a reserve for what is not a segment: sockets of
// clients, the gRPC and HTTP listeners, Node's own descriptors, and the short-lived opens of
// index, metadata and checkpoint writes. A create that would pass the budget is refused up front
// (FILE_BUDGET_EXCEEDED) instead of failing later with EMFILE in the middle of something.

import { readFileSync } from 'node:fs';
import { WeirError } from '../proto/errors.js';

/** Used when the soft limit cannot be read (not Linux): a common default soft limit. */
export const FALLBACK_OPEN_FILES_LIMIT = 1024;
/** The smallest reserve; a quarter of the limit when that is more. */
export const MIN_RESERVED_FILES = 64;
/** The bound of the maxOpenFiles key: room for the offsets topic's logs and a few cached files. */
export const MIN_MAX_OPEN_FILES = 32;
/** The smallest share of the budget for closed segments; an eighth of it when that is more. */
export const MIN_CACHED_FILES = 4;

/** The RLIMIT_NOFILE soft limit from /proc/self/limits (Node raises it to the hard one at start). */
export function openFilesSoftLimit(
  read: () => string = () => readFileSync('/proc/self/limits', 'utf8'),
): number {
  let text: string;
  try {
    text = read();
  } catch {
    return FALLBACK_OPEN_FILES_LIMIT;
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (m === null) return FALLBACK_OPEN_FILES_LIMIT;
  if (m[1] === 'unlimited') return 0x7fff_ffff;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : FALLBACK_OPEN_FILES_LIMIT;
}

/** The default maxOpenFiles for a process whose soft limit is `limit`. */
export function defaultMaxOpenFiles(limit: number = openFilesSoftLimit()): number {
  const reserve = Math.max(MIN_RESERVED_FILES, Math.floor(limit / 4));
  return Math.max(MIN_MAX_OPEN_FILES, limit - reserve);
}

/** Descriptors the closed-segment cache may keep open out of `maxOpenFiles`. */
export function cachedFilesOf(maxOpenFiles: number): number {
  return Math.max(MIN_CACHED_FILES, Math.floor(maxOpenFiles / 8));
}

/** Active segments (one per partition) that fit next to the cache. */
export function partitionFilesOf(maxOpenFiles: number): number {
  return maxOpenFiles - cachedFilesOf(maxOpenFiles);
}

/**
 * Throws FILE_BUDGET_EXCEEDED unless `adding` more partitions fit next to the `inUse` there are.
 * `what` names the request in the message.
 */
export function checkFileBudget(maxOpenFiles: number, inUse: number, adding: number, what: string): void {
  const room = partitionFilesOf(maxOpenFiles);
  if (inUse + adding <= room) return;
  throw new WeirError(
    'FILE_BUDGET_EXCEEDED',
    `${what} needs ${adding} more open files (one per partition), but ${inUse} of the ${room} ` +
      `partition files allowed by maxOpenFiles ${maxOpenFiles} (less ${cachedFilesOf(maxOpenFiles)} ` +
      `for closed segments) are in use; raise maxOpenFiles (WEIR_MAX_OPEN_FILES) together with the ` +
      `process's open-file limit (ulimit -n), or delete topics`,
  );
}
