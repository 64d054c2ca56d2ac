// Given a real broker and a group with committed offsets of two topics, Admin.deleteOffsets
// (Kafka's OffsetDelete) removes the offsets of a topic no member subscribes to, refuses one a
// member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC, by name or by pattern), and accepts it once the
// member is gone.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admin, isWeirError } from '../../client/index.js';
import { uniqueTopic, waitFor, type TestBroker } from './helpers.js';
import { Consumers, startGroupBroker, uniqueGroup } from './group-helpers.js';

let broker: TestBroker;
let admin: Admin;
const consumers = new Consumers();

beforeAll(async () => {
  broker = await startGroupBroker();
  admin = new Admin({ bootstrap: broker.bootstrap });
});

afterEach(async () => {
  await consumers.closeAll();
});

afterAll(async () => {
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

async function committed(groupId: string): Promise<string[]> {
  const offsets = await admin.fetchOffsets(groupId);
  return offsets.map((o) => `${o.topic}/${o.partition}=${o.offset}`).sort();
}

/** A group with offsets committed for a/0, a/1 and b/0. */
async function groupWithOffsets(): Promise<{ groupId: string; a: string; b: string }> {
  const a = uniqueTopic('offsets-a');
  const b = uniqueTopic('offsets-b');
  await admin.createTopic(a, { partitions: 2 });
  await admin.createTopic(b, { partitions: 1 });
  const groupId = uniqueGroup();
  await admin.commitOffsets(groupId, [
    { topic: a, partition: 0, offset: 0 },
    { topic: a, partition: 1, offset: 0 },
    { topic: b, partition: 0, offset: 0 },
  ]);
  return { groupId, a, b };
}

describe('deleteOffsets', () => {
  it('deletes the offsets of an unsubscribed topic and refuses a subscribed one until its member leaves', async () => {
    const { groupId, a, b } = await groupWithOffsets();
    const member = consumers.add({ bootstrap: broker.bootstrap, groupId, topics: [a], autoCommit: false });
    await waitFor(() => member.assignment().length === 2, 'the member to own both partitions of a');

    expect(await codeOf(admin.deleteOffsets(groupId, [{ topic: a }]))).toBe('GROUP_SUBSCRIBED_TO_TOPIC');
    expect(await admin.deleteOffsets(groupId, [{ topic: b }])).toEqual([{ topic: b, partition: 0 }]);
    expect(await committed(groupId)).toEqual([`${a}/0=0`, `${a}/1=0`]);

    await consumers.closeAll();
    expect(await admin.deleteOffsets(groupId, [{ topic: a, partitions: [1] }])).toEqual([
      { topic: a, partition: 1 },
    ]);
    expect(await committed(groupId)).toEqual([`${a}/0=0`]);
    // Nothing committed there (any more): succeeds without change.
    expect(await admin.deleteOffsets(groupId, [{ topic: a, partitions: [1] }])).toEqual([
      { topic: a, partition: 1 },
    ]);
  });

  it('counts a pattern subscription, and refuses unknown groups and partitions', async () => {
    const { groupId, a, b } = await groupWithOffsets();
    const member = consumers.add({
      bootstrap: broker.bootstrap,
      groupId,
      pattern: `${b}|nothing-else`,
      autoCommit: false,
    });
    await waitFor(() => member.assignment().length === 1, 'the member to own b');
    expect(await codeOf(admin.deleteOffsets(groupId, [{ topic: b }]))).toBe('GROUP_SUBSCRIBED_TO_TOPIC');
    expect(await codeOf(admin.deleteOffsets(groupId, [{ topic: a, partitions: [2] }]))).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
    expect(await codeOf(admin.deleteOffsets(uniqueGroup(), [{ topic: a }]))).toBe('GROUP_ID_NOT_FOUND');
    expect(await committed(groupId)).toEqual([`${a}/0=0`, `${a}/1=0`, `${b}/0=0`]);
  });

  it('refuses a topic that does not exist, partitions listed or not, and then deletes nothing', async () => {
    const { groupId, a } = await groupWithOffsets();
    const nope = uniqueTopic('never-made');
    expect(await codeOf(admin.deleteOffsets(groupId, [{ topic: nope }]))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(await codeOf(admin.deleteOffsets(groupId, [{ topic: nope, partitions: [0] }]))).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
    expect(await codeOf(admin.deleteOffsets(groupId, [{ topic: a }, { topic: nope }]))).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
    expect(await committed(groupId)).toHaveLength(3);
  });
});
