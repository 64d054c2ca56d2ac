// Prometheus metrics: through a real broker (/metrics after produce and fetch over gRPC), and the
// BrokerMetrics registry on its own against a fake broker.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import { encodeBatch } from '../../proto/record-batch.js';
import type { PartitionStats } from '../../broker/broker.js';
import { BrokerMetrics, LATENCY_BUCKETS_SECONDS, UNKNOWN_TOPIC_LABEL } from '../../broker/metrics.js';
import { RaftTotals } from '../../broker/replica/raft-totals.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';
import { http, sample } from './http-support.js';

let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker();
  await b.call('CreateTopic', { name: 'metered', partitions: 2 });
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

async function scrape(): Promise<string> {
  const res = await http(b.running.httpAddress, 'GET', '/metrics');
  expect(res.status).toBe(200);
  return res.body as string;
}

function produceRecords(
  topic: string,
  partition: number,
  values: string[],
): Promise<ProduceResponse__Output> {
  return b.call('Produce', {
    partitions: [{ topic, partition, records: values.map((v) => ({ value: Buffer.from(v) })) }],
  });
}

describe('GET /metrics', () => {
  it('given one broker, then each partition elected itself once, and each produce is timed to its commit', async () => {
    const before = await scrape();
    const commits = (t: string) => sample(t, 'weir_raft_commit_latency_seconds_count') ?? 0;
    await produceRecords('metered', 1, ['x']);
    await produceRecords('metered', 1, ['y', 'z']);
    const text = await scrape();
    expect(commits(text) - commits(before)).toBe(2);
    // A partition of one broker: its own group of one, elected at start, never under-replicated.
    const won = sample(text, 'weir_raft_elections_won_total')!;
    expect(won).toBe(sample(text, 'weir_raft_elections_started_total'));
    expect(won).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'weir_partition_raft_term', { topic: 'metered', partition: '1' })).toBe(1);
    expect(sample(text, 'weir_under_replicated_partitions')).toBe(0);
    expect(text).not.toContain('weir_follower_lag_ms{');
  });

  it('serves Prometheus text with the process metrics under their standard names', async () => {
    const res = await http(b.running.httpAddress, 'GET', '/metrics');
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = res.body as string;
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('# TYPE weir_produce_latency_seconds histogram');
    expect(text).toContain('# TYPE weir_fetch_latency_seconds histogram');
  });

  it('given records produced over gRPC, then the produce counters grow by what was produced', async () => {
    const before = await scrape();
    const records = (t: string) => sample(t, 'weir_produce_records_total', { topic: 'metered' }) ?? 0;
    const requests = (t: string) => sample(t, 'weir_produce_requests_total', { topic: 'metered' }) ?? 0;
    const bytes = (t: string) => sample(t, 'weir_produce_bytes_total', { topic: 'metered' }) ?? 0;
    const count = (t: string) => sample(t, 'weir_produce_latency_seconds_count') ?? 0;

    await produceRecords('metered', 0, ['a', 'b', 'c']);
    const batch = encodeBatch(['d', 'e'].map((v) => ({ timestamp: 1, key: null, value: Buffer.from(v) })));
    await b.call('Produce', { partitions: [{ topic: 'metered', partition: 1, batches: batch }] });

    const after = await scrape();
    expect(records(after) - records(before)).toBe(5);
    expect(requests(after) - requests(before)).toBe(2);
    expect(bytes(after) - bytes(before)).toBeGreaterThanOrEqual(batch.length);
    expect(count(after) - count(before)).toBe(2);
    const inf = sample(after, 'weir_produce_latency_seconds_bucket', { le: '+Inf' });
    expect(inf).toBe(sample(after, 'weir_produce_latency_seconds_count'));
    expect(sample(after, 'weir_produce_latency_seconds_bucket', { le: '0.0001' })).toBeDefined();
    expect(sample(after, 'weir_produce_latency_seconds_bucket', { le: '10' })).toBeDefined();
  });

  it('given a fetch, then the fetch counters and histogram count it', async () => {
    await produceRecords('metered', 1, ['f']);
    const before = await scrape();
    const fetched = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 'metered', partition: 1, offset: 0 }],
      maxBytes: 1 << 20,
    });
    const after = await scrape();
    const fetchBytes = (t: string) => sample(t, 'weir_fetch_bytes_total', { topic: 'metered' }) ?? 0;
    const fetchRequests = (t: string) => sample(t, 'weir_fetch_requests_total', { topic: 'metered' }) ?? 0;
    expect(fetchBytes(after) - fetchBytes(before)).toBe(fetched.results[0]!.batches.length);
    expect(fetchRequests(after) - fetchRequests(before)).toBe(1);
    expect(
      (sample(after, 'weir_fetch_latency_seconds_count') ?? 0) -
        (sample(before, 'weir_fetch_latency_seconds_count') ?? 0),
    ).toBe(1);
  });

  it('shows each partition: high watermark, offsets, size and segments', async () => {
    await b.call('CreateTopic', { name: 'gauged', partitions: 2 });
    await produceRecords('gauged', 1, ['a', 'b', 'c', 'd']);
    const text = await scrape();
    const p1 = { topic: 'gauged', partition: '1' };
    const p0 = { topic: 'gauged', partition: '0' };
    expect(sample(text, 'weir_partition_high_watermark', p1)).toBe(4);
    expect(sample(text, 'weir_partition_log_end_offset', p1)).toBe(4);
    expect(sample(text, 'weir_partition_log_start_offset', p1)).toBe(0);
    expect(sample(text, 'weir_partition_segments', p1)).toBe(1);
    expect(sample(text, 'weir_partition_size_bytes', p1)).toBe(
      b.running.broker.describeTopic('gauged').partitions[1]!.sizeBytes,
    );
    expect(sample(text, 'weir_partition_high_watermark', p0)).toBe(0);

    await produceRecords('gauged', 1, ['e']);
    expect(sample(await scrape(), 'weir_partition_high_watermark', p1)).toBe(5);
  });

  it('counts failures by code, under one label for topics that do not exist', async () => {
    const res = await produceRecords('no-such-topic', 0, ['x']);
    expect(res.results[0]?.error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    await produceRecords('metered', 7, ['x']);
    const text = await scrape();
    expect(
      sample(text, 'weir_produce_errors_total', {
        topic: UNKNOWN_TOPIC_LABEL,
        code: 'UNKNOWN_TOPIC_OR_PARTITION',
      }),
    ).toBe(1);
    expect(
      sample(text, 'weir_produce_errors_total', { topic: 'metered', code: 'UNKNOWN_TOPIC_OR_PARTITION' }),
    ).toBe(1);
    expect(text).not.toContain('no-such-topic');
  });

  it('given a topic deleted, then its series are gone at the next scrape', async () => {
    await b.call('CreateTopic', { name: 'fleeting', partitions: 1 });
    await produceRecords('fleeting', 0, ['x']);
    expect(sample(await scrape(), 'weir_produce_records_total', { topic: 'fleeting' })).toBe(1);
    await b.call('DeleteTopic', { name: 'fleeting' });
    const text = await scrape();
    expect(text).not.toContain('topic="fleeting"');
  });
});

