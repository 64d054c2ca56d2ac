// Apache Kafka as the benchmarks' peer, through the peers kit's kafka/kafka.sh: one or three
// brokers (each broker and controller), topics of one partition replicated on every broker, and
// Kafka's own ProducerPerformance with acks=all (the cluster benchmark's figures). The brokers' PIDs are read as soon as
// they start, so that stop() can end exactly them (kafka.sh stop sends SIGTERM; any still running
// after the grace period get SIGKILL), whatever failed before.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

const STOP_GRACE_MS = 30_000;
/** kafka.sh's client ports for brokers 1..3. */
const KAFKA_PORTS = [19092, 19192, 19292];

export interface KafkaProduce {
  recordsPerSec: number;
  line: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class KafkaPeer {
  private pids: number[] = [];

  constructor(
    private readonly script: string,
    private readonly brokers: 1 | 3 = 3,
  ) {
    if (!existsSync(script)) throw new Error(`${script} not found`);
  }

  /** The brokers' client addresses, comma-separated. */
  get bootstrap(): string {
    return KAFKA_PORTS.slice(0, this.brokers)
      .map((port) => `127.0.0.1:${port}`)
      .join(',');
  }

  /** The PIDs of the brokers started (their CPU is read from /proc). */
  get brokerPids(): readonly number[] {
    return this.pids;
  }

  private run(args: string[], timeoutMs = 600_000): string {
    const r = spawnSync('bash', [this.script, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
    });
    if (r.status !== 0)
      throw new Error(`kafka.sh ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  async start(): Promise<void> {
    for (const port of KAFKA_PORTS.slice(0, this.brokers))
      if (await portTaken(port)) throw new Error(`port ${port} is taken: another Kafka is running`);
    try {
      this.run(['start', String(this.brokers)], 180_000);
    } finally {
      this.pids = this.run(['pids'])
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number);
    }
  }

  /** `count` records of `size` B with acks=all to `topic`. */
  produce(topic: string, size: number, count: number): KafkaProduce {
    const line = this.run(['produce', topic, String(size), String(count), 'all']).trim();
    // "2000000 records sent, 609830.0 records/sec (58.16 MB/sec), ..."
    const m = /([\d.]+) records\/sec/.exec(line);
    if (m === null) throw new Error(`no records/sec in ProducerPerformance's output: ${line}`);
    return { recordsPerSec: Number(m[1]), line };
  }

  /** A topic of one partition, on every broker. */
  createTopic(topic: string): void {
    this.run(['topic', topic, '1', String(this.brokers)]);
  }

  async stop(): Promise<void> {
    if (this.pids.length === 0) return;
    try {
      this.run(['stop'], 60_000);
    } catch (err) {
      console.error(`kafka: ${(err as Error).message}`);
    }
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    for (const pid of this.pids.filter(alive)) {
      console.error(`kafka: broker pid ${pid} still running after ${STOP_GRACE_MS / 1000} s: SIGKILL`);
      process.kill(pid, 'SIGKILL');
    }
    this.pids = [];
  }
}
