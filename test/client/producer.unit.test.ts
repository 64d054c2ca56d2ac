// The producer against an in-memory broker (fakes.ts) and a manual clock: partitioning, linger
// and size batching, buffer limits, and above all ordering and exactly-once under retries, with
// faults injected per request. The same scenarios with the real broker are in the integration
// suites; here every interleaving is deterministic.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Producer, type ProducerOptions } from '../../client/producer.js';
import { isWeirError, WeirError } from '../../proto/errors.js';
import { partitionForKey } from '../../proto/partitioner.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { ManualClock } from '../../storage/clock.js';
import { seededRandom } from '../storage/helpers.js';
import { FakeBrokerTransport, FakeConnection, turn, type Fault } from './fakes.js';

interface Harness {
  producer: Producer;
  transport: FakeBrokerTransport;
  connection: FakeConnection;
  clock: ManualClock;
}

function harness(topics: Record<string, number>, options: ProducerOptions = {}, seed = 1): Harness {
  const connection = new FakeConnection(topics);
  const transport = new FakeBrokerTransport();
  const clock = new ManualClock();
  const producer = new Producer({
    connection,
    transport,
    clock,
    random: seededRandom(seed),
    ...options,
  });
  return { producer, transport, connection, clock };
}

/**
 * Runs the broker and the clock until every promise settled (or fails after `maxSteps`). The
 * broker answers everything pending at each step, or with `oneAtATime` one request per step.
 */
async function settle(
  h: Harness,
  promises: readonly Promise<unknown>[],
  maxSteps = 5000,
  oneAtATime = false,
): Promise<void> {
  let done = false;
  void Promise.allSettled(promises).then(() => (done = true));
  for (let step = 0; step < maxSteps && !done; step++) {
    await turn();
    if (h.transport.pending.length === 0) h.clock.advance(20);
    else if (oneAtATime) h.transport.processOne();
    else h.transport.processAll();
  }
  if (!done) throw new Error(`not settled after ${maxSteps} steps`);
}

function values(records: { value: string | null }[]): (string | null)[] {
  return records.map((r) => r.value);
}

function messages(prefix: string, count: number, valueBytes = 20): { value: string }[] {
  return Array.from({ length: count }, (_, i) => ({ value: `${prefix}${i}`.padEnd(valueBytes, '.') }));
}

// No merging of queued batches, so each batch closed is one batch sent (as in Kafka).
const UNMERGED = { batchBytes: 300, maxRequestBytes: 300 };

describe('partitioning', () => {
  it('puts keyed records where partitionForKey says, with one result per record in call order', async () => {
    const h = harness({ t: 3 });
    const records = Array.from({ length: 300 }, (_, i) => ({ key: `key-${i % 37}`, value: `v${i}` }));
    const sent = h.producer.send({ topic: 't', records });
    await settle(h, [sent]);
    const results = await sent;
    expect(results).toHaveLength(300);
    const next = [0, 0, 0];
    for (let i = 0; i < records.length; i++) {
      const partition = partitionForKey(Buffer.from(records[i]!.key), 3);
      expect(results[i]).toMatchObject({ topic: 't', partition, offset: next[partition]! });
      expect(h.transport.log('t', partition)[next[partition]!]!.value).toBe(`v${i}`);
      next[partition]!++;
    }
  });

  it('sticks keyless records to one partition until its batch closes, then moves to another', async () => {
    const h = harness({ t: 4 }, { batchBytes: 400, lingerMs: 1000 });
    const records = messages('x', 60);
    // How many of these records one batch holds, from the codec itself.
    let perBatch = 1;
    while (encodeBatch(records.slice(0, perBatch + 1).map(asInput)).length <= 400) perBatch++;
    const sent = h.producer.send({ topic: 't', records });
    await settle(h, [sent]);
    const partitions = (await sent).map((r) => r.partition);
    const runs: { partition: number; length: number }[] = [];
    for (const p of partitions) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last.partition === p) last.length++;
      else runs.push({ partition: p, length: 1 });
    }
    expect(runs.length).toBe(Math.ceil(60 / perBatch));
    for (const run of runs.slice(0, -1)) expect(run.length).toBe(perBatch);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.partition).not.toBe(runs[i - 1]!.partition);
  });

  it('honours an explicit partition and a custom partitioner', async () => {
    const h = harness({ t: 3 }, { partitioner: (_topic, key) => (key === null ? 1 : 2) });
    const sent = h.producer.send({
      topic: 't',
      records: [{ value: 'a', partition: 0 }, { value: 'b' }, { key: 'k', value: 'c' }],
    });
    await settle(h, [sent]);
    expect((await sent).map((r) => r.partition)).toEqual([0, 1, 2]);
  });

  it('fails a call naming a partition the topic does not have, after looking the topic up again', async () => {
    const h = harness({ t: 2 });
    const ok = h.producer.send({ topic: 't', value: 'warm-up' });
    await settle(h, [ok]);
    const calls = h.connection.metadataCalls;
    const sent = h.producer.send({ topic: 't', value: 'x', partition: 5 });
    await settle(h, [sent]);
    await expect(sent).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(h.connection.metadataCalls).toBe(calls + 1);
  });

  it('sees partitions added since the last lookup when a call names one', async () => {
    const h = harness({ t: 2 });
    await settleSend(h, h.producer.send({ topic: 't', value: 'warm-up' }));
    h.connection.topics.set('t', 4);
    const result = await settleSend(h, h.producer.send({ topic: 't', value: 'x', partition: 3 }));
    expect(result.partition).toBe(3);
  });

  it('fails sends to an unknown topic with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const h = harness({});
    const sent = h.producer.send({ topic: 'nope', value: 'x' });
    await settle(h, [sent]);
    await expect(sent).rejects.toMatchObject({ name: 'WeirError', code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });
});

