// `weir bench produce|consume`: throughput and latency of the SDK against a running broker.
// Figures are records/s and MB/s (MiB of payload per second) and, for produce, ack latency
// percentiles; --json prints one object for scripts.

import { Command, Option } from 'commander';
import { COMPRESSIONS } from '../../proto/compression.js';
import { bootstrapOption, parseIntArg } from './common.js';
import { benchConsume, type BenchConsumeFlags } from './bench-consume.js';
import { benchProduce, type BenchProduceFlags } from './bench-produce.js';

const MAX_INT = 2 ** 31 - 1;

function produceBench(): Command {
  return new Command('produce')
    .description('produce records as fast as possible (or at --rate) and report throughput and latency')
    .addOption(bootstrapOption())
    .requiredOption('--topic <topic>', 'topic to write to (created with --partitions if missing)')
    .option('--records <n>', 'records to send', parseIntArg(1, Number.MAX_SAFE_INTEGER), 1_000_000)
    .option('--record-size <bytes>', 'value size of each record', parseIntArg(0, 64 * 1024 * 1024), 100)
    .addOption(
      new Option('--acks <acks>', 'none, leader or all').choices(['none', 'leader', 'all']).default('all'),
    )
    .option(
      '--rate <n>',
      'send n records/s, one send() each, and measure each (default: flat out)',
      parseIntArg(1, MAX_INT),
    )
    .option(
      '--batch-bytes <bytes>',
      "producer batch size (default: the SDK's, 65536)",
      parseIntArg(1, 2 ** 30),
    )
    .option('--linger-ms <ms>', "producer linger (default: the SDK's, 5)", parseIntArg(0, MAX_INT))
    .option(
      '--records-per-send <n>',
      'records per send() call in a flat-out run (default: about 1 MiB)',
      parseIntArg(1, MAX_INT),
    )
    .option('--partitions <n>', 'partitions of the topic if it has to be created', parseIntArg(1, MAX_INT), 1)
    .addOption(
      new Option('--compression <codec>', 'compress batches (values become distinct text)')
        .choices(COMPRESSIONS)
        .default('none'),
    )
    .option('--json', 'print one JSON object')
    .action((flags: BenchProduceFlags) => benchProduce(flags));
}

function consumeBench(): Command {
  return new Command('consume')
    .description('read records from the beginning as fast as possible and report throughput')
    .addOption(bootstrapOption())
    .requiredOption('--topic <topic>', 'topic to read')
    .option(
      '--records <n>',
      'records to read (default: all, up to the high watermark)',
      parseIntArg(1, Number.MAX_SAFE_INTEGER),
    )
    .option('--json', 'print one JSON object')
    .action((flags: BenchConsumeFlags) => benchConsume(flags));
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('measure produce and consume throughput against a broker')
    .addCommand(produceBench())
    .addCommand(consumeBench());
}
