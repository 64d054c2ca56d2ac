// Crash tests with a real process: test/fixtures/crash-writer.mjs appends batches and prints a line
// for every acknowledged append; the test kills it with SIGKILL after a seeded random number of
// acks, recovers the log in this process and checks it against what the writer must have written:
//   - every acknowledged batch is there, at its offsets, byte for byte, in order;
//   - offsets run contiguously from 0;
//   - batches past the last ack may or may not be there, but what is there is whole, valid and
//     exactly the next batches the writer made;
//   - the next append continues at the log end offset.
// A kill keeps the page cache, so all of this holds with and without fsync; what fsync adds
// (surviving a power loss) cannot be shown by killing a process.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RecordInput } from '../../proto/record-batch.js';
import {
  DEFAULT_LOG_MANAGER_CONFIG,
  LogManager,
  ManualClock,
  logConfigFrom,
  nodeFs,
  type PartitionLog,
} from '../../storage/index.js';
import {
  expectedBatch,
  openLog,
  randomInt,
  readAllBatches,
  seededRandom,
  unstamped,
  useTempDirs,
} from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRITER = join(ROOT, 'test', 'fixtures', 'crash-writer.mjs');
const WRITER_TIMEOUT_MS = 20_000;
/** The writer's segment layout (without its flush policy, which recovery does not use). */
const CONFIG = logConfigFrom({ 'segment.bytes': 16384, 'index.interval.bytes': 1024 });

const tempDir = useTempDirs();

/** Must stay identical to crashRecords in test/fixtures/crash-writer.mjs. */
function crashRecords(seed: number, id: number): RecordInput[] {
  const count = 1 + ((id * 7 + seed) % 4);
  const records: RecordInput[] = [];
  for (let j = 0; j < count; j++) {
    records.push({
      timestamp: 1_700_000_000_000 + id * 10 + j,
      key: Buffer.from(`k${(id + j) % 17}`),
      value: Buffer.from(`${seed}/${id}/${j}/${'v'.repeat((id * 37 + j * 11 + seed) % 300)}`),
    });
  }
  return records;
}

beforeAll(() => {
  // The writer runs the build output; testing a stale build would test other code than the tree.
  const stale: string[] = [];
  for (const layer of ['proto', 'storage']) {
    for (const name of readdirSync(join(ROOT, layer)).filter((n) => n.endsWith('.ts'))) {
      const built = join(ROOT, 'dist', layer, name.replace(/\.ts$/, '.js'));
      if (!existsSync(built)) {
        throw new Error(
          `dist/${layer}/${name.replace(/\.ts$/, '.js')} is missing: run \`npm run build\` first (npm test does)`,
        );
      }
      if (statSync(built).mtimeMs < statSync(join(ROOT, layer, name)).mtimeMs) stale.push(`${layer}/${name}`);
    }
  }
  if (stale.length > 0) {
    throw new Error(`dist/ is older than ${stale.join(', ')}: run \`npm run build\` first (npm test does)`);
  }
});

const children = new Set<ChildProcess>();

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
  children.clear();
});

interface Ack {
  readonly base: number;
  readonly last: number;
  readonly id: number;
}

/**
 * Runs the writer until it has printed `wanted` acks, then kills it with SIGKILL. Returns every
 * ack printed before it died (a line cut short by the kill does not count). Fails if the writer
 * exits on its own, prints anything else, or takes longer than WRITER_TIMEOUT_MS.
 */
