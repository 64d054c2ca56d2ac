// `weir topic create|list|describe|alter|reassign|delete`: topic administration through the SDK's Admin.
// Results go to stdout (names, a table, or one JSON document with --format json); nothing else
// does, so the output can be piped.

import { Command, Option } from 'commander';
import { Admin, WeirError, isWeirError, type DeletedRecords, type TopicDescription } from '../index.js';
import {
  UsageError,
  bootstrapOption,
  collect,
  collectKeyValue,
  parseIntArg,
  withConnection,
} from './common.js';
import { print, table } from './table.js';
import { topicOffsetsCommand } from './topic-offsets-command.js';
import { formatBytes } from './units.js';

type Format = 'text' | 'json';

function formatOption(): Option {
  return new Option('--format <format>', 'text or json').choices(['text', 'json']).default('text');
}

function configMap(pairs: readonly [string, string][] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs ?? []) out[k] = v;
  return out;
}

/** Every config in force, sorted, with where its value comes from: the topic or the broker. */
function configRows(t: TopicDescription): string[][] {
  return [
    ['CONFIG', 'VALUE', 'SOURCE'],
    ...Object.keys(t.configs)
      .sort()
      .map((k) => [k, t.configs[k] as string, k in t.overrides ? 'topic' : 'default']),
  ];
}

/** The replicas, and a move in flight as `+adding -removing`. */
function replicasText(p: TopicDescription['partitions'][number]): string {
  const move = [
    ...(p.addingReplicas.length > 0 ? [`+${p.addingReplicas.join(',')}`] : []),
    ...(p.removingReplicas.length > 0 ? [`-${p.removingReplicas.join(',')}`] : []),
  ];
  return move.length === 0 ? p.replicas.join(',') : `${p.replicas.join(',')} (${move.join(' ')})`;
}

