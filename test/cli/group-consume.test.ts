// `weir consume TOPIC --group G` as child processes against a real broker (heartbeats every 100 ms,
// so rebalances settle quickly): bounded reads that commit what they printed and leave the group,
// resuming where the last run stopped, and members that share a topic with --follow.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.js';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { expectFailure, jsonLines, killAll, okLines, startWeir, waitFor, weir } from './cli-support.js';

let broker: RunningBroker;
let dataDir: string;
let admin: Admin;
let producer: Producer;
let b: string[];
let topicSeq = 0;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-group-'));
  broker = await startBroker({
    dataDir,
    grpcPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    groupHeartbeatIntervalMs: 100,
  });
  b = ['--bootstrap', broker.grpcAddress];
  admin = new Admin({ bootstrap: broker.grpcAddress });
  producer = new Producer({ bootstrap: broker.grpcAddress, lingerMs: 0 });
});
afterEach(() => killAll());
afterAll(async () => {
  await producer?.close();
  await admin?.close();
  await broker?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

/** A topic with `counts[p]` records in partition p, valued `p<partition>-<i>`. */
async function topicWith(counts: number[]): Promise<string> {
  const topic = `gc-${++topicSeq}`;
  await admin.createTopic(topic, { partitions: counts.length });
  for (const [partition, n] of counts.entries()) await produce(topic, partition, 0, n);
  return topic;
}

async function produce(topic: string, partition: number, from: number, to: number): Promise<void> {
  if (to <= from) return;
  const records = Array.from({ length: to - from }, (_, i) => ({
    partition,
    key: `k${from + i}`,
    value: `p${partition}-${from + i}`,
  }));
  await producer.send({ topic, records });
}

function values(topic: string, counts: number[]): string[] {
  return counts.flatMap((n, p) => Array.from({ length: n }, (_, i) => `p${p}-${i}`)).sort();
}

async function committed(group: string): Promise<number[]> {
  const list = await admin.fetchOffsets(group);
  return list.sort((x, y) => x.partition - y.partition).map((o) => o.offset);
}

describe('weir consume --group, without --follow', () => {
  it('reads every partition to its end, commits what it printed, and leaves the group', async () => {
    const topic = await topicWith([4, 3]);
    const lines = okLines(await weir(['consume', topic, '--group', 'reader', '--from-beginning', ...b]));
    expect([...lines].sort()).toEqual(values(topic, [4, 3]));
    expect(lines.filter((l) => l.startsWith('p0'))).toEqual(['p0-0', 'p0-1', 'p0-2', 'p0-3']);
    expect(await committed('reader')).toEqual([4, 3]);
    const d = await admin.describeGroup('reader');
    expect(d).toMatchObject({ state: 'Empty', members: [] });
    expect(d.rebalances.map((r) => r.reason)).toEqual(['join', 'leave']);
  });

  it('resumes where the group committed: nothing when caught up, then only what is new', async () => {
    const topic = await topicWith([3, 2]);
    okLines(await weir(['consume', topic, '--group', 'resumer', '--from-beginning', ...b]));
    expect(okLines(await weir(['consume', topic, '--group', 'resumer', ...b]))).toEqual([]);
    await produce(topic, 1, 2, 4);
    expect(okLines(await weir(['consume', topic, '--group', 'resumer', ...b]))).toEqual(['p1-2', 'p1-3']);
    expect(await committed('resumer')).toEqual([3, 4]);
  });

  it('a new group without --from-beginning starts at the end, as Kafka: prints nothing', async () => {
    const topic = await topicWith([2, 2]);
    expect(okLines(await weir(['consume', topic, '--group', 'latecomer', ...b]))).toEqual([]);
    await produce(topic, 0, 2, 3);
    expect(okLines(await weir(['consume', topic, '--group', 'latecomer', ...b]))).toEqual(['p0-2']);
  });

  it('--max-messages stops after N records, with exactly those committed: the next run goes on', async () => {
    const topic = await topicWith([5, 4]);
    const args = ['consume', topic, '--group', 'counted', '--from-beginning', '--format', 'json', ...b];
    const first = jsonLines(await weir([...args, '--max-messages', '3']));
    expect(first).toHaveLength(3);
    const sum = (await committed('counted')).reduce((x, y) => x + y, 0);
    expect(sum).toBe(3);
    const rest = jsonLines(await weir(args));
    const all = [...first, ...rest].map((r) => r.value as string).sort();
    expect(all).toEqual(values(topic, [5, 4]));
    expect((await admin.describeGroup('counted')).state).toBe('Empty');
  });

  it('records the --key filter leaves out are consumed too', async () => {
    const topic = await topicWith([4]);
    const lines = okLines(
      await weir(['consume', topic, '--group', 'picky', '--from-beginning', '--key', 'k2', ...b]),
    );
    expect(lines).toEqual(['p0-2']);
    expect(await committed('picky')).toEqual([4]);
  });

  it('a member the group gives no partition exits 0 without printing', async () => {
    const topic = await topicWith([3]);
    const holder = startWeir(['consume', topic, '--group', 'crowded', '-f', '--from-beginning', ...b]);
    await waitFor(() => holder.stdout().split('\n').length > 3, 'the first member to read', 15_000);
    expect(okLines(await weir(['consume', topic, '--group', 'crowded', '--from-beginning', ...b]))).toEqual(
      [],
    );
    holder.child.kill('SIGINT');
    expect(okLines(await holder.exited)).toEqual(['p0-0', 'p0-1', 'p0-2']);
  });
});

describe('weir consume --group --follow', () => {
  it('members share the partitions, each record printed once; one leaving hands its partition over', async () => {
    const topic = await topicWith([0, 0]);
    const group = 'sharers';
    // From the beginning: a member holding its partition may not have looked up "latest" yet
    // when the records below arrive, and would then start after them.
    const one = startWeir(['consume', topic, '--group', group, '-f', '--from-beginning', ...b]);
    const two = startWeir(['consume', topic, '--group', group, '-f', '--from-beginning', ...b]);
    const settledWithTwo = async (): Promise<boolean> => {
      const d = await admin.describeGroup(group).catch(() => null);
      return (
        d?.state === 'Stable' && d.members.length === 2 && d.members.every((m) => m.assignment.length === 1)
      );
    };
    await waitForAsync(settledWithTwo, 'both members to hold a partition each');
    await produce(topic, 0, 0, 5);
    await produce(topic, 1, 0, 5);
    const printed = (): string[] => [...lines(one.stdout()), ...lines(two.stdout())];
    await waitFor(() => printed().length >= 10, 'ten records printed', 15_000);
    expect(printed().sort()).toEqual(values(topic, [5, 5]));
    expect(lines(one.stdout())).toHaveLength(5);

    one.child.kill('SIGINT');
    const oneResult = await one.exited;
    expect(oneResult.code, oneResult.stderr).toBe(0);
    await waitForAsync(async () => {
      const d = await admin.describeGroup(group);
      return d.state === 'Stable' && d.members.length === 1 && d.members[0]!.assignment.length === 2;
    }, 'the other member to take both partitions');
    await produce(topic, 0, 5, 7);
    await produce(topic, 1, 5, 7);
    await waitFor(() => lines(two.stdout()).length >= 9, 'the new records on the remaining member', 15_000);
    two.child.kill('SIGTERM');
    const twoResult = await two.exited;
    expect(twoResult.code, twoResult.stderr).toBe(0);
    const all = [...lines(oneResult.stdout), ...lines(twoResult.stdout)].sort();
    expect(all).toEqual(values(topic, [7, 7]));
    expect(await committed(group)).toEqual([7, 7]);
    expect((await admin.describeGroup(group)).state).toBe('Empty');
  });
});

describe('weir consume --group, refused', () => {
  it.each([
    [['--offset', '1'], /--offset cannot be used with --group: a group starts where it committed/],
    [['--from-time', '2026-01-01T00:00:00Z'], /--from-time cannot be used with --group/],
    [['--since', '5m'], /--since cannot be used with --group/],
    [['--partition', '0'], /--partition cannot be used with --group: the group assigns the partitions/],
  ])('%j with exit 2 and one line', async (args, reason) => {
    expectFailure(await weir(['consume', 'any', '--group', 'g', ...args, ...b]), 2, reason);
  });

  it('an unknown topic with exit 1 and one line', async () => {
    expectFailure(
      await weir(['consume', 'missing', '--group', 'g', ...b]),
      1,
      /UNKNOWN_TOPIC_OR_PARTITION.*missing/,
    );
  });
});

function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

async function waitForAsync(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
