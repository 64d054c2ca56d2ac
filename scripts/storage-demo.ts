// What `npm start` runs until the broker exists: a short tour of the storage layer. It opens the
// data directory (./data, or WEIR_DATA_DIR) with a LogManager, appends a few batches of text
// records to partition 0 of topic `demo`, reads this run's records back, and closes cleanly.
// Every run appends more, so the log grows from run to run.

import { resolve } from 'node:path';
import { batchSize } from '../proto/batch-header.js';
import { decodeBatch, encodeBatch, type RecordInput } from '../proto/record-batch.js';
import { DEFAULT_LOG_MANAGER_CONFIG, LogManager, nodeFs, systemClock } from '../storage/index.js';

const TOPIC = 'demo';
const PARTITION = 0;
const BATCHES = 3;
const KEYS = ['ada', 'grace', 'linus'];

const dataDir = resolve(process.env['WEIR_DATA_DIR'] ?? 'data');
const manager = LogManager.open(
  { dataDir, ...DEFAULT_LOG_MANAGER_CONFIG },
  {
    fs: nodeFs,
    clock: systemClock,
    log(event) {
      if (event.kind === 'startup') {
        const state =
          event.logs === 0
            ? 'no logs yet'
            : `${event.logs} log(s), last shutdown ${event.cleanShutdown ? 'clean' : 'unclean: recovered'}`;
        console.log(`data dir ${dataDir}: ${state}`);
      }
      if (event.kind === 'truncated')
        console.log(`recovery cut ${event.truncatedBytes} bytes: ${event.reason}`);
    },
  },
);

try {
  const log = manager.getLog(TOPIC, PARTITION) ?? manager.createLog(TOPIC, PARTITION);
  const firstOffset = log.logEndOffset;
  const runAt = Date.now();
  for (let b = 0; b < BATCHES; b++) {
    const records: RecordInput[] = KEYS.map((key, i) => ({
      timestamp: runAt + b * KEYS.length + i,
      key: Buffer.from(key),
      value: Buffer.from(`hello from ${key}, batch ${b + 1} of the run at ${new Date(runAt).toISOString()}`),
    }));
    log.append(encodeBatch(records));
  }

  console.log(`${TOPIC}-${PARTITION}: appended ${log.logEndOffset - firstOffset} records; read back:`);
  for (let offset = firstOffset; offset < log.logEndOffset;) {
    const { records, lastOffset } = log.read(offset, 64 * 1024);
    for (let pos = 0; pos < records.length; pos += batchSize(records, pos)) {
      const decoded = decodeBatch(records, pos, pos + batchSize(records, pos));
      if (!decoded.ok) throw new Error(`bad batch at offset ${offset}: ${decoded.reason}`);
      for (const r of decoded.batch.records) {
        const time = new Date(r.timestamp).toISOString();
        console.log(
          `  offset ${r.offset}  ${time}  ${(r.key?.toString() ?? '(no key)').padEnd(5)}  ${r.value?.toString() ?? '(null)'}`,
        );
      }
    }
    offset = lastOffset + 1;
  }
  const segments = log.segments.length;
  console.log(
    `log start offset ${log.logStartOffset}, log end offset ${log.logEndOffset}: ` +
      `${log.logEndOffset - log.logStartOffset} records in total, ${segments} segment${segments === 1 ? '' : 's'}`,
  );
} finally {
  await manager.close();
}

console.log(
  'The broker (gRPC and HTTP) comes with the next release of weir; `npm test` runs the test suite.',
);
