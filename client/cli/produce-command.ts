// `weir produce TOPIC`: records from stdin or --file, through the SDK Producer: one per line (or
// per --delimiter), one JSON object per line (--input json), or the whole input as one (--input
// raw); produce-input.ts reads them.
//
// Lines stay bytes end to end (line-splitter.ts): a value is exactly its line. Every chunk read
// becomes one send() of all the records it completed, without waiting for the answer, so a file
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
import {
  COMPRESSIONS,
  INPUT_FORMATS,
  framerOf,
  parseCompression,
  parseDelimiter,
  parserOf,
  type CompressionFlag,
  type InputFlags,
} from './produce-input.js';
import { ProgressLine } from './progress.js';
import { grouped } from './units.js';

const MAX_CALLS_IN_FLIGHT = 16;
const READ_CHUNK_BYTES = 1024 * 1024;
/** The broker's default maxInflatedBatchBytes: the most a compressed batch may inflate to. */
const MAX_INFLATED_RECORD_BYTES = 64 * 1024 * 1024;

interface ProduceFlags extends InputFlags {
  bootstrap: string;
  acks: AcksOption;
  compression: CompressionFlag;
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

/**
 * Fails early, with the broker's words, for a topic or partition that is not there. Answers the
 * largest record the input may hold (maxFrameBytes).
 */
async function checkTarget(
  connection: Connection,
  topic: string,
  partition: number | undefined,
  compression: CompressionFlag,
): Promise<number> {
  const description = await new Admin({ connection }).describeTopic(topic);
  const count = description.partitions.length;
  if (partition !== undefined && partition >= count) {
    throw new UsageError(`--partition ${partition}: ${topic} has ${count} partitions (0-${count - 1})`);
  }
  return maxFrameBytes(Number(description.configs['max.message.bytes'] ?? NaN), compression);
}

/**
 * A record's bytes uncompressed are at least its batch's size, so one above the topic's
 * max.message.bytes can never be accepted. Compressed, it may shrink below that; the broker then
 * inflates it only up to its own limit (64 MiB by default), a bound on what a compressed record
 * can be. Past the limit the input framer fails at once instead of buffering on.
 */
function maxFrameBytes(maxMessageBytes: number, compression: CompressionFlag): number {
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 0) return Infinity;
  return compression === 'none' ? maxMessageBytes : Math.max(maxMessageBytes, MAX_INFLATED_RECORD_BYTES);
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
  const parser = parserOf(flags);
  const size = flags.file === undefined ? null : fileSize(flags.file);
  await withConnection(flags.bootstrap, async (connection) => {
    const maxFrame = await checkTarget(connection, topic, flags.partition, flags.compression);
    const producer = new Producer({
      connection,
      acks: flags.acks,
      compression: flags.compression,
      deliveryTimeoutMs: flags.timeoutMs,
      maxBlockMs: flags.timeoutMs,
    });
    const input: Readable =
      flags.file === undefined
        ? process.stdin
        : createReadStream(flags.file, { highWaterMark: READ_CHUNK_BYTES });
    if (flags.file === undefined && process.stdin.isTTY === true) {
      const what =
        flags.input === 'raw'
          ? 'one record of all input'
          : `one record per ${flags.input === 'json' ? 'JSON line' : 'line'}`;
      process.stderr.write(`producing to ${topic}: ${what}, Ctrl-D to finish\n`);
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
    const splitter = framerOf(flags, maxFrame);
    let bytesRead = 0;
    try {
      for await (const chunk of input) {
        const bytes = chunk as Buffer;
        bytesRead += bytes.length;
        const lines: Buffer[] = [];
        let tooLarge: unknown = null;
        try {
          splitter.push(bytes, lines);
        } catch (err) {
          tooLarge = err; // after the records the chunk completed before it, which are sent
        }
        sendLines(lines);
        if (tooLarge !== null) throw tooLarge;
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
    .description('send records to a topic: one per input line (stdin, or --file), JSON lines, or raw bytes')
    .argument('<topic>', 'topic to produce to')
    .addOption(bootstrapOption())
    .addOption(
      new Option('--input <format>', 'lines, json (one object per line) or raw (all input is one value)')
        .choices(INPUT_FORMATS)
        .default('lines'),
    )
    .option(
      '--delimiter <sep>',
      'records end at <sep> instead of a newline (escapes: \\n \\t \\0 \\xHH)',
      parseDelimiter,
    )
    .option('--key-separator <sep>', 'text before the first <sep> of a line is the key, the rest the value')
    .option('--key <key>', 'the key of every record (lines and raw input)')
    .option('-Z, --null-empty', 'an empty value is sent as null: a tombstone under compaction')
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
    .option(
      '--compression <codec>',
      `compress batches: ${COMPRESSIONS.join(', ')}`,
      parseCompression,
      'none' as CompressionFlag,
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
--input lines (the default): each line is one record (a trailing \\r is dropped); its bytes are the
value as they are. With --delimiter, records end at that separator instead (kept exact, no \\r
dropped; a last record without one still counts). With --key-separator, every line must contain
it: the text before its first occurrence is the key.
--input json: one object per line, e.g.
  {"key":"k","value":"v","headers":{"h":"1"},"partition":0,"timestamp":"2026-01-01T00:00:00Z"}
key and value are UTF-8 text (keyBase64/valueBase64 for binary); "value": null is a tombstone;
headers is an object or a list of {"key","value"}; partition and timestamp (ms or ISO 8601) are
optional. A bad line stops the input with its line number; the lines before it are sent.
--input raw: all of the input is one record's value, byte for byte.
-Z (--null-empty) sends an empty value as null, as kcat's -Z: a tombstone under compaction.
At the end, the count of records sent and each partition's offset range go to stderr.
Exit codes: 0 sent (also when stopped by SIGINT/SIGTERM after sending what was read), 1 failed,
2 usage error.`,
    )
    .action((topic: string, flags: ProduceFlags) => produce(topic, flags));
}
