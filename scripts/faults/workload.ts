// The fault runs' workload: idempotent producers (the SDK's Producer, acks=all unless told)
// sending uniquely valued records while faults happen, each send recorded as an operation that is
// ok (with the acknowledged offset), failed or unknown (history.ts); then a consumer that reads
// every partition back from its start to its high watermark.
//
// Each workload producer keeps a few sends in flight, each one record, to one partition (its index
// modulo the partition count), so its order in the log can be checked. A producer the SDK declares
// fenced for good (INVALID_PRODUCER_EPOCH), or (following a leader by hand) one whose send ended
// unknown, is replaced by a new one once its sends have settled: the same workload producer under
// a new producer id, so its order still holds across the change.

import { Admin, Consumer, Producer, type AcksOption } from '../../client/index.js';
import { WeirError } from '../../proto/errors.js';
import { opValue, type OpStatus, type ProduceOp, type ReadRecord } from './history.js';
import { sleep } from './poll.js';

/**
 * Errors that mean the record was certainly not written: refused before any attempt reached a
 * log (the SDK fails an unknown topic at once, and checks records before sending). Everything
 * else, retriable errors the producer gave up on and timeouts included, is an unknown outcome.
 */
const CERTAIN_FAILURES: ReadonlySet<string> = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_RECORD',
  'MESSAGE_TOO_LARGE',
  'INVALID_CONFIG',
]);

export interface WorkloadOptions {
  /**
   * A gRPC address (or a comma-separated list, where the SDK takes one), or a function that finds
   * the partition's leader now: then a producer whose send ends unknown is replaced by one on the
   * address it returns, so the workload follows the leader without the SDK's routing.
   */
  readonly bootstrap: string | (() => Promise<string>);
  readonly topic: string;
  readonly partitions: number;
  readonly producers: number;
  /** Sends in flight per producer. */
  readonly inFlight: number;
  /** Makes every value unique to this run. */
  readonly run: string;
  readonly acks?: AcksOption;
  readonly deliveryTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Pause after each send, so a run makes a few hundred operations a second, not millions. */
  readonly pauseMs?: number;
}

export function classify(err: unknown): { status: OpStatus; error: string } {
  if (err instanceof WeirError)
    return { status: CERTAIN_FAILURES.has(err.code) ? 'failed' : 'unknown', error: err.code };
  return { status: 'unknown', error: err instanceof Error ? err.message : String(err) };
}

export class Workload {
  readonly ops: ProduceOp[] = [];
  private readonly pending = new Map<string, { producer: number; seq: number; partition: number }>();
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly clients = new Set<Producer>();

  constructor(readonly options: WorkloadOptions) {}

  start(): void {
    this.loops = Array.from({ length: this.options.producers }, (_, p) => this.produce(p));
  }

  /** Operations settled so far, by outcome. */
  counts(): { ok: number; failed: number; unknown: number; pending: number } {
    const c = { ok: 0, failed: 0, unknown: 0, pending: this.pending.size };
    for (const op of this.ops) c[op.status]++;
    return c;
  }

  /**
   * Stops sending, waits up to `settleMs` for the sends in flight, and records any still
   * unanswered as unknown. Returns every operation.
   */
  async stop(settleMs = 15_000): Promise<ProduceOp[]> {
    this.stopping = true;
    await Promise.race([Promise.allSettled(this.loops), sleep(settleMs)]);
    for (const [value, p] of this.pending)
      this.ops.push({
        ...p,
        value,
        status: 'unknown',
        offset: null,
        error: `unanswered after ${settleMs} ms`,
      });
    this.pending.clear();
    await Promise.allSettled([...this.clients].map((c) => c.close({ timeoutMs: 1000 })));
    return this.ops;
  }

  private async newProducer(): Promise<Producer> {
    const o = this.options;
    const producer = new Producer({
      bootstrap: typeof o.bootstrap === 'string' ? o.bootstrap : await o.bootstrap(),
      acks: o.acks ?? 'all',
      idempotent: true,
      deliveryTimeoutMs: o.deliveryTimeoutMs ?? 10_000,
      requestTimeoutMs: o.requestTimeoutMs ?? 3_000,
      maxBlockMs: o.deliveryTimeoutMs ?? 10_000,
      lingerMs: 2,
    });
    this.clients.add(producer);
    return producer;
  }

