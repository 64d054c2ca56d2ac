// Topics for fault runs. With peers, a topic is made through the controller and placed where it
// decides, once enough brokers have registered: creation is retried until the cluster can take
// it, and the runs then find each partition's leader rather than assume one.

import { Admin, type CreateTopicOptions } from '../../client/index.js';
import { WeirError } from '../../proto/errors.js';
import type { FaultCluster } from './fault-cluster.js';
import { pollUntil } from './poll.js';

/**
 * Creates `name` through broker `via`, retrying while the cluster cannot take it yet (no
 * controller, too few live brokers). Throws the last refusal after `timeoutMs`.
 */
export async function createTopic(
  c: FaultCluster,
  via: number,
  name: string,
  options: CreateTopicOptions,
  timeoutMs = 20_000,
): Promise<void> {
  const admin = new Admin({ bootstrap: c.grpcAddress(via), requestTimeoutMs: 5000 });
  let last: unknown = null;
  try {
    await pollUntil(
      () =>
        admin.createTopic(name, options).then(
          () => true,
          (err: unknown) => {
            last = err;
            return err instanceof WeirError && err.code === 'TOPIC_ALREADY_EXISTS';
          },
        ),
      (done) => done,
      `topic ${name} created`,
      timeoutMs,
      300,
    );
  } catch (err) {
    throw last ?? err;
  } finally {
    await admin.close().catch(() => {});
  }
}

/** The partition's leader as broker `nodeId` knows it (-1: none, or no answer). */
export async function leaderSeenBy(
  c: FaultCluster,
  nodeId: number,
  topic: string,
  partition = 0,
): Promise<number> {
  const admin = new Admin({ bootstrap: c.grpcAddress(nodeId), requestTimeoutMs: 1500 });
  try {
    return (await admin.describeTopic(topic)).partitions[partition]?.leader ?? -1;
  } catch {
    return -1;
  } finally {
    await admin.close().catch(() => {});
  }
}

/** The partition's leader, once the brokers `among` (default: all) agree on one that `ok` accepts. */
export async function partitionLeader(
  c: FaultCluster,
  topic: string,
  among?: readonly number[],
  ok: (id: number) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<number> {
  const ids = among ?? c.brokers.map((b) => b.nodeId);
  const seen = await pollUntil(
    () => Promise.all(ids.map((id) => leaderSeenBy(c, id, topic))),
    (l) => l[0]! > 0 && l.every((id) => id === l[0]) && ok(l[0]!),
    `brokers ${ids.join(',')} naming one leader of ${topic}`,
    timeoutMs,
  );
  return seen[0]!;
}

/**
 * The leader a majority of the brokers name now (brokers down, paused or cut off do not answer),
 * waiting up to `timeoutMs` for one: what a client that follows the leader would find.
 */
export async function majorityLeader(c: FaultCluster, topic: string, timeoutMs = 30_000): Promise<number> {
  const majority = Math.floor(c.brokers.length / 2) + 1;
  const named = (seen: number[]) =>
    seen.find((id) => id > 0 && seen.filter((other) => other === id).length >= majority) ?? -1;
  const seen = await pollUntil(
    () => Promise.all(c.brokers.map((b) => leaderSeenBy(c, b.nodeId, topic))),
    (ids) => named(ids) > 0,
    `a majority naming one leader of ${topic}`,
    timeoutMs,
  );
  return named(seen);
}

/** Whether the SDK takes a comma-separated list of brokers (and so routes by leader itself). */
export function sdkRoutes(): boolean {
  try {
    new Admin({ bootstrap: '127.0.0.1:1,127.0.0.1:2' }).connection.close();
    return true;
  } catch (err) {
    if (err instanceof WeirError && err.code === 'INVALID_CONFIG') return false;
    throw err;
  }
}

/**
 * Where a workload on `topic` sends: every broker when the SDK routes by leader; otherwise a
 * function the workload calls for a new producer, naming the leader a majority of brokers name.
 */
export function followLeader(c: FaultCluster, topic: string): string | (() => Promise<string>) {
  if (sdkRoutes()) return c.bootstrapList();
  return async () => c.grpcAddress(await majorityLeader(c, topic));
}

/** A partition's log end offset on broker `nodeId`'s own replica (-1: none, or no answer). */
async function logEndOn(c: FaultCluster, nodeId: number, topic: string, partition: number): Promise<number> {
  const admin = new Admin({ bootstrap: c.grpcAddress(nodeId), requestTimeoutMs: 1500 });
  try {
    return (await admin.describeTopic(topic)).partitions[partition]?.logEndOffset ?? -1;
  } catch {
    return -1;
  } finally {
    await admin.close().catch(() => {});
  }
}

/**
 * Waits up to `timeoutMs` for every broker's replica of the partition to reach `offset` (a high
 * watermark the read saw), so that replicas compared afterwards are compared whole. Returns each
 * broker's log end as last seen; one short of `offset` is left to the comparison to report.
 */
export async function replicasCaughtUp(
  c: FaultCluster,
  topic: string,
  offset: number,
  timeoutMs = 30_000,
  partition = 0,
): Promise<number[]> {
  const probe = () => Promise.all(c.brokers.map((b) => logEndOn(c, b.nodeId, topic, partition)));
  return pollUntil(
    probe,
    (ends) => ends.every((end) => end >= offset),
    'replicas caught up',
    timeoutMs,
  ).catch(() => probe());
}
