// On one broker every partition is a Raft group of one replica (broker/replica/partition-replica.ts):
// it leads from start-up, stamps its term in every batch as the leader epoch, keeps its term and
// vote in `raft-state` and its epochs in `leader-epoch-checkpoint`, and commits on its own append,
// under the topic's flush policy.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchBaseOffset, batchLeaderEpoch } from '../../proto/batch-header.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { MetadataResponse__Output } from '../../proto/generated/weir/v1/MetadataResponse.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { FaultyFs } from '../storage/faulty-fs.js';
import { removeDir, startTestBroker, tempDir, type TestBroker } from './support.js';

const started: TestBroker[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const b of started.splice(0)) await b.close().catch(() => undefined);
  for (const d of dirs.splice(0)) removeDir(d);
});

async function start(dataDir: string, fs?: FaultyFs): Promise<TestBroker> {
  const b = await startTestBroker(fs === undefined ? {} : { fs }, dataDir);
  started.push(b);
  return b;
}

function batch(value: string): Buffer {
  return encodeBatch([{ timestamp: 1_700_000_000_000, key: null, value: Buffer.from(value) }]);
}

async function leaderEpochInMetadata(b: TestBroker): Promise<number | undefined> {
  const meta = await b.call<unknown, MetadataResponse__Output>('GetMetadata', { topics: ['t'] });
  return meta.topics[0]?.partitions[0]?.leaderEpoch;
}

/** The first stored batch at or after `offset`: its base offset and leader epoch. */
async function storedAt(b: TestBroker, offset: number): Promise<{ base: number; epoch: number }> {
  const fetched = await b.call<unknown, FetchResponse__Output>('Fetch', {
    partitions: [{ topic: 't', partition: 0, offset }],
  });
  const bytes = fetched.results[0]!.batches;
  return { base: batchBaseOffset(bytes, 0), epoch: batchLeaderEpoch(bytes, 0) };
}

describe('a partition on one broker, a Raft group of one', () => {
  it('leads at start with a new term each time, stamped in its batches, and its offsets run on', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const first = await start(dir);
    await first.call('CreateTopic', { name: 't', partitions: 1 });
    const a = await first.running.broker.produce('t', 0, batch('a'), 'all');
    expect(a.baseOffset).toBe(0);
    expect(await leaderEpochInMetadata(first)).toBe(1);
    expect(await storedAt(first, 0)).toEqual({ base: 0, epoch: 1 });
    const partitionDir = join(dir, 't-0');
    expect(readFileSync(join(partitionDir, 'raft-state'), 'utf8')).toMatch(/^current_term: 1$/m);
    await first.close();
    started.length = 0;

    const second = await start(dir);
    const b = await second.running.broker.produce('t', 0, batch('b'), 'all');
    // No no-op between: alone, the replica's own log is the majority.
    expect(b.baseOffset).toBe(1);
    expect(await leaderEpochInMetadata(second)).toBe(2);
    expect(await storedAt(second, 1)).toEqual({ base: 1, epoch: 2 });
    expect(readFileSync(join(partitionDir, 'raft-state'), 'utf8')).toMatch(/^current_term: 2$/m);
    const epochs = readFileSync(join(partitionDir, 'leader-epoch-checkpoint'), 'utf8').trim().split('\n');
    expect(epochs).toEqual(['0', '2', '1 0', '2 1']);
  });

  it('with flush.messages=1 commits, answers acks=all and shows a record to consumers once it is fsynced', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const fs = new FaultyFs();
    const b = await start(dir, fs);
    await b.call('CreateTopic', { name: 't', partitions: 1, configs: { 'flush.messages': '1' } });
    const broker = b.running.broker;
    const gate = fs.holdSyncs();
    let answered = false;
    const produced = broker.produce('t', 0, batch('x'), 'all').then((o) => {
      answered = true;
      return o;
    });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    expect(broker.partition('t', 0).logEndOffset).toBe(1);
    expect(broker.partition('t', 0).highWatermark).toBe(0);
    gate.open();
    expect((await produced).baseOffset).toBe(0);
    expect(broker.partition('t', 0).highWatermark).toBe(1);
  });
});