async function settleSend<T>(h: Harness, promise: Promise<T>): Promise<T> {
  await settle(h, [promise]);
  return promise;
}

function asInput(m: { value: string }): { key: null; value: Buffer; timestamp: number } {
  return { key: null, value: Buffer.from(m.value), timestamp: 1_700_000_000_000 };
}

describe('batching', () => {
  it('holds a lone record for lingerMs, then sends it', async () => {
    const h = harness({ t: 1 }, { lingerMs: 5 });
    const sent = h.producer.send({ topic: 't', value: 'x' });
    for (let i = 0; i < 3; i++) await turn();
    h.clock.advance(4);
    await turn();
    expect(h.transport.pending).toHaveLength(0);
    h.clock.advance(1);
    await turn();
    expect(h.transport.pending).toHaveLength(1);
    await settle(h, [sent]);
  });

  it('sends a full batch at once, without waiting for linger', async () => {
    const h = harness({ t: 1 }, { lingerMs: 60_000, batchBytes: 500, maxRequestBytes: 500 });
    const sent = h.producer.send({ topic: 't', records: messages('x', 40) });
    for (let i = 0; i < 3; i++) await turn();
    expect(h.transport.pending.length).toBeGreaterThan(0);
    const batch = h.transport.pending[0]!.request.partitions![0]!.batches as Buffer;
    expect(batch.length).toBeLessThanOrEqual(500);
    expect(batch.length).toBeGreaterThan(400);
    await settle(h, [sent]);
  });

  it('flush sends what lingers and resolves when it is acknowledged', async () => {
    const h = harness({ t: 1 }, { lingerMs: 60_000 });
    const sent = h.producer.send({ topic: 't', value: 'x' });
    for (let i = 0; i < 3; i++) await turn();
    const flushed = h.producer.flush();
    for (let i = 0; i < 3; i++) await turn();
    expect(h.transport.pending).toHaveLength(1);
    h.transport.processAll();
    await flushed;
    expect(await sent).toMatchObject({ offset: 0 });
  });

  it('merges batches waiting behind each other into one request batch', async () => {
    const h = harness({ t: 1 }, { batchBytes: 300 });
    const sent = h.producer.send({ topic: 't', records: messages('m', 100) });
    for (let i = 0; i < 3; i++) await turn();
    expect(h.transport.pending).toHaveLength(1);
    await settle(h, [sent]);
    expect(values(h.transport.log('t', 0))).toEqual(messages('m', 100).map((m) => m.value));
  });

  it('makes calls wait, in order, while maxBufferedBytes are unacknowledged', async () => {
    const h = harness({ t: 1 }, { maxBufferedBytes: 1000, lingerMs: 0 });
    const first = h.producer.send({ topic: 't', records: messages('a', 60) });
    const second = h.producer.send({ topic: 't', records: messages('b', 5) });
    for (let i = 0; i < 3; i++) await turn();
    const queued = h.transport.pending.flatMap((p) => p.request.partitions!);
    expect(queued.map((d) => (d.batches as Buffer).toString('latin1')).join('')).not.toContain('b0');
    await settle(h, [first, second]);
    const expected = [...messages('a', 60), ...messages('b', 5)].map((m) => m.value);
    expect(values(h.transport.log('t', 0))).toEqual(expected);
  });
});

