// What every `weir` command shares: the bootstrap option and the connection check behind it, exit
// codes, and the parsers of integers, `key=value` pairs and repeated flags.

import { InvalidArgumentError, Option } from 'commander';
import { Admin, Connection, isWeirError } from '../index.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const DEFAULT_BOOTSTRAP = '127.0.0.1:9093';
/** How long the first call may take before the broker counts as unreachable. */
export const CONNECT_TIMEOUT_MS = 5_000;

/** A mistake in how the command was called (exit 2), as opposed to a failure while running it. */
export class UsageError extends Error {}

export function bootstrapOption(): Option {
  return (
    new Option('--bootstrap <host:port,...>', 'brokers to start from (any one that answers will do)')
      .env('WEIR_BOOTSTRAP')
      .default(DEFAULT_BOOTSTRAP)
      // An empty WEIR_BOOTSTRAP means unset, as the SDK reads it.
      .argParser((value: string) => (value.trim() === '' ? DEFAULT_BOOTSTRAP : value))
  );
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

/** A repeatable flag: each use appends to the list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A repeatable `key=value` flag; the value is everything after the first `=` and may be empty. */
export function collectKeyValue(value: string, previous: [string, string][] | undefined): [string, string][] {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, got '${value}'`);
  return [...(previous ?? []), [value.slice(0, at), value.slice(at + 1)]];
}

/** A short reason for a failed first call, on one line. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/ECONNREFUSED/.test(message)) return 'connection refused';
  if (isWeirError(err, 'REQUEST_TIMED_OUT')) return `no answer within ${CONNECT_TIMEOUT_MS / 1000} s`;
  return message.split('\n')[0]!;
}

/**
 * A connection to the broker, checked with one metadata call so that an unreachable broker fails
 * the command at once with a reason a person can act on (instead of a client retrying in silence).
 * The caller closes it; clients given `{ connection }` do not.
 */
export async function connect(bootstrap: string): Promise<Connection> {
  let connection: Connection;
  try {
    connection = new Connection({ bootstrap });
  } catch (err) {
    throw new UsageError(`--bootstrap: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    await new Admin({ connection }).metadata([], { timeoutMs: CONNECT_TIMEOUT_MS });
  } catch (err) {
    connection.close();
    // A broker answers this call; any failure means there is no usable broker at that address.
    const unreachable =
      isWeirError(err) &&
      (err.code === 'NETWORK_EXCEPTION' ||
        err.code === 'REQUEST_TIMED_OUT' ||
        err.code === 'BROKER_SHUTTING_DOWN');
    const where = connection.bootstrap.length > 1 ? 'any broker of' : 'broker at';
    throw new Error(
      unreachable
        ? `cannot reach ${where} ${connection.address} (${reasonOf(err)}): is it running? ` +
            'Point --bootstrap or WEIR_BOOTSTRAP at it'
        : `no weir broker answered at ${connection.address} (${reasonOf(err)}): ` +
            "is --bootstrap the broker's gRPC port?",
      { cause: err },
    );
  }
  return connection;
}

/** Runs `fn` with a checked connection, closing it afterwards whatever happens. */
export async function withConnection<T>(bootstrap: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await connect(bootstrap);
  try {
    return await fn(connection);
  } finally {
    connection.close();
  }
}

/** Calls `stop` on the first SIGINT or SIGTERM (a second one kills as usual); `dispose` removes it. */
export function onStopSignal(stop: () => void): { dispose(): void } {
  const handler = (): void => stop();
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return {
    dispose() {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}
