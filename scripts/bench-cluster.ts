// `npm run bench:cluster`: three `weir broker` processes as one cluster on this machine, measured
// the way a user meets them, and Apache Kafka with three brokers beside it in the same run.
//
//   produce   RF=3, acks=all, one partition: records/s of 100 B and 1 KiB records through the SDK
//             producer (idempotent; `weir bench produce` in its own process, bootstrapped with
//             all three brokers, so the SDK routes to the leader), then ack latency p50/p99/p99.9 of 100 B records at a fixed
//             5,000 records/s (linger 0). Medians of --reps runs, each on a fresh topic.
//   failover  5,000 records/s of 100 B through the SDK producer (bootstrapped with all three
//             brokers; it follows a moved leader itself); the partition's leader is killed with
//             SIGKILL --kills times, restarted each time and waited for until its log holds what
//             the leader's held at the restart. Per kill: the longest time without an
//             acknowledgement (the client-visible write gap); p50 and p99 over the kills. Then the
//             log is read back and every acknowledged record looked for.
//   catchup   1 KiB records as fast as they are acknowledged; a follower killed while
//             --catchup-mb are written, then restarted while the producer goes on: the time until
//             its log reaches the leader's end as it was at the restart, and the producer's
//             records/s meanwhile as a share of its baseline (all three replicas up); then the
//             time until the leader lists it in sync again. WEIR_REPLICATION_THROTTLE_BYTES in the
//             environment sets the brokers' replication throttle.
//   idle      each broker's CPU (utime+stime from /proc over --idle-secs, share of one core) and
//             RSS, first with no topic, then with --idle-partitions partitions of RF=3.
//   kafka     Apache Kafka, 3 brokers, RF=3, acks=all, through the peers kit's kafka/kafka.sh
//             (ProducerPerformance): records/s for 100 B and 1 KiB, after a warm-up run.
//
// Each part runs on a fresh cluster in a temp directory.
// Every process started is stopped at the end, on failure and on SIGINT/SIGTERM too.
//
// Usage: npm run bench:cluster -- [--reps N] [--quick] [--only parts] [--skip parts]
//        [--records-100 N] [--records-1k N] [--latency-secs S] [--kills N] [--rejoin-secs S] [--catchup-mb MB]
//        [--idle-partitions N] [--idle-secs S] [--peers DIR] [--kafka-warmup N] [--node PATH]
//        [--dir DIR]

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  allLed,
  benchProduce,
  catchUp,
  failover,
  fmtMB,
  idleCost,
  percentile,
  replicatedTopic,
  type CatchUpResult,
  type FailoverResult,
  type IdleBroker,
  type Latency,
} from './bench-cluster-parts.js';
import { KafkaPeer } from './kafka-peer.js';
import { LocalCluster } from './local-cluster.js';
import { clockTicks } from './proc-stats.js';

const PARTS = ['produce', 'failover', 'catchup', 'idle', 'kafka'] as const;
type Part = (typeof PARTS)[number];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    skip: { type: 'string', default: '' },
    'records-100': { type: 'string' },
    'records-1k': { type: 'string' },
    'latency-secs': { type: 'string', default: '5' },
    kills: { type: 'string', default: '10' },
    'rejoin-secs': { type: 'string', default: '120' },
    'catchup-mb': { type: 'string' },
    'idle-partitions': { type: 'string', default: '1000' },
    'idle-secs': { type: 'string', default: '30' },
    peers: { type: 'string', default: join(root, '..', 'shared', 'peers') },
    'kafka-warmup': { type: 'string' },
    node: { type: 'string', default: process.execPath },
    dir: { type: 'string', default: tmpdir() },
  },
});

