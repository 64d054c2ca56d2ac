// A replicated topic (three replicas, the leader elected by its Raft group, acks=all answered once
// a majority holds the batch) under the workload while its leader is killed with SIGKILL, frozen
// with SIGSTOP, or cut off in a minority by a network partition: no acknowledged write may be lost,
// and once healed every replica holds the same batches below the high watermark. The negative
// control acknowledges on the leader alone (acks=leader), cuts the leader off (the client, in the
// host's namespace, still reaches it), kills it once the majority has a new leader, and heals: the
// writes only it held are gone, and the checker must say so.
//
// Each test skips, saying why, where the brokers refuse a replication factor of 3 (before topics
// replicate) and, for the partitions, where network namespaces cannot be made. Clients take every
// broker as their bootstrap list and the SDK routes to the leader (scripts/faults/topic.ts
// followLeader: an SDK without routing is followed by hand).

import { afterEach, describe, expect, it } from 'vitest';
import type { AcksOption } from '../../client/index.js';
import { WeirError } from '../../proto/errors.js';
import {
  brokenProperties,
  checkHistory,
  describeResult,
  type CheckResult,
} from '../../scripts/faults/checker.js';
import { FaultCluster } from '../../scripts/faults/fault-cluster.js';
import type { ReplicaLog } from '../../scripts/faults/history.js';
import { NamespaceNet, namespacesUnavailable } from '../../scripts/faults/netns.js';
import { sleep } from '../../scripts/faults/poll.js';
import {
  createTopic,
  followLeader,
  leaderSeenBy,
  partitionLeader,
  replicasCaughtUp,
  sdkRoutes,
} from '../../scripts/faults/topic.js';
import { Workload, readBack } from '../../scripts/faults/workload.js';

const TOPIC = 'replicated';
const noNamespaces = namespacesUnavailable();
let cluster: FaultCluster | null = null;
let net: NamespaceNet | null = null;

afterEach(async () => {
  await cluster?.destroy();
  net?.destroy();
  cluster = null;
  net = null;
});

/** A cluster with a three-replica topic, or why there cannot be one here yet. */
async function replicatedCluster(
  withNet: boolean,
): Promise<{ c: FaultCluster; refused: null } | { refused: string }> {
  net = withNet ? NamespaceNet.create(3) : null;
  const c = await FaultCluster.start(net === null ? {} : { net });
  cluster = c;
  try {
    await createTopic(c, 1, TOPIC, {
      partitions: 1,
      replicationFactor: 3,
      configs: { 'segment.bytes': '16384' },
    });
  } catch (err) {
    if (err instanceof WeirError && err.code === 'INVALID_REPLICATION_FACTOR')
      return { refused: `the brokers refuse replication factor 3: ${err.message}` };
    throw err;
  }
  return { c, refused: null };
}

/** The partition's leader, once the brokers `among` (default: all) agree on one that `ok` accepts. */
function leader(c: FaultCluster, among?: number[], ok?: (id: number) => boolean): Promise<number> {
  return partitionLeader(c, TOPIC, among, ok);
}

function workload(c: FaultCluster, acks: AcksOption): Workload {
  return new Workload({
    bootstrap: followLeader(c, TOPIC),
    topic: TOPIC,
    partitions: 1,
    producers: 3,
    inFlight: 3,
    run: `rf3-${acks}-${Date.now()}`,
    acks,
    deliveryTimeoutMs: 4000,
    requestTimeoutMs: 2000,
  });
}

/** Reads back, stops every broker cleanly, and checks the history with each replica's files. */
async function finish(c: FaultCluster, w: Workload): Promise<CheckResult> {
  const ops = await w.stop();
  const l = await leader(c);
  const back = await readBack(sdkRoutes() ? c.bootstrapList() : c.grpcAddress(l), TOPIC, 1);
  // Every replica caught up to the high watermark the read saw, then stopped so files hold still.
  await replicasCaughtUp(c, TOPIC, back.highWatermarks.get(0) ?? 0);
  for (const b of c.brokers) await c.terminate(b.nodeId);
  const replicas: ReplicaLog[] = c.brokers.map((b) => ({
    broker: b.nodeId,
    partition: 0,
    batches: c.readReplica(b.nodeId, TOPIC, 0),
  }));
  return checkHistory({ ops, reads: back.reads, replicas, highWatermarks: back.highWatermarks });
}