/** A broker stand-in with fixed partitions. */
/**
 * The weir_partition_* samples of a scrape as `name topic partition` to value, checking that each
 * family is announced once (HELP then TYPE) and its samples follow it without interruption.
 */
function partitionSeries(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const announced = new Set<string>();
  let family: string | null = null;
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      family = type[1]!;
      if (family.startsWith('weir_partition_')) {
        expect(announced.has(family)).toBe(false);
        expect(type[2]).toBe('gauge');
        announced.add(family);
      }
      continue;
    }
    const m = /^(weir_partition_\w+)\{topic="([^"]*)",partition="(\d+)"\} (\S+)$/.exec(line);
    if (m === null) {
      expect(line.startsWith('weir_partition_')).toBe(false);
      continue;
    }
    expect(m[1]).toBe(family);
    const key = `${m[1]} ${m[2]} ${m[3]}`;
    expect(out.has(key)).toBe(false);
    out.set(key, Number(m[4]));
  }
  expect(announced.size).toBe(7);
  return out;
}

function fakeSource(topics: Record<string, Partial<PartitionStats>[]>, totals = new RaftTotals()) {
  const stats = (p: Partial<PartitionStats>, i: number): PartitionStats => ({
    partition: i,
    leader: 0,
    replicas: [0],
    logStartOffset: 0,
    highWatermark: 0,
    logEndOffset: 0,
    sizeBytes: 0,
    segments: 1,
    isr: [0],
    term: 1,
    followers: [],
    ...p,
  });
  return {
    topics,
    listTopics: () => Object.keys(topics).map((name) => ({ name })),
    describeTopic: (name: string) => {
      const list = topics[name];
      if (list === undefined) throw new WeirError('UNKNOWN_TOPIC_OR_PARTITION', name);
      return { partitions: list.map(stats) };
    },
    partitionCount: (name: string) => topics[name]?.length ?? 0,
    allPartitionStats: () =>
      Object.entries(topics).flatMap(([topic, list]) => list.map((p, i) => ({ topic, stats: stats(p, i) }))),
    raftTotals: () => totals,
  };
}

