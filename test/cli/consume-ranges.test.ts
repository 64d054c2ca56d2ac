// `weir consume` offsets counted from the end, end points (--until, --count), format templates, and
// several topics or a --pattern, against records produced with known keys, headers and timestamps.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.js';
import {
  expectFailure,
  killAll,
  jsonLines,
  okLines,
  startCliBroker,
  startWeir,
  waitFor,
  weir,
  type CliBroker,
} from './cli-support.js';

let broker: CliBroker;
let admin: Admin;
let producer: Producer;
let b: string[];
/** Whole seconds, an hour ago: record i of "seq" is stamped t0 + i s. */
let t0: number;

const iso = (ms: number): string => new Date(ms).toISOString();

// "seq": 2 partitions; partition 0 holds s0-0..s0-5 (offsets 0-5), partition 1 s1-0..s1-2, record i
// at t0 + i s. "fmt": 1 partition; offset 0 key k1, value hello, headers a=1 b=2; offset 1 a
// tombstone with no key. "multi-a" (1 partition: a0, a1), "multi-b" (2 partitions: b0 in 0, b1 in
// 1) and "xmulti-c" (c0), for several topics and patterns.
beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
  admin = new Admin({ bootstrap: broker.bootstrap });
  producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  t0 = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
  await admin.createTopic('seq', { partitions: 2 });
  await admin.createTopic('fmt', { partitions: 1 });
  await admin.createTopic('multi-a', { partitions: 1 });
  await admin.createTopic('multi-b', { partitions: 2 });
  await admin.createTopic('xmulti-c', { partitions: 1 });
  const seq = (partition: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      partition,
      value: `s${partition}-${i}`,
      timestamp: t0 + i * 1000,
    }));
  await producer.send({ topic: 'seq', records: seq(0, 6) });
  await producer.send({ topic: 'seq', records: seq(1, 3) });
  await producer.send({
    topic: 'fmt',
    records: [
      { key: 'k1', value: 'hello', headers: { a: '1', b: '2' }, timestamp: t0 },
      { value: null, timestamp: t0 + 1000 },
    ],
  });
  await producer.send({ topic: 'multi-a', records: [{ value: 'a0' }, { value: 'a1' }] });
  await producer.send({
    topic: 'multi-b',
    records: [
      { partition: 0, value: 'b0' },
      { partition: 1, value: 'b1' },
    ],
  });
  await producer.send({ topic: 'xmulti-c', value: 'c0' });
});
afterAll(async () => {
  killAll();
  await producer?.close();
  await admin?.close();
  await broker?.close();
});

const sorted = (lines: string[]): string[] => [...lines].sort();

describe.concurrent('weir consume --offset -N', () => {
  it('starts N records before the end of each partition', async () => {
    expect(okLines(await weir(['consume', 'seq', '--offset', '-2', '--partition', '0', ...b]))).toEqual([
      's0-4',
      's0-5',
    ]);
    expect(sorted(okLines(await weir(['consume', 'seq', '--offset=-2', ...b])))).toEqual(
      sorted(['s0-4', 's0-5', 's1-1', 's1-2']),
    );
  });

  it('clamps at the log start when a partition holds fewer than N', async () => {
    expect(okLines(await weir(['consume', 'seq', '--offset', '-4', '--partition', '1', ...b]))).toEqual([
      's1-0',
      's1-1',
      's1-2',
    ]);
  });

  it('-0 starts at the end, and the sign is refused with --from-beginning', async () => {
    expect(okLines(await weir(['consume', 'seq', '--offset', '-0', ...b]))).toEqual([]);
    expectFailure(
      await weir(['consume', 'seq', '--offset', '-1', '--from-beginning', ...b]),
      2,
      /--from-beginning.*cannot be used with.*--offset/,
    );
    expectFailure(
      await weir(['consume', 'seq', '--offset', '-x', ...b]),
      2,
      /--offset.*count back from the end/,
    );
  });
});

