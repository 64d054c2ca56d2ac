// One seeded fault run: a three-broker cluster (in network namespaces when allowed), a topic, the
// workload, and faults drawn from the seed one after another (each one undone before the next:
// a killed broker restarted, a paused one resumed, a cut healed); then the read back and the
// checker. After each healed cut the brokers must agree on one controller again.
//
// With one replica (`rf` 1), the topic lives on the broker the controller placed it on: kills and
// pauses of that broker test its crash recovery, cuts between brokers test the controller quorum
// (the client, in the host's namespace, always reaches the topic's broker). With `rf` 3 the same
// run aims at the partition's leader as the brokers report it.
//
// With more than one replica, every replica's segment files are compared below the high
// watermark at the end, the brokers stopped.
//
// A `bitflip` run ends differently: the topic's broker is killed, one bit of a closed segment
// flipped (in the records, the CRC, the length, the base offset or the leader epoch: the seed
// picks), and the broker restarted. With one replica the data there is gone; what must hold is
// that it is never served as good data: the read fails with CORRUPT_MESSAGE, or recovery truncated
// the log and the checker counts the loss (reported apart from the other runs' losses), or the
// flip changed nothing a reader sees (the leader epoch). Served at other offsets or as other
// values, it breaks the run; so does a read that stalls on it (the consumer is never told).

import type { AcksOption } from '../../client/index.js';
import { WeirError } from '../../proto/errors.js';
import { checkHistory, type CheckResult } from './checker.js';
import { FaultCluster, type FlipField } from './fault-cluster.js';
import type { ReplicaLog } from './history.js';
import { NamespaceNet } from './netns.js';
import { pollUntil, seededRandom, sleep } from './poll.js';
import { createTopic, followLeader, leaderSeenBy, partitionLeader, replicasCaughtUp } from './topic.js';
import { ReadStalled, Workload, readBack } from './workload.js';

export const FAULT_KINDS = [
  'kill',
  'pause',
  'long-pause',
  'isolate-controller',
  'isolate-leader',
  'one-way',
  'bridge',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number] | 'bitflip';
const NETWORK_FAULTS: ReadonlySet<FaultKind> = new Set([
  'isolate-controller',
  'isolate-leader',
  'one-way',
  'bridge',
]);

export interface ScenarioOptions {
  readonly seed: number;
  /** How long the workload runs while faults happen. */
  readonly seconds: number;
  /** Use network namespaces (and so network faults). */
  readonly namespaces: boolean;
  readonly replicationFactor: number;
  readonly acks: AcksOption;
  /** End with a bit flipped in a closed segment of the topic's broker. */
  readonly bitflip: boolean;
  /** The field the bit flip hits; default: one the seed picks. */
  readonly flipField?: FlipField;
  readonly log?: (line: string) => void;
}

export interface FaultEvent {
  readonly kind: FaultKind;
  readonly broker: number;
  readonly detail?: string;
}

export interface ScenarioReport {
  readonly seed: number;
  readonly faults: FaultEvent[];
  readonly result: CheckResult | null;
  /** Controller agreement after each healed cut: how many held, and what the others saw. */
  readonly controllerAgreed: number;
  readonly controllerProblems: string[];
  /** Bitflip runs: how the corruption showed (a read error, a truncation, or served data). */
  readonly corruption?:
    'read-refused' | 'truncated' | 'no-effect' | 'served-wrong' | 'read-stalled' | 'skipped';
  /** The run could not finish (a broker did not start, a read did not end). */
  readonly error?: string;
  readonly dir?: string;
}

const TOPIC = 'faults';
const DELIVERY_TIMEOUT_MS = 5000;
export const FLIP_TARGETS: readonly FlipField[] = ['records', 'crc', 'length', 'base-offset', 'leader-epoch'];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

/** Waits for every broker to name one controller; returns it. */
async function agreedController(c: FaultCluster, timeoutMs = 20_000): Promise<number> {
  const ids = await pollUntil(
    () => c.controllers(),
    (seen) => seen.every((id) => id !== null && id > 0 && id === seen[0]),
    'every broker naming one controller',
    timeoutMs,
  );
  return ids[0]!;
}

class Run {
  readonly rand: () => number;
  readonly faults: FaultEvent[] = [];
  controllerAgreed = 0;
  readonly controllerProblems: string[] = [];
  home = 1;
  flipSkipped = false;