describe('BrokerMetrics', () => {
  it('keeps a registry per broker, so two brokers in one process count apart', async () => {
    const one = new BrokerMetrics(fakeSource({ t: [{}] }), { defaultMetrics: false });
    const two = new BrokerMetrics(fakeSource({ t: [{}] }), { defaultMetrics: false });
    one.onProduce('t', 0, 10, 100, 0.001, null);
    two.onProduce('t', 0, 3, 30, 0.001, null);
    expect(sample(await one.scrape(), 'weir_produce_records_total', { topic: 't' })).toBe(10);
    expect(sample(await two.scrape(), 'weir_produce_records_total', { topic: 't' })).toBe(3);
    expect(await one.scrape()).not.toContain('process_cpu');
  });

  it('buckets latencies from 100 µs to 10 s', async () => {
    const m = new BrokerMetrics(fakeSource({ t: [{}] }), { defaultMetrics: false });
    expect(LATENCY_BUCKETS_SECONDS[0]).toBe(0.0001);
    expect(LATENCY_BUCKETS_SECONDS.at(-1)).toBe(10);
    m.onFetch('t', 0, 0, 0.00005, null);
    m.onFetch('t', 0, 0, 0.3, null);
    m.onFetch('t', 0, 0, 60, null);
    const text = await m.scrape();
    expect(sample(text, 'weir_fetch_latency_seconds_bucket', { le: '0.0001' })).toBe(1);
    expect(sample(text, 'weir_fetch_latency_seconds_bucket', { le: '0.5' })).toBe(2);
    expect(sample(text, 'weir_fetch_latency_seconds_bucket', { le: '10' })).toBe(2);
    expect(sample(text, 'weir_fetch_latency_seconds_bucket', { le: '+Inf' })).toBe(3);
  });

  it('does not count records or bytes of a failed produce, but counts the request and the code', async () => {
    const m = new BrokerMetrics(fakeSource({ t: [{}] }), { defaultMetrics: false });
    m.onProduce('t', 0, 0, 500, 0.001, new WeirError('CORRUPT_MESSAGE'));
    const text = await m.scrape();
    expect(sample(text, 'weir_produce_requests_total', { topic: 't' })).toBe(1);
    expect(sample(text, 'weir_produce_errors_total', { topic: 't', code: 'CORRUPT_MESSAGE' })).toBe(1);
    expect(sample(text, 'weir_produce_bytes_total', { topic: 't' })).toBeUndefined();
  });

  it('reads the partitions afresh at every scrape, dropping partitions of deleted topics', async () => {
    const source = fakeSource({ a: [{ highWatermark: 5 }], b: [{}, { highWatermark: 9, sizeBytes: 1234 }] });
    const m = new BrokerMetrics(source, { defaultMetrics: false });
    let text = await m.scrape();
    expect(sample(text, 'weir_partition_high_watermark', { topic: 'a', partition: '0' })).toBe(5);
    expect(sample(text, 'weir_partition_size_bytes', { topic: 'b', partition: '1' })).toBe(1234);
    source.topics.a = [{ highWatermark: 6 }];
    delete source.topics.b;
    text = await m.scrape();
    expect(sample(text, 'weir_partition_high_watermark', { topic: 'a', partition: '0' })).toBe(6);
    expect(text).not.toContain('topic="b"');
  });

  it('reads the broker once per scrape, whatever the number of partition gauges', async () => {
    const source = fakeSource({ a: [{}] });
    let reads = 0;
    const counted = {
      ...source,
      listTopics: () => {
        reads++;
        return source.listTopics();
      },
    };
    const m = new BrokerMetrics(counted, { defaultMetrics: false });
    await m.scrape();
    await m.scrape();
    expect(reads).toBe(2);
  });

  it('writes every partition of a large broker with its own values, and follows changes', async () => {
    // More partitions than one slice of the writer, with values that differ per partition and gauge.
    const many = (n: number, shift: number): Partial<PartitionStats>[] =>
      Array.from({ length: n }, (_, i) => ({
        sizeBytes: i * 7 + shift,
        highWatermark: i * 3 + 1 + shift,
        logStartOffset: i + shift,
        logEndOffset: i * 3 + 2 + shift,
        segments: 1 + ((i + shift) % 4),
        leader: (i + shift) % 3,
        term: i + 2 * shift,
      }));
    const source = fakeSource({ a: many(2500, 0), b: many(2, 0) });
    const m = new BrokerMetrics(source, { defaultMetrics: false });
    const expectAll = (text: string, topics: Record<string, Partial<PartitionStats>[]>): void => {
      const series = partitionSeries(text);
      const expected = new Map<string, number>();
      for (const [topic, list] of Object.entries(topics))
        list.forEach((p, i) => {
          expected.set(`weir_partition_size_bytes ${topic} ${i}`, p.sizeBytes!);
          expected.set(`weir_partition_high_watermark ${topic} ${i}`, p.highWatermark!);
          expected.set(`weir_partition_log_start_offset ${topic} ${i}`, p.logStartOffset!);
          expected.set(`weir_partition_log_end_offset ${topic} ${i}`, p.logEndOffset!);
          expected.set(`weir_partition_segments ${topic} ${i}`, p.segments!);
          expected.set(`weir_partition_leader ${topic} ${i}`, p.leader!);
          expected.set(`weir_partition_raft_term ${topic} ${i}`, p.term!);
        });
      expect(series).toEqual(expected);
    };

    expectAll(await m.scrape(), source.topics);
    source.topics.a = many(2501, 5);
    delete source.topics.b;
    source.topics.c = many(1, 9);
    expectAll(await m.scrape(), source.topics);
  });

  it('lets other work run while it writes the partitions of a large broker', async () => {
    const m = new BrokerMetrics(fakeSource({ a: Array.from({ length: 5000 }, () => ({})) }), {
      defaultMetrics: false,
    });
    let ranDuringScrape = false;
    const scraping = m.scrape();
    setImmediate(() => (ranDuringScrape = true));
    const text = await scraping;
    expect(ranDuringScrape).toBe(true);
    expect(sample(text, 'weir_partition_segments', { topic: 'a', partition: '4999' })).toBe(1);
  });

  it('skips a topic deleted between listing and describing it', async () => {
    const source = fakeSource({ a: [{ highWatermark: 1 }] });
    const m = new BrokerMetrics(
      { ...source, listTopics: () => [{ name: 'a' }, { name: 'gone' }] },
      { defaultMetrics: false },
    );
    const text = await m.scrape();
    expect(sample(text, 'weir_partition_high_watermark', { topic: 'a', partition: '0' })).toBe(1);
  });
});

