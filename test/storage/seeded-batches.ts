// Record batches drawn from a seeded random source, for tests that append a workload and check what
// a log holds afterwards against what they appended.

import type { RecordInput } from '../../proto/record-batch.js';
import { randomInt } from './helpers.js';

/** The records of batch `id`: 1-4 records with small keys and values of 0-400 bytes. */
export function seededRecords(rand: () => number, id: number): RecordInput[] {
  const count = randomInt(rand, 1, 4);
  const records: RecordInput[] = [];
  for (let j = 0; j < count; j++) {
    records.push({
      timestamp: 1_700_000_000_000 + id * 10 + j,
      key: Buffer.from(`k${randomInt(rand, 0, 16)}`),
      value: Buffer.from(`${id}/${j}/${'v'.repeat(randomInt(rand, 0, 400))}`),
    });
  }
  return records;
}
