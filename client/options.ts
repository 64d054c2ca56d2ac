// Checks of user-supplied options at run time. The SDK is meant to be usable from plain JavaScript,
// where the types are only a hint, so every option is checked once when a client is built and a
// bad one is an INVALID_CONFIG WeirError that names it, not a failure deep in a send.

import { WeirError } from '../proto/errors.js';

function invalid(name: string, value: unknown, expected: string): never {
  throw new WeirError('INVALID_CONFIG', `${name} must be ${expected}, got ${String(value)}`);
}

/** An integer in [min, max], or `fallback` when the option is absent. */
export function intOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(name, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

/** Like intOption, but Infinity is also allowed (e.g. retries bounded only by a timeout). */
export function countOption(name: string, value: unknown, fallback: number, min: number): number {
  if (value === Infinity) return Infinity;
  return intOption(name, value, fallback, min, Number.MAX_SAFE_INTEGER);
}

export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(name, value, 'true or false');
  return value;
}

export function enumOption<T extends string>(
  name: string,
  value: unknown,
  fallback: T,
  allowed: readonly T[],
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    invalid(name, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

export function functionOption<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') invalid(name, value, 'a function');
  return value as F;
}
