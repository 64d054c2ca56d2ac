// `npm run bench:kafka`: Kafka's own perf tools against weir's Kafka listener and against Apache
// Kafka, on this machine in the same run, with weir's gRPC path beside them.
//
//   weir (Kafka)  one `weir broker` process with its Kafka listener; Kafka's ProducerPerformance
//                 (64 KiB batches, linger 5 ms, as the peers kit runs it) with acks=1 and acks=all,
//                 then ConsumerPerformance (a consumer group) reading the acks=1 topic back.
//   weir (gRPC)   the same broker, `weir bench produce --acks leader` and `weir bench consume`.
//   kafka         one Apache Kafka broker (broker and controller) from the peers kit's
//                 kafka/kafka.sh, with the same two tools and the same arguments.
//
// Each run is on a fresh topic of one partition and replication factor 1. For every run the
// broker's CPU time (utime + stime from /proc) is read before and after, and reported as
// CPU-seconds per million records. Records/s and CPU are medians of --reps runs (default 3).
// Kafka gets --kafka-warmup records of 100 B first, since its CPU per record falls as the JIT warms.
//
// Usage: npm run bench:kafka -- [--reps N] [--quick] [--peers DIR] [--skip-kafka] [--kafka-warmup N]
//        [--node PATH]

import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BIN, startBrokerProcess } from './broker-process.js';
import { KafkaPeer } from './kafka-peer.js';
import { clockTicks, procStats } from './proc-stats.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    peers: { type: 'string', default: join(root, '..', 'shared', 'peers') },
    'skip-kafka': { type: 'boolean', default: false },
    'kafka-warmup': { type: 'string' },
    node: { type: 'string', default: process.execPath },
  },
});
const reps = Number(args.reps);
if (!Number.isInteger(reps) || reps < 1)
  throw new Error(`--reps must be a positive integer, not ${args.reps}`);
const quick = args.quick;
const kafkaScript = join(resolve(args.peers), 'kafka', 'kafka.sh');
const kafkaLib = join(process.env.PEERS_DATA ?? '/tmp/weir-peers', 'kafka', 'lib');
const SIZES: readonly (readonly [size: number, count: number])[] = [
  [100, quick ? 200_000 : 2_000_000],
  [1024, quick ? 50_000 : 500_000],
];
const ACKS = ['1', 'all'] as const;
const TICKS = clockTicks();

interface Figure {
  recordsPerSec: number;
  /** Broker CPU-seconds (utime + stime) per million records. */
  cpuPerMillion: number;
}
type Path = 'weir-kafka' | 'weir-grpc' | 'kafka';
/** path → "produce acks=X size=N" or "consume size=N" → runs. */
type Results = Map<Path, Map<string, Figure[]>>;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  return procStats(pid).ticks / TICKS;
}

function cpuOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

