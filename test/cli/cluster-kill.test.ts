// Three `weir broker` processes configured as one cluster through the environment (WEIR_NODE_ID,
// WEIR_PEERS, WEIR_CLUSTER_ID, WEIR_REPLICATION_PORT) elect one controller, as each one's
// GET /v1/cluster reports, and list each other once registered. The controller is killed with
// SIGKILL: the other two elect another, which fences it; the killed one, restarted on its data
// directory, follows it and is listed again.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../broker/support.js';

const BIN = join(import.meta.dirname, '../../dist/client/cli/bin.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Starts broker `nodeId` and resolves with its HTTP address once it logs that it started. */
function startBroker(
  nodeId: number,
  peers: string,
  replicationPort: number,
  dataDir: string,
): Promise<{
  child: ChildProcess;
  http: string;
}> {
  if (!existsSync(BIN))
    throw new Error('dist/client/cli/bin.js is missing: run `npm run build` first (npm test does)');
  const child = spawn(
    process.execPath,
    [BIN, 'broker', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--log-level', 'info'],
    {
      env: {
        ...process.env,
        WEIR_NODE_ID: String(nodeId),
        WEIR_PEERS: peers,
        WEIR_CLUSTER_ID: 'kill-test',
        WEIR_REPLICATION_PORT: String(replicationPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker ${nodeId} did not start within 20 s`)), 20_000);
    lines.on('line', (line) => {
      let parsed: { msg?: string; http?: string; replication?: string };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.msg !== 'broker started') return;
      clearTimeout(timer);
      if (parsed.replication !== `127.0.0.1:${replicationPort}`)
        reject(new Error(`broker ${nodeId} replicates on ${String(parsed.replication)}`));
      else resolve({ child, http: parsed.http! });
    });
    child.on('exit', (code) => reject(new Error(`broker ${nodeId} exited with ${code} before starting`)));
  });
}

/** The node ids a broker's /v1/cluster lists as live, or null when it cannot be reached. */
async function brokersOf(http: string): Promise<number[] | null> {
  try {
    const res = await fetch(`http://${http}/v1/cluster`);
    return ((await res.json()) as { brokers: { nodeId: number }[] }).brokers.map((b) => b.nodeId);
  } catch {
    return null;
  }
}

/** Polls until every broker lists exactly `ids` as the live brokers (30 s). */
async function allList(https: string[], ids: number[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const lists = await Promise.all(https.map(brokersOf));
    if (lists.every((l) => JSON.stringify(l) === JSON.stringify(ids))) return;
    if (Date.now() > deadline) throw new Error(`brokers listed after 30 s: ${JSON.stringify(lists)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function controllerOf(http: string): Promise<number> {
  try {
    const res = await fetch(`http://${http}/v1/cluster`);
    return ((await res.json()) as { controllerId: number }).controllerId;
  } catch {
    return -2; // unreachable (killed)
  }
}

/** Polls the brokers' /v1/cluster until they agree on a controller that `ok` accepts (30 s). */
async function agreedController(https: string[], ok: (id: number) => boolean): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ids = await Promise.all(https.map(controllerOf));
    if (ids[0]! >= 0 && ids.every((id) => id === ids[0]) && ok(ids[0]!)) return ids[0]!;
    if (Date.now() > deadline) throw new Error(`no agreed controller after 30 s: ${JSON.stringify(ids)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a three-broker cluster of real processes', () => {
  it('elects a controller, elects another when it is killed, and takes it back', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const peers = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const data = ports.map(() => mkdtempSync(join(tmpdir(), 'weir-kill-')));
    dirs.push(...data);
    const brokers = await Promise.all(ports.map((p, i) => startBroker(i + 1, peers, p, data[i]!)));
    const first = await agreedController(
      brokers.map((b) => b.http),
      () => true,
    );

    // Registered through their heartbeats, every broker lists all three.
    await allList(
      brokers.map((b) => b.http),
      [1, 2, 3],
    );

    const victim = brokers[first - 1]!;
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));
    const rest = brokers.filter((b) => b !== victim).map((b) => b.http);
    const second = await agreedController(rest, (id) => id !== first);
    expect([1, 2, 3].filter((id) => id !== first)).toContain(second);
    // Silent since its death, the killed broker is fenced by the new controller.
    const survivors = [1, 2, 3].filter((id) => id !== first);
    await allList(rest, survivors);

    const back = await startBroker(first, peers, ports[first - 1]!, data[first - 1]!);
    expect(await agreedController([...rest, back.http], (id) => id === second)).toBe(second);
    await allList([...rest, back.http], [1, 2, 3]);
  }, 90_000);
});
