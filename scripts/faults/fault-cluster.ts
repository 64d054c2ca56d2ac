// Three (or N) `weir broker` processes from the build (dist/) as one cluster, for fault runs:
// either on 127.0.0.1 with ports from the OS, or each inside its own network namespace
// (netns.ts) on fixed ports at its own address, so links between them can be cut. Each broker has
// its own data directory under one temp directory, and its log lines go to `broker-N.log` there.
//
// Faults: kill -9, SIGSTOP/SIGCONT, a restart on the same data directory or a wiped one, and a bit
// flipped in a closed segment of one replica while it is down (or, asked for, under it running). `destroy()` kills every process it
// started (by pid, SIGKILL, which also ends a stopped one) and removes the temp directory; call it
// in a `finally` or afterEach. Every wait is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
  type WriteStream,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  BASE_OFFSET_OFFSET,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LOG_OVERHEAD,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORDS_OFFSET,
  batchBaseOffset,
  batchLastOffset,
} from '../../proto/batch-header.js';
import type { ReplicaBatch } from './history.js';
import type { NamespaceNet } from './netns.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Two levels up from scripts/faults both in the source tree and in dist/: the repository. */
const REPO = existsSync(join(ROOT, 'package.json')) ? ROOT : resolve(ROOT, '..');
export const BROKER_BIN = join(REPO, 'dist', 'client', 'cli', 'bin.js');

const START_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 10_000;
/** Ports of a broker inside a namespace: alone at its address, it takes the defaults. */
const NAMESPACE_PORTS = Object.freeze({ grpc: 9093, http: 9094, replication: 9095, kafka: 9092 });

export interface FaultClusterOptions {
  readonly brokers?: number;
  /** Run each broker inside this network's namespace i; unset: on 127.0.0.1. */
  readonly net?: NamespaceNet;
  readonly clusterId?: string;
  /** Extra broker environment (WEIR_*), for every broker. */
  readonly env?: Readonly<Record<string, string>>;
}

interface Ports {
  grpc: number;
  http: number;
  replication: number;
  /** Every broker has a Kafka listener too: Kafka clients' runs bootstrap from it. */
  kafka: number;
}

export interface FaultBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly ports: Ports;
  readonly dataDir: string;
  child: ChildProcess | null;
  exited: Promise<void>;
  stopped: boolean;
  starts: number;
}

export type FlipField = 'any' | 'records' | 'base-offset' | 'length' | 'leader-epoch' | 'crc';

/** Byte ranges within a batch per field: [from, to), to -1 meaning the batch's end. */
const FLIP_FIELDS: Readonly<Record<FlipField, readonly [number, number]>> = {
  any: [0, -1],
  records: [RECORDS_OFFSET, -1],
  'base-offset': [BASE_OFFSET_OFFSET + 7, BASE_OFFSET_OFFSET + 8],
  length: [BATCH_LENGTH_OFFSET, BATCH_LENGTH_OFFSET + 4],
  'leader-epoch': [PARTITION_LEADER_EPOCH_OFFSET, PARTITION_LEADER_EPOCH_OFFSET + 4],
  crc: [CRC_OFFSET, CRC_OFFSET + 4],
};

/** The whole batches of a segment file's bytes, by position; a torn tail is left out. */
function batchesIn(buf: Buffer): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let off = 0;
  while (off + LOG_OVERHEAD <= buf.length) {
    const end = off + LOG_OVERHEAD + buf.readInt32BE(off + BATCH_LENGTH_OFFSET);
    if (end > buf.length || end <= off + RECORDS_OFFSET) break;
    out.push({ start: off, end });
    off = end;
  }
  return out;
}

