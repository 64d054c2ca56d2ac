// In-sync replicas, follower lag and the replication metrics of real brokers started with peers in
// one process. Today only the metadata log (__cluster_metadata) is replicated over the peers, so it
// is the partition watched: given three brokers, when a follower stops, then its lag grows on the
// leader and it leaves the in-sync replicas once replicaLagTimeMaxMs (small here) has passed, on
// every surface: the broker's stats, gRPC metadata and describe, GET /v1/cluster and /metrics.

import { afterEach, describe, expect, it } from 'vitest';
import { METADATA_TOPIC } from '../../broker/broker.js';
import { resolveBrokerConfig } from '../../broker/config.js';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { Admin } from '../../client/index.js';
import { http, sample } from './http-support.js';
import { freePort, removeDir, tempDir } from './support.js';

const LAG_MAX_MS = 1_500;
const running = new Set<RunningBroker>();
const admins: Admin[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(admins.splice(0).map((a) => a.close()));
  await Promise.all([...running].map((b) => b.close()));
  running.clear();
  for (const d of dirs.splice(0)) removeDir(d);
});

/** Polls until `done` holds (bounded: 30 s), returning its last value. */
async function until<T>(what: string, probe: () => T | Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stats = (b: RunningBroker) => b.broker.describePartition(METADATA_TOPIC, 0);

async function metrics(b: RunningBroker): Promise<string> {
  return (await http(b.httpAddress, 'GET', '/metrics')).body as string;
}

function admin(b: RunningBroker): Admin {
  const a = new Admin({ bootstrap: b.grpcAddress });
  admins.push(a);
  return a;
}

describe('the metadata log of three brokers', () => {
  it('lists every replica in sync, then drops a stopped follower once the lag time has passed', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const peers = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const brokers = await Promise.all(
      ports.map(async (port, i) => {
        const dataDir = tempDir('weir-isr-');
        dirs.push(dataDir);
        const b = await startBroker({
          dataDir,
          nodeId: i + 1,
          peers,
          replicationPort: port,
          clusterId: 'isr-test',
          replicaLagTimeMaxMs: LAG_MAX_MS,
          logLevel: 'silent',
        });
        running.add(b);
        return b;
      }),
    );
    // Given a leader whose followers both answer
    const leaderId = (
      await until(
        'a leader',
        () => brokers.map((b) => stats(b).leader),
        (ids) => ids[0] !== -1 && ids.every((id) => id === ids[0]),
      )
    )[0]!;
    const leader = brokers.find((b) => b.nodeId === leaderId)!;
    const followers = brokers.filter((b) => b !== leader);
    // (New replicas join amnesiac, out of the set until a commit of the leader's has caught them up.)
    await until(
      'both followers caught up and in sync',
      () => stats(leader).followers.map((f) => `${f.lagRecords}/${f.inSync}`),
      (lags) => lags.length === 2 && lags.every((l) => l === '0/true'),
    );
    expect(stats(leader).isr).toEqual([1, 2, 3]);
    // (The registrations are the first appends proposed to the log: the no-op is not one.)
    await until(
      'three brokers registered',
      () => leader.broker.cluster().brokers.length,
      (n) => n === 3,
    );
    expect(stats(leader).followers.map((f) => f.nodeId)).toEqual(followers.map((f) => f.nodeId));
    // A follower knows only the leader is in sync, and nothing of the lag.
    for (const f of followers) expect(stats(f)).toMatchObject({ isr: [leaderId], followers: [] });
    let text = await metrics(leader);
    expect(sample(text, 'weir_under_replicated_partitions')).toBe(0);
    expect(sample(text, 'weir_raft_elections_won_total')).toBeGreaterThanOrEqual(1);
    // The brokers' registrations went through the leader's log: each commit was timed.
    expect(sample(text, 'weir_raft_commit_latency_seconds_count')).toBeGreaterThan(0);
    const term = stats(leader).term;
    expect(sample(text, 'weir_partition_raft_term', { topic: METADATA_TOPIC, partition: '0' })).toBe(term);

    // When one follower stops
    const [stopped, staying] = followers as [RunningBroker, RunningBroker];
    const stoppedAt = Date.now();
    await stopped.close();
    running.delete(stopped);

    // Then its lag in time grows on the leader while it is still in sync...
    const lagMs = () => stats(leader).followers.find((f) => f.nodeId === stopped.nodeId)!.lagMs;
    await until('its lag growing', lagMs, (ms) => ms >= 500);
    // ...and it leaves the set once the lag time has passed, not before.
    const isr = await until(
      'the stopped follower out of the set',
      () => stats(leader).isr,
      (s) => !s.includes(stopped.nodeId),
    );
    // It answered until it stopped, at most a heartbeat (two 100 ms ticks) and a round trip before.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(LAG_MAX_MS - 300);
    expect(isr).toEqual([leaderId, staying.nodeId].sort());
    expect(stats(leader).followers.find((f) => f.nodeId === stopped.nodeId)).toMatchObject({ inSync: false });
    expect(stats(leader).followers.find((f) => f.nodeId === staying.nodeId)).toMatchObject({ inSync: true });

    text = await metrics(leader);
    expect(sample(text, 'weir_under_replicated_partitions')).toBe(1);
    const labels = { topic: METADATA_TOPIC, partition: '0', follower: String(stopped.nodeId) };
    expect(sample(text, 'weir_follower_lag_ms', labels)).toBeGreaterThan(LAG_MAX_MS);
    expect(
      sample(text, 'weir_follower_lag_ms', { ...labels, follower: String(staying.nodeId) }),
    ).toBeLessThan(LAG_MAX_MS);
    // The follower that stays leads nothing: it counts no partition under-replicated.
    expect(sample(await metrics(staying), 'weir_under_replicated_partitions')).toBe(0);

    // gRPC: the leader's metadata and describe say the same; the other broker names the leader only.
    const fromLeader = await admin(leader).metadata([METADATA_TOPIC]);
    expect(fromLeader.topics[0]!.partitions[0]).toMatchObject({ leader: leaderId, replicas: [1, 2, 3], isr });
    const described = await admin(leader).describeTopic(METADATA_TOPIC);
    expect(described.partitions[0]!.isr).toEqual(isr);
    expect(described.partitions[0]!.followers.map((f) => [f.nodeId, f.inSync])).toEqual(
      [
        [stopped.nodeId, false],
        [staying.nodeId, true],
      ].sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    const fromStaying = await admin(staying).metadata([METADATA_TOPIC]);
    expect(fromStaying.topics[0]!.partitions[0]).toMatchObject({ leader: leaderId, isr: [leaderId] });

    // HTTP: GET /v1/cluster lists the partition as the leader knows it.
    const cluster = await http(leader.httpAddress, 'GET', '/v1/cluster');
    expect(cluster.status).toBe(200);
    expect(cluster.body).toMatchObject({
      controllerId: leaderId,
      partitions: [
        {
          topic: METADATA_TOPIC,
          partition: 0,
          leader: leaderId,
          leaderEpoch: term,
          replicas: [1, 2, 3],
          isr,
          followers: expect.arrayContaining([
            expect.objectContaining({ nodeId: stopped.nodeId, inSync: false }),
          ]) as unknown,
        },
      ],
    });
  }, 60_000);
});

describe('replicaLagTimeMaxMs', () => {
  it("is Kafka's 30 s unless set, by option or WEIR_REPLICA_LAG_TIME_MAX_MS, and at least 1 ms", () => {
    expect(resolveBrokerConfig({}).replicaLagTimeMaxMs).toBe(30_000);
    expect(resolveBrokerConfig({ env: { WEIR_REPLICA_LAG_TIME_MAX_MS: '5000' } }).replicaLagTimeMaxMs).toBe(
      5_000,
    );
    expect(resolveBrokerConfig({ overrides: { replicaLagTimeMaxMs: 250 } }).replicaLagTimeMaxMs).toBe(250);
    expect(() => resolveBrokerConfig({ overrides: { replicaLagTimeMaxMs: 0 } })).toThrow(
      /replicaLagTimeMaxMs/,
    );
  });
});
