// The broker hands each partition replica the host's boot id (BrokerDeps.host; the process wires
// /proc's): every partition's `raft-state` names the boot it was last written under, and keeps the
// replica id made when the partition's state was created across restarts.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LINUX_BOOT_ID_PATH, procBootId, type HostBoot } from '../../broker/boot-id.js';
import { Broker } from '../../broker/broker.js';
import { resolveBrokerConfig } from '../../broker/config.js';
import { ManualClock, RAFT_STATE_FILE } from '../../storage/index.js';
import { startTestBroker } from './support.js';

const BOOT_A = '0b3e7c4e-6a47-4b8e-9a55-2f0d6f1c8a01';
const BOOT_B = '7d9f2a10-3c5b-4e6f-8a1d-9b2c4e6f8a03';
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weir-identity-'));
  dirs.push(dir);
  return dir;
}

function open(dir: string, bootId: string | null): Broker {
  const host: HostBoot = { bootId: () => bootId };
  return Broker.open(resolveBrokerConfig({ overrides: { dataDir: dir } }), {
    clock: new ManualClock(),
    host,
  });
}

/** The fields of partition `p`'s raft-state, by name. */
function raftState(dir: string, p: number): Record<string, string> {
  const text = readFileSync(join(dir, `t-${p}`, RAFT_STATE_FILE), 'utf8');
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => l.split(': ') as [string, string]),
  );
}

describe('a replica identity across restarts', () => {
  it('stamps the boot each state was written under and keeps each replica id', async () => {
    const dir = dataDir();
    const first = open(dir, BOOT_A);
    first.createTopic('t', 2, 1, {});
    await first.close();
    const [a0, a1] = [raftState(dir, 0), raftState(dir, 1)];
    expect(a0).toMatchObject({
      version: '1',
      current_term: '1',
      voted_for: '0',
      amnesiac: '0',
      boot_id: BOOT_A,
    });
    expect(a0.replica_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(a1.replica_id).not.toBe(a0.replica_id);

    const second = open(dir, BOOT_B);
    await second.close();
    expect(raftState(dir, 0)).toMatchObject({
      current_term: '2',
      boot_id: BOOT_B,
      replica_id: a0.replica_id,
    });
    expect(raftState(dir, 1)).toMatchObject({
      current_term: '2',
      boot_id: BOOT_B,
      replica_id: a1.replica_id,
    });

    const third = open(dir, null);
    await third.close();
    expect(raftState(dir, 0)).toMatchObject({ current_term: '3', boot_id: '-', replica_id: a0.replica_id });
  });

  it.runIf(existsSync(LINUX_BOOT_ID_PATH))(
    'is stamped with the host boot id from /proc by the process',
    async () => {
      const dir = dataDir();
      const b = await startTestBroker({}, dir);
      try {
        await b.call('CreateTopic', { name: 't', partitions: 1 });
      } finally {
        await b.close();
      }
      expect(raftState(dir, 0).boot_id).toBe(procBootId.bootId());
    },
  );
});
