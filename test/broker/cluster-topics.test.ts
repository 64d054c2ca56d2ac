// With peers, topics are the metadata log's: an admin request to any broker goes through the
// controller, every broker applies the committed records, and each creates the replicas placed on
// it, whose Raft group is the placement's replicas. Real brokers over real gRPC and files.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, ProducedRecord } from '../../broker/broker.js';
import { Admin } from '../../client/admin.js';
import * as grpc from '@grpc/grpc-js';
import { promisify } from 'node:util';
import type { ProduceRequest } from '../../proto/generated/weir/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import type { WeirClient } from '../../proto/generated/weir/v1/Weir.js';
import { fromWireError, weirProto } from '../../proto/grpc.js';
import { TestCluster, until } from './cluster-support.js';

let cluster: TestCluster | null = null;
const admins: Admin[] = [];

afterEach(async () => {
  for (const a of admins.splice(0)) a.close();
  await cluster?.close();
  cluster = null;
});

function adminOf(address: string): Admin {
  const a = new Admin({ bootstrap: address });
  admins.push(a);
  return a;
}

/**
 * Waits until, for every partition of `topic`, the brokers holding a replica of it name the same
 * leader, that broker leads it, and it is the preferred replica (unless that one is stopped);
 * returns the leaders. (A broker without a replica only guesses.)
 */
async function electedLeaders(c: TestCluster, topic: string, partitions: number): Promise<number[]> {
  const view = (): number[] =>
    Array.from({ length: partitions }, (_, p) => {
      const named = new Set(
        c.running
          .filter((b) => b.broker.find(topic, p) !== undefined)
          .map((b) => b.broker.placement(topic, p).leader),
      );
      const [leader] = named;
      const leads = c.running.find((b) => b.nodeId === leader)?.broker.find(topic, p)?.role === 'leader';
      // The preferred replica once it runs: else the leader-balancer may still move it.
      const preferred = c.running
        .find((b) => b.broker.find(topic, p) !== undefined)
        ?.broker.placement(topic, p).replicas[0];
      const settled = leader === preferred || !c.running.some((b) => b.nodeId === preferred);
      return named.size === 1 && leads && settled ? leader! : -1;
    });
  return until(`leaders of ${topic}`, view, (v) => v.every((l) => l !== -1));
}

/** Which broker leads each partition now: the one whose replica says it leads (-1: none). */
function leadersNow(c: TestCluster, topic: string, partitions: number): number[] {
  return Array.from(
    { length: partitions },
    (_, p) => c.running.find((b) => b.broker.find(topic, p)?.role === 'leader')?.nodeId ?? -1,
  );
}

function rec(value: string): ProducedRecord {
  return { key: null, value: Buffer.from(value), headers: [], timestamp: 0 };
}

function text(b: Broker, topic: string, partition: number): string[] {
  const p = b.find(topic, partition)!;
  const read = p.read(0, 1 << 20, { maxOffset: p.highWatermark });
  const out: string[] = [];
  // The values of the records, in order, whatever the batches.
  let off = 0;
  const buf = read.records;
  while (off < buf.length) {
    const size = buf.readInt32BE(off + 8) + 12;
    out.push(buf.subarray(off, off + size).toString('latin1'));
    off += size;
  }
  return out;
}

