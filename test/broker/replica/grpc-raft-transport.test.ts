// Raft over the gRPC transport (broker/replica/grpc-raft-transport.ts): three RaftGroups in one
// process, node ids 1, 2 and 3, each with its own replication listener on 127.0.0.1 and its own
// transport, real timers. Given one group with voters [1, 2, 3], a leader is elected, a proposal
// commits on all three, one broker stopped still leaves a majority that commits, and the broker
// brought back is caught up. Then the transport alone: a peer that is down costs dropped envelopes
// and a doubling, capped backoff; a peer that does not read costs dropped envelopes beyond the
// queue bound; after close nothing is sent.

import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../../proto/clock.js';
import type { WeirError } from '../../../proto/errors.js';
import type { HardState } from '../../../broker/raft/messages.js';
import { MemoryRaftLog } from '../../../broker/raft/raft-log.js';
import type { Role } from '../../../broker/raft/raft-node.js';
import { GrpcRaftTransport } from '../../../broker/replica/grpc-raft-transport.js';
import { RaftGroups, type Envelope } from '../../../broker/replica/raft-groups.js';
import { ReplicationServer } from '../../../broker/replica/replication-server.js';
import { ManualClock } from '../../../storage/clock.js';
import { seededRandom } from '../../storage/helpers.js';
import { until } from './replication-support.js';

const CLUSTER = 'test-cluster';
const IDS = [1, 2, 3];
const GROUP = 't-0';
// Real time on a shared machine: timeouts long enough that a busy event loop does not depose a
// healthy leader (an election takes 0.5 to 1 s).
const TICK_MS = 50;

/** What survives a broker's restart: its log and its term and vote. */
interface Disk {
  readonly log: MemoryRaftLog;
  hardState: HardState;
}

interface RunningBroker {
  readonly id: number;
  readonly server: ReplicationServer;
  readonly transport: GrpcRaftTransport;
  readonly groups: RaftGroups;
  role: Role;
  hw: number;
}

class Cluster {
  readonly disks = new Map<number, Disk>(
    IDS.map((id) => [id, { log: new MemoryRaftLog(), hardState: initial() }]),
  );
  readonly brokers = new Map<number, RunningBroker>();
  readonly ports = new Map<number, number>();
  private readonly clock = realClock(true);

  /** Starts every broker's listener first (ports are the OS's), then their transports and groups. */
  async start(): Promise<void> {
    const servers = await Promise.all(IDS.map((id) => this.listen(id, 0)));
    for (const s of servers) this.ports.set(s.self, s.port);
    for (const s of servers) this.run(s.self, s);
  }

  async stop(id: number): Promise<void> {
    const b = this.brokers.get(id)!;
    this.brokers.delete(id);
    b.groups.close();
    b.transport.close();
    await b.server.close();
  }

  /** Starts `id` again on its old port, from what it had on disk. */
  async restart(id: number): Promise<void> {
    this.run(id, await this.listen(id, this.ports.get(id)!));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.brokers.keys()].map((id) => this.stop(id)));
  }

  leader(): RunningBroker | null {
    const leaders = [...this.brokers.values()].filter((b) => b.role === 'leader');
    return leaders.length === 1 ? leaders[0]! : null;
  }

  private listen(id: number, port: number): Promise<ReplicationServer> {
    return ReplicationServer.start({
      self: id,
      clusterId: CLUSTER,
      host: '127.0.0.1',
      port,
      receive: (e: Envelope) => this.brokers.get(id)?.groups.receive(e),
    });
  }

  private run(id: number, server: ReplicationServer): void {
    const peers = new Map(IDS.filter((p) => p !== id).map((p) => [p, `127.0.0.1:${this.ports.get(p)}`]));
    const transport = new GrpcRaftTransport({
      self: id,
      clusterId: CLUSTER,
      peers,
      clock: this.clock,
      backoffMs: { initial: 20, max: 200 },
    });
    const groups = new RaftGroups({ self: id, transport, clock: this.clock, tickMs: TICK_MS });
    const broker: RunningBroker = { id, server, transport, groups, role: 'follower', hw: 0 };
    this.brokers.set(id, broker);
    const disk = this.disks.get(id)!;
    groups.add(
      GROUP,
      { voters: IDS, electionTicks: 10, heartbeatTicks: 2, maxEntriesPerAppend: 8, random: seededRandom(id) },
      disk.hardState,
      {
        log: disk.log,
        persistWhen: 'written',
        persistHardState: (s) => void (disk.hardState = s),
        flushed: () => Promise.resolve(),
      },
      {
        roleChanged: (role) => void (broker.role = role),
        highWatermark: (hw) => void (broker.hw = hw),
      },
    );
  }
}