// About two minutes on a loaded two-core machine: off CI, where the seeded run with three
// replicas (scenario.test.ts) stands for them. `npm run faults:test` runs them.
const full = process.env.WEIR_FAULTS === 'full';
if (!full) console.warn('test/faults/replicated: skipped: set WEIR_FAULTS=full (npm run faults:test)');

describe.skipIf(!full)('a topic with three replicas under faults', () => {
  it('loses no acknowledged write when its leader is killed with SIGKILL', async (ctx) => {
    const made = await replicatedCluster(false);
    if (made.refused !== null) return ctx.skip(made.refused);
    const c = made.c;
    const w = workload(c, 'all');
    w.start();
    for (let round = 0; round < 2; round++) {
      await sleep(1500);
      const l = await leader(c);
      await c.kill(l);
      await sleep(1500);
      await c.restart(l);
    }
    await sleep(1000);
    const result = await finish(c, w);
    console.info(`rf3 kill -9: ${describeResult(result)}`);
    expect(brokenProperties(result), describeResult(result)).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(0);
  }, 90_000);

  it('loses no acknowledged write when its leader is frozen with SIGSTOP', async (ctx) => {
    const made = await replicatedCluster(false);
    if (made.refused !== null) return ctx.skip(made.refused);
    const c = made.c;
    const w = workload(c, 'all');
    w.start();
    await sleep(1500);
    const l = await leader(c);
    c.pause(l);
    await sleep(4000); // past the election timeout: the others elect a leader meanwhile
    c.resume(l);
    await sleep(2000);
    const result = await finish(c, w);
    console.info(`rf3 SIGSTOP: ${describeResult(result)}`);
    expect(brokenProperties(result), describeResult(result)).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(0);
  }, 90_000);

  it.skipIf(noNamespaces !== null)(
    'loses no acknowledged write when its leader is cut off in a minority',
    async (ctx) => {
      const made = await replicatedCluster(true);
      if (made.refused !== null) return ctx.skip(made.refused);
      const c = made.c;
      const w = workload(c, 'all');
      w.start();
      await sleep(1500);
      const l = await leader(c);
      net!.isolate(l - 1);
      await sleep(5000);
      net!.heal();
      await sleep(2000);
      const result = await finish(c, w);
      console.info(`rf3 minority leader: ${describeResult(result)}`);
      expect(brokenProperties(result), describeResult(result)).toEqual([]);
      expect(result.acknowledged).toBeGreaterThan(0);
    },
    90_000,
  );

  it.skipIf(noNamespaces !== null)(
    'with acks=leader, a leader cut off and killed loses what it alone acknowledged (negative control)',
    async (ctx) => {
      const made = await replicatedCluster(true);
      if (made.refused !== null) return ctx.skip(made.refused);
      const c = made.c;
      const w = workload(c, 'leader');
      w.start();
      await sleep(1500);
      const l = await leader(c);
      net!.isolate(l - 1);
      // The client still reaches the old leader, which goes on acknowledging on its own append
      // until it learns it was deposed; the majority elects a leader of its own meanwhile.
      const majority = c.brokers.map((b) => b.nodeId).filter((id) => id !== l);
      await leader(c, majority, (id) => id !== l);
      await sleep(1000);
      // Reported, not asserted: whether the cut-off leader still thinks it leads (a Raft leader
      // that checks its quorum steps down within an election timeout).
      console.info(`cut-off leader ${l} names ${await leaderSeenBy(c, l, TOPIC)} as leader`);
      await c.kill(l);
      net!.heal();
      await c.restart(l);
      await sleep(2000);
      const result = await finish(c, w);
      console.info(`rf3 acks=leader, leader cut off and killed: ${describeResult(result)}`);
      expect(result.lost).toBeGreaterThan(0);
      expect(brokenProperties(result)).toContain('ack-lost');
    },
    90_000,
  );
});
