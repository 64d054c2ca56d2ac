// `weir group list|describe|delete|delete-offsets|reset-offsets`: consumer-group administration
// through the SDK's Admin. Results go to stdout (a table, or one JSON document with --format json); nothing else
// does, so the output can be piped.
//
// describe's text form reads like kafka-consumer-groups --describe: one row per partition the group
// has committed or owns (committed offset, high watermark, lag, and the member that owns it), then
// the members, then the latest rebalances with their reasons. Its JSON form is the one DESIGN.md
// promises (group, state, generation, members, offsets) plus assignor and rebalances; "nothing
// committed" is -1 in `committed`, and an unknown lag (nothing committed, or the topic is gone) is
// null, as in the SDK and the HTTP API, so a script summing lags gets the sum of the known ones.
//
// A classic group (Kafka clients on the Kafka listener) shows in the same form: its states are
// Kafka's classic ones, the assignor is the client-side one the group chose, each member's epoch is
// the generation, and its partitions are those its assignment bytes name.
//
// A group's total lag (list's LAG column, describe's header) is the sum of the partitions' known
// lags, and unknown ('-', null in JSON) when no partition's lag is known.
//
// reset-offsets is a dry run unless --execute, as Kafka's: it prints the plan and says nothing
// changed. The broker refuses it (NON_EMPTY_GROUP) while the group has members. --all-topics
// resets every topic the group has committed offsets of, one call per topic: all are planned
// before any is executed (group-reset.ts), and a failure part way prints what was committed
// before it exits 1.

import { Command, Option } from 'commander';
import {
  Admin,
  isWeirError,
  type GroupDescription,
  type GroupSummary,
  type ResetOffsetsResult,
  type ResetOffsetsTarget,
} from '../index.js';
import { UsageError, bootstrapOption, parseIntArg, withConnection } from './common.js';
import { ResetIncomplete, resetTopics } from './group-reset.js';
import { isoTime } from './iso-time.js';
import { print, table } from './table.js';
import { parseTime } from './units.js';

type Format = 'text' | 'json';

function formatOption(): Option {
  return new Option('--format <format>', 'text or json').choices(['text', 'json']).default('text');
}

/** -1 (none) or null (unknown) as a dash. */
function offsetText(n: number | null): string {
  return n === null || n < 0 ? '-' : String(n);
}

function admin<T>(bootstrap: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  return withConnection(bootstrap, (connection) => fn(new Admin({ connection })));
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** The sum of the known lags; null when none is known. */
function totalLag(offsets: GroupDescription['offsets']): number | null {
  let sum: number | null = null;
  for (const o of offsets) if (o.lag !== null) sum = (sum ?? 0) + o.lag;
  return sum;
}

type ListedGroup = GroupSummary & { lag: number | null };

function listText(groups: readonly ListedGroup[]): string {
  const rows = [
    ['GROUP', 'STATE', 'MEMBERS', 'GENERATION', 'LAG'],
    ...groups.map((g) => [g.groupId, g.state, String(g.members), String(g.generation), offsetText(g.lag)]),
  ];
  return table(rows);
}

/** Each group with its total lag, from its description (null if it is gone by then). */
async function withLag(a: Admin, groups: readonly GroupSummary[]): Promise<ListedGroup[]> {
  return await Promise.all(
    groups.map(async (g) => {
      try {
        return { ...g, lag: totalLag((await a.describeGroup(g.groupId)).offsets) };
      } catch (err) {
        if (isWeirError(err, 'GROUP_ID_NOT_FOUND')) return { ...g, lag: null };
        throw err;
      }
    }),
  );
}

/** The JSON form of `group describe`: DESIGN.md's fields first, then the extras. */
export function describeJson(d: GroupDescription): unknown {
  return {
    group: d.groupId,
    state: d.state,
    generation: d.generation,
    members: d.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      host: m.host,
      assignment: m.assignment.map(({ topic, partition }) => ({ topic, partition })),
      instanceId: m.instanceId,
      memberEpoch: m.memberEpoch,
      pendingRevocation: m.pendingRevocation.map(({ topic, partition }) => ({ topic, partition })),
    })),
    offsets: d.offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      committed: o.committed,
      highWatermark: o.highWatermark,
      lag: o.lag,
    })),
    assignor: d.assignor,
    rebalances: d.rebalances.map((r) => ({
      generation: r.generation,
      reason: r.reason,
      memberId: r.memberId,
      timestamp: r.timestamp,
    })),
  };
}