function initial(): HardState {
  return { term: 0, votedFor: null, amnesiac: false };
}

/** The data of the entry at `offset` of `log`, if it holds one. */
function dataAt(log: MemoryRaftLog, offset: number): Buffer | null {
  const e = log.entryAt(offset);
  return e === undefined ? null : Buffer.from(e.data);
}

/** Proposes `data` on the current leader until one accepts it; the entry's offset. */
async function propose(c: Cluster, data: Buffer): Promise<number> {
  let offset: number | null = null;
  await until('a leader accepts the proposal', () => {
    const leader = c.leader();
    offset = leader === null ? null : leader.groups.propose(GROUP, data, 1);
    return offset !== null;
  });
  return offset!;
}

/** Waits until every running broker holds `data` at `offset` and has committed it. */
async function committedEverywhere(c: Cluster, offset: number, data: Buffer): Promise<void> {
  await until(`offset ${offset} committed on brokers ${[...c.brokers.keys()]}`, () =>
    [...c.brokers.values()].every(
      (b) => b.hw > offset && dataAt(c.disks.get(b.id)!.log, offset)?.equals(data) === true,
    ),
  );
}

describe('three brokers over the gRPC transport', () => {
  let cluster: Cluster | null = null;
  afterEach(async () => {
    await cluster?.stopAll();
    cluster = null;
  });

  it('elect a leader, commit on all three, commit with two while one is down, and catch it up', async () => {
    const c = (cluster = new Cluster());
    await c.start();
    await until('a leader is elected', () => c.leader() !== null);

    const first = Buffer.from('first batch');
    const at1 = await propose(c, first);
    await committedEverywhere(c, at1, first);
    for (const b of c.brokers.values()) expect(b.transport.counters.sent).toBeGreaterThan(0);

    // Given one follower stopped (listener, transport and groups), the two left still commit.
    const down = IDS.find((id) => id !== c.leader()!.id)!;
    await c.stop(down);
    const second = Buffer.from('written while one broker is down');
    const at2 = await propose(c, second);
    await committedEverywhere(c, at2, second);
    expect(c.disks.get(down)!.log.end).toBeLessThanOrEqual(at2);

    // A big batch too, so the catch-up carries a 1 MiB entry.
    const big = Buffer.alloc(1024 * 1024, 7);
    const at3 = await propose(c, big);
    await committedEverywhere(c, at3, big);

    // When it comes back on its port, the leader's appends bring it up to the commit point.
    await c.restart(down);
    await committedEverywhere(c, at3, big);
    const back = c.disks.get(down)!.log;
    expect(dataAt(back, at1)).toEqual(first);
    expect(dataAt(back, at2)).toEqual(second);
    // The peers' streams to it failed while it was down, and were opened again.
    const leader = c.leader()!;
    expect(leader.transport.counters.streamsFailed).toBeGreaterThan(0);
    expect(leader.transport.counters.streamsOpened).toBeGreaterThan(1);
  });
});

const HEARTBEAT: Envelope = {
  from: 1,
  to: 2,
  messages: [
    {
      group: GROUP,
      message: {
        type: 'append',
        from: 1,
        to: 2,
        term: 1,
        prevOffset: -1,
        prevTerm: 0,
        entries: [],
        fromStart: false,
        startMembership: null,
        startState: null,
        commitEnd: 0,
        incarnation: 0,
        rejoinEnd: 0,
      },
    },
  ],
};

/** An envelope carrying `bytes` of entry data. */
function appendOf(bytes: number): Envelope {
  const m = HEARTBEAT.messages[0]!.message;
  if (m.type !== 'append') throw new Error('an append');
  return {
    ...HEARTBEAT,
    messages: [
      {
        group: GROUP,
        message: {
          ...m,
          entries: [{ offset: 0, count: 1, term: 1, kind: 'data', data: Buffer.alloc(bytes) }],
        },
      },
    ],
  };
}

