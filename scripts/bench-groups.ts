// `npm run bench:groups`: how a consumer group absorbs a new member. A `weir broker` runs in its
// own process; this process runs a producer writing a steady stream to every partition of a
// 100-partition topic, and a group of 10 GroupConsumers consuming it (each with its own
// connection). Once the group is stable, an 11th member joins, and we measure:
//
//   settle      from the join call until the coordinator reports the group Stable again with all
//               100 partitions owned (DescribeGroup polled every 5 ms), in ms and in heartbeat
//               intervals;
//   unaffected  records/s delivered on the partitions that did not move, during the rebalance,
//               against what was produced to them in the same window (a group that stops the
//               world delivers less than was produced; one that keeps them flowing delivers as
//               much), and the longest gap between two deliveries on any of them (the producer
//               sends every 10 ms, so a gap of a few ticks means no stall);
//   moved       the longest delivery gap on the partitions that moved (revoke, commit, hand-over).
//
// Every run uses a fresh group. Figures are medians of --reps runs (default 3).
//
// Usage: npm run bench:groups -- [--reps N] [--heartbeat-ms N] [--rate N] [--node PATH]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBrokerProcess } from './broker-process.js';
import { Admin, GroupConsumer, Producer, type TopicPartition } from '../client/index.js';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'heartbeat-ms': { type: 'string', default: '1000' },
    rate: { type: 'string', default: '20000' },
    node: { type: 'string', default: process.execPath },
  },
});
const reps = Number(args.reps);
const heartbeatMs = Number(args['heartbeat-ms']);
const ratePerSec = Number(args.rate);
const PARTITIONS = 100;
const MEMBERS = 10;
const TICK_MS = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Start times of the producer's ticks (ms since the process started); each sends to every partition. */
const ticks: number[] = [];
let perPartitionPerTick = 0;

function produced(partitions: number, from: number, to: number): number {
  let n = 0;
  for (const t of ticks) if (t >= from && t < to) n++;
  return n * perPartitionPerTick * partitions;
}

/** Every delivery, per partition: times in ms since the process started. */
class Deliveries {
  readonly times: number[][] = Array.from({ length: PARTITIONS }, () => []);
  readonly owner = new Map<number, string>();

  record(partition: number, at: number): void {
    this.times[partition]?.push(at);
  }

  count(partitions: readonly number[], from: number, to: number): number {
    let n = 0;
    for (const p of partitions) for (const t of this.times[p] ?? []) if (t >= from && t < to) n++;
    return n;
  }

  /** Longest gap between deliveries on these partitions within [from, to]. */
  maxGap(partitions: readonly number[], from: number, to: number): number {
    let worst = 0;
    for (const p of partitions) {
      let last = from;
      for (const t of this.times[p] ?? []) {
        if (t < from) continue;
        if (t > to) break;
        worst = Math.max(worst, t - last);
        last = t;
      }
      worst = Math.max(worst, to - last);
    }
    return worst;
  }
}

interface RunResult {
  settleMs: number;
  moved: number;
  unaffectedProduced: number;
  unaffectedDuring: number;
  unaffectedMaxGapMs: number;
  movedMaxGapMs: number;
}

