// `weir topic offsets TOPIC [--time T]`: each partition's earliest offset (the log start) and
// latest (the high watermark: where the next record goes, the end a consumer reads to), and with
// --time the offset a read from that time starts at: that of the first record at or after it
// (ListOffsets by time, as `weir consume --from-time` and Kafka's offsetsForTimes), with that
// record's timestamp. A partition without such a record has none (`-` in text, null in JSON): a
// read from that time starts at the latest offset.

import { Command, Option } from 'commander';
import { Admin } from '../index.js';
import { bootstrapOption, withConnection } from './common.js';
import { isoTime } from './iso-time.js';
import { print, table } from './table.js';
import { parseTime } from './units.js';

interface OffsetsFlags {
  bootstrap: string;
  time?: number;
  format: 'text' | 'json';
}

interface PartitionOffsets {
  partition: number;
  earliest: number;
  latest: number;
  /** With --time only: null when no record is at or after it. */
  offsetAtTime?: number | null;
  timestampAtTime?: number | null;
}

async function lookUp(admin: Admin, topic: string, time: number | undefined): Promise<PartitionOffsets[]> {
  const count = (await admin.describeTopic(topic)).partitions.length;
  const tps = Array.from({ length: count }, (_, partition) => ({ topic, partition }));
  const [earliest, latest, atTime] = await Promise.all([
    admin.listOffsets(tps, 'earliest'),
    admin.listOffsets(tps, 'latest'),
    time === undefined ? null : admin.listOffsets(tps, { timestamp: time }),
  ]);
  return tps.map(({ partition }, i) => {
    const row: PartitionOffsets = { partition, earliest: earliest[i]!.offset, latest: latest[i]!.offset };
    if (atTime !== null) {
      const found = atTime[i]!;
      row.offsetAtTime = found.offset < 0 ? null : found.offset;
      row.timestampAtTime = found.offset < 0 ? null : found.timestamp;
    }
    return row;
  });
}

function text(rows: readonly PartitionOffsets[], withTime: boolean): string {
  const head = ['PARTITION', 'EARLIEST', 'LATEST', ...(withTime ? ['AT-TIME', 'TIMESTAMP'] : [])];
  const cells = (r: PartitionOffsets): string[] => {
    const base = [String(r.partition), String(r.earliest), String(r.latest)];
    if (!withTime) return base;
    const offset = r.offsetAtTime ?? null;
    if (offset === null) return [...base, '-', '-'];
    return [...base, String(offset), isoTime(r.timestampAtTime ?? 0)];
  };
  return table([head, ...rows.map(cells)]);
}

export function topicOffsetsCommand(): Command {
  return new Command('offsets')
    .description("show each partition's earliest and latest offsets, and with --time the offset at a time")
    .argument('<name>', 'topic name')
    .addOption(bootstrapOption())
    .option('--time <time>', 'also show the first offset at or after an ISO 8601 time or epoch ms', parseTime)
    .addOption(new Option('--format <format>', 'text or json').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      `
EARLIEST is the log start, LATEST the high watermark (the offset the next record gets). AT-TIME is
the offset of the first record at or after --time and TIMESTAMP that record's time; - when there is
none (a read from that time starts at LATEST). --format json prints
{"topic","time"?,"partitions":[{"partition","earliest","latest","offsetAtTime"?,"timestampAtTime"?}]},
the last two null when there is no such record.`,
    )
    .action(async (name: string, flags: OffsetsFlags) => {
      const rows = await withConnection(flags.bootstrap, (connection) =>
        lookUp(new Admin({ connection }), name, flags.time),
      );
      if (flags.format === 'json') {
        print(
          JSON.stringify({
            topic: name,
            ...(flags.time === undefined ? {} : { time: flags.time }),
            partitions: rows,
          }),
        );
      } else {
        print(text(rows, flags.time !== undefined));
      }
    });
}