function describeText(t: TopicDescription): string {
  const head =
    `Topic: ${t.name}   partitions: ${t.partitions.length}   replication factor: ${t.replicationFactor}` +
    (t.internal ? '   internal' : '');
  const rows = [
    ['PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'LOG-START', 'HIGH-WATERMARK', 'LOG-END', 'SIZE', 'SEGMENTS'],
    ...t.partitions.map((p) => [
      String(p.partition),
      String(p.leader),
      replicasText(p),
      p.isr.join(',') || '-',
      String(p.logStartOffset),
      String(p.highWatermark),
      String(p.logEndOffset),
      formatBytes(p.sizeBytes),
      String(p.segments),
    ]),
  ];
  return [head, '', table(configRows(t)), '', table(rows)].join('\n');
}

function admin<T>(bootstrap: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  return withConnection(bootstrap, (connection) => fn(new Admin({ connection })));
}

interface CreateFlags {
  bootstrap: string;
  partitions: number;
  replicationFactor?: number;
  config?: [string, string][];
  ifNotExists?: boolean;
}

function createCommand(): Command {
  return new Command('create')
    .description('create a topic')
    .argument('<name>', 'topic name')
    .addOption(bootstrapOption())
    .requiredOption('--partitions <n>', 'number of partitions', parseIntArg(1, 0x7fffffff))
    .option(
      '--replication-factor <r>',
      "replicas per partition (default: the broker's)",
      parseIntArg(1, 0x7fff),
    )
    .option(
      '--config <key=value>',
      'a topic config such as retention.ms=3600000 (repeatable)',
      collectKeyValue,
    )
    .option('--if-not-exists', 'succeed without change when the topic exists')
    .action(async (name: string, flags: CreateFlags) => {
      await admin(flags.bootstrap, async (a) => {
        try {
          const created = await a.createTopic(name, {
            partitions: flags.partitions,
            ...(flags.replicationFactor === undefined ? {} : { replicationFactor: flags.replicationFactor }),
            configs: configMap(flags.config),
          });
          print(`created topic ${created.name} with ${created.partitions.length} partitions`);
        } catch (err) {
          if (flags.ifNotExists === true && isWeirError(err, 'TOPIC_ALREADY_EXISTS')) {
            print(`topic ${name} exists`);
            return;
          }
          if (isWeirError(err, 'TOPIC_ALREADY_EXISTS')) err.message += ' (--if-not-exists accepts that)';
          throw err;
        }
      });
    });
}

function listCommand(): Command {
  return new Command('list')
    .description('list topics, one name per line')
    .addOption(bootstrapOption())
    .addOption(formatOption())
    .option('--internal', 'include internal topics')
    .action(async (flags: { bootstrap: string; format: Format; internal?: boolean }) => {
      const topics = await admin(flags.bootstrap, (a) =>
        a.listTopics({ includeInternal: flags.internal === true }),
      );
      topics.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      if (flags.format === 'json') print(JSON.stringify(topics));
      else for (const t of topics) print(t.name);
    });
}

function describeCommand(): Command {
  return new Command('describe')
    .description('show partitions, offsets, sizes and every config of a topic with its source')
    .argument('<name>', 'topic name')
    .addOption(bootstrapOption())
    .addOption(formatOption())
    .action(async (name: string, flags: { bootstrap: string; format: Format }) => {
      const topic = await admin(flags.bootstrap, (a) => a.describeTopic(name));
      print(flags.format === 'json' ? JSON.stringify(topic) : describeText(topic));
    });
}

interface DeleteRecordsFlags {
  bootstrap: string;
  partition?: number[];
  offset: number;
  format: Format;
}

function collectPartition(raw: string, previous: number[] | undefined): number[] {
  return [...(previous ?? []), parseIntArg(0, 0x7fffffff)(raw)];
}

function deleteRecordsCommand(): Command {
  return new Command('delete-records')
    .description('delete the records of partitions before an offset (raise their log start offset)')
    .argument('<name>', 'topic name')
    .addOption(bootstrapOption())
    .requiredOption(
      '--offset <n>',
      'the new log start offset; -1 = the high watermark (delete everything)',
      parseIntArg(-1, Number.MAX_SAFE_INTEGER),
    )
    .option('--partition <n>', 'only this partition (repeatable; default: every partition)', collectPartition)
    .addOption(formatOption())
    .addHelpText(
      'after',
      `
As kafka-delete-records: records below the offset can no longer be read (a fetch there gets
OFFSET_OUT_OF_RANGE), and segments wholly below it are deleted. The offset must be at most the
partition's high watermark. Prints a row for every partition: its log start offset now (its low
watermark), or the error that refused it. Partitions are deleted or refused one by one; if any
was refused, the others are still deleted, each refusal is also written to stderr, and the exit
code is 1.`,
    )
    .action(async (name: string, flags: DeleteRecordsFlags) => {
      const deleted = await admin(flags.bootstrap, async (a) => {
        const partitions =
          flags.partition ?? (await a.describeTopic(name)).partitions.map((p) => p.partition);
        return await a.deleteRecords(
          [...new Set(partitions)]
            .sort((x, y) => x - y)
            .map((partition) => ({ topic: name, partition, offset: flags.offset })),
        );
      });
      if (flags.format === 'json')
        print(
          JSON.stringify(
            deleted.map((d) => ({
              topic: d.topic,
              partition: d.partition,
              lowWatermark: d.lowWatermark,
              error: d.error === null ? null : { code: d.error.code, message: d.error.message },
            })),
          ),
        );
      else
        print(
          table([
            ['PARTITION', 'LOW-WATERMARK', 'ERROR'],
            ...deleted.map((d) => [
              String(d.partition),
              d.error === null ? String(d.lowWatermark) : '-',
              d.error?.code ?? '-',
            ]),
          ]),
        );
      const failed = deleted.filter((d) => d.error !== null);
      if (failed.length > 0) throw refusals(failed, deleted.length);
    });
}

/** One line for the partitions a delete-records refused: the error itself when there is one. */
function refusals(failed: readonly DeletedRecords[], asked: number): Error {
  const first = failed[0] as DeletedRecords & { error: WeirError };
  if (failed.length === 1 && asked === 1) return first.error;
  const each = failed.map((d) => `partition ${d.partition}: ${d.error?.message ?? ''}`).join('; ');
  return new Error(`records of ${failed.length} of ${asked} partitions were not deleted: ${each}`);
}

function deleteCommand(): Command {
  return new Command('delete')
    .description('delete a topic and its data')
    .argument('<name>', 'topic name')
    .addOption(bootstrapOption())
    .option('--if-exists', 'succeed when there is no such topic')
    .action(async (name: string, flags: { bootstrap: string; ifExists?: boolean }) => {
      await admin(flags.bootstrap, async (a) => {
        try {
          await a.deleteTopic(name);
          print(`deleted topic ${name}`);
        } catch (err) {
          if (flags.ifExists === true && isWeirError(err, 'UNKNOWN_TOPIC_OR_PARTITION')) {
            print(`no topic ${name}`);
            return;
          }
          throw err;
        }
      });
    });
}

interface AlterFlags {
  bootstrap: string;
  config?: [string, string][];
  deleteConfig?: string[];
  partitions?: number;
}

function alterCommand(): Command {
  return new Command('alter')
    .description('change topic configs, or add partitions')
    .argument('<name>', 'topic name')
    .addOption(bootstrapOption())
    .option('--config <key=value>', 'set a topic config (repeatable)', collectKeyValue)
    .option('--delete-config <key>', "put a config back to the broker's default (repeatable)", collect)
    .option('--partitions <n>', 'raise the partition count to n (the new total)', parseIntArg(1, 0x7fffffff))
    .action(async (name: string, flags: AlterFlags) => {
      const set = configMap(flags.config);
      const remove = flags.deleteConfig ?? [];
      const hasConfig = Object.keys(set).length > 0 || remove.length > 0;
      if (!hasConfig && flags.partitions === undefined) {
        throw new UsageError('topic alter needs --config, --delete-config or --partitions');
      }
      await admin(flags.bootstrap, async (a) => {
        const changes: string[] = [];
        if (hasConfig) {
          await a.alterTopicConfig(name, { set, delete: remove });
          changes.push(...Object.entries(set).map(([k, v]) => `${k}=${v}`), ...remove.map((k) => `-${k}`));
        }
        if (flags.partitions !== undefined) {
          const altered = await a.createPartitions(name, flags.partitions);
          changes.push(`partitions=${altered.partitions.length}`);
        }
        print(`altered topic ${name}: ${changes.join(' ')}`);
      });
    });
}

interface ReassignFlags {
  bootstrap: string;
  move: string[];
  wait: boolean;
  waitTimeout: number;
}

/** `P=R1,R2,...`: a partition and its target replicas. */
function parseMove(text: string): { partition: number; replicas: number[] } {
  const m = /^(\d+)=(\d+(?:,\d+)*)$/.exec(text.trim());
  if (m === null)
    throw new UsageError(`--move takes PARTITION=BROKER,BROKER,... (e.g. 0=2,3,1), got '${text}'`);
  return { partition: Number(m[1]), replicas: m[2]!.split(',').map(Number) };
}

function reassignCommand(): Command {
  return new Command('reassign')
    .description('move partitions to other brokers: new replicas join and catch up, then the old ones leave')
    .argument('<name>', 'topic name')
    .addOption(bootstrapOption())
    .requiredOption(
      '--move <partition=brokers>',
      'a partition and its target replicas, the preferred leader first, e.g. 0=2,3,1 (repeatable)',
      collect,
    )
    .option('--wait', 'wait until every move is done', false)
    .option('--wait-timeout <seconds>', 'give up waiting after this long', parseIntArg(1, 86_400), 300)
    .action(async (name: string, flags: ReassignFlags) => {
      const moves = flags.move.map(parseMove);
      await admin(flags.bootstrap, async (a) => {
        await a.reassignPartitions(name, moves);
        print(
          `reassigning ${name}: ${moves.map((m) => `${m.partition} -> ${m.replicas.join(',')}`).join('; ')}`,
        );
        if (!flags.wait) return;
        const deadline = Date.now() + flags.waitTimeout * 1000;
        const moved = new Set(moves.map((m) => m.partition));
        for (;;) {
          const t = await a.describeTopic(name);
          const left = t.partitions.filter(
            (p) => moved.has(p.partition) && (p.addingReplicas.length > 0 || p.removingReplicas.length > 0),
          );
          if (left.length === 0) break;
          if (Date.now() >= deadline)
            throw new WeirError(
              'REQUEST_TIMED_OUT',
              `partitions ${left.map((p) => p.partition).join(', ')} of ${name} are still moving after ${flags.waitTimeout} s`,
            );
          await new Promise((r) => setTimeout(r, 500));
        }
        print(`reassigned ${name}`);
      });
    });
}

export function topicCommand(): Command {
  return new Command('topic')
    .description('create, list, describe, alter, reassign and delete topics')
    .addCommand(createCommand())
    .addCommand(listCommand())
    .addCommand(topicOffsetsCommand())
    .addCommand(describeCommand())
    .addCommand(deleteRecordsCommand())
    .addCommand(alterCommand())
    .addCommand(reassignCommand())
    .addCommand(deleteCommand());
}
