// A group member killed with SIGKILL: a `weir consume --group -f` child process shares a topic with
// a GroupConsumer in this process; the child is killed (no leave, no last commit), and after the
// session timeout the coordinator evicts it and its partitions move to the survivor, which reads
// them from the child's last commit on (so nothing is lost; some records may come twice).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admin, GroupConsumer, Producer } from '../../client/index.js';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { killAll, startWeir, waitFor } from './cli-support.js';

let broker: RunningBroker;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-group-kill-'));
  broker = await startBroker({
    dataDir,
    logLevel: 'silent',
    groupHeartbeatIntervalMs: 100,
    groupMinSessionTimeoutMs: 100,
    groupSessionTimeoutMs: 1000,
  });
});
afterEach(() => killAll());
afterAll(async () => {
  await broker?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

/** Polls an async condition every 20 ms, for at most `ms`. */
async function until(condition: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('given two members of a group, one of them a child process', () => {
  it('when the child is killed, its partitions move to the other after the session timeout', async () => {
    // The child reads from where the survivor committed when it gave partitions up, so it may
    // print nothing before it is killed; what matters is who holds what, and what is read after.
    const bootstrap = broker.grpcAddress;
    const admin = new Admin({ bootstrap });
    const producer = new Producer({ bootstrap, lingerMs: 0 });
    await admin.createTopic('killed', { partitions: 4 });
    const send = (from: number, to: number) =>
      producer.send({
        topic: 'killed',
        records: Array.from({ length: (to - from) * 4 }, (_, i) => ({
          partition: i % 4,
          value: `p${i % 4}-${from + Math.floor(i / 4)}`,
        })),
      });
    await send(0, 5);

    const child = startWeir([
      'consume',
      'killed',
      '--group',
      'g',
      '--from-beginning',
      '-f',
      '--bootstrap',
      bootstrap,
    ]);
    const seen = new Set<string>();
    const survivor = new GroupConsumer({
      bootstrap,
      groupId: 'g',
      topics: ['killed'],
      autoOffsetReset: 'earliest',
      clientId: 'survivor',
    });
    const loop = (async () => {
      for await (const r of survivor) seen.add(r.value?.toString() ?? '');
    })();
    try {
      // Both members hold partitions: the group is stable with two members.
      await until(async () => {
        const d = await admin.describeGroup('g').catch(() => null); // not there until the first join
        return (
          d !== null &&
          d.state === 'Stable' &&
          d.members.length === 2 &&
          d.members.every((m) => m.assignment.length > 0)
        );
      }, 'a stable group of two');
      const childPartitions = (await admin.describeGroup('g')).members
        .filter((m) => m.clientId !== 'survivor')
        .flatMap((m) => m.assignment.map((tp) => tp.partition));
      expect(childPartitions.length).toBeGreaterThan(0);

      child.child.kill('SIGKILL');
      await child.exited.catch(() => undefined);
      await send(5, 10);

      // After the session timeout the survivor owns everything and reads every record.
      await waitFor(() => survivor.assignment().length === 4, 'the killed member to be evicted', 15_000);
      const all = Array.from({ length: 40 }, (_, i) => `p${i % 4}-${Math.floor(i / 4)}`);
      await waitFor(
        () => all.every((v) => seen.has(v) || !childPartitions.includes(Number(v[1]))),
        'the moved partitions read',
      );
      for (const p of childPartitions) {
        for (let i = 5; i < 10; i++) expect(seen.has(`p${p}-${i}`)).toBe(true);
      }
      const d = await admin.describeGroup('g');
      expect(d.members.map((m) => m.clientId)).toEqual(['survivor']);
      expect(d.rebalances.at(-1)?.reason).toBe('session-timeout');
    } finally {
      await survivor.close();
      await loop;
      await producer.close();
      await admin.close();
    }
  });
});
