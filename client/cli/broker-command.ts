// `weir broker`: runs a broker in the foreground until SIGTERM or SIGINT.

import { Command } from 'commander';
import { parseIntArg } from './common.js';

interface BrokerFlags {
  dataDir?: string;
  host?: string;
  advertisedHost?: string;
  grpcPort?: number;
  httpPort?: number;
  kafkaPort?: number;
  nodeId?: number;
  peers?: string;
  replicationPort?: number;
  clusterId?: string;
  config?: string;
  autoCreateTopics?: boolean;
  replicaLagTimeMaxMs?: number;
  logLevel?: string;
}

export function brokerCommand(): Command {
  return new Command('broker')
    .description('run a broker (settings: flags, then WEIR_* environment, then --config file, then defaults)')
    .option('--data-dir <dir>', 'directory of the partition logs (default ./data)')
    .option('--host <host>', 'address to bind (default 127.0.0.1)')
    .option(
      '--advertised-host <host>',
      "host clients are told to connect to (default: --host; this machine's hostname for 0.0.0.0 or ::)",
    )
    .option('--grpc-port <n>', 'gRPC port (default 9093)', parseIntArg(0, 65535))
    .option(
      '--http-port <n>',
      'HTTP port for health, metrics and admin (default 9094)',
      parseIntArg(0, 65535),
    )
    .option(
      '--kafka-port <n>',
      'Kafka protocol port (default 9092 on one broker, none with --peers; 0 = any free port, -1 = none)',
      parseIntArg(-1, 65535),
    )
    .option('--node-id <n>', "this broker's id (default 0)", parseIntArg(0, 0x7fff_ffff))
    .option(
      '--peers <list>',
      "the cluster's brokers as id@host:port (their replication listeners), comma-separated, this one among them",
    )
    .option(
      '--replication-port <n>',
      'port of the broker-to-broker listener, with --peers (default 9095)',
      parseIntArg(0, 65535),
    )
    .option('--cluster-id <id>', 'the cluster id, the same on every broker (required with --peers)')
    .option('--config <file>', 'JSON config file')
    .option('--auto-create-topics', 'create topics on first use')
    .option(
      '--replica-lag-time-max-ms <ms>',
      "a follower behind its leader's log end this long leaves the in-sync replicas (default 30000)",
      parseIntArg(1, 3_600_000),
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .action(async (flags: BrokerFlags) => {
      // The broker is loaded only for this command, so the client commands stay light.
      const { runBroker } = await import('../../broker/main.js');
      const { config, ...overrides } = flags;
      await runBroker({ ...(config ? { file: config } : {}), overrides });
    });
}
