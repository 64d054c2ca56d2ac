// A cluster member's heartbeats to a controller it cannot reach: every one fails, and the broker's
// log hears of it once per episode, not every 500 ms. The member runs on a manual clock over a
// stand-in for the metadata partition (a follower that knows its leader), with real gRPC calls to
// an address nothing listens on.

import { describe, expect, it } from 'vitest';
import { ClusterMember, HEARTBEAT_INTERVAL_MS } from '../../broker/cluster-member.js';
import type { Partition } from '../../broker/partition.js';
import { ManualClock } from '../../storage/clock.js';
import { DEFAULT_LOG_CONFIG } from '../../storage/index.js';
import { freePort } from './support.js';

describe('a cluster member', () => {
  it('reports heartbeats that keep failing once per episode', async () => {
    const clock = new ManualClock();
    const reports: string[] = [];
    const follower = {
      role: 'follower',
      leaderId: 2,
      highWatermark: 0,
      logStartOffset: 0,
      logEndOffset: 0,
    } as unknown as Partition;
    const member = new ClusterMember({
      self: 1,
      clusterId: 'c',
      peers: [
        { nodeId: 1, host: '127.0.0.1', port: 1 },
        { nodeId: 2, host: '127.0.0.1', port: await freePort() },
      ],
      clock,
      partition: () => follower,
      registration: () => ({
        nodeId: 1,
        incarnation: '00000000-0000-4000-8000-000000000001',
        host: '127.0.0.1',
        grpcPort: 1,
        httpPort: 2,
        replicationPort: 3,
      }),
      report: (m) => reports.push(m),
      newTopicId: () => '00000000-0000-4000-8000-0000000000aa',
      limits: { maxPartitions: 10, topicDefaults: DEFAULT_LOG_CONFIG },
    });
    member.start();
    // Ten heartbeats, each given the time to fail (a refused connection fails at once).
    for (let i = 0; i < 10; i++) {
      clock.advance(HEARTBEAT_INTERVAL_MS);
      await new Promise((r) => setTimeout(r, 100));
    }
    member.stop();
    expect(reports.filter((m) => m.includes('heartbeat to broker 2 failed'))).toHaveLength(1);
    expect(reports).toHaveLength(1);
  });
});
