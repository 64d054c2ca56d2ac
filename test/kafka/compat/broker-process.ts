// The broker the compatibility tests talk to: `weir broker` as a real child process (the built
// CLI), on ports from the OS and a temp data directory, as a user runs it. Its ports are read from
// the 'broker started' log line. One per test file, shared by its cases; close() stops it with
// SIGTERM (SIGKILL if it hangs) and removes the directory.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = join(import.meta.dirname, '../../../dist/client/cli/bin.js');

export interface BrokerProcess {
  /** host:port of the Kafka listener. */
  readonly kafka: string;
  /** host:port of the gRPC API (for weir's own client). */
  readonly grpc: string;
  readonly dataDir: string;
  /** Everything the broker logged, for a failing test's message. */
  log(): string;
  close(): Promise<void>;
}

export interface BrokerProcessOptions {
  /** Extra `weir broker` flags. */
  args?: readonly string[];
}

export async function startBrokerProcess(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  if (!existsSync(BIN))
    throw new Error('dist/client/cli/bin.js is missing: run `npm run build` first (npm test does)');
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-compat-'));
  const child = spawn(
    process.execPath,
    [
      BIN,
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
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  try {
    const started = await startedLine(child, (line) => (log += line + '\n'));
    return {
      kafka: started['kafka'] as string,
      grpc: started['grpc'] as string,
      dataDir,
      log: () => log,
      close: () => stop(child, dataDir),
    };
  } catch (err) {
    await stop(child, dataDir);
    throw new Error(`${(err as Error).message}; broker output:\n${log}`, { cause: err });
  }
}

function startedLine(child: ChildProcess, onLine: (line: string) => void): Promise<Record<string, unknown>> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no "broker started" log line within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`the broker exited (${code}) before it started`)));
    lines.on('line', (line) => {
      onLine(line);
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed['msg'] === 'broker started') {
          clearTimeout(timer);
          resolve(parsed);
        }
      } catch {
        /* not a log line */
      }
    });
  });
}

async function stop(child: ChildProcess, dataDir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Whether a client tool may be missing here. It may outside CI; in CI (CI=true) as root the
 * scripts in scripts/ci/ install it, so a missing tool there is a failure, not a skip.
 */
export function toolMissing(command: string, installedBy: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
  if (found) return null;
  const why = `${command} is not installed (${installedBy} installs it)`;
  if (process.env['CI'] === 'true' && process.getuid?.() === 0)
    throw new Error(`${why}: CI must run this suite`);
  console.warn(`skipping: ${why}`);
  return why;
}
