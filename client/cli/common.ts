// What every `weir` command shares: the bootstrap option, exit codes, integer parsing.

import { InvalidArgumentError, Option } from 'commander';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const DEFAULT_BOOTSTRAP = '127.0.0.1:9093';

/** A mistake in how the command was called (exit 2), as opposed to a failure while running it. */
export class UsageError extends Error {}

export function bootstrapOption(): Option {
  return new Option('--bootstrap <host:port>', 'broker to connect to (env WEIR_BOOTSTRAP)')
    .env('WEIR_BOOTSTRAP')
    .default(DEFAULT_BOOTSTRAP);
}

export function parseIntArg(min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}
