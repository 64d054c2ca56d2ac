// Where the replicas of new partitions go: spread evenly over the live brokers, with the first
// replica of each partition (its preferred leader) spread evenly too, deterministically, so every
// controller plans the same placement from the same image.
//
// Kafka's rack-unaware assignment walks the brokers round robin from a random start: partition p
// is led by broker p (mod n, the broker count), and its followers sit at distinct offsets from the
// leader that shift by one every n partitions, so over the rounds a broker's partitions are
// followed by every other broker, and its leadership spreads over all of them when it fails. Each
// whole round of n partitions gives every broker one leader and RF replicas. That is done here as
// well. The last, partial round is where Kafka's balance fails: three partitions of RF 3 on five
// brokers give one broker three replicas and two others one each. Here that round's replica slots
// go round robin instead: partition p takes the RF consecutive brokers of the ring from slot
// p * RF, so every broker gets at most one slot more than another, and the RF brokers of one
// partition are distinct because RF <= n. Its preferred leader is the replica that leads the
// fewest so far, which keeps leader counts within one too (the tests try every cluster of up to
// 10 brokers and 30 partitions, and draw larger ones).
//
// The ring orders brokers by their existing load (replicas, then leaders, then node id), where
// Kafka draws a random start: a new topic fills the least loaded brokers first, and a cluster
// whose loads differ by at most one stays so. Randomness would make two controllers disagree.

import { WeirError } from '../../proto/errors.js';
import type { BrokerLoad } from './metadata-image.js';

const NO_LOAD: BrokerLoad = { replicas: 0, leaders: 0 };

/**
 * The replicas of `partitions` new partitions, each a list of `replicationFactor` distinct node ids
 * whose first is the preferred leader. `load` is what each broker already holds (absent: none).
 * INVALID_REPLICATION_FACTOR when fewer brokers are live than the factor.
 */
export function placeReplicas(
  liveBrokerIds: readonly number[],
  partitions: number,
  replicationFactor: number,
  load: ReadonlyMap<number, BrokerLoad> = new Map(),
): number[][] {
  const ids = [...new Set(liveBrokerIds)];
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1)
    throw new WeirError(
      'INVALID_REPLICATION_FACTOR',
      `replication factor must be a positive integer, got ${replicationFactor}`,
    );
  if (replicationFactor > ids.length) {
    const live =
      ids.length === 0 ? 'none is live' : `${ids.length} live (${[...ids].sort(byNumber).join(', ')})`;
    throw new WeirError(
      'INVALID_REPLICATION_FACTOR',
      `replication factor ${replicationFactor} needs ${replicationFactor} live brokers; ${live}`,
    );
  }
  if (!Number.isInteger(partitions) || partitions < 0)
    throw new WeirError('INVALID_PARTITIONS', `cannot place ${partitions} partitions`);

  const loadOf = (id: number): BrokerLoad => load.get(id) ?? NO_LOAD;
  const ring = ids.sort(
    (a, b) => loadOf(a).replicas - loadOf(b).replicas || loadOf(a).leaders - loadOf(b).leaders || a - b,
  );
  const leaders = new Map<number, number>();
  for (const id of ring) leaders.set(id, loadOf(id).leaders);

  const n = ring.length;
  const out: number[][] = [];
  // Whole rounds of n partitions: each broker leads one and holds RF replicas of each round.
  const rounds = Math.floor(partitions / n);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < n; i++) {
      const replicas = [ring[i]!];
      for (let j = 0; j < replicationFactor - 1; j++)
        replicas.push(ring[(i + 1 + ((round + j) % (n - 1))) % n]!);
      out.push(replicas);
    }
  }
  // The rest, fewer than n: replica slots round the ring, each led by its fewest-leading replica.
  // (The whole rounds gave every broker one leader each, which changes no comparison here.)
  for (let p = 0; p < partitions - rounds * n; p++) {
    const replicas: number[] = [];
    for (let j = 0; j < replicationFactor; j++) replicas.push(ring[(p * replicationFactor + j) % n]!);
    // The first of the fewest leaders wins a tie: the ring's order, which is the load's order.
    let lead = 0;
    for (let j = 1; j < replicas.length; j++)
      if (leaders.get(replicas[j]!)! < leaders.get(replicas[lead]!)!) lead = j;
    const leader = replicas[lead]!;
    leaders.set(leader, leaders.get(leader)! + 1);
    replicas.splice(lead, 1);
    replicas.unshift(leader);
    out.push(replicas);
  }
  return out;
}

function byNumber(a: number, b: number): number {
  return a - b;
}
