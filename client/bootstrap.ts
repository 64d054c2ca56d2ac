// The bootstrap list: where a client first looks for the cluster. As Kafka's bootstrap.servers it
// names one or more brokers, `host:port[,host:port...]` in a string (or an array in the SDK); any
// one of them answering is enough, since its Metadata names every broker. The list is checked once
// when a client is built, so a bad entry is an INVALID_CONFIG naming it, not a connect that fails
// later with a reason far from the typo.

import { WeirError } from '../proto/errors.js';

/** The DESIGN's default bootstrap address, used when neither the option nor WEIR_BOOTSTRAP is set. */
export const DEFAULT_BOOTSTRAP = '127.0.0.1:9093';
export const BOOTSTRAP_ENV = 'WEIR_BOOTSTRAP';

/** Validates `host:port` (IPv6 hosts in brackets) and returns it. */
export function parseBootstrap(value: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/,[\]]+):(\d{1,5})$/.exec(value.trim());
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port < 1 || port > 65535) {
    throw new WeirError('INVALID_CONFIG', `bootstrap must be host:port, got '${value}'`);
  }
  return `${match[1]}:${port}`;
}

/**
 * The addresses of a bootstrap option: a comma-separated string or an array of `host:port`, in the
 * order given, without repeats. An empty entry (`a:1,,b:2`) or an empty list is refused rather than
 * skipped: it is most likely a variable that did not expand.
 */
export function parseBootstrapList(value: string | readonly string[]): string[] {
  const entries = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(entries)) {
    throw new WeirError('INVALID_CONFIG', 'bootstrap must be a host:port list or an array of them');
  }
  if (entries.length === 0) throw new WeirError('INVALID_CONFIG', 'bootstrap names no broker');
  const out: string[] = [];
  entries.forEach((entry: unknown, i) => {
    if (typeof entry !== 'string') {
      throw new WeirError(
        'INVALID_CONFIG',
        `bootstrap entry ${i + 1} must be a string, got ${String(entry)}`,
      );
    }
    if (entry.trim() === '') {
      throw new WeirError('INVALID_CONFIG', `bootstrap entry ${i + 1} is empty in '${String(value)}'`);
    }
    const address = parseBootstrap(entry);
    if (!out.includes(address)) out.push(address);
  });
  return out;
}

/** The option if given, else WEIR_BOOTSTRAP if set and not empty, else the default. */
export function resolveBootstrap(
  option: string | readonly string[] | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (option !== undefined) {
    if (typeof option !== 'string' && !Array.isArray(option)) {
      throw new WeirError('INVALID_CONFIG', 'bootstrap must be a host:port list or an array of them');
    }
    return parseBootstrapList(option);
  }
  const fromEnv = env[BOOTSTRAP_ENV];
  return parseBootstrapList(fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv : DEFAULT_BOOTSTRAP);
}