  constructor(
    readonly o: ScenarioOptions,
    readonly c: FaultCluster,
    readonly net: NamespaceNet | null,
  ) {
    this.rand = seededRandom(o.seed);
  }

  log(line: string): void {
    this.o.log?.(`seed ${this.o.seed}: ${line}`);
  }

  async createTopic(): Promise<string | (() => Promise<string>)> {
    const via = 1 + Math.floor(this.rand() * this.c.brokers.length);
    await createTopic(this.c, via, TOPIC, {
      partitions: 1,
      replicationFactor: this.o.replicationFactor,
      configs: { 'segment.bytes': '16384' },
    });
    this.home = await partitionLeader(this.c, TOPIC);
    return this.o.replicationFactor > 1 ? followLeader(this.c, TOPIC) : this.c.grpcAddress(this.home);
  }

  /** The broker a fault aimed at the data hits: the partition's leader (one replica: its home). */
  async target(): Promise<number> {
    if (this.o.replicationFactor === 1) return this.home;
    for (const b of this.c.brokers) {
      const leader = await leaderSeenBy(this.c, b.nodeId, TOPIC);
      if (leader > 0) return leader;
    }
    return pick(this.rand, this.c.brokers).nodeId;
  }

  async fault(): Promise<void> {
    const kinds = FAULT_KINDS.filter((k) => this.net !== null || !NETWORK_FAULTS.has(k));
    const kind = pick(this.rand, kinds);
    const n = this.c.brokers.length;
    const other = (not: number) =>
      pick(
        this.rand,
        [...Array(n).keys()].map((i) => i + 1).filter((id) => id !== not),
      );
    const holdMs = 500 + Math.floor(this.rand() * 2500);
    // Most faults aimed at the data's broker; a third anywhere.
    const aimed = this.rand() < 0.67 ? await this.target() : 1 + Math.floor(this.rand() * n);
    switch (kind) {
      case 'kill':
        this.record({ kind, broker: aimed });
        await this.c.kill(aimed);
        await sleep(holdMs / 4);
        await this.c.restart(aimed);
        return;
      case 'pause':
      case 'long-pause': {
        // A long pause outlasts the producers' delivery timeout: sends fail with unknown outcomes.
        const ms = kind === 'pause' ? holdMs : DELIVERY_TIMEOUT_MS + 1000;
        this.record({ kind, broker: aimed, detail: `${ms} ms` });
        this.c.pause(aimed);
        await sleep(ms);
        this.c.resume(aimed);
        return;
      }
      case 'isolate-controller': {
        const controller = await agreedController(this.c).catch(() => aimed);
        this.record({ kind, broker: controller });
        this.net!.isolate(controller - 1);
        break;
      }
      case 'isolate-leader':
        this.record({ kind, broker: aimed });
        this.net!.isolate(aimed - 1);
        break;
      case 'one-way': {
        const to = other(aimed);
        this.record({ kind, broker: aimed, detail: `${aimed} -> ${to} dropped` });
        this.net!.cut(aimed - 1, to - 1, true);
        break;
      }
      case 'bridge':
        this.record({ kind, broker: aimed, detail: `only ${aimed} talks to both sides` });
        this.net!.bridgeThrough(aimed - 1);
        break;
    }
    await sleep(holdMs + 2000); // long enough for an election (1 to 2 s) inside the cut
    this.net!.heal();
    await this.checkController();
  }

  async checkController(): Promise<void> {
    try {
      await agreedController(this.c);
      this.controllerAgreed++;
    } catch (err) {
      this.controllerProblems.push((err as Error).message);
    }
  }

  record(event: FaultEvent): void {
    this.faults.push(event);
    this.log(`${event.kind} broker ${event.broker}${event.detail === undefined ? '' : ` (${event.detail})`}`);
  }

  /** Kills the topic's broker, flips a bit in a closed segment, restarts it. */
  async flip(): Promise<void> {
    const b = this.home;
    await this.c.kill(b);
    const field = this.o.flipField ?? pick(this.rand, FLIP_TARGETS);
    try {
      this.record({ kind: 'bitflip', broker: b, detail: this.c.flipBit(b, TOPIC, 0, this.rand, field) });
    } catch (err) {
      // Too few records for a closed segment (a slow run): nothing to flip, said so.
      this.flipSkipped = true;
      this.log(`bitflip skipped: ${(err as Error).message}`);
    }
    await this.c.restart(b);
  }
}

