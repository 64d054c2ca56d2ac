// Broker configuration: each key is defined once (name, environment variable, type, default,
// bounds, doc) and resolved into one validated, frozen BrokerConfig (STYLE 9). Sources, lowest
// first: the defaults, a JSON file (`--config FILE`), `WEIR_*` environment variables, then
// explicit options (command-line flags or startBroker's arguments). A bad value names its key.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { WeirError } from '../proto/errors.js';
import { DEFAULT_LOG_MANAGER_CONFIG, logConfigFrom, type LogConfig } from '../storage/index.js';
import { MIN_MAX_OPEN_FILES, defaultMaxOpenFiles } from './file-budget.js';

export interface BrokerConfig {
  readonly dataDir: string;
  readonly host: string;
  /** The host clients are told to connect to: never a wildcard (see advertisedHostFor). */
  readonly advertisedHost: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  /**
   * The Kafka protocol listener's port: 0 any free port, -1 none. Unset: 9092 on one broker, none
   * with peers (see kafkaPortDefault).
   */
  readonly kafkaPort: number;
  readonly nodeId: number;
  /**
   * The cluster's voters as `id@host:port` (each one's replication listener), comma-separated, as
   * KRaft's controller.quorum.voters; '' runs one broker on its own. See clusterPeers.
   */
  readonly peers: string;
  /** The broker-to-broker listener's port (with peers only). */
  readonly replicationPort: number;
  /** The cluster every peer must belong to (required with peers); '' on one broker: its own. */
  readonly clusterId: string;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly maxRequestBytes: number;
  readonly maxInflatedBatchBytes: number;
  readonly maxFetchWaitMs: number;
  /**
   * A follower that has not held its leader's whole log for this long leaves the in-sync replicas,
   * as Kafka's replica.lag.time.max.ms (broker/replica/replica-sync.ts).
   */
  readonly replicaLagTimeMaxMs: number;
  /**
   * Bytes per second this broker's leaders send, all partitions together, to followers that are
   * catching up (Kafka's leader.replication.throttled.rate); 0: not throttled
   * (broker/raft/catch-up-quota.ts says which followers, broker/replica/replication-throttle.ts how).
   */
  readonly replicationThrottleBytes: number;
  readonly requestTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly checkpointIntervalMs: number;
  readonly retentionCheckIntervalMs: number;
  readonly cleanerBackoffMs: number;
  readonly logLevel: string;
  readonly offsetsTopicPartitions: number;
  readonly groupHeartbeatIntervalMs: number;
  readonly groupSessionTimeoutMs: number;
  readonly groupMinSessionTimeoutMs: number;
  readonly groupMaxSessionTimeoutMs: number;
  readonly groupRebalanceTimeoutMs: number;
  readonly groupMaxRebalanceHistory: number;
  readonly maxOpenFiles: number;
  /** Defaults for every topic's log config, Kafka-style keys; a topic's own settings override them. */
  readonly topicDefaults: LogConfig;
}

type Scalar = Exclude<keyof BrokerConfig, 'topicDefaults'>;

interface KeyDef {
  readonly key: Scalar;
  readonly env: string;
  readonly kind: 'string' | 'int' | 'bool';
  readonly default: string | number | boolean;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
  readonly doc: string;
}