function runWriter(args: readonly (string | number)[], wanted: number): Promise<Ack[]> {
  const child = spawn(process.execPath, [WRITER, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const acks: Ack[] = [];
  let stderr = '';
  let pending = '';
  let problem: string | null = null;
  return new Promise<Ack[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      problem ??= `timed out after ${WRITER_TIMEOUT_MS} ms with ${acks.length} of ${wanted} acks`;
      child.kill('SIGKILL');
    }, WRITER_TIMEOUT_MS);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() as string;
      for (const line of lines) {
        const m = /^acked (\d+) (\d+) (\d+)$/.exec(line);
        if (m === null) {
          problem ??= `unexpected output ${JSON.stringify(line)}`;
          child.kill('SIGKILL');
          continue;
        }
        acks.push({ base: Number(m[1]), last: Number(m[2]), id: Number(m[3]) });
        if (acks.length === wanted) child.kill('SIGKILL');
      }
    });
    child.on('error', (err) => {
      problem ??= `spawn failed: ${err.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (problem === null && signal !== 'SIGKILL') {
        problem = `exited on its own (code ${code}, signal ${signal}) after ${acks.length} acks`;
      }
      if (problem !== null)
        reject(new Error(`crash writer ${args.join(' ')}: ${problem}\nstderr: ${stderr}`));
      else resolve(acks);
    });
  });
}

/** Checks the recovered log against the acks and the batches the writer made, then appends. */
function checkRecovered(log: PartitionLog, seed: number, acks: readonly Ack[]): void {
  // The acks themselves: one per batch, in order, contiguous from 0.
  let next = 0;
  acks.forEach((ack, id) => {
    expect(ack.id, 'ack order').toBe(id);
    expect([ack.base, ack.last], `offsets acknowledged for batch ${id}`).toEqual([
      next,
      next + crashRecords(seed, id).length - 1,
    ]);
    next = ack.last + 1;
  });

  // readAllBatches decodes each batch (header, CRC, records) and fails on a bad one.
  const stored = readAllBatches(log);
  expect(stored.length, 'batches recovered').toBeGreaterThanOrEqual(acks.length);
  expect(log.logStartOffset).toBe(0);
  let offset = 0;
  stored.forEach((batch, id) => {
    const want = expectedBatch(crashRecords(seed, id), offset);
    const what = `batch ${id}${id < acks.length ? ' (acknowledged)' : ' (not acknowledged)'}`;
    expect([batch.baseOffset, batch.lastOffset], what).toEqual([want.baseOffset, want.lastOffset]);
    expect(batch.bytes.equals(want.bytes), `bytes of ${what}`).toBe(true);
    offset = want.lastOffset + 1;
  });
  expect(log.logEndOffset).toBe(offset);

  const extra = expectedBatch(
    [{ timestamp: 1_800_000_000_000, key: null, value: Buffer.from('after the kill') }],
    offset,
  );
  expect(log.append(unstamped(extra)).baseOffset).toBe(offset);
  const back = log.read(offset, 1 << 20);
  expect(back.records.equals(extra.bytes), 'the batch appended after recovery').toBe(true);
  expect(log.logEndOffset).toBe(offset + 1);
}

async function killAndRecoverLog(seed: number, flush: 'durable' | 'none'): Promise<void> {
  const dir = tempDir('weir-crash-');
  const wanted = randomInt(seededRandom(seed), 200, 500);
  const acks = await runWriter([dir, seed, 'log', flush], wanted);
  expect(acks.length).toBeGreaterThanOrEqual(wanted);
  const { log } = openLog(dir, CONFIG, { cleanShutdown: false, recoveryPoint: 0 });
  try {
    checkRecovered(log, seed, acks);
  } finally {
    await log.close();
  }
}

async function killAndRecoverManager(seed: number, flush: 'durable' | 'none'): Promise<void> {
  const dataDir = tempDir('weir-crash-');
  const wanted = randomInt(seededRandom(seed), 200, 500);
  const acks = await runWriter([dataDir, seed, 'manager', flush], wanted);
  expect(acks.length).toBeGreaterThanOrEqual(wanted);
  const manager = LogManager.open(
    { ...DEFAULT_LOG_MANAGER_CONFIG, dataDir },
    { fs: nodeFs, clock: new ManualClock(), configFor: () => CONFIG },
  );
  try {
    expect(manager.cleanShutdown).toBe(false);
    const log = manager.getLog('crash', 0);
    expect(log).toBeDefined();
    checkRecovered(log!, seed, acks);
  } finally {
    await manager.close();
  }
}

describe('a writer killed with SIGKILL', () => {
  it.each([101, 202, 303, 404])(
    'with an fsync before every ack (seed %i): every acknowledged batch is recovered',
    async (seed) => {
      await killAndRecoverLog(seed, 'durable');
    },
  );

  it('through a log manager checkpointing in the background: every acknowledged batch is recovered', async () => {
    await killAndRecoverManager(505, 'durable');
  });

  it.each([606, 707])(
    'without fsync, killed mid-writing (seed %i): the log is a valid prefix holding every ack',
    async (seed) => {
      await killAndRecoverLog(seed, 'none');
    },
  );

  it('without fsync, through a log manager: the log is a valid prefix holding every ack', async () => {
    await killAndRecoverManager(808, 'none');
  });
});
