// Brokers started with peers form the controller quorum: the metadata log (__cluster_metadata) is
// one Raft group over every peer, carried by the real replication listeners and gRPC streams on
// loopback, and its leader is the controller every broker reports. Each broker registers with the
// controller through its heartbeats and is listed by all once the registration commits. Stopping
// the controller makes the others elect another, which fences the stopped one after its session;
// it rejoins as a new incarnation and follows. Real brokers, real files.

import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { METADATA_TOPIC } from '../../broker/broker.js';
import { parsePeers, peerAddress, resolveBrokerConfig } from '../../broker/config.js';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { replicationProto } from '../../broker/replica/replication-wire.js';
import type { HeartbeatRequest } from '../../proto/generated/weir/replication/v1/HeartbeatRequest.js';
import { fromServiceError } from '../../proto/grpc.js';
import { freePort, removeDir, tempDir } from './support.js';

const CLUSTER = 'quorum-test';
const running = new Set<RunningBroker>();
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all([...running].map((b) => b.close()));
  running.clear();
  for (const d of dirs.splice(0)) removeDir(d);
});

async function start(nodeId: number, peers: string, port: number, dataDir: string): Promise<RunningBroker> {
  const b = await startBroker({
    dataDir,
    nodeId,
    peers,
    replicationPort: port,
    clusterId: CLUSTER,
    logLevel: 'silent',
  });
  running.add(b);
  return b;
}

/** Calls the replication listener's Heartbeat as a peer would, mapping a failure to its WeirError. */
function heartbeat(address: string, request: HeartbeatRequest): Promise<unknown> {
  const client = new (replicationProto().Replication)(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.Heartbeat(request, (err, answer) => {
      client.close();
      if (err !== null) reject(fromServiceError(err));
      else resolve(answer);
    });
  });
}

/** Polls until `done` holds (bounded: 30 s), returning its last value. */
async function until<T>(what: string, probe: () => T, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const controllers = (brokers: RunningBroker[]): number[] =>
  brokers.map((b) => b.broker.cluster().controllerId);
const agreed = (ids: number[]): boolean => ids[0] !== -1 && ids.every((id) => id === ids[0]);
/** What each broker lists as the cluster's live brokers: node id and client port. */
const listed = (brokers: RunningBroker[]): string[] =>
  brokers.map((b) =>
    b.broker
      .cluster()
      .brokers.map((x) => `${x.nodeId}:${x.grpcPort}`)
      .join(','),
  );
/** Every broker's own node id and client port, as the others should list it. */
const expected = (brokers: RunningBroker[]): string =>
  [...brokers]
    .sort((a, b) => a.nodeId - b.nodeId)
    .map((b) => `${b.nodeId}:${b.config.grpcPort}`)
    .join(',');
const allList = (brokers: RunningBroker[]) => (l: string[]) => l.every((x) => x === expected(brokers));

describe('a cluster of three brokers', () => {
  it('elects one controller, elects another when it stops, and takes it back as a follower', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const peers = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const data = ports.map(() => tempDir('weir-quorum-'));
    dirs.push(...data);
    let brokers = await Promise.all(ports.map((p, i) => start(i + 1, peers, p, data[i]!)));
    expect(brokers.map((b) => b.replicationAddress)).toEqual(ports.map((p) => `127.0.0.1:${p}`));

    const first = (await until('one controller', () => controllers(brokers), agreed))[0]!;
    expect([1, 2, 3]).toContain(first);
    // Every broker holds the metadata log, internal, and only the controller leads it.
    for (const b of brokers) {
      const p = b.broker.partition(METADATA_TOPIC, 0);
      expect(p.role).toBe(b.nodeId === first ? 'leader' : 'follower');
      expect(b.broker.placement(METADATA_TOPIC, 0)).toMatchObject({ leader: first, replicas: [1, 2, 3] });
    }

    // Each registers with the controller, which unfences it at its next heartbeat: every broker
    // then lists all three, with the client ports they bound.
    await until('three brokers registered', () => listed(brokers), allList(brokers));

    // Each broker's metrics say the same.
    for (const b of brokers) {
      const text = await (await fetch(`http://${b.httpAddress}/metrics`)).text();
      expect(text).toMatch(new RegExp(`^weir_cluster_controller_id ${first}$`, 'm'));
      expect(text).toMatch(/^weir_cluster_brokers 3$/m);
      expect(text).toMatch(
        new RegExp(`^weir_partition_leader\\{topic="${METADATA_TOPIC}",partition="0"\\} ${first}$`, 'm'),
      );
    }

    // A heartbeat to a broker that is not the controller is NOT_CONTROLLER naming the controller;
    // one from another cluster is refused.
    const follower = brokers.find((b) => b.nodeId !== first)!;
    const registration = {
      clusterId: CLUSTER,
      nodeId: 9,
      incarnation: '00000000-0000-4000-8000-000000000009',
      host: '127.0.0.1',
      grpcPort: 1,
      httpPort: 2,
      replicationPort: 3,
    };
    await expect(heartbeat(follower.replicationAddress!, registration)).rejects.toMatchObject({
      code: 'NOT_CONTROLLER',
      message: expect.stringContaining(`broker ${first} is`) as string,
    });
    const controller = brokers[first - 1]!.replicationAddress!;
    await expect(heartbeat(controller, { ...registration, clusterId: 'other' })).rejects.toMatchObject({
      code: 'INCONSISTENT_CLUSTER_ID',
    });
    // Node 9 is not among the peers: the controller does not register it.
    await expect(heartbeat(controller, registration)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });

    const stopped = brokers.find((b) => b.nodeId === first)!;
    await stopped.close();
    running.delete(stopped);
    const rest = brokers.filter((b) => b !== stopped);
    const second = (
      await until(
        'another controller',
        () => controllers(rest),
        (ids) => agreed(ids) && ids[0] !== first,
      )
    )[0]!;
    expect(rest.map((b) => b.nodeId)).toContain(second);
    // The stopped broker sends no heartbeat: the new controller fences it after its session.
    await until('the stopped broker fenced', () => listed(rest), allList(rest));

    const back = await start(first, peers, ports[first - 1]!, data[first - 1]!);
    brokers = [...rest, back];
    await until(
      'all three following it',
      () => controllers(brokers),
      (ids) => agreed(ids) && ids[0] === second,
    );
    expect(back.broker.partition(METADATA_TOPIC, 0).role).toBe('follower');
    // Back as a new incarnation on new client ports, registered again.
    await until('registered again', () => listed(brokers), allList(brokers));
  }, 60_000);
});

