// The parts of `npm run bench:cluster` (scripts/bench-cluster.ts says what each measures and why).
// Each part takes a running three-broker cluster and returns its figures; none prints a summary.

import { spawnSync } from 'node:child_process';
import { Admin, Consumer, type Message } from '../client/index.js';
import { BIN } from './broker-process.js';
import { TrackedProducer } from './tracked-producer.js';
import { sleep, until, type ClusterBroker, type LocalCluster } from './local-cluster.js';
import { procStats } from './proc-stats.js';

export interface Latency {
  p50: number;
  p99: number;
  p999: number;
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : (s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number);
}

/** A one-partition topic of replication factor 3, and the broker that leads it once elected. */
export async function replicatedTopic(cluster: LocalCluster, topic: string, partitions = 1): Promise<number> {
  const admin = new Admin({ bootstrap: cluster.brokers[0]!.address, requestTimeoutMs: 600_000 });
  try {
    await admin.createTopic(topic, { partitions, replicationFactor: 3 });
  } finally {
    admin.close();
  }
  return cluster.leaderOf(topic, null, 60_000);
}

interface BenchProduceReport {
  recordsPerSec: number;
  latencyMs: Latency;
}

/** `weir bench produce` in its own process against `bootstrap`, acks=all, as bench.ts runs it. */
export function benchProduce(node: string, bootstrap: string, args: string[]): BenchProduceReport {
  const argv = [BIN, 'bench', 'produce', '--acks', 'all', ...args, '--bootstrap', bootstrap, '--json'];
  const run = spawnSync(node, argv, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (run.status !== 0) throw new Error(`weir bench produce ${args.join(' ')} failed: ${run.stderr.trim()}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string) as BenchProduceReport;
}

/** The partition's log end offset as broker `b` holds it, or null when it cannot say. */
/** The in-sync replicas of `topic`'s partition 0 as broker `b` describes them (its leader knows them all). */
async function inSync(b: ClusterBroker, topic: string): Promise<number[] | null> {
  if (b.child === null) return null;
  const admin = new Admin({ bootstrap: b.address, requestTimeoutMs: 2_000 });
  try {
    return (await admin.describeTopic(topic)).partitions[0]?.isr ?? null;
  } catch {
    return null;
  } finally {
    admin.close();
  }
}

async function logEnd(b: ClusterBroker, topic: string): Promise<number | null> {
  if (b.child === null) return null;
  const admin = new Admin({ bootstrap: b.address, requestTimeoutMs: 2_000 });
  try {
    return (await admin.describeTopic(topic)).partitions[0]?.logEndOffset ?? null;
  } catch {
    return null;
  } finally {
    admin.close();
  }
}

/**
 * Sends `rate` records/s of `size` B, one send() each, through `producer` until `stop()` is called.
 * Each value starts with its sequence number (uint32), and `acked` collects the numbers
 * acknowledged, so that the log can be checked for every one of them afterwards.
 */
function fixedRate(
  producer: TrackedProducer,
  size: number,
  rate: number,
  acked: number[],
): { stop: () => Promise<void> } {
  let running = true;
  const start = performance.now();
  let sent = 0;
  const done = new Promise<void>((resolve) => {
    const tick = (): void => {
      if (!running) return resolve();
      const due = Math.floor(((performance.now() - start) / 1000) * rate) + 1;
      for (; sent < due; sent++) {
        const seq = sent;
        const value = Buffer.alloc(Math.max(4, size), 0x61);
        value.writeUInt32BE(seq, 0);
        void producer.send([{ value }]).then(() => acked.push(seq));
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * Reads the partition from the start to its high watermark and returns the
 * acknowledged sequence numbers missing from it, and how many records it holds more than once.
 */
async function missingAcked(
  bootstrap: readonly string[],
  topic: string,
  acked: readonly number[],
): Promise<{ missing: number[]; duplicates: number; records: number }> {
  // The highest high watermark any broker reports: a follower learns its leader's with the next
  // heartbeat, so one asked right after the last acknowledgement may not cover it yet (and the
  // read would stop short of records that are there). Everything below any of them is committed.
  let end = 0;
  for (const address of bootstrap) {
    const admin = new Admin({ bootstrap: address, requestTimeoutMs: 5_000 });
    end = await admin
      .describeTopic(topic)
      .then((d) => Math.max(end, d.partitions[0]!.highWatermark))
      .catch(() => end)
      .finally(() => admin.close());
  }
  let highest = 0;
  for (const seq of acked) highest = Math.max(highest, seq);
  const seen = new Uint8Array(highest + 1);
  let duplicates = 0;
  let records = 0;
  const consumer = new Consumer({ bootstrap });
  try {
    consumer.assign([{ topic, partition: 0 }]);
    consumer.seek({ topic, partition: 0 }, 'earliest');
    if (end > 0)
      for await (const r of consumer) {
        records++;
        const seq = r.value !== null && r.value.length >= 4 ? r.value.readUInt32BE(0) : -1;
        if (seq >= 0 && seq < seen.length) {
          if (seen[seq] === 1) duplicates++;
          seen[seq] = 1;
        }
        if (r.offset >= end - 1) break;
      }
  } finally {
    await consumer.close();
  }
  return { missing: acked.filter((s) => seen[s] !== 1), duplicates, records };
}

/** Sends as fast as acknowledgements come, `perSend` records a call, `window` calls unanswered. */
function saturate(
  producer: TrackedProducer,
  value: Buffer,
  perSend: number,
  window: number,
): { stop: () => Promise<void> } {
  const messages: Message[] = Array.from({ length: perSend }, () => ({ value }));
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) await producer.send(messages);
  };
  const loops = Array.from({ length: window }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

export interface KillResult {
  leader: number;
  gapMs: number;
  rejoinMs: number;
}

export interface FailoverResult {
  kills: KillResult[];
  errors: Record<string, number>;
  /** Records acknowledged, and those of them the log does not hold afterwards (sequence numbers). */
  acked: number;
  missing: number[];
  /** Records the log holds twice (sent again through a new leader after the old one wrote them). */
  duplicates: number;
}

/**
 * Produces `rate` records/s of `size` B to a replicated partition and kills its leader `kills`
 * times with SIGKILL; after each kill, once the producer writes through the new leader, restarts
 * the killed broker and waits until its log holds what the leader's held at the restart (it
 * rejoined); a broker that does not within `rejoinSecs` ends the series, reported.
 * The gap of a kill is the longest time without an acknowledgement from the kill until then.
 */
export async function failover(
  cluster: LocalCluster,
  opts: { kills: number; rate: number; size: number; rejoinSecs: number; log: (s: string) => void },
): Promise<FailoverResult> {
  const topic = 'failover';
  await replicatedTopic(cluster, topic);
  const producer = new TrackedProducer(cluster.bootstrap, topic);
  await producer.connect();
  let leader = await cluster.leaderOf(topic, null, 30_000);
  const ackedSeqs: number[] = [];
  const load = fixedRate(producer, opts.size, opts.rate, ackedSeqs);
  const kills: KillResult[] = [];
  try {
    await sleep(2_000);
    for (let k = 1; k <= opts.kills; k++) {
      const victim = cluster.broker(leader);
      producer.openEpisode();
      const killedAt = performance.now();
      await cluster.kill(victim);
      await until(
        `kill ${k}: acknowledgements through a new leader`,
        async () => (producer.lastAckAt > killedAt ? true : null),
        60_000,
      );
      // Rejoined: its log holds what the leader held when it restarted. (Within some distance of
      // the moving end would never be reached by a follower slower than the producer.)
      leader = await cluster.leaderOf(topic, victim.spec.nodeId, 30_000);
      const target = await logEnd(cluster.broker(leader), topic);
      const restartAt = performance.now();
      await cluster.startBroker(victim);
      const caught = await until(
        `kill ${k}: broker ${victim.spec.nodeId} caught up`,
        async () => (((await logEnd(victim, topic)) ?? -1) >= (target ?? Infinity) ? true : null),
        opts.rejoinSecs * 1000,
        200,
      ).catch((err: Error) => err);
      if (caught instanceof Error) {
        const end = await logEnd(victim, topic);
        opts.log(
          `  kill ${k}: ${caught.message}: its log ends at ${end ?? '?'}, the leader's ended at ${target} ` +
            'when it restarted; no further kills',
        );
        producer.closeEpisode();
        break;
      }
      const rejoinMs = performance.now() - restartAt;
      await sleep(1_000);
      const gapMs = producer.closeEpisode();
      kills.push({ leader: victim.spec.nodeId, gapMs, rejoinMs });
      opts.log(
        `  kill ${k}: leader ${victim.spec.nodeId} killed, gap ${gapMs.toFixed(0)} ms, ` +
          `now led by ${leader}; restarted, it caught up in ${(rejoinMs / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    await load.stop();
    await until(
      'every record sent acknowledged',
      async () => (producer.unanswered === 0 ? true : null),
      60_000,
    )
      .catch((err: Error) => opts.log(`  ${err.message}: ${producer.unanswered} sends unanswered`))
      .finally(() => producer.close());
  }
  const check = await missingAcked(cluster.bootstrap, topic, ackedSeqs);
  opts.log(
    `  log check: ${ackedSeqs.length} records acknowledged, ${check.records} in the log ` +
      `(${check.duplicates} held twice), ${check.missing.length} acknowledged ones missing`,
  );
  return {
    kills,
    errors: Object.fromEntries(producer.errors),
    acked: ackedSeqs.length,
    missing: check.missing,
    duplicates: check.duplicates,
  };
}

export interface CatchUpResult {
  behindBytes: number;
  writeSecs: number;
  caughtUpSecs: number | null;
  /** From the restart until the leader lists the follower in sync again (the producer still on). */
  inSyncSecs: number | null;
  baselineRecordsPerSec: number;
  duringRecordsPerSec: number;
}

/**
 * Produces 1 KiB records as fast as they are acknowledged: `baselineSecs` with all three replicas
 * (the baseline), then with one follower killed until `behindBytes` more are written, then
 * restarts it and measures the time until its log end reaches the leader's as it was at the restart,
 * and the producer's records/s meanwhile; then, the producer still on, the time until the leader
 * lists the follower in sync again (up to `inSyncSecs` more: under a replication throttle below
 * the producer's rate it never is).
 */
export async function catchUp(
  cluster: LocalCluster,
  opts: {
    behindBytes: number;
    baselineSecs: number;
    timeoutSecs: number;
    inSyncSecs: number;
    log: (s: string) => void;
  },
): Promise<CatchUpResult> {
  const topic = 'catchup';
  const size = 1024;
  await replicatedTopic(cluster, topic);
  const producer = new TrackedProducer(cluster.bootstrap, topic);
  await producer.connect();
  const leader = await cluster.leaderOf(topic, null, 30_000);
  const load = saturate(producer, Buffer.alloc(size, 0x62), 64, 16);
  try {
    await sleep(1_000);
    const rate = async (secs: number): Promise<number> => {
      const a0 = producer.acked;
      const t0 = performance.now();
      await sleep(secs * 1000);
      return ((producer.acked - a0) * 1000) / (performance.now() - t0);
    };
    const baseline = await rate(opts.baselineSecs);
    opts.log(`  baseline with three replicas: ${Math.round(baseline)} records/s`);
    const follower = cluster.brokers.find((b) => b.spec.nodeId !== leader)!;
    await cluster.kill(follower);
    const writeStart = performance.now();
    const target = producer.acked + Math.ceil(opts.behindBytes / size);
    await until('the backlog written', async () => (producer.acked >= target ? true : null), 3_600_000, 200);
    const writeSecs = (performance.now() - writeStart) / 1000;
    const leaderEnd = await logEnd(cluster.broker(leader), topic);
    if (leaderEnd === null) throw new Error('the leader does not describe its partition');
    opts.log(
      `  broker ${follower.spec.nodeId} down while ${fmtMB(opts.behindBytes)} written (${writeSecs.toFixed(1)} s); restarting it`,
    );
    await cluster.startBroker(follower);
    const a0 = producer.acked;
    const t0 = performance.now();
    let caughtUpSecs: number | null = null;
    try {
      await until(
        'the follower caught up',
        async () => (((await logEnd(follower, topic)) ?? -1) >= leaderEnd ? true : null),
        opts.timeoutSecs * 1000,
        200,
      );
      caughtUpSecs = (performance.now() - t0) / 1000;
    } catch (err) {
      opts.log(`  ${(err as Error).message}`);
    }
    const during = ((producer.acked - a0) * 1000) / (performance.now() - t0);
    let inSyncSecs: number | null = null;
    if (caughtUpSecs !== null) {
      try {
        const id = follower.spec.nodeId;
        await until(
          'the follower back in sync',
          async () => ((await inSync(cluster.broker(leader), topic))?.includes(id) === true ? true : null),
          opts.inSyncSecs * 1000,
          200,
        );
        inSyncSecs = (performance.now() - t0) / 1000;
      } catch (err) {
        opts.log(`  ${(err as Error).message}`);
      }
    }
    return {
      behindBytes: opts.behindBytes,
      writeSecs,
      caughtUpSecs,
      inSyncSecs,
      baselineRecordsPerSec: baseline,
      duringRecordsPerSec: during,
    };
  } finally {
    await load.stop();
    await producer.close();
  }
}

export function fmtMB(bytes: number): string {
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(1)} GiB` : `${Math.round(bytes / (1 << 20))} MiB`;
}

export interface IdleBroker {
  nodeId: number;
  cpuShare: number;
  rssBytes: number;
}

/** Each broker's CPU (utime+stime over `secs`, as a share of one core) and RSS at the end. */
export async function idleCost(
  cluster: LocalCluster,
  secs: number,
  ticksPerSec: number,
): Promise<IdleBroker[]> {
  const pids = cluster.brokers.map((b) => b.child?.pid ?? -1);
  const before = pids.map((pid) => procStats(pid));
  const t0 = performance.now();
  await sleep(secs * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  return pids.map((pid, i) => {
    const after = procStats(pid);
    return {
      nodeId: cluster.brokers[i]!.spec.nodeId,
      cpuShare: (after.ticks - before[i]!.ticks) / ticksPerSec / elapsed,
      rssBytes: after.rssBytes,
    };
  });
}

/** Until every broker's Metadata names a leader for each of the topic's `partitions`. */
export async function allLed(cluster: LocalCluster, topic: string, partitions: number): Promise<void> {
  await until(
    `leaders for ${partitions} partitions`,
    async () => {
      for (const b of cluster.brokers) {
        const admin = new Admin({ bootstrap: b.address, requestTimeoutMs: 10_000 });
        try {
          const t = (await admin.metadata([topic])).topics[0];
          const led = t?.partitions.filter((p) => p.leader >= 0).length ?? 0;
          if (led < partitions) return null;
        } catch {
          return null;
        } finally {
          admin.close();
        }
      }
      return true;
    },
    1_800_000,
    1_000,
  );
}
