// The local cluster's topology: which ports and data directory each broker gets, and the
// environment that configures it. The environment variables are exactly those docker-compose.yml
// sets for its services (test/scripts/cluster-launcher.test.ts holds the two together), so a
// cluster of local processes and the compose cluster are one configuration, and clients find
// both on the same ports: broker N serves gRPC on basePort + 100 * (N - 1), HTTP one above it,
// replication two above and Kafka's protocol one below (19093/19094/19095/19092, 19193/...,
// 19293/... by default), as a lone broker's 9093/9094/9095 and Kafka's own 9092.

import { join, resolve } from 'node:path';

/** Gap between one broker's ports and the next's. */
export const PORT_STRIDE = 100;
export const DEFAULT_BASE_PORT = 19093;
export const MAX_BROKERS = 9;

export interface ClusterOptions {
  readonly brokers: number;
  /** Broker 1's gRPC port; see the file comment for the others. */
  readonly basePort: number;
  /** Explicit ports per broker (gRPC, HTTP, replication, Kafka), overriding basePort: for tests. */
  readonly ports: readonly BrokerPorts[] | null;
  /** Parent of every broker's data directory (`weir-N` under it). */
  readonly dataDir: string;
  readonly clusterId: string;
  /** Address every broker binds to and advertises. */
  readonly host: string;
}

export interface BrokerPorts {
  readonly grpc: number;
  readonly http: number;
  readonly replication: number;
  /** The Kafka listener's port; -1 for none. */
  readonly kafka: number;
}

export interface BrokerSpec extends BrokerPorts {
  readonly nodeId: number;
  readonly name: string;
  readonly dataDir: string;
  /** The broker's whole configuration, as docker-compose.yml gives its services. */
  readonly env: Readonly<Record<string, string>>;
}

export const DEFAULT_CLUSTER_OPTIONS: ClusterOptions = Object.freeze({
  brokers: 3,
  basePort: DEFAULT_BASE_PORT,
  ports: null,
  dataDir: 'data-cluster',
  clusterId: 'weir-local',
  host: '127.0.0.1',
});

/** Thrown for options the launcher cannot run with; the message names the option. */
export class ClusterOptionError extends Error {
  override readonly name = 'ClusterOptionError';
}

function portOf(raw: string, what: string): number {
  const port = Number(raw);
  if (!Number.isSafeInteger(port) || port < 1 || port > 65535)
    throw new ClusterOptionError(`${what} must be a port between 1 and 65535, got '${raw}'`);
  return port;
}

/**
 * Options from the command line's raw strings (undefined = default), validated and frozen.
 * `ports` is `grpc:http:replication[:kafka]` per broker, comma-separated (no Kafka port: no Kafka
 * listener).
 */
export function clusterOptions(raw: {
  brokers?: string | undefined;
  basePort?: string | undefined;
  ports?: string | undefined;
  dataDir?: string | undefined;
  clusterId?: string | undefined;
  host?: string | undefined;
}): ClusterOptions {
  const d = DEFAULT_CLUSTER_OPTIONS;
  const ports =
    raw.ports === undefined
      ? null
      : raw.ports.split(',').map((triple, i): BrokerPorts => {
          const parts = triple.split(':');
          if (parts.length !== 3 && parts.length !== 4)
            throw new ClusterOptionError(
              `--ports: broker ${i + 1} needs grpc:http:replication[:kafka], got '${triple}'`,
            );
          const [grpc, http, replication, kafka = -1] = parts.map((p) =>
            portOf(p, `--ports (broker ${i + 1})`),
          ) as [number, number, number, number?];
          return { grpc, http, replication, kafka };
        });
  const brokers = raw.brokers === undefined ? (ports?.length ?? d.brokers) : Number(raw.brokers);
  if (!Number.isSafeInteger(brokers) || brokers < 1 || brokers > MAX_BROKERS)
    throw new ClusterOptionError(`--brokers must be between 1 and ${MAX_BROKERS}, got '${raw.brokers}'`);
  if (ports !== null && ports.length !== brokers)
    throw new ClusterOptionError(`--ports lists ${ports.length} brokers, --brokers asks for ${brokers}`);
  const basePort = raw.basePort === undefined ? d.basePort : portOf(raw.basePort, '--base-port');
  const highest = basePort + PORT_STRIDE * (brokers - 1) + 2;
  if (ports === null && highest > 65535)
    throw new ClusterOptionError(
      `--base-port ${basePort} leaves no room for ${brokers} brokers (up to ${highest})`,
    );
  if (ports === null && basePort < 2)
    throw new ClusterOptionError(`--base-port ${basePort} leaves no room for the Kafka port below it`);
  const nonEmpty = (value: string | undefined, fallback: string, what: string): string => {
    if (value === undefined) return fallback;
    if (value === '') throw new ClusterOptionError(`${what} must not be empty`);
    return value;
  };
  return Object.freeze({
    brokers,
    basePort,
    ports: ports === null ? null : Object.freeze(ports),
    dataDir: nonEmpty(raw.dataDir, d.dataDir, '--data-dir'),
    clusterId: nonEmpty(raw.clusterId, d.clusterId, '--cluster-id'),
    host: nonEmpty(raw.host, d.host, '--host'),
  });
}

/** Every broker's ports, data directory and environment. */
export function clusterLayout(options: ClusterOptions): BrokerSpec[] {
  const ports = Array.from(
    { length: options.brokers },
    (_, i): BrokerPorts =>
      options.ports?.[i] ?? {
        grpc: options.basePort + PORT_STRIDE * i,
        http: options.basePort + PORT_STRIDE * i + 1,
        replication: options.basePort + PORT_STRIDE * i + 2,
        kafka: options.basePort + PORT_STRIDE * i - 1,
      },
  );
  const peers = ports.map((p, i) => `${i + 1}@${options.host}:${p.replication}`).join(',');
  return ports.map((p, i) => {
    const nodeId = i + 1;
    const dataDir = resolve(join(options.dataDir, `weir-${nodeId}`));
    return Object.freeze({
      ...p,
      nodeId,
      name: `weir-${nodeId}`,
      dataDir,
      env: Object.freeze({
        WEIR_NODE_ID: String(nodeId),
        WEIR_PEERS: peers,
        WEIR_CLUSTER_ID: options.clusterId,
        WEIR_HOST: options.host,
        WEIR_ADVERTISED_HOST: options.host,
        WEIR_GRPC_PORT: String(p.grpc),
        WEIR_HTTP_PORT: String(p.http),
        WEIR_REPLICATION_PORT: String(p.replication),
        WEIR_KAFKA_PORT: String(p.kafka),
        WEIR_DATA_DIR: dataDir,
      }),
    });
  });
}
