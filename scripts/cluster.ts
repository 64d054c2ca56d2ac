// `npm run cluster`: the brokers of docker-compose.yml as local processes, for those without
// Docker and for the test suite. Starts N `weir broker` children configured by the same
// environment variables as the compose services (scripts/cluster-layout.ts), prints each one's
// addresses, relays their log lines prefixed with the broker's name, and on SIGINT or SIGTERM stops
// them all (SIGTERM, then SIGKILL for any still running after the grace period) and exits: 0 when
// every broker stopped cleanly. A broker that dies on its own is reported and the others keep
// running, as they would under compose, so that a controller can be killed to watch the election.
//
// Usage: npm run cluster -- [--brokers N] [--base-port P] [--data-dir DIR] [--cluster-id ID]
//        [--host H] [--ports grpc:http:replication[:kafka],...]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { BIN } from './broker-process.js';
import { ClusterOptionError, clusterLayout, clusterOptions, type BrokerSpec } from './cluster-layout.js';

/** The brokers' own shutdown waits 10 s for requests in flight (WEIR_SHUTDOWN_TIMEOUT_MS). */
const STOP_GRACE_MS = 15_000;

interface Running {
  readonly spec: BrokerSpec;
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
}

function relay(from: Readable, to: Writable, name: string): void {
  createInterface({ input: from }).on('line', (line) => to.write(`${name} | ${line}\n`));
}

function start(spec: BrokerSpec): Running {
  mkdirSync(spec.dataDir, { recursive: true });
  const child = spawn(process.execPath, [BIN, 'broker'], {
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  relay(child.stdout!, process.stdout, spec.name);
  relay(child.stderr!, process.stderr, spec.name);
  const exited = new Promise<number | string>((done) =>
    child.once('exit', (code, signal) => done(code ?? signal ?? 'unknown')),
  );
  return { spec, child, exited };
}

function describe(b: Running): string {
  const { spec } = b;
  const host = spec.env.WEIR_ADVERTISED_HOST;
  return (
    `${spec.name} pid ${b.child.pid}: gRPC ${host}:${spec.grpc}, HTTP http://${host}:${spec.http}, ` +
    `replication ${host}:${spec.replication}, ` +
    (spec.kafka < 0 ? '' : `Kafka ${host}:${spec.kafka}, `) +
    `data ${spec.dataDir}`
  );
}

async function stopAll(brokers: readonly Running[], signal: string): Promise<boolean> {
  console.log(`cluster: ${signal}: stopping ${brokers.length} brokers`);
  for (const b of brokers)
    if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGTERM');
  const killer = setTimeout(() => {
    for (const b of brokers) {
      if (b.child.exitCode !== null || b.child.signalCode !== null) continue;
      console.log(`cluster: ${b.spec.name} still running after ${STOP_GRACE_MS} ms: SIGKILL`);
      b.child.kill('SIGKILL');
    }
  }, STOP_GRACE_MS);
  const results = await Promise.all(brokers.map((b) => b.exited));
  clearTimeout(killer);
  return results.every((r) => r === 0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string' },
      'base-port': { type: 'string' },
      ports: { type: 'string' },
      'data-dir': { type: 'string' },
      'cluster-id': { type: 'string' },
      host: { type: 'string' },
    },
  });
  let options;
  try {
    options = clusterOptions({
      brokers: values.brokers,
      basePort: values['base-port'],
      ports: values.ports,
      dataDir: values['data-dir'],
      clusterId: values['cluster-id'],
      host: values.host,
    });
  } catch (err) {
    if (!(err instanceof ClusterOptionError)) throw err;
    console.error(`cluster: ${err.message}`);
    process.exit(2);
  }

  const brokers = clusterLayout(options).map(start);
  console.log(`cluster '${options.clusterId}': ${brokers.length} brokers`);
  for (const b of brokers) console.log(describe(b));
  const bootstrap = brokers.map((b) => `${b.spec.env.WEIR_ADVERTISED_HOST}:${b.spec.grpc}`).join(',');
  console.log(`bootstrap: ${bootstrap}  (Ctrl-C stops them all)`);
  const kafka = brokers.filter((b) => b.spec.kafka >= 0);
  if (kafka.length > 0)
    console.log(
      `Kafka bootstrap: ${kafka.map((b) => `${b.spec.env.WEIR_ADVERTISED_HOST}:${b.spec.kafka}`).join(',')}`,
    );

  let stopping = false;
  for (const b of brokers) {
    void b.exited.then((result) => {
      if (!stopping) console.log(`cluster: ${b.spec.name} exited on its own (${result})`);
    });
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    void stopAll(brokers, signal).then((clean) => {
      console.log(
        clean ? 'cluster: every broker stopped cleanly' : 'cluster: not every broker stopped cleanly',
      );
      process.exit(clean ? 0 : 1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Every broker gone without a signal (each failed to start, say): nothing left to run.
  await Promise.all(brokers.map((b) => b.exited));
  if (!stopping) {
    console.log('cluster: every broker has exited');
    process.exit(1);
  }
}

await main();
