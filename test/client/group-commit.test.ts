// Given a real broker, what a group member's commits mean: consumed positions only (a record
// counts once its loop body has finished, a batch once the next is asked for), a commit refused
// as stale sent again with the new epoch, a stale generation refused by the broker, and
// heartbeats that go on while the loop body is slow.

import { describe, expect, it } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import { isWeirError, type TopicPartition } from '../../client/index.js';
import { Connection } from '../../client/connection.js';
import { waitFor, within } from './helpers.js';
import { Collector, CuttableRpc, produceTo, uniqueGroup, useGroupBroker } from './group-helpers.js';

const f = useGroupBroker();

/** A member of `groupId` on `topic` from its start, that commits only when the test says so. */
function manualConsumer(groupId: string, topic: string) {
  return f.consumers.add({
    bootstrap: f.broker.bootstrap,
    groupId,
    topics: [topic],
    autoOffsetReset: 'earliest',
    autoCommit: false,
  });
}

/** The group's committed offset of partition 0 of `topic`. */
async function committedOf(groupId: string, topic: string): Promise<number | undefined> {
  return (await f.admin.fetchOffsets(groupId, [{ topic, partition: 0 }]))[0]?.offset;
}

describe('commits', () => {
  it('commits consumed positions only: a record counts once its loop body has finished', async () => {
    const topic = await f.newTopic(1);
    const groupId = uniqueGroup();
    await produceTo(f.producer, topic, 0, 10);
    const consumer = manualConsumer(groupId, topic);
    const committed = () => committedOf(groupId, topic);

    let inBodyOfThird = -2;
    for await (const record of consumer) {
      if (record.offset === 2) {
        await consumer.commit(); // records 0 and 1 are consumed; 2 is still being handled
        inBodyOfThird = (await committed()) ?? -2;
      }
      if (record.offset === 4) break; // leaving the loop does not count record 4
    }
    expect(inBodyOfThird).toBe(2);
    await consumer.commit();
    expect(await committed()).toBe(4);

    // The next member of the group resumes at the first record not consumed.
    await consumer.close();
    const next = f.consumers.add({ bootstrap: f.broker.bootstrap, groupId, topics: [topic] });
    const it = next[Symbol.asyncIterator]();
    const first = await within(it.next(), 10_000, 'the first record');
    expect(first.value?.offset).toBe(4);
  });

  it('a record whose loop body threw comes again in the next loop, and is committed only then', async () => {
    const topic = await f.newTopic(1);
    const groupId = uniqueGroup();
    await produceTo(f.producer, topic, 0, 5);
    const consumer = manualConsumer(groupId, topic);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const record of consumer) {
          seen.push(record.offset);
          if (record.offset === 1) throw new Error('the handler failed');
        }
      })(),
    ).rejects.toThrow('the handler failed');
    await consumer.commit();
    expect(await committedOf(groupId, topic)).toBe(1);
    for await (const record of consumer) {
      seen.push(record.offset);
      if (record.offset === 4) break;
    }
    expect(seen).toEqual([0, 1, 1, 2, 3, 4]);
    await consumer.commit();
    expect(await committedOf(groupId, topic)).toBe(4);
  });

  it('with batches, a batch counts as consumed once the next one is asked for', async () => {
    const topic = await f.newTopic(1);
    const groupId = uniqueGroup();
    await produceTo(f.producer, topic, 0, 5);
    const consumer = manualConsumer(groupId, topic);
    let seen = 0;
    let committedInBody: number | undefined;
    for await (const batch of consumer.batches()) {
      seen += batch.records.length;
      if (seen === 5) await produceTo(f.producer, topic, 0, 1, 'more');
      if (seen === 6) {
        const outcome = await new Promise<unknown>((resolve) => consumer.commitAsync(resolve));
        expect(outcome).toBeNull();
        committedInBody = (await f.admin.fetchOffsets(groupId))[0]?.offset;
        break;
      }
    }
    // The batch holding record 5 was still being handled: only records 0..4 were committed.
    expect(committedInBody).toBe(5);
  });

  it('keeps heartbeating while the loop body is slow', async () => {
    const topic = await f.newTopic(1);
    const groupId = uniqueGroup();
    await produceTo(f.producer, topic, 0, 2);
    const lost: TopicPartition[] = [];
    const consumer = f.consumers.add({
      bootstrap: f.broker.bootstrap,
      groupId,
      topics: [topic],
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: 300,
      onLost: (tps) => void lost.push(...tps),
    });
    const loop = new Collector(consumer, async (record) => {
      if (record.offset === 0) await new Promise((resolve) => setTimeout(resolve, 1500));
    });
    await waitFor(() => loop.records.length === 2, 'both records', 15_000);
    const generation = consumer.generation;
    const described = await f.admin.describeGroup(groupId);
    expect(described.members).toHaveLength(1);
    expect(described.members[0]?.memberEpoch).toBe(generation);
    expect(described.rebalances.map((r) => r.reason)).toEqual(['join']);
    expect(lost).toEqual([]);
  });

  it('a commit refused as stale is sent again after the next heartbeat answer', async () => {
    const topic = await f.newTopic(1);
    const groupId = uniqueGroup();
    await produceTo(f.producer, topic, 0, 3);
    const rpc = new CuttableRpc(f.broker.bootstrap);
    const consumer = f.consumers.add(
      {
        bootstrap: f.broker.bootstrap,
        groupId,
        topics: [topic],
        autoOffsetReset: 'earliest',
        autoCommit: false,
      },
      rpc,
    );
    const loop = new Collector(consumer);
    await waitFor(() => loop.records.length === 3, 'the records');
    rpc.failNextCommit = new WeirError('STALE_MEMBER_EPOCH', 'injected by the test');
    await consumer.commit();
    expect(rpc.failNextCommit).toBeNull();
    expect((await f.admin.fetchOffsets(groupId))[0]?.offset).toBe(3);
    await consumer.close();
    rpc.close();
  });

  it('a commit carrying a stale generation is refused with STALE_MEMBER_EPOCH', async () => {
    const topic = await f.newTopic(1);
    const groupId = uniqueGroup();
    const rpc = new Connection({ bootstrap: f.broker.bootstrap });
    try {
      const join = (clientId: string) =>
        rpc.groupHeartbeat({ groupId, memberId: '', memberEpoch: 0, clientId, subscribedTopics: [topic] });
      const a = await join('a');
      expect(a.assignment).toEqual([{ topic, partitions: [0] }]);
      await join('b'); // the group epoch moves on
      const a2 = await rpc.groupHeartbeat({
        groupId,
        memberId: a.memberId,
        memberEpoch: a.memberEpoch,
        subscribedTopics: [topic],
        owned: a.assignment,
      });
      expect(a2.memberEpoch).toBeGreaterThan(a.memberEpoch);

      const commit = (generation: number) =>
        rpc.offsetCommit({
          groupId,
          memberId: a.memberId,
          generation,
          partitions: [{ topic, partition: 0, offset: 1 }],
        });
      const stale = await commit(a.memberEpoch).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isWeirError(stale, 'STALE_MEMBER_EPOCH')).toBe(true);
      const ok = await commit(a2.memberEpoch);
      expect(ok.results).toEqual([expect.objectContaining({ topic, partition: 0, error: null })]);
    } finally {
      rpc.close();
    }
  });

  it('close() gives up its commit and leave after closeTimeoutMs when the broker stops answering', async () => {
    const topic = await f.newTopic(1);
    await produceTo(f.producer, topic, 0, 3);
    const rpc = new CuttableRpc(f.broker.bootstrap);
    try {
      const consumer = f.consumers.add(
        {
          bootstrap: f.broker.bootstrap,
          groupId: uniqueGroup(),
          topics: [topic],
          autoOffsetReset: 'earliest',
          closeTimeoutMs: 200,
        },
        rpc,
      );
      const loop = new Collector(consumer);
      await waitFor(() => loop.records.length === 3, 'the records');
      rpc.hang = true; // its commit, heartbeats and leave now never get an answer
      await within(consumer.close(), 10_000, 'close with a broker that does not answer');
      await loop.done;
    } finally {
      rpc.close();
    }
  });

  it('commit(offsets) commits exactly those, for partitions the member owns; position() is the next to yield', async () => {
    const topic = await f.newTopic(1);
    const groupId = uniqueGroup();
    await produceTo(f.producer, topic, 0, 5);
    const consumer = manualConsumer(groupId, topic);
    const committed = () => committedOf(groupId, topic);
    for await (const record of consumer) {
      if (record.offset === 3) {
        expect(consumer.position({ topic, partition: 0 })).toBe(4);
        break;
      }
    }
    expect(consumer.position({ topic: 'not-mine', partition: 0 })).toBeNull();
    await consumer.commit([
      { topic, partition: 0, offset: 2 },
      { topic: 'not-mine', partition: 0, offset: 9 },
    ]);
    expect(await committed()).toBe(2);
    await expect(consumer.commit([{ topic, partition: 0, offset: -1 }])).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    // Without offsets: the consumed positions (offset 3 was left unfinished by the break).
    await consumer.commit();
    expect(await committed()).toBe(3);
  });
});