/** Every replica's batches, read from its files once all have caught up to `hw` and stopped cleanly. */
async function stoppedReplicas(c: FaultCluster, hw: number): Promise<ReplicaLog[]> {
  await replicasCaughtUp(c, TOPIC, hw);
  for (const b of c.brokers) await c.terminate(b.nodeId);
  return c.brokers.map((b) => ({
    broker: b.nodeId,
    partition: 0,
    batches: c.readReplica(b.nodeId, TOPIC, 0),
  }));
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioReport> {
  const net = o.namespaces ? NamespaceNet.create(3) : null;
  let cluster: FaultCluster | null = null;
  let run: Run | null = null;
  let failed = false;
  try {
    // Checkpoints every second, so a kill leaves segments below the recovery point (not re-read at
    // start) as well as above it (re-read and truncated at the first bad batch).
    const env = { WEIR_CHECKPOINT_INTERVAL_MS: '1000' };
    cluster = await FaultCluster.start(net === null ? { env } : { net, env });
    run = new Run(o, cluster, net);
    await agreedController(cluster, 30_000);
    const bootstrap = await run.createTopic();
    const workload = new Workload({
      bootstrap,
      topic: TOPIC,
      partitions: 1,
      producers: 3,
      inFlight: 3,
      run: `seed${o.seed}`,
      acks: o.acks,
      deliveryTimeoutMs: DELIVERY_TIMEOUT_MS,
      requestTimeoutMs: 1500,
    });
    workload.start();
    const end = Date.now() + o.seconds * 1000;
    while (Date.now() < end) {
      await sleep(300 + Math.floor(run.rand() * 1200));
      await run.fault();
    }
    await sleep(1000);
    const ops = await workload.stop();
    if (o.bitflip) await run.flip();
    const base = { seed: o.seed, faults: run.faults, controllerAgreed: run.controllerAgreed };
    let back;
    try {
      back = await readBack(typeof bootstrap === 'string' ? bootstrap : await bootstrap(), TOPIC, 1);
    } catch (err) {
      if (!o.bitflip) throw err;
      if (err instanceof WeirError && err.code === 'CORRUPT_MESSAGE')
        return {
          ...base,
          controllerProblems: run.controllerProblems,
          result: null,
          corruption: 'read-refused',
        };
      if (err instanceof ReadStalled) {
        run.log(err.message);
        failed = true;
        return {
          ...base,
          controllerProblems: run.controllerProblems,
          result: null,
          corruption: 'read-stalled',
          dir: cluster.dir,
        };
      }
      throw err;
    }
    const replicas =
      o.replicationFactor > 1 && !o.bitflip
        ? await stoppedReplicas(cluster, back.highWatermarks.get(0) ?? 0)
        : [];
    const result = checkHistory({ ops, reads: back.reads, replicas, highWatermarks: back.highWatermarks });
    const wrong = result.findings.some(
      (f) => f.property === 'unexpected' || f.property === 'offset-mismatch',
    );
    // A run that breaks a property keeps its files (data directories, broker logs) for a look.
    failed = o.bitflip ? wrong : result.findings.length > 0;
    const kept = failed ? { dir: cluster.dir } : {};
    if (!o.bitflip) return { ...base, controllerProblems: run.controllerProblems, result, ...kept };
    const corruption = run.flipSkipped
      ? 'skipped'
      : wrong
        ? 'served-wrong'
        : result.lost > 0
          ? 'truncated'
          : 'no-effect';
    return { ...base, controllerProblems: run.controllerProblems, result, corruption, ...kept };
  } catch (err) {
    failed = true;
    return {
      seed: o.seed,
      faults: run?.faults ?? [],
      result: null,
      controllerAgreed: run?.controllerAgreed ?? 0,
      controllerProblems: run?.controllerProblems ?? [],
      error: err instanceof Error ? err.message : String(err),
      ...(cluster === null ? {} : { dir: cluster.dir }),
    };
  } finally {
    await cluster?.destroy({ keep: failed });
    net?.destroy();
  }
}
