// `weir topic offsets`: earliest and latest offsets per partition, and the offset at a time, against
// records produced with known timestamps.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.js';
import { expectFailure, okLines, startCliBroker, weir, type CliBroker } from './cli-support.js';

let broker: CliBroker;
let admin: Admin;
let producer: Producer;
let b: string[];
let t0: number;

/** Past what a JavaScript Date holds (±8.64e15 ms), yet a valid record timestamp. */
const FAR = 9_000_000_000_000_000;
const iso = (ms: number): string => new Date(ms).toISOString();

// "offs": 3 partitions. Partition 0: offsets 0-3 stamped t0, t0+1s, t0+2s, t0+3s. Partition 1:
// offsets 0-1 stamped t0+5s. Partition 2: empty. "far": one record stamped FAR.
beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
  admin = new Admin({ bootstrap: broker.bootstrap });
  producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  t0 = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
  await admin.createTopic('offs', { partitions: 3 });
  await producer.send({
    topic: 'offs',
    records: [0, 1, 2, 3].map((i) => ({ partition: 0, value: `v${i}`, timestamp: t0 + i * 1000 })),
  });
  await admin.createTopic('far', { partitions: 1 });
  await producer.send({ topic: 'far', records: [{ value: 'x', timestamp: FAR }] });
  await producer.send({
    topic: 'offs',
    records: [0, 1].map((i) => ({ partition: 1, value: `w${i}`, timestamp: t0 + 5000 })),
  });
});
afterAll(async () => {
  await producer?.close();
  await admin?.close();
  await broker?.close();
});

describe.concurrent('weir topic offsets', () => {
  it('prints a table of earliest and latest offsets per partition', async () => {
    expect(okLines(await weir(['topic', 'offsets', 'offs', ...b]))).toEqual([
      'PARTITION  EARLIEST  LATEST',
      '0          0         4',
      '1          0         2',
      '2          0         0',
    ]);
  });

  it('--time adds the first offset at or after that time and its timestamp, - when none', async () => {
    const lines = okLines(await weir(['topic', 'offsets', 'offs', '--time', iso(t0 + 1500), ...b]));
    expect(lines.map((l) => l.split(/ +/))).toEqual([
      ['PARTITION', 'EARLIEST', 'LATEST', 'AT-TIME', 'TIMESTAMP'],
      ['0', '0', '4', '2', iso(t0 + 2000)],
      ['1', '0', '2', '0', iso(t0 + 5000)],
      ['2', '0', '0', '-', '-'],
    ]);
  });

  it('--format json prints one object; --time in epoch ms', async () => {
    const plain = JSON.parse(okLines(await weir(['topic', 'offsets', 'offs', '--format', 'json', ...b]))[0]!);
    expect(plain).toEqual({
      topic: 'offs',
      partitions: [
        { partition: 0, earliest: 0, latest: 4 },
        { partition: 1, earliest: 0, latest: 2 },
        { partition: 2, earliest: 0, latest: 0 },
      ],
    });
    const time = t0 + 3000;
    const lines = okLines(
      await weir(['topic', 'offsets', 'offs', '--time', String(time), '--format', 'json', ...b]),
    );
    expect(JSON.parse(lines[0]!)).toEqual({
      topic: 'offs',
      time,
      partitions: [
        { partition: 0, earliest: 0, latest: 4, offsetAtTime: 3, timestampAtTime: t0 + 3000 },
        { partition: 1, earliest: 0, latest: 2, offsetAtTime: 0, timestampAtTime: t0 + 5000 },
        { partition: 2, earliest: 0, latest: 0, offsetAtTime: null, timestampAtTime: null },
      ],
    });
  });

  it('a time after every record has no offset at it', async () => {
    const lines = okLines(await weir(['topic', 'offsets', 'offs', '--time', iso(t0 + 60_000), ...b]));
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(3))).toEqual([
      ['-', '-'],
      ['-', '-'],
      ['-', '-'],
    ]);
  });

  it('prints a timestamp no Date can hold as its epoch ms', async () => {
    const lines = okLines(await weir(['topic', 'offsets', 'far', '--time', '0', ...b]));
    expect(lines.map((l) => l.split(/ +/))).toEqual([
      ['PARTITION', 'EARLIEST', 'LATEST', 'AT-TIME', 'TIMESTAMP'],
      ['0', '0', '1', '0', String(FAR)],
    ]);
  });

  it.each([
    [['offs', '--time', 'noon'], 2, /--time.*ISO 8601/],
    [['offs', '--format', 'xml'], 2, /--format.*text, json/],
    [['missing'], 1, /UNKNOWN_TOPIC_OR_PARTITION.*missing/],
  ])('refuses %j with exit %i and one line', async (args, code, reason) => {
    expectFailure(await weir(['topic', 'offsets', ...args, ...b]), code, reason);
  });
});
