// The options of a GroupConsumer, checked once when it is built (before any connection opens),
// as every client's are: a bad one is an INVALID_CONFIG WeirError naming it.

import { WeirError } from '../proto/errors.js';
import type { ConsumerOptions } from './consumer.js';
import type { RebalanceListener } from './group-assignment.js';
import { checkGroupId } from './group-partitions.js';
import { boolOption, enumOption, functionOption, intOption } from './options.js';
import { checkTopic } from './records.js';

/** How the coordinator spreads partitions over members (the group's first member picks it). */
export type GroupAssignor = 'range' | 'roundrobin' | 'sticky';

export interface GroupConsumerOptions extends Omit<ConsumerOptions, 'autoOffsetReset'> {
  /** The consumer group to join. */
  groupId: string;
  /** Topics to consume. Give either `topics` or `pattern`. */
  topics?: readonly string[];
  /**
   * A regular expression over whole topic names (its source is sent; flags are ignored). Topics
   * created later that match are assigned too.
   */
  pattern?: RegExp | string;
  /** Names this client in the group's description; member ids are ordered by it. Default 'weir'. */
  clientId?: string;
  /**
   * Static membership (Kafka's group.instance.id): a member that restarts with the same id within
   * its session timeout gets its partitions back without a rebalance. Default: dynamic.
   */
  instanceId?: string;
  /** Evicted after this long without a heartbeat. Default: the broker's (45 s). */
  sessionTimeoutMs?: number;
  /** How long a revocation (commit and onRevoked) may take. Default: the broker's. */
  rebalanceTimeoutMs?: number;
  /** Default: the broker's (sticky). Every member of a group must ask for the same one. */
  assignor?: GroupAssignor;
  /** Where a partition without a committed offset starts. Default 'latest', as Kafka. */
  autoOffsetReset?: 'earliest' | 'latest';
  /** Commit consumed positions every autoCommitIntervalMs, on revocation and on close. Default true. */
  autoCommit?: boolean;
  /** Default 5000. */
  autoCommitIntervalMs?: number;
  /**
   * The most close() takes for its last commit and its leave (Kafka's close timeout); past it the
   * member stops without them and the coordinator evicts it after its session. Default 30000.
   */
  closeTimeoutMs?: number;
  /** Called with partitions once they are being consumed (their positions known). */
  onAssigned?: RebalanceListener;
  /**
   * Called with partitions given up in a rebalance or on close, after their positions were
   * committed (autoCommit) and before the coordinator hands them on: commit() may still commit
   * them here. The rebalance waits for it (up to the rebalance timeout).
   */
  onRevoked?: RebalanceListener;
  /**
   * Called with partitions lost without a commit (fenced, or the session expired): another member
   * may own them already. Default: onRevoked.
   */
  onLost?: RebalanceListener;
}

export interface GroupSettings {
  groupId: string;
  topics: string[];
  pattern: string;
  clientId: string;
  instanceId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  assignor: string;
  autoOffsetReset: 'earliest' | 'latest';
  autoCommit: boolean;
  autoCommitIntervalMs: number;
  closeTimeoutMs: number;
  onAssigned: RebalanceListener | undefined;
  onRevoked: RebalanceListener | undefined;
  onLost: RebalanceListener | undefined;
}

function stringOption(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new WeirError('INVALID_CONFIG', `${name} must be a string`);
  return value;
}

function subscription(options: GroupConsumerOptions): { topics: string[]; pattern: string } {
  const { topics, pattern } = options;
  if ((topics === undefined) === (pattern === undefined)) {
    throw new WeirError('INVALID_CONFIG', 'give either topics or pattern');
  }
  if (topics !== undefined) {
    if (!Array.isArray(topics) || topics.length === 0) {
      throw new WeirError('INVALID_CONFIG', 'topics must be a non-empty list of topic names');
    }
    return { topics: [...new Set(topics.map(checkTopic))], pattern: '' };
  }
  const source = pattern instanceof RegExp ? pattern.source : pattern;
  if (typeof source !== 'string' || source.length === 0) {
    throw new WeirError('INVALID_CONFIG', 'pattern must be a RegExp or a non-empty string');
  }
  // The broker checks the syntax (RE2/J, as Kafka's), which is not JavaScript's: `(?i)` is valid
  // there, lookaheads are not. A pattern it refuses ends the consumer with INVALID_REGULAR_EXPRESSION.
  return { topics: [], pattern: source };
}

export function groupSettings(options: GroupConsumerOptions): GroupSettings {
  if (options === null || typeof options !== 'object') {
    throw new WeirError('INVALID_CONFIG', 'a GroupConsumer needs options with a groupId');
  }
  const groupId = checkGroupId(options.groupId);
  const clientId = stringOption('clientId', options.clientId, 'weir');
  return {
    groupId,
    ...subscription(options),
    clientId,
    instanceId: stringOption('instanceId', options.instanceId, ''),
    sessionTimeoutMs: intOption('sessionTimeoutMs', options.sessionTimeoutMs, 0, 1, 2 ** 31 - 1),
    rebalanceTimeoutMs: intOption('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 0, 1, 3_600_000),
    assignor: enumOption<GroupAssignor | ''>('assignor', options.assignor, '', [
      'range',
      'roundrobin',
      'sticky',
    ]),
    autoOffsetReset: enumOption('autoOffsetReset', options.autoOffsetReset, 'latest', ['earliest', 'latest']),
    autoCommit: boolOption('autoCommit', options.autoCommit, true),
    autoCommitIntervalMs: intOption(
      'autoCommitIntervalMs',
      options.autoCommitIntervalMs,
      5000,
      1,
      2 ** 31 - 1,
    ),
    closeTimeoutMs: intOption('closeTimeoutMs', options.closeTimeoutMs, 30_000, 0, 2 ** 31 - 1),
    onAssigned: functionOption<RebalanceListener>('onAssigned', options.onAssigned),
    onRevoked: functionOption<RebalanceListener>('onRevoked', options.onRevoked),
    onLost: functionOption<RebalanceListener>('onLost', options.onLost),
  };
}