const PORT = { min: 0, max: 65535 };
/** Kafka's port, the Kafka listener's default on one broker. */
export const KAFKA_PORT = 9092;
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const BROKER_CONFIG_KEYS: readonly KeyDef[] = [
  {
    key: 'dataDir',
    env: 'WEIR_DATA_DIR',
    kind: 'string',
    default: 'data',
    doc: 'directory of the partition logs',
  },
  {
    key: 'host',
    env: 'WEIR_HOST',
    kind: 'string',
    default: '127.0.0.1',
    doc: 'address the gRPC and HTTP servers bind to',
  },
  {
    key: 'advertisedHost',
    env: 'WEIR_ADVERTISED_HOST',
    kind: 'string',
    // '' = derived from host (advertisedHostFor)
    default: '',
    doc: "host clients are told to connect to (metadata, coordinator answers); default: host, or this machine's hostname when host is a wildcard (0.0.0.0, ::)",
  },
  {
    key: 'grpcPort',
    env: 'WEIR_GRPC_PORT',
    kind: 'int',
    default: 9093,
    ...PORT,
    doc: 'gRPC port (0 = any free port)',
  },
  {
    key: 'httpPort',
    env: 'WEIR_HTTP_PORT',
    kind: 'int',
    default: 9094,
    ...PORT,
    doc: 'HTTP port for health, metrics and admin (0 = any free port)',
  },
  {
    key: 'kafkaPort',
    env: 'WEIR_KAFKA_PORT',
    kind: 'int',
    // Kafka's own port on one broker; a broker with peers opens none unless given one (see
    // kafkaPortDefault).
    default: KAFKA_PORT,
    min: -1,
    max: 65535,
    doc: 'Kafka protocol port (default 9092 on one broker, none with peers; 0 = any free port, -1 = no Kafka listener)',
  },
  {
    key: 'nodeId',
    env: 'WEIR_NODE_ID',
    kind: 'int',
    default: 0,
    min: 0,
    max: 0x7fff_ffff,
    doc: "this broker's id in the cluster",
  },
  {
    key: 'peers',
    env: 'WEIR_PEERS',
    kind: 'string',
    default: '',
    doc: "the cluster's brokers as id@host:port (each one's replication listener), comma-separated, this broker among them; unset: one broker on its own",
  },
  {
    key: 'replicationPort',
    env: 'WEIR_REPLICATION_PORT',
    kind: 'int',
    default: 9095,
    ...PORT,
    doc: 'port of the broker-to-broker listener, with peers only (0 = any free port)',
  },
  {
    key: 'clusterId',
    env: 'WEIR_CLUSTER_ID',
    kind: 'string',
    default: '',
    doc: "the cluster's id, the same on every broker (required with peers); unset on one broker: made when its data directory is",
  },
  {
    key: 'autoCreateTopics',
    env: 'WEIR_AUTO_CREATE_TOPICS',
    kind: 'bool',
    default: false,
    doc: 'create a topic on first produce or fetch',
  },
  {
    key: 'defaultPartitions',
    env: 'WEIR_DEFAULT_PARTITIONS',
    kind: 'int',
    default: 1,
    min: 1,
    max: 100_000,
    doc: 'partitions of auto-created topics',
  },
  {
    key: 'defaultReplicationFactor',
    env: 'WEIR_DEFAULT_REPLICATION_FACTOR',
    kind: 'int',
    default: 1,
    min: 1,
    max: 1,
    doc: 'replicas per partition (one broker: 1)',
  },
  {
    key: 'maxRequestBytes',
    env: 'WEIR_MAX_REQUEST_BYTES',
    kind: 'int',
    default: 100 * 1024 * 1024,
    min: 1024,
    max: 0x7fff_ffff,
    doc: 'largest request accepted; larger ones are refused before they are read',
  },
  {
    // 64 times the default max.message.bytes (1 MiB): room for gzip's usual 5-20x on full batches of
    // text, while a batch of a few hundred kilobytes cannot make the broker hold hundreds of MiB.
    key: 'maxInflatedBatchBytes',
    env: 'WEIR_MAX_INFLATED_BATCH_BYTES',
    kind: 'int',
    default: 64 * 1024 * 1024,
    min: 1024,
    max: 1024 * 1024 * 1024,
    doc: 'largest size the records of a compressed batch may inflate to; larger batches are refused on produce',
  },
  {
    key: 'maxFetchWaitMs',
    env: 'WEIR_MAX_FETCH_WAIT_MS',
    kind: 'int',
    default: 30_000,
    min: 0,
    max: 3_600_000,
    doc: "cap on a fetch's max_wait_ms",
  },
  {
    key: 'replicaLagTimeMaxMs',
    env: 'WEIR_REPLICA_LAG_TIME_MAX_MS',
    kind: 'int',
    default: 30_000,
    min: 1,
    max: 3_600_000,
    doc: "a follower that has not caught up with its leader's log end for this long leaves the in-sync replicas (Kafka's replica.lag.time.max.ms)",
  },
  {
    key: 'replicationThrottleBytes',
    env: 'WEIR_REPLICATION_THROTTLE_BYTES',
    kind: 'int',
    default: 0,
    min: 0,
    max: 1024 * 1024 * 1024 * 1024,
    doc: "bytes/s this broker's leaders send to followers catching up, all partitions together (Kafka's leader.replication.throttled.rate); 0 = not throttled",
  },
  {
    key: 'requestTimeoutMs',
    env: 'WEIR_REQUEST_TIMEOUT_MS',
    kind: 'int',
    default: 30_000,
    min: 1,
    max: 3_600_000,
    doc: 'default produce timeout',
  },
  {
    key: 'shutdownTimeoutMs',
    env: 'WEIR_SHUTDOWN_TIMEOUT_MS',
    kind: 'int',
    default: 10_000,
    min: 0,
    max: 3_600_000,
    doc: 'how long shutdown waits for in-flight requests',
  },
  {
    key: 'handshakeTimeoutMs',
    env: 'WEIR_HANDSHAKE_TIMEOUT_MS',
    kind: 'int',
    default: 10_000,
    min: 10,
    max: 600_000,
    doc: 'a connection that has not completed the HTTP/2 handshake (gRPC) or sent its request headers (HTTP) by then is closed',
  },
  {
    key: 'checkpointIntervalMs',
    env: 'WEIR_CHECKPOINT_INTERVAL_MS',
    kind: 'int',
    default: DEFAULT_LOG_MANAGER_CONFIG.checkpointIntervalMs,
    min: 1,
    max: 86_400_000,
    doc: 'how often logs are flushed and checkpoints written',
  },
  {
    key: 'retentionCheckIntervalMs',
    env: 'WEIR_RETENTION_CHECK_INTERVAL_MS',
    kind: 'int',
    default: DEFAULT_LOG_MANAGER_CONFIG.retentionCheckIntervalMs,
    min: 1,
    max: 86_400_000,
    doc: 'how often retention runs',
  },
  {
    key: 'cleanerBackoffMs',
    env: 'WEIR_CLEANER_BACKOFF_MS',
    kind: 'int',
    default: DEFAULT_LOG_MANAGER_CONFIG.cleanerBackoffMs,
    min: 1,
    max: 86_400_000,
    doc: 'how often compaction looks for work',
  },
  {
    key: 'offsetsTopicPartitions',
    env: 'WEIR_OFFSETS_TOPIC_PARTITIONS',
    kind: 'int',
    default: 16,
    min: 1,
    max: 1000,
    doc: 'partitions of __consumer_offsets when it is created (fixed after that)',
  },
  {
    key: 'groupHeartbeatIntervalMs',
    env: 'WEIR_GROUP_HEARTBEAT_INTERVAL_MS',
    kind: 'int',
    default: 3000,
    min: 10,
    max: 60_000,
    doc: 'how often group members heartbeat (capped at a third of their session timeout)',
  },
  {
    key: 'groupSessionTimeoutMs',
    env: 'WEIR_GROUP_SESSION_TIMEOUT_MS',
    kind: 'int',
    default: 45_000,
    min: 30,
    max: 3_600_000,
    doc: 'a member silent this long is evicted, unless it asks for another timeout',
  },
  {
    key: 'groupMinSessionTimeoutMs',
    env: 'WEIR_GROUP_MIN_SESSION_TIMEOUT_MS',
    kind: 'int',
    default: 6000,
    min: 30,
    max: 3_600_000,
    doc: 'the shortest session timeout a member may ask for',
  },
  {
    key: 'groupMaxSessionTimeoutMs',
    env: 'WEIR_GROUP_MAX_SESSION_TIMEOUT_MS',
    kind: 'int',
    default: 1_800_000,
    min: 30,
    max: 3_600_000,
    doc: 'the longest session timeout a member may ask for',
  },
  {
    key: 'groupRebalanceTimeoutMs',
    env: 'WEIR_GROUP_REBALANCE_TIMEOUT_MS',
    kind: 'int',
    default: 300_000,
    min: 30,
    max: 3_600_000,
    doc: 'a member that does not revoke partitions this long after being asked is evicted, unless it asks for another timeout',
  },
  {
    key: 'groupMaxRebalanceHistory',
    env: 'WEIR_GROUP_MAX_REBALANCE_HISTORY',
    kind: 'int',
    default: 20,
    min: 1,
    max: 1000,
    doc: 'rebalances remembered per group (with their reasons) for describe',
  },
  {
    key: 'maxOpenFiles',
    env: 'WEIR_MAX_OPEN_FILES',
    kind: 'int',
    default: defaultMaxOpenFiles(),
    min: MIN_MAX_OPEN_FILES,
    max: 0x7fff_ffff,
    doc: "open files the logs may hold: one per partition plus an eighth for closed segments (default: the process's open-file limit less a quarter, at least 64, for sockets and metadata)",
  },
  {
    key: 'logLevel',
    env: 'WEIR_LOG_LEVEL',
    kind: 'string',
    default: 'info',
    choices: LEVELS,
    doc: 'pino log level',
  },
];

