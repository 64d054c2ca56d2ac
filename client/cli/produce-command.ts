// `weir produce TOPIC`: one record per input line, from stdin or --file, through the SDK Producer.
//
// Lines stay bytes end to end (line-splitter.ts): a value is exactly its line. Every chunk read
// becomes one send() of all the lines it completed, without waiting for the answer, so a file
// streams at the producer's pace while a person typing at a terminal sees each line sent at once.
// At most MAX_CALLS_IN_FLIGHT calls are unanswered before reading pauses, which bounds memory.
// The first failure stops reading; what was read is still flushed, and the command fails with that
// one reason. SIGINT or SIGTERM ends the input early the same way, and exits 0.

import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Command, Option } from 'commander';
import {
  Admin,
  Producer,
  type AcksOption,
  type Connection,
  type Message,
  type ProducerHeader,
  type RecordMetadata,
} from '../index.js';
import {
  UsageError,
  bootstrapOption,
  collectKeyValue,
  onStopSignal,
  parseIntArg,
  withConnection,
} from './common.js';
import { LineSplitter } from './line-splitter.js';
import { ProgressLine } from './progress.js';
import { grouped } from './units.js';

const MAX_CALLS_IN_FLIGHT = 16;
const READ_CHUNK_BYTES = 1024 * 1024;

interface ProduceFlags {
  bootstrap: string;
  keySeparator?: string;
  header?: [string, string][];
  partition?: number;
  acks: AcksOption;
  file?: string;
  timeoutMs: number;
}

/** Counts acknowledged records and the offset range each partition got. */
class SendSummary {
  records = 0;
  private readonly ranges = new Map<number, { first: number; last: number }>();

  add(results: readonly RecordMetadata[]): void {
    this.records += results.length;
    for (const r of results) {
      if (r.offset < 0) continue; // acks none: nothing reported
      const range = this.ranges.get(r.partition);
      if (range === undefined) this.ranges.set(r.partition, { first: r.offset, last: r.offset });
      else {
        range.first = Math.min(range.first, r.offset);
        range.last = Math.max(range.last, r.offset);
      }
    }
  }

  describe(topic: string): string {
    const head = `sent ${grouped(this.records)} record${this.records === 1 ? '' : 's'} to ${topic}`;
    if (this.records === 0) return head;
    if (this.ranges.size === 0) return `${head} (acks none: offsets not reported)`;
    const parts = [...this.ranges]
      .sort((a, b) => a[0] - b[0])
      .map(([p, r]) => `${p}:${r.first === r.last ? r.first : `${r.first}-${r.last}`}`);
    return `${head} (partition:offsets ${parts.join(' ')})`;
  }
}

/** Turns lines into messages; with a key separator, a line without one is an error. */
class LineParser {
  private readonly separator: Buffer | null;
  private readonly headers: ProducerHeader[] | undefined;
  private readonly partition: number | undefined;
  line = 0;

  constructor(flags: ProduceFlags) {
    if (flags.keySeparator === '') throw new UsageError('--key-separator must not be empty');
    this.separator = flags.keySeparator === undefined ? null : Buffer.from(flags.keySeparator, 'utf8');
    const headers = flags.header ?? [];
    this.headers =
      headers.length === 0 ? undefined : headers.map(([key, v]) => ({ key, value: Buffer.from(v, 'utf8') }));
    this.partition = flags.partition;
  }

  /** Parses up to the first bad line; returns its error, or null. */
  parse(lines: readonly Buffer[], out: Message[]): Error | null {
    for (const line of lines) {
      this.line++;
      const message: Message = { value: line };
      if (this.separator !== null) {
        const at = line.indexOf(this.separator);
        if (at < 0) {
          return new Error(
            `line ${this.line} has no key separator '${this.separator.toString()}' ` +
              '(the lines before it were sent)',
          );
        }
        message.key = line.subarray(0, at);
        message.value = line.subarray(at + this.separator.length);
      }
      if (this.headers !== undefined) message.headers = this.headers;
      if (this.partition !== undefined) message.partition = this.partition;
      out.push(message);
    }
    return null;
  }
}

