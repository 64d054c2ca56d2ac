// Consumer groups across a coordinator failover, on three `weir broker` processes (from dist/):
// given two SDK group members (one static) consuming a replicated topic while a producer writes,
// when the broker coordinating their group (the leader of its __consumer_offsets partition) is
// killed with SIGKILL, then the partition elects another leader, which rebuilds the group's
// commits from its log; the members, whose epochs it does not know, are told to rejoin
// (UNKNOWN_MEMBER_ID), rejoin there and resume from the committed offsets. Every record produced
// is read at least once, nothing below an offset committed before the kill is read again after
// it, the committed offsets never go back, and a surviving broker describes the group.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, GroupConsumer, Producer, type TopicPartition } from '../../client/index.js';
import { WeirError } from '../../proto/errors.js';
import { BROKER_BIN, FaultCluster } from '../../scripts/faults/fault-cluster.js';
import { pollUntil, sleep } from '../../scripts/faults/poll.js';
import { createTopic } from '../../scripts/faults/topic.js';

const OFFSETS_TOPIC = '__consumer_offsets';
const TOPIC = 'orders';
const PARTITIONS = 4;
const GROUP = 'billing';
const ALL: TopicPartition[] = Array.from({ length: PARTITIONS }, (_, partition) => ({
  topic: TOPIC,
  partition,
}));

let cluster: FaultCluster | null = null;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async (ctx) => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  // A failed run shows what the brokers said.
  if (ctx.task.result?.state === 'fail' && cluster !== null)
    for (const b of cluster.brokers) console.error(`broker ${b.nodeId}:\n${cluster.logTail(b.nodeId, 60)}`);
  await cluster?.destroy();
  cluster = null;
});

interface Read {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
  /** Read after the committed offsets were taken, just before the kill. */
  readonly afterKill: boolean;
}

function key(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}

/** A replica's `raft-state` file, or '' while it has none. */
function raftState(c: FaultCluster, nodeId: number, partition: number): string {
  try {
    return readFileSync(join(c.partitionDir(nodeId, OFFSETS_TOPIC, partition), 'raft-state'), 'utf8');
  } catch {
    return '';
  }
}

/** The group's coordinator and its __consumer_offsets partition, or null while none is named. */
async function coordinatorOf(admin: Admin): Promise<{ node: number; partition: number } | null> {
  try {
    const found = await admin.findCoordinator(GROUP, { timeoutMs: 2000 });
    return { node: found.coordinator.nodeId, partition: found.partition };
  } catch (err) {
    if (err instanceof WeirError && err.retriable) return null;
    throw err;
  }
}

/**
 * The coordinator once it is settled: its partition whole on every replica (a new replica is
 * amnesiac until its leader's first commit reaches it, and could not take over) and led by its
 * preferred replica, so the leader balancer moves nothing under the test.
 */
async function settledCoordinator(c: FaultCluster, admin: Admin): Promise<number> {
  const seen = await pollUntil(
    async () => {
      const now = await coordinatorOf(admin);
      if (now === null) return null;
      const placed = await admin.describeTopic(OFFSETS_TOPIC).catch(() => null);
      const preferred = placed?.partitions[now.partition]?.replicas[0] ?? -1;
      const amnesiac = c.brokers.map((b) => /^amnesiac: 0$/m.test(raftState(c, b.nodeId, now.partition)));
      return { ...now, preferred, amnesiac };
    },
    (v) => v !== null && v.preferred === v.node && v.amnesiac.every((whole) => whole),
    'a settled coordinator',
    20_000,
    100,
  );
  return seen!.node;
}

/** Whether the group is Stable with two members that share every partition. */
async function stableGroup(admin: Admin): Promise<boolean> {
  const group = await admin.describeGroup(GROUP, { timeoutMs: 2000 }).catch(() => null);
  if (group === null) return false;
  const owned = group.members.flatMap((m) => m.assignment.map(key)).sort();
  return (
    group.state === 'Stable' &&
    group.members.length === 2 &&
    group.members.every((m) => m.assignment.length > 0) &&
    owned.join() === ALL.map(key).sort().join()
  );
}

