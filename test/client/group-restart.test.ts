// Given a broker that restarts on the same data directory, a consumer group's committed offsets
// survive it: a member that stays open rejoins and goes on from what it committed, and a new
// member resumes after the committed offsets.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startBroker } from '../../broker/main.js';
import { Admin, GroupConsumer, Producer, type TopicPartition } from '../../client/index.js';
import { uniqueTopic, waitFor, within } from './helpers.js';
import { Collector, GROUP_BROKER_CONFIG, produceTo, uniqueGroup } from './group-helpers.js';

describe('across a broker restart', () => {
  it('a member that stays open rejoins, and goes on from what it committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-group-rejoin-'));
    const config = {
      dataDir: join(dir, 'data'),
      httpPort: 0,
      logLevel: 'silent' as const,
      ...GROUP_BROKER_CONFIG,
    };
    let running = await startBroker({ ...config, grpcPort: 0 });
    const bootstrap = running.grpcAddress;
    const lost: TopicPartition[] = [];
    const consumer = new GroupConsumer({
      bootstrap,
      groupId: uniqueGroup(),
      topics: ['rejoin'],
      autoOffsetReset: 'earliest',
      onLost: (tps) => void lost.push(...tps),
    });
    try {
      const a1 = new Admin({ bootstrap });
      const p1 = new Producer({ bootstrap, lingerMs: 0 });
      await a1.createTopic('rejoin', { partitions: 1 });
      await produceTo(p1, 'rejoin', 0, 3, 'before');
      await p1.close();
      await a1.close();
      const loop = new Collector(consumer);
      await waitFor(() => loop.records.length === 3, 'the records before the restart');
      await consumer.commit();
      await running.close();

      // The same port, so the member's channel finds the new broker (membership is not persisted).
      running = await startBroker({ ...config, grpcPort: Number(bootstrap.split(':').pop()) });
      const p2 = new Producer({ bootstrap, lingerMs: 0 });
      await produceTo(p2, 'rejoin', 0, 2, 'after');
      await p2.close();
      await waitFor(() => loop.records.length >= 5, 'the records after the restart', 20_000);
      expect(loop.values()).toEqual(['before-0', 'before-1', 'before-2', 'after-0', 'after-1']);
      // The fetches may reach the new broker before the first heartbeat learns the member is gone.
      await waitFor(() => lost.length > 0, 'the membership lost in the restart');
      expect(lost).toEqual([{ topic: 'rejoin', partition: 0 }]);
      await waitFor(() => consumer.assignment().length > 0, 'the partition back after rejoining');
      expect(consumer.assignment()).toEqual([{ topic: 'rejoin', partition: 0 }]);
    } finally {
      await consumer.close();
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('committed offsets survive, and a new member resumes after them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-group-restart-'));
    const dataDir = join(dir, 'data');
    const config = { dataDir, grpcPort: 0, httpPort: 0, logLevel: 'silent' as const, ...GROUP_BROKER_CONFIG };
    let running = await startBroker(config);
    try {
      const bootstrap = running.grpcAddress;
      const topic = uniqueTopic('restart');
      const groupId = uniqueGroup();
      const a1 = new Admin({ bootstrap });
      const p1 = new Producer({ bootstrap, lingerMs: 0 });
      await a1.createTopic(topic, { partitions: 2 });
      await produceTo(p1, topic, 0, 5);
      await produceTo(p1, topic, 1, 3);
      const first = new GroupConsumer({ bootstrap, groupId, topics: [topic], autoOffsetReset: 'earliest' });
      const loop = new Collector(first);
      await waitFor(() => loop.records.length >= 8, 'every record');
      await first.close(); // commits (autoCommit) and leaves
      await p1.close();
      await a1.close();
      await running.close();

      running = await startBroker(config);
      const again = running.grpcAddress;
      const a2 = new Admin({ bootstrap: again });
      try {
        const offsets = await a2.fetchOffsets(groupId);
        expect(offsets.map((o) => [o.partition, o.offset])).toEqual([
          [0, 5],
          [1, 3],
        ]);
        const p2 = new Producer({ bootstrap: again, lingerMs: 0 });
        await produceTo(p2, topic, 0, 1, 'after');
        await p2.close();
        const second = new GroupConsumer({ bootstrap: again, groupId, topics: [topic] });
        try {
          const it = second[Symbol.asyncIterator]();
          const next = await within(it.next(), 10_000, 'the record after the restart');
          expect(next.value).toMatchObject({ partition: 0, offset: 5 });
          expect(next.value?.value?.toString()).toBe('after-0');
        } finally {
          await second.close();
        }
      } finally {
        await a2.close();
      }
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