function num(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number >= 0, got '${raw}'`);
  return n;
}
function partsOf(raw: string, flag: string): Part[] {
  const list = raw.split(',').filter((p) => p !== '');
  for (const p of list)
    if (!(PARTS as readonly string[]).includes(p))
      throw new Error(`${flag}: unknown part '${p}' (parts: ${PARTS.join(', ')})`);
  return list as Part[];
}

const quick = args.quick;
const reps = num('reps', args.reps);
const node = args.node;
const skipped = new Set(partsOf(args.skip, '--skip'));
const parts = (args.only === undefined ? [...PARTS] : partsOf(args.only, '--only')).filter(
  (p) => !skipped.has(p),
);
const records100 = num('records-100', args['records-100'] ?? (quick ? '100000' : '1000000'));
const records1k = num('records-1k', args['records-1k'] ?? (quick ? '25000' : '250000'));
/** 2 GiB is the issue's figure; 512 MiB by default keeps a run on a 2-core box to minutes. */
const catchupBytes = num('catchup-mb', args['catchup-mb'] ?? (quick ? '64' : '512')) * (1 << 20);
/** The brokers inherit the environment: WEIR_REPLICATION_THROTTLE_BYTES sets their throttle. */
const throttleBytes = Number(process.env['WEIR_REPLICATION_THROTTLE_BYTES'] ?? '0');
const throttle = throttleBytes > 0 ? `${fmtMB(throttleBytes)}/s` : 'off';
const RATE = 5_000;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]): number => percentile(xs, 0.5);
const log = (s: string): void => console.log(s);

/** Everything started and not yet stopped, for the cleanup on any exit. */
const running = new Set<{ stop: () => Promise<void> }>();
let workDir: string | null = null;

async function withCluster<T>(name: string, body: (c: LocalCluster) => Promise<T>): Promise<T> {
  const dir = join(workDir!, name);
  const entry: { cluster: LocalCluster | null; stop: () => Promise<void> } = {
    cluster: null,
    stop: async () => entry.cluster?.stop(),
  };
  running.add(entry);
  try {
    entry.cluster = await LocalCluster.start(node, dir);
    return await body(entry.cluster);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message} (broker logs in ${join(dir, 'logs')})`, {
      cause: err,
    });
  } finally {
    await entry.stop();
    running.delete(entry);
    rmSync(join(dir, 'data'), { recursive: true, force: true });
  }
}

interface ProduceFigures {
  size: number;
  recordsPerSec: number;
}

async function produceRuns(): Promise<{ sizes: ProduceFigures[]; latency: Latency }> {
  return withCluster('produce', async (cluster) => {
    const sizes: ProduceFigures[] = [];
    for (const [size, count] of [
      [100, records100],
      [1024, records1k],
    ] as const) {
      const runs: number[] = [];
      for (let rep = 1; rep <= reps; rep++) {
        const topic = `p${size}-${rep}`;
        const leader = await replicatedTopic(cluster, topic);
        const r = benchProduce(node, cluster.bootstrap.join(','), [
          '--topic',
          topic,
          '--records',
          String(count),
          '--record-size',
          String(size),
        ]);
        runs.push(r.recordsPerSec);
        log(`  ${size} B run ${rep}: ${fmt(r.recordsPerSec)} records/s (leader ${leader})`);
      }
      sizes.push({ size, recordsPerSec: median(runs) });
    }
    const lat: Latency[] = [];
    for (let rep = 1; rep <= reps; rep++) {
      const topic = `lat-${rep}`;
      await replicatedTopic(cluster, topic);
      const r = benchProduce(node, cluster.bootstrap.join(','), [
        '--topic',
        topic,
        '--records',
        String(RATE * num('latency-secs', args['latency-secs'])),
        '--record-size',
        '100',
        '--rate',
        String(RATE),
        '--linger-ms',
        '0',
      ]);
      lat.push(r.latencyMs);
      log(`  latency run ${rep}: p50 ${r.latencyMs.p50.toFixed(2)} p99 ${r.latencyMs.p99.toFixed(2)} ms`);
    }
    return {
      sizes,
      latency: {
        p50: median(lat.map((l) => l.p50)),
        p99: median(lat.map((l) => l.p99)),
        p999: median(lat.map((l) => l.p999)),
      },
    };
  });
}

interface IdleFigures {
  partitions: number;
  createSecs: number;
  empty: IdleBroker[];
  loaded: IdleBroker[];
}

