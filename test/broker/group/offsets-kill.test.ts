// Committed offsets survive kill -9: a `weir broker` child process takes commits, is SIGKILLed,
// and a broker reopened on the same data directory answers OffsetFetch with every acknowledged
// commit (the page cache outlives the process, so this holds under any flush policy).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { WeirClient } from '../../../proto/generated/weir/v1/Weir.js';
import type { OffsetFetchResponse__Output } from '../../../proto/generated/weir/v1/OffsetFetchResponse.js';
import { weirProto } from '../../../proto/grpc.js';
import { removeDir, startTestBroker, tempDir } from '../support.js';

const BIN = join(import.meta.dirname, '../../../dist/client/cli/bin.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) removeDir(d);
});

function startedAddress(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the broker did not start within 20 s')), 20_000);
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed['msg'] === 'broker started') {
          clearTimeout(timer);
          resolve(parsed['grpc'] as string);
        }
      } catch {
        /* not a log line */
      }
    });
  });
}

describe('given a broker process that acknowledged commits', () => {
  it('when it is killed with SIGKILL, a restarted broker has every commit', async () => {
    if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    const dataDir = tempDir();
    dirs.push(dataDir);
    const child = spawn(
      process.execPath,
      [
        BIN,
        'broker',
        '--data-dir',
        dataDir,
        '--grpc-port',
        '0',
        '--http-port',
        '0',
        '--kafka-port',
        '-1',
        '--log-level',
        'info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    const address = await startedAddress(child);
    const Weir = weirProto().weir.v1.Weir;
    const client = new Weir(address, grpc.credentials.createInsecure()) as WeirClient;
    const call = <Req, Res>(method: 'CreateTopic' | 'OffsetCommit', req: Req): Promise<Res> =>
      promisify(
        (client[method] as unknown as (r: Req, cb: (e: Error | null, v: Res) => void) => void).bind(client),
      )(req);
    await call('CreateTopic', { name: 'work', partitions: 4 });
    const expected = new Map<string, number>();
    for (let round = 0; round < 25; round++) {
      const group = `g${round % 5}`;
      const partitions = [0, 1, 2, 3].map((p) => ({ topic: 'work', partition: p, offset: round * 10 + p }));
      await call('OffsetCommit', { groupId: group, memberId: '', generation: -1, partitions });
      for (const p of partitions) expected.set(`${group}/${p.partition}`, p.offset);
    }
    client.close();
    const gone = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await gone;

    const reopened = await startTestBroker({}, dataDir);
    try {
      const got = new Map<string, number>();
      for (let g = 0; g < 5; g++) {
        const res = await reopened.call<object, OffsetFetchResponse__Output>('OffsetFetch', {
          groupId: `g${g}`,
        });
        for (const o of res.offsets) got.set(`g${g}/${o.partition}`, o.offset);
      }
      expect(got).toEqual(expected);
    } finally {
      await reopened.close();
    }
  });
});
