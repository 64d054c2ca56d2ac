// The consumer-group routes under /v1/groups through a real broker. Groups are made with raw gRPC
// calls (GroupHeartbeat to join and leave, OffsetCommit), so the HTTP answers can be checked
// against exactly what the members did.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupHeartbeatResponse__Output } from '../../proto/generated/weir/v1/GroupHeartbeatResponse.js';
import type { OffsetCommitResponse__Output } from '../../proto/generated/weir/v1/OffsetCommitResponse.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';
import { errorBodyOf, http } from './http-support.js';

let b: TestBroker;
let seq = 0;
const call = (method: string, path: string, body?: unknown) =>
  http(b.running.httpAddress, method, path, body);

beforeAll(async () => {
  b = await startTestBroker({ groupSessionTimeoutMs: 30_000 });
});
afterAll(async () => {
  await b?.close();
  if (b !== undefined) removeDir(b.dataDir);
});

interface Member {
  readonly groupId: string;
  readonly memberId: string;
  readonly epoch: number;
}

/** A topic with `counts[p]` records in partition p. */
async function topicWith(counts: number[]): Promise<string> {
  const name = `topic-${++seq}`;
  await b.call('CreateTopic', { name, partitions: counts.length });
  for (const [partition, n] of counts.entries()) {
    if (n === 0) continue;
    const records = Array.from({ length: n }, (_, i) => ({
      value: Buffer.from(`v${i}`),
      timestamp: 1000 * (i + 1),
    }));
    await b.call('Produce', { partitions: [{ topic: name, partition, records }] });
  }
  return name;
}

async function join(groupId: string, topics: string[], clientId = 'http-test'): Promise<Member> {
  const res = await b.call<object, GroupHeartbeatResponse__Output>('GroupHeartbeat', {
    groupId,
    memberId: '',
    memberEpoch: 0,
    clientId,
    subscribedTopics: topics,
  });
  return { groupId, memberId: res.memberId, epoch: res.memberEpoch };
}

async function leave(m: Member): Promise<void> {
  await b.call('GroupHeartbeat', { groupId: m.groupId, memberId: m.memberId, memberEpoch: -1 });
}

async function commit(m: Member, topic: string, partition: number, offset: number): Promise<void> {
  const res = await b.call<object, OffsetCommitResponse__Output>('OffsetCommit', {
    groupId: m.groupId,
    memberId: m.memberId,
    generation: m.epoch,
    partitions: [{ topic, partition, offset, metadata: 'm' }],
  });
  expect(res.results[0]?.error ?? null).toBeNull();
}

