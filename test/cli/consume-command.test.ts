// `weir consume` start positions, filters, formats and --follow, against records produced with
// known keys, headers and timestamps (two hours old and new) through the SDK.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.js';
import {
  expectFailure,
  killAll,
  jsonLines,
  okLines,
  startCliBroker,
  stallingProxy,
  startWeir,
  waitFor,
  weir,
  type CliBroker,
} from './cli-support.js';

const HOUR = 3_600_000;
let broker: CliBroker;
let admin: Admin;
let producer: Producer;
let b: string[];
let now: number;

// Topic "events", 2 partitions. Partition 0: offsets 0-2 old (2 h ago), 3-5 new. Partition 1: 0-1
// old, 2-3 new. Keys alternate a/b; new records carry header env=prod, old ones env=dev.
beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
  admin = new Admin({ bootstrap: broker.bootstrap });
  producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  await admin.createTopic('events', { partitions: 2 });
  now = Date.now();
  const record = (partition: number, i: number, old: boolean) => ({
    partition,
    key: i % 2 === 0 ? 'a' : 'b',
    value: `p${partition}-${i}`,
    headers: { env: old ? 'dev' : 'prod' },
    timestamp: old ? now - 2 * HOUR : now,
  });
  await producer.send({ topic: 'events', records: [0, 1, 2].map((i) => record(0, i, true)) });
  await producer.send({ topic: 'events', records: [3, 4, 5].map((i) => record(0, i, false)) });
  await producer.send({ topic: 'events', records: [0, 1].map((i) => record(1, i, true)) });
  await producer.send({ topic: 'events', records: [2, 3].map((i) => record(1, i, false)) });
});
afterAll(async () => {
  killAll();
  await producer?.close();
  await admin?.close();
  await broker?.close();
});

function sorted(lines: string[]): string[] {
  return [...lines].sort();
}

describe.concurrent('weir consume', () => {
  it('starts at the end by default: nothing to print without --follow, exit 0', async () => {
    expect(okLines(await weir(['consume', 'events', ...b]))).toEqual([]);
  });

  it('--from-beginning prints every record, each partition in offset order', async () => {
    const lines = okLines(await weir(['consume', 'events', '--from-beginning', ...b]));
    expect(sorted(lines)).toEqual(
      sorted(['p0-0', 'p0-1', 'p0-2', 'p0-3', 'p0-4', 'p0-5', 'p1-0', 'p1-1', 'p1-2', 'p1-3']),
    );
    expect(lines.filter((l) => l.startsWith('p0'))).toEqual(['p0-0', 'p0-1', 'p0-2', 'p0-3', 'p0-4', 'p0-5']);
  });

  it('--offset N --partition P starts there', async () => {
    const lines = okLines(await weir(['consume', 'events', '--offset', '4', '--partition', '0', ...b]));
    expect(lines).toEqual(['p0-4', 'p0-5']);
  });

  it('--offset past the end reads nothing; --offset applies to every partition read', async () => {
    expect(okLines(await weir(['consume', 'events', '--offset', '99', ...b]))).toEqual([]);
    expect(sorted(okLines(await weir(['consume', 'events', '--offset', '3', ...b])))).toEqual([
      'p0-3',
      'p0-4',
      'p0-5',
      'p1-3',
    ]);
  });

  it('--from-time starts at the first record at or after an ISO 8601 time', async () => {
    const since = new Date(now - HOUR).toISOString();
    const lines = okLines(await weir(['consume', 'events', '--from-time', since, '--partition', '1', ...b]));
    expect(lines).toEqual(['p1-2', 'p1-3']);
  });

  it('--since takes s/m/h/d durations', async () => {
    expect(sorted(okLines(await weir(['consume', 'events', '--since', '90m', ...b])))).toEqual(
      sorted(['p0-3', 'p0-4', 'p0-5', 'p1-2', 'p1-3']),
    );
    expect(okLines(await weir(['consume', 'events', '--since', '1d', ...b]))).toHaveLength(10);
  });

  it('--max-messages stops after that many printed records', async () => {
    const lines = okLines(
      await weir(['consume', 'events', '--from-beginning', '--partition', '0', '--max-messages', '2', ...b]),
    );
    expect(lines).toEqual(['p0-0', 'p0-1']);
  });

  it('--key and --header filter (all must match), and --max-messages counts what is printed', async () => {
    const byKey = okLines(
      await weir(['consume', 'events', '--from-beginning', '--partition', '0', '--key', 'b', ...b]),
    );
    expect(byKey).toEqual(['p0-1', 'p0-3', 'p0-5']);
    const both = okLines(
      await weir([
        'consume',
        'events',
        '--from-beginning',
        '--partition',
        '0',
        '--key',
        'b',
        '--header',
        'env=prod',
        ...b,
      ]),
    );
    expect(both).toEqual(['p0-3', 'p0-5']);
    const present = okLines(await weir(['consume', 'events', '--from-beginning', '--header', 'env', ...b]));
    expect(present).toHaveLength(10);
    expect(okLines(await weir(['consume', 'events', '--from-beginning', '--header', 'zone', ...b]))).toEqual(
      [],
    );
    const firstProd = okLines(
      await weir([
        'consume',
        'events',
        '--from-beginning',
        '--partition',
        '0',
        '--header',
        'env=prod',
        '--max-messages',
        '1',
        ...b,
      ]),
    );
    expect(firstProd).toEqual(['p0-3']);
  });

  it('--format kv prints key TAB value; json has the record fields', async () => {
    const kv = okLines(
      await weir(['consume', 'events', '--from-beginning', '--partition', '1', '--format', 'kv', ...b]),
    );
    expect(kv).toEqual(['a\tp1-0', 'b\tp1-1', 'a\tp1-2', 'b\tp1-3']);
    const json = jsonLines(
      await weir(['consume', 'events', '--offset', '3', '--partition', '1', '--format', 'json', ...b]),
    );
    expect(json).toEqual([
      {
        topic: 'events',
        partition: 1,
        offset: 3,
        timestamp: now,
        key: 'b',
        value: 'p1-3',
        headers: [{ key: 'env', value: 'prod' }],
      },
    ]);
  });

  it.each([
    [['--from-beginning', '--offset', '1'], /--from-beginning.*cannot be used with.*--offset/],
    [['--from-beginning', '--from-time', '2026-01-01'], /--from-beginning.*cannot be used with.*--from-time/],
    [['--from-time', '2026-01-01', '--since', '1h'], /--from-time.*cannot be used with.*--since/],
    [['--since', '15 minutes'], /--since.*30s, 15m, 2h or 7d/],
    [['--from-time', 'yesterday'], /--from-time.*ISO 8601/],
    [['--partition', '7'], /--partition 7: events has 2 partitions/],
    [['--format', 'xml'], /--format.*value, kv, json/],
  ])('refuses %j with exit 2 and one line', async (args, reason) => {
    expectFailure(await weir(['consume', 'events', ...args, ...b]), 2, reason);
  });

  it('refuses an unknown topic with exit 1 and one line', async () => {
    expectFailure(await weir(['consume', 'missing', ...b]), 1, /UNKNOWN_TOPIC_OR_PARTITION.*missing/);
  });
});

