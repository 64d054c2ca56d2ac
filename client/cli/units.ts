// Numbers a person reads and writes on the command line: counts, byte sizes, durations, times.

import { InvalidArgumentError } from 'commander';

/** `12,345,678`. */
export function grouped(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `512 B`, `12.3 KiB`, `4.0 MiB`, `1.2 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `90s`, `15m`, `1.5h`, `7d` in ms (commander argument parser). */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(raw.trim());
  if (match === null) {
    throw new InvalidArgumentError(`expected a duration such as 30s, 15m, 2h or 7d, got '${raw}'`);
  }
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2]!]!);
}

/**
 * An ISO 8601 time (`2026-11-22T10:00:00Z`; without a zone it is local time, as JavaScript reads
 * it) or ms since the epoch, to ms since the epoch (commander argument parser).
 */
export function parseTime(raw: string): number {
  const text = raw.trim();
  const ms = /^\d+$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new InvalidArgumentError(`expected an ISO 8601 time such as 2026-11-22T10:00:00Z, got '${raw}'`);
  }
  return ms;
}
