// `weir consume TOPIC...`: prints the records of one or more topics (or of those matching
// --pattern, topic-selection.ts), one per line (formats in record-format.ts, templates in
// record-template.ts).
//
// The start is the end of the log unless --from-beginning, --offset, --from-time or --since says
// otherwise (Kafka's console consumer does the same). Without --follow the command reads each
// partition up to its high watermark at start (start-positions.ts) and exits 0; with --follow it
// tails until SIGINT or SIGTERM, then exits 0. --until sets an end point per partition (an offset
// or a time); the command exits once every partition has reached its own, with --follow too.
// --count (or --max-messages) counts printed records, so it counts after the --key and --header
// filters.
//
// With --group the command is a member of a consumer group instead (group-consume.ts): the group
// says which partitions it reads and where each starts, so --offset, --from-time, --since and
// --partition do not apply; --from-beginning applies to partitions the group has not committed.
// A group member reads one topic, to the high watermark at start or with --follow (no --until).
//
// The SDK consumer retries retriable fetch failures without telling its caller, so a broker that
// goes away mid-read would leave a bounded read waiting for ever; a watchdog fails it instead when
// nothing arrives for --timeout-ms while partitions are still short of their end.

import { Command, InvalidArgumentError, Option } from 'commander';
import { Admin, Consumer, type Connection } from '../index.js';
import { UsageError, bootstrapOption, collect, onStopSignal, parseIntArg, withConnection } from './common.js';
import { readAsGroup } from './group-consume.js';
import { Output } from './output.js';
import { RecordFilter, formatRecord, parseRecordFormat, type RecordFormat } from './record-format.js';
import { RecordTemplate } from './record-template.js';
import { resolveRanges, type PartitionRange, type StartSpec, type UntilSpec } from './start-positions.js';
import { selectPartitions } from './topic-selection.js';
import { parseDuration, parseTime } from './units.js';

interface ConsumeFlags {
  bootstrap: string;
  pattern?: string;
  fromBeginning?: boolean;
  offset?: StartSpec;
  fromTime?: number;
  since?: number;
  until?: UntilSpec;
  follow?: boolean;
  partition?: number;
  group?: string;
  count?: number;
  maxMessages?: number;
  key?: string;
  header?: string[];
  format?: RecordFormat;
  timeoutMs: number;
}

/** The default format when several topics (or a pattern) are read: the topic, a TAB, the value. */
const TOPIC_VALUE_FORMAT = '%t\\t%s\\n';

/** --offset: N from the start of the log, or -N: N records before the high watermark. */
function parseOffset(raw: string): StartSpec {
  const text = raw.trim();
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`expected an offset (N) or a count back from the end (-N), got '${raw}'`);
  }
  return text.startsWith('-') ? { kind: 'fromEnd', count: -n } : { kind: 'offset', offset: n };
}

/** --until: an offset (digits), or a time (ISO 8601, or epoch ms written @MS). */
function parseUntil(raw: string): UntilSpec {
  const text = raw.trim();
  if (/^\d+$/.test(text)) {
    const offset = Number(text);
    if (Number.isSafeInteger(offset)) return { kind: 'offset', offset };
  }
  if (/^@\d+$/.test(text)) return { kind: 'time', timestamp: parseTime(text.slice(1)) };
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) return { kind: 'time', timestamp: parseTime(text) };
  throw new InvalidArgumentError(
    `expected an offset (1000), an ISO 8601 time (2026-11-22T10:00:00Z) or epoch ms (@1763805600000), got '${raw}'`,
  );
}

function startSpec(flags: ConsumeFlags, now: number): StartSpec {
  if (flags.fromBeginning === true) return { kind: 'earliest' };
  if (flags.offset !== undefined) return flags.offset;
  if (flags.fromTime !== undefined) return { kind: 'time', timestamp: flags.fromTime };
  if (flags.since !== undefined) return { kind: 'time', timestamp: Math.max(0, now - flags.since) };
  return { kind: 'latest' };
}

function keyOf(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}

