// `weir broker` as a real child process: it starts on the given ports, serves, and on SIGTERM
// drains, writes the clean-shutdown marker and exits 0; a bad setting exits non-zero with one line
// naming the key.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin } from '../../client/index.js';

const BIN = join(import.meta.dirname, '../../dist/client/cli/bin.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  if (!existsSync(BIN))
    throw new Error('dist/client/cli/bin.js is missing: run `npm run build` first (npm test does)');
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

function exited(child: ChildProcess, ms = 20_000): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms; stderr: ${stderr}`)), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Whether a TCP connection to the port on 127.0.0.1 is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Resolves with the first JSON log line whose msg is `msg`. */
function logLine(child: ChildProcess, msg: string, ms = 20_000): Promise<Record<string, unknown>> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${msg}' log line within ${ms} ms`)), ms);
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed['msg'] === msg) {
          clearTimeout(timer);
          resolve(parsed);
        }
      } catch {
        /* not a log line */
      }
    });
  });
}

describe('weir broker', () => {
  it('serves, then on SIGTERM shuts down cleanly and exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-'));
    dirs.push(dataDir);
    const child = run([
      'broker',
      '--data-dir',
      dataDir,
      '--grpc-port',
      '0',
      '--http-port',
      '0',
      '--kafka-port',
      '0',
      '--log-level',
      'info',
    ]);
    const started = await logLine(child, 'broker started');
    const http = started['http'] as string;
    const health = await fetch(`http://${http}/readyz`);
    expect(health.status).toBe(200);
    // The Kafka listener, on a port from the OS (its default, 9092, is not for tests to take).
    expect(started['kafka']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await accepts(Number((started['kafka'] as string).split(':')[1]))).toBe(true);
    const done = exited(child);
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
    expect(existsSync(join(dataDir, '.weir-clean-shutdown'))).toBe(true);
  });

  it.each([
    ['--advertised-host', ['--advertised-host', 'weir.example'], {}, 'weir.example'],
    ['WEIR_ADVERTISED_HOST', [], { WEIR_ADVERTISED_HOST: 'env.example' }, 'env.example'],
    ["the machine's hostname for a wildcard bind", [], {}, hostname()],
  ])(
    'bound to 0.0.0.0, advertises %s in metadata and coordinator answers',
    async (_what, args, env, host) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-'));
      dirs.push(dataDir);
      const child = run(
        [
          'broker',
          '--data-dir',
          dataDir,
          '--host',
          '0.0.0.0',
          '--grpc-port',
          '0',
          '--http-port',
          '0',
          '--kafka-port',
          '-1',
          ...args,
        ],
        env,
      );
      const started = await logLine(child, 'broker started');
      const grpc = started['grpc'] as string;
      expect(grpc).toMatch(/^0\.0\.0\.0:\d+$/);
      const port = Number(grpc.split(':')[1]);
      const admin = new Admin({ bootstrap: `127.0.0.1:${port}` });
      try {
        const meta = await admin.metadata();
        expect(meta.brokers).toEqual([expect.objectContaining({ nodeId: 0, host, grpcPort: port })]);
        expect((await admin.findCoordinator('any-group')).coordinator).toMatchObject({
          host,
          grpcPort: port,
        });
      } finally {
        await admin.close();
      }
      const done = exited(child);
      child.kill('SIGTERM');
      expect((await done).code).toBe(0);
    },
  );

  it.each([
    [['broker', '--grpc-port', 'lots'], {}, /grpc-port/],
    [
      ['broker', '--grpc-port', '0', '--http-port', '0', '--kafka-port', '-1'],
      { WEIR_NODE_ID: '-4' },
      /WEIR_NODE_ID.*nodeId/,
    ],
    [['broker', '--config', '/nonexistent/weir.json'], {}, /config file/],
  ])('refuses %j with a one-line reason', async (args, env, reason) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-'));
    dirs.push(dataDir);
    const { code, stderr } = await exited(run([...args, '--data-dir', dataDir], env));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(reason);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error')).length,
    ).toBe(1);
  });

  it('refuses a torn metadata file naming the file and the problem, not a missing broker', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-'));
    dirs.push(dataDir);
    const metadata = join(dataDir, 'weir-metadata.json');
    writeFileSync(metadata, '{"version":1,"topics":[');
    const { code, stderr } = await exited(
      run(['broker', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--kafka-port', '-1']),
    );
    expect(code).not.toBe(0);
    const errors = stderr.split('\n').filter((l) => l.startsWith('error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(metadata);
    expect(errors[0]).toMatch(/not valid JSON \(.*JSON.*\)/);
    expect(errors[0]).not.toMatch(/broker running/);
  });
});