describe.concurrent('weir consume --until', () => {
  it('an offset stops each partition before it (exclusive)', async () => {
    const lines = okLines(await weir(['consume', 'seq', '--from-beginning', '--until', '2', ...b]));
    expect(sorted(lines)).toEqual(sorted(['s0-0', 's0-1', 's1-0', 's1-1']));
    expect(
      okLines(await weir(['consume', 'seq', '--offset', '3', '--until', '5', '--partition', '0', ...b])),
    ).toEqual(['s0-3', 's0-4']);
    expect(okLines(await weir(['consume', 'seq', '--from-beginning', '--until', '0', ...b]))).toEqual([]);
  });

  it('past the high watermark, without --follow, reads to the high watermark', async () => {
    const lines = okLines(
      await weir(['consume', 'seq', '--from-beginning', '--until', '100', '--partition', '1', ...b]),
    );
    expect(lines).toEqual(['s1-0', 's1-1', 's1-2']);
  });

  it('a time stops each partition at its first record at or after it (ISO 8601 or @epoch-ms)', async () => {
    const byIso = okLines(
      await weir(['consume', 'seq', '--from-beginning', '--until', iso(t0 + 1500), ...b]),
    );
    expect(sorted(byIso)).toEqual(sorted(['s0-0', 's0-1', 's1-0', 's1-1']));
    const byMs = okLines(
      await weir([
        'consume',
        'seq',
        '--from-beginning',
        '--until',
        `@${t0 + 4000}`,
        '--partition',
        '0',
        ...b,
      ]),
    );
    expect(byMs).toEqual(['s0-0', 's0-1', 's0-2', 's0-3']);
  });

  it('with --follow, exits at once when every partition is already at its end point', async () => {
    const r = await weir(['consume', 'seq', '-f', '--from-beginning', '--until', iso(t0 + 1000), ...b]);
    expect(sorted(okLines(r))).toEqual(['s0-0', 's1-0']);
    expect(okLines(await weir(['consume', 'seq', '-f', '--until', '3', ...b]))).toEqual([]);
  });

  it.each([
    [['--until', 'soon'], /--until.*an offset.*ISO 8601.*epoch ms/],
    [['--until', '-3'], /--until.*an offset/],
    [['--group', 'g', '--until', '3'], /--until cannot be used with --group/],
  ])('refuses %j with exit 2 and one line', async (args, reason) => {
    expectFailure(await weir(['consume', 'seq', ...args, ...b]), 2, reason);
  });
});

describe('weir consume --follow --until', () => {
  it('waits for the partition to reach the offset, then exits 0 by itself', async () => {
    await admin.createTopic('grow', { partitions: 1 });
    await producer.send({ topic: 'grow', records: [0, 1, 2].map((i) => ({ value: `g${i}` })) });
    const run = startWeir(['consume', 'grow', '-f', '--from-beginning', '--until', '5', ...b]);
    await waitFor(() => run.stdout() === 'g0\ng1\ng2\n', 'the first three records', 15_000);
    await producer.send({ topic: 'grow', records: [3, 4, 5, 6].map((i) => ({ value: `g${i}` })) });
    expect(okLines(await run.exited)).toEqual(['g0', 'g1', 'g2', 'g3', 'g4']);
  });

  it('with a time, exits at the first record at or after it, without printing it', async () => {
    await admin.createTopic('deadline', { partitions: 1 });
    const now = Date.now();
    await producer.send({ topic: 'deadline', records: [{ value: 'old', timestamp: now - 60_000 }] });
    const run = startWeir([
      'consume',
      'deadline',
      '-f',
      '--from-beginning',
      '--until',
      iso(now + 3_600_000),
      ...b,
    ]);
    await waitFor(() => run.stdout() === 'old\n', 'the existing record', 15_000);
    await producer.send({
      topic: 'deadline',
      records: [
        { value: 'before', timestamp: now },
        { value: 'at', timestamp: now + 3_600_000 },
        { value: 'after', timestamp: now },
      ],
    });
    expect(okLines(await run.exited)).toEqual(['old', 'before']);
  });
});

describe.concurrent('weir consume --count', () => {
  it('-c N and --count N stop after N printed records', async () => {
    const args = ['consume', 'seq', '--from-beginning', '--partition', '0'];
    expect(okLines(await weir([...args, '-c', '2', ...b]))).toEqual(['s0-0', 's0-1']);
    expect(okLines(await weir([...args, '--count', '3', ...b]))).toEqual(['s0-0', 's0-1', 's0-2']);
    expectFailure(
      await weir([...args, '-c', '1', '--max-messages', '2', ...b]),
      2,
      /--count.*cannot be used with.*--max-messages/,
    );
  });
});

