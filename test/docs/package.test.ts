// The package as a user gets it: packed with `npm pack`, installed from the tarball into an empty
// project under its published name, and used from there as the README says: `npx weir` (the
// version, a broker, the quick start's commands), the TypeScript examples importing `weir-broker`
// run by Node, and type-checked under both module resolutions users have (nodenext and the older
// node). Everything runs on the Node that runs the tests, so CI's Node 24 pass checks Node 24.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { README_BOOTSTRAP, readmeBlock, ROOT, shellCommands } from './readme-blocks.js';

const run = promisify(execFile);
const { name: NAME, version: VERSION } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/**
 * The environment of every command: this Node first on PATH (so `npm`, `npx` and the `weir`
 * shebang run on it), without the npm_* variables of an enclosing `npm test`, and with npx never
 * installing what the project lacks (a bare `npx weir` would fetch the unrelated `weir` package).
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.toLowerCase().startsWith('npm_')) env[key] = value;
  return {
    ...env,
    PATH: `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}`,
    npm_config_yes: 'false',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

let work: string;
let project: string;
const brokers: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/client/index.js')))
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  work = mkdtempSync(join(tmpdir(), 'weir-package-'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    env: userEnv(),
    timeout: 60_000,
  });
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'weir-user', version: '1.0.0', private: true, type: 'module' }),
  );
  await run('npm', ['install', join(work, filename), '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: project,
    env: userEnv(),
    timeout: 150_000,
  });
}, 240_000);

afterAll(async () => {
  await Promise.all(brokers.splice(0).map(stopGroup));
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** Runs one shell command line in the project, as a user types it. */
async function sh(
  line: string,
  extra: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return run('sh', ['-c', line], { cwd: project, env: userEnv(extra), timeout: 30_000 });
}

/**
 * Starts the README's `npx weir broker` in its own process group (npx runs the broker as a
 * grandchild) on free ports, and resolves with its gRPC address from its start-up log line.
 */
async function startReadmeBroker(name: string): Promise<string> {
  const line = shellCommands(readmeBlock('sh', 'npx weir broker')).find((l) =>
    l.startsWith('npx weir broker'),
  );
  expect(line, 'the README starts a broker with `npx weir broker`').toBeDefined();
  const dataDir = join(work, name);
  const child = spawn(
    'sh',
    [
      '-c',
      `exec ${line as string} --data-dir '${dataDir}' --grpc-port 0 --http-port 0 --kafka-port 0 --log-level info`,
    ],
    { cwd: project, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  brokers.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no 'broker started' within 30 s; stderr: ${stderr}`)),
      30_000,
    );
    child.on('exit', (code) => {
      clearTimeout(timer); // else it keeps the worker alive for 30 s after a failure
      reject(new Error(`the broker exited (${code}) before starting; stderr: ${stderr}`));
    });
    lines.on('line', (text) => {
      try {
        const log = JSON.parse(text) as Record<string, unknown>;
        if (log['msg'] !== 'broker started') return;
        clearTimeout(timer);
        resolve(log['grpc'] as string);
      } catch {
        /* not a log line */
      }
    });
  });
}

/** SIGTERM to the whole group (npx and the broker under it), SIGKILL to whatever is left after 15 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  const alive = (): boolean => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(-pgid, 'SIGTERM');
  for (let waited = 0; alive() && waited < 15_000; waited += 100)
    await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(-pgid, 'SIGKILL');
}

it('installs from the tarball under its name, with the weir command and no benchmark scripts or maps', async () => {
  const installed = join(project, 'node_modules', NAME);
  expect(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).name).toBe('weir-broker');
  expect(existsSync(join(project, 'node_modules/.bin/weir'))).toBe(true);
  expect(existsSync(join(installed, 'LICENSE'))).toBe(true);
  expect(existsSync(join(installed, 'dist/scripts'))).toBe(false);
  expect(existsSync(join(installed, 'dist/client/index.js.map'))).toBe(false);
  expect((await sh('npx weir --version')).stdout.trim()).toBe(VERSION);
  // What the project's commands start runs on the Node under test (CI's second pass is Node 24).
  expect((await sh('node --version')).stdout.trim()).toBe(process.version);
});

describe('the README quick start, from the installed package', () => {
  let bootstrap: string;
  beforeAll(async () => {
    bootstrap = await startReadmeBroker('quick-start-data');
  });

  it('creates a topic, produces and consumes with npx weir', async () => {
    const commands = shellCommands(readmeBlock('sh', 'npx weir topic create'));
    expect(commands.length).toBeGreaterThanOrEqual(3);
    let last = '';
    for (const command of commands) last = (await sh(command, { WEIR_BOOTSTRAP: bootstrap })).stdout;
    // The last command reads the topic back: both records, keyed as the produce line split them.
    const records = last
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; value: string })
      .map((r) => `${r.key}:${r.value}`);
    expect(records.sort()).toEqual(['alice:hello', 'bob:hi']);
  });
});

describe("the README's TypeScript examples, importing the installed weir-broker", () => {
  let bootstrap: string;
  beforeAll(async () => {
    bootstrap = await startReadmeBroker('examples-data');
  });

  const EXAMPLES: [string, string, (lines: string[]) => void][] = [
    [
      'new Producer(',
      'quick-start',
      (lines) => expect(lines).toEqual([expect.stringMatching(/^\d+ 0$/), '0 alice hello']),
    ],
    [
      'new GroupConsumer(',
      'group',
      (lines) => expect(lines).toEqual(['paid by ann, paid by bob, paid by cy', 'Empty 0']),
    ],
    ['startBroker(', 'embedded', (lines) => expect(lines).toEqual(['events'])],
  ];

  it.each(EXAMPLES)('the example with %s runs with node', async (marker, name, check) => {
    const file = join(project, `${name}.mjs`);
    writeFileSync(file, readmeBlock('ts', marker).replaceAll(README_BOOTSTRAP, JSON.stringify(bootstrap)));
    const out = await run(process.execPath, [file], { cwd: project, env: userEnv(), timeout: 30_000 });
    expect(out.stderr).toBe('');
    check(out.stdout.trim().split('\n'));
  });

  it.each([
    ['nodenext', 'nodenext'],
    ['es2022', 'node'],
  ])('the examples type-check with module %s, moduleResolution %s', async (module, moduleResolution) => {
    const dir = join(project, `types-${moduleResolution}`);
    mkdirSync(dir, { recursive: true });
    const files = EXAMPLES.map(([marker, name]) => {
      writeFileSync(join(dir, `${name}.ts`), readmeBlock('ts', marker));
      return `${name}.ts`;
    });
    const compilerOptions = {
      module,
      moduleResolution,
      target: 'es2022',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
    const check = run(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], {
      cwd: project,
      env: userEnv(),
      timeout: 60_000,
    });
    // tsc reports its errors on stdout; show them when it fails.
    await expect(
      check.catch((e: { stdout: string }) => Promise.reject(new Error(e.stdout))),
    ).resolves.toBeDefined();
  });
});
