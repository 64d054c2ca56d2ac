// The controller quorum on real processes in network namespaces: three brokers, each in its own
// namespace on one bridge. The controller (the leader of __cluster_metadata) is cut off from the
// other two: the majority side elects another controller, the cut-off one stops naming itself, and
// once the cut heals every broker names the new controller, the old one included. The
// links cut are checked to be cut (a TCP connect across them times out) before anything else.
//
// The cut waits until every replica of the metadata log is whole, not only until every broker
// names the controller. A new cluster's replicas all start amnesiac (none has state yet: see
// partition-replica.ts); each is whole once it wins an election or catches up to a commit its
// leader made after hearing from it, which comes a heartbeat or more after the follower named that
// leader (at its first append). Cut off in between, the majority side holds one whole replica and
// one amnesiac one, and elects nobody until the cut heals: an amnesiac voter's grant counts only
// when a majority of the group is amnesiac (vote-tally.ts), which is the rule that keeps a replica
// that lost acknowledged entries from electing a leader without them. The test is about a
// controller lost by a running cluster, not one lost during the cluster's first second.
//
// A failing run keeps its brokers' logs and data directories and says where; each
// `weir-N/__cluster_metadata-0/raft-state` holds that replica's term, vote and amnesia.
//
// Skipped, with the reason, without root, `ip` or `nft` (see scripts/faults/netns.ts).

import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultCluster } from '../../scripts/faults/fault-cluster.js';
import { NamespaceNet, namespacesUnavailable } from '../../scripts/faults/netns.js';
import { pollUntil } from '../../scripts/faults/poll.js';

const unavailable = namespacesUnavailable();
if (unavailable !== null) console.warn(`test/faults/controller-partition: skipped: ${unavailable}`);

let net: NamespaceNet | null = null;
let cluster: FaultCluster | null = null;

afterEach(async ({ task }) => {
  // A failing run keeps its brokers' logs and data directories (see the file comment).
  const keep = task.result?.state === 'fail' && cluster !== null;
  if (keep) console.warn(`controller-partition: files kept in ${cluster!.dir}`);
  await cluster?.destroy({ keep });
  net?.destroy();
  cluster = null;
  net = null;
});

/** Whether a TCP connection from namespace `from` to broker `to`'s replication port opens within 1 s. */
async function reaches(n: NamespaceNet, from: number, to: number): Promise<boolean> {
  const probe = `require('net').connect(9095, '${n.addresses[to]}').on('connect', () => process.exit(0)).on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 1000)`;
  const [cmd, ...args] = n.wrap(from, [process.execPath, '-e', probe]);
  return new Promise((done) => execFile(cmd!, args, (err) => done(err === null)));
}

/**
 * How often broker `nodeId`'s replicas were made whole (caught up to their leader, or elected while
 * a majority was amnesiac), from its /metrics; null when it does not answer.
 */
async function madeWhole(c: FaultCluster, nodeId: number): Promise<number | null> {
  const [caughtUp, elected] = await Promise.all([
    c.metric(nodeId, 'weir_raft_amnesia_cleared_total'),
    c.metric(nodeId, 'weir_raft_amnesiac_elections_won_total'),
  ]);
  return caughtUp === null || elected === null ? null : caughtUp + elected;
}

/** Every broker's answer, once all answer and agree on one controller that `ok` accepts. */
function agreed(ids: (number | null)[], ok: (id: number) => boolean): boolean {
  return ids.every((id) => id !== null && id === ids[0] && id > 0 && ok(id));
}

describe.skipIf(unavailable !== null)('the controller cut off from the other two brokers', () => {
  it('is replaced on the majority side, and follows the new controller once healed', async () => {
    net = NamespaceNet.create(3);
    cluster = await FaultCluster.start({ net });
    const c = cluster;
    const first = (
      await pollUntil(
        () => c.controllers(),
        (ids) => agreed(ids, () => true),
        'a first controller',
      )
    )[0]!;
    const others = [1, 2, 3].filter((id) => id !== first);
    // Each broker's one replica (of the metadata log: no topic exists) started amnesiac.
    await pollUntil(
      () => Promise.all([1, 2, 3].map((id) => madeWhole(c, id))),
      (counts) => counts.every((n) => n !== null && n >= 1),
      'every replica of the metadata log whole',
    );

    // Given the links are up, when the controller is isolated, then its links are really cut.
    expect(await reaches(net, first - 1, others[0]! - 1)).toBe(true);
    net.isolate(first - 1);
    expect(await reaches(net, first - 1, others[0]! - 1)).toBe(false);
    expect(await reaches(net, others[1]! - 1, first - 1)).toBe(false);
    expect(await reaches(net, others[0]! - 1, others[1]! - 1)).toBe(true);

    // The majority elects one of its own.
    const majority = await pollUntil(
      () => Promise.all(others.map((id) => c.controllerOf(id))),
      (ids) => agreed(ids, (id) => id !== first),
      'a new controller on the majority side',
    );
    const second = majority[0]!;
    expect(others).toContain(second);
    // The cut-off controller hears no majority: it steps down rather than go on claiming the role.
    await pollUntil(
      () => c.controllerOf(first),
      (id) => id !== null && id !== first,
      `broker ${first}, cut off, no longer naming itself controller`,
      10_000,
    );

    // Healed, the old controller learns of the new term and names the new controller.
    net.heal();
    const healed = await pollUntil(
      () => c.controllers(),
      (ids) => agreed(ids, (id) => id === second),
      'every broker naming the new controller after heal',
    );
    expect(healed).toEqual([second, second, second]);
    // And it stays so: no broker goes back to naming the old one (sampled for 2 s).
    for (let i = 0; i < 10; i++) {
      expect(await c.controllers()).toEqual([second, second, second]);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 60_000);
});