async function idleRun(ticksPerSec: number): Promise<IdleFigures> {
  const partitions = num('idle-partitions', args['idle-partitions']);
  const secs = num('idle-secs', args['idle-secs']);
  return withCluster('idle', async (cluster) => {
    const empty = await idleCost(cluster, secs, ticksPerSec);
    const t0 = performance.now();
    await replicatedTopic(cluster, 'idle', partitions);
    await allLed(cluster, 'idle', partitions);
    const createSecs = (performance.now() - t0) / 1000;
    log(`  ${partitions} partitions created and led on every broker in ${createSecs.toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 5_000));
    const loaded = await idleCost(cluster, secs, ticksPerSec);
    return { partitions, createSecs, empty, loaded };
  });
}

async function kafkaRuns(): Promise<ProduceFigures[]> {
  const script = join(resolve(args.peers), 'kafka', 'kafka.sh');
  const kafka = new KafkaPeer(script);
  running.add(kafka);
  try {
    await kafka.start();
    const warmup = num('kafka-warmup', args['kafka-warmup'] ?? String(records100));
    if (warmup > 0) {
      kafka.createTopic('warmup');
      log(`  warm-up: ${fmt(kafka.produce('warmup', 100, warmup).recordsPerSec)} records/s`);
    }
    const sizes: ProduceFigures[] = [];
    for (const [size, count] of [
      [100, records100],
      [1024, records1k],
    ] as const) {
      const runs: number[] = [];
      for (let rep = 1; rep <= reps; rep++) {
        const topic = `r3-${size}-${rep}`;
        kafka.createTopic(topic);
        const r = kafka.produce(topic, size, count);
        runs.push(r.recordsPerSec);
        log(`  ${size} B run ${rep}: ${fmt(r.recordsPerSec)} records/s`);
      }
      sizes.push({ size, recordsPerSec: median(runs) });
    }
    return sizes;
  } finally {
    await kafka.stop();
    running.delete(kafka);
  }
}

function printSummary(s: {
  produce?: { sizes: ProduceFigures[]; latency: Latency };
  failover?: FailoverResult;
  catchup?: CatchUpResult;
  idle?: IdleFigures;
  kafka?: ProduceFigures[];
}): void {
  console.log(`\n== weir cluster: 3 brokers on this machine, RF=3, acks=all, Node ${process.version}`);
  for (const r of s.produce?.sizes ?? [])
    console.log(
      `MEDIAN weir-cluster size=${r.size} RF=3 acks=all: produce ${fmt(r.recordsPerSec)} msg/s ${((r.recordsPerSec * r.size) / 1e6).toFixed(1)} MB/s (${reps} runs)`,
    );
  const l = s.produce?.latency;
  if (l !== undefined)
    console.log(
      `MEDIAN weir-cluster ack latency @${RATE}/s (100 B, RF=3 acks=all, linger 0): p50 ${l.p50.toFixed(3)} ms p99 ${l.p99.toFixed(3)} ms p99.9 ${l.p999.toFixed(3)} ms`,
    );
  const f = s.failover;
  if (f !== undefined && f.kills.length === 0) console.log('FAILOVER weir-cluster: no kill completed');
  else if (f !== undefined) {
    const gaps = f.kills.map((k) => k.gapMs);
    console.log(
      `FAILOVER weir-cluster ${f.kills.length} of ${num('kills', args.kills)} leader kills @${RATE}/s: write gap p50 ${percentile(gaps, 0.5).toFixed(0)} ms p99 ${percentile(gaps, 0.99).toFixed(0)} ms max ${Math.max(...gaps).toFixed(0)} ms; ` +
        `rejoin p50 ${(
          percentile(
            f.kills.map((k) => k.rejoinMs),
            0.5,
          ) / 1000
        ).toFixed(1)} s; gaps ${gaps.map((g) => g.toFixed(0)).join(' ')} ms`,
    );
    console.log(
      `  log check: ${fmt(f.acked)} acknowledged records, ${f.missing.length} of them missing from the log` +
        (f.missing.length === 0
          ? ''
          : ` (LOST ACKS; first sequence numbers ${f.missing.slice(0, 10).join(' ')})`) +
        `, ${fmt(f.duplicates)} held twice`,
    );
    const errs = Object.entries(f.errors);
    if (errs.length > 0)
      console.log(`  send errors (sent again): ${errs.map(([c, n]) => `${c} ×${n}`).join(', ')}`);
  }
  const c = s.catchup;
  if (c !== undefined)
    console.log(
      `CATCHUP weir-cluster follower behind by ${fmtMB(c.behindBytes)} (1 KiB records): ` +
        (c.caughtUpSecs === null ? 'did NOT catch up' : `caught up in ${c.caughtUpSecs.toFixed(1)} s`) +
        `; producer meanwhile ${fmt(c.duringRecordsPerSec)} records/s = ${((100 * c.duringRecordsPerSec) / c.baselineRecordsPerSec).toFixed(0)}% of its baseline ${fmt(c.baselineRecordsPerSec)}` +
        (c.caughtUpSecs === null
          ? ''
          : c.inSyncSecs === null
            ? '; NOT back in sync 120 s later'
            : `; back in sync after ${c.inSyncSecs.toFixed(1)} s`) +
        `; replication throttle ${throttle}`,
    );
  const i = s.idle;
  if (i !== undefined) {
    const line = (b: IdleBroker): string =>
      `broker ${b.nodeId} cpu ${(100 * b.cpuShare).toFixed(1)}% rss ${Math.round(b.rssBytes / 1e6)} MB`;
    console.log(`IDLE weir-cluster no topics: ${i.empty.map(line).join(', ')}`);
    console.log(
      `IDLE weir-cluster ${i.partitions} partitions RF=3 (created in ${i.createSecs.toFixed(1)} s): ${i.loaded.map(line).join(', ')}`,
    );
  }
  for (const k of s.kafka ?? []) {
    const w = s.produce?.sizes.find((x) => x.size === k.size);
    console.log(
      `MEDIAN kafka-3 size=${k.size} RF=3 acks=all: produce ${fmt(k.recordsPerSec)} msg/s ${((k.recordsPerSec * k.size) / 1e6).toFixed(1)} MB/s` +
        (w === undefined ? '' : ` | weir/kafka ${(w.recordsPerSec / k.recordsPerSec).toFixed(2)}x`),
    );
  }
}

async function cleanup(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop().catch(() => undefined)));
  running.clear();
  if (workDir !== null) rmSync(workDir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  if (!existsSync(join(root, 'dist', 'client', 'cli', 'bin.js')))
    throw new Error('run `npm run build` first');
  workDir = mkdtempSync(join(resolve(args.dir), 'weir-bench-cluster-'));
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      console.error(`bench:cluster: ${signal}: stopping every process it started`);
      void cleanup().finally(() => process.exit(130));
    });
  log(`bench:cluster parts: ${parts.join(', ')}; catch-up backlog ${fmtMB(catchupBytes)}`);
  const summary: Parameters<typeof printSummary>[0] = {};
  let failed = false;
  const attempt = async (part: Part, run: () => Promise<void>): Promise<void> => {
    if (!parts.includes(part)) return;
    log(`\n== ${part}`);
    try {
      await run();
    } catch (err) {
      failed = true;
      console.error(`${part} FAILED: ${(err as Error).message}`);
    }
  };
  await attempt('produce', async () => void (summary.produce = await produceRuns()));
  await attempt('failover', async () => {
    summary.failover = await withCluster('failover', (c) =>
      failover(c, {
        kills: num('kills', args.kills),
        rate: RATE,
        size: 100,
        rejoinSecs: num('rejoin-secs', args['rejoin-secs']),
        log,
      }),
    );
  });
  await attempt('catchup', async () => {
    summary.catchup = await withCluster('catchup', (c) =>
      catchUp(c, {
        behindBytes: catchupBytes,
        baselineSecs: quick ? 3 : 10,
        timeoutSecs: 1_800,
        inSyncSecs: 120,
        log,
      }),
    );
  });
  await attempt('idle', async () => void (summary.idle = await idleRun(clockTicks())));
  await attempt('kafka', async () => void (summary.kafka = await kafkaRuns()));
  printSummary(summary);
  if (failed) {
    // Logs of the failed part stay for reading; the data directories are gone already.
    workDir = null;
    process.exitCode = 1;
  }
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    // Producers left behind by a failed part may hold timers; nothing more is to be done.
    process.exit();
  });