export type BrokerConfigInput = Partial<Record<Scalar, string | number | boolean>> & {
  topicDefaults?: Readonly<Record<string, string | number>>;
};

function invalid(source: string, detail: string): never {
  throw new WeirError('INVALID_CONFIG', `${source}: ${detail}`);
}

function parseValue(def: KeyDef, raw: unknown, source: string): string | number | boolean {
  if (def.kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    return invalid(source, `${def.key} must be true or false, got '${String(raw)}'`);
  }
  if (def.kind === 'int') {
    const n =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < (def.min ?? -Infinity) || n > (def.max ?? Infinity)) {
      return invalid(
        source,
        `${def.key} must be an integer between ${def.min} and ${def.max}, got '${String(raw)}'`,
      );
    }
    return n;
  }
  if (typeof raw !== 'string' || raw === '') return invalid(source, `${def.key} must be a non-empty string`);
  if (def.choices !== undefined && !def.choices.includes(raw)) {
    return invalid(source, `${def.key} must be one of ${def.choices.join(', ')}, got '${raw}'`);
  }
  return raw;
}

function apply(
  out: Record<string, unknown>,
  input: Readonly<Record<string, unknown>>,
  source: string,
  topicDefaults: Record<string, string | number>,
  given: Set<string>,
): void {
  for (const [key, raw] of Object.entries(input)) {
    if (raw === undefined) continue;
    given.add(key);
    if (key === 'topicDefaults') {
      if (typeof raw !== 'object' || raw === null)
        invalid(source, 'topicDefaults must be an object of topic configs');
      Object.assign(topicDefaults, raw);
      continue;
    }
    const def = BROKER_CONFIG_KEYS.find((d) => d.key === key);
    if (def === undefined) invalid(source, `unknown key '${key}'`);
    out[key] = parseValue(def, raw, source);
  }
}