describe('retries and ordering', () => {
  it('resends a batch that failed retriably and every batch behind it, in order, once each', async () => {
    const h = harness({ t: 1 }, UNMERGED);
    h.transport.fault = (i) => (i === 0 ? { kind: 'fail', code: 'NOT_LEADER_OR_FOLLOWER' } : { kind: 'ok' });
    const calls = Array.from({ length: 10 }, (_, c) =>
      h.producer.send({ topic: 't', records: messages(`c${c}-`, 10) }),
    );
    await settle(h, calls);
    const expected = Array.from({ length: 10 }, (_, c) => messages(`c${c}-`, 10).map((m) => m.value)).flat();
    expect(values(h.transport.log('t', 0))).toEqual(expected);
    const offsets = (await Promise.all(calls)).flat().map((r) => r.offset);
    expect(offsets).toEqual(expected.map((_, i) => i));
    expect(h.transport.maxInFlightSeen.get('t-0')).toBeGreaterThan(1); // later batches were in flight
    expect(h.transport.requests).toBeGreaterThan(h.transport.log('t', 0).length / 10); // it did retry
  });

  it('answers a retried batch that had been appended with its original offsets (dedupe)', async () => {
    const h = harness({ t: 1 }, UNMERGED);
    h.transport.fault = (i) => (i === 2 ? { kind: 'lose' } : { kind: 'ok' });
    const calls = Array.from({ length: 8 }, (_, c) =>
      h.producer.send({ topic: 't', records: messages(`c${c}-`, 10) }),
    );
    await settle(h, calls);
    const expected = Array.from({ length: 8 }, (_, c) => messages(`c${c}-`, 10).map((m) => m.value)).flat();
    expect(values(h.transport.log('t', 0))).toEqual(expected);
    expect((await Promise.all(calls)).flat().map((r) => r.offset)).toEqual(expected.map((_, i) => i));
  });

  it('resends a batch whose answer was lost again and again while the broker still remembers it', async () => {
    // Request 0 (the first batch) is appended but its answer lost, and so is its first resend
    // (request 5). Had new batches gone out beside the resend, the broker's five-batch dedupe
    // window would have moved past the first batch, and its next resend would look out of order.
    const h = harness({ t: 1 }, UNMERGED);
    h.transport.fault = (i) => (i === 0 || i === 5 ? { kind: 'lose-alone' } : { kind: 'ok' });
    const calls = Array.from({ length: 12 }, (_, c) =>
      h.producer.send({ topic: 't', records: messages(`c${c}-`, 10) }),
    );
    await settle(h, calls);
    const expected = Array.from({ length: 12 }, (_, c) => messages(`c${c}-`, 10).map((m) => m.value)).flat();
    expect(values(h.transport.log('t', 0))).toEqual(expected);
    expect((await Promise.all(calls)).flat().map((r) => r.offset)).toEqual(expected.map((_, i) => i));
  });

  it('never has more than maxInFlight batches of a partition in flight', async () => {
    const h = harness({ t: 1 }, { ...UNMERGED, maxInFlight: 3 });
    const sent = h.producer.send({ topic: 't', records: messages('x', 200) });
    await settle(h, [sent]);
    expect(h.transport.maxInFlightSeen.get('t-0')).toBe(3);
  });

  it('fails the call of a batch refused for good, takes a new producer id, and keeps the rest in order', async () => {
    const h = harness({ t: 1 }, UNMERGED);
    h.transport.maxBatchBytes = 1000;
    const a = h.producer.send({ topic: 't', records: messages('a', 5) });
    const big = h.producer.send({ topic: 't', value: 'B'.repeat(2000) });
    const c = h.producer.send({ topic: 't', records: messages('c', 5) });
    await settle(h, [a, big, c]);
    await expect(big).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect((await a).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    expect((await c).map((r) => r.offset)).toEqual([5, 6, 7, 8, 9]);
    const log = h.transport.log('t', 0);
    expect(values(log)).toEqual([...messages('a', 5), ...messages('c', 5)].map((m) => m.value));
    expect(log[5]!.producerId).not.toBe(log[0]!.producerId);
  });

  it.each([true, false])(
    'splits a merged batch the broker finds too large back into the batches it was made of (idempotent %s)',
    async (idempotent) => {
      // Without idempotence the pieces carry no sequence; they must still never be merged again.
      const h = harness({ t: 1 }, { batchBytes: 300, idempotent });
      h.transport.maxBatchBytes = 350;
      const calls = Array.from({ length: 6 }, (_, c) =>
        h.producer.send({ topic: 't', records: messages(`c${c}-`, 8) }),
      );
      await settle(h, calls);
      const expected = Array.from({ length: 6 }, (_, c) => messages(`c${c}-`, 8).map((m) => m.value)).flat();
      expect(values(h.transport.log('t', 0))).toEqual(expected);
      expect(new Set(h.transport.log('t', 0).map((r) => r.producerId)).size).toBe(1); // no reset needed
    },
  );

  it('fails every pending and later send once the producer is fenced (INVALID_PRODUCER_EPOCH)', async () => {
    const h = harness({ t: 1 });
    h.transport.forcedError = new WeirError('INVALID_PRODUCER_EPOCH', 'fenced');
    const sent = h.producer.send({ topic: 't', value: 'x' });
    await settle(h, [sent]);
    await expect(sent).rejects.toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    await expect(h.producer.send({ topic: 't', value: 'y' })).rejects.toMatchObject({
      code: 'INVALID_PRODUCER_EPOCH',
    });
  });

  it('gives up on a batch that keeps failing once deliveryTimeoutMs has passed', async () => {
    const h = harness({ t: 1 }, { deliveryTimeoutMs: 3000 });
    h.transport.fault = () => ({ kind: 'fail', code: 'KAFKA_STORAGE_ERROR' });
    const start = h.clock.now();
    const sent = h.producer.send({ topic: 't', value: 'x' });
    await settle(h, [sent]);
    await expect(sent).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    expect(h.transport.requests).toBeGreaterThan(2);
    expect(h.clock.now() - start).toBeGreaterThanOrEqual(2000);
    expect(h.clock.now() - start).toBeLessThan(3000 + 1000);
  });

  it('resends to a new leader as soon as a lookup names it, not after its grown backoff', async () => {
    // Given a leader that died: every resend to it fails at once, and the backoff between them
    // grows to retryBackoffMaxMs while the others elect a new one.
    const h = harness({ t: 1 }, { retryBackoffMs: 100, retryBackoffMaxMs: 5000, lingerMs: 0 });
    await h.producer.connect();
    h.transport.down.add(0);
    let acked = false;
    const sent = h.producer.send({ topic: 't', value: 'x' }).then(() => (acked = true));
    for (let i = 0; i < 200 && h.transport.sentTo.length < 5; i++) {
      await turn();
      h.clock.advance(10);
    }
    expect(h.transport.sentTo).toEqual([0, 0, 0, 0, 0]);
    // When the election is over (lookups now name node 1), mid-way through a 1.6 s backoff
    h.connection.leader = 1;
    for (let i = 0; i < 25 && !acked; i++) {
      await turn();
      h.transport.processAll();
      h.clock.advance(10);
    }
    // then the batch went to node 1 within a lookup interval or two, not after the backoff.
    expect(acked).toBe(true);
    expect(h.transport.sentTo.at(-1)).toBe(1);
    expect(values(h.transport.log('t', 0))).toEqual(['x']);
    await sent;
  });

  it('keeps every partition exactly once and in order under any mix of faults', async () => {
    const faultArb = fc.oneof(
      { weight: 6, arbitrary: fc.constant<Fault>({ kind: 'ok' }) },
      { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'fail', code: 'NOT_LEADER_OR_FOLLOWER' }) },
      { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'lose' }) },
      { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'break' }) },
      { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'lose-alone' }) },
      { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'drop-alone' }) },
    );
    const callArb = fc.record({
      count: fc.integer({ min: 1, max: 12 }),
      keyed: fc.boolean(),
      tick: fc.boolean(), // let the sender run before the next call
    });
    let faultedRuns = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(callArb, { minLength: 1, maxLength: 25 }),
        fc.array(faultArb, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        fc.boolean(),
        async (callSpecs, faults, partitions, merge, seed, oneAtATime) => {
          const h = harness(
            { t: partitions },
            merge ? { batchBytes: 200 } : { batchBytes: 200, maxRequestBytes: 200 },
            seed,
          );
          let faulted = false;
          h.transport.fault = (i) => {
            const fault = faults[i] ?? { kind: 'ok' };
            if (fault.kind !== 'ok') faulted = true;
            return fault;
          };
          const calls: Promise<{ partition: number; offset: number }[]>[] = [];
          const sentValues: string[][] = [];
          for (let c = 0; c < callSpecs.length; c++) {
            const spec = callSpecs[c]!;
            const records = Array.from({ length: spec.count }, (_, i) => ({
              key: spec.keyed ? `k${(c + i) % 5}` : null,
              value: `c${c}r${i}`,
            }));
            sentValues.push(records.map((r) => r.value));
            calls.push(h.producer.send({ topic: 't', records }));
            if (spec.tick) {
              await turn();
              h.transport.processAll();
            }
          }
          await settle(h, calls, 50_000, oneAtATime);
          const results = await Promise.all(calls);
          const expected: string[][] = Array.from({ length: partitions }, () => []);
          for (let c = 0; c < results.length; c++) {
            for (let i = 0; i < results[c]!.length; i++) {
              const { partition, offset } = results[c]![i]!;
              expect(h.transport.log('t', partition)[offset]!.value).toBe(sentValues[c]![i]);
              expected[partition]!.push(sentValues[c]![i]!);
            }
          }
          for (let p = 0; p < partitions; p++) expect(values(h.transport.log('t', p))).toEqual(expected[p]);
          if (faulted) faultedRuns++;
        },
      ),
      { seed: 20240601, numRuns: 200 },
    );
    expect(faultedRuns).toBeGreaterThan(20); // the runs did meet faults
  });
});

