// `weir topic delete-records` against a real broker: the log start moves to the offset asked for
// (on chosen partitions, or all; -1 meaning the high watermark), every partition gets its row even
// when others are refused (exit 1 then), and the refusals carry the error table's codes.

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
  it('raises the log start of one partition, of every partition (each refusal in its row, exit 1), then to the high watermark', async () => {
    const one = okLines(
      await weir(['topic', 'delete-records', 'trimmed', '--partition', '0', '--offset', '3', ...b]),
    );
    expect(one.map((l) => l.split(/\s+/))).toEqual([
      ['PARTITION', 'LOW-WATERMARK', 'ERROR'],
      ['0', '3', '-'],
    ]);
    expect(await logStarts()).toEqual([3, 0]);
    const [earliest] = await admin.listOffsets([{ topic: 'trimmed', partition: 0 }], 'earliest');
    expect(earliest?.offset).toBe(3);

    // Past partition 1's high watermark (4): partition 0 is deleted all the same, and both say so.
    const partly = await weir(['topic', 'delete-records', 'trimmed', '--offset', '5', ...b]);
    expectFailure(
      partly,
      1,
      /1 of 2 partitions were not deleted: partition 1: OFFSET_OUT_OF_RANGE.*high watermark 4/,
    );
    expect(
      partly.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)),
    ).toEqual([
      ['PARTITION', 'LOW-WATERMARK', 'ERROR'],
      ['0', '5', '-'],
      ['1', '-', 'OFFSET_OUT_OF_RANGE'],
    ]);
    expect(await logStarts()).toEqual([5, 0]);
    const partlyJson = await weir([
      'topic',
      'delete-records',
      'trimmed',
      '--offset',
      '6',
      '--format',
      'json',
      ...b,
    ]);
    expect(partlyJson.code).toBe(1);
    expect(JSON.parse(partlyJson.stdout)).toEqual([
      { topic: 'trimmed', partition: 0, lowWatermark: 6, error: null },
      {
        topic: 'trimmed',
        partition: 1,
        lowWatermark: -1,
        error: { code: 'OFFSET_OUT_OF_RANGE', message: expect.stringMatching(/high watermark 4/) as unknown },
      },
    ]);

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
      { topic: 'trimmed', partition: 0, lowWatermark: 10, error: null },
      { topic: 'trimmed', partition: 1, lowWatermark: 4, error: null },
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
