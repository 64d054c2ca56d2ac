// A partition's idempotent-producer state across leadership changes (broker/partition.ts): a new
// leader builds it afresh from its log's start state and its newest segments. The partition runs
// over a real log; its replica is a stand-in that appends to that log as a leader of the term it
// was told, so the test can move leadership and truncate the log as a later leader would.

import { describe, expect, it } from 'vitest';
import { Partition } from '../../broker/partition.js';
import { ProducerStateTable } from '../../broker/producer-state.js';
import type { PartitionReplica, ReplicaEvents } from '../../broker/replica/partition-replica.js';
import { encodeBatch } from '../../proto/record-batch.js';
import type { PartitionLog } from '../../storage/index.js';
import { openLog, testLogConfig, useTempDirs } from '../storage/helpers.js';

const tempDir = useTempDirs();
const MAX_INFLATED = 1 << 20;

function idempotent(producerId: number, baseSequence: number, values: string[]): Buffer {
  return encodeBatch(
    values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1 })),
    { producerId, producerEpoch: 0, baseSequence },
  );
}

/** A partition over a real log, with the replica events in the test's hands. */
function partitionWith(startState: Uint8Array | null): {
  partition: Partition;
  log: PartitionLog;
  events: ReplicaEvents;
} {
  const { log } = openLog(tempDir(), testLogConfig());
  const partition = new Partition('t', 0, log, () => undefined);
  let events: ReplicaEvents | null = null;
  let term = 0;
  const replica = {
    startState,
    append: (batch: Buffer) => log.append(batch, { leaderEpoch: term }),
    leave: () => undefined,
  };
  partition.joinGroup((e) => {
    events = {
      roleChanged: (role, t, leader) => {
        term = t;
        e.roleChanged(role, t, leader);
      },
      highWatermark: (hw) => e.highWatermark(hw),
    };
    return replica as unknown as PartitionReplica;
  });
  return { partition, log, events: events! };
}

describe('producer state across leadership', () => {
  it('forgets what it knew when it last led: a batch a later leader truncated is appended again', async () => {
    const { partition, log, events } = partitionWith(null);
    events.roleChanged('leader', 1, 1);
    const first = await partition.produce(idempotent(7, 0, ['a']), 'leader', 0, MAX_INFLATED);
    expect([first.baseOffset, first.duplicate]).toEqual([0, false]);
    // Deposed before it committed; the next leader truncated the batch and wrote another there.
    events.roleChanged('follower', 2, 2);
    log.truncateTo(0);
    log.append(encodeBatch([{ key: null, value: Buffer.from('other'), timestamp: 1 }]), { leaderEpoch: 2 });
    events.roleChanged('leader', 3, 1);
    // The producer retries: its batch is not in the log, so it is appended, not answered with
    // offset 0, which holds another batch now.
    const retry = await partition.produce(idempotent(7, 0, ['a']), 'leader', 0, MAX_INFLATED);
    expect([retry.baseOffset, retry.duplicate]).toEqual([1, false]);
    log.closeNow();
  });

  it('refuses a retry that waited to inflate while the leadership moved, instead of answering it from the old table', async () => {
    const { partition, log, events } = partitionWith(null);
    events.roleChanged('leader', 1, 1);
    const batch = (): Buffer =>
      encodeBatch([{ key: null, value: Buffer.from('z'.repeat(100)), timestamp: 1 }], {
        producerId: 7,
        producerEpoch: 0,
        baseSequence: 0,
        compression: 'gzip',
      });
    expect((await partition.produce(batch(), 'leader', 0, MAX_INFLATED)).baseOffset).toBe(0);
    // The retry inflates on the thread pool; meanwhile this replica is deposed.
    const retry = partition.produce(batch(), 'leader', 0, MAX_INFLATED);
    events.roleChanged('follower', 2, 2);
    await expect(retry).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
    log.closeNow();
  });

  it('answers a retry of a batch below the log start from the start state', async () => {
    const kept = new ProducerStateTable();
    kept.record(9, 0, { firstSeq: 0, lastSeq: 1, baseOffset: 3, lastOffset: 4, appendTime: 100 });
    const { partition, log, events } = partitionWith(kept.encode());
    events.roleChanged('leader', 1, 1);
    const retry = await partition.produce(idempotent(9, 0, ['x', 'y']), 'leader', 0, MAX_INFLATED);
    expect(retry).toMatchObject({ baseOffset: 3, lastOffset: 4, duplicate: true });
    expect(log.logEndOffset).toBe(0);
    const next = await partition.produce(idempotent(9, 2, ['z']), 'leader', 0, MAX_INFLATED);
    expect([next.baseOffset, next.duplicate]).toEqual([0, false]);
    log.closeNow();
  });
});