describe('weir consume against a broker that stops answering', () => {
  it('fails after --timeout-ms without records instead of waiting for ever', async () => {
    await admin.createTopic('stall', { partitions: 1 });
    const value = 'x'.repeat(100);
    await producer.send({ topic: 'stall', records: Array.from({ length: 20_000 }, () => ({ value })) });
    const proxy = await stallingProxy(broker.bootstrap, 64 * 1024);
    try {
      const r = await weir([
        'consume',
        'stall',
        '--from-beginning',
        '--timeout-ms',
        '1000',
        '--bootstrap',
        proxy.address,
      ]);
      expectFailure(r, 1, /no records from the broker in 1000 ms with 1 partition\(s\) not yet read/);
      expect(r.ms).toBeLessThan(10_000);
    } finally {
      proxy.close();
    }
  });
});

describe('weir consume --follow', () => {
  it('prints records produced after it started, from the end, and exits 0 on SIGTERM', async () => {
    await admin.createTopic('tail', { partitions: 1 });
    await producer.send({ topic: 'tail', value: 'old' });
    const tail = startWeir(['consume', 'tail', '-f', '--format', 'kv', ...b], { timeoutMs: 30_000 });
    // The consumer starts at the end once it has looked it up; keep producing until it prints.
    let sent = 0;
    const pump = setInterval(() => {
      void producer.send({ topic: 'tail', key: 'k', value: `new-${sent++}` });
    }, 200);
    try {
      await waitFor(() => tail.stdout().includes('\n'), 'the first tailed record', 15_000);
    } finally {
      clearInterval(pump);
    }
    expect(tail.stdout().split('\n')[0]).toMatch(/^k\tnew-\d+$/);
    expect(tail.stdout()).not.toContain('old');
    tail.child.kill('SIGTERM');
    const result = await tail.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
  });

  it('with --from-beginning and --max-messages, waits for enough records, then exits 0', async () => {
    await admin.createTopic('tail2', { partitions: 1 });
    await producer.send({ topic: 'tail2', value: 'first' });
    const tail = startWeir(['consume', 'tail2', '-f', '--from-beginning', '--max-messages', '2', ...b]);
    await waitFor(() => tail.stdout() === 'first\n', 'the existing record', 15_000);
    await producer.send({ topic: 'tail2', value: 'second' });
    const result = await tail.exited;
    expect(okLines(result)).toEqual(['first', 'second']);
  });

  it('SIGINT stops it too, with exit 0', async () => {
    await admin.createTopic('tail3', { partitions: 1 });
    const tail = startWeir(['consume', 'tail3', '--follow', '--from-beginning', ...b]);
    await producer.send({ topic: 'tail3', value: 'x' });
    await waitFor(() => tail.stdout() === 'x\n', 'the record', 15_000);
    tail.child.kill('SIGINT');
    expect((await tail.exited).code).toBe(0);
  });
});