describe('cluster settings', () => {
  it('reads peers as id@host:port and refuses what is not', () => {
    expect(parsePeers('1@a:9095, 2@[::1]:9096')).toEqual([
      { nodeId: 1, host: 'a', port: 9095 },
      { nodeId: 2, host: '::1', port: 9096 },
    ]);
    for (const bad of ['1@a', 'x@a:1', '1@a:0', '1@a:70000', '1@a:1,1@b:2', '']) {
      expect(() => parsePeers(bad)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }) as Error);
    }
  });

  it('dials an IPv6 peer in brackets', () => {
    expect(parsePeers('1@[::1]:9095,2@h:9096').map(peerAddress)).toEqual(['[::1]:9095', 'h:9096']);
  });

  it('wants this broker among the peers, and a cluster id', () => {
    expect(() => resolveBrokerConfig({ overrides: { nodeId: 4, peers: '1@a:1', clusterId: 'c' } })).toThrow(
      /not among them/,
    );
    expect(() => resolveBrokerConfig({ overrides: { nodeId: 1, peers: '1@a:1' } })).toThrow(
      /cluster id is required/,
    );
    expect(
      resolveBrokerConfig({ env: { WEIR_NODE_ID: '2', WEIR_PEERS: '1@a:1,2@b:2', WEIR_CLUSTER_ID: 'c' } }),
    ).toMatchObject({ nodeId: 2, peers: '1@a:1,2@b:2', clusterId: 'c' });
  });

  it('refuses a data directory of another cluster', async () => {
    const dir = tempDir('weir-quorum-');
    dirs.push(dir);
    const one = await startBroker({ dataDir: dir, clusterId: 'first', logLevel: 'silent' });
    expect(one.broker.clusterId).toBe('first');
    await one.close();
    await expect(
      startBroker({ dataDir: dir, clusterId: 'second', logLevel: 'silent' }),
    ).rejects.toMatchObject({
      code: 'INCONSISTENT_CLUSTER_ID',
    });
  });
});
