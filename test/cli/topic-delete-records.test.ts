// `weir topic delete-records` against a real broker: the log start moves to the offset asked for
// (on chosen partitions, or all; -1 meaning the high watermark), and the refusals carry the error
// table's codes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.js';
import { expectFailure, killAll, okLines, startCliBroker, weir, type CliBroker } from './cli-support.js';

let broker: CliBroker;
let b: string[];
let admin: Admin;

beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
  admin = new Admin({ bootstrap: broker.bootstrap });
  await admin.createTopic('trimmed', { partitions: 2 });
  const producer = new Producer({ bootstrap: broker.bootstrap });
  await producer.send({
    topic: 'trimmed',
    records: [
      ...Array.from({ length: 10 }, (_, i) => ({ value: `a${i}`, partition: 0 })),
      ...Array.from({ length: 4 }, (_, i) => ({ value: `b${i}`, partition: 1 })),
    ],
  });
  await producer.close();
});
afterAll(async () => {
  killAll();
  await admin?.close();
  await broker?.close();
});

async function logStarts(): Promise<number[]> {
  return (await admin.describeTopic('trimmed')).partitions.map((p) => p.logStartOffset);
}

describe('weir topic delete-records', () => {
  it('raises the log start of one partition, then of every partition to the high watermark', async () => {
    const one = okLines(
      await weir(['topic', 'delete-records', 'trimmed', '--partition', '0', '--offset', '3', ...b]),
    );
    expect(one.map((l) => l.split(/\s+/))).toEqual([
      ['PARTITION', 'LOW-WATERMARK'],
      ['0', '3'],
    ]);
    expect(await logStarts()).toEqual([3, 0]);
    const [earliest] = await admin.listOffsets([{ topic: 'trimmed', partition: 0 }], 'earliest');
    expect(earliest?.offset).toBe(3);

    const all = await weir([
      'topic',
      'delete-records',
      'trimmed',
      '--offset',
      '-1',
      '--format',
      'json',
      ...b,
    ]);
    expect(JSON.parse(all.stdout)).toEqual([
      { topic: 'trimmed', partition: 0, lowWatermark: 10 },
      { topic: 'trimmed', partition: 1, lowWatermark: 4 },
    ]);
    expect(await logStarts()).toEqual([10, 4]);
  });

  it('refuses an offset past the high watermark, unknown topics and partitions, and a missing --offset', async () => {
    expectFailure(
      await weir(['topic', 'delete-records', 'trimmed', '--partition', '1', '--offset', '5', ...b]),
      1,
      /OFFSET_OUT_OF_RANGE.*high watermark 4/,
    );
    expectFailure(
      await weir(['topic', 'delete-records', 'trimmed', '--partition', '2', '--offset', '0', ...b]),
      1,
      /UNKNOWN_TOPIC_OR_PARTITION/,
    );
    expectFailure(
      await weir(['topic', 'delete-records', 'ghost', '--offset', '0', ...b]),
      1,
      /UNKNOWN_TOPIC_OR_PARTITION.*ghost/,
    );
    expectFailure(
      await weir(['topic', 'delete-records', 'trimmed', ...b]),
      2,
      /required option '--offset <n>' not specified/,
    );
    expectFailure(
      await weir(['topic', 'delete-records', 'trimmed', '--offset', '-2', ...b]),
      2,
      /expected an integer from -1/,
    );
  });
});
