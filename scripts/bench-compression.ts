// `npm run bench:compression`: what each codec costs per record, in one process, without the
// network: the SDK encoding a batch (records written, then compressed), the broker inflating it on
// the thread pool and checking every record (as produce does), and a consumer decoding it
// (decodeBatch, inflation included). The end-to-end figures are `npm run bench -- --compression C`.
//
// Method. Records of 100 B and 1 KiB of text (distinct values of random words from a small
// vocabulary, as `weir bench produce --compression` sends), in batches of 64 KiB of records (the SDK's default
// batchBytes). Each step runs over --mb MiB of records (default 64), --reps times (default 5); the
// figure is the median of records per CPU-second of this process (user + system, thread-pool time
// included), which a shared, busy machine disturbs less than wall time. Ratio is record bytes to
// compressed batch bytes.
//
// Usage: npm run bench:compression -- [--mb N] [--reps N]

import { parseArgs } from 'node:util';
import { textValue } from '../client/cli/bench-produce.js';
import { inflateRecords } from '../proto/batch-inflate.js';
import { COMPRESSIONS, type Compression } from '../proto/compression.js';
import { decodeBatch, encodeBatch, invalidRecords, type RecordInput } from '../proto/record-batch.js';

const { values: args } = parseArgs({
  options: { mb: { type: 'string', default: '64' }, reps: { type: 'string', default: '5' } },
});
const MIB = 1024 * 1024;
const BATCH_BYTES = 64 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Records per CPU-second of `step` over `batches`, median of the reps. */
async function rate(records: number, reps: number, step: () => unknown): Promise<number> {
  const runs: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const start = process.cpuUsage();
    await step();
    runs.push(records / cpuSeconds(start));
  }
  return median(runs);
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const totalBytes = Number(args.mb) * MIB;
  const reps = Number(args.reps);
  console.log(
    `Node ${process.version}, ${args.mb} MiB of records per step, medians of ${reps}, records per CPU-second`,
  );
  for (const size of [100, 1024]) {
    const perBatch = Math.floor(BATCH_BYTES / size);
    const batchCount = Math.ceil(totalBytes / BATCH_BYTES);
    const records = perBatch * batchCount;
    const pool: RecordInput[][] = Array.from({ length: 16 }, () =>
      Array.from({ length: perBatch }, (_, i) => ({
        timestamp: 1_700_000_000_000 + i,
        key: null,
        value: textValue(size),
      })),
    );
    for (const codec of COMPRESSIONS) {
      const compression: Compression = codec;
      const encoded = pool.map((recs) => encodeBatch(recs, { compression }));
      const ratio = (perBatch * size) / (encoded[0]!.length - 61);
      const encode = await rate(records, reps, () => {
        for (let b = 0; b < batchCount; b++) encodeBatch(pool[b % pool.length]!, { compression });
      });
      const check = await rate(records, reps, async () => {
        for (let b = 0; b < batchCount; b++) {
          const batch = encoded[b % encoded.length]!;
          const inflated = compression === 'none' ? null : await inflateRecords(batch, 0, 64 * MIB);
          if (inflated !== null && !Buffer.isBuffer(inflated))
            throw new Error(`inflate: ${String(inflated)}`);
          const reason = invalidRecords(batch, 0, batch.length, inflated);
          if (reason !== null) throw new Error(reason);
        }
      });
      const decode = await rate(records, reps, () => {
        for (let b = 0; b < batchCount; b++) {
          const decoded = decodeBatch(encoded[b % encoded.length]!);
          if (!decoded.ok) throw new Error(decoded.reason);
        }
      });
      console.log(
        `MEDIAN size=${size} codec=${codec.padEnd(6)} ratio ${ratio.toFixed(2)}: encode ${fmt(encode)}/s | broker check ${fmt(check)}/s | decode ${fmt(decode)}/s`,
      );
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