/** Reads and prints; resolves when done, stopped, or the output is gone. */
async function read(
  connection: Connection,
  ranges: readonly PartitionRange[],
  flags: ConsumeFlags,
  format: RecordFormat,
  output: Output,
): Promise<void> {
  const follow = flags.follow === true;
  const filter = new RecordFilter(flags.key, flags.header ?? []);
  const max = flags.count ?? flags.maxMessages ?? Infinity;
  const untilTime = flags.until?.kind === 'time' ? flags.until.timestamp : Infinity;
  const consumer = new Consumer({ connection, autoOffsetReset: 'earliest' });
  consumer.assign(ranges.map((r) => ({ topic: r.topic, partition: r.partition })));
  for (const r of ranges) consumer.seek({ topic: r.topic, partition: r.partition }, r.start);
  // Each partition's end (exclusive), -1 once it is done.
  const ends = new Map(ranges.map((r) => [keyOf(r.topic, r.partition), r.end]));
  let open = ranges.length;
  let printed = 0;
  let failure: Error | null = null;
  let lastProgress = Date.now();
  let writing = false;
  const stop = (): void => void consumer.close();
  const signals = onStopSignal(stop);
  output.whenClosed(stop);
  // A partition whose log ends with a control batch (a new leader's no-op) yields no record at its
  // end: it is done once the consumer's position, which passes control batches, reaches the end.
  const passedEnds = (): void => {
    for (const r of ranges) {
      const key = keyOf(r.topic, r.partition);
      const end = ends.get(key)!;
      if (end === -1 || (consumer.position({ topic: r.topic, partition: r.partition }) ?? -1) < end) continue;
      ends.set(key, -1);
      if (--open === 0) stop();
    }
  };
  const watchdog = follow
    ? null
    : setInterval(() => {
        if (!writing) passedEnds();
        if (open === 0 || writing || Date.now() - lastProgress < flags.timeoutMs) return;
        failure = new Error(
          `no records from the broker in ${flags.timeoutMs} ms with ${open} partition(s) ` +
            'not yet read to their end: is the broker still up?',
        );
        stop();
      }, 250);
  try {
    outer: for await (const batch of consumer.batches()) {
      lastProgress = Date.now();
      const key = keyOf(batch.topic, batch.partition);
      const end = ends.get(key)!;
      // Done: its later records are skipped. Not paused, because with every partition paused the
      // SDK's Consumer.close() can miss its wake-up (Fetcher.idle) and hang; a long-poll is cheap.
      if (end === -1) continue;
      const records = batch.records;
      let reached = records[records.length - 1]!.offset + 1 >= end;
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        if (r.offset >= end || r.timestamp >= untilTime) {
          reached = true;
          break;
        }
        if (!filter.matches(r)) continue;
        formatRecord(format, r, output);
        if (++printed >= max) break outer;
      }
      if (reached) {
        ends.set(key, -1);
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

/** Options that a group member cannot take. */
function checkGroupFlags(topics: readonly string[], flags: ConsumeFlags): void {
  if (flags.pattern !== undefined || topics.length !== 1) {
    throw new UsageError(
      `${flags.pattern === undefined ? 'several topics' : '--pattern'} cannot be used with --group: ` +
        'a group member reads one topic',
    );
  }
  const given = (
    [
      ['--offset', flags.offset],
      ['--from-time', flags.fromTime],
      ['--since', flags.since],
      ['--partition', flags.partition],
      ['--until', flags.until],
    ] as const
  ).find(([, value]) => value !== undefined);
  if (given === undefined) return;
  if (given[0] === '--until') {
    throw new UsageError('--until cannot be used with --group: a group member reads to the high watermark');
  }
  const what =
    given[0] === '--partition' ? 'the group assigns the partitions' : 'a group starts where it committed';
  throw new UsageError(
    `${given[0]} cannot be used with --group: ${what} (move its offsets with weir group reset-offsets)`,
  );
}

/** As a member of the group: the high watermarks at start bound the read without --follow. */
async function consumeAsGroup(
  topic: string,
  group: string,
  flags: ConsumeFlags,
  format: RecordFormat,
): Promise<void> {
  const output = new Output();
  await withConnection(flags.bootstrap, async (connection) => {
    const admin = new Admin({ connection });
    const tps = await selectPartitions(admin, [topic], undefined, undefined);
    const ends = new Map<number, number>();
    if (flags.follow !== true)
      for (const o of await admin.listOffsets(tps, 'latest')) ends.set(o.partition, o.offset);
    const maxMessages = flags.count ?? flags.maxMessages;
    await readAsGroup(
      connection,
      topic,
      ends,
      { ...flags, group, format, ...(maxMessages === undefined ? {} : { maxMessages }) },
      output,
    );
  });
  if (output.error !== null) throw new Error(`cannot write output: ${output.error.message}`);
}

async function consume(topics: string[], flags: ConsumeFlags): Promise<void> {
  if (topics.length === 0 && flags.pattern === undefined) {
    throw new UsageError('name a topic to read (or several), or give --pattern');
  }
  if (topics.length > 0 && flags.pattern !== undefined) {
    throw new UsageError('give topics or --pattern, not both');
  }
  const several = flags.pattern !== undefined || new Set(topics).size > 1;
  const format = flags.format ?? (several ? RecordTemplate.parse(TOPIC_VALUE_FORMAT) : 'value');
  if (flags.group !== undefined) {
    checkGroupFlags(topics, flags);
    return consumeAsGroup(topics[0]!, flags.group, flags, format);
  }
  const spec = startSpec(flags, Date.now());
  const follow = flags.follow === true;
  const output = new Output();
  await withConnection(flags.bootstrap, async (connection) => {
    const admin = new Admin({ connection });
    const tps = await selectPartitions(admin, topics, flags.pattern, flags.partition);
    const ranges = await resolveRanges(admin, tps, spec, flags.until ?? null, follow);
    const toRead = ranges.filter((r) => r.start < r.end);
    if (toRead.length === 0) {
      if (spec.kind === 'latest' && flags.until === undefined && process.stderr.isTTY === true) {
        process.stderr.write(
          'nothing new: reading starts at the end of the log; use --from-beginning, --offset, ' +
            '--from-time or --since to read older records, or -f to wait for new ones\n',
        );
      }
      return;
    }
    await read(connection, toRead, flags, format, output);
  });
  if (output.error !== null) throw new Error(`cannot write output: ${output.error.message}`);
}

export function consumeCommand(): Command {
  // Commander's attribute names: conflicts() compares those, not the flags.
  const starts = ['fromBeginning', 'offset', 'fromTime', 'since'];
  const others = (name: string): string[] => starts.filter((s) => s !== name);
  const count = parseIntArg(1, Number.MAX_SAFE_INTEGER);
  return new Command('consume')
    .description('print the records of one or more topics, one per line')
    .argument('[topics...]', 'topics to read')
    .addOption(bootstrapOption())
    .option('--pattern <regex>', 'read every topic whose whole name matches this RE2 expression')
    .addOption(
      new Option('--from-beginning', 'start at the earliest record (default: the end)').conflicts(
        others('fromBeginning'),
      ),
    )
    .addOption(
      new Option('--offset <n>', 'start at this offset in each partition read; -N: N records before the end')
        .argParser(parseOffset)
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
    .option(
      '--until <offset|time>',
      'stop each partition before this offset, or at its first record at or after an ISO 8601 time or @epoch-ms',
      parseUntil,
    )
    .option('-f, --follow', 'keep waiting for new records until SIGINT or SIGTERM (or --until)')
    .option('--partition <n>', 'read only this partition (of each topic)', parseIntArg(0, 0x7fffffff))
    .option('--group <group>', 'consume as a member of this consumer group, committing as it goes')
    .addOption(
      new Option('-c, --count <n>', 'exit after printing n records')
        .argParser(count)
        .conflicts('maxMessages'),
    )
    .option('--max-messages <n>', 'the same as --count', count)
    .option('--key <key>', 'print only records with this key')
    .option(
      '--header <key=value>',
      'print only records with this header (or key alone: present) (repeatable)',
      collect,
    )
    .option(
      '--format <format>',
      "value, kv, json, or a template such as '%p %o %k %s\\n' (default: value; %t\\t%s\\n for several topics)",
      parseRecordFormat,
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
A --format with % in it is a template, printed as written (end it with \\n for lines):
  %t topic  %p partition  %o offset  %k key  %s value  %K/%S key/value length in bytes (-1: null)
  %T timestamp (ms since the epoch)  %I timestamp (ISO 8601, UTC)  %h headers (k1=v1,k2=v2)  %% %
  escapes \\n \\t \\r \\\\; a null key or value prints nothing
Reading several topics (or --pattern) without --format prints topic TAB value (%t\\t%s\\n).

Without --follow, reading stops at each partition's high watermark as it was at start; the default
start is the end of the log, so add --from-beginning, --offset, --from-time or --since to read what
is there. --offset applies to every partition read and is moved into [earliest, high watermark];
--offset -N starts N records before the high watermark (at the earliest if there are fewer).
--until N stops each partition once it reaches offset N (N is not printed); --until TIME (ISO 8601,
or epoch ms as @MS) stops it at its first record at or after TIME (not printed). The command exits
once every partition reached its end, with --follow too.
--pattern matches whole topic names (orders-.* matches orders-eu, not old-orders-eu), listed once at
start; internal topics are left out.

With --group G the command joins consumer group G and reads the partitions the group assigns it,
each from the group's committed offset; a partition with none starts at the end, or at the
earliest record with --from-beginning. It commits what it has printed (every 5 s, when the group
moves a partition to another member, and at the end) and leaves the group when it exits, on
--count, SIGINT or SIGTERM. Without --follow it exits once it has read every partition it
holds up to the high watermark read at start and the group is stable (records that arrive
meanwhile are printed too); a member given no partitions exits at once. A group member reads one
topic; --offset, --from-time, --since, --until and --partition do not apply (use weir group
reset-offsets).
Exit codes: 0 done (also on SIGINT/SIGTERM), 1 failed, 2 usage error.`,
    )
    .action((topics: string[], flags: ConsumeFlags) => consume(topics, flags));
}
