// `weir bench produce`: how fast the SDK Producer gets records acknowledged, and how long each
// send() waits for its answer.
//
// Throughput run (default): one prebuilt array of messages sharing one prebuilt value buffer
// (with --compression, values from a pool of 1,024 distinct ones of text, words drawn at random
// from a small vocabulary, so a batch compresses as text does rather than as one value repeated)
// is sent again and again with send({ topic, records }), many calls in flight (up to about twice
// the producer's buffer), so nothing per record is allocated by the benchmark itself. Latency is
// per send() call, from the call to its promise resolving: what a caller of that size feels,
// queueing in the producer included.
//
// Fixed-rate run (--rate R): every millisecond the records due by then are sent one send() each,
// and each record's latency is measured, so the figures show the latency at a load below the
// maximum rather than under saturation.

import { randomBytes } from 'node:crypto';
import { Admin, Producer, isWeirError, type AcksOption, type Compression, type Message } from '../index.js';
import { withConnection } from './common.js';
import { LatencySamples, ms, type LatencySummary } from './latency.js';
import { grouped } from './units.js';

export interface BenchProduceFlags {
  bootstrap: string;
  topic: string;
  records: number;
  recordSize: number;
  acks: AcksOption;
  rate?: number;
  batchBytes?: number;
  lingerMs?: number;
  recordsPerSend?: number;
  partitions: number;
  compression: Compression;
  json?: boolean;
}

/** Distinct values with --compression: more than a batch of 100 B records holds. */
const COMPRESSIBLE_VALUES = 1024;

/** Words of the text values: 64 of them, so a word carries 6 bits in about 6 bytes. */
const WORDS = (
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar ' +
  'papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu order user item price ' +
  'status pending shipped created updated deleted amount currency region europe america asia ' +
  'account session request response error warning info debug timeout retry success failure ' +
  'payment invoice customer product'
).split(' ');

/** `size` bytes of text: words drawn at random, separated by spaces. */
export function textValue(size: number): Buffer {
  const out = Buffer.alloc(size, 0x20);
  const picks = randomBytes(size);
  for (let pos = 0, i = 0; pos < size; i++) pos += out.write(WORDS[picks[i]! % WORDS.length]!, pos) + 1;
  return out;
}

/** The values to send: one random value, or with a codec a pool of distinct text values. */
function benchValues(size: number, compression: Compression): Buffer[] {
  if (compression === 'none') return [randomBytes(size)];
  return Array.from({ length: COMPRESSIBLE_VALUES }, () => textValue(size));
}

/** Bytes per send() call in a throughput run, unless --records-per-send says otherwise. */
const SEND_CALL_BYTES = 1024 * 1024;
/** Bytes of send() calls unanswered at once: about twice the producer's default buffer. */
const IN_FLIGHT_BYTES = 64 * 1024 * 1024;
const MIB = 1024 * 1024;

interface RunResult {
  elapsedNs: bigint;
  latency: LatencySummary;
}

async function ensureTopic(admin: Admin, topic: string, partitions: number): Promise<number> {
  try {
    return (await admin.describeTopic(topic)).partitions.length;
  } catch (err) {
    if (!isWeirError(err, 'UNKNOWN_TOPIC_OR_PARTITION')) throw err;
  }
  try {
    return (await admin.createTopic(topic, { partitions })).partitions.length;
  } catch (err) {
    // Another benchmark created it meanwhile.
    if (!isWeirError(err, 'TOPIC_ALREADY_EXISTS')) throw err;
    return (await admin.describeTopic(topic)).partitions.length;
  }
}

async function throughputRun(
  producer: Producer,
  topic: string,
  records: number,
  values: readonly Buffer[],
  perSend: number,
): Promise<RunResult> {
  const messages: Message[] = Array.from({ length: perSend }, (_, i) => ({
    value: values[i % values.length]!,
  }));
  const window = Math.max(2, Math.floor(IN_FLIGHT_BYTES / (perSend * Math.max(1, values[0]!.length))));
  const latency = new LatencySamples(Math.ceil(records / perSend));
  const inFlight: Promise<void>[] = [];
  let failure: unknown = null;
  const fail = (err: unknown): void => {
    failure ??= err;
  };
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < records && failure === null;) {
    const n = Math.min(perSend, records - sent);
    const t0 = process.hrtime.bigint();
    inFlight.push(
      producer
        .send({ topic, records: n === perSend ? messages : messages.slice(0, n) })
        .then(() => latency.since(t0), fail),
    );
    sent += n;
    if (inFlight.length >= window) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const elapsedNs = process.hrtime.bigint() - start;
  if (failure !== null) throw failure;
  return { elapsedNs, latency: latency.summary() };
}

