// `weir consume TOPIC`: prints a topic's records, one per line (formats in record-format.ts).
//
// The start is the end of the log unless --from-beginning, --offset, --from-time or --since says
// otherwise (Kafka's console consumer does the same). Without --follow the command reads each
// partition up to its high watermark at start (start-positions.ts) and exits 0; with --follow it
// tails until SIGINT or SIGTERM, then exits 0. --max-messages counts printed records, so it counts
// after the --key and --header filters.
//
// With --group the command is a member of a consumer group instead (group-consume.ts): the group
// says which partitions it reads and where each starts, so --offset, --from-time, --since and
// --partition do not apply; --from-beginning applies to partitions the group has not committed.
//
// The SDK consumer retries retriable fetch failures without telling its caller, so a broker that
// goes away mid-read would leave a bounded read waiting for ever; a watchdog fails it instead when
// nothing arrives for --timeout-ms while partitions are still short of their end.

import { Command, Option } from 'commander';
import { Admin, Consumer, type Connection } from '../index.js';
import { UsageError, bootstrapOption, collect, onStopSignal, parseIntArg, withConnection } from './common.js';
import { readAsGroup } from './group-consume.js';
import { Output } from './output.js';
import { RECORD_FORMATS, RecordFilter, formatRecord, type RecordFormat } from './record-format.js';
import { resolveRanges, type PartitionRange, type StartSpec } from './start-positions.js';
import { parseDuration, parseTime } from './units.js';

interface ConsumeFlags {
  bootstrap: string;
  fromBeginning?: boolean;
  offset?: number;
  fromTime?: number;
  since?: number;
  follow?: boolean;
  partition?: number;
  group?: string;
  maxMessages?: number;
  key?: string;
  header?: string[];
  format: RecordFormat;
  timeoutMs: number;
}

function startSpec(flags: ConsumeFlags, now: number): StartSpec {
  if (flags.fromBeginning === true) return { kind: 'earliest' };
  if (flags.offset !== undefined) return { kind: 'offset', offset: flags.offset };
  if (flags.fromTime !== undefined) return { kind: 'time', timestamp: flags.fromTime };
  if (flags.since !== undefined) return { kind: 'time', timestamp: Math.max(0, now - flags.since) };
  return { kind: 'latest' };
}

async function partitionsOf(admin: Admin, topic: string, only: number | undefined): Promise<number[]> {
  const count = (await admin.describeTopic(topic)).partitions.length;
  if (only === undefined) return Array.from({ length: count }, (_, p) => p);
  if (only >= count) {
    throw new UsageError(`--partition ${only}: ${topic} has ${count} partitions (0-${count - 1})`);
  }
  return [only];
}

/** Reads and prints; resolves when done, stopped, or the output is gone. */
async function read(
  connection: Connection,
  topic: string,
  ranges: readonly PartitionRange[],
  flags: ConsumeFlags,
  output: Output,
): Promise<void> {
  const follow = flags.follow === true;
  const filter = new RecordFilter(flags.key, flags.header ?? []);
  const max = flags.maxMessages ?? Infinity;
  const consumer = new Consumer({ connection, autoOffsetReset: 'earliest' });
  consumer.assign(ranges.map((r) => ({ topic, partition: r.partition })));
  for (const r of ranges) consumer.seek({ topic, partition: r.partition }, r.start);
  const ends = new Map(ranges.map((r) => [r.partition, follow ? Infinity : r.end]));
  let open = ranges.length;
  let printed = 0;
  let failure: Error | null = null;
  let lastProgress = Date.now();
  let writing = false;
  const stop = (): void => void consumer.close();
  const signals = onStopSignal(stop);
  output.whenClosed(stop);
  const watchdog = follow
    ? null
    : setInterval(() => {
        if (writing || Date.now() - lastProgress < flags.timeoutMs) return;
        failure = new Error(
          `no records from the broker in ${flags.timeoutMs} ms with ${open} partition(s) ` +
            'not yet read to their high watermark: is the broker still up?',
        );
        stop();
      }, 250);
  try {
    outer: for await (const batch of consumer.batches()) {
      lastProgress = Date.now();
      const end = ends.get(batch.partition)!;
      const records = batch.records;
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        if (r.offset >= end) break;
        if (!filter.matches(r)) continue;
        formatRecord(flags.format, r, output);
        if (++printed >= max) break outer;
      }
      if (records[records.length - 1]!.offset + 1 >= end && ends.get(batch.partition) !== -1) {
        // Done: its later records are skipped. Not paused, because with every partition paused the
        // SDK's Consumer.close() can miss its wake-up (Fetcher.idle) and hang; a long-poll is cheap.
        ends.set(batch.partition, -1);
        if (--open === 0) break;
      }
      // One write per fetched chunk: large when reading a backlog, immediate when tailing.
      writing = true;
      await output.flush();
      writing = false;
      lastProgress = Date.now();
    }
  } finally {
    if (watchdog !== null) clearInterval(watchdog);
    signals.dispose();
    await consumer.close();
    await output.flush();
  }
  if (failure !== null) throw failure;
}

/** Start options that a group member cannot take: the group's committed offsets say where to start. */
function checkGroupFlags(flags: ConsumeFlags): void {
  const given = (
    [
      ['--offset', flags.offset],
      ['--from-time', flags.fromTime],
      ['--since', flags.since],
      ['--partition', flags.partition],
    ] as const
  ).find(([, value]) => value !== undefined);
  if (given === undefined) return;
  const what =
    given[0] === '--partition' ? 'the group assigns the partitions' : 'a group starts where it committed';
  throw new UsageError(
    `${given[0]} cannot be used with --group: ${what} (move its offsets with weir group reset-offsets)`,
  );
}

