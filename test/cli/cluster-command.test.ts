// `weir cluster status` against real brokers: one broker (it is the cluster, its controller and
// every partition's leader), then three started with peers, asked through a broker that does not
// lead the metadata log: the in-sync replicas and the lag still come from the leader.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { clusterStatus, statusText } from '../../client/cli/cluster-command.js';
import type { ClusterMetadata, TopicDescription } from '../../client/index.js';
import { freePort, removeDir, tempDir } from '../broker/support.js';
import { okLines, startCliBroker, waitFor, weir, type CliBroker } from './cli-support.js';

const WATCHED = 'watched';

interface Status {
  clusterId: string;
  controller: number;
  brokers: { nodeId: number; address: string; alive: boolean }[];
  partitions: {
    topic: string;
    partition: number;
    leader: number;
    leaderEpoch: number;
    replicas: number[];
    inSync: number[];
    highWatermark: number;
    followers: { nodeId: number; lagRecords: number; lagMs: number; inSync: boolean }[];
  }[];
}

async function status(bootstrap: string): Promise<Status> {
  const out = okLines(await weir(['cluster', 'status', '--format', 'json', '--bootstrap', bootstrap]));
  expect(out).toHaveLength(1);
  return JSON.parse(out[0]!) as Status;
}

describe('weir cluster status on one broker', () => {
  let broker: CliBroker;
  beforeAll(async () => {
    broker = await startCliBroker();
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('shows the broker as the cluster and its controller, and each partition led by it, in sync alone', async () => {
    const b = ['--bootstrap', broker.bootstrap];
    await weir(['topic', 'create', 'orders', '--partitions', '2', ...b]);
    await weir(['produce', 'orders', '--partition', '1', ...b], { input: 'a\nb\n' });

    const s = await status(broker.bootstrap);
    expect(s.controller).toBe(0);
    expect(s.brokers).toEqual([{ nodeId: 0, address: broker.bootstrap, alive: true }]);
    const orders = s.partitions.filter((p) => p.topic === 'orders');
    expect(orders).toEqual([
      {
        topic: 'orders',
        partition: 0,
        leader: 0,
        leaderEpoch: 1,
        replicas: [0],
        inSync: [0],
        highWatermark: 0,
        followers: [],
      },
      {
        topic: 'orders',
        partition: 1,
        leader: 0,
        leaderEpoch: 1,
        replicas: [0],
        inSync: [0],
        highWatermark: 2,
        followers: [],
      },
    ]);

    const text = okLines(await weir(['cluster', 'status', ...b]));
    expect(text[0]).toMatch(/^Cluster: \S+\s+controller: 0\s+brokers: 1$/);
    expect(text[1]).toBe('');
    expect(text[2]).toMatch(/^BROKER\s+ADDRESS\s+ALIVE$/);
    expect(text[3]!.split(/\s+/)).toEqual(['0', broker.bootstrap, 'yes']);
    expect(text[4]).toBe('');
    expect(text[5]).toMatch(/^TOPIC\s+PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\s+HIGH-WATERMARK\s+LAG$/);
    const rows = text.slice(6).map((l) => l.split(/\s+/));
    expect(rows.filter((r) => r[0] === 'orders')).toEqual([
      ['orders', '0', '0', '1', '0', '0', '0', '-'],
      ['orders', '1', '0', '1', '0', '0', '2', '-'],
    ]);
  });
});

describe('weir cluster status on three brokers', () => {
  const running = new Set<RunningBroker>();
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all([...running].map((b) => b.close()));
    running.clear();
    for (const d of dirs.splice(0)) removeDir(d);
  });

  it('asks the leader for the in-sync replicas and lag, and shows a stopped follower dropped', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const peers = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const brokers = await Promise.all(
      ports.map(async (port, i) => {
        const dataDir = tempDir('weir-cli-cluster-');
        dirs.push(dataDir);
        const b = await startBroker({
          dataDir,
          nodeId: i + 1,
          peers,
          replicationPort: port,
          clusterId: 'cli-cluster',
          replicaLagTimeMaxMs: 1_000,
          logLevel: 'silent',
        });
        running.add(b);
        return b;
      }),
    );
    await waitFor(
      () => brokers.every((b) => b.broker.cluster().brokers.length === 3),
      'three brokers registered',
      30_000,
    );
    const created = await weir([
      'topic',
      'create',
      WATCHED,
      '--partitions',
      '1',
      '--replication-factor',
      '3',
      '--bootstrap',
      brokers[0]!.grpcAddress,
    ]);
    expect(created.code).toBe(0);
    await waitFor(
      () => brokers.every((b) => b.broker.find(WATCHED, 0) !== undefined),
      'the topic everywhere',
      30_000,
    );
    const inSyncAtLeader = (n: number) => () =>
      brokers.some((b) => {
        const p = b.broker.describePartition(WATCHED, 0);
        // Led by its preferred replica, so the leader-balancer moves nothing during the test.
        return (
          p.leader === b.nodeId &&
          p.replicas[0] === b.nodeId &&
          p.isr.length === n &&
          b.broker.cluster().brokers.length === 3
        );
      });
    await waitFor(inSyncAtLeader(3), 'a leader with all three in sync and registered', 30_000);
    const leader = brokers.find((b) => b.broker.describePartition(WATCHED, 0).leader === b.nodeId)!;
    const [asked, stopped] = brokers.filter((b) => b !== leader) as [RunningBroker, RunningBroker];

    // Asked through a follower, which itself knows only the leader is in sync
    // One produce, so the partition's high watermark is past its leader's first entry.
    await leader.broker.produceRecords(
      WATCHED,
      0,
      [{ key: null, value: Buffer.from('x'), headers: [], timestamp: 0 }],
      'all',
    );
    let s = await status(asked.grpcAddress);
    expect(s.controller).toBe(leader.broker.cluster().controllerId);
    expect(s.brokers.map((b) => [b.nodeId, b.address])).toEqual(
      [...brokers].sort((a, b) => a.nodeId - b.nodeId).map((b) => [b.nodeId, b.grpcAddress]),
    );
    let meta = s.partitions.find((p) => p.topic === WATCHED)!;
    expect(meta).toMatchObject({
      partition: 0,
      leader: leader.nodeId,
      replicas: [1, 2, 3],
      inSync: [1, 2, 3],
    });
    expect(meta.highWatermark).toBeGreaterThan(0);
    expect(meta.followers.map((f) => f.nodeId)).toEqual([asked.nodeId, stopped.nodeId].sort());

    // When a follower stops, after the lag time it is out, and its lag shows
    await stopped.close();
    running.delete(stopped);
    await waitFor(inSyncAtLeader(2), 'the stopped follower out of the set', 30_000);
    s = await status(asked.grpcAddress);
    meta = s.partitions.find((p) => p.topic === WATCHED)!;
    expect(meta.inSync).toEqual([leader.nodeId, asked.nodeId].sort());
    const lag = meta.followers.find((f) => f.nodeId === stopped.nodeId)!;
    expect(lag.inSync).toBe(false);
    expect(lag.lagMs).toBeGreaterThan(1_000);

    const row = okLines(await weir(['cluster', 'status', '--bootstrap', asked.grpcAddress]))
      .map((l) => l.split(/\s+/))
      .find((r) => r[0] === WATCHED)!;
    expect(row.slice(0, 6)).toEqual([
      WATCHED,
      '0',
      String(leader.nodeId),
      String(meta.leaderEpoch),
      '1,2,3',
      meta.inSync.join(','),
    ]);
    expect(row[7]).toMatch(new RegExp(`(^|,)${stopped.nodeId}:\\d+/\\d+ms(,|$)`));
  }, 90_000);
});