/** A loopback port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

function alive(b: FaultBroker): boolean {
  return b.child !== null && b.child.exitCode === null && b.child.signalCode === null;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class FaultCluster {
  readonly dir: string;
  readonly brokers: FaultBroker[] = [];
  private readonly logs: WriteStream[] = [];
  /** The tail of what each broker printed (stdout and stderr), by node id. */
  private readonly printed = new Map<number, string>();
  private destroyed = false;
  /** At exit (a test runner or campaign stopped midway), no broker outlives this process. */
  private readonly onExit = (): void => {
    for (const b of this.brokers) if (alive(b)) b.child!.kill('SIGKILL');
  };

  private constructor(
    readonly options: FaultClusterOptions,
    readonly clusterId: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'weir-faults-'));
    process.once('exit', this.onExit);
  }

  /** Starts every broker and resolves once each has logged that it started. */
  static async start(options: FaultClusterOptions = {}): Promise<FaultCluster> {
    if (!existsSync(BROKER_BIN)) throw new Error(`${BROKER_BIN} is missing: run \`npm run build\` first`);
    // On loopback the ports are picked free and released before the brokers bind them, so another
    // process may take one meanwhile (tests run in parallel): a broker that exits before it
    // started, saying a port is in use, is started again with a new cluster on new ports.
    for (let attempt = 1; ; attempt++) {
      const cluster = new FaultCluster(options, options.clusterId ?? `faults-${process.pid}-${Date.now()}`);
      try {
        await cluster.layOut(options.brokers ?? 3);
        await Promise.all(cluster.brokers.map((b) => cluster.launch(b)));
        return cluster;
      } catch (err) {
        // A process's last output may be read after its exit is.
        await new Promise((done) => setTimeout(done, 200));
        const portTaken = options.net === undefined && cluster.logsMention('EADDRINUSE');
        await cluster.destroy();
        if (!portTaken || attempt >= 3) throw err;
      }
    }
  }

  /** Whether what any broker printed so far (its last 8 KiB) holds `text`. */
  private logsMention(text: string): boolean {
    return [...this.printed.values()].some((out) => out.includes(text));
  }

  /** Broker `nodeId` (1-based). */
  broker(nodeId: number): FaultBroker {
    const b = this.brokers[nodeId - 1];
    if (b === undefined) throw new Error(`no broker ${nodeId}`);
    return b;
  }

  grpcAddress(nodeId: number): string {
    const b = this.broker(nodeId);
    return `${b.host}:${b.ports.grpc}`;
  }

  /** Broker `nodeId`'s Kafka listener, host:port. */
  kafkaAddress(nodeId: number): string {
    const b = this.broker(nodeId);
    return `${b.host}:${b.ports.kafka}`;
  }

  /** Every broker's gRPC address, comma-separated, as a bootstrap list. */
  bootstrapList(): string {
    return this.brokers.map((b) => this.grpcAddress(b.nodeId)).join(',');
  }

  /** kill -9, and waits for the exit. */
  async kill(nodeId: number): Promise<void> {
    const b = this.broker(nodeId);
    if (!alive(b)) return;
    b.child!.kill('SIGKILL');
    await withTimeout(b.exited, EXIT_TIMEOUT_MS, `broker ${nodeId} exit after SIGKILL`);
    b.stopped = false;
  }

  /** SIGTERM: the broker's own clean shutdown (flush, checkpoints, clean-shutdown marker). */
  async terminate(nodeId: number): Promise<void> {
    const b = this.broker(nodeId);
    if (!alive(b)) return;
    if (b.stopped) this.resume(nodeId);
    b.child!.kill('SIGTERM');
    await withTimeout(b.exited, 20_000, `broker ${nodeId} exit after SIGTERM`);
  }

  /** SIGSTOP: the process is frozen, its sockets open and silent (a long GC pause, a VM stall). */
  pause(nodeId: number): void {
    const b = this.broker(nodeId);
    if (!alive(b)) throw new Error(`broker ${nodeId} is not running`);
    b.child!.kill('SIGSTOP');
    b.stopped = true;
  }

  resume(nodeId: number): void {
    const b = this.broker(nodeId);
    if (!alive(b)) throw new Error(`broker ${nodeId} is not running`);
    b.child!.kill('SIGCONT');
    b.stopped = false;
  }

  /** Starts a broker that is down again, on its data directory or (`wipe`) on an empty one. */
  async restart(nodeId: number, options: { wipe?: boolean } = {}): Promise<void> {
    const b = this.broker(nodeId);
    if (alive(b)) throw new Error(`broker ${nodeId} is still running`);
    if (options.wipe === true) {
      rmSync(b.dataDir, { recursive: true, force: true });
      mkdirSync(b.dataDir, { recursive: true });
    }
    await this.launch(b);
  }

  /** The partition's directory in broker `nodeId`'s data directory. */
  partitionDir(nodeId: number, topic: string, partition: number): string {
    return join(this.broker(nodeId).dataDir, `${topic}-${partition}`);
  }

  /**
   * Flips one bit, picked by `rand`, in one batch of a closed segment (any but the last) of the
   * partition on broker `nodeId`, which must be down unless `live` (bit rot under a running
   * broker: the byte is written in place, so its next read of the page sees it): in the field
   * `field` names, or anywhere in the batch. Returns where, for the report.
   */
  flipBit(
    nodeId: number,
    topic: string,
    partition: number,
    rand: () => number,
    field: FlipField = 'any',
    live = false,
  ): string {
    const b = this.broker(nodeId);
    if (alive(b) && !live) throw new Error(`broker ${nodeId} must be down to have its files changed`);
    const dir = this.partitionDir(nodeId, topic, partition);
    const segments = readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .sort();
    const closed = segments.slice(0, -1).filter((f) => batchesIn(readFileSync(join(dir, f))).length > 0);
    if (closed.length === 0) throw new Error(`${dir} has no closed segment (${segments.length} segments)`);
    const file = join(dir, closed[Math.floor(rand() * closed.length)]!);
    const bytes = readFileSync(file);
    const batches = batchesIn(bytes);
    const { start, end } = batches[Math.floor(rand() * batches.length)]!;
    const span = FLIP_FIELDS[field];
    const from = start + span[0];
    const to = span[1] < 0 ? end : start + span[1];
    const at = from + Math.floor(rand() * (to - from));
    // The base offset's low bits: a nearby offset, the change a reader cannot tell by its size.
    const bit = field === 'base-offset' ? Math.floor(rand() * 3) : Math.floor(rand() * 8);
    // One byte written where it lies: a running broker never sees the file shorter or rewritten.
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, Buffer.of(bytes[at]! ^ (1 << bit)), 0, 1, at);
    } finally {
      closeSync(fd);
    }
    return `${field}: ${file} byte ${at} bit ${bit}`;
  }

  /** The partition's batches on broker `nodeId`, read from its segment files in offset order. */
  readReplica(nodeId: number, topic: string, partition: number): ReplicaBatch[] {
    const dir = this.partitionDir(nodeId, topic, partition);
    if (!existsSync(dir)) return [];
    const out: ReplicaBatch[] = [];
    for (const f of readdirSync(dir)
      .filter((name) => name.endsWith('.log'))
      .sort()) {
      const buf = readFileSync(join(dir, f));
      for (const { start, end } of batchesIn(buf))
        out.push({
          baseOffset: batchBaseOffset(buf, start),
          lastOffset: batchLastOffset(buf, start),
          bytes: Buffer.from(buf.subarray(start, end)),
        });
    }
    return out;
  }

  /**
   * The controller broker `nodeId` reports on /metrics (weir_cluster_controller_id), or null when
   * it does not answer within a second (down, paused or cut off).
   */
  async controllerOf(nodeId: number): Promise<number | null> {
    const b = this.broker(nodeId);
    if (!alive(b) || b.stopped) return null;
    try {
      const res = await fetch(`http://${b.host}:${b.ports.http}/metrics`, {
        signal: AbortSignal.timeout(1000),
      });
      const m = /^weir_cluster_controller_id (-?\d+)$/m.exec(await res.text());
      return m === null ? null : Number(m[1]);
    } catch {
      return null;
    }
  }

  /**
   * A series without labels from broker `nodeId`'s /metrics, or null when it does not answer
   * within a second (down, paused or cut off) or has no such series.
   */
  async metric(nodeId: number, name: string): Promise<number | null> {
    const b = this.broker(nodeId);
    if (!alive(b) || b.stopped) return null;
    try {
      const res = await fetch(`http://${b.host}:${b.ports.http}/metrics`, {
        signal: AbortSignal.timeout(1000),
      });
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await res.text());
      return m === null ? null : Number(m[1]);
    } catch {
      return null;
    }
  }

  /** What every broker reports as controller, by node id (null: no answer). */
  async controllers(): Promise<(number | null)[]> {
    return Promise.all(this.brokers.map((b) => this.controllerOf(b.nodeId)));
  }

  /** The last `n` log lines of broker `nodeId` (every start), for a failing run's report. */
  logTail(nodeId: number, n = 40): string {
    const file = join(this.dir, `broker-${nodeId}.log`);
    if (!existsSync(file)) return '';
    return readFileSync(file, 'utf8')
      .split('\n')
      .slice(-n - 1)
      .join('\n');
  }

  /** Kills every broker still running and removes the temp directory (unless `keep`). */
  async destroy(options: { keep?: boolean } = {}): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    await Promise.all(
      this.brokers.map(async (b) => {
        if (!alive(b)) return;
        b.child!.kill('SIGKILL');
        await withTimeout(b.exited, EXIT_TIMEOUT_MS, `broker ${b.nodeId} exit`).catch(() => {});
      }),
    );
    for (const log of this.logs) log.end();
    if (options.keep !== true) rmSync(this.dir, { recursive: true, force: true });
  }

  private async layOut(count: number): Promise<void> {
    const net = this.options.net;
    for (let i = 0; i < count; i++) {
      const ports: Ports =
        net === undefined
          ? {
              grpc: await freePort(),
              http: await freePort(),
              replication: await freePort(),
              kafka: await freePort(),
            }
          : { ...NAMESPACE_PORTS };
      const dataDir = join(this.dir, `weir-${i + 1}`);
      mkdirSync(dataDir, { recursive: true });
      this.brokers.push({
        nodeId: i + 1,
        host: net === undefined ? '127.0.0.1' : net.addresses[i]!,
        ports,
        dataDir,
        child: null,
        exited: Promise.resolve(),
        stopped: false,
        starts: 0,
      });
    }
  }

  private env(b: FaultBroker): Record<string, string> {
    const peers = this.brokers.map((p) => `${p.nodeId}@${p.host}:${p.ports.replication}`).join(',');
    return {
      WEIR_NODE_ID: String(b.nodeId),
      WEIR_PEERS: peers,
      WEIR_CLUSTER_ID: this.clusterId,
      WEIR_HOST: b.host,
      WEIR_ADVERTISED_HOST: b.host,
      WEIR_GRPC_PORT: String(b.ports.grpc),
      WEIR_HTTP_PORT: String(b.ports.http),
      WEIR_REPLICATION_PORT: String(b.ports.replication),
      WEIR_KAFKA_PORT: String(b.ports.kafka),
      WEIR_DATA_DIR: b.dataDir,
      WEIR_LOG_LEVEL: 'info',
      ...this.options.env,
    };
  }

  /** Spawns the broker and resolves once it logs `broker started`; rejects if it exits first. */
  private launch(b: FaultBroker): Promise<void> {
    const argv = [process.execPath, BROKER_BIN, 'broker'];
    const [cmd, ...args] = this.options.net?.wrap(b.nodeId - 1, argv) ?? argv;
    const child = spawn(cmd!, args, {
      env: { ...process.env, ...this.env(b) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    b.child = child;
    b.stopped = false;
    b.starts++;
    b.exited = new Promise<void>((done) => child.once('exit', () => done()));
    const log = createWriteStream(join(this.dir, `broker-${b.nodeId}.log`), { flags: 'a' });
    this.logs.push(log);
    log.write(`--- start ${b.starts} pid ${child.pid}\n`);
    const keep = (d: Buffer | string): void => {
      this.printed.set(b.nodeId, ((this.printed.get(b.nodeId) ?? '') + d.toString()).slice(-8192));
    };
    child.stderr!.on('data', (d: Buffer) => {
      log.write(d);
      keep(d);
    });
    const lines = createInterface({ input: child.stdout! });
    return withTimeout(
      new Promise<void>((started, failed) => {
        lines.on('line', (line) => {
          log.write(`${line}\n`);
          keep(line);
          if (line.includes('"msg":"broker started"')) started();
        });
        child.once('exit', (code, signal) =>
          failed(new Error(`broker ${b.nodeId} exited (${code ?? signal}) before it started`)),
        );
      }),
      START_TIMEOUT_MS,
      `broker ${b.nodeId} start`,
    );
  }
}
