// A `weir broker` child process on a temp data directory and free ports, for the benchmark
// scripts: resolves once the broker logs that it started, with its gRPC address (and its Kafka
// listener's, when the extra arguments open one).

import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(root, 'dist', 'client', 'cli', 'bin.js');

export async function startBrokerProcess(
  node: string,
  dataDir: string,
  env: Record<string, string> = {},
  extraArgs: readonly string[] = [],
): Promise<{ child: ChildProcess; bootstrap: string; kafka?: string }> {
  const child = spawn(
    node,
    // Free ports for all, and no Kafka listener unless extraArgs open one (a later --kafka-port
    // wins): 9092, its default, may be another's.
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
      '-1',
      '--log-level',
      'info',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  const lines = createInterface({ input: child.stdout! });
  const started = await new Promise<{ grpc: string; kafka?: string }>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('broker did not start within 30 s')), 30_000);
    child.once('exit', (code) => fail(new Error(`broker exited with ${code}`)));
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; grpc?: string; kafka?: string };
        if (entry.msg === 'broker started' && entry.grpc !== undefined) {
          clearTimeout(timer);
          ok({ grpc: entry.grpc, ...(entry.kafka === undefined ? {} : { kafka: entry.kafka }) });
        }
      } catch {
        /* not a log line */
      }
    });
  });
  return { child, bootstrap: started.grpc, ...(started.kafka === undefined ? {} : { kafka: started.kafka }) };
}