describe('the status of a partition whose leader did not answer', () => {
  const metadata: ClusterMetadata = {
    clusterId: 'c',
    controllerId: 1,
    brokers: [{ nodeId: 1, host: 'h', grpcPort: 1, httpPort: 2 }],
    topics: [
      {
        name: 't',
        internal: false,
        error: null,
        partitions: [
          { partition: 1, leader: 2, replicas: [1, 2], leaderEpoch: 4, isr: [2] },
          { partition: 0, leader: 1, replicas: [1, 2], leaderEpoch: 3, isr: [1, 2] },
        ],
      },
    ],
  };
  const described = (leader: number): TopicDescription => ({
    name: 't',
    internal: false,
    replicationFactor: 2,
    configs: {},
    overrides: {},
    partitions: [0, 1].map((partition) => ({
      partition,
      leader,
      replicas: [1, 2],
      isr: [1, 2],
      followers: [{ nodeId: 3 - leader, matchEnd: 5, lagRecords: 2, lagMs: 300, inSync: true }],
      logStartOffset: 0,
      highWatermark: 7,
      logEndOffset: 7,
      sizeBytes: 0,
      segments: 1,
      addingReplicas: [],
      removingReplicas: [],
    })),
  });

  it("is the bootstrap broker's, with no high watermark or lag; a leader's own answer is taken whole", () => {
    // Broker 1 answered; broker 2 (leader of partition 1) did not.
    const s = clusterStatus(metadata, new Map([['t/1', described(1)]]));
    expect(s.partitions.map((p) => [p.partition, p.inSync, p.highWatermark, p.followers.length])).toEqual([
      [0, [1, 2], 7, 1],
      [1, [2], -1, 0],
    ]);
    const rows = statusText(s)
      .split('\n')
      .filter((l) => l.startsWith('t '))
      .map((l) => l.split(/\s+/));
    expect(rows).toEqual([
      ['t', '0', '1', '3', '1,2', '1,2', '7', '2:2/300ms'],
      ['t', '1', '2', '4', '1,2', '2', '-', '-'],
    ]);
  });

  it('does not take the word of a broker that no longer leads the partition', () => {
    // Broker 1 was asked as partition 1's leader but, by the time it answered, led neither.
    const stale = { ...described(2), partitions: described(2).partitions.map((p) => ({ ...p, leader: 3 })) };
    const s = clusterStatus(metadata, new Map([['t/2', stale]]));
    expect(s.partitions[1]).toMatchObject({ inSync: [2], highWatermark: -1, followers: [] });
  });
});
