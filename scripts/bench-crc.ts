// CRC-32C throughput: the portable `crc-32/crc32c.js` against native CRC-32C packages, and weir's
// own proto/crc32c.ts (which picks between them by size). Run with `npm run bench:crc`.
//
// Method: for each buffer size, random bytes; each implementation is warmed up, then timed over
// enough calls to checksum about BYTES_PER_RUN bytes; the best of RUNS runs is printed as MB/s
// (10^6 bytes per second). Implementations that are not installed are listed as skipped:
// `sse4_crc32` builds from source with node-gyp, so it is not a dependency of weir; install it by
// hand (`npm install --no-save sse4_crc32`) to include it.
//
// Every implementation must agree with the check value crc32c("123456789") = 0xe3069283 and with
// the others on every buffer, or the script exits non-zero.

import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import CRC32C from 'crc-32/crc32c.js';
import { crc32c as weirCrc32c, CRC32C_BACKEND, NATIVE_MIN_BYTES } from '../proto/crc32c.js';

const SIZES = [100, 256, 512, 1024, 16 * 1024, 1024 * 1024];
const BYTES_PER_RUN = 64 * 1024 * 1024;
const RUNS = 5;
const CHECK_INPUT = Buffer.from('123456789', 'ascii');
const CHECK_VALUE = 0xe3069283;

type Checksum = (buf: Buffer) => number;

interface Implementation {
  readonly name: string;
  readonly fn: Checksum | null;
}

const require = createRequire(import.meta.url);

function optional(name: string, pick: (mod: unknown) => Checksum): Implementation {
  try {
    return { name, fn: pick(require(name)) };
  } catch {
    return { name, fn: null };
  }
}

const implementations: Implementation[] = [
  { name: 'crc-32/crc32c.js', fn: (buf) => CRC32C.buf(buf) >>> 0 },
  optional('@node-rs/crc32', (mod) => {
    const { crc32c } = mod as { crc32c: (input: Uint8Array) => number };
    return (buf) => crc32c(buf) >>> 0;
  }),
  optional('sse4_crc32', (mod) => {
    const { calculate } = mod as { calculate: (input: Buffer) => number };
    return (buf) => calculate(buf) >>> 0;
  }),
  { name: `weir proto/crc32c.ts`, fn: (buf) => weirCrc32c(buf) },
];

function timeMbPerSecond(fn: Checksum, buf: Buffer): number {
  const calls = Math.max(1, Math.ceil(BYTES_PER_RUN / buf.length));
  let sink = 0;
  for (let i = 0; i < Math.min(calls, 2000); i++) sink ^= fn(buf);
  let best = 0;
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink ^= fn(buf);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    best = Math.max(best, (buf.length * calls) / seconds / 1e6);
  }
  // Keep the loop's result observable so it cannot be optimised away.
  if (sink === 0.5) console.log(sink);
  return best;
}

function main(): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `CRC-32C throughput, MB/s (best of ${RUNS}); Node ${process.version}, ${process.platform}-${process.arch}, ${cpu}`,
  );
  console.log(`weir's crc32c uses ${CRC32C_BACKEND} from ${NATIVE_MIN_BYTES} bytes up, crc-32 below`);

  const available = implementations.filter((impl) => impl.fn !== null) as { name: string; fn: Checksum }[];
  for (const impl of implementations) {
    if (impl.fn === null) console.log(`skipped ${impl.name}: not installed`);
  }

  for (const impl of available) {
    const got = impl.fn(CHECK_INPUT);
    if (got !== CHECK_VALUE) {
      console.error(`${impl.name}: crc32c("123456789") = ${got.toString(16)}, expected e3069283`);
      process.exit(1);
    }
  }

  const nameWidth = Math.max(...available.map((impl) => impl.name.length));
  const header = ['implementation'.padEnd(nameWidth), ...SIZES.map((s) => label(s).padStart(9))];
  console.log(header.join('  '));
  const rows = new Map<string, string[]>(available.map((impl) => [impl.name, []]));
  for (const size of SIZES) {
    const buf = randomBytes(size);
    const expected = available[0]!.fn(buf);
    for (const impl of available) {
      if (impl.fn(buf) !== expected) {
        console.error(`${impl.name} disagrees with ${available[0]!.name} on a ${size}-byte buffer`);
        process.exit(1);
      }
      rows.get(impl.name)!.push(timeMbPerSecond(impl.fn, buf).toFixed(0).padStart(9));
    }
  }
  for (const impl of available)
    console.log([impl.name.padEnd(nameWidth), ...rows.get(impl.name)!].join('  '));
}

function label(size: number): string {
  if (size >= 1024 * 1024) return `${size / (1024 * 1024)} MiB`;
  if (size >= 1024) return `${size / 1024} KiB`;
  return `${size} B`;
}

main();
