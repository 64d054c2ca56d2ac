// Storage benchmark: what a PartitionLog does on this machine, measured beside what the machine
// itself does in the same run. Run with `npm run bench:storage [-- --mb 512 --reps 3]`.
//
// Method. Records (100 B or 1 KiB values, no key) are encoded once into ~16 KiB RecordBatch v2
// buffers, a pool of 64 distinct batches (1 MiB) that every loop cycles through; append stamps
// offsets into them in place, which is what the broker does with a producer's bytes. Each figure is
// measured `--reps` times (default 3) and printed as runs, MEDIAN, min and max, like the peers kit
// (/work/shared/peers). MB/s is 10^6 bytes of log (batch headers and record framing included) per
// second; sizes given on the command line are MiB.
//
//  - append (page cache): PartitionLog.append into a fresh log, default flush policy (no fsync).
//    Beside it, `raw`: fs.writeSync of the same buffers, same order, same total, to a plain file in
//    the same directory, no fsync. The two are interleaved rep by rep; append/raw is per rep. Both
//    loops let the event loop turn every 4 MiB, as a broker serving produce requests does, so the
//    background fsync a segment roll starts can run (it runs in libuv's thread pool).
//  - append durable: flush.messages=1, `await log.appendDurable(batch)` from 1 and 64 concurrent
//    producers (group commit: one fdatasync covers every append written while the previous one ran),
//    against raw writeSync + fdatasync of each batch.
//  - read: log.read(offset, 1 MiB) from the log start to the end. The log was just written, so it is
//    in the page cache: this is the broker's CPU cost of a fetch, not the disk's.
//  - recovery: the log is closed without a flush (closeNow) and reopened as after a crash
//    (cleanShutdown false, recoveryPoint 0): every batch's length and CRC is checked and both indexes
//    are rebuilt. The clean reopen (cleanShutdown true) is timed after it, for contrast.
//  - lookups: offsetForTimestamp(ts) and read(offset, 1) at random points of a small and a big log
//    whose record k has timestamp T0 + k (each batch is re-stamped and re-checksummed before its
//    append, outside any timing), p50/p99 per rep over `--lookups` calls after a warm-up.
//
// Before the first rep one untimed raw pass touches the memory the page cache will use (in a VM the
// first touch of a page is far slower than any later one); before the durable runs a `sync` writes
// back what earlier runs left dirty. Data goes to a temp directory that is removed at the end, also
// on an error or Ctrl-C.
//
// Options (or environment variables): --mb (WEIR_BENCH_MB, 1 KiB log size, default 1024),
// --mb-100b (WEIR_BENCH_MB_100B, 512), --durable-mb (WEIR_BENCH_DURABLE_MB, 64), --small-mb
// (WEIR_BENCH_SMALL_MB, 64), --reps (WEIR_BENCH_REPS, 3), --lookups (WEIR_BENCH_LOOKUPS, 2000),
// --dir (WEIR_BENCH_DIR, the OS temp dir; put it on the disk you care about).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { arch, cpus, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turnEventLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  BASE_TIMESTAMP_OFFSET,
  CRC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  computeBatchCrc,
  writeInt64,
} from '../proto/batch-header.js';
import { CRC32C_BACKEND } from '../proto/crc32c.js';
import { encodeBatch, type RecordInput } from '../proto/record-batch.js';
import {
  DEFAULT_LOG_CONFIG,
  PartitionLog,
  logConfigFrom,
  nodeFs,
  systemClock,
  type LogConfig,
  type LogDeps,
  type LogEvent,
  type OpenOptions,
  type StorageFs,
} from '../storage/index.js';

const MiB = 1024 * 1024;
const BATCH_TARGET_BYTES = 16 * 1024;
const POOL_BATCHES = 64;
const YIELD_EVERY_BATCHES = (4 * MiB) / BATCH_TARGET_BYTES;
const READ_MAX_BYTES = MiB;
const ROLL_SEGMENT_BYTES = 256 * MiB;
const DURABLE_PRODUCERS = [1, 64];
const LOOKUP_WARMUP = 200;
const T0 = 1_700_000_000_000;
const FRESH: OpenOptions = { cleanShutdown: true, recoveryPoint: 0, logStartOffset: 0 };

const { values: argv } = parseArgs({
  options: {
    mb: { type: 'string' },
    'mb-100b': { type: 'string' },
    'durable-mb': { type: 'string' },
    'small-mb': { type: 'string' },
    reps: { type: 'string' },
    lookups: { type: 'string' },
    dir: { type: 'string' },
  },
});

