// Given a real broker, Admin's consumer-group calls: list, describe, delete, reset (dry run and
// executed), fetch and commit offsets from outside the group, find the coordinator, and the
// refusals (NON_EMPTY_GROUP while a group has members, GROUP_ID_NOT_FOUND) with their codes.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer, isWeirError, type GroupConsumer } from '../../client/index.js';
import { uniqueTopic, waitFor, type TestBroker } from './helpers.js';
import { Collector, Consumers, produceTo, startGroupBroker, uniqueGroup } from './group-helpers.js';

let broker: TestBroker;
let admin: Admin;
let producer: Producer;
const consumers = new Consumers();

beforeAll(async () => {
  broker = await startGroupBroker();
  admin = new Admin({ bootstrap: broker.bootstrap });
  producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
});

afterEach(async () => {
  await consumers.closeAll();
});

afterAll(async () => {
  await producer?.close();
  await admin?.close();
  await broker?.close();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  return isWeirError(err) ? err.code : String(err);
}

/** A topic of `partitions` partitions with `perPartition` records in each. */
async function topicWithRecords(partitions: number, perPartition: number): Promise<string> {
  const topic = uniqueTopic('admin-groups');
  await admin.createTopic(topic, { partitions });
  for (let p = 0; p < partitions; p++) await produceTo(producer, topic, p, perPartition);
  return topic;
}

/** A member that has consumed every record of `topic` and committed. */
async function memberThatConsumedAll(groupId: string, topic: string, total: number): Promise<GroupConsumer> {
  const consumer = consumers.add({
    bootstrap: broker.bootstrap,
    groupId,
    topics: [topic],
    clientId: 'admin-test',
    autoOffsetReset: 'earliest',
    autoCommit: false,
  });
  const collector = new Collector(consumer);
  // A record counts as consumed once the loop asks for the next one, which it does in the same
  // turn as it records the last one.
  await waitFor(() => collector.records.length >= total, `${total} records`);
  await consumer.commit();
  return consumer;
}

describe('group administration', () => {
  it('given a group with a member, lists and describes it, and refuses to delete or reset it', async () => {
    const topic = await topicWithRecords(2, 3);
    const groupId = uniqueGroup();
    const member = await memberThatConsumedAll(groupId, topic, 6);

    await waitFor(() => member.assignment().length === 2, 'the member to own both partitions');
    const groups = await admin.listGroups();
    expect(groups).toContainEqual(expect.objectContaining({ groupId, members: 1 }));

    const described = await admin.describeGroup(groupId);
    expect(described).toMatchObject({ groupId, generation: expect.any(Number) as number });
    expect(described.members).toEqual([
      expect.objectContaining({
        memberId: member.memberId,
        clientId: 'admin-test',
        instanceId: null,
        subscribedTopics: [topic],
        subscribedPattern: null,
        assignment: [
          { topic, partition: 0 },
          { topic, partition: 1 },
        ],
      }),
    ]);
    expect(described.offsets.filter((o) => o.topic === topic)).toEqual([
      expect.objectContaining({ partition: 0, committed: 3, highWatermark: 3, lag: 0 }),
      expect.objectContaining({ partition: 1, committed: 3, highWatermark: 3, lag: 0 }),
    ]);

    expect(await codeOf(admin.deleteGroup(groupId))).toBe('NON_EMPTY_GROUP');
    expect(await codeOf(admin.resetOffsets(groupId, { topic, to: { earliest: true }, execute: true }))).toBe(
      'NON_EMPTY_GROUP',
    );
    expect(await codeOf(admin.commitOffsets(groupId, [{ topic, partition: 0, offset: 0 }]))).toBe(
      'UNKNOWN_MEMBER_ID',
    );

    await member.close();
    const after = await admin.describeGroup(groupId);
    expect(after.state).toBe('Empty');
    expect(after.members).toEqual([]);
    expect(after.rebalances.map((r) => r.reason)).toEqual(expect.arrayContaining(['join', 'leave']));
  });

  it('given an empty group, a dry run changes nothing and an executed reset moves the offsets', async () => {
    const topic = await topicWithRecords(2, 5);
    const groupId = uniqueGroup();
    await admin.commitOffsets(groupId, [
      { topic, partition: 0, offset: 3, metadata: 'by-test' },
      { topic, partition: 1, offset: 4 },
    ]);
    expect(await admin.fetchOffsets(groupId, [{ topic, partition: 0 }])).toEqual([
      expect.objectContaining({ topic, partition: 0, offset: 3, metadata: 'by-test' }),
    ]);

    const dry = await admin.resetOffsets(groupId, { topic, to: { earliest: true } });
    expect(dry.executed).toBe(false);
    expect(dry.offsets).toEqual([
      { topic, partition: 0, previous: 3, offset: 0 },
      { topic, partition: 1, previous: 4, offset: 0 },
    ]);
    expect((await admin.fetchOffsets(groupId)).map((o) => o.offset)).toEqual([3, 4]);

    const shifted = await admin.resetOffsets(groupId, {
      topic,
      partitions: [1],
      to: { shiftBy: -2 },
      execute: true,
    });
    expect(shifted).toEqual({ executed: true, offsets: [{ topic, partition: 1, previous: 4, offset: 2 }] });
    expect((await admin.fetchOffsets(groupId, [{ topic, partition: 1 }]))[0]?.offset).toBe(2);

    const latest = await admin.resetOffsets(groupId, { topic, to: { latest: true }, execute: true });
    expect(latest.offsets.map((o) => o.offset)).toEqual([5, 5]);
    const clamped = await admin.resetOffsets(groupId, { topic, to: { offset: 99 }, execute: true });
    expect(clamped.offsets.map((o) => o.offset)).toEqual([5, 5]);
    const byTime = await admin.resetOffsets(groupId, { topic, to: { timestamp: 0 }, execute: true });
    expect(byTime.offsets.map((o) => o.offset)).toEqual([0, 0]);
    expect((await admin.fetchOffsets(groupId)).map((o) => o.offset)).toEqual([0, 0]);
  });

  it('deletes an empty group with its offsets; an unknown group is GROUP_ID_NOT_FOUND', async () => {
    const topic = await topicWithRecords(1, 1);
    const groupId = uniqueGroup();
    await admin.commitOffsets(groupId, [{ topic, partition: 0, offset: 1 }]);
    expect((await admin.listGroups()).map((g) => g.groupId)).toContain(groupId);

    await admin.deleteGroup(groupId);
    expect((await admin.listGroups()).map((g) => g.groupId)).not.toContain(groupId);
    expect(await codeOf(admin.describeGroup(groupId))).toBe('GROUP_ID_NOT_FOUND');
    expect(await codeOf(admin.deleteGroup(groupId))).toBe('GROUP_ID_NOT_FOUND');
    expect(await codeOf(admin.describeGroup('no-such-group'))).toBe('GROUP_ID_NOT_FOUND');
  });

  it('names this broker as the coordinator of every group', async () => {
    const found = await admin.findCoordinator(uniqueGroup());
    expect(found.coordinator.nodeId).toBe(broker.running.nodeId);
    expect(found.coordinator.grpcPort).toBe(Number(broker.bootstrap.split(':').pop()));
    expect(found.partition).toBeGreaterThanOrEqual(0);
  });

  it('refuses bad arguments before sending anything', async () => {
    expect(await codeOf(admin.describeGroup(''))).toBe('INVALID_GROUP_ID');
    expect(
      await codeOf(admin.resetOffsets('g', { topic: 't', to: {} as unknown as { earliest: true } })),
    ).toBe('INVALID_REQUEST');
    expect(await codeOf(admin.commitOffsets('g', [{ topic: 't', partition: 0, offset: -1 }]))).toBe(
      'INVALID_REQUEST',
    );
  });
});