describe('given a group with one member that committed one of its two partitions', () => {
  let topic: string;
  let m: Member;
  const group = 'described';

  beforeAll(async () => {
    topic = await topicWith([5, 3]);
    m = await join(group, [topic]);
    await commit(m, topic, 0, 2);
  });

  it('GET /v1/groups lists it with its state, members, generation and total lag, of the known lags only', async () => {
    const res = await call('GET', '/v1/groups');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      expect.arrayContaining([{ groupId: group, state: 'Stable', members: 1, generation: 1, lag: 3 }]),
    );
  });

  it('GET /v1/groups/:id describes members, assignments, offsets with lag, and rebalances', async () => {
    const res = await call('GET', `/v1/groups/${group}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      groupId: group,
      state: 'Stable',
      generation: 1,
      assignor: 'sticky',
      members: [
        {
          memberId: m.memberId,
          instanceId: null,
          clientId: 'http-test',
          host: expect.any(String),
          memberEpoch: 1,
          assignment: [
            { topic, partition: 0 },
            { topic, partition: 1 },
          ],
          pendingRevocation: [],
          subscribedTopics: [topic],
          subscribedPattern: null,
        },
      ],
      offsets: [
        { topic, partition: 0, committed: 2, highWatermark: 5, lag: 3, metadata: 'm' },
        // Owned but never committed: its lag is unknown, not -1 (which would count in a sum).
        { topic, partition: 1, committed: -1, highWatermark: 3, lag: null, metadata: '' },
      ],
      rebalances: [{ generation: 1, reason: 'join', memberId: m.memberId, timestamp: expect.any(Number) }],
    });
    expect((res.body as { members: { host: string }[] }).members[0]!.host).not.toBe('');
  });

  it('DELETE and reset-offsets refuse with 409 NON_EMPTY_GROUP while it has a member', async () => {
    const del = await call('DELETE', `/v1/groups/${group}`);
    expect(del.status).toBe(409);
    expect(del.body).toEqual(errorBodyOf('NON_EMPTY_GROUP'));
    const reset = await call('POST', `/v1/groups/${group}/reset-offsets`, { topic, earliest: true });
    expect(reset.status).toBe(409);
    expect(reset.body).toEqual(errorBodyOf('NON_EMPTY_GROUP'));
  });
});

describe('given a group whose member committed nothing', () => {
  it('GET /v1/groups shows its lag as null (unknown), not 0', async () => {
    const topic = await topicWith([4]);
    await join('uncommitted', [topic]);
    const res = await call('GET', '/v1/groups');
    expect(res.body).toEqual(
      expect.arrayContaining([
        { groupId: 'uncommitted', state: 'Stable', members: 1, generation: 1, lag: null },
      ]),
    );
  });
});

describe('given a group whose member left', () => {
  let topic: string;
  const group = 'emptied';

  beforeAll(async () => {
    topic = await topicWith([10, 4]);
    const m = await join(group, [topic]);
    await commit(m, topic, 0, 6);
    await leave(m);
  });

  it('describe shows it Empty with the leave among its rebalances and its offsets kept', async () => {
    const res = await call('GET', `/v1/groups/${group}`);
    expect(res).toMatchObject({
      status: 200,
      body: {
        state: 'Empty',
        generation: 2,
        members: [],
        offsets: [{ topic, partition: 0, committed: 6, highWatermark: 10, lag: 4 }],
        rebalances: [
          { generation: 1, reason: 'join' },
          { generation: 2, reason: 'leave' },
        ],
      },
    });
  });

  it('a dry run answers the plan and changes nothing', async () => {
    const res = await call('POST', `/v1/groups/${group}/reset-offsets`, { topic, earliest: true });
    expect(res).toEqual({
      status: 200,
      headers: expect.anything(),
      body: {
        executed: false,
        offsets: [
          { topic, partition: 0, previous: 6, offset: 0 },
          { topic, partition: 1, previous: -1, offset: 0 },
        ],
      },
    });
    const after = await call('GET', `/v1/groups/${group}`);
    expect((after.body as { offsets: unknown[] }).offsets).toEqual([
      expect.objectContaining({ partition: 0, committed: 6 }),
    ]);
  });

  it.each([
    [{ latest: true }, [10, 4]],
    [{ offset: 3 }, [3, 3]],
    [{ offset: 99 }, [10, 4]],
    [{ shiftBy: -2 }, [4, 0]],
    [{ shiftBy: 2 }, [8, 2]],
    [{ timestamp: 2500 }, [2, 2]],
    [{ timestamp: 99_000 }, [10, 4]],
  ])('plans %j as %j', async (target, offsets) => {
    const res = await call('POST', `/v1/groups/${group}/reset-offsets`, { topic, ...target });
    expect(res.status).toBe(200);
    const plan = (res.body as { offsets: { offset: number }[] }).offsets;
    expect(plan.map((o) => o.offset)).toEqual(offsets);
  });

  it('with execute, commits the new offsets of the partitions named', async () => {
    const res = await call('POST', `/v1/groups/${group}/reset-offsets`, {
      topic,
      partitions: [1],
      offset: 1,
      execute: true,
    });
    expect(res).toMatchObject({
      status: 200,
      body: { executed: true, offsets: [{ topic, partition: 1, previous: -1, offset: 1 }] },
    });
    const after = await call('GET', `/v1/groups/${group}`);
    expect((after.body as { offsets: unknown[] }).offsets).toEqual([
      expect.objectContaining({ partition: 0, committed: 6, lag: 4 }),
      expect.objectContaining({ partition: 1, committed: 1, lag: 3 }),
    ]);
  });

  it.each([
    ['no target', 'INVALID_REQUEST', 400, {}],
    ['two targets', 'INVALID_REQUEST', 400, { earliest: true, latest: true }],
    ['earliest: false', 'INVALID_REQUEST', 400, { earliest: false }],
    ['an unknown field', 'INVALID_REQUEST', 400, { earliest: true, dryRun: true }],
    ['an offset that is not an integer', 'INVALID_REQUEST', 400, { offset: '3' }],
    ['a negative timestamp', 'INVALID_TIMESTAMP', 400, { timestamp: -5 }],
    ['an unknown partition', 'UNKNOWN_TOPIC_OR_PARTITION', 404, { partitions: [7], earliest: true }],
  ] as const)('refuses %s with %s (%i)', async (_what, code, status, target) => {
    const res = await call('POST', `/v1/groups/${group}/reset-offsets`, { topic, ...target });
    expect(res.status).toBe(status);
    expect(res.body).toEqual(errorBodyOf(code));
  });

  it('refuses an unknown topic and a body without a topic', async () => {
    const unknown = await call('POST', `/v1/groups/${group}/reset-offsets`, { topic: 'nope', latest: true });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorBodyOf('UNKNOWN_TOPIC_OR_PARTITION'));
    const none = await call('POST', `/v1/groups/${group}/reset-offsets`, { latest: true });
    expect(none.status).toBe(400);
    expect(none.body).toEqual(errorBodyOf('INVALID_REQUEST'));
  });
});

describe('POST /v1/groups/:id/delete-offsets', () => {
  it('refuses with 409 GROUP_SUBSCRIBED_TO_TOPIC while a member subscribes, deletes once it left', async () => {
    const topic = await topicWith([3, 3]);
    const m = await join('pruned', [topic]);
    await commit(m, topic, 0, 1);
    await commit(m, topic, 1, 2);
    const refused = await call('POST', '/v1/groups/pruned/delete-offsets', { topic });
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual(errorBodyOf('GROUP_SUBSCRIBED_TO_TOPIC'));
    await leave(m);
    const one = await call('POST', '/v1/groups/pruned/delete-offsets', { topic, partitions: [1] });
    expect(one).toMatchObject({ status: 200, body: { deleted: [{ topic, partition: 1 }] } });
    const after = await call('GET', '/v1/groups/pruned');
    expect((after.body as { offsets: unknown[] }).offsets).toEqual([
      expect.objectContaining({ topic, partition: 0, committed: 1 }),
    ]);
    const rest = await call('POST', '/v1/groups/pruned/delete-offsets', { topic });
    expect(rest).toMatchObject({ status: 200, body: { deleted: [{ topic, partition: 0 }] } });
    const none = await call('POST', '/v1/groups/pruned/delete-offsets', { topic });
    expect(none).toMatchObject({ status: 200, body: { deleted: [] } });
  });

  it.each([
    ['an unknown topic', 'UNKNOWN_TOPIC_OR_PARTITION', 404, 'pruning', { topic: 'nope' }],
    ['an unknown partition', 'UNKNOWN_TOPIC_OR_PARTITION', 404, 'pruning', { partitions: [5] }],
    ['an unknown group', 'GROUP_ID_NOT_FOUND', 404, 'never-was', {}],
    ['a body without a topic', 'INVALID_REQUEST', 400, 'pruning', { topic: undefined }],
    ['an unknown field', 'INVALID_REQUEST', 400, 'pruning', { execute: true }],
    ['a partition that is not an integer', 'INVALID_REQUEST', 400, 'pruning', { partitions: ['0'] }],
  ] as const)('refuses %s with %s (%i), deleting nothing', async (_what, code, status, group, body) => {
    const topic = await topicWith([2]);
    const m = await join('pruning', [topic]);
    await commit(m, topic, 0, 1);
    await leave(m);
    const res = await call('POST', `/v1/groups/${group}/delete-offsets`, { topic, ...body });
    expect(res.status).toBe(status);
    expect(res.body).toEqual(errorBodyOf(code));
    const after = await call('GET', '/v1/groups/pruning');
    expect((after.body as { offsets: unknown[] }).offsets).toContainEqual(
      expect.objectContaining({ topic, partition: 0, committed: 1 }),
    );
  });
});

describe('DELETE /v1/groups/:id', () => {
  it('deletes an empty group and its offsets: 204, then 404 GROUP_ID_NOT_FOUND', async () => {
    const topic = await topicWith([2]);
    const m = await join('doomed', [topic]);
    await commit(m, topic, 0, 1);
    await leave(m);
    const res = await call('DELETE', '/v1/groups/doomed');
    expect(res).toMatchObject({ status: 204, body: null });
    const gone = await call('GET', '/v1/groups/doomed');
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual(errorBodyOf('GROUP_ID_NOT_FOUND'));
    const list = (await call('GET', '/v1/groups')).body as { groupId: string }[];
    expect(list.map((g) => g.groupId)).not.toContain('doomed');
  });

  it('answers 404 GROUP_ID_NOT_FOUND for a group the broker does not know', async () => {
    const res = await call('DELETE', '/v1/groups/never-was');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorBodyOf('GROUP_ID_NOT_FOUND'));
  });
});

describe('group ids in the path', () => {
  it('takes any id the broker does, percent-encoded', async () => {
    const topic = await topicWith([1]);
    const id = 'team a/orders ü';
    const m = await join(id, [topic]);
    const res = await call('GET', `/v1/groups/${encodeURIComponent(id)}`);
    expect(res).toMatchObject({ status: 200, body: { groupId: id, members: [{ memberId: m.memberId }] } });
    await leave(m);
  });

  it('answers 400 INVALID_GROUP_ID for an id longer than 255 bytes, 404 for an unknown one', async () => {
    const long = await call('GET', `/v1/groups/${'g'.repeat(256)}`);
    expect(long.status).toBe(400);
    expect(long.body).toEqual(errorBodyOf('INVALID_GROUP_ID'));
    const unknown = await call('GET', '/v1/groups/nobody');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorBodyOf('GROUP_ID_NOT_FOUND'));
  });
});