export interface ConfigSources {
  /** Path of a JSON config file. */
  readonly file?: string;
  /** Usually process.env; only WEIR_* keys are read. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Explicit settings (flags, startBroker options): they win. */
  readonly overrides?: BrokerConfigInput;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '::0']);

/**
 * The host to advertise when none is set: the bind host, except that a wildcard bind (every
 * interface) cannot be connected to from elsewhere, so the machine's hostname stands in for it.
 * Kafka makes advertised.listeners mandatory for such a bind; a hostname is right on most single
 * machines and containers, and --advertised-host covers the rest (NAT, a load balancer).
 */
export function advertisedHostFor(host: string, machineHostname: () => string = hostname): string {
  return WILDCARD_HOSTS.has(host) ? machineHostname() : host;
}

/**
 * The Kafka port of a broker that was given none: Kafka's 9092 on one broker, so Kafka clients
 * find it where they look first; none with peers, whose brokers often share a machine (and so
 * could not all take 9092): each is given its own port, which it registers in the metadata log.
 */
export function kafkaPortDefault(peers: string): number {
  return peers === '' ? KAFKA_PORT : -1;
}

/** Resolves the broker config from its sources; throws INVALID_CONFIG naming the bad key. */
export function resolveBrokerConfig(sources: ConfigSources = {}): BrokerConfig {
  const out: Record<string, unknown> = Object.fromEntries(BROKER_CONFIG_KEYS.map((d) => [d.key, d.default]));
  const topicDefaults: Record<string, string | number> = {};
  /** The keys some source set, as against those left at their defaults. */
  const given = new Set<string>();
  if (sources.file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(sources.file, 'utf8'));
    } catch (err) {
      invalid(`config file ${sources.file}`, err instanceof Error ? err.message : String(err));
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      invalid(`config file ${sources.file}`, 'must hold a JSON object');
    }
    apply(out, parsed as Record<string, unknown>, `config file ${sources.file}`, topicDefaults, given);
  }
  const env = sources.env ?? {};
  for (const def of BROKER_CONFIG_KEYS) {
    const raw = env[def.env];
    if (raw === undefined || raw === '') continue;
    out[def.key] = parseValue(def, raw, `environment ${def.env}`);
    given.add(def.key);
  }
  apply(out, sources.overrides ?? {}, 'option', topicDefaults, given);
  const session = out.groupSessionTimeoutMs as number;
  const [minSession, maxSession] = [
    out.groupMinSessionTimeoutMs as number,
    out.groupMaxSessionTimeoutMs as number,
  ];
  if (session < minSession || session > maxSession) {
    invalid(
      'groupSessionTimeoutMs',
      `${session} is outside groupMinSessionTimeoutMs..groupMaxSessionTimeoutMs (${minSession}..${maxSession})`,
    );
  }
  let logDefaults: LogConfig;
  try {
    logDefaults = logConfigFrom(topicDefaults);
  } catch (err) {
    invalid('topicDefaults', err instanceof Error ? err.message : String(err));
  }
  if (out.peers !== '') {
    const peers = parsePeers(out.peers as string);
    if (!peers.some((p) => p.nodeId === out.nodeId))
      invalid('peers', `this broker (nodeId ${String(out.nodeId)}) is not among them`);
    if (out.clusterId === '') invalid('clusterId', 'a cluster id is required with peers');
  }
  if (!given.has('kafkaPort')) out.kafkaPort = kafkaPortDefault(out.peers as string);
  if (out.advertisedHost === '') out.advertisedHost = advertisedHostFor(out.host as string);
  return Object.freeze({ ...(out as Omit<BrokerConfig, 'topicDefaults'>), topicDefaults: logDefaults });
}