function setting(flag: string | undefined, env: string, fallback: number): number {
  const raw = flag ?? process.env[env];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${env} / option must be a positive number, got '${raw}'`);
  return value;
}

const SIZES_MB = {
  1024: setting(argv.mb, 'WEIR_BENCH_MB', 1024),
  100: setting(argv['mb-100b'], 'WEIR_BENCH_MB_100B', 512),
};
const DURABLE_MB = setting(argv['durable-mb'], 'WEIR_BENCH_DURABLE_MB', 64);
const SMALL_MB = setting(argv['small-mb'], 'WEIR_BENCH_SMALL_MB', 64);
const REPS = Math.round(setting(argv.reps, 'WEIR_BENCH_REPS', 3));
const LOOKUPS = Math.round(setting(argv.lookups, 'WEIR_BENCH_LOOKUPS', 2000));
const BASE_DIR = argv.dir ?? process.env['WEIR_BENCH_DIR'] ?? tmpdir();

// ---- timing and reporting ----

function now(): bigint {
  return process.hrtime.bigint();
}
function secondsSince(start: bigint): number {
  return Number(now() - start) / 1e9;
}
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}
function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function mbps(bytes: number, seconds: number): number {
  return bytes / seconds / 1e6;
}

const summary: string[] = [];

/** Prints one measured figure (runs, median, min, max) and keeps its median for the summary. */
function report(label: string, runs: readonly number[], unit: string, digits = 0, note = ''): number {
  const m = median(runs);
  const f = (n: number): string => fmt(n, digits);
  const tail = note === '' ? '' : `  ${note}`;
  console.log(
    `${label}: runs=${runs.map(f).join(' / ')} ${unit}  MEDIAN=${f(m)} ${unit} (min ${f(Math.min(...runs))}, max ${f(Math.max(...runs))})${tail}`,
  );
  summary.push(`MEDIAN ${label}: ${f(m)} ${unit}${tail}`);
  return m;
}

// ---- data ----

interface Pool {
  readonly batches: Buffer[];
  readonly recordBytes: number;
  readonly recordsPerBatch: number;
  /** Every batch of the pool has this size. */
  readonly batchBytes: number;
}

function encodePoolBatch(recordBytes: number, count: number): Buffer {
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++)
    records.push({ timestamp: T0 + i, key: null, value: randomBytes(recordBytes) });
  return encodeBatch(records);
}

/** 64 distinct batches of as many records as fit in ~16 KiB; record i of a batch has timestamp T0 + i. */
function makePool(recordBytes: number): Pool {
  const perRecord = encodePoolBatch(recordBytes, 2).length - encodePoolBatch(recordBytes, 1).length;
  let recordsPerBatch = Math.floor((BATCH_TARGET_BYTES - 61) / perRecord);
  while (encodePoolBatch(recordBytes, recordsPerBatch).length > BATCH_TARGET_BYTES) recordsPerBatch--;
  const batches: Buffer[] = [];
  for (let i = 0; i < POOL_BATCHES; i++) batches.push(encodePoolBatch(recordBytes, recordsPerBatch));
  return { batches, recordBytes, recordsPerBatch, batchBytes: (batches[0] as Buffer).length };
}

function batchesFor(pool: Pool, mib: number): number {
  return Math.max(1, Math.floor((mib * MiB) / pool.batchBytes));
}

/** Makes batch `i` hold offsets and timestamps from i * recordsPerBatch: record k gets T0 + k. */
function restampTimestamps(pool: Pool, buf: Buffer, i: number): void {
  const base = T0 + i * pool.recordsPerBatch;
  writeInt64(buf, BASE_TIMESTAMP_OFFSET, base);
  writeInt64(buf, MAX_TIMESTAMP_OFFSET, base + pool.recordsPerBatch - 1);
  buf.writeUInt32BE(computeBatchCrc(buf, 0), CRC_OFFSET);
}

/** A small seeded PRNG (mulberry32), so lookup positions repeat from run to run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the measurements ----

let root = '';
let dirSeq = 0;
const events: LogEvent[] = [];
let fdatasyncCalls = 0;
const countingFs: StorageFs = {
  ...nodeFs,
  fdatasync(fd) {
    fdatasyncCalls++;
    return nodeFs.fdatasync(fd);
  },
};
const deps: LogDeps = { fs: countingFs, clock: systemClock, log: (e) => events.push(e) };

function freshDir(name: string): string {
  return join(root, `${name}-${dirSeq++}`);
}

/** fs.writeSync of the pool's buffers to a plain file; with `syncEach`, fdatasync after each. */
async function timeRaw(pool: Pool, batches: number, syncEach: boolean): Promise<number> {
  const path = join(root, `raw-${dirSeq++}.bin`);
  const fd = openSync(path, 'wx');
  try {
    const start = now();
    for (let i = 0; i < batches; i++) {
      const buf = pool.batches[i % POOL_BATCHES] as Buffer;
      let done = 0;
      while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, null);
      if (syncEach) fdatasyncSync(fd);
      else if (i % YIELD_EVERY_BATCHES === YIELD_EVERY_BATCHES - 1) await turnEventLoop();
    }
    return secondsSince(start);
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

async function timeAppend(
  pool: Pool,
  batches: number,
  config: LogConfig,
): Promise<{ seconds: number; log: PartitionLog }> {
  const log = PartitionLog.open(freshDir('append'), config, deps, FRESH);
  const start = now();
  for (let i = 0; i < batches; i++) {
    log.append(pool.batches[i % POOL_BATCHES] as Buffer);
    if (i % YIELD_EVERY_BATCHES === YIELD_EVERY_BATCHES - 1) await turnEventLoop();
  }
  const seconds = secondsSince(start);
  check(log.logEndOffset === batches * pool.recordsPerBatch, 'append: log end offset');
  return { seconds, log };
}

function timeRead(log: PartitionLog): { seconds: number; bytes: number } {
  let offset = log.logStartOffset;
  let bytes = 0;
  const start = now();
  while (offset < log.logEndOffset) {
    const result = log.read(offset, READ_MAX_BYTES);
    bytes += result.records.length;
    offset = result.lastOffset + 1;
  }
  const seconds = secondsSince(start);
  check(bytes === log.size, 'read: bytes read differ from the log size');
  return { seconds, bytes };
}

function timeOpen(dir: string, cleanShutdown: boolean): { seconds: number; log: PartitionLog } {
  events.length = 0;
  const start = now();
  const log = PartitionLog.open(dir, DEFAULT_LOG_CONFIG, deps, {
    cleanShutdown,
    recoveryPoint: 0,
    logStartOffset: 0,
  });
  const seconds = secondsSince(start);
  const bad = events.find((e) => e.kind === 'truncated' || e.kind === 'segments-removed');
  check(bad === undefined, `reopen found damage: ${JSON.stringify(bad)}`);
  return { seconds, log };
}

function removeLog(log: PartitionLog): void {
  log.closeNow();
  rmSync(log.dir, { recursive: true, force: true });
}

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`benchmark self-check failed: ${what}`);
}

async function pageCacheSuite(recordBytes: number): Promise<void> {
  const pool = makePool(recordBytes);
  const batches = batchesFor(pool, SIZES_MB[recordBytes as 100 | 1024]);
  const bytes = batches * pool.batchBytes;
  const records = batches * pool.recordsPerBatch;
  const name = recordBytes === 1024 ? '1 KiB' : `${recordBytes} B`;
  const rollConfig = logConfigFrom({ 'segment.bytes': ROLL_SEGMENT_BYTES });
  console.log(
    `\n== ${name} records: ${pool.recordsPerBatch} per batch of ${fmt(pool.batchBytes)} B, ` +
      `${fmt(batches)} batches = ${fmt(bytes / MiB, 1)} MiB, ${fmt(records)} records per run`,
  );

  const raw: number[] = [];
  const append: number[] = [];
  const appendRoll: number[] = [];
  const read: number[] = [];
  const recovery: number[] = [];
  const clean: number[] = [];
  let rollSegments = 0;
  for (let rep = 0; rep < REPS; rep++) {
    raw.push(await timeRaw(pool, batches, false));

    const appended = await timeAppend(pool, batches, DEFAULT_LOG_CONFIG);
    append.push(appended.seconds);
    read.push(timeRead(appended.log).seconds);
    appended.log.closeNow();
    const recovered = timeOpen(appended.log.dir, false);
    check(recovered.log.logEndOffset === records, 'recovery: log end offset');
    recovery.push(recovered.seconds);
    recovered.log.closeNow();
    const reopened = timeOpen(appended.log.dir, true);
    check(reopened.log.logEndOffset === records, 'clean reopen: log end offset');
    clean.push(reopened.seconds);
    removeLog(reopened.log);

    const rolled = await timeAppend(pool, batches, rollConfig);
    appendRoll.push(rolled.seconds);
    rollSegments = rolled.log.segments.length;
    removeLog(rolled.log);
  }

  const rate = (secs: number[]): number[] => secs.map((s) => mbps(bytes, s));
  const recs = (secs: number[]): string => `= ${fmt(median(secs.map((s) => records / s)))} records/s`;
  const ratio = (secs: number[]): string => {
    const r = secs.map((s, i) => ((raw[i] as number) / s) * 100);
    return `append/raw ${r.map((x) => fmt(x)).join(' / ')} %, median ${fmt(median(r))} % (goal >= 70 %)`;
  };
  report(`raw writeSync ${fmt(pool.batchBytes)} B buffers, no fsync (${name})`, rate(raw), 'MB/s');
  report(`append ${name} records, segment.bytes 1 GiB`, rate(append), 'MB/s', 0, recs(append));
  console.log(`  ${ratio(append)}`);
  report(
    `append ${name} records, segment.bytes 256 MiB (${rollSegments} segments)`,
    rate(appendRoll),
    'MB/s',
    0,
    recs(appendRoll),
  );
  console.log(`  ${ratio(appendRoll)}`);
  report(`read ${name} log, read(offset, 1 MiB), page cache`, rate(read), 'MB/s', 0, recs(read));
  report(
    `recovery scan ${name} log (CRC + index rebuild), page cache`,
    rate(recovery),
    'MB/s',
    0,
    '(goal >= 500 MB/s)',
  );
  report(
    `clean reopen ${name} log (${fmt(bytes / MiB)} MiB)`,
    clean.map((s) => s * 1000),
    'ms',
    1,
  );
}

async function durableSuite(): Promise<void> {
  const pool = makePool(1024);
  const batches = batchesFor(pool, DURABLE_MB);
  const bytes = batches * pool.batchBytes;
  const config = logConfigFrom({ 'flush.messages': 1 });
  console.log(
    `\n== durable appends (flush.messages=1), 1 KiB records, ${fmt(batches)} batches of ${fmt(pool.batchBytes)} B ` +
      `= ${fmt(bytes / MiB, 1)} MiB per run`,
  );
  const raw: number[] = [];
  const runs = new Map<number, { secs: number[]; p50: number[]; p99: number[]; perSync: number[] }>();
  for (const producers of DURABLE_PRODUCERS) runs.set(producers, { secs: [], p50: [], p99: [], perSync: [] });
  for (let rep = 0; rep < REPS; rep++) {
    raw.push(await timeRaw(pool, batches, true));
    for (const producers of DURABLE_PRODUCERS) {
      const log = PartitionLog.open(freshDir('durable'), config, deps, FRESH);
      const latencies = new Float64Array(batches);
      let next = 0;
      const producer = async (): Promise<void> => {
        while (next < batches) {
          const i = next++;
          const sent = now();
          await log.appendDurable(pool.batches[i % POOL_BATCHES] as Buffer);
          latencies[i] = Number(now() - sent) / 1e3;
        }
      };
      fdatasyncCalls = 0;
      const start = now();
      await Promise.all(Array.from({ length: producers }, producer));
      const seconds = secondsSince(start);
      check(log.flushedOffset === batches * pool.recordsPerBatch, 'durable: flushed offset');
      const syncs = fdatasyncCalls;
      removeLog(log);
      latencies.sort();
      const run = runs.get(producers)!;
      run.secs.push(seconds);
      run.p50.push(percentile(latencies, 50));
      run.p99.push(percentile(latencies, 99));
      run.perSync.push(batches / syncs);
    }
  }
  report(
    `raw writeSync + fdatasync per ${fmt(pool.batchBytes)} B write`,
    raw.map((s) => mbps(bytes, s)),
    'MB/s',
    0,
    `= ${fmt(median(raw.map((s) => batches / s)))} writes/s`,
  );
  for (const [producers, run] of runs) {
    report(
      `appendDurable, ${producers} producer${producers === 1 ? '' : 's'} in flight`,
      run.secs.map((s) => mbps(bytes, s)),
      'MB/s',
      0,
      `= ${fmt(median(run.secs.map((s) => (batches * pool.recordsPerBatch) / s)))} records/s, ` +
        `ack p50 ${fmt(median(run.p50))} µs p99 ${fmt(median(run.p99))} µs, ` +
        `${fmt(median(run.perSync), 1)} appends per fdatasync`,
    );
  }
}

/** Builds a log whose record k has timestamp T0 + k (untimed). */
function buildTimestampedLog(pool: Pool, mib: number): PartitionLog {
  const log = PartitionLog.open(freshDir('lookup'), DEFAULT_LOG_CONFIG, deps, FRESH);
  const batches = batchesFor(pool, mib);
  for (let i = 0; i < batches; i++) {
    const buf = pool.batches[i % POOL_BATCHES] as Buffer;
    restampTimestamps(pool, buf, i);
    log.append(buf);
  }
  return log;
}

/** Sorted latencies (µs) of `LOOKUPS` timestamp lookups, then as many offset lookups, at random records. */
function lookupLatencies(log: PartitionLog, seed: number): { time: Float64Array; offset: Float64Array } {
  const random = seededRandom(seed);
  const end = log.logEndOffset;
  const time = new Float64Array(LOOKUPS);
  const offset = new Float64Array(LOOKUPS);
  for (let i = -LOOKUP_WARMUP; i < LOOKUPS; i++) {
    const k = Math.floor(random() * end);
    const start = now();
    const found = log.offsetForTimestamp(T0 + k);
    if (i >= 0) time[i] = Number(now() - start) / 1e3;
    check(found === k, `offsetForTimestamp(T0 + ${k}) = ${found}`);
  }
  for (let i = -LOOKUP_WARMUP; i < LOOKUPS; i++) {
    const k = Math.floor(random() * end);
    const start = now();
    const read = log.read(k, 1);
    if (i >= 0) offset[i] = Number(now() - start) / 1e3;
    check(read.firstOffset <= k && read.lastOffset >= k, `read(${k}, 1)`);
  }
  return { time: time.sort(), offset: offset.sort() };
}

function lookupSuite(): void {
  const pool = makePool(1024);
  console.log(
    `\n== lookups, 1 KiB records, ${fmt(LOOKUPS)} random lookups per run after ${LOOKUP_WARMUP} warm-up, page cache`,
  );
  for (const mib of [SMALL_MB, SIZES_MB[1024]]) {
    const log = buildTimestampedLog(pool, mib);
    const label = `${fmt(mib)} MiB log, ${log.segments.length} segment${log.segments.length === 1 ? '' : 's'}`;
    const t50: number[] = [];
    const t99: number[] = [];
    const o50: number[] = [];
    const o99: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const { time, offset } = lookupLatencies(log, 42 + rep);
      t50.push(percentile(time, 50));
      t99.push(percentile(time, 99));
      o50.push(percentile(offset, 50));
      o99.push(percentile(offset, 99));
    }
    removeLog(log);
    report(`offsetForTimestamp p50, ${label}`, t50, 'µs', 1);
    report(`offsetForTimestamp p99, ${label}`, t99, 'µs', 1);
    report(`read(offset, 1) p50, ${label}`, o50, 'µs', 1);
    report(`read(offset, 1) p99, ${label}`, o99, 'µs', 1);
  }
}

async function main(): Promise<void> {
  const started = now();
  const cpu = cpus();
  root = mkdtempSync(join(BASE_DIR, 'weir-bench-'));
  console.log(
    `weir storage benchmark — Node ${process.version}, ${platform()}-${arch()}, ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}`,
  );
  console.log(
    `data in ${root}; CRC-32C backend ${CRC32C_BACKEND}; ${REPS} reps per figure; ` +
      `sizes: 1 KiB ${SIZES_MB[1024]} MiB, 100 B ${SIZES_MB[100]} MiB, durable ${DURABLE_MB} MiB, small log ${SMALL_MB} MiB`,
  );
  // The first pass over fresh memory is slow in a VM (the host backs the guest's pages on first
  // touch); one untimed raw pass takes that cost before anything is measured.
  const warmUp = makePool(1024);
  await timeRaw(warmUp, batchesFor(warmUp, Math.max(SIZES_MB[1024], SIZES_MB[100])), false);
  await pageCacheSuite(1024);
  await pageCacheSuite(100);
  settleDisk();
  await durableSuite();
  lookupSuite();
  console.log(`\n== summary (Node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'})`);
  for (const line of summary) console.log(line);
  console.log(`total time ${fmt(secondsSince(started), 1)} s`);
}

/**
 * Writes back what the page-cache runs left dirty, so it does not land in the durable runs'
 * fdatasyncs (on ext4, a journal commit can wait for other files' data). Linux `sync`, if present.
 */
function settleDisk(): void {
  try {
    execFileSync('sync', { stdio: 'ignore' });
  } catch {
    // No `sync` binary: the durable figures then include whatever writeback is still running.
  }
}

function cleanUp(): void {
  if (root !== '') rmSync(root, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

try {
  await main();
} finally {
  cleanUp();
}