export function describeText(d: GroupDescription): string {
  const owners = new Map<string, { memberId: string; host: string; clientId: string; revoking: boolean }>();
  for (const m of d.members) {
    for (const tp of m.assignment) owners.set(tpKey(tp.topic, tp.partition), { ...m, revoking: false });
    for (const tp of m.pendingRevocation) owners.set(tpKey(tp.topic, tp.partition), { ...m, revoking: true });
  }
  const out = [
    `Group: ${d.groupId}   state: ${d.state}   generation: ${d.generation}   ` +
      `assignor: ${d.assignor === '' ? '-' : d.assignor}   members: ${d.members.length}   total lag: ${offsetText(totalLag(d.offsets))}`,
    '',
  ];
  if (d.offsets.length === 0) out.push('No committed or assigned partitions.');
  else
    out.push(
      table([
        ['TOPIC', 'PARTITION', 'COMMITTED', 'HIGH-WATERMARK', 'LAG', 'MEMBER-ID', 'HOST', 'CLIENT-ID'],
        ...d.offsets.map((o) => {
          const owner = owners.get(tpKey(o.topic, o.partition));
          return [
            o.topic,
            String(o.partition),
            offsetText(o.committed),
            offsetText(o.highWatermark),
            offsetText(o.lag),
            owner === undefined ? '-' : owner.memberId + (owner.revoking ? ' (revoking)' : ''),
            owner?.host || '-',
            owner?.clientId || '-',
          ];
        }),
      ]),
    );
  out.push('');
  if (d.members.length === 0) out.push('No members.');
  else
    out.push(
      table([
        ['MEMBER-ID', 'INSTANCE-ID', 'CLIENT-ID', 'HOST', 'EPOCH', 'PARTITIONS', 'REVOKING'],
        ...d.members.map((m) => [
          m.memberId,
          m.instanceId ?? '-',
          m.clientId || '-',
          m.host || '-',
          String(m.memberEpoch),
          String(m.assignment.length),
          String(m.pendingRevocation.length),
        ]),
      ]),
    );
  out.push('');
  if (d.rebalances.length === 0) out.push('No rebalances since the broker started.');
  else {
    out.push('Latest rebalances (newest last):');
    out.push(
      table([
        ['GENERATION', 'TIME', 'REASON', 'MEMBER-ID'],
        ...d.rebalances.map((r) => [String(r.generation), isoTime(r.timestamp), r.reason, r.memberId ?? '-']),
      ]),
    );
  }
  return out.join('\n');
}

function listCommand(): Command {
  return new Command('list')
    .description('list consumer groups with their state, members, generation and total lag')
    .addOption(bootstrapOption())
    .addOption(formatOption())
    .action(async (flags: { bootstrap: string; format: Format }) => {
      const groups = await admin(flags.bootstrap, async (a) => withLag(a, await a.listGroups()));
      groups.sort((x, y) => (x.groupId < y.groupId ? -1 : x.groupId > y.groupId ? 1 : 0));
      if (flags.format === 'json') print(JSON.stringify(groups));
      else if (groups.length > 0) print(listText(groups));
    });
}

function describeCommand(): Command {
  return new Command('describe')
    .description("show a group's members, committed offsets with lag, and latest rebalances")
    .argument('<group>', 'group id')
    .addOption(bootstrapOption())
    .addOption(formatOption())
    .action(async (group: string, flags: { bootstrap: string; format: Format }) => {
      const d = await admin(flags.bootstrap, (a) => a.describeGroup(group));
      print(flags.format === 'json' ? JSON.stringify(describeJson(d)) : describeText(d));
    });
}

function deleteCommand(): Command {
  return new Command('delete')
    .description('delete a group with no members, and its committed offsets')
    .argument('<group>', 'group id')
    .addOption(bootstrapOption())
    .action(async (group: string, flags: { bootstrap: string }) => {
      await admin(flags.bootstrap, (a) => a.deleteGroup(group));
      print(`deleted group ${group}`);
    });
}

