// The group APIs of the Kafka listener request by request, at the versions clients send that
// kafkajs does not: FindCoordinator's batch of keys (v4+), OffsetCommit and OffsetFetch of
// Kafka 3.x/4.x clients (OffsetFetch v8+ asks about several groups at once), and a group id used
// by both protocols, which Kafka refuses either way.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, isWeirError } from '../../proto/errors.js';
import {
  ConsumerGroupDescribeApi,
  ConsumerGroupHeartbeatApi,
  DescribeGroupsApi,
  FindCoordinatorApi,
  HeartbeatApi,
  JoinGroupApi,
  ListGroupsApi,
  OffsetCommitApi,
  OffsetFetchApi,
  SyncGroupApi,
} from '../../proto/kafka/generated/index.js';
import { Admin } from '../../client/index.js';
import { startTestBroker, uniqueTopic, type TestBroker } from '../client/helpers.js';
import { kafkaRequest, type RequestCodec } from './kafka-request.js';

let broker: TestBroker;
let port: number;
let admin: Admin;

beforeAll(async () => {
  broker = await startTestBroker({ kafkaPort: 0 });
  port = Number(broker.running.kafkaAddress!.split(':').pop());
  admin = new Admin({ bootstrap: broker.bootstrap });
});

afterAll(async () => {
  await admin?.close();
  await broker?.close();
});

/** One request on a fresh connection, the API's default request with `request`'s fields. */
function call<Req, Res>(
  api: RequestCodec<Req, Res> & { defaultRequest(): Req },
  version: number,
  request: Partial<Req>,
): Promise<Res> {
  return kafkaRequest(port, api, version, { ...api.defaultRequest(), ...request });
}

const code = (name: keyof typeof ERRORS): number => ERRORS[name].id;