describe('options, input and lifecycle', () => {
  it('rejects bad options with INVALID_CONFIG naming the option', () => {
    const bad: ProducerOptions[] = [
      { acks: 'some' as never },
      { acks: 'none', idempotent: true },
      { maxInFlight: 6 },
      { batchBytes: 0 },
      { lingerMs: -1 },
      { compression: 'brotli' as never },
    ];
    for (const options of bad) {
      let caught: unknown;
      try {
        harness({}, options);
      } catch (err) {
        caught = err;
      }
      expect(isWeirError(caught, 'INVALID_CONFIG')).toBe(true);
    }
  });

  it('rejects bad records with a WeirError, without sending any record of the call', async () => {
    const h = harness({ t: 1 });
    await expect(h.producer.send({ topic: 't', key: 5 as never, value: 'x' })).rejects.toMatchObject({
      code: 'INVALID_RECORD',
    });
    await expect(h.producer.send({ topic: 't', value: 'x', timestamp: -5 })).rejects.toMatchObject({
      code: 'INVALID_TIMESTAMP',
    });
    await expect(h.producer.send({ topic: '', value: 'x' })).rejects.toMatchObject({
      code: 'INVALID_TOPIC_EXCEPTION',
    });
    await expect(
      h.producer.send({ topic: 't', records: [{ value: 'ok' }, { value: 7 as never }] }),
    ).rejects.toMatchObject({ code: 'INVALID_RECORD' });
    await h.producer.flush();
    expect(h.transport.pending).toHaveLength(0);
  });

  it('under acks none resolves without offsets', async () => {
    const h = harness({ t: 1 }, { acks: 'none' });
    const result = await settleSend(h, h.producer.send({ topic: 't', value: 'x' }));
    expect(result).toMatchObject({ partition: 0, offset: -1 });
    expect(h.transport.log('t', 0)[0]!.producerId).toBe(-1);
  });

  it('close with a timeout fails what is still unacknowledged by then', async () => {
    const h = harness({ t: 1 }, { maxBufferedBytes: 10 });
    const sent = h.producer.send({ topic: 't', value: 'never answered' });
    const waiting = h.producer.send({ topic: 't', value: 'waits for buffer room' });
    const outcomes = Promise.allSettled([sent, waiting]);
    for (let i = 0; i < 5; i++) {
      await turn();
      h.clock.advance(10);
    }
    expect(h.transport.pending).toHaveLength(1); // the first, sent and never answered
    const closed = h.producer.close({ timeoutMs: 1000 });
    await turn();
    h.clock.advance(999);
    await turn();
    expect(h.transport.closed).toBe(false);
    h.clock.advance(1);
    await closed;
    expect(await outcomes).toMatchObject([
      { status: 'rejected', reason: { code: 'REQUEST_CANCELLED' } },
      { status: 'rejected', reason: { code: 'REQUEST_CANCELLED' } },
    ]);
    expect(h.transport.closed).toBe(true);
  });

  it('close flushes what is pending, closes the transport, and refuses later sends', async () => {
    const h = harness({ t: 1 }, { lingerMs: 60_000 });
    const sent = h.producer.send({ topic: 't', value: 'x' });
    const closed = h.producer.close();
    await settle(h, [sent, closed]);
    expect(await sent).toMatchObject({ offset: 0 });
    expect(h.transport.closed).toBe(true);
    await expect(h.producer.send({ topic: 't', value: 'y' })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
  });
});