async function fixedRateRun(
  producer: Producer,
  topic: string,
  records: number,
  values: readonly Buffer[],
  rate: number,
): Promise<RunResult> {
  const latency = new LatencySamples(records);
  let failure: unknown = null;
  const fail = (err: unknown): void => {
    failure ??= err;
  };
  const start = process.hrtime.bigint();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
      const due = Math.min(records, Math.floor(rate * elapsedS) + 1);
      while (sent < due) {
        const t0 = process.hrtime.bigint();
        // Cycling through the values, as the full-speed run does: one value repeated would
        // compress far better than the records a --compression run is meant to measure.
        producer.send({ topic, value: values[sent % values.length]! }).then(() => latency.since(t0), fail);
        sent++;
      }
      if (sent < records && failure === null) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await producer.flush();
  const elapsedNs = process.hrtime.bigint() - start;
  if (failure !== null) throw failure;
  return { elapsedNs, latency: latency.summary() };
}

export async function benchProduce(flags: BenchProduceFlags): Promise<void> {
  const perSend =
    flags.recordsPerSend ??
    Math.max(1, Math.min(flags.records, Math.floor(SEND_CALL_BYTES / flags.recordSize)));
  await withConnection(flags.bootstrap, async (connection) => {
    const partitions = await ensureTopic(new Admin({ connection }), flags.topic, flags.partitions);
    const producer = new Producer({
      connection,
      acks: flags.acks,
      ...(flags.batchBytes === undefined ? {} : { batchBytes: flags.batchBytes }),
      ...(flags.lingerMs === undefined ? {} : { lingerMs: flags.lingerMs }),
      compression: flags.compression,
    });
    let run: RunResult;
    try {
      await producer.connect();
      const values = benchValues(flags.recordSize, flags.compression);
      run =
        flags.rate === undefined
          ? await throughputRun(producer, flags.topic, flags.records, values, perSend)
          : await fixedRateRun(producer, flags.topic, flags.records, values, flags.rate);
    } finally {
      await producer.close();
    }
    const seconds = Number(run.elapsedNs) / 1e9;
    const report = {
      bench: 'produce',
      topic: flags.topic,
      partitions,
      records: flags.records,
      recordSize: flags.recordSize,
      acks: flags.acks,
      compression: flags.compression,
      batchBytes: flags.batchBytes ?? null,
      lingerMs: flags.lingerMs ?? null,
      rate: flags.rate ?? null,
      latencyPer: flags.rate === undefined ? 'send-call' : 'record',
      recordsPerSend: flags.rate === undefined ? perSend : 1,
      elapsedMs: Number(run.elapsedNs) / 1e6,
      recordsPerSec: flags.records / seconds,
      mbPerSec: (flags.records * flags.recordSize) / MIB / seconds,
      latencyMs: run.latency,
      node: process.version,
    };
    if (flags.json === true) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return;
    }
    const l = run.latency;
    const per = flags.rate === undefined ? `send() of ${grouped(perSend)} records` : 'record';
    process.stdout.write(
      [
        `produce ${grouped(flags.records)} records of ${flags.recordSize} B to ${flags.topic} ` +
          `(${partitions} partition${partitions === 1 ? '' : 's'}), acks=${flags.acks}` +
          (flags.compression === 'none' ? '' : ` compression=${flags.compression}`) +
          (flags.batchBytes === undefined ? '' : ` batch-bytes=${flags.batchBytes}`) +
          (flags.lingerMs === undefined ? '' : ` linger-ms=${flags.lingerMs}`) +
          (flags.rate === undefined ? '' : ` rate=${grouped(flags.rate)}/s`),
        `  ${grouped(report.recordsPerSec)} records/s  ${report.mbPerSec.toFixed(1)} MB/s  ` +
          `(${seconds.toFixed(2)} s)`,
        `  latency per ${per}, ms: p50 ${ms(l.p50)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)}  max ${ms(l.max)}`,
        `  node ${process.version}`,
      ].join('\n') + '\n',
    );
  });
}
