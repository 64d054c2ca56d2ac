// Per-log configuration: each key is defined once (Kafka's name, type, default, bounds, doc), and a
// log gets one validated, frozen LogConfig (STYLE 9). Topic configs in the broker are these keys.
//
// Flush policy: flush.messages=1 fsyncs every append before it is acknowledged (group commit: one
// fdatasync covers every append written while the previous one ran); flush.messages=N fsyncs after
// every N messages; flush.ms=T fsyncs at most T ms after an append; the defaults leave flushing to
// the OS. The README states what each promises after a process crash and after a power loss.

import { WeirError } from '../proto/errors.js';

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

export interface LogConfig {
  readonly segmentBytes: number;
  readonly segmentMs: number;
  readonly segmentIndexBytes: number;
  readonly indexIntervalBytes: number;
  readonly flushMessages: number;
  readonly flushMs: number;
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly cleanupPolicy: CleanupPolicy;
  readonly deleteRetentionMs: number;
  readonly minCleanableDirtyRatio: number;
  readonly maxMessageBytes: number;
}

type NumberKey = Exclude<keyof LogConfig, 'cleanupPolicy'>;

interface NumberDef {
  readonly key: NumberKey;
  readonly name: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly doc: string;
}

const INT32_MAX = 0x7fff_ffff;
const NEVER = Number.MAX_SAFE_INTEGER;

/** Every numeric log config key. -1 means "no limit" where min is -1. */
export const LOG_CONFIG_NUMBERS: readonly NumberDef[] = [
  {
    key: 'segmentBytes',
    name: 'segment.bytes',
    default: 1024 * 1024 * 1024,
    min: 1024,
    max: INT32_MAX,
    doc: 'roll a segment when its log file would pass this size',
  },
  {
    key: 'segmentMs',
    name: 'segment.ms',
    default: 7 * 24 * 3600 * 1000,
    min: 1,
    max: NEVER,
    doc: 'roll a segment when a batch is this much newer than the first batch in it',
  },
  {
    key: 'segmentIndexBytes',
    name: 'segment.index.bytes',
    default: 10 * 1024 * 1024,
    min: 96,
    max: INT32_MAX,
    doc: 'size limit of the offset index; a full index rolls the segment',
  },
  {
    key: 'indexIntervalBytes',
    name: 'index.interval.bytes',
    default: 4096,
    min: 0,
    max: INT32_MAX,
    doc: 'log bytes between two offset-index entries',
  },
  {
    key: 'flushMessages',
    name: 'flush.messages',
    default: NEVER,
    min: 1,
    max: NEVER,
    doc: 'fsync after this many messages; 1 means fsync every append before acknowledging it',
  },
  {
    key: 'flushMs',
    name: 'flush.ms',
    default: NEVER,
    min: 0,
    max: NEVER,
    doc: 'fsync at most this long after an append',
  },
  {
    key: 'retentionMs',
    name: 'retention.ms',
    default: 7 * 24 * 3600 * 1000,
    min: -1,
    max: NEVER,
    doc: 'delete closed segments whose newest record is older than this; -1 keeps forever',
  },
  {
    key: 'retentionBytes',
    name: 'retention.bytes',
    default: -1,
    min: -1,
    max: NEVER,
    doc: 'delete the oldest closed segments while the partition is larger than this; -1 no limit',
  },
  {
    key: 'deleteRetentionMs',
    name: 'delete.retention.ms',
    default: 24 * 3600 * 1000,
    min: 0,
    max: NEVER,
    doc: 'how long compaction keeps tombstones',
  },
  {
    key: 'minCleanableDirtyRatio',
    name: 'min.cleanable.dirty.ratio',
    default: 0.5,
    min: 0,
    max: 1,
    doc: 'compact when this share of the closed segments has not been compacted yet',
  },
  {
    key: 'maxMessageBytes',
    name: 'max.message.bytes',
    default: 1024 * 1024 + 12,
    min: 0,
    max: INT32_MAX,
    doc: 'largest record batch accepted on append',
  },
];

const CLEANUP_POLICIES: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete'];

export const DEFAULT_LOG_CONFIG: LogConfig = Object.freeze({
  ...(Object.fromEntries(LOG_CONFIG_NUMBERS.map((d) => [d.key, d.default])) as Record<NumberKey, number>),
  cleanupPolicy: 'delete',
});

/** All config names a topic may set, Kafka-style (`retention.ms`, `cleanup.policy`, ...). */
export const LOG_CONFIG_NAMES: readonly string[] = [
  ...LOG_CONFIG_NUMBERS.map((d) => d.name),
  'cleanup.policy',
];

/**
 * Builds a validated, frozen LogConfig from Kafka-style string overrides (`{ 'retention.ms': '1000' }`)
 * over a base. Throws INVALID_CONFIG naming the key for an unknown key or a bad value.
 */
export function logConfigFrom(
  overrides: Readonly<Record<string, string | number>>,
  base: LogConfig = DEFAULT_LOG_CONFIG,
): LogConfig {
  const out: { -readonly [K in keyof LogConfig]: LogConfig[K] } = { ...base };
  for (const [name, raw] of Object.entries(overrides)) {
    if (name === 'cleanup.policy') {
      const value = String(raw).replace(/\s+/g, '');
      const normal = value === 'delete,compact' ? 'compact,delete' : value;
      if (!CLEANUP_POLICIES.includes(normal as CleanupPolicy)) {
        throw new WeirError(
          'INVALID_CONFIG',
          `cleanup.policy must be one of ${CLEANUP_POLICIES.join(', ')}, got '${raw}'`,
        );
      }
      out.cleanupPolicy = normal as CleanupPolicy;
      continue;
    }
    const def = LOG_CONFIG_NUMBERS.find((d) => d.name === name);
    if (def === undefined) throw new WeirError('INVALID_CONFIG', `unknown config key '${name}'`);
    const value = typeof raw === 'number' ? raw : raw.trim() === '' ? Number.NaN : Number(raw);
    const isRatio = def.key === 'minCleanableDirtyRatio';
    if (
      !Number.isFinite(value) ||
      (!isRatio && !Number.isSafeInteger(value)) ||
      value < def.min ||
      value > def.max
    ) {
      const kind = isRatio ? 'a number' : 'an integer';
      throw new WeirError(
        'INVALID_CONFIG',
        `${name} must be ${kind} between ${def.min} and ${def.max}, got '${raw}'`,
      );
    }
    out[def.key] = value;
  }
  return Object.freeze(out);
}

/** The config as Kafka-style names and string values, for describe and admin output. */
export function logConfigEntries(config: LogConfig): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const d of LOG_CONFIG_NUMBERS) entries[d.name] = String(config[d.key]);
  entries['cleanup.policy'] = config.cleanupPolicy;
  return entries;
}
