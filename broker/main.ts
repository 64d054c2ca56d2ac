// Starting a broker: `startBroker()` for embedding and tests, `runBroker()` for `weir broker` and
// `npm start` (signals, pretty logs in a terminal). Both take the same path: resolve the config,
// open the Broker (recovering the data directory), bind gRPC, then HTTP. Only this module wires
// the real clock, file system, ids and host boot id (Broker.open falls back to the same for embedders).

import { resolve } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { realClock, systemClock } from '../proto/clock.js';
import { procBootId } from './boot-id.js';
import { ReplicationServer } from './replica/replication-server.js';
import { Broker } from './broker.js';
import { resolveBrokerConfig, type BrokerConfig, type BrokerConfigInput } from './config.js';
import { startGrpcServer } from './grpc-server.js';
import { startHttpServer } from './http-server.js';
import { startKafkaListener } from './kafka/kafka-listener.js';
import type { KafkaServer } from './kafka/kafka-server.js';
import { randomIds } from './ids.js';
import { createLogger, type Logger } from './logger.js';
import { BrokerMetrics } from './metrics.js';
import type { StorageFs } from '../storage/index.js';

/** Storage events that mean data may be missing or was left unaccounted for: an operator must look. */
const STORAGE_ERRORS = new Set([
  'topic-rebuilt',
  'log-set-aside',
  'partition-metadata-invalid',
  'log-start-past-end',
  'metadata-error',
  'segment-gap',
  'damaged',
]);

export interface StartBrokerOptions extends BrokerConfigInput {
  /** gRPC port; an alias of grpcPort. Embedded brokers default to 0 (any free port) for both ports. */
  readonly port?: number;
  /** A JSON config file, read under the options given here. */
  readonly configFile?: string;
  /** Environment to read WEIR_* settings from; embedded brokers read none unless given. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A pino logger to use; default: JSON at logLevel (embedded default: warn). */
  readonly logger?: Logger;
  /** The file system storage uses; default the real one. Tests inject disk faults through it. */
  readonly fs?: StorageFs;
}

export interface RunningBroker {
  readonly grpcAddress: string;
  readonly httpAddress: string;
  /** The broker-to-broker listener, with peers only. */
  readonly replicationAddress: string | null;
  /** The Kafka protocol listener, when kafkaPort is not -1. */
  readonly kafkaAddress: string | null;
  readonly nodeId: number;
  readonly config: BrokerConfig;
  readonly broker: Broker;
  readonly logger: Logger;
  /** Drains in-flight requests, flushes, writes the clean-shutdown marker. Safe to call twice. */
  close(): Promise<void>;
}

export async function startBroker(options: StartBrokerOptions): Promise<RunningBroker> {
  const { port, configFile, env, logger: given, fs, ...rest } = options;
  const overrides: BrokerConfigInput = {
    grpcPort: port ?? 0,
    httpPort: 0,
    kafkaPort: -1,
    logLevel: 'warn',
    ...rest,
  };
  const config = resolveBrokerConfig({
    ...(configFile ? { file: configFile } : {}),
    ...(env ? { env } : {}),
    overrides,
  });
  return launch(config, given ?? createLogger(config.logLevel, false), fs);
}