/** A port where nothing listens: bound, then released. */
async function deadPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

describe('the gRPC transport', () => {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('drops envelopes to a peer that is down, retrying after a backoff that doubles up to its cap', async () => {
    const clock = new ManualClock();
    const errors: WeirError[] = [];
    const t = new GrpcRaftTransport({
      self: 1,
      clusterId: CLUSTER,
      peers: new Map([[2, `127.0.0.1:${await deadPort()}`]]),
      clock,
      backoffMs: { initial: 100, max: 400 },
      onStreamError: (_peer, err) => errors.push(err),
    });
    closers.push(() => t.close());
    const failures = async (n: number): Promise<void> =>
      until(`${n} stream failures`, () => t.counters.streamsFailed === n);

    t.send(HEARTBEAT); // opens a stream, which fails
    await failures(1);
    expect(errors[0]?.code).toBe('NETWORK_EXCEPTION');
    expect(errors[0]?.message).toContain('replication stream to broker 2 at 127.0.0.1:');
    // Backoffs 100, 200, 400, then 400 again (the cap): the send that falls before each is dropped.
    for (const [i, backoff] of [100, 200, 400, 400].entries()) {
      clock.advance(backoff - 1);
      t.send(HEARTBEAT);
      expect(t.counters.streamsOpened).toBe(i + 1);
      clock.advance(1);
      t.send(HEARTBEAT);
      expect(t.counters.streamsOpened).toBe(i + 2);
      await failures(i + 2);
    }
    expect(t.counters).toMatchObject({ sent: 5, droppedDown: 4 });
    // Envelopes to a broker it has no address for are dropped too.
    t.send({ ...HEARTBEAT, to: 9 });
    expect(t.counters.droppedUnknownPeer).toBe(1);
  });

  it('drops envelopes beyond its queue bound to a peer that does not read, without blocking', async () => {
    // A peer that accepts the connection and never answers: nothing written leaves the process.
    const sockets: Socket[] = [];
    const mute: Server = createServer((s) => void sockets.push(s));
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    closers.push(async () => {
      for (const s of sockets) s.destroy();
      mute.close();
      await once(mute, 'close');
    });
    const t = new GrpcRaftTransport({
      self: 1,
      clusterId: CLUSTER,
      peers: new Map([[2, `127.0.0.1:${(mute.address() as { port: number }).port}`]]),
      clock: new ManualClock(),
      maxQueuedBytes: 256 * 1024,
    });
    closers.push(() => t.close());
    const envelope = appendOf(64 * 1024);
    for (let i = 0; i < 20; i++) t.send(envelope);
    // Three fit under the bound, the rest are dropped, and the queue stays within it.
    expect(t.counters.sent).toBe(3);
    expect(t.counters.droppedBackpressure).toBe(17);
    const queued = t.queuedBytes(2);
    expect(queued).toBeGreaterThan(3 * 64 * 1024);
    expect(queued).toBeLessThanOrEqual(256 * 1024);
    // Later, the peer having read nothing, the queue has not drained and sends are still dropped.
    await sleep(200);
    expect(t.queuedBytes(2)).toBe(queued);
    t.send(envelope);
    expect(t.counters.droppedBackpressure).toBe(18);
    // One envelope larger than the peer takes is dropped whatever the queue.
    t.send(appendOf(65 * 1024 * 1024));
    expect(t.counters.droppedTooLarge).toBe(1);
  });

  it('sends nothing once closed', async () => {
    const received: Envelope[] = [];
    const server = await ReplicationServer.start({
      self: 2,
      clusterId: CLUSTER,
      host: '127.0.0.1',
      port: 0,
      receive: (e) => received.push(e),
    });
    closers.push(() => server.close());
    const t = new GrpcRaftTransport({
      self: 1,
      clusterId: CLUSTER,
      peers: new Map([[2, server.address]]),
      clock: new ManualClock(),
    });
    t.send(HEARTBEAT);
    await until('the envelope arrives', () => received.length === 1);
    t.close();
    t.send(HEARTBEAT);
    expect(t.counters.sent).toBe(1);
    expect(t.queuedBytes(2)).toBe(0);
  });
});
