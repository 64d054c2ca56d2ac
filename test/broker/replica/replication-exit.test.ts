// Closing the replication listener and transport leaves nothing that keeps Node running. A real
// child process (the build output, so `npm run build` first) runs brokers 1 and 2 of a group with
// voters [1, 2, 3] over gRPC and commits a proposal; broker 3 is a listener in this test process
// that takes envelopes and never answers, and stays up, so the child's streams to it stay open
// until the child's transports close them. The child closes everything and then simply returns:
// it must exit on its own, with code 0.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ReplicationServer } from '../../../broker/replica/replication-server.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODULES = [
  'broker/replica/replication-server',
  'broker/replica/grpc-raft-transport',
  'broker/replica/replication-wire',
  'broker/replica/raft-groups',
  'broker/raft/raft-log',
  'proto/clock',
];
const built = (m: string): string => join(ROOT, 'dist', `${m}.js`);

let dir: string;
let silent: ReplicationServer;
let heard = 0;
beforeAll(async () => {
  // The child runs the build output; a stale build would test other code than the tree.
  for (const m of MODULES) {
    if (!existsSync(built(m))) throw new Error(`dist/${m}.js is missing: run \`npm run build\` first`);
    if (statSync(built(m)).mtimeMs < statSync(join(ROOT, `${m}.ts`)).mtimeMs)
      throw new Error(`dist/${m}.js is older than ${m}.ts: run \`npm run build\` first`);
  }
  dir = mkdtempSync(join(tmpdir(), 'weir-replication-exit-'));
  silent = await ReplicationServer.start({
    self: 3,
    clusterId: 'exit',
    host: '127.0.0.1',
    port: 0,
    receive: () => void heard++,
  });
});
afterAll(async () => {
  await silent.close();
  rmSync(dir, { recursive: true, force: true });
});

const SCRIPT = `
import { setTimeout as sleep } from 'node:timers/promises';
import { ReplicationServer } from ${JSON.stringify(built('broker/replica/replication-server'))};
import { GrpcRaftTransport } from ${JSON.stringify(built('broker/replica/grpc-raft-transport'))};
import { RaftGroups } from ${JSON.stringify(built('broker/replica/raft-groups'))};
import { MemoryRaftLog } from ${JSON.stringify(built('broker/raft/raft-log'))};
import { realClock } from ${JSON.stringify(built('proto/clock'))};

// Printed only if the process hangs: what is still open.
setInterval(() => console.error('still open:', process.getActiveResourcesInfo().join(', ')), 2000).unref();

const clock = realClock(true);

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const nodes = new Map();
const servers = await Promise.all(
  [1, 2].map((id) =>
    ReplicationServer.start({
      self: id, clusterId: 'exit', host: '127.0.0.1', port: 0,
      receive: (e) => nodes.get(id).groups.receive(e),
    }),
  ),
);
for (const server of servers) {
  const peers = new Map(servers.filter((o) => o !== server).map((o) => [o.self, o.address]));
  peers.set(3, process.argv[2]);
  const transport = new GrpcRaftTransport({
    self: server.self, clusterId: 'exit', peers, clock, backoffMs: { initial: 10, max: 50 },
  });
  const groups = new RaftGroups({ self: server.self, transport, clock, tickMs: 20 });
  const node = { server, transport, groups, role: 'follower', hw: 0 };
  nodes.set(server.self, node);
  groups.add(
    'g',
    { voters: [1, 2, 3], electionTicks: 10, heartbeatTicks: 2, maxEntriesPerAppend: 8, random },
    { term: 0, votedFor: null, amnesiac: false },
    { log: new MemoryRaftLog(), persistWhen: 'written', persistHardState() {}, flushed: () => Promise.resolve() },
    { roleChanged: (role) => (node.role = role), highWatermark: (hw) => (node.hw = hw) },
  );
}
let offset = null;
while (offset === null) {
  await sleep(20);
  const leader = [...nodes.values()].find((n) => n.role === 'leader');
  if (leader !== undefined) offset = leader.groups.propose('g', Buffer.from('x'), 1);
}
while (![...nodes.values()].every((n) => n.hw > offset)) await sleep(20);
for (const n of nodes.values()) {
  n.groups.close();
  n.transport.close();
  await n.server.close();
}
console.log(JSON.stringify({ committed: offset }));
`;

it('a process whose replication listeners and transports are closed exits on its own', async () => {
  const script = join(dir, 'replication-exit.mjs');
  writeFileSync(script, SCRIPT);
  // The timeout only turns a hang into a failure (with what was left open on stderr).
  const run = promisify(execFile)(process.execPath, [script, silent.address], {
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  const { stdout, stderr } = await run.catch((err: { stdout: string; stderr: string; signal?: string }) => {
    throw new Error(`the child did not exit on its own (${err.signal ?? 'error'}):\n${err.stderr}`);
  });
  expect(stderr).toBe('');
  expect(JSON.parse(stdout)).toEqual({ committed: expect.any(Number) });
  // The leader's stream to broker 3 was open: its envelopes arrived here.
  expect(heard).toBeGreaterThan(0);
});