/** Fails early, with the broker's words, for a topic or partition that is not there. */
async function checkTarget(
  connection: Connection,
  topic: string,
  partition: number | undefined,
): Promise<void> {
  const meta = await new Admin({ connection }).metadata([topic]);
  const info = meta.topics.find((t) => t.name === topic);
  if (info?.error) throw info.error;
  const count = info?.partitions.length ?? 0;
  if (partition !== undefined && partition >= count) {
    throw new UsageError(`--partition ${partition}: ${topic} has ${count} partitions (0-${count - 1})`);
  }
}

function fileSize(path: string): number {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error('not a regular file');
    return stat.size;
  } catch (err) {
    throw new Error(`cannot read --file ${path}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

async function produce(topic: string, flags: ProduceFlags): Promise<void> {
  const parser = new LineParser(flags);
  const size = flags.file === undefined ? null : fileSize(flags.file);
  await withConnection(flags.bootstrap, async (connection) => {
    await checkTarget(connection, topic, flags.partition);
    const producer = new Producer({
      connection,
      acks: flags.acks,
      deliveryTimeoutMs: flags.timeoutMs,
      maxBlockMs: flags.timeoutMs,
    });
    const input: Readable =
      flags.file === undefined
        ? process.stdin
        : createReadStream(flags.file, { highWaterMark: READ_CHUNK_BYTES });
    if (flags.file === undefined && process.stdin.isTTY === true) {
      process.stderr.write(`producing to ${topic}: one record per line, Ctrl-D to finish\n`);
    }
    const progress = size !== null && process.stderr.isTTY === true ? new ProgressLine(size) : null;
    const summary = new SendSummary();
    const inFlight: Promise<void>[] = [];
    let failure: unknown = null;
    let stopped = false;
    const signals = onStopSignal(() => {
      stopped = true;
      input.destroy();
    });
    const sendLines = (lines: Buffer[]): void => {
      const messages: Message[] = [];
      const bad = parser.parse(lines, messages);
      if (messages.length > 0) {
        inFlight.push(
          producer.send({ topic, records: messages }).then(
            (results) => summary.add(results),
            (err: unknown) => {
              failure ??= err;
            },
          ),
        );
      }
      if (bad !== null) failure ??= bad;
    };
    const splitter = new LineSplitter();
    let bytesRead = 0;
    try {
      for await (const chunk of input) {
        const bytes = chunk as Buffer;
        bytesRead += bytes.length;
        const lines: Buffer[] = [];
        splitter.push(bytes, lines);
        sendLines(lines);
        while (inFlight.length > MAX_CALLS_IN_FLIGHT) await inFlight.shift();
        progress?.update(bytesRead, summary.records);
        if (failure !== null || stopped) break;
      }
      if (failure === null && !stopped) {
        const last: Buffer[] = [];
        splitter.end(last);
        sendLines(last);
      }
    } catch (err) {
      if (!stopped) failure ??= err;
    } finally {
      signals.dispose();
      await Promise.all(inFlight);
      await producer.close();
      progress?.stop();
    }
    process.stderr.write(summary.describe(topic) + '\n');
    if (failure !== null) throw failure;
  });
}

export function produceCommand(): Command {
  return new Command('produce')
    .description('send one record per input line (stdin, or --file) to a topic')
    .argument('<topic>', 'topic to produce to')
    .addOption(bootstrapOption())
    .option('--key-separator <sep>', 'text before the first <sep> of a line is the key, the rest the value')
    .option('--header <key=value>', 'a header on every record (repeatable)', collectKeyValue)
    .option(
      '--partition <n>',
      'send every record to this partition (default: by key, spread when none)',
      parseIntArg(0, 0x7fffffff),
    )
    .addOption(
      new Option('--acks <acks>', 'none, leader or all (committed by a majority of replicas)')
        .choices(['none', 'leader', 'all'])
        .default('all'),
    )
    .option('--file <path>', 'read lines from this file instead of stdin (progress shown on a terminal)')
    .option(
      '--timeout-ms <ms>',
      'give up on a record not acknowledged within this time',
      parseIntArg(1, 2 ** 31 - 1),
      30_000,
    )
    .addHelpText(
      'after',
      `
Each line is one record (a trailing \\r is dropped); its bytes are the value as they are. With
--key-separator, every line must contain it: the text before its first occurrence is the key.
At the end, the count of records sent and each partition's offset range go to stderr.
Exit codes: 0 sent (also when stopped by SIGINT/SIGTERM after sending what was read), 1 failed,
2 usage error.`,
    )
    .action((topic: string, flags: ProduceFlags) => produce(topic, flags));
}
