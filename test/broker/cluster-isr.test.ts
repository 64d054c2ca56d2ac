// In-sync replicas, follower lag and the replication metrics of real brokers started with peers in
// one process, watched on a topic of replication factor 3: given three brokers, when a follower
// stops, then its lag grows on the leader and it leaves the in-sync replicas once
// replicaLagTimeMaxMs (small here) has passed, on every surface: the broker's stats, gRPC metadata
// and describe, GET /v1/cluster and /metrics.

import { afterEach, describe, expect, it } from 'vitest';
import { METADATA_TOPIC } from '../../broker/broker.js';
import { resolveBrokerConfig } from '../../broker/config.js';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { Admin } from '../../client/index.js';
import { http, sample } from './http-support.js';
import { freePort, removeDir, tempDir } from './support.js';

const LAG_MAX_MS = 1_500;
const WATCHED = 'watched';
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

const stats = (b: RunningBroker) => b.broker.describePartition(WATCHED, 0);

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
    // Given three registered brokers and a topic replicated on all of them
    await until(
      'three brokers registered',
      () => brokers.map((b) => b.broker.cluster().brokers.length),
      (n) => n.every((x) => x === 3),
    );
    await admin(brokers[0]!).createTopic(WATCHED, { partitions: 1, replicationFactor: 3 });
    await until(
      'the topic on every broker',
      () => brokers.map((b) => b.broker.find(WATCHED, 0) !== undefined),
      (held) => held.every(Boolean),
    );
    // ...and a leader whose followers both answer
    const leaderId = (
      await until(
        'a leader: the preferred replica, so the leader-balancer moves nothing during the test',
        () => brokers.map((b) => stats(b).leader),
        (ids) =>
          ids[0] !== -1 && ids.every((id) => id === ids[0]) && stats(brokers[0]!).replicas[0] === ids[0],
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
    expect(stats(leader).followers.map((f) => f.nodeId)).toEqual(followers.map((f) => f.nodeId));
    // A follower knows only the leader is in sync, and nothing of the lag.
    for (const f of followers) expect(stats(f)).toMatchObject({ isr: [leaderId], followers: [] });
    await leader.broker.produceRecords(
      WATCHED,
      0,
      [{ key: null, value: Buffer.from('x'), headers: [], timestamp: 0 }],
      'all',
    );
    let text = await metrics(leader);
    expect(sample(text, 'weir_under_replicated_partitions')).toBe(0);
    expect(sample(text, 'weir_raft_elections_won_total')).toBeGreaterThanOrEqual(1);
    // A produce through the leader commits on a majority: its commit was timed.
    expect(sample(text, 'weir_raft_commit_latency_seconds_count')).toBeGreaterThan(0);
    const term = stats(leader).term;
    expect(sample(text, 'weir_partition_raft_term', { topic: WATCHED, partition: '0' })).toBe(term);

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

    // Each broker counts what it leads: this topic's partition, and the metadata log if it is the
    // controller (whose group lost the same follower).
    const ledPartitions = (b: RunningBroker): number =>
      [WATCHED, METADATA_TOPIC].filter((t) => b.broker.find(t, 0)?.role === 'leader').length;
    text = await metrics(leader);
    const under = sample(text, 'weir_under_replicated_partitions');
    expect(under).toBeGreaterThanOrEqual(1);
    expect(under).toBeLessThanOrEqual(ledPartitions(leader));
    const labels = { topic: WATCHED, partition: '0', follower: String(stopped.nodeId) };
    expect(sample(text, 'weir_follower_lag_ms', labels)).toBeGreaterThan(LAG_MAX_MS);
    expect(
      sample(text, 'weir_follower_lag_ms', { ...labels, follower: String(staying.nodeId) }),
    ).toBeLessThan(LAG_MAX_MS);
    // The follower that stays does not lead the topic: it counts at most the metadata log.
    expect(sample(await metrics(staying), 'weir_under_replicated_partitions')).toBeLessThanOrEqual(
      ledPartitions(staying),
    );

    // gRPC: the leader's metadata and describe say the same; the other broker names the leader only.
    const fromLeader = await admin(leader).metadata([WATCHED]);
    expect(fromLeader.topics[0]!.partitions[0]).toMatchObject({ leader: leaderId, replicas: [1, 2, 3], isr });
    const described = await admin(leader).describeTopic(WATCHED);
    expect(described.partitions[0]!.isr).toEqual(isr);
    expect(described.partitions[0]!.followers.map((f) => [f.nodeId, f.inSync])).toEqual(
      [
        [stopped.nodeId, false],
        [staying.nodeId, true],
      ].sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    const fromStaying = await admin(staying).metadata([WATCHED]);
    expect(fromStaying.topics[0]!.partitions[0]).toMatchObject({ leader: leaderId, isr: [leaderId] });

    // HTTP: GET /v1/cluster lists the partition as the leader knows it.
    const cluster = await http(leader.httpAddress, 'GET', '/v1/cluster');
    expect(cluster.status).toBe(200);
    expect(cluster.body).toMatchObject({
      controllerId: expect.any(Number) as number,
      partitions: expect.arrayContaining([
        expect.objectContaining({
          topic: WATCHED,
          partition: 0,
          leader: leaderId,
          leaderEpoch: term,
          replicas: [1, 2, 3],
          isr,
          followers: expect.arrayContaining([
            expect.objectContaining({ nodeId: stopped.nodeId, inSync: false }),
          ]) as unknown,
        }),
      ]) as unknown,
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
