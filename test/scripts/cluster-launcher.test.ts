// `npm run cluster` (scripts/cluster.ts): given free ports, its brokers elect one controller that
// every one of them reports, and a Kafka client given one broker is told of all three; SIGTERM to
// the launcher stops every broker it started, and it exits 0.
// And the launcher and docker-compose.yml stay one configuration: the same environment variables,
// node ids and client ports.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../broker/support.js';
import {
  ClusterOptionError,
  DEFAULT_CLUSTER_OPTIONS,
  clusterLayout,
  clusterOptions,
} from '../../scripts/cluster-layout.js';

const ROOT = join(import.meta.dirname, '../..');
const LAUNCHER = join(ROOT, 'dist/scripts/cluster.js');
const launchers: ChildProcess[] = [];
const pids: number[] = [];
const dirs: string[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(() => {
  for (const l of launchers.splice(0)) if (l.exitCode === null && l.signalCode === null) l.kill('SIGKILL');
  for (const pid of pids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function controllerOf(httpPort: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/cluster`, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { controllerId: number }).controllerId;
  } catch {
    return -2; // not listening yet
  }
}

/** Polls every broker's /v1/cluster until they all name the same controller (45 s). */
async function agreedController(httpPorts: number[]): Promise<number> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const ids = await Promise.all(httpPorts.map(controllerOf));
    if (ids[0]! >= 0 && ids.every((id) => id === ids[0])) return ids[0]!;
    if (Date.now() > deadline) throw new Error(`no agreed controller after 45 s: ${JSON.stringify(ids)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The brokers a Kafka client at `port` is told of, as `nodeId@port`, once there are three (45 s). */
async function kafkaBrokers(port: number): Promise<string[]> {
  const kafka = new Kafka({
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  const deadline = Date.now() + 45_000;
  let seen: string[] = [];
  try {
    await admin.connect();
    while (seen.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const { brokers } = await admin.describeCluster();
      seen = brokers.map((b) => `${b.nodeId}@${b.port}`).sort();
    }
    return seen;
  } finally {
    await admin.disconnect();
  }
}

/** Resolves with the launcher's exit code, or rejects after `ms`. */
function exitOf(child: ChildProcess, ms: number): Promise<number | string> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode ?? child.signalCode!);
      return;
    }
    const timer = setTimeout(() => reject(new Error(`the launcher did not exit within ${ms} ms`)), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal!);
    });
  });
}

describe('npm run cluster', () => {
  it('starts three brokers that agree on a controller, and stops them all on SIGTERM', async () => {
    if (!existsSync(LAUNCHER))
      throw new Error('dist/scripts/cluster.js is missing: run `npm run build` first (npm test does)');
    const ports: number[] = [];
    for (let i = 0; i < 12; i++) ports.push(await freePort());
    const quads = [0, 1, 2].map((i) => ports.slice(4 * i, 4 * i + 4).join(':'));
    const dataDir = mkdtempSync(join(tmpdir(), 'weir-cluster-'));
    dirs.push(dataDir);

    const launcher = spawn(
      process.execPath,
      [
        LAUNCHER,
        '--brokers',
        '3',
        '--ports',
        quads.join(','),
        '--data-dir',
        dataDir,
        '--cluster-id',
        'launcher',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WEIR_LOG_LEVEL: 'warn' } },
    );
    launchers.push(launcher);
    let output = '';
    launcher.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    launcher.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    // Each broker's line, printed as soon as it is spawned: its pid and addresses.
    const deadline = Date.now() + 10_000;
    while ([...output.matchAll(/^weir-\d pid \d+/gm)].length < 3) {
      if (Date.now() > deadline || launcher.exitCode !== null) throw new Error(`no broker lines:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const children = [...output.matchAll(/^weir-(\d) pid (\d+): gRPC 127\.0\.0\.1:(\d+), HTTP/gm)].map(
      (m) => ({
        nodeId: Number(m[1]),
        pid: Number(m[2]),
        grpc: Number(m[3]),
      }),
    );
    pids.push(...children.map((c) => c.pid));
    expect(children.map((c) => [c.nodeId, c.grpc])).toEqual([
      [1, ports[0]],
      [2, ports[4]],
      [3, ports[8]],
    ]);
    for (const id of [1, 2, 3]) expect(existsSync(join(dataDir, `weir-${id}`))).toBe(true);

    const controller = await agreedController([ports[1]!, ports[5]!, ports[9]!]);
    expect([1, 2, 3]).toContain(controller);
    // A Kafka client given broker 2 alone is told of all three, at their Kafka ports.
    expect(await kafkaBrokers(ports[7]!)).toEqual(
      [1, 2, 3].map((nodeId, i) => `${nodeId}@${ports[4 * i + 3]}`),
    );

    launcher.kill('SIGTERM');
    expect(await exitOf(launcher, 30_000), output).toBe(0);
    for (const child of children) expect(alive(child.pid), `weir-${child.nodeId} still running`).toBe(false);
    expect(output).toContain('cluster: every broker stopped cleanly');
  }, 120_000);
});

describe('the launcher and docker-compose.yml', () => {
  const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  /** The WEIR_* variables a compose service gets: the shared anchor's plus its own. */
  function composeEnv(service: string): Record<string, string> {
    /** The lines after `key:` at `indent` spaces, up to the next line indented as much or less. */
    const block = (indent: number, key: string): string => {
      const from = compose.search(new RegExp(`^ {${indent}}${key}:`, 'm'));
      if (from < 0) throw new Error(`docker-compose.yml has no ${key}`);
      const body = compose.slice(compose.indexOf('\n', from) + 1);
      const end = body.search(new RegExp(`^ {0,${indent}}\\S`, 'm'));
      return end < 0 ? body : body.slice(0, end);
    };
    const env: Record<string, string> = {};
    for (const text of [block(0, 'x-env'), block(2, service)])
      for (const m of text.matchAll(/^\s+(WEIR_[A-Z_]+): (.+)$/gm)) env[m[1]!] = m[2]!;
    return env;
  }

  it('configure every broker through the same environment variables, node ids and client ports', () => {
    const layout = clusterLayout(DEFAULT_CLUSTER_OPTIONS);
    expect(layout).toHaveLength(3);
    for (const broker of layout) {
      const env = composeEnv(broker.name);
      expect(Object.keys(env).sort()).toEqual(Object.keys(broker.env).sort());
      expect(env.WEIR_NODE_ID).toBe(broker.env.WEIR_NODE_ID);
      expect(env.WEIR_GRPC_PORT).toBe(broker.env.WEIR_GRPC_PORT);
      expect(env.WEIR_HTTP_PORT).toBe(broker.env.WEIR_HTTP_PORT);
      expect(env.WEIR_KAFKA_PORT).toBe(broker.env.WEIR_KAFKA_PORT);
      expect(compose).toContain(`'${broker.grpc}:${broker.grpc}'`);
      expect(compose).toContain(`'${broker.http}:${broker.http}'`);
      expect(compose).toContain(`'${broker.kafka}:${broker.kafka}'`);
      // The same voters: node ids 1..3, each at its own service's replication listener.
      expect(env.WEIR_PEERS).toBe('1@weir-1:9095,2@weir-2:9095,3@weir-3:9095');
      expect(broker.env.WEIR_PEERS).toBe(
        layout.map((b) => `${b.nodeId}@127.0.0.1:${b.replication}`).join(','),
      );
    }
  });
});

describe('cluster options', () => {
  it('lays brokers out 100 ports apart from the base port', () => {
    const layout = clusterLayout(clusterOptions({ brokers: '2', basePort: '7000', dataDir: '/d' }));
    expect(layout.map((b) => [b.grpc, b.http, b.replication, b.kafka, b.dataDir])).toEqual([
      [7000, 7001, 7002, 6999, '/d/weir-1'],
      [7100, 7101, 7102, 7099, '/d/weir-2'],
    ]);
  });

  it('takes a Kafka port as a fourth port of a broker, and opens no Kafka listener without one', () => {
    const layout = clusterLayout(clusterOptions({ ports: '1:2:3:4,5:6:7' }));
    expect(layout.map((b) => b.env.WEIR_KAFKA_PORT)).toEqual(['4', '-1']);
  });

  it.each([
    [{ brokers: '0' }, '--brokers must be between 1 and 9'],
    [{ brokers: 'x' }, '--brokers must be between 1 and 9'],
    [{ basePort: '65500' }, '--base-port 65500 leaves no room for 3 brokers'],
    [{ ports: '1:2' }, 'broker 1 needs grpc:http:replication[:kafka]'],
    [{ ports: '1:2:3:4:5' }, 'broker 1 needs grpc:http:replication[:kafka]'],
    [{ basePort: '1' }, 'leaves no room for the Kafka port below it'],
    [{ ports: '1:2:99999' }, 'must be a port between 1 and 65535'],
    [{ ports: '1:2:3', brokers: '2' }, '--ports lists 1 brokers, --brokers asks for 2'],
    [{ clusterId: '' }, '--cluster-id must not be empty'],
  ])('refuses %j', (raw, message) => {
    expect(() => clusterOptions(raw)).toThrow(ClusterOptionError);
    expect(() => clusterOptions(raw)).toThrow(message);
  });
});
