// What the generated Kafka codecs (proto/kafka/generated/) share: arrays, null checks per version,
// the tagged-field helpers, and the zero values of the types.

import { WeirError } from '../errors.js';
import type { Reader, Writer } from './wire.js';

/**
 * A records field: one buffer when read from a request, or a list of buffers when written (a fetch
 * response's batches as sliced from the segment files, sent without being joined).
 */
export type Records = Buffer | readonly Buffer[];

export const EMPTY: Buffer = Buffer.alloc(0);
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export function readArray<T>(r: Reader, compact: boolean, one: () => T): T[] | null {
  const n = r.arrayLength(compact);
  if (n === null) return null;
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = one();
  return out;
}

export function writeArray<T>(
  w: Writer,
  compact: boolean,
  items: readonly T[] | null,
  one: (item: T) => void,
): void {
  if (items === null) return w.arrayLength(null, compact);
  w.arrayLength(items.length, compact);
  for (const item of items) one(item);
}

/** A value read off the wire that may be null only where the version allows it. */
export function notNull<T>(value: T | null, nullable: boolean, field: string): T {
  if (value === null && !nullable)
    throw new WeirError('INVALID_REQUEST', `${field} is null where this version does not allow it`);
  return value as T;
}

/** A value to write that may be null only where the version allows it (else a bug of ours). */
export function checkNull(value: unknown, nullable: boolean, field: string): void {
  if (value === null && !nullable) throw new RangeError(`${field} may not be null in this version`);
}

/** An unknown tag: skipped, as the protocol asks of a reader that does not know it. */
export function skipTag(): void {}

/** Whether a tagged field's value equals its default (it is then left out). */
export function sameAsDefault(value: unknown, def: unknown): boolean {
  if (value === def) return true;
  if (value === null || def === null || typeof value !== 'object' || typeof def !== 'object') return false;
  if (Buffer.isBuffer(value) || Buffer.isBuffer(def))
    return Buffer.isBuffer(value) && Buffer.isBuffer(def) && value.equals(def);
  if (Array.isArray(value) || Array.isArray(def))
    return Array.isArray(value) && Array.isArray(def) && value.length === 0 && def.length === 0;
  const a = value as Record<string, unknown>;
  const b = def as Record<string, unknown>;
  return Object.keys(b).every((k) => sameAsDefault(a[k], b[k]));
}
