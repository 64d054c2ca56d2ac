// The `weir` command. Every command takes --bootstrap (default WEIR_BOOTSTRAP, else
// 127.0.0.1:9093) and --help, exits 0 on success, and non-zero with a one-line reason on stderr.
// `weir broker` runs a broker in this process; the other commands are clients of one.

import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { WeirError, type ErrorCode } from '../../proto/errors.js';
import { benchCommand } from './bench-command.js';
import { brokerCommand } from './broker-command.js';
import { clusterCommand } from './cluster-command.js';
import { EXIT_FAILURE, EXIT_USAGE, UsageError } from './common.js';
import { consumeCommand } from './consume-command.js';
import { groupCommand } from './group-command.js';
import { produceCommand } from './produce-command.js';
import { topicCommand } from './topic-command.js';

/**
 * Commands added with addCommand do not inherit the parent's settings, so they are applied to the
 * whole tree: a usage error anywhere throws (exit 2 from main) instead of calling process.exit.
 */
function configureTree(command: Command): void {
  command.showHelpAfterError('(run with --help for usage)').exitOverride();
  for (const sub of command.commands) configureTree(sub);
}

/** The installed package's version (the package resolves itself by name through its exports). */
function packageVersion(): string {
  return (createRequire(import.meta.url)('weir-broker/package.json') as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('weir').description('weir: a Kafka-style commit-log broker for Node.js');
  program
    .version(packageVersion(), '-V, --version', 'print the version of weir')
    .addCommand(brokerCommand())
    .addCommand(clusterCommand())
    .addCommand(topicCommand())
    .addCommand(produceCommand())
    .addCommand(consumeCommand())
    .addCommand(groupCommand())
    .addCommand(benchCommand());
  configureTree(program);
  return program;
}

/**
 * Codes that mean no broker answered. Only these earn the "is the broker running?" hint: on any
 * other retriable error (a broker that cannot start on a corrupt file, a partition without a
 * leader) the hint sends the reader looking in the wrong place.
 */
const UNREACHABLE: ReadonlySet<ErrorCode> = new Set(['NETWORK_EXCEPTION', 'REQUEST_TIMED_OUT']);

/** One line a person can act on. */
export function describeFailure(err: unknown): string {
  if (err instanceof WeirError)
    return `error: ${err.message}${UNREACHABLE.has(err.code) ? ' (retriable: is the broker running?)' : ''}`;
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander printed the message (or the help) already.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    process.stderr.write(describeFailure(err).split('\n')[0] + '\n');
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}
