// Consumer-group metrics: through a real broker (/metrics after members join, commit and leave over
// raw gRPC), and the rebalance counting of BrokerMetrics against a fake coordinator.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupHeartbeatResponse__Output } from '../../proto/generated/weir/v1/GroupHeartbeatResponse.js';
import type { GroupOffset } from '../../broker/group/coordinator.js';
import type { RebalanceRecord, RebalanceReason } from '../../broker/group/consumer-group.js';
import { BrokerMetrics, UNKNOWN_REASON_LABEL, type GroupMetricsSource } from '../../broker/metrics.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';
import { http, sample } from './http-support.js';

let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker();
  await b.call('CreateTopic', { name: 'lagging', partitions: 2 });
  const records = Array.from({ length: 7 }, (_, i) => ({ value: Buffer.from(`v${i}`) }));
  await b.call('Produce', { partitions: [{ topic: 'lagging', partition: 0, records }] });
});
afterAll(async () => {
  await b?.close();
  if (b !== undefined) removeDir(b.dataDir);
});

async function scrape(): Promise<string> {
  const res = await http(b.running.httpAddress, 'GET', '/metrics');
  expect(res.status).toBe(200);
  return res.body as string;
}

async function heartbeat(groupId: string, memberId: string, memberEpoch: number) {
  return b.call<object, GroupHeartbeatResponse__Output>('GroupHeartbeat', {
    groupId,
    memberId,
    memberEpoch,
    clientId: 'metrics-test',
    subscribedTopics: ['lagging'],
  });
}

describe('group metrics through a real broker', () => {
  it('given a member that committed, then lag, committed offset, members, generation and rebalances show', async () => {
    const m = await heartbeat('watched', '', 0);
    await b.call('OffsetCommit', {
      groupId: 'watched',
      memberId: m.memberId,
      generation: m.memberEpoch,
      partitions: [{ topic: 'lagging', partition: 0, offset: 3, metadata: '' }],
    });
    let text = await scrape();
    const p0 = { group: 'watched', topic: 'lagging', partition: '0' };
    expect(sample(text, 'weir_group_lag', p0)).toBe(4);
    expect(sample(text, 'weir_group_committed_offset', p0)).toBe(3);
    // Partition 1 is owned but nothing is committed: no series rather than a made-up value.
    expect(sample(text, 'weir_group_lag', { ...p0, partition: '1' })).toBeUndefined();
    expect(sample(text, 'weir_group_members', { group: 'watched' })).toBe(1);
    expect(sample(text, 'weir_group_generation', { group: 'watched' })).toBe(1);
    expect(sample(text, 'weir_group_rebalances_total', { group: 'watched', reason: 'join' })).toBe(1);

    await b.call('Produce', {
      partitions: [{ topic: 'lagging', partition: 0, records: [{ value: Buffer.from('more') }] }],
    });
    await heartbeat('watched', m.memberId, -1);
    text = await scrape();
    expect(sample(text, 'weir_group_lag', p0)).toBe(5);
    expect(sample(text, 'weir_group_members', { group: 'watched' })).toBe(0);
    expect(sample(text, 'weir_group_generation', { group: 'watched' })).toBe(2);
    expect(sample(text, 'weir_group_rebalances_total', { group: 'watched', reason: 'join' })).toBe(1);
    expect(sample(text, 'weir_group_rebalances_total', { group: 'watched', reason: 'leave' })).toBe(1);
  });

  it('given a group deleted, then its series are gone at the next scrape', async () => {
    const m = await heartbeat('fleeting', '', 0);
    await b.call('OffsetCommit', {
      groupId: 'fleeting',
      memberId: m.memberId,
      generation: m.memberEpoch,
      partitions: [{ topic: 'lagging', partition: 0, offset: 1, metadata: '' }],
    });
    expect(sample(await scrape(), 'weir_group_members', { group: 'fleeting' })).toBe(1);
    await heartbeat('fleeting', m.memberId, -1);
    await b.call('DeleteGroup', { groupId: 'fleeting' });
    expect(await scrape()).not.toContain('group="fleeting"');
  });
});

