// Three (or N) `weir broker` processes as one cluster, for the cluster benchmark: fixed ports taken
// from the OS once, so that a broker killed and restarted on its data directory comes back at the
// same addresses its peers and clients know; each broker's output goes to a log file beside its
// data (kept when a run fails, to read why). Every process started here is tracked by its child
// handle, and stop() ends all of them: SIGTERM, then SIGKILL after a grace period.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Admin, type ClusterMetadata } from '../client/index.js';
import { BIN } from './broker-process.js';
import { clusterLayout, clusterOptions, type BrokerSpec } from './cluster-layout.js';

/** A broker shuts down within its own 10 s shutdown timeout; after this it is killed. */
const STOP_GRACE_MS = 15_000;
const START_TIMEOUT_MS = 60_000;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ClusterBroker {
  readonly spec: BrokerSpec;
  /** host:port of its gRPC listener. */
  readonly address: string;
  child: ChildProcess | null;
  exited: Promise<void>;
}

export class LocalCluster {
  private constructor(
    readonly brokers: readonly ClusterBroker[],
    private readonly node: string,
    private readonly logDir: string,
  ) {}

  /** Starts `count` brokers under `dir` (data in dir/data, logs in dir/logs) and waits for each. */
  static async start(node: string, dir: string, count = 3): Promise<LocalCluster> {
    const ports: string[] = [];
    for (let i = 0; i < count; i++) ports.push(`${await freePort()}:${await freePort()}:${await freePort()}`);
    const specs = clusterLayout(
      clusterOptions({
        brokers: String(count),
        ports: ports.join(','),
        dataDir: join(dir, 'data'),
        clusterId: 'weir-bench',
      }),
    );
    const logDir = join(dir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const cluster = new LocalCluster(
      specs.map((spec) => ({
        spec,
        address: `127.0.0.1:${spec.grpc}`,
        child: null,
        exited: Promise.resolve(),
      })),
      node,
      logDir,
    );
    // Started together: the controller quorum needs a majority before any broker is of use.
    await Promise.all(cluster.brokers.map((b) => cluster.startBroker(b)));
    await cluster.registered();
    return cluster;
  }

  broker(id: number): ClusterBroker {
    const b = this.brokers.find((x) => x.spec.nodeId === id);
    if (b === undefined) throw new Error(`no broker ${id}`);
    return b;
  }

  /** Starts (or restarts, on its data directory) one broker; resolves when it logs that it started. */
  startBroker(b: ClusterBroker): Promise<void> {
    if (b.child !== null) throw new Error(`broker ${b.spec.nodeId} is already running`);
    mkdirSync(b.spec.dataDir, { recursive: true });
    const log = createWriteStream(join(this.logDir, `${b.spec.name}.log`), { flags: 'a' });
    const child = spawn(this.node, [BIN, 'broker'], {
      env: { ...process.env, ...b.spec.env, WEIR_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    b.child = child;
    b.exited = new Promise((done) =>
      child.once('exit', () => {
        b.child = null;
        done();
      }),
    );
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const lines = createInterface({ input: child.stdout! });
    return new Promise<void>((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`${b.spec.name} did not start within ${START_TIMEOUT_MS / 1000} s`)),
        START_TIMEOUT_MS,
      );
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`${b.spec.name} exited (${code ?? signal}) before it started; see ${this.logOf(b)}`));
      });
      lines.on('line', (line) => {
        if (!line.includes('"broker started"')) return;
        clearTimeout(timer);
        ok();
      });
    });
  }

  logOf(b: ClusterBroker): string {
    return join(this.logDir, `${b.spec.name}.log`);
  }

  /** kill -9, and waits until the process is gone. */
  async kill(b: ClusterBroker): Promise<void> {
    if (b.child === null) return;
    b.child.kill('SIGKILL');
    await b.exited;
  }

  /** Every broker stopped: SIGTERM, SIGKILL for those still running after the grace period. */
  async stop(): Promise<void> {
    const running = this.brokers.filter((b) => b.child !== null);
    for (const b of running) b.child?.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const b of running) b.child?.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.all(running.map((b) => b.exited));
    clearTimeout(killer);
  }

  /** Until every running broker names a controller and lists every running broker as live. */
  async registered(timeoutMs = 60_000): Promise<void> {
    const live = this.brokers.filter((b) => b.child !== null);
    await until(
      'every broker registered',
      async () => {
        for (const b of live) {
          const admin = new Admin({ bootstrap: b.address, requestTimeoutMs: 2_000 });
          try {
            const md = await admin.metadata([]);
            if (md.controllerId < 0 || md.brokers.length !== live.length) return null;
          } catch {
            return null;
          } finally {
            admin.close();
          }
        }
        return true;
      },
      timeoutMs,
      200,
    );
  }

  /** Metadata from the first broker that answers, or null when none does. */
  async metadata(topics: readonly string[], except: number | null = null): Promise<ClusterMetadata | null> {
    for (const b of this.brokers) {
      if (b.child === null || b.spec.nodeId === except) continue;
      const admin = new Admin({ bootstrap: b.address, requestTimeoutMs: 2_000 });
      try {
        return await admin.metadata(topics);
      } catch {
        /* the next one */
      } finally {
        admin.close();
      }
    }
    return null;
  }

  /** Every broker's client address: the bootstrap list a user would give. */
  get bootstrap(): string[] {
    return this.brokers.map((b) => b.address);
  }

  /**
   * The leader of partition 0 of `topic` as a broker other than `except` reports it (any broker
   * when `except` is null), polled until one is named; throws after `timeoutMs`.
   */
  async leaderOf(topic: string, except: number | null, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const md = await this.metadata([topic], except);
      const leader = md?.topics.find((t) => t.name === topic)?.partitions[0]?.leader ?? -1;
      if (leader >= 0 && leader !== except && md!.brokers.some((b) => b.nodeId === leader)) return leader;
      if (Date.now() >= deadline) throw new Error(`no leader of ${topic} named within ${timeoutMs} ms`);
      await sleep(100);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` every `everyMs` until it returns a value that is not null; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}