describe('the group APIs of the Kafka listener', () => {
  it('FindCoordinator names this broker for a group, one key (v0-3) or a batch (v4+)', async () => {
    for (const v of [0, 1, 2, 3]) {
      const res = await call(FindCoordinatorApi, v, { key: 'some-group', keyType: 0 });
      expect(res).toMatchObject({ errorCode: 0, nodeId: broker.running.nodeId, host: '127.0.0.1', port });
    }
    for (const v of [4, 5, 6]) {
      const res = await call(FindCoordinatorApi, v, { keyType: 0, coordinatorKeys: ['a', 'b', ''] });
      expect(res.coordinators.map((c) => [c.key, c.errorCode, c.nodeId, c.port])).toEqual([
        ['a', 0, broker.running.nodeId, port],
        ['b', 0, broker.running.nodeId, port],
        ['', code('INVALID_GROUP_ID'), -1, -1],
      ]);
    }
    const txn = await call(FindCoordinatorApi, 4, { keyType: 1, coordinatorKeys: ['t'] });
    expect(txn.coordinators[0]!.errorCode).toBe(code('INVALID_REQUEST'));
  });

  it('commits offsets from outside a group and fetches them, one group (v1-7) or several (v8+)', async () => {
    const topic = uniqueTopic('kcommit');
    await admin.createTopic(topic, { partitions: 2 });
    const commit = await call(OffsetCommitApi, 9, {
      groupId: 'gc-1',
      topics: [
        {
          name: topic,
          partitions: [
            {
              partitionIndex: 0,
              committedOffset: 0,
              committedLeaderEpoch: -1,
              commitTimestamp: -1,
              committedMetadata: 'm',
            },
            {
              partitionIndex: 5,
              committedOffset: 3,
              committedLeaderEpoch: -1,
              commitTimestamp: -1,
              committedMetadata: null,
            },
          ],
        },
      ],
    });
    expect(commit.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([
      0,
      code('UNKNOWN_TOPIC_OR_PARTITION'),
    ]);
    await call(OffsetCommitApi, 2, {
      groupId: 'gc-2',
      topics: [
        {
          name: topic,
          partitions: [
            {
              partitionIndex: 1,
              committedOffset: 0,
              committedLeaderEpoch: -1,
              commitTimestamp: -1,
              committedMetadata: '',
            },
          ],
        },
      ],
    });
    const d = await admin.describeGroup('gc-1');
    expect(d.offsets.map((o) => [o.partition, o.committed, o.metadata])).toEqual([[0, 0, 'm']]);

    const one = await call(OffsetFetchApi, 7, { groupId: 'gc-1', topics: null });
    expect(one.errorCode).toBe(0);
    expect(one.topics).toEqual([
      {
        name: topic,
        partitions: [
          { partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, metadata: 'm', errorCode: 0 },
        ],
      },
    ]);
    const many = await call(OffsetFetchApi, 8, {
      groups: [
        {
          groupId: 'gc-1',
          memberId: null,
          memberEpoch: -1,
          topics: [{ name: topic, partitionIndexes: [0, 1] }],
        },
        { groupId: 'gc-2', memberId: null, memberEpoch: -1, topics: null },
        { groupId: '', memberId: null, memberEpoch: -1, topics: null },
      ],
    });
    expect(
      many.groups.map((g) => [
        g.groupId,
        g.errorCode,
        g.topics.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.committedOffset])),
      ]),
    ).toEqual([
      [
        'gc-1',
        0,
        [
          [0, 0],
          [1, -1],
        ],
      ],
      ['gc-2', 0, [[1, 0]]],
      ['', code('INVALID_GROUP_ID'), []],
    ]);
  });

  it("checks a classic member's generation on commit, and keeps a group to one protocol", async () => {
    const topic = uniqueTopic('kgen');
    await admin.createTopic(topic, { partitions: 1 });
    const groupId = `g-${topic}`;
    const protocols = [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 0]) }];
    // JoinGroup v3: a new member is taken at once (v4+ first asks it to join again with an id).
    const join = await call(JoinGroupApi, 3, {
      groupId,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      protocolType: 'consumer',
      protocols,
    });
    expect(join).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range' });
    expect(join.leader).toBe(join.memberId);
    const sync = await call(SyncGroupApi, 3, {
      groupId,
      generationId: 1,
      memberId: join.memberId,
      assignments: [{ memberId: join.memberId, assignment: Buffer.from('opaque') }],
    });
    expect(sync).toMatchObject({ errorCode: 0, assignment: Buffer.from('opaque') });
    const beat = (generationId: number) =>
      call(HeartbeatApi, 4, { groupId, generationId, memberId: join.memberId });
    expect((await beat(1)).errorCode).toBe(0);
    expect((await beat(0)).errorCode).toBe(code('ILLEGAL_GENERATION'));
    const commitAt = (generationIdOrMemberEpoch: number, memberId: string) =>
      call(OffsetCommitApi, 8, {
        groupId,
        generationIdOrMemberEpoch,
        memberId,
        topics: [
          {
            name: topic,
            partitions: [
              {
                partitionIndex: 0,
                committedOffset: 0,
                committedLeaderEpoch: -1,
                commitTimestamp: -1,
                committedMetadata: '',
              },
            ],
          },
        ],
      });
    const errorOf = async (p: ReturnType<typeof commitAt>) => (await p).topics[0]!.partitions[0]!.errorCode;
    expect(await errorOf(commitAt(1, join.memberId))).toBe(0);
    expect(await errorOf(commitAt(2, join.memberId))).toBe(code('ILLEGAL_GENERATION'));
    expect(await errorOf(commitAt(1, 'someone-else'))).toBe(code('UNKNOWN_MEMBER_ID'));
    expect(await errorOf(commitAt(-1, ''))).toBe(code('UNKNOWN_MEMBER_ID'));

    // The consumer protocol (KIP-848) cannot join a classic group with members...
    let refused: unknown;
    try {
      broker.running.broker.groups.heartbeat(groupId, {
        memberId: '',
        memberEpoch: 0,
        instanceId: '',
        clientId: 'c',
        host: 'h',
        sessionTimeoutMs: 0,
        rebalanceTimeoutMs: 0,
        subscribedTopics: [topic],
        subscribedPattern: '',
        assignor: '',
        owned: [],
      });
    } catch (err) {
      refused = err;
    }
    expect(isWeirError(refused, 'GROUP_ID_NOT_FOUND')).toBe(true);

    // ...nor a classic member a consumer group with members.
    const other = `${groupId}-consumer`;
    broker.running.broker.groups.heartbeat(other, {
      memberId: '',
      memberEpoch: 0,
      instanceId: '',
      clientId: 'c',
      host: 'h',
      sessionTimeoutMs: 0,
      rebalanceTimeoutMs: 0,
      subscribedTopics: [topic],
      subscribedPattern: '',
      assignor: '',
      owned: [],
    });
    const classicJoin = await call(JoinGroupApi, 9, {
      groupId: other,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      protocolType: 'consumer',
      protocols,
    });
    expect(classicJoin.errorCode).toBe(code('INCONSISTENT_GROUP_PROTOCOL'));
  });

  it('serves the KIP-848 protocol to Kafka clients: heartbeats by topic id, with unchanged fields left out', async () => {
    const topic = uniqueTopic('k848');
    await admin.createTopic(topic, { partitions: 3 });
    const groupId = `g-${topic}`;
    const topicId = broker.running.broker.metadata([topic], false)[0]!.topicId!;
    const join = await call(ConsumerGroupHeartbeatApi, 1, {
      groupId,
      memberId: 'member-one',
      memberEpoch: 0,
      rebalanceTimeoutMs: 10_000,
      subscribedTopicNames: [topic],
      serverAssignor: 'uniform',
      topicPartitions: [],
    });
    expect(join).toMatchObject({ errorCode: 0, memberId: 'member-one' });
    expect(join.memberEpoch).toBeGreaterThan(0);
    expect(join.assignment!.topicPartitions).toEqual([{ topicId, partitions: [0, 1, 2] }]);
    // Nothing changed: subscription and owned partitions left out, and the member stays as it is.
    const again = await call(ConsumerGroupHeartbeatApi, 1, {
      groupId,
      memberId: 'member-one',
      memberEpoch: join.memberEpoch,
    });
    expect(again).toMatchObject({ errorCode: 0, memberEpoch: join.memberEpoch });
    expect(again.assignment!.topicPartitions).toEqual([{ topicId, partitions: [0, 1, 2] }]);
    const stale = await call(ConsumerGroupHeartbeatApi, 1, {
      groupId,
      memberId: 'member-one',
      memberEpoch: 99,
    });
    expect(stale.errorCode).toBe(code('FENCED_MEMBER_EPOCH'));

    const rejoin = await call(ConsumerGroupHeartbeatApi, 0, {
      groupId,
      memberId: 'member-one',
      memberEpoch: 0,
      subscribedTopicNames: [topic],
      topicPartitions: [],
    });
    expect(rejoin.errorCode).toBe(0);
    const described = await call(ConsumerGroupDescribeApi, 0, { groupIds: [groupId, 'no-such-group'] });
    expect(described.groups.map((g) => [g.groupId, g.errorCode])).toEqual([
      [groupId, 0],
      ['no-such-group', code('GROUP_ID_NOT_FOUND')],
    ]);
    expect(described.groups[0]).toMatchObject({ groupEpoch: rejoin.memberEpoch, assignorName: 'uniform' });
    expect(described.groups[0]!.members.map((m) => [m.memberId, m.subscribedTopicNames])).toEqual([
      ['member-one', [topic]],
    ]);
    // The same group refuses a classic member while it has this one.
    const classic = await call(JoinGroupApi, 5, {
      groupId,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    });
    expect(classic.errorCode).toBe(code('INCONSISTENT_GROUP_PROTOCOL'));
    // ListGroups names its type and state; DescribeGroups, the classic API, does not describe it.
    const listed = await call(ListGroupsApi, 5, { statesFilter: [], typesFilter: ['consumer'] });
    expect(listed.groups.find((g) => g.groupId === groupId)).toEqual({
      groupId,
      protocolType: 'consumer',
      groupState: 'Stable',
      groupType: 'consumer',
    });
    const classicOnly = await call(ListGroupsApi, 5, { statesFilter: [], typesFilter: ['classic'] });
    expect(classicOnly.groups.map((g) => g.groupId)).not.toContain(groupId);
    const byClassicApi = await call(DescribeGroupsApi, 5, { groups: [groupId, 'never-seen'] });
    expect(byClassicApi.groups.map((g) => [g.groupId, g.errorCode, g.groupState])).toEqual([
      [groupId, code('GROUP_ID_NOT_FOUND'), ''],
      ['never-seen', 0, 'Dead'],
    ]);
    const leave = await call(ConsumerGroupHeartbeatApi, 1, {
      groupId,
      memberId: 'member-one',
      memberEpoch: -1,
    });
    expect(leave).toMatchObject({ errorCode: 0, memberEpoch: -1, assignment: null });
  });
});