describe('topics with peers', () => {
  it('are created, altered, grown and deleted through the controller from any broker', async () => {
    const c = (cluster = await TestCluster.start(3));
    await c.registered();
    const controller = c.node(1).broker.cluster().controllerId;
    const follower = c.running.find((b) => b.nodeId !== controller)!;
    const admin = adminOf(follower.grpcAddress);

    const created = await admin.createTopic('orders', {
      partitions: 3,
      replicationFactor: 3,
      configs: { 'retention.ms': '3600000' },
    });
    // The answer comes once the broker asked has applied the change.
    expect(created.partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);
    expect(created.configs['retention.ms']).toBe('3600000');
    // Preferred leaders spread over the three brokers.
    expect(new Set(created.partitions.map((p) => p.replicas[0])).size).toBe(3);

    // Every broker applies it and holds all three partitions, whose groups elect leaders.
    await until(
      'every broker holds orders',
      () => c.running.map((b) => b.broker.partitionsHeld('orders').length),
      (n) => n.every((x) => x === 3),
    );
    const led = await electedLeaders(c, 'orders', 3);

    // acks=all on the leader commits on a majority; a follower refuses with the leader's name.
    const leader = c.node(led[0]!).broker;
    const [written] = await leader.produceRecords('orders', 0, [rec('one')], 'all');
    // Committed: the leader's high watermark is past it when acks=all answers.
    const end = written!.outcome.lastOffset + 1;
    expect(leader.find('orders', 0)!.highWatermark).toBeGreaterThanOrEqual(end);
    const other = c.running.find((b) => b.nodeId !== led[0])!.broker;
    await expect(other.produceRecords('orders', 0, [rec('two')], 'all')).rejects.toMatchObject({
      code: 'NOT_LEADER_OR_FOLLOWER',
      message: expect.stringContaining(`broker ${led[0]}`) as string,
    });
    const [fetched] = await other.fetch([{ topic: 'orders', partition: 0, offset: 0, maxBytes: 0 }], 0, 0, 0);
    expect(fetched!.error?.code).toBe('NOT_LEADER_OR_FOLLOWER');
    // The followers hold the same batch once it is committed.
    await until(
      'the batch on every replica',
      () => c.running.map((b) => b.broker.find('orders', 0)!.highWatermark),
      (hws) => hws.every((hw) => hw === end),
    );
    const batches = c.running.map((b) => text(b.broker, 'orders', 0));
    expect(batches[0]!.filter((b) => b.includes('one'))).toHaveLength(1);
    for (const b of batches) expect(b).toEqual(batches[0]);

    // Alter and grow through another broker: every broker applies both.
    const altered = await admin.alterTopicConfig('orders', { set: { 'retention.ms': '60000' } });
    expect(altered.overrides['retention.ms']).toBe('60000');
    const grown = await adminOf(c.node(controller).grpcAddress).createPartitions('orders', 4);
    expect(grown.partitions).toHaveLength(4);
    await until(
      'every broker altered and grew orders',
      () =>
        c.running.map((b) => {
          const d = b.broker.describeTopic('orders');
          return `${d.overrides['retention.ms']}/${d.partitions.length}/${b.broker.partitionsHeld('orders').length}`;
        }),
      (v) => v.every((x) => x === '60000/4/4'),
    );

    // Refusals come back as the controller's typed errors.
    await expect(admin.createTopic('orders', { partitions: 1, replicationFactor: 1 })).rejects.toMatchObject({
      code: 'TOPIC_ALREADY_EXISTS',
    });
    await expect(admin.createTopic('wide', { partitions: 1, replicationFactor: 4 })).rejects.toMatchObject({
      code: 'INVALID_REPLICATION_FACTOR',
      message: expect.stringContaining('3 live') as string,
    });

    // Delete from a follower: every broker stops serving it and removes its directories.
    await admin.deleteTopic('orders');
    await until(
      'orders gone everywhere',
      () =>
        c.dataDirs.map(
          (d, i) =>
            `${c.node(i + 1).broker.partitionCount('orders')}:${readdirSync(d).filter((f) => f.startsWith('orders-')).length}`,
        ),
      (v) => v.every((x) => x === '0:0'),
    );
    await expect(admin.describeTopic('orders')).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  }, 90_000);

  it('places a topic of replication factor 2 on two brokers per partition, and a restart rejoins them', async () => {
    const c = (cluster = await TestCluster.start(3));
    await c.registered();
    const created = await adminOf(c.node(2).grpcAddress).createTopic('pairs', {
      partitions: 3,
      replicationFactor: 2,
    });
    const placed = created.partitions.map((p) => p.replicas);
    expect(placed.every((r) => r.length === 2)).toBe(true);
    // Each broker holds exactly the partitions placed on it; the others are NOT_LEADER_OR_FOLLOWER there.
    await until(
      'replicas where placed',
      () =>
        c.running.map((b) =>
          b.broker
            .partitionsHeld('pairs')
            .map((p) => p.id)
            .join(','),
        ),
      (v) =>
        v.every(
          (held, i) =>
            held ===
            placed
              .map((r, p) => (r.includes(i + 1) ? p : -1))
              .filter((p) => p >= 0)
              .join(','),
        ),
    );
    const missing = placed.findIndex((r) => !r.includes(1));
    expect(missing).toBeGreaterThanOrEqual(0);
    await expect(c.node(1).broker.produceRecords('pairs', missing, [rec('x')], 'all')).rejects.toMatchObject({
      code: 'NOT_LEADER_OR_FOLLOWER',
    });
    // Metadata from a broker that holds no replica still names the partition's replicas.
    expect(c.node(1).broker.placement('pairs', missing).replicas).toEqual(placed[missing]);

    const led = await electedLeaders(c, 'pairs', 3);
    const p0 = c.node(led[0]!).broker;
    const [kept] = await p0.produceRecords('pairs', 0, [rec('kept')], 'all');
    const end = kept!.outcome.lastOffset + 1;

    // A restarted broker rejoins its partitions from its own records before it hears the log again.
    const restarted = placed[0]!.find((id) => id !== led[0])!;
    await c.restart(restarted);
    expect(
      c
        .node(restarted)
        .broker.partitionsHeld('pairs')
        .map((p) => p.id),
    ).toEqual(placed.map((r, p) => (r.includes(restarted) ? p : -1)).filter((p) => p >= 0));
    expect(existsSync(join(c.dataDirs[restarted - 1]!, 'pairs-0'))).toBe(true);
    await until(
      'the restarted replica caught up',
      () => c.node(restarted).broker.find('pairs', 0)!.highWatermark,
      (hw) => hw >= end,
    );
  }, 90_000);

  it('answers acks=all once a majority holds the batch, and REQUEST_TIMED_OUT without one', async () => {
    const c = (cluster = await TestCluster.start(3));
    await c.registered();
    await adminOf(c.node(1).grpcAddress).createTopic('majority', { partitions: 1, replicationFactor: 3 });
    const [leaderId] = await electedLeaders(c, 'majority', 1);
    const leader = c.node(leaderId!);
    const client = new (weirProto().weir.v1.Weir)(
      leader.grpcAddress,
      grpc.credentials.createInsecure(),
    ) as WeirClient;
    const produce = async (value: string, timeoutMs: number): Promise<ProduceResponse__Output> => {
      const request: ProduceRequest = {
        acks: 'ACKS_ALL',
        timeoutMs,
        partitions: [{ topic: 'majority', partition: 0, records: [{ value: Buffer.from(value) }] }],
      };
      return (await promisify(client.Produce.bind(client))(request)) as ProduceResponse__Output;
    };
    try {
      const ok = await produce('with a majority', 10_000);
      expect(fromWireError(ok.results[0]!.error)).toBeNull();
      // One follower down: two of three still make a majority.
      const followers = c.running.filter((b) => b.nodeId !== leaderId).map((b) => b.nodeId);
      await c.stop(followers[0]!);
      const still = await produce('two of three', 10_000);
      expect(fromWireError(still.results[0]!.error)).toBeNull();
      expect(Number(still.results[0]!.baseOffset)).toBeGreaterThan(Number(ok.results[0]!.baseOffset));
      // Both down: the leader alone is no majority. The answer says the wait timed out (or, if the
      // leader already noticed it lost its majority and stepped down, that it does not lead).
      await c.stop(followers[1]!);
      const alone = await produce('alone', 500);
      expect(['REQUEST_TIMED_OUT', 'NOT_LEADER_OR_FOLLOWER']).toContain(
        fromWireError(alone.results[0]!.error)?.code,
      );
      expect(leader.broker.find('majority', 0)!.highWatermark).toBe(Number(still.results[0]!.lastOffset) + 1);
    } finally {
      client.close();
    }
  }, 90_000);

  it('hands leadership back to a preferred replica once it returns and catches up', async () => {
    const c = (cluster = await TestCluster.start(3));
    await c.registered();
    const created = await adminOf(c.node(1).grpcAddress).createTopic('balanced', {
      partitions: 3,
      replicationFactor: 3,
    });
    const preferred = created.partitions.map((p) => p.replicas[0]!);
    // Each broker is the preferred leader of one partition, and the balancer makes it lead it.
    expect([...preferred].sort()).toEqual([1, 2, 3]);
    await until(
      'every partition led by its preferred replica',
      () => leadersNow(c, 'balanced', 3),
      (l) => JSON.stringify(l) === JSON.stringify(preferred),
    );
    const p = 0;
    const away = preferred[p]!;
    const leader = c.node(away).broker;
    await leader.produceRecords('balanced', p, [rec('before')], 'all');
    await c.stop(away);
    await until(
      'another leader while it is down',
      () => leadersNow(c, 'balanced', 3)[p],
      (l) => l !== undefined && l !== -1 && l !== away,
    );
    await c.restart(away);
    await until(
      'the preferred replica leads again',
      () => leadersNow(c, 'balanced', 3),
      (l) => JSON.stringify(l) === JSON.stringify(preferred),
      60_000,
    );
    // Nothing was lost on the way there and back.
    const back = c.node(away).broker;
    const [after] = await back.produceRecords('balanced', p, [rec('after')], 'all');
    expect(text(back, 'balanced', p).filter((b) => b.includes('before') || b.includes('after'))).toHaveLength(
      2,
    );
    expect(after!.outcome.baseOffset).toBeGreaterThan(0);
  }, 120_000);
});