  private async produce(index: number): Promise<void> {
    const o = this.options;
    const partition = index % o.partitions;
    const inFlight = new Set<Promise<void>>();
    const follows = typeof o.bootstrap !== 'string';
    let producer = await this.newProducer();
    let broken = false;
    for (let seq = 0; !this.stopping; seq++) {
      while (inFlight.size >= o.inFlight) await Promise.race(inFlight);
      if (broken) {
        // Its sends have all settled (none in flight): a new producer id takes over.
        await Promise.allSettled(inFlight);
        this.clients.delete(producer);
        void producer.close({ timeoutMs: 1000 }).catch(() => {});
        producer = await this.newProducer();
        broken = false;
      }
      const value = opValue(o.run, index, seq);
      const op = { producer: index, seq, partition };
      this.pending.set(value, op);
      const sent = producer.send({ topic: o.topic, partition, value }).then(
        (meta) => this.settle(value, { ...op, value, status: 'ok', offset: meta.offset }),
        (err: unknown) => {
          const { status, error } = classify(err);
          if (err instanceof WeirError && err.code === 'INVALID_PRODUCER_EPOCH') broken = true;
          if (follows && status === 'unknown') broken = true;
          this.settle(value, { ...op, value, status, offset: null, error });
        },
      );
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
      if ((o.pauseMs ?? 5) > 0) await sleep(o.pauseMs ?? 5);
    }
    await Promise.allSettled(inFlight);
    // A producer made while stop() was closing the others is closed here.
    await producer.close({ timeoutMs: 1000 }).catch(() => {});
  }

  private settle(value: string, op: ProduceOp): void {
    if (!this.pending.delete(value)) return; // recorded as unknown at stop(); the late answer is moot
    this.ops.push(op);
  }
}

/** The consumer got no further for the whole read's time: a broker keeps failing it, or has nothing. */
export class ReadStalled extends Error {
  /** `at`: each partition left, with the consumer's position and the end it was to reach. */
  constructor(at: { partition: number; position: number | null; end: number }[], timeoutMs: number) {
    const where = at.map((p) => `${p.partition} (at ${p.position ?? 'none'} of ${p.end})`).join(', ');
    super(`read back: partitions ${where} not read to their end in ${timeoutMs} ms`);
  }
}

export interface ReadBack {
  readonly reads: ReadRecord[];
  /** Each partition's high watermark when the read started. */
  readonly highWatermarks: Map<number, number>;
  /** Set when the topic does not exist (any more): nothing could be read. */
  readonly missing?: string;
}

/**
 * Reads every partition of `topic` from its start to the high watermark it has when the read
 * starts, retrying for up to `timeoutMs` while the broker is not ready.
 */
export async function readBack(
  bootstrap: string,
  topic: string,
  partitions: number,
  timeoutMs = 30_000,
): Promise<ReadBack> {
  const deadline = Date.now() + timeoutMs;
  const tps = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
  const admin = new Admin({ bootstrap, requestTimeoutMs: 3000 });
  let ends: Map<number, number>;
  try {
    for (;;) {
      try {
        const offsets = await admin.listOffsets(tps, 'latest');
        ends = new Map(offsets.map((o) => [o.partition, o.offset]));
        break;
      } catch (err) {
        if (err instanceof WeirError && err.code === 'UNKNOWN_TOPIC_OR_PARTITION')
          return { reads: [], highWatermarks: new Map(), missing: err.message };
        if (Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  } finally {
    await admin.close().catch(() => {});
  }
  const reads: ReadRecord[] = [];
  const todo = new Set(tps.filter((tp) => ends.get(tp.partition)! > 0).map((tp) => tp.partition));
  if (todo.size === 0) return { reads, highWatermarks: ends };
  const consumer = new Consumer({ bootstrap, autoOffsetReset: 'earliest', requestTimeoutMs: 3000 });
  try {
    consumer.assign(tps);
    for (const tp of tps) consumer.seek(tp, 'earliest');
    const records = consumer[Symbol.asyncIterator]();
    // A log may end with a control batch (a new leader's no-op): no record reaches the end then,
    // but the consumer's position passes it (client/fetch-buffer.ts).
    const passedEnd = (): void => {
      for (const p of [...todo])
        if ((consumer.position({ topic, partition: p }) ?? -1) >= ends.get(p)!) todo.delete(p);
    };
    // Read on after the loop ends only to be dropped: its failure at close is not news.
    const nextRecord = (): ReturnType<typeof records.next> => {
      const p = records.next();
      p.catch(() => undefined);
      return p;
    };
    let pending = nextRecord();
    while (todo.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const at = [...todo].map((p) => ({
          partition: p,
          position: consumer.position({ topic, partition: p }),
          end: ends.get(p)!,
        }));
        throw new ReadStalled(at, timeoutMs);
      }
      const next = await Promise.race([pending, sleep(Math.min(left, 200)).then(() => null)]);
      if (next === null) {
        passedEnd();
        continue;
      }
      pending = nextRecord();
      if (next.done === true) break;
      const r = next.value;
      if (r.offset < ends.get(r.partition)!)
        reads.push({ partition: r.partition, offset: r.offset, value: r.value?.toString('utf8') ?? '' });
      if (r.offset + 1 >= ends.get(r.partition)!) todo.delete(r.partition);
    }
  } finally {
    await consumer.close().catch(() => {});
  }
  return { reads, highWatermarks: ends };
}