/** One voter of the cluster: its node id and the address of its replication listener. */
export interface Peer {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

const PEER = /^(\d+)@(\[[0-9a-fA-F:.]+\]|[^\s@:,[\]]+):(\d+)$/;

/** Parses `id@host:port,...`; INVALID_CONFIG naming the entry that is wrong. */
export function parsePeers(text: string): Peer[] {
  const peers: Peer[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const m = PEER.exec(entry);
    const nodeId = m === null ? NaN : Number(m[1]);
    const port = m === null ? NaN : Number(m[3]);
    if (m === null || !Number.isSafeInteger(nodeId) || nodeId > 0x7fff_ffff || port < 1 || port > 65535)
      invalid('peers', `'${entry}' is not id@host:port (id 0..2147483647, port 1..65535)`);
    if (peers.some((p) => p.nodeId === nodeId)) invalid('peers', `node id ${nodeId} is listed twice`);
    peers.push({ nodeId, host: m[2]!.replace(/^\[(.*)\]$/, '$1'), port });
  }
  return peers;
}

/** `host:port` to dial a peer at (an IPv6 host in brackets). */
export function peerAddress(peer: Peer): string {
  return `${peer.host.includes(':') ? `[${peer.host}]` : peer.host}:${peer.port}`;
}

/** The cluster's voters, or null for one broker on its own. */
export function clusterPeers(config: Pick<BrokerConfig, 'peers'>): Peer[] | null {
  return config.peers === '' ? null : parsePeers(config.peers);
}