describe('replication metrics', () => {
  const follower = (nodeId: number, lagRecords: number, lagMs: number, inSync: boolean) => ({
    nodeId,
    matchEnd: 100 - lagRecords,
    lagRecords,
    lagMs,
    inSync,
  });

  it('count the partitions led here with fewer in-sync replicas than replicas, and each follower’s lag', async () => {
    const source = fakeSource({
      t: [
        // led here, all in sync
        {
          replicas: [0, 1, 2],
          isr: [0, 1, 2],
          followers: [follower(1, 0, 0, true), follower(2, 3, 100, true)],
        },
        // led here, node 2 out
        {
          replicas: [0, 1, 2],
          isr: [0, 1],
          followers: [follower(1, 0, 0, true), follower(2, 40, 31_000, false)],
        },
        // led elsewhere: only the leader is known in sync, and that is not under-replication here
        { leader: 1, replicas: [0, 1, 2], isr: [1], followers: [] },
        // a group of one
        { replicas: [0], isr: [0], followers: [] },
      ],
    });
    const text = await new BrokerMetrics(source, { defaultMetrics: false }).scrape();
    expect(sample(text, 'weir_under_replicated_partitions')).toBe(1);
    const at = (partition: string, f: string) => ({ topic: 't', partition, follower: f });
    expect(sample(text, 'weir_follower_lag_records', at('1', '2'))).toBe(40);
    expect(sample(text, 'weir_follower_lag_ms', at('1', '2'))).toBe(31_000);
    expect(sample(text, 'weir_follower_lag_records', at('0', '2'))).toBe(3);
    expect(sample(text, 'weir_follower_lag_ms', at('0', '1'))).toBe(0);
    // No follower series where this broker does not lead.
    expect(text).not.toMatch(/weir_follower_lag_\w+\{topic="t",partition="[23]"/);
    expect(text).toContain('# TYPE weir_under_replicated_partitions gauge');
    expect(text).toContain('# TYPE weir_follower_lag_ms gauge');
  });

  it('write the Raft groups’ election counters and commit latency histogram from the broker’s totals', async () => {
    const totals = new RaftTotals();
    const m = new BrokerMetrics(fakeSource({ t: [{}, {}] }, totals), { defaultMetrics: false });
    let text = await m.scrape();
    expect(sample(text, 'weir_raft_elections_started_total')).toBe(0);
    expect(sample(text, 'weir_raft_commit_latency_seconds_count')).toBe(0);
    totals.electionsStarted = 3;
    totals.electionsWon = 2;
    totals.observeCommit(0.00005);
    totals.observeCommit(0.02);
    totals.observeCommit(60);
    text = await m.scrape();
    expect(text).toContain('# TYPE weir_raft_elections_started_total counter');
    expect(text).toContain('# TYPE weir_raft_commit_latency_seconds histogram');
    expect(sample(text, 'weir_raft_elections_started_total')).toBe(3);
    expect(sample(text, 'weir_raft_elections_won_total')).toBe(2);
    const bucket = (le: string) => sample(text, 'weir_raft_commit_latency_seconds_bucket', { le });
    expect([bucket('0.0001'), bucket('0.01'), bucket('0.025'), bucket('10'), bucket('+Inf')]).toEqual([
      1, 1, 2, 2, 3,
    ]);
    expect(sample(text, 'weir_raft_commit_latency_seconds_count')).toBe(3);
    expect(sample(text, 'weir_raft_commit_latency_seconds_sum')).toBeCloseTo(60.02005, 6);
  });
});