describe('a consumer group on three broker processes', () => {
  it('survives the kill -9 of its coordinator: members rejoin the next one, nothing committed is lost', async () => {
    const startedAt = Date.now();
    const c = await FaultCluster.start({
      env: {
        WEIR_OFFSETS_TOPIC_PARTITIONS: '3',
        WEIR_GROUP_HEARTBEAT_INTERVAL_MS: '200',
        WEIR_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
      },
    });
    cluster = c;
    await createTopic(c, 1, TOPIC, { partitions: PARTITIONS, replicationFactor: 3 });
    const bootstrap = c.bootstrapList();
    const admin = new Admin({ bootstrap, requestTimeoutMs: 3000 });
    closers.push(() => admin.close());

    // The coordinator is settled before any load: under a stream of commits, the leader balancer's
    // hand-over of the group's partition to its preferred replica can fail and be tried again,
    // each try a coordinator move of its own.
    const coordinator = await settledCoordinator(c, admin);

    // A producer writes throughout, a few sends in flight at a time; each record's value is unique.
    const producer = new Producer({ bootstrap, acks: 'all', lingerMs: 2, retryBackoffMs: 50 });
    closers.push(() => producer.close());
    const acked = new Set<string>();
    const sends = new Set<Promise<void>>();
    let producing = true;
    let sent = 0;
    const production = (async () => {
      while (producing) {
        const records = ALL.map(({ partition }) => ({ value: `v${sent + partition}`, partition }));
        sent += PARTITIONS;
        // A send that fails during the failover is not counted; it may still have been written.
        const send = producer.send({ topic: TOPIC, records }).then(
          () => records.forEach((r) => acked.add(r.value)),
          () => undefined,
        );
        sends.add(send);
        void send.finally(() => sends.delete(send));
        await sleep(20);
        while (sends.size >= 8) await Promise.race(sends);
      }
      await Promise.all(sends);
    })();

    // Two members, one static, consume.
    const reads: Read[] = [];
    const lost = new Map<string, number>();
    let killed = false;
    const member = (name: string, instanceId?: string): GroupConsumer => {
      const consumer = new GroupConsumer({
        bootstrap,
        groupId: GROUP,
        topics: [TOPIC],
        clientId: name,
        instanceId,
        autoOffsetReset: 'earliest',
        autoCommitIntervalMs: 200,
        // Far longer than the failover: a member loses its partitions only when told to.
        sessionTimeoutMs: 30_000,
        retryBackoffMs: 50,
        retryBackoffMaxMs: 500,
        requestTimeoutMs: 3000,
        onLost: () => {
          lost.set(name, (lost.get(name) ?? 0) + 1);
        },
      });
      closers.push(() => consumer.close());
      return consumer;
    };
    const members = [member('static', 'static-1'), member('dynamic')];
    const loops = members.map(async (consumer) => {
      for await (const r of consumer)
        reads.push({
          partition: r.partition,
          offset: r.offset,
          value: r.value!.toString(),
          afterKill: killed,
        });
    });

    await pollUntil(
      async () => {
        const committed = await admin.fetchOffsets(GROUP, ALL).catch(() => []);
        return committed.length === PARTITIONS && committed.every((o) => o.offset > 0) && stableGroup(admin);
      },
      (ready) => ready,
      'a stable group with commits on every partition',
      20_000,
      100,
    );
    expect((await coordinatorOf(admin))?.node).toBe(coordinator);
    // The coordinator has not moved, so no member has lost its partitions yet.
    expect(lost.size).toBe(0);

    // When: the committed offsets are taken, and the coordinator is killed at once.
    const before = await admin.fetchOffsets(GROUP, ALL);
    const sentAtKill = sent;
    killed = true;
    const killedAt = Date.now();
    await c.kill(coordinator);

    // Then another broker coordinates the group, and both members rejoin it: Stable again with
    // every partition assigned, as a broker that survived describes it.
    const survivor = c.brokers.find((b) => b.nodeId !== coordinator)!.nodeId;
    const survivorAdmin = new Admin({ bootstrap: c.grpcAddress(survivor), requestTimeoutMs: 3000 });
    closers.push(() => survivorAdmin.close());
    await pollUntil(
      async () => {
        const now = await coordinatorOf(survivorAdmin);
        return now !== null && now.node !== coordinator && (await stableGroup(survivorAdmin));
      },
      (ready) => ready,
      'the group stable at a new coordinator',
      20_000,
      100,
    );
    const recoveredMs = Date.now() - killedAt;
    // It knew neither member's epoch: each was told to rejoin and lost its partitions without a
    // commit once (its session, 30 s, did not expire), then rejoined, the static one as itself.
    expect(Object.fromEntries(lost)).toEqual({ static: 1, dynamic: 1 });
    const group = await survivorAdmin.describeGroup(GROUP);
    expect(group.members.map((m) => m.instanceId ?? '-').sort()).toEqual(['-', 'static-1']);

    // Writes on both sides of the kill, then everything acknowledged is read and committed.
    await pollUntil(
      async () => acked.size,
      (n) => n >= sentAtKill + 20 * PARTITIONS,
      'writes acknowledged after the kill',
      15_000,
      100,
    );
    producing = false;
    await production;
    const unread = (): string[] => {
      const read = new Set(reads.map((r) => r.value));
      return [...acked].filter((v) => !read.has(v));
    };
    await pollUntil(
      async () => unread().length,
      (n) => n === 0,
      'every acknowledged record read',
      15_000,
      100,
    );
    const end = await pollUntil(
      async () => {
        const described = await survivorAdmin.describeGroup(GROUP).catch(() => null);
        return described?.offsets.filter((o) => o.topic === TOPIC) ?? [];
      },
      (offsets) =>
        offsets.length === PARTITIONS &&
        offsets.every((o) => o.committed > 0 && o.committed === o.highWatermark),
      'every partition committed to its end',
      15_000,
      100,
    );
    expect(end.map((o) => o.partition).sort()).toEqual([0, 1, 2, 3]);
    console.info(
      `coordinator ${coordinator} killed ${killedAt - startedAt} ms into the run, the group Stable ` +
        `again ${recoveredMs} ms later; ${acked.size} records acknowledged, ${reads.length} read, ` +
        `${reads.length - new Set(reads.map((r) => r.value)).size} of them again`,
    );

    // At least once, no skips: every acknowledged record was read.
    expect(unread()).toEqual([]);
    // Nothing below an offset committed before the kill was read again after it: only what was
    // consumed and not yet committed is read twice.
    for (const { partition, offset } of before) {
      const again = reads.filter((r) => r.afterKill && r.partition === partition && r.offset < offset);
      expect(again, `partition ${partition}: read again below its commit ${offset}`).toEqual([]);
    }
    // The committed offsets never went back.
    const after = await survivorAdmin.fetchOffsets(GROUP, ALL);
    for (const b of before)
      expect(
        after.find((o) => o.partition === b.partition)!.offset,
        `partition ${b.partition}`,
      ).toBeGreaterThanOrEqual(b.offset);

    // `weir group describe`, pointed at a surviving broker only, shows the group.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [BROKER_BIN, 'group', 'describe', GROUP, '--format', 'json', '--bootstrap', c.grpcAddress(survivor)],
      { timeout: 10_000 },
    );
    const described = JSON.parse(stdout) as {
      state: string;
      members: { assignment: TopicPartition[] }[];
      offsets: { topic: string; partition: number; committed: number }[];
    };
    expect(described.state).toBe('Stable');
    expect(described.members.flatMap((m) => m.assignment.map(key)).sort()).toEqual(ALL.map(key).sort());
    for (const b of before) {
      const o = described.offsets.find((x) => x.topic === TOPIC && x.partition === b.partition);
      expect(o?.committed, `partition ${b.partition}`).toBeGreaterThanOrEqual(b.offset);
    }

    await Promise.all(members.map((m) => m.close()));
    await Promise.all(loops);
  }, 60_000);
});
