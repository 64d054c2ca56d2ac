// A script that awaits producer.send() must not exit before the record is sent: the producer's
// linger timer has to keep Node running (an unref'd timer let Node end the script inside the
// await, with exit code 13 and nothing sent). Checked with a real child process.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { Admin, Consumer } from '../../client/index.js';

const CLIENT = join(import.meta.dirname, '../../dist/client/index.js');
let broker: RunningBroker;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weir-exit-'));
  broker = await startBroker({ dataDir: join(dir, 'data'), logLevel: 'silent' });
  const admin = new Admin({ bootstrap: broker.grpcAddress });
  await admin.createTopic('exit', { partitions: 1 });
  await admin.close();
});
afterAll(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a script that awaits one send, then close, leaves the record in the log', async () => {
  if (!existsSync(CLIENT))
    throw new Error('dist/client/index.js is missing: run `npm run build` first (npm test does)');
  const script = join(dir, 'send-once.mjs');
  writeFileSync(
    script,
    `import { Producer } from ${JSON.stringify(CLIENT)};
const producer = new Producer({ bootstrap: process.argv[2], lingerMs: 200 });
const meta = await producer.send({ topic: 'exit', value: 'sent before exit' });
console.log(JSON.stringify(meta));
await producer.close();
`,
  );
  // Asynchronously: the broker runs in this process and must keep answering meanwhile.
  const run = await promisify(execFile)(process.execPath, [script, broker.grpcAddress], { timeout: 30_000 });
  expect(run.stderr).toBe('');
  expect(JSON.parse(run.stdout)).toMatchObject({ topic: 'exit', partition: 0, offset: 0 });

  const consumer = new Consumer({ bootstrap: broker.grpcAddress });
  consumer.assign([{ topic: 'exit', partition: 0 }]);
  consumer.seek({ topic: 'exit', partition: 0 }, 'earliest');
  const seen: string[] = [];
  for await (const record of consumer) {
    seen.push(record.value?.toString() ?? '');
    break;
  }
  await consumer.close();
  expect(seen).toEqual(['sent before exit']);
});
