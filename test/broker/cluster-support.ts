// Three real brokers with peers in one process, on loopback ports the OS picked and temp data
// directories, for tests of the cluster: start them, restart one, wait for a condition, stop all.
// With `kafkaPort: 0` among the overrides every broker opens a Kafka listener on a port from the
// OS, and a restarted broker opens it again on the same port, so a Kafka client's bootstrap
// address stays good.

import { startBroker, type RunningBroker } from '../../broker/main.js';
import type { StartBrokerOptions } from '../../broker/main.js';
import { freePort, removeDir, tempDir } from './support.js';

export class TestCluster {
  readonly brokers: (RunningBroker | null)[];
  /** Each broker's Kafka listener port once bound (index nodeId - 1), kept for its restarts. */
  private readonly kafkaPorts: (number | undefined)[] = [];

  private constructor(
    readonly clusterId: string,
    readonly peers: string,
    readonly ports: readonly number[],
    readonly dataDirs: readonly string[],
    private readonly overrides: Omit<StartBrokerOptions, 'dataDir'>,
    brokers: RunningBroker[],
  ) {
    this.brokers = brokers;
  }

  /**
   * Starts `size` brokers (node ids 1..size) that name each other as peers. The replication ports
   * are picked free and released before the brokers bind them, so another process may take one in
   * between: a start that fails with EADDRINUSE is made again on new ports (up to three times).
   */
  static async start(
    size = 3,
    overrides: Omit<StartBrokerOptions, 'dataDir'> = {},
    clusterId = 'test-cluster',
  ): Promise<TestCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await TestCluster.startOnce(size, overrides, clusterId);
      } catch (err) {
        if (attempt >= 3 || !String((err as Error).message).includes('EADDRINUSE')) throw err;
      }
    }
  }

  private static async startOnce(
    size: number,
    overrides: Omit<StartBrokerOptions, 'dataDir'>,
    clusterId: string,
  ): Promise<TestCluster> {
    const ports: number[] = [];
    for (let i = 0; i < size; i++) ports.push(await freePort());
    const peers = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const dataDirs = ports.map(() => tempDir('weir-cluster-'));
    const cluster = new TestCluster(clusterId, peers, ports, dataDirs, overrides, []);
    try {
      for (let i = 0; i < size; i++) cluster.brokers.push(await cluster.startNode(i + 1));
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  private async startNode(nodeId: number): Promise<RunningBroker> {
    const kept = this.kafkaPorts[nodeId - 1];
    const b = await startBroker({
      dataDir: this.dataDirs[nodeId - 1]!,
      nodeId,
      peers: this.peers,
      replicationPort: this.ports[nodeId - 1]!,
      clusterId: this.clusterId,
      logLevel: 'silent',
      ...this.overrides,
      ...(kept === undefined ? {} : { kafkaPort: kept }),
    });
    if (b.kafkaAddress !== null) this.kafkaPorts[nodeId - 1] = portOf(b.kafkaAddress);
    return b;
  }

  /** Broker `nodeId`'s Kafka listener address (host:port); throws when it has none. */
  kafkaAddress(nodeId: number): string {
    const address = this.node(nodeId).kafkaAddress;
    if (address === null) throw new Error(`broker ${nodeId} has no Kafka listener`);
    return address;
  }

  /** The running broker of `nodeId`; throws when it is stopped. */
  node(nodeId: number): RunningBroker {
    const b = this.brokers[nodeId - 1];
    if (b === null || b === undefined) throw new Error(`broker ${nodeId} is not running`);
    return b;
  }

  /** The brokers running now. */
  get running(): RunningBroker[] {
    return this.brokers.filter((b): b is RunningBroker => b !== null);
  }

  async stop(nodeId: number): Promise<void> {
    const b = this.node(nodeId);
    this.brokers[nodeId - 1] = null;
    await b.close();
  }

  async restart(nodeId: number): Promise<RunningBroker> {
    if (this.brokers[nodeId - 1] !== null) await this.stop(nodeId);
    const b = await this.startNode(nodeId);
    this.brokers[nodeId - 1] = b;
    return b;
  }

  /** Waits until every running broker lists every running broker as live. */
  async registered(): Promise<void> {
    const ids = this.running.map((b) => b.nodeId).join(',');
    await until(
      'every broker registered',
      () =>
        this.running.map((b) =>
          b.broker
            .cluster()
            .brokers.map((x) => x.nodeId)
            .join(','),
        ),
      (lists) => lists.every((l) => l === ids),
    );
  }

  /** Stops every broker and removes the data directories. */
  async close(): Promise<void> {
    await Promise.all(this.running.map((b) => b.close()));
    this.brokers.fill(null);
    for (const d of this.dataDirs) removeDir(d);
  }
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** Polls until `done` holds (bounded: `ms`, 30 s by default), returning the last value. */
export async function until<T>(
  what: string,
  probe: () => T,
  done: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