async function launch(configIn: BrokerConfig, logger: Logger, fs?: StorageFs): Promise<RunningBroker> {
  const config = { ...configIn, dataDir: resolve(configIn.dataDir) };
  const started = Date.now();
  const broker = Broker.open(config, {
    ...(fs ? { fs } : {}),
    clock: systemClock,
    // Long-poll waits bound how long a client waits: real time, and they keep the process alive.
    waitClock: realClock(false),
    ids: randomIds,
    host: procBootId,
    onStorageReport: (report) => logger[report.level](report.fields, report.message),
    onStorageEvent: (event) => {
      if (STORAGE_ERRORS.has(event.kind)) logger.error({ event }, 'storage');
      else if (
        event.kind === 'background-error' ||
        event.kind === 'delete-retry' ||
        event.kind === 'orphaned-dir-kept' ||
        event.kind === 'truncated' ||
        event.kind === 'segments-removed' ||
        event.kind === 'segment-overlap-cut' ||
        event.kind === 'repaired'
      )
        logger.warn({ event }, 'storage');
      else if (event.kind === 'startup') logger.info({ event }, 'storage opened');
      else logger.debug({ event }, 'storage');
    },
    onGroupEvent: (message) => logger.info(message),
    onClusterEvent: (message) => logger.warn(message),
  });
  const metrics = new BrokerMetrics(broker);
  let ready = false;
  let grpcServer: grpc.Server | null = null;
  let http: FastifyInstance | null = null;
  let replication: ReplicationServer | null = null;
  let kafka: KafkaServer | null = null;
  try {
    // Peers reach this broker's Raft groups through a listener of its own, apart from clients'.
    if (config.peers !== '') {
      replication = await ReplicationServer.start({
        self: config.nodeId,
        clusterId: broker.clusterId,
        host: config.host,
        port: config.replicationPort,
        receive: (envelope) => broker.receiveReplication(envelope),
        heartbeat: (request) => Promise.resolve().then(() => broker.clusterHeartbeat(request)),
        controller: (request) => broker.controllerRequest(request),
        onRefused: (err) => logger.warn({ err }, 'replication stream refused'),
      });
    }
    const grpcBound = await startGrpcServer(
      broker,
      {
        onInternalError: (err, method) => logger.error({ err, method }, 'request failed'),
        onStorageError: (err) => broker.storageHealth.note(err),
        onWarning: (message) => logger.warn(message),
        onProduce: metrics.onProduce,
        onFetch: metrics.onFetch,
      },
      config.host,
      config.grpcPort,
    );
    grpcServer = grpcBound.server;
    const effective: BrokerConfig = Object.freeze({
      ...config,
      grpcPort: grpcBound.port,
      replicationPort: replication?.port ?? config.replicationPort,
    });
    const httpBound = await startHttpServer(
      { broker, logger, ready: () => ready, metrics },
      config.host,
      config.httpPort,
    );
    http = httpBound.app;
    if (config.kafkaPort >= 0) {
      kafka = await startKafkaListener(broker, {
        host: config.host,
        port: config.kafkaPort,
        advertisedHost: config.advertisedHost,
        maxRequestBytes: config.maxRequestBytes,
        onInternalError: (err, api) => logger.error({ err, api }, 'Kafka request failed'),
      });
    }
    (broker as { config: BrokerConfig }).config = Object.freeze({
      ...effective,
      httpPort: httpBound.port,
      kafkaPort: kafka?.port ?? config.kafkaPort,
    });
    broker.startClusterMember();
    ready = true;
    logger.info(
      {
        grpc: `${config.host}:${grpcBound.port}`,
        http: `${config.host}:${httpBound.port}`,
        ...(replication === null ? {} : { replication: replication.address }),
        ...(kafka === null ? {} : { kafka: `${config.host}:${kafka.port}` }),
        dataDir: config.dataDir,
        cleanShutdown: broker.cleanShutdown,
        ms: Date.now() - started,
      },
      'broker started',
    );
    let closing: Promise<void> | null = null;
    return {
      grpcAddress: `${config.host}:${grpcBound.port}`,
      httpAddress: `${config.host}:${httpBound.port}`,
      replicationAddress: replication?.address ?? null,
      kafkaAddress: kafka === null ? null : `${config.host}:${kafka.port}`,
      nodeId: config.nodeId,
      config: broker.config,
      broker,
      logger,
      close: () =>
        (closing ??= shutdown(
          broker,
          grpcBound.server,
          grpcBound.drainStreams,
          httpBound.app,
          replication,
          kafka,
          config.shutdownTimeoutMs,
          logger,
        )),
    };
  } catch (err) {
    grpcServer?.forceShutdown();
    await kafka?.close();
    await http?.close();
    await replication?.close();
    await broker.close();
    throw err;
  }
}

async function shutdown(
  broker: Broker,
  grpcServer: grpc.Server,
  drainStreams: () => void,
  http: FastifyInstance,
  replication: ReplicationServer | null,
  kafka: KafkaServer | null,
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  broker.stopAccepting();
  await kafka?.close();
  drainStreams();
  // The groups stopped with the broker's intake: peers' streams end now (BROKER_SHUTTING_DOWN).
  await replication?.close();
  await new Promise<void>((done) => {
    const timer = setTimeout(() => {
      logger.warn({ timeoutMs }, 'in-flight requests did not finish in time; closing them');
      grpcServer.forceShutdown();
      done();
    }, timeoutMs);
    timer.unref();
    grpcServer.tryShutdown(() => {
      clearTimeout(timer);
      done();
    });
  });
  await http.close();
  await broker.close();
  logger.info('broker stopped cleanly');
}

/**
 * Runs a broker in the foreground until SIGTERM or SIGINT, then shuts down cleanly and exits 0.
 * A bad config exits 1 with a one-line reason on stderr.
 */
export async function runBroker(sources: { file?: string; overrides: BrokerConfigInput }): Promise<void> {
  const config = resolveBrokerConfig({
    ...(sources.file ? { file: sources.file } : {}),
    env: process.env,
    overrides: sources.overrides,
  });
  const logger = createLogger(config.logLevel, process.stdout.isTTY === true);
  const running = await launch(config, logger);
  const stop = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
