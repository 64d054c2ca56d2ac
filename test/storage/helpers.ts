// Shared helpers for storage tests: temp dirs, a seeded PRNG, batches built from plain record
// specs, and reading a whole log back. Expectations in tests are computed from what the test
// wrote with these helpers, never from the storage code under test.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { decodeBatch, encodeBatch, type RecordInput } from '../../proto/record-batch.js';
import {
  ManualClock,
  PartitionLog,
  logConfigFrom,
  nodeFs,
  type LogConfig,
  type LogEvent,
  type OpenOptions,
} from '../../storage/index.js';

/**
 * Returns a function that makes temp dirs under os.tmpdir(); every dir it made is removed after
 * each test of the calling file. Call it once at the top level of a test file.
 */
export function useTempDirs(): (prefix?: string) => string {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix = 'weir-test-') => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max] from `rand`. */
export function randomInt(rand: () => number, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

/** A small log config for tests: Kafka-style overrides over the defaults. */
export function testLogConfig(overrides: Readonly<Record<string, string | number>> = {}): LogConfig {
  return logConfigFrom({ 'segment.bytes': 8192, 'index.interval.bytes': 512, ...overrides });
}

export interface OpenedLog {
  readonly log: PartitionLog;
  /** Every event the log reported while opening and afterwards. */
  readonly events: LogEvent[];
}

/** Opens a log on the real file system with a manual clock (no timer ever fires). */
export function openLog(dir: string, config: LogConfig, options: Partial<OpenOptions> = {}): OpenedLog {
  const events: LogEvent[] = [];
  const log = PartitionLog.open(
    dir,
    config,
    { fs: nodeFs, clock: new ManualClock(), log: (e) => events.push(e) },
    { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false, ...options },
  );
  return { log, events };
}

/** A batch as the test expects it in the log: its offsets, records and exact bytes. */
export interface ExpectedBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly records: readonly RecordInput[];
  /** The batch encoded with its base offset, as it must lie on disk. */
  readonly bytes: Buffer;
}

/** The expected form of `records` stored at `baseOffset` (offset deltas 0..n-1). */
export function expectedBatch(records: readonly RecordInput[], baseOffset: number): ExpectedBatch {
  return {
    baseOffset,
    lastOffset: baseOffset + records.length - 1,
    records,
    bytes: encodeBatch(records, { baseOffset }),
  };
}

/** The same batch with base offset 0, ready for append (which stamps the real one in place). */
export function unstamped(batch: ExpectedBatch): Buffer {
  const copy = Buffer.from(batch.bytes);
  copy.fill(0, 0, 8);
  return copy;
}

/** A batch read back from a log, copied out of the log's buffers. */
export interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly bytes: Buffer;
}

/**
 * Reads every batch from the log start to the log end. Each batch must decode (header, CRC and
 * records); a batch that does not throws, naming its offset.
 */
export function readAllBatches(log: PartitionLog): StoredBatch[] {
  const out: StoredBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const result = log.read(offset, 1 << 20);
    if (result.records.length === 0) break;
    let pos = 0;
    while (pos < result.records.length) {
      const decoded = decodeBatch(result.records, pos);
      if (!decoded.ok)
        throw new Error(`batch at byte ${pos} of the read at offset ${offset}: ${decoded.reason}`);
      const { baseOffset, lastOffsetDelta, size } = decoded.batch;
      out.push({
        baseOffset,
        lastOffset: baseOffset + lastOffsetDelta,
        bytes: Buffer.from(result.records.subarray(pos, pos + size)),
      });
      pos += size;
    }
    offset = result.lastOffset + 1;
  }
  return out;
}