/** As a member of the group: the high watermarks at start bound the read without --follow. */
async function consumeAsGroup(topic: string, group: string, flags: ConsumeFlags): Promise<void> {
  checkGroupFlags(flags);
  const output = new Output();
  await withConnection(flags.bootstrap, async (connection) => {
    const admin = new Admin({ connection });
    const partitions = await partitionsOf(admin, topic, undefined);
    const tps = partitions.map((partition) => ({ topic, partition }));
    const ends = new Map<number, number>();
    if (flags.follow !== true)
      for (const o of await admin.listOffsets(tps, 'latest')) ends.set(o.partition, o.offset);
    await readAsGroup(connection, topic, ends, { ...flags, group }, output);
  });
  if (output.error !== null) throw new Error(`cannot write output: ${output.error.message}`);
}

async function consume(topic: string, flags: ConsumeFlags): Promise<void> {
  if (flags.group !== undefined) return consumeAsGroup(topic, flags.group, flags);
  const spec = startSpec(flags, Date.now());
  const output = new Output();
  await withConnection(flags.bootstrap, async (connection) => {
    const admin = new Admin({ connection });
    const partitions = await partitionsOf(admin, topic, flags.partition);
    const ranges = await resolveRanges(admin, topic, partitions, spec);
    const toRead = flags.follow === true ? ranges : ranges.filter((r) => r.start < r.end);
    if (toRead.length === 0) {
      if (spec.kind === 'latest' && process.stderr.isTTY === true) {
        process.stderr.write(
          'nothing new: reading starts at the end of the log; use --from-beginning, --offset, ' +
            '--from-time or --since to read older records, or -f to wait for new ones\n',
        );
      }
      return;
    }
    await read(connection, topic, toRead, flags, output);
  });
  if (output.error !== null) throw new Error(`cannot write output: ${output.error.message}`);
}

export function consumeCommand(): Command {
  // Commander's attribute names: conflicts() compares those, not the flags.
  const starts = ['fromBeginning', 'offset', 'fromTime', 'since'];
  const others = (name: string): string[] => starts.filter((s) => s !== name);
  return new Command('consume')
    .description("print a topic's records, one per line")
    .argument('<topic>', 'topic to read')
    .addOption(bootstrapOption())
    .addOption(
      new Option('--from-beginning', 'start at the earliest record (default: the end)').conflicts(
        others('fromBeginning'),
      ),
    )
    .addOption(
      new Option('--offset <n>', 'start at this offset in each partition read')
        .argParser(parseIntArg(0, Number.MAX_SAFE_INTEGER))
        .conflicts(others('offset')),
    )
    .addOption(
      new Option('--from-time <time>', 'start at the first record at or after an ISO 8601 time or epoch ms')
        .argParser(parseTime)
        .conflicts(others('fromTime')),
    )
    .addOption(
      new Option('--since <duration>', 'start this long ago: 30s, 15m, 2h, 7d')
        .argParser(parseDuration)
        .conflicts(others('since')),
    )
    .option('-f, --follow', 'keep waiting for new records until SIGINT or SIGTERM')
    .option('--partition <n>', 'read only this partition', parseIntArg(0, 0x7fffffff))
    .option('--group <group>', 'consume as a member of this consumer group, committing as it goes')
    .option('--max-messages <n>', 'exit after printing n records', parseIntArg(1, Number.MAX_SAFE_INTEGER))
    .option('--key <key>', 'print only records with this key')
    .option(
      '--header <key=value>',
      'print only records with this header (or key alone: present) (repeatable)',
      collect,
    )
    .addOption(
      new Option('--format <format>', 'value, kv (key TAB value) or json (one object per line)')
        .choices(RECORD_FORMATS)
        .default('value'),
    )
    .option(
      '--timeout-ms <ms>',
      'without --follow, fail when no records arrive for this long',
      parseIntArg(1, 2 ** 31 - 1),
      30_000,
    )
    .addHelpText(
      'after',
      `
Output, one record per line:
  value  the value's bytes as they are; a null value (tombstone) prints as null
  kv     key, TAB, value (null for a missing key or value)
  json   {"topic","partition","offset","timestamp","key","value","headers"}: timestamp in ms since
         the epoch; key, value and header values are strings if valid UTF-8, else {"base64": "..."},
         or null; headers a list of {"key","value"} in record order

Without --follow, reading stops at each partition's high watermark as it was at start; the default
start is the end of the log, so add --from-beginning, --offset, --from-time or --since to read what
is there. --offset applies to every partition read and is moved into [earliest, high watermark].

With --group G the command joins consumer group G and reads the partitions the group assigns it,
each from the group's committed offset; a partition with none starts at the end, or at the
earliest record with --from-beginning. It commits what it has printed (every 5 s, when the group
moves a partition to another member, and at the end) and leaves the group when it exits, on
--max-messages, SIGINT or SIGTERM. Without --follow it exits once it has read every partition it
holds up to the high watermark read at start and the group is stable (records that arrive
meanwhile are printed too); a member given no partitions exits at once. --offset, --from-time,
--since and --partition do not apply (use weir group reset-offsets).
Exit codes: 0 done (also on SIGINT/SIGTERM), 1 failed, 2 usage error.`,
    )
    .action((topic: string, flags: ConsumeFlags) => consume(topic, flags));
}
