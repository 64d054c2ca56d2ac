// `weir consume` without --follow on a replicated partition whose log ends with a control batch:
// three `weir broker` processes, a topic of three replicas, some records, then the partition's
// leader killed. The new leader's first entry is its no-op, a control batch, so the high watermark
// the command reads at start lies past the last record. The command must still print every record
// and exit 0 at once, rather than wait for a record that never comes and fail on --timeout-ms;
// so must a member of a consumer group (--group).

import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.js';
import { FaultCluster } from '../../scripts/faults/fault-cluster.js';
import { pollUntil } from '../../scripts/faults/poll.js';
import { createTopic, partitionLeader } from '../../scripts/faults/topic.js';
import { killAll, okLines, weir } from './cli-support.js';

const TOPIC = 'ends-with-noop';
let cluster: FaultCluster | null = null;

afterEach(async () => {
  killAll();
  await cluster?.destroy();
  cluster = null;
});

describe('weir consume to the high watermark', () => {
  it('reads a log that ends with a new leader’s no-op to its end and exits 0', async () => {
    const c = await FaultCluster.start();
    cluster = c;
    await createTopic(c, 1, TOPIC, { partitions: 1, replicationFactor: 3 });
    const first = await partitionLeader(c, TOPIC);
    const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
    const producer = new Producer({ bootstrap: c.bootstrapList(), acks: 'all' });
    try {
      await producer.send({ topic: TOPIC, records: values.map((value) => ({ value, partition: 0 })) });
    } finally {
      await producer.close();
    }

    // Given the leader killed, when another is elected, then its no-op ends the log.
    await c.kill(first);
    const others = c.brokers.map((b) => b.nodeId).filter((id) => id !== first);
    const second = await partitionLeader(c, TOPIC, others, (id) => id !== first);
    /** The high watermark as broker `second` tells it (-1: no answer). */
    const hw = async (): Promise<number> => {
      const admin = new Admin({ bootstrap: c.grpcAddress(second), requestTimeoutMs: 2000 });
      try {
        return (await admin.describeTopic(TOPIC)).partitions[0]?.highWatermark ?? -1;
      } catch {
        return -1;
      } finally {
        await admin.close().catch(() => {});
      }
    };
    await pollUntil(
      hw,
      (end) => end > values.length,
      'the new leader’s no-op under the high watermark',
      15_000,
    );

    const bootstrap = others.map((id) => c.grpcAddress(id)).join(',');
    const result = await weir(
      ['consume', TOPIC, '--from-beginning', '--bootstrap', bootstrap, '--timeout-ms', '10000'],
      { timeoutMs: 30_000 },
    );
    // Without the position passing the no-op, the watchdog fails the command (exit 1) instead.
    expect(okLines(result)).toEqual(values);
    // So does a group member reading to the high watermark at start, once the group has a
    // coordinator again (its __consumer_offsets partition may have been led by the killed broker;
    // how long that takes is not what this test is about).
    await pollUntil(
      async () => {
        const admin = new Admin({ bootstrap, requestTimeoutMs: 2000 });
        try {
          return (await admin.findCoordinator('g')).coordinator.nodeId;
        } catch {
          return -1;
        } finally {
          await admin.close().catch(() => {});
        }
      },
      (id) => id >= 0 && id !== first,
      'a live coordinator for group g',
      30_000,
    );
    const member = await weir(
      [
        'consume',
        TOPIC,
        '--group',
        'g',
        '--from-beginning',
        '--bootstrap',
        bootstrap,
        '--timeout-ms',
        '10000',
      ],
      { timeoutMs: 40_000 },
    );
    expect(okLines(member)).toEqual(values);
  }, 90_000);
});
