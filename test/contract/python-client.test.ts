// A client in a second language, written from weir.proto alone: test/contract/python/client.py
// generates its stubs with grpc_tools, then produces idempotently in the records form (with a
// retry that must not duplicate and a gap that must be refused), fetches, and runs a group member
// against a broker started here. It runs $WEIR_PYTHON (default python3). Where that lacks grpcio or
// grpcio-tools it is skipped, saying why, except in CI (CI set), where it fails: CI installs them
// first (scripts/ci/python-env.sh), so a skip there would hide a broken setup.

import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';

const PYTHON = process.env['WEIR_PYTHON'] ?? 'python3';
const CLIENT = join(import.meta.dirname, 'python/client.py');

function missingPython(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error !== undefined) return `${PYTHON} cannot be run (${probe.error.message})`;
  if (probe.status !== 0)
    return `${PYTHON} has no grpcio/grpcio-tools (${probe.stderr.trim().split('\n').at(-1)})`;
  return null;
}

const missing = missingPython();
const inCi = (process.env['CI'] ?? '') !== '';
const howToRun =
  'Run `export WEIR_PYTHON=$(bash scripts/ci/python-env.sh)` (a virtualenv with grpcio) to run it.';
if (missing !== null && !inCi) console.warn(`python-client.test.ts skipped: ${missing}. ${howToRun}`);

let broker: RunningBroker | null = null;
let dir: string;
beforeAll(async () => {
  if (missing !== null) return;
  dir = mkdtempSync(join(tmpdir(), 'weir-python-'));
  broker = await startBroker({ dataDir: join(dir, 'data'), grpcPort: 0, httpPort: 0, logLevel: 'silent' });
});
afterAll(async () => {
  await broker?.close();
  if (broker !== null) rmSync(dir, { recursive: true, force: true });
});

it.skipIf(missing !== null && !inCi)(
  'a Python client from weir.proto produces idempotently, fetches and runs a group member',
  async () => {
    if (missing !== null) throw new Error(`CI is set, but ${missing}. ${howToRun}`);
    // Asynchronously: the broker runs in this process and must keep answering.
    const run = await promisify(execFile)(PYTHON, [CLIENT, broker!.grpcAddress], { timeout: 30_000 });
    expect(run.stdout.trim().split('\n')).toEqual([
      'produced 0 2',
      // The retry is answered with the original offsets, and nothing is written twice (hw 3 below).
      'retried 0 2',
      'gap OUT_OF_ORDER_SEQUENCE_NUMBER',
      'fetched apple,banana,cherry next 3 hw 3',
      'assigned py-orders 0,1',
      'committed 3',
      'left -1 group Empty',
    ]);
  },
);
