// A broker under a low open-file limit, in real child processes (`ulimit -n 256`, then
// test/fixtures/fd-limit-broker.mjs): given a broker whose default maxOpenFiles comes from that
// limit, when it fills most of its partition budget, produces a topic past hundreds of 1 KiB
// segments, stops cleanly, starts again, crashes and starts again, then every start succeeds,
// every record reads back, and a create past the budget is refused with the error that says so.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = join(ROOT, 'test', 'fixtures', 'fd-limit-broker.mjs');
const LIMIT = 256;
const SEGMENTS = 300;
const CRASH_RECORDS = 100;

let dir: string;

beforeAll(() => {
  // The child runs the build output; testing a stale build would test other code than the tree.
  const stale: string[] = [];
  for (const layer of ['proto', 'storage', 'broker']) {
    for (const name of readdirSync(join(ROOT, layer)).filter((n) => n.endsWith('.ts'))) {
      const built = join(ROOT, 'dist', layer, name.replace(/\.ts$/, '.js'));
      if (!existsSync(built)) throw new Error(`dist/${layer} is missing: run \`npm run build\` first`);
      if (statSync(built).mtimeMs < statSync(join(ROOT, layer, name)).mtimeMs) stale.push(`${layer}/${name}`);
    }
  }
  if (stale.length > 0)
    throw new Error(`dist/ is older than ${stale.join(', ')}: run \`npm run build\` first`);
  dir = mkdtempSync(join(tmpdir(), 'weir-fd-limit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  maxOpenFiles: number;
  cachedFiles: number;
  fdsAfterStart: number;
  segmentFdsAfterStart: number;
  partitionsAfterStart: number;
  fdsAtEnd: number;
  segmentFdsAtEnd?: number;
  partitionsAtEnd?: number;
  written?: number;
  read?: number;
  bad?: number;
  segments: number;
  wide?: number;
  wideOk?: number;
  cleanShutdown?: boolean;
  topics?: string[];
  refused?: { code: string; message: string } | null;
  producerId?: number;
}

/** Runs the child under `ulimit -n LIMIT` to its end (it stops itself) and returns its report. */
function runChild(...args: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['-c', `ulimit -n ${LIMIT} && exec "$0" "$@"`, process.execPath, CHILD, join(dir, 'data'), ...args],
      { timeout: 90_000 },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as Report);
      },
    );
  });
}

it('starts, writes, refuses, restarts and reads everything back under ulimit -n 256', async () => {
  const written = await runChild('write', String(SEGMENTS));
  // The default budget is the limit less its reserve; a quarter of 256 is the minimum 64.
  expect(written.maxOpenFiles).toBe(LIMIT - 64);
  expect(written.segments).toBeGreaterThanOrEqual(SEGMENTS);
  // Segment logs hold one descriptor per partition (the active segment) plus the closed-segment
  // cache, though hundreds of segments were written.
  expect(written.segmentFdsAtEnd).toBeGreaterThan(0);
  expect(written.segmentFdsAtEnd).toBeLessThanOrEqual(written.partitionsAtEnd! + written.cachedFiles);
  expect(written.refused?.code).toBe('FILE_BUDGET_EXCEEDED');
  expect(written.refused?.message).toMatch(/maxOpenFiles 192 .*WEIR_MAX_OPEN_FILES.*ulimit -n/);
  expect(written.producerId).toBeGreaterThanOrEqual(0);

  const reread = await runChild('read');
  expect(reread).toMatchObject({
    cleanShutdown: true,
    read: written.written,
    bad: 0,
    segments: written.segments,
    wide: written.wide,
    wideOk: written.wide,
    topics: ['tiny', 'wide'],
  });
  expect(reread.segmentFdsAfterStart).toBeLessThanOrEqual(reread.partitionsAfterStart + reread.cachedFiles);

  const crashed = await runChild('crash', String(CRASH_RECORDS));
  expect(crashed.written).toBe((written.written as number) + CRASH_RECORDS);

  const recovered = await runChild('read');
  expect(recovered).toMatchObject({
    cleanShutdown: false,
    read: crashed.written,
    bad: 0,
    wideOk: written.wide,
  });
  expect(recovered.segmentFdsAfterStart).toBeLessThanOrEqual(
    recovered.partitionsAfterStart + recovered.cachedFiles,
  );
});
