// The replication throttle (replicationThrottleBytes) on three real brokers with peers in one
// process: given a topic of replication factor 3 and a follower stopped while a backlog is written,
// when it starts again, then it catches up no faster than the throttle allows (a lower bound on the
// time the bucket guarantees, never a speed of this machine) and catches up fully, while acks=all
// writes, which need only the follower that kept pace, complete during the catch-up.

import { afterEach, describe, expect, it } from 'vitest';
import { resolveBrokerConfig } from '../../broker/config.js';
import type { RunningBroker } from '../../broker/main.js';
import { BURST_SECONDS } from '../../broker/replica/replication-throttle.js';
import { TestCluster, until } from './cluster-support.js';
import { http, sample } from './http-support.js';

const TOPIC = 'throttled';
/** The throttle, and the backlog: about eight seconds of it. */
const RATE = 512 * 1024;
const RECORD = Buffer.alloc(1024, 0x61);
const BACKLOG_BATCHES = 64;
const RECORDS_PER_BATCH = 64;
/** partition-replica.ts: an append carries up to 1 MiB, by which the bucket may be overdrawn. */
const MAX_APPEND_BYTES = 1024 * 1024;
/** A follower not caught up for 2 s is catching up (replica-manager.ts); with a margin. */
const CATCHING_UP_AFTER_MS = 2_500;

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const stats = (b: RunningBroker) => b.broker.describePartition(TOPIC, 0);

function produce(b: RunningBroker, records: number) {
  const batch = Array.from({ length: records }, () => ({
    key: null,
    value: RECORD,
    headers: [],
    timestamp: Date.now(),
  }));
  return b.broker.produceRecords(TOPIC, 0, batch, 'all');
}

describe('replicationThrottleBytes', () => {
  it('holds a catching-up follower to the rate, lets it catch up fully, and leaves acks=all writes unthrottled', async () => {
    const c = (cluster = await TestCluster.start(3, { replicationThrottleBytes: RATE }));
    await c.registered();
    await c.node(1).broker.adminCreateTopic(TOPIC, 1, 3, {});
    const leaderId = (
      await until(
        'one leader known to all',
        () => c.running.map((b) => (b.broker.find(TOPIC, 0) === undefined ? -1 : stats(b).leader)),
        (ids) => ids[0] !== -1 && ids.every((id) => id === ids[0]),
      )
    )[0]!;
    const leader = c.node(leaderId);
    await until(
      'both followers in sync',
      () => stats(leader).followers.map((f) => f.inSync),
      (s) => s.length === 2 && s.every(Boolean),
    );
    const [laggingId, stayingId] = stats(leader).followers.map((f) => f.nodeId) as [number, number];

    // Given a follower stopped while a backlog is written (acks=all: the leader and the other
    // follower make the majority)
    await c.stop(laggingId);
    const stoppedAt = Date.now();
    for (let i = 0; i < BACKLOG_BATCHES; i++) await produce(leader, RECORDS_PER_BATCH);
    const backlogEnd = stats(leader).logEndOffset;
    const backlogBytes = stats(leader).sizeBytes;
    expect(backlogBytes).toBeGreaterThan(BACKLOG_BATCHES * RECORDS_PER_BATCH * RECORD.length);
    // ...and away long enough to count as catching up when it is back.
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + CATCHING_UP_AFTER_MS - Date.now())));
    const sentBefore = leader.broker.raftTotals().catchUpBytes;

    // When it starts again
    const t0 = Date.now();
    const lagging = await c.restart(laggingId);

    // Then acks=all writes complete meanwhile, while it is still behind: they wait only for the
    // follower that kept pace, whose appends the throttle never holds.
    for (let i = 0; i < 10; i++) {
      const [answer] = await produce(leader, 1);
      expect(answer!.outcome).toMatchObject({ records: 1, duplicate: false });
    }
    expect(stats(lagging).logEndOffset).toBeLessThan(backlogEnd);
    expect(stats(leader).followers.find((f) => f.nodeId === stayingId)).toMatchObject({ inSync: true });

    // ...and it catches up, no faster than the bucket lets bytes through: over any time t, at most
    // its burst, its rate times t, and the one append that may overdraw it.
    await until(
      'the follower caught up',
      () => stats(lagging).logEndOffset,
      (end) => end >= backlogEnd,
      120_000,
    );
    const secs = (Date.now() - t0) / 1000;
    const sent = leader.broker.raftTotals().catchUpBytes - sentBefore;
    // The backlog went under the throttle (the log's indexes and the no-op aside, about all of it).
    expect(sent).toBeGreaterThan(backlogBytes * 0.9);
    // (The backlog less what the follower held before it stopped: the log's first few batches.)
    const floorSecs = (backlogBytes * 0.95 - RATE * BURST_SECONDS - MAX_APPEND_BYTES) / RATE;
    expect(floorSecs).toBeGreaterThan(4);
    expect(secs).toBeGreaterThanOrEqual(floorSecs);
    // /metrics says what it let through and that it held the follower back.
    const text = (await http(leader.httpAddress, 'GET', '/metrics')).body as string;
    expect(sample(text, 'weir_replication_catchup_bytes_total')).toBeGreaterThanOrEqual(sent);
    expect(sample(text, 'weir_replication_throttled_seconds_total')).toBeGreaterThan(0);
    // It is back in sync: fed in full from there, whatever is written.
    await until(
      'the follower in sync again',
      () => stats(leader).followers.find((f) => f.nodeId === laggingId)?.inSync,
      (s) => s === true,
      60_000,
    );
    await produce(leader, 1);
  });
});

describe('replicationThrottleBytes config', () => {
  it('defaults to 0 (not throttled), reads WEIR_REPLICATION_THROTTLE_BYTES and refuses a negative rate', () => {
    expect(resolveBrokerConfig({}).replicationThrottleBytes).toBe(0);
    expect(
      resolveBrokerConfig({ env: { WEIR_REPLICATION_THROTTLE_BYTES: '1048576' } }).replicationThrottleBytes,
    ).toBe(1_048_576);
    expect(() => resolveBrokerConfig({ overrides: { replicationThrottleBytes: -1 } })).toThrow(
      /replicationThrottleBytes/,
    );
  });
});