describe('weir consume --group --count', () => {
  it('-c counts what a group member prints, and the template applies too', async () => {
    const r = await weir([
      'consume',
      'seq',
      '--group',
      'counted',
      '--from-beginning',
      '-c',
      '3',
      '--format',
      '%t/%p/%o\\n',
      ...b,
    ]);
    const lines = okLines(r);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^seq\/[01]\/[0-5]$/);
  });
});

describe.concurrent('weir consume --format TEMPLATE', () => {
  it('prints every placeholder; a null key or value prints nothing, its length -1', async () => {
    const template = '%t|%p|%o|%T|%I|%k|%s|%K|%S|%h|%%\\n';
    const lines = okLines(await weir(['consume', 'fmt', '--from-beginning', '--format', template, ...b]));
    expect(lines).toEqual([
      `fmt|0|0|${t0}|${iso(t0)}|k1|hello|2|5|a=1,b=2|%`,
      `fmt|0|1|${t0 + 1000}|${iso(t0 + 1000)}|||-1|-1||%`,
    ]);
  });

  it('prints exactly the template: \\t and \\n escapes, no newline added', async () => {
    const tabbed = await weir(['consume', 'fmt', '--from-beginning', '--format', '%o\\t%K;', ...b]);
    expect(tabbed.code, tabbed.stderr).toBe(0);
    expect(tabbed.stdout).toBe('0\t2;1\t-1;');
  });

  it.each([
    ['%o %x', /--format.*unknown placeholder '%x'/],
    ['%o\\q', /--format.*unknown escape '\\q'/],
    ['yaml', /--format.*value, kv, json or a template/],
  ])('refuses %j with exit 2 and one line', async (format, reason) => {
    expectFailure(await weir(['consume', 'fmt', '--format', format, ...b]), 2, reason);
  });
});

describe.concurrent('weir consume with several topics', () => {
  it('reads each topic named, printing topic TAB value by default', async () => {
    const lines = okLines(await weir(['consume', 'multi-a', 'multi-b', '--from-beginning', ...b]));
    expect(sorted(lines)).toEqual(['multi-a\ta0', 'multi-a\ta1', 'multi-b\tb0', 'multi-b\tb1']);
  });

  it('--pattern reads the topics whose whole name matches', async () => {
    const lines = okLines(await weir(['consume', '--pattern', 'multi-.*', '--from-beginning', ...b]));
    expect(sorted(lines)).toEqual(['multi-a\ta0', 'multi-a\ta1', 'multi-b\tb0', 'multi-b\tb1']);
    const json = jsonLines(
      await weir(['consume', '--pattern', '.*multi-[bc]', '--from-beginning', '--format', 'json', ...b]),
    );
    expect(sorted(json.map((r) => `${String(r.topic)}/${String(r.partition)}/${String(r.value)}`))).toEqual([
      'multi-b/0/b0',
      'multi-b/1/b1',
      'xmulti-c/0/c0',
    ]);
  });

  it('--partition, --offset -N and --until apply to each topic', async () => {
    const lines = okLines(
      await weir([
        'consume',
        'multi-a',
        'multi-b',
        '--offset',
        '-1',
        '--partition',
        '0',
        '--format',
        '%t:%s\\n',
        ...b,
      ]),
    );
    expect(sorted(lines)).toEqual(['multi-a:a1', 'multi-b:b0']);
    const until = okLines(
      await weir(['consume', 'multi-a', 'seq', '--from-beginning', '--until', '1', ...b]),
    );
    expect(sorted(until)).toEqual(['multi-a\ta0', 'seq\ts0-0', 'seq\ts1-0']);
  });

  it.each([
    [['--pattern', 'nothing-.*'], 1, /no topic matches --pattern 'nothing-.\*'/],
    [['--pattern', 'multi-('], 2, /--pattern 'multi-\(' is not a valid RE2 expression/],
    [['multi-a', '--pattern', 'multi-.*'], 2, /give topics or --pattern, not both/],
    [[], 2, /name a topic to read/],
    [['multi-a', 'multi-b', '--group', 'g'], 2, /several topics cannot be used with --group/],
    [['--pattern', 'multi-.*', '--group', 'g'], 2, /--pattern cannot be used with --group/],
    [['multi-a', 'missing'], 1, /UNKNOWN_TOPIC_OR_PARTITION.*missing/],
  ])('refuses %j with exit %i and one line', async (args, code, reason) => {
    expectFailure(await weir(['consume', ...args, ...b]), code, reason);
  });
});
