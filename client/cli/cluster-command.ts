// `weir cluster status`: the brokers, the controller, and every partition's leader, replicas,
// in-sync replicas and follower lag. Output as `weir topic describe`: tables, or one JSON document
// with --format json (its shape is the CLI contract in the design: controller, brokers, partitions).
//
// Only a partition's leader knows its in-sync replicas and its followers' lag; any other broker
// names the leader alone. So the brokers and partitions come from the bootstrap broker's metadata,
// and each partition's replication state from its leader, asked once per topic it leads. A leader
// that cannot be reached leaves its partitions as the bootstrap broker knows them, with no lag.

import { Command, Option } from 'commander';
import { Admin, type ClusterMetadata, type FollowerLag, type TopicDescription } from '../index.js';
import { bootstrapOption, withConnection } from './common.js';
import { print, table } from './table.js';

type Format = 'text' | 'json';

export interface PartitionStatus {
  topic: string;
  partition: number;
  /** -1 when no leader is known. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  inSync: number[];
  /** -1 when the leader could not be asked. */
  highWatermark: number;
  /** The leader's view of each follower; empty when the leader could not be asked. */
  followers: FollowerLag[];
}

export interface ClusterStatus {
  clusterId: string;
  controller: number;
  /** The live brokers (registered and not fenced), as the bootstrap broker knows them. */
  brokers: { nodeId: number; address: string; alive: boolean }[];
  partitions: PartitionStatus[];
}

const byName = (a: { name: string }, b: { name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** The partitions of `metadata`, each as its leader describes it where `described` has it. */
export function clusterStatus(
  metadata: ClusterMetadata,
  described: ReadonlyMap<string, TopicDescription>,
): ClusterStatus {
  const partitions: PartitionStatus[] = [];
  for (const t of [...metadata.topics].sort(byName)) {
    if (t.error !== null) continue;
    for (const p of [...t.partitions].sort((a, b) => a.partition - b.partition)) {
      // Only the leader's own answer knows the whole set and the lag.
      const d = described.get(`${t.name}/${p.leader}`)?.partitions.find((x) => x.partition === p.partition);
      const fromLeader = d !== undefined && d.leader === p.leader;
      partitions.push({
        topic: t.name,
        partition: p.partition,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: p.replicas,
        inSync: fromLeader ? d.isr : p.isr,
        highWatermark: fromLeader ? d.highWatermark : -1,
        followers: fromLeader ? d.followers : [],
      });
    }
  }
  return {
    clusterId: metadata.clusterId,
    controller: metadata.controllerId,
    brokers: metadata.brokers.map((b) => ({
      nodeId: b.nodeId,
      address: `${b.host}:${b.grpcPort}`,
      alive: true,
    })),
    partitions,
  };
}

/** `2:0/0ms,3:40/31000ms`: each follower's lag in records and in ms; `-` without any. */
function lagText(followers: readonly FollowerLag[]): string {
  if (followers.length === 0) return '-';
  return followers.map((f) => `${f.nodeId}:${f.lagRecords}/${f.lagMs}ms`).join(',');
}

export function statusText(s: ClusterStatus): string {
  const head = `Cluster: ${s.clusterId}   controller: ${s.controller}   brokers: ${s.brokers.length}`;
  const brokers = [
    ['BROKER', 'ADDRESS', 'ALIVE'],
    ...s.brokers.map((b) => [String(b.nodeId), b.address, b.alive ? 'yes' : 'no']),
  ];
  const partitions = [
    ['TOPIC', 'PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'ISR', 'HIGH-WATERMARK', 'LAG'],
    ...s.partitions.map((p) => [
      p.topic,
      String(p.partition),
      String(p.leader),
      String(p.leaderEpoch),
      p.replicas.join(','),
      p.inSync.join(',') || '-',
      p.highWatermark < 0 ? '-' : String(p.highWatermark),
      lagText(p.followers),
    ]),
  ];
  return [head, '', table(brokers), '', table(partitions)].join('\n');
}

/** Each leader's description of the topics it leads a partition of, keyed `topic/leader`. */
async function describeAtLeaders(metadata: ClusterMetadata): Promise<Map<string, TopicDescription>> {
  const topicsOf = new Map<number, Set<string>>();
  for (const t of metadata.topics)
    for (const p of t.partitions) {
      if (t.error !== null || p.leader < 0) continue;
      let set = topicsOf.get(p.leader);
      if (set === undefined) topicsOf.set(p.leader, (set = new Set()));
      set.add(t.name);
    }
  const out = new Map<string, TopicDescription>();
  await Promise.all(
    metadata.brokers.map(async (b) => {
      const topics = topicsOf.get(b.nodeId);
      if (topics === undefined) return;
      const address = `${b.host}:${b.grpcPort}`;
      try {
        await withConnection(address, async (connection) => {
          const admin = new Admin({ connection });
          for (const name of topics) out.set(`${name}/${b.nodeId}`, await admin.describeTopic(name));
        });
      } catch (err) {
        // Its partitions stay as the bootstrap broker knows them; stdout stays the status alone.
        const reason = err instanceof Error ? err.message : String(err);
        process.stderr.write(
          `warning: broker ${b.nodeId} at ${address} did not answer; the ISR and lag of the partitions it leads are not known (${reason})\n`,
        );
      }
    }),
  );
  return out;
}

export function clusterCommand(): Command {
  const status = new Command('status')
    .description('show the brokers, the controller, and every partition: leader, replicas, ISR and lag')
    .addOption(bootstrapOption())
    .addOption(new Option('--format <format>', 'text or json').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      `
The brokers and partitions come from the bootstrap broker; each partition's in-sync replicas (ISR)
and its followers' lag (LAG: follower:records/ms behind) from the partition's leader, the only
broker that knows them. A follower leaves the ISR once it has not held its leader's whole log for
the leader's replicaLagTimeMaxMs (30 s by default).`,
    )
    .action(async (flags: { bootstrap: string; format: Format }) => {
      const metadata = await withConnection(flags.bootstrap, (connection) =>
        new Admin({ connection }).metadata(),
      );
      const s = clusterStatus(metadata, await describeAtLeaders(metadata));
      print(flags.format === 'json' ? JSON.stringify(s) : statusText(s));
    });
  return new Command('cluster')
    .description('the cluster: brokers, controller, replication')
    .addCommand(status);
}
