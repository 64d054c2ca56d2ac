// The README's TypeScript examples must run as written: each is extracted from README.md, pointed
// at a broker started here on a free port (and at the built SDK), and run as a real Node process.
// test/docs/package.test.ts runs the same examples against the packed and installed package.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { README_BOOTSTRAP, readmeBlock, ROOT } from './readme-blocks.js';

const CLIENT = join(ROOT, 'dist/client/index.js');
const EMBEDDED = join(ROOT, 'dist/broker/main.js');
let broker: RunningBroker;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weir-readme-'));
  broker = await startBroker({ dataDir: join(dir, 'data'), logLevel: 'silent' });
});
afterAll(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Extracts the ```ts block containing `marker`, points it at this broker and the built SDK, runs it. */
async function runExample(marker: string, name: string): Promise<string[]> {
  if (!existsSync(CLIENT))
    throw new Error('dist/client/index.js is missing: run `npm run build` first (npm test does)');
  // TypeScript-only syntax would not run as JavaScript; the examples are kept to the common subset.
  const script = readmeBlock('ts', marker)
    .replaceAll("from 'weir-broker/broker'", `from ${JSON.stringify(EMBEDDED)}`)
    .replaceAll("from 'weir-broker'", `from ${JSON.stringify(CLIENT)}`)
    .replaceAll(README_BOOTSTRAP, JSON.stringify(broker.grpcAddress));
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, script);
  // Asynchronously: the broker runs in this process and must keep answering.
  const run = await promisify(execFile)(process.execPath, [file], { timeout: 30_000 });
  expect(run.stderr).toBe('');
  return run.stdout.trim().split('\n');
}

it('runs the README example against a real broker', async () => {
  const lines = await runExample('new Producer(', 'example');
  // The example prints the partition and offset it produced to, then the record it consumed.
  expect(lines[0]).toMatch(/^\d+ 0$/);
  expect(lines[1]).toBe('0 alice hello');
});

it('runs the README consumer-group example against a real broker', async () => {
  const lines = await runExample('new GroupConsumer(', 'group-example');
  // Every record once, then the group empty after the member left.
  expect(lines).toEqual(['paid by ann, paid by bob, paid by cy', 'Empty 0']);
});

it('runs the README embedded-broker example', async () => {
  // It starts its own broker on free ports in a temp directory, creates a topic and lists it.
  expect(await runExample('startBroker(', 'embedded-example')).toEqual(['events']);
});