/** A coordinator stand-in: groups with a generation and a history, capped as the real one is. */
function fakeGroups(maxHistory: number) {
  const groups = new Map<
    string,
    { generation: number; history: RebalanceRecord[]; offsets: GroupOffset[] }
  >();
  const source: GroupMetricsSource = {
    listGroups: () => [...groups.keys()].map((groupId) => ({ groupId })),
    describeGroup: (groupId) => {
      const g = groups.get(groupId);
      if (g === undefined) throw new Error(`no group ${groupId}`);
      return { generation: g.generation, memberList: [], offsets: g.offsets, rebalances: g.history };
    },
  };
  return {
    source,
    groups,
    rebalance(groupId: string, reason: RebalanceReason): void {
      let g = groups.get(groupId);
      if (g === undefined) groups.set(groupId, (g = { generation: 0, history: [], offsets: [] }));
      g.generation++;
      g.history.push({ generation: g.generation, reason, memberId: '', timestamp: 0 });
      while (g.history.length > maxHistory) g.history.shift();
    },
  };
}

function metricsOver(groups: GroupMetricsSource): BrokerMetrics {
  return new BrokerMetrics(
    { listTopics: () => [], allPartitionStats: () => [], partitionCount: () => 0, groups },
    { defaultMetrics: false },
  );
}

const rebalances = (text: string, group: string, reason: string): number | undefined =>
  sample(text, 'weir_group_rebalances_total', { group, reason });

describe('BrokerMetrics rebalance counting', () => {
  it('counts each rebalance once, by reason, across scrapes', async () => {
    const fake = fakeGroups(20);
    const m = metricsOver(fake.source);
    fake.rebalance('g', 'join');
    fake.rebalance('g', 'join');
    let text = await m.scrape();
    expect(rebalances(text, 'g', 'join')).toBe(2);
    fake.rebalance('g', 'session-timeout');
    await m.scrape();
    text = await m.scrape();
    expect(rebalances(text, 'g', 'join')).toBe(2);
    expect(rebalances(text, 'g', 'session-timeout')).toBe(1);
    expect(rebalances(text, 'g', UNKNOWN_REASON_LABEL)).toBeUndefined();
  });

  it('counts rebalances that left the history between scrapes as unknown, so the sum is the generation', async () => {
    const fake = fakeGroups(3);
    const m = metricsOver(fake.source);
    fake.rebalance('g', 'join');
    await m.scrape();
    for (let i = 0; i < 5; i++) fake.rebalance('g', 'leave');
    fake.rebalance('g', 'fenced');
    const text = await m.scrape();
    expect(rebalances(text, 'g', 'join')).toBe(1);
    expect(rebalances(text, 'g', 'leave')).toBe(2);
    expect(rebalances(text, 'g', 'fenced')).toBe(1);
    expect(rebalances(text, 'g', UNKNOWN_REASON_LABEL)).toBe(3);
    expect(sample(text, 'weir_group_generation', { group: 'g' })).toBe(7);
  });

  it('given a group gone and made again under the same id, then its counters start over', async () => {
    const fake = fakeGroups(20);
    const m = metricsOver(fake.source);
    fake.rebalance('g', 'join');
    fake.rebalance('g', 'join');
    expect(rebalances(await m.scrape(), 'g', 'join')).toBe(2);
    fake.groups.delete('g');
    expect(await m.scrape()).not.toContain('group="g"');
    fake.rebalance('g', 'join');
    expect(rebalances(await m.scrape(), 'g', 'join')).toBe(1);
  });

  it('shows committed offsets of a deleted topic without a lag', async () => {
    const fake = fakeGroups(20);
    fake.rebalance('g', 'join');
    const offset = { topic: 'gone', partition: 0, committed: 5, highWatermark: -1, lag: -1, metadata: '' };
    fake.groups.get('g')!.offsets.push(offset);
    const text = await metricsOver(fake.source).scrape();
    const labels = { group: 'g', topic: 'gone', partition: '0' };
    expect(sample(text, 'weir_group_committed_offset', labels)).toBe(5);
    expect(sample(text, 'weir_group_lag', labels)).toBeUndefined();
  });
});
