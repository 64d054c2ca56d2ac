// Running the built `weir` CLI as a child process against a broker started in the test process,
// and reading what it printed. Every wait is bounded, so a hang fails with a reason.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';

export const BIN = join(import.meta.dirname, '../../dist/client/cli/bin.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout as the bytes written, for output that is not text. */
  stdoutBytes: Buffer;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Leave stdin open for writing (default: closed at once unless `input` is given or -f). */
  openStdin?: boolean;
}

export interface RunningCli {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<CliResult>;
}

function checkBuilt(): void {
  if (!existsSync(BIN)) {
    throw new Error('dist/client/cli/bin.js is missing: run `npm run build` first (npm test does)');
  }
}

/** Starts `weir ARGS`; WEIR_BOOTSTRAP is cleared unless `env` sets it. */
export function startWeir(args: readonly string[], options: RunOptions = {}): RunningCli {
  checkBuilt();
  const env: Record<string, string | undefined> = {
    ...process.env,
    WEIR_BOOTSTRAP: undefined,
    ...options.env,
  };
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    chunks.push(d);
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.on('error', () => {}); // a command that exits before reading its input
  if (options.input !== undefined) child.stdin!.end(options.input);
  else if (options.openStdin !== true && !args.includes('-f') && !args.includes('--follow'))
    child.stdin!.end();
  const timeoutMs = options.timeoutMs ?? 20_000;
  const exited = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weir ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stdoutBytes: Buffer.concat(chunks), stderr, ms: Date.now() - started });
    });
  });
  exited.catch(() => {}); // reported to whoever awaits it; a test that failed earlier may not
  running.add(child);
  void exited.finally(() => running.delete(child)).catch(() => {});
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

const running = new Set<ChildProcess>();

/** Kills every child still running (for afterEach: a failed test leaves none behind). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Runs `weir ARGS` to its end. */
export function weir(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return startWeir(args, options).exited;
}

/** Asserts a failure: the exit code, and exactly one line on stderr, starting `error:`, matching `reason`. */
export function expectFailure(result: CliResult, code: number, reason: RegExp): void {
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => l.startsWith('error'));
  expect(result.code, `stderr: ${result.stderr}`).toBe(code);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(reason);
  // Usage errors may add commander's "(run with --help for usage)" hint, nothing else.
  expect(lines.filter((l) => !l.startsWith('error') && !l.startsWith('(run with --help'))).toEqual([]);
}

/** Asserts success and returns stdout's lines (without the final empty one). */
export function okLines(result: CliResult): string[] {
  expect(result.code, `stderr: ${result.stderr}`).toBe(0);
  return result.stdout === '' ? [] : result.stdout.replace(/\n$/, '').split('\n');
}

export function jsonLines(result: CliResult): Record<string, unknown>[] {
  return okLines(result).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface CliBroker {
  readonly running: RunningBroker;
  readonly bootstrap: string;
  close(): Promise<void>;
}

export async function startCliBroker(): Promise<CliBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-'));
  const running = await startBroker({ dataDir, grpcPort: 0, httpPort: 0, logLevel: 'silent' });
  return {
    running,
    bootstrap: running.grpcAddress,
    async close() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `condition` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A TCP proxy to `target` that passes the first `budgetBytes` of the broker's answers, then
 * silently drops the rest while keeping the connection open: a broker that stops answering.
 */
export async function stallingProxy(
  target: string,
  budgetBytes: number,
): Promise<{ address: string; close(): void }> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<Socket>();
  let budget = budgetBytes;
  const server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.pipe(upstream);
    upstream.on('data', (data: Buffer) => {
      if (budget <= 0) return;
      client.write(budget >= data.length ? data : data.subarray(0, budget));
      budget -= data.length;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