async function run(bootstrap: string, admin: Admin, topic: string, rep: number): Promise<RunResult> {
  const groupId = `bench-${rep}`;
  const now = (): number => performance.now();
  const deliveries = new Deliveries();
  const members: GroupConsumer[] = [];
  const loops: Promise<void>[] = [];
  const startMember = (name: string): void => {
    const member = new GroupConsumer({
      bootstrap,
      groupId,
      topics: [topic],
      clientId: name,
      autoOffsetReset: 'latest',
      autoCommitIntervalMs: 1000,
      onAssigned: (tps: TopicPartition[]) => {
        for (const tp of tps) deliveries.owner.set(tp.partition, name);
      },
    });
    members.push(member);
    loops.push(
      (async () => {
        for await (const record of member) deliveries.record(record.partition, now());
      })(),
    );
  };
  const owners = async (): Promise<Map<number, string> | null> => {
    const d = await admin.describeGroup(groupId);
    if (d.state !== 'Stable') return null;
    const out = new Map<number, string>();
    for (const m of d.members) for (const tp of m.assignment) out.set(tp.partition, m.clientId);
    return out.size === PARTITIONS ? out : null;
  };
  const waitStable = async (size: number, limitMs: number): Promise<Map<number, string>> => {
    const deadline = now() + limitMs;
    while (now() < deadline) {
      const o = await owners().catch(() => null);
      if (o !== null && new Set(o.values()).size === size) return o;
      await sleep(5);
    }
    throw new Error(`group did not settle with ${size} members within ${limitMs} ms`);
  };

  for (let i = 0; i < MEMBERS; i++) startMember(`member-${String(i).padStart(2, '0')}`);
  const before = await waitStable(MEMBERS, 60_000);
  await sleep(Math.max(2000, 2 * heartbeatMs)); // every member fetching at the log end

  const joinedAt = now();
  startMember('member-new');
  const after = await waitStable(MEMBERS + 1, 60_000);
  const settledAt = now();
  await sleep(500); // records produced in the window may still be on their way
  const unaffected = [...before].filter(([p, owner]) => after.get(p) === owner).map(([p]) => p);
  const moved = [...before].filter(([p, owner]) => after.get(p) !== owner).map(([p]) => p);
  const window = settledAt - joinedAt;
  const result: RunResult = {
    settleMs: window,
    moved: moved.length,
    unaffectedProduced: produced(unaffected.length, joinedAt, settledAt) / (window / 1000),
    unaffectedDuring: deliveries.count(unaffected, joinedAt, settledAt) / (window / 1000),
    unaffectedMaxGapMs: deliveries.maxGap(unaffected, joinedAt, settledAt),
    movedMaxGapMs: deliveries.maxGap(moved, joinedAt, settledAt + 200),
  };
  await Promise.all(members.map((m) => m.close()));
  await Promise.all(loops);
  return result;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-bench-groups-'));
  const { child, bootstrap } = await startBrokerProcess(args.node, dataDir, {
    WEIR_GROUP_HEARTBEAT_INTERVAL_MS: String(heartbeatMs),
  });
  const admin = new Admin({ bootstrap });
  const producer = new Producer({ bootstrap, lingerMs: 1 });
  let producing = true;
  try {
    const topic = 'bench-groups';
    await admin.createTopic(topic, { partitions: PARTITIONS });
    // A steady stream: every TICK_MS, rate * TICK_MS / 1000 records spread over all partitions.
    const perTick = Math.max(PARTITIONS, Math.round((ratePerSec * TICK_MS) / 1000 / PARTITIONS) * PARTITIONS);
    perPartitionPerTick = perTick / PARTITIONS;
    const value = Buffer.alloc(100, 'x');
    const production = (async () => {
      let next = performance.now();
      let cursor = 0;
      while (producing) {
        ticks.push(performance.now());
        const records = Array.from({ length: perTick }, () => ({ partition: cursor++ % PARTITIONS, value }));
        await producer.send({ topic, records });
        next += TICK_MS;
        await sleep(Math.max(0, next - performance.now()));
      }
    })();
    const results: RunResult[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const r = await run(bootstrap, admin, topic, rep);
      results.push(r);
      console.log(
        `run ${rep + 1}: settle ${r.settleMs.toFixed(0)} ms (${(r.settleMs / heartbeatMs).toFixed(2)} heartbeat intervals), ` +
          `${r.moved} partitions moved; unaffected partitions: ${Math.round(r.unaffectedProduced)} records/s produced, ${Math.round(r.unaffectedDuring)} delivered, ` +
          `max gap ${r.unaffectedMaxGapMs.toFixed(0)} ms; moved partitions max gap ${r.movedMaxGapMs.toFixed(0)} ms`,
      );
    }
    producing = false;
    await production;
    const m = (f: (r: RunResult) => number): number => median(results.map(f));
    console.log(
      JSON.stringify({
        node: process.version,
        heartbeatIntervalMs: heartbeatMs,
        produceRatePerSec: ratePerSec,
        partitions: PARTITIONS,
        members: MEMBERS,
        settleMs: Math.round(m((r) => r.settleMs)),
        settleHeartbeatIntervals: Number((m((r) => r.settleMs) / heartbeatMs).toFixed(2)),
        moved: m((r) => r.moved),
        unaffectedProducedPerSec: Math.round(m((r) => r.unaffectedProduced)),
        unaffectedDeliveredPerSec: Math.round(m((r) => r.unaffectedDuring)),
        unaffectedMaxGapMs: Math.round(m((r) => r.unaffectedMaxGapMs)),
        movedMaxGapMs: Math.round(m((r) => r.movedMaxGapMs)),
      }),
    );
  } finally {
    producing = false;
    await producer.close().catch(() => {});
    await admin.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
