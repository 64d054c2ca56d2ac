// `npm run bench`: the broker measured end to end, the way a user meets it. A `weir broker` runs in
// its own process on a temp directory; `weir bench produce|consume` run as separate client
// processes against it (client and broker share the machine's cores, as they would on one box).
//
// For 100-byte and 1 KiB records: produce records/s and MB/s with acks=leader, then consume of the
// same records; then produce ack latency at a fixed 5,000 records/s (linger 0, as a latency-minded
// user sets it; the default 5 ms linger adds up to 5 ms). Every figure is the median of
// --reps runs (default 3), each on a fresh topic. MB/s is 10^6 bytes of record values per second,
// as the peers kit counts it.
//
// --peers DIR runs the peer brokers' scripts from DIR (NATS JetStream, Redis Streams, RabbitMQ
// streams; see DIR/README.md) in the same run and prints weir's figures as ratios to theirs.
// --node PATH runs the broker and the clients under another Node binary.
// --compression CODEC produces with gzip, snappy, lz4 or zstd; the values are then distinct text
// (random words of a small vocabulary) rather than one random value, and the broker inflates every
// batch to check it on produce, while consumers inflate what they read.
//
// Usage: npm run bench -- [--reps N] [--quick] [--peers DIR] [--node PATH] [--compression CODEC]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, startBrokerProcess } from './broker-process.js';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    peers: { type: 'string' },
    node: { type: 'string', default: process.execPath },
    compression: { type: 'string', default: 'none' },
  },
});
const compression = args.compression;
const node = args.node;
const reps = Number(args.reps);
const quick = args.quick;

interface ProduceReport {
  recordsPerSec: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
  node: string;
}
interface ConsumeReport {
  recordsPerSec: number;
  records: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function weir<T>(bootstrap: string, argv: string[]): T {
  const run = spawnSync(node, [BIN, ...argv, '--bootstrap', bootstrap, '--json'], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  if (run.status !== 0) throw new Error(`weir ${argv.join(' ')} failed: ${run.stderr.trim()}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string) as T;
}

interface SizeResult {
  size: number;
  produce: number;
  consume: number;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-bench-'));
  const { child, bootstrap } = await startBrokerProcess(node, dataDir);
  const results: SizeResult[] = [];
  let latency: { p50: number; p99: number; p999: number } | undefined;
  let version = '';
  try {
    for (const [size, count] of [
      [100, quick ? 200_000 : 2_000_000],
      [1024, quick ? 50_000 : 500_000],
    ] as const) {
      const produce: number[] = [];
      const consume: number[] = [];
      for (let rep = 1; rep <= reps; rep++) {
        const topic = `bench-${size}-${rep}`;
        const p = weir<ProduceReport>(bootstrap, [
          'bench',
          'produce',
          '--topic',
          topic,
          '--records',
          String(count),
          '--record-size',
          String(size),
          '--acks',
          'leader',
          '--compression',
          compression,
        ]);
        const c = weir<ConsumeReport>(bootstrap, [
          'bench',
          'consume',
          '--topic',
          topic,
          '--records',
          String(count),
        ]);
        version = p.node;
        produce.push(p.recordsPerSec);
        consume.push(c.recordsPerSec);
        console.log(
          `  ${size} B run ${rep}: produce ${fmt(p.recordsPerSec)} rec/s, consume ${fmt(c.recordsPerSec)} rec/s`,
        );
      }
      results.push({ size, produce: median(produce), consume: median(consume) });
    }
    const lat: ProduceReport[] = [];
    for (let rep = 1; rep <= reps; rep++) {
      lat.push(
        weir<ProduceReport>(bootstrap, [
          'bench',
          'produce',
          '--topic',
          `latency-${rep}`,
          '--records',
          String(quick ? 5_000 : 25_000),
          '--record-size',
          '100',
          '--acks',
          'leader',
          '--rate',
          '5000',
          '--linger-ms',
          '0',
        ]),
      );
    }
    latency = {
      p50: median(lat.map((r) => r.latencyMs.p50)),
      p99: median(lat.map((r) => r.latencyMs.p99)),
      p999: median(lat.map((r) => r.latencyMs.p999)),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }

  console.log(
    `\n== weir, broker and clients in separate processes, Node ${version}, compression ${compression}, medians of ${reps}`,
  );
  for (const r of results) {
    console.log(
      `MEDIAN weir size=${r.size}: produce ${fmt(r.produce)} msg/s ${((r.produce * r.size) / 1e6).toFixed(1)} MB/s | consume ${fmt(r.consume)} msg/s ${((r.consume * r.size) / 1e6).toFixed(1)} MB/s`,
    );
  }
  if (latency !== undefined) {
    console.log(
      `MEDIAN weir ack latency @5000/s (100 B, acks=leader, linger 0): p50 ${latency.p50.toFixed(3)} ms p99 ${latency.p99.toFixed(3)} ms p99.9 ${latency.p999.toFixed(3)} ms`,
    );
  }
  if (args.peers !== undefined) comparePeers(resolve(args.peers), results);
}

interface PeerFigure {
  name: string;
  size: number;
  produce: number;
  consume: number;
}

/** Runs the peers' scripts and prints weir's throughput as a multiple of each peer's. */
function comparePeers(dir: string, weirResults: SizeResult[]): void {
  const figures: PeerFigure[] = [];
  for (const script of ['run_nats.sh', 'run_redis.sh', 'run_rabbit.sh']) {
    console.log(`\n== ${script} (same machine, same run)`);
    const run = spawnSync('bash', [join(dir, script), node], { encoding: 'utf8', maxBuffer: 64 << 20 });
    process.stdout.write(
      run.stdout
        .split('\n')
        .filter((l) => l.includes('MEDIAN'))
        .join('\n') + '\n',
    );
    if (run.status !== 0)
      console.log(`(${script} exited with ${run.status}: ${run.stderr.trim().split('\n').pop() ?? ''})`);
    for (const line of run.stdout.split('\n')) {
      const m =
        /MEDIAN (\S+)(?: mode=(\S+))? size=(\d+).*?produce ([\d,]+) msg\/s.*?consume ([\d,]+) msg\/s/.exec(
          line,
        );
      if (m === null || (m[2] !== undefined && m[2] !== 'raw')) continue;
      figures.push({
        name: m[1] as string,
        size: Number(m[3]),
        produce: Number((m[4] as string).replaceAll(',', '')),
        consume: Number((m[5] as string).replaceAll(',', '')),
      });
    }
  }
  console.log('\n== weir as a multiple of each peer (records/s, same machine, same run)');
  for (const w of weirResults) {
    for (const p of figures.filter((f) => f.size === w.size)) {
      console.log(
        `size=${w.size} vs ${p.name}: produce ${(w.produce / p.produce).toFixed(2)}x (${fmt(p.produce)}/s), consume ${(w.consume / p.consume).toFixed(2)}x (${fmt(p.consume)}/s)`,
      );
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