interface ResetFlags {
  bootstrap: string;
  topic?: string;
  allTopics?: boolean;
  partition?: number[];
  toEarliest?: boolean;
  toLatest?: boolean;
  toTime?: number;
  toOffset?: number;
  shiftBy?: number;
  execute?: boolean;
  format: Format;
}

/** The --to-* options by commander's attribute names, which conflicts() compares. */
const RESET_TARGETS = ['toEarliest', 'toLatest', 'toTime', 'toOffset', 'shiftBy'];

function resetTarget(flags: ResetFlags): ResetOffsetsTarget {
  if (flags.toEarliest === true) return { earliest: true };
  if (flags.toLatest === true) return { latest: true };
  if (flags.toTime !== undefined) return { timestamp: flags.toTime };
  if (flags.toOffset !== undefined) return { offset: flags.toOffset };
  if (flags.shiftBy !== undefined) return { shiftBy: flags.shiftBy };
  throw new UsageError(
    'group reset-offsets needs one of --to-earliest, --to-latest, --to-time, --to-offset or --shift-by',
  );
}

function collectPartition(raw: string, previous: number[] | undefined): number[] {
  return [...(previous ?? []), parseIntArg(0, 0x7fffffff)(raw)];
}

function resetText(group: string, result: ResetOffsetsResult): string {
  const rows = [
    ['TOPIC', 'PARTITION', 'PREVIOUS', 'NEW'],
    ...result.offsets.map((o) => [o.topic, String(o.partition), offsetText(o.previous), String(o.offset)]),
  ];
  const outcome = result.executed
    ? `committed these offsets for group ${group}`
    : 'dry run: nothing was changed (add --execute to commit these offsets)';
  return `${table(rows)}\n\n${outcome}`;
}

function resetCommand(): Command {
  const others = (name: string): string[] => RESET_TARGETS.filter((t) => t !== name);
  return new Command('reset-offsets')
    .description("move a group's committed offsets of a topic, or all (a dry run unless --execute)")
    .argument('<group>', 'group id')
    .addOption(bootstrapOption())
    .addOption(new Option('--topic <topic>', 'the topic whose offsets move').conflicts('allTopics'))
    .option('--all-topics', 'every topic the group has committed offsets of')
    .option(
      '--partition <n>',
      'only this partition (repeatable; default: every partition of the topic)',
      collectPartition,
    )
    .addOption(
      new Option('--to-earliest', 'the earliest offset still in the log').conflicts(others('toEarliest')),
    )
    .addOption(
      new Option('--to-latest', 'the high watermark: skip everything there now').conflicts(
        others('toLatest'),
      ),
    )
    .addOption(
      new Option(
        '--to-time <time>',
        'the first record at or after an ISO 8601 time or epoch ms (else the end)',
      )
        .argParser(parseTime)
        .conflicts(others('toTime')),
    )
    .addOption(
      new Option('--to-offset <n>', "this offset, moved into the log's range")
        .argParser(parseIntArg(0, Number.MAX_SAFE_INTEGER))
        .conflicts(others('toOffset')),
    )
    .addOption(
      new Option(
        '--shift-by <n>',
        'the committed offset (or the earliest, if none) plus n; n may be negative',
      )
        .argParser(parseIntArg(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))
        .conflicts(others('shiftBy')),
    )
    .option('--execute', 'commit the new offsets (default: print the plan and change nothing)')
    .addOption(formatOption())
    .addHelpText(
      'after',
      `
--topic or --all-topics, and exactly one of --to-earliest, --to-latest, --to-time, --to-offset or
--shift-by. Every new offset
is moved into the partition's range [earliest, high watermark]. The group must have no members:
stop its consumers first. Without --execute nothing changes. --all-topics --execute plans every
topic before it commits any; if a topic fails after that, the offsets committed for the topics
before it are printed and the command exits 1.`,
    )
    .action(async (group: string, flags: ResetFlags) => {
      const to = resetTarget(flags);
      if (flags.topic === undefined && flags.allTopics !== true)
        throw new UsageError('group reset-offsets needs --topic <topic> or --all-topics');
      if (flags.allTopics === true && flags.partition !== undefined)
        throw new UsageError('--partition names partitions of one --topic, not of --all-topics');
      const execute = flags.execute === true;
      let topics: string[] = [];
      const results = await admin(flags.bootstrap, async (a) => {
        topics = flags.topic !== undefined ? [flags.topic] : await committedTopics(a, group);
        return await resetTopics(a, group, topics, {
          ...(flags.partition === undefined ? {} : { partitions: flags.partition }),
          to,
          execute,
        });
      }).catch((err: unknown) => {
        // Print what was committed before the failure, then fail with its reason.
        if (!(err instanceof ResetIncomplete)) throw err;
        printIncomplete(group, err, flags.format);
        throw err.cause;
      });
      const result: ResetOffsetsResult = { offsets: results.flatMap((r) => r.offsets), executed: execute };
      if (flags.format === 'json')
        print(
          JSON.stringify({
            group,
            ...(flags.topic !== undefined ? { topic: flags.topic } : { topics }),
            executed: result.executed,
            offsets: result.offsets,
          }),
        );
      else print(resetText(group, result));
    });
}