function run(cmd: string, argv: string[], what: string, timeoutMs = 900_000): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0)
    throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr.trim().slice(-2000)}`);
  return r.stdout;
}

function java(tool: string, argv: string[]): string {
  return run('java', ['-cp', `${kafkaLib}/*`, `org.apache.kafka.tools.${tool}`, ...argv], tool);
}

/** ProducerPerformance's last line: "N records sent, R records/sec (...)". */
function producePerf(bootstrap: string, topic: string, size: number, count: number, acks: string): number {
  const line = java('ProducerPerformance', [
    '--topic',
    topic,
    '--record-size',
    String(size),
    '--num-records',
    String(count),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${bootstrap}`,
    `acks=${acks}`,
    'linger.ms=5',
    'batch.size=65536',
  ])
    .trim()
    .split('\n')
    .pop() as string;
  const m = /records sent, ([\d.]+) records\/sec/.exec(line);
  if (m === null) throw new Error(`no records/sec in ProducerPerformance's output: ${line}`);
  return Number(m[1]);
}

/**
 * ConsumerPerformance's CSV line; the rate is fetch.nMsg.sec, which leaves out the group's join
 * (rebalance.time.ms), so a slower first join on either side does not count as consume time.
 */
function consumePerf(bootstrap: string, topic: string, count: number): number {
  const out = java('ConsumerPerformance', [
    '--bootstrap-server',
    bootstrap,
    '--topic',
    topic,
    '--messages',
    String(count),
    '--group',
    `perf-${topic}`,
  ]);
  const line = out.trim().split('\n').pop() as string;
  const cols = line.split(',').map((c) => c.trim());
  const rate = Number(cols[cols.length - 1]);
  const consumed = Number(cols[4]);
  if (!Number.isFinite(rate) || consumed < count)
    throw new Error(`ConsumerPerformance read ${cols[4]} of ${count}: ${line}`);
  return rate;
}

function record(results: Results, path: Path, key: string, figure: Figure): void {
  const byKey = results.get(path) ?? new Map<string, Figure[]>();
  results.set(path, byKey);
  byKey.set(key, [...(byKey.get(key) ?? []), figure]);
  console.log(
    `  ${path} ${key}: ${fmt(figure.recordsPerSec)} rec/s, broker ${figure.cpuPerMillion.toFixed(3)} CPU-s per M`,
  );
}

/** Runs body, returning its records/s with the broker CPU it cost per million records. */
function measured(pids: readonly number[], count: number, body: () => number): Figure {
  const before = cpuOf(pids);
  const recordsPerSec = body();
  return { recordsPerSec, cpuPerMillion: ((cpuOf(pids) - before) * 1e6) / count };
}

function weirCli(bootstrap: string, argv: string[]): string {
  return run(args.node, [BIN, ...argv, '--bootstrap', bootstrap], `weir ${argv.slice(0, 2).join(' ')}`);
}

function weirBench(bootstrap: string, argv: string[]): number {
  const out = weirCli(bootstrap, ['bench', ...argv, '--json']);
  return (JSON.parse(out.trim().split('\n').pop() as string) as { recordsPerSec: number }).recordsPerSec;
}

async function weirRuns(results: Results): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-bench-kafka-'));
  const { child, bootstrap, kafka } = await startBrokerProcess(args.node, dataDir, {}, ['--kafka-port', '0']);
  try {
    if (kafka === undefined) throw new Error('the broker did not report a Kafka listener');
    const pids = [child.pid as number];
    const version = run(args.node, ['--version'], 'node --version').trim();
    for (const [size, count] of SIZES) {
      for (let rep = 1; rep <= reps; rep++) {
        for (const acks of ACKS) {
          const topic = `kafka-${size}-${acks}-${rep}`;
          weirCli(bootstrap, ['topic', 'create', topic, '--partitions', '1']);
          record(
            results,
            'weir-kafka',
            `produce acks=${acks} size=${size}`,
            measured(pids, count, () => producePerf(kafka, topic, size, count, acks)),
          );
        }
        const topic = `kafka-${size}-1-${rep}`;
        record(
          results,
          'weir-kafka',
          `consume size=${size}`,
          measured(pids, count, () => consumePerf(kafka, topic, count)),
        );
        const grpcTopic = `grpc-${size}-${rep}`;
        const produce = ['--topic', grpcTopic, '--records', String(count)];
        record(
          results,
          'weir-grpc',
          `produce acks=1 size=${size}`,
          measured(pids, count, () =>
            weirBench(bootstrap, ['produce', ...produce, '--record-size', String(size), '--acks', 'leader']),
          ),
        );
        record(
          results,
          'weir-grpc',
          `consume size=${size}`,
          measured(pids, count, () => weirBench(bootstrap, ['consume', ...produce])),
        );
      }
    }
    return version;
  } finally {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

async function kafkaRuns(results: Results): Promise<void> {
  if (!existsSync(kafkaLib)) run('bash', [kafkaScript, 'setup'], 'kafka.sh setup');
  const kafka = new KafkaPeer(kafkaScript, 1);
  try {
    await kafka.start();
    const pids = kafka.brokerPids;
    const bootstrap = kafka.bootstrap;
    const warmup = Number(args['kafka-warmup'] ?? (quick ? 200_000 : 2_000_000));
    if (warmup > 0) {
      kafka.createTopic('warmup');
      producePerf(bootstrap, 'warmup', 100, warmup, '1');
      consumePerf(bootstrap, 'warmup', warmup);
    }
    for (const [size, count] of SIZES) {
      for (let rep = 1; rep <= reps; rep++) {
        for (const acks of ACKS) {
          const topic = `kafka-${size}-${acks}-${rep}`;
          kafka.createTopic(topic);
          record(
            results,
            'kafka',
            `produce acks=${acks} size=${size}`,
            measured(pids, count, () => producePerf(bootstrap, topic, size, count, acks)),
          );
        }
        record(
          results,
          'kafka',
          `consume size=${size}`,
          measured(pids, count, () => consumePerf(bootstrap, `kafka-${size}-1-${rep}`, count)),
        );
      }
    }
  } finally {
    await kafka.stop();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function summary(results: Results, version: string): void {
  console.log(`\n== medians of ${reps}, one broker, topics of 1 partition, RF 1; weir on Node ${version}`);
  const keys = [...new Set([...results.values()].flatMap((m) => [...m.keys()]))];
  const kafka = results.get('kafka');
  for (const key of keys) {
    const k = kafka?.get(key);
    const kRate = k === undefined ? undefined : median(k.map((f) => f.recordsPerSec));
    const kCpu = k === undefined ? undefined : median(k.map((f) => f.cpuPerMillion));
    for (const path of ['weir-kafka', 'weir-grpc', 'kafka'] as const) {
      const runs = results.get(path)?.get(key);
      if (runs === undefined) continue;
      const rate = median(runs.map((f) => f.recordsPerSec));
      const cpu = median(runs.map((f) => f.cpuPerMillion));
      const vs =
        path === 'kafka' || kRate === undefined || kCpu === undefined
          ? ''
          : ` | ${(rate / kRate).toFixed(2)}x Kafka's records/s, ${(cpu / kCpu).toFixed(2)}x its CPU per record`;
      console.log(
        `MEDIAN ${path} ${key}: ${fmt(rate)} rec/s, broker ${cpu.toFixed(3)} CPU-s per M records${vs}`,
      );
    }
  }
}

async function main(): Promise<void> {
  const results: Results = new Map();
  const version = await weirRuns(results);
  if (!args['skip-kafka']) await kafkaRuns(results);
  summary(results, version);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
