// `weir consume --group` commits only what it wrote: with stdout on /dev/full (every write fails
// with ENOSPC) it fails, and the group's offsets stay where they were, so nothing is skipped.

import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.js';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { BIN } from './cli-support.js';

let broker: RunningBroker;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-unwritable-'));
  broker = await startBroker({ dataDir, logLevel: 'silent', groupHeartbeatIntervalMs: 100 });
});
afterAll(async () => {
  await broker?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

describe('given output that cannot be written', () => {
  it('fails and commits nothing', async () => {
    const bootstrap = broker.grpcAddress;
    const admin = new Admin({ bootstrap });
    const producer = new Producer({ bootstrap, lingerMs: 0 });
    try {
      await admin.createTopic('full', { partitions: 2 });
      await producer.send({
        topic: 'full',
        records: Array.from({ length: 2000 }, (_, i) => ({ partition: i % 2, value: `record-${i}` })),
      });
      const out = openSync('/dev/full', 'w');
      const child = spawn(
        process.execPath,
        [BIN, 'consume', 'full', '--group', 'g', '--from-beginning', '--bootstrap', bootstrap],
        { stdio: ['ignore', out, 'pipe'] },
      );
      closeSync(out);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`no exit within 20 s; stderr: ${stderr}`));
        }, 20_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code).toBe(1);
      expect(stderr).toMatch(/ENOSPC/);
      const offsets = await admin.fetchOffsets('g', [
        { topic: 'full', partition: 0 },
        { topic: 'full', partition: 1 },
      ]);
      expect(offsets.map((o) => o.offset)).toEqual([-1, -1]);
    } finally {
      await producer.close();
      await admin.close();
    }
  });
});