/** The topics an --all-topics --execute reset, and the one it failed at, before its error. */
function printIncomplete(group: string, err: ResetIncomplete, format: Format): void {
  const offsets = err.done.flatMap((d) => d.result.offsets);
  const topics = err.done.map((d) => d.topic);
  if (format === 'json') {
    print(
      JSON.stringify({
        group,
        topics,
        executed: true,
        offsets,
        failedTopic: err.failedTopic,
        notReset: err.notReset,
      }),
    );
    return;
  }
  print(resetText(group, { offsets, executed: true }));
  print(
    `then the reset of ${err.failedTopic} failed; not reset: ` + [err.failedTopic, ...err.notReset].join(' '),
  );
}

/** The topics the group has committed offsets of, sorted. */
async function committedTopics(a: Admin, group: string): Promise<string[]> {
  const topics = [...new Set((await a.fetchOffsets(group)).map((o) => o.topic))].sort();
  if (topics.length === 0)
    throw new Error(
      `group ${group} has no committed offsets, so --all-topics has nothing to reset: name --topic`,
    );
  return topics;
}

interface DeleteOffsetsFlags {
  bootstrap: string;
  topic: string;
  partition?: number[];
  format: Format;
}

function deleteOffsetsCommand(): Command {
  return new Command('delete-offsets')
    .description("delete a group's committed offsets of a topic it no longer consumes")
    .argument('<group>', 'group id')
    .addOption(bootstrapOption())
    .requiredOption('--topic <topic>', 'the topic whose committed offsets go')
    .option(
      '--partition <n>',
      'only this partition (repeatable; default: every partition the group committed)',
      collectPartition,
    )
    .addOption(formatOption())
    .addHelpText(
      'after',
      `
As kafka-consumer-groups --delete-offsets: refused (GROUP_SUBSCRIBED_TO_TOPIC) while a member of
the group subscribes to the topic, by name or by pattern. A partition with nothing committed is
not an error.`,
    )
    .action(async (group: string, flags: DeleteOffsetsFlags) => {
      const deleted = await admin(flags.bootstrap, (a) =>
        a.deleteOffsets(group, [
          { topic: flags.topic, ...(flags.partition === undefined ? {} : { partitions: flags.partition }) },
        ]),
      );
      if (flags.format === 'json') print(JSON.stringify({ group, deleted }));
      else if (deleted.length === 0) print(`group ${group} has no committed offsets of ${flags.topic}`);
      else
        print(
          `deleted the committed offsets of group ${group} for ` +
            deleted.map((tp) => `${tp.topic}/${tp.partition}`).join(' '),
        );
    });
}

export function groupCommand(): Command {
  return new Command('group')
    .description('list, describe and delete consumer groups, and reset or delete their offsets')
    .addCommand(listCommand())
    .addCommand(describeCommand())
    .addCommand(deleteCommand())
    .addCommand(deleteOffsetsCommand())
    .addCommand(resetCommand());
}
