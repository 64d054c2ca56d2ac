// The README's TypeScript example must run as written: it is extracted from README.md, pointed at
// a broker started here on a free port (and at the built SDK), and run as a real Node process.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';

const ROOT = join(import.meta.dirname, '../..');
const CLIENT = join(ROOT, 'dist/client/index.js');
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

it('runs the README example against a real broker', async () => {
  if (!existsSync(CLIENT))
    throw new Error('dist/client/index.js is missing: run `npm run build` first (npm test does)');
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const example = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1] as string)
    .find((code) => code.includes('new Producer('));
  expect(example, 'a ```ts block with the producer example').toBeDefined();
  // TypeScript-only syntax would not run as JavaScript; the example is kept to the common subset.
  const script = (example as string)
    .replaceAll("from 'weir'", `from ${JSON.stringify(CLIENT)}`)
    .replaceAll("'127.0.0.1:9093'", JSON.stringify(broker.grpcAddress));
  const file = join(dir, 'example.mjs');
  writeFileSync(file, script);
  // Asynchronously: the broker runs in this process and must keep answering.
  const run = await promisify(execFile)(process.execPath, [file], { timeout: 30_000 });
  expect(run.stderr).toBe('');
  const lines = run.stdout.trim().split('\n');
  // The example prints the partition and offset it produced to, then the record it consumed.
  expect(lines[0]).toMatch(/^\d+ 0$/);
  expect(lines[1]).toBe('0 alice hello');
});
