// `weir bench consume`: how fast the SDK Consumer reads a topic from the beginning. Records are
// taken a fetch at a time (consumer.batches()) and only counted, so the figure is the consumer's,
// not a formatter's. MB/s counts key and value bytes, in MiB.

import { Admin, Consumer } from '../index.js';
import { withConnection } from './common.js';
import { resolveRanges } from './start-positions.js';
import { grouped } from './units.js';

export interface BenchConsumeFlags {
  bootstrap: string;
  topic: string;
  records?: number;
  json?: boolean;
}

const MIB = 1024 * 1024;

export async function benchConsume(flags: BenchConsumeFlags): Promise<void> {
  await withConnection(flags.bootstrap, async (connection) => {
    const admin = new Admin({ connection });
    const count = (await admin.describeTopic(flags.topic)).partitions.length;
    const partitions = Array.from({ length: count }, (_, p) => p);
    const tps = partitions.map((partition) => ({ topic: flags.topic, partition }));
    const ranges = await resolveRanges(admin, tps, { kind: 'earliest' }, null, false);
    const available = ranges.reduce((sum, r) => sum + (r.end - r.start), 0);
    const target = flags.records ?? available;
    if (target === 0 || target > available) {
      throw new Error(
        `${flags.topic} holds ${grouped(available)} records, not ${grouped(target || 1)}: ` +
          `fill it with weir bench produce --topic ${flags.topic}` +
          (available > 0 ? ', or lower --records' : ''),
      );
    }
    const consumer = new Consumer({ connection, autoOffsetReset: 'earliest' });
    consumer.assign(partitions.map((partition) => ({ topic: flags.topic, partition })));
    for (const r of ranges) consumer.seek({ topic: flags.topic, partition: r.partition }, r.start);
    let records = 0;
    let bytes = 0;
    const start = process.hrtime.bigint();
    try {
      outer: for await (const batch of consumer.batches()) {
        for (const r of batch.records) {
          bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
          if (++records >= target) break outer;
        }
      }
    } finally {
      await consumer.close();
    }
    const elapsedNs = process.hrtime.bigint() - start;
    const seconds = Number(elapsedNs) / 1e9;
    const report = {
      bench: 'consume',
      topic: flags.topic,
      partitions: count,
      records,
      bytes,
      elapsedMs: Number(elapsedNs) / 1e6,
      recordsPerSec: records / seconds,
      mbPerSec: bytes / MIB / seconds,
      node: process.version,
    };
    if (flags.json === true) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return;
    }
    process.stdout.write(
      [
        `consume ${grouped(records)} records (${(bytes / MIB).toFixed(1)} MiB) from ${flags.topic} ` +
          `(${count} partition${count === 1 ? '' : 's'}) from the beginning`,
        `  ${grouped(report.recordsPerSec)} records/s  ${report.mbPerSec.toFixed(1)} MB/s  ` +
          `(${seconds.toFixed(2)} s)`,
        `  node ${process.version}`,
      ].join('\n') + '\n',
    );
  });
}
