// `npm run bench:metrics`: what one `/metrics` scrape costs the broker's event loop when it holds
// many partitions. An embedded broker is given --topics topics of --partitions partitions each
// (5,000 partitions by default), one record is produced to every partition (so every counter and
// gauge has a series), and then /metrics is scraped over HTTP --scrapes times, one at a time.
//
// For each scrape we record:
//   busy     event-loop busy time during the scrape (performance.eventLoopUtilization), in ms: what
//            the scrape takes from produce and fetch requests served by the same loop;
//   block    the longest single stretch the loop was blocked during the scrape
//            (monitorEventLoopDelay at 1 ms resolution, its max), in ms: the latency a request
//            arriving mid-scrape can be made to wait;
//   wall     from the request to the last byte of the answer, in ms.
// Figures are the median and the worst over the scrapes, after --warmup scrapes not counted.
//
// Usage: npm run bench:metrics -- [--topics N] [--partitions N] [--scrapes N] [--warmup N]

import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startBroker } from '../broker/main.js';
import { encodeBatch } from '../proto/record-batch.js';

const { values: args } = parseArgs({
  options: {
    topics: { type: 'string', default: '50' },
    partitions: { type: 'string', default: '100' },
    scrapes: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '5' },
  },
});
const topics = Number(args.topics);
const partitions = Number(args.partitions);
const scrapes = Number(args.scrapes);
const warmup = Number(args.warmup);

/** GETs `path` and resolves with the body's length once it is all read. */
function get(address: string, path: string): Promise<number> {
  const at = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address.slice(0, at), port: Number(address.slice(at + 1)), path, agent: false },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(bytes) : reject(new Error(`${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? NaN;
}

const dataDir = mkdtempSync(join(tmpdir(), 'weir-bench-metrics-'));
const running = await startBroker({ dataDir, logLevel: 'warn' });
try {
  const batch = encodeBatch([{ key: null, value: Buffer.from('x'), headers: [], timestamp: Date.now() }], {
    baseOffset: 0,
  });
  for (let t = 0; t < topics; t++) {
    const name = `bench-${t}`;
    running.broker.createTopic(name, partitions, 0, {});
    for (let p = 0; p < partitions; p++) await running.broker.produce(name, p, Buffer.from(batch), 'leader');
  }
  const total = topics * partitions;

  const busy: number[] = [];
  const block: number[] = [];
  const wall: number[] = [];
  let size = 0;
  for (let i = 0; i < warmup + scrapes; i++) {
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const elu = performance.eventLoopUtilization();
    const started = performance.now();
    size = await get(running.httpAddress, '/metrics');
    const took = performance.now() - started;
    const used = performance.eventLoopUtilization(elu);
    delay.disable();
    if (i < warmup) continue;
    busy.push(used.active);
    block.push(delay.max / 1e6);
    wall.push(took);
  }
  const fmt = (xs: number[]): string =>
    `median ${median(xs).toFixed(1)} ms, worst ${Math.max(...xs).toFixed(1)} ms`;
  console.log(
    `node ${process.version}, ${total} partitions, ${scrapes} scrapes, ${(size / 1024).toFixed(0)} KiB each`,
  );
  console.log(`busy   ${fmt(busy)}`);
  console.log(`block  ${fmt(block)}`);
  console.log(`wall   ${fmt(wall)}`);
} finally {
  await running.close();
  rmSync(dataDir, { recursive: true, force: true });
}
