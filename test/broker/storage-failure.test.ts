// Storage failures as clients and operators meet them, through the real gRPC and HTTP servers of a
// broker whose disk fails where the test chooses (test/storage/faulty-fs.ts):
//   - a retry that is wholly a duplicate is answered only once its original is durable, and fails
//     when the original's fsync fails;
//   - a failed fsync takes the partition offline: KAFKA_STORAGE_ERROR, not retriable, /readyz 503;
//   - a full disk refuses produce with a retriable KAFKA_STORAGE_ERROR, logged once per episode.

import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import { WeirError } from '../../proto/errors.js';
import { fromWireError } from '../../proto/grpc.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { FaultyFs, type SyncGate } from '../storage/faulty-fs.js';
import type { ProduceOutcome } from '../../broker/partition.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';

const started: TestBroker[] = [];
const disks: FaultyFs[] = [];
afterEach(async () => {
  for (const fs of disks.splice(0)) fs.openHeld();
  for (const b of started.splice(0)) {
    await b.close().catch(() => undefined);
    removeDir(b.dataDir);
  }
});

interface LogLine {
  level: number;
  msg: string;
}

async function brokerOn(fs: FaultyFs): Promise<{ b: TestBroker; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  disks.push(fs);
  const b = await startTestBroker({ fs, logger: pino({ level: 'info' }, sink) });
  started.push(b);
  await b.call('CreateTopic', { name: 't', partitions: 1, configs: { 'flush.messages': '1' } });
  return { b, lines };
}

function idempotentBatch(sequence: number): Buffer {
  return encodeBatch([{ timestamp: 1_700_000_000_000, key: null, value: Buffer.from(`v${sequence}`) }], {
    producerId: 7,
    producerEpoch: 0,
    baseSequence: sequence,
  });
}

function produceOne(b: TestBroker): Promise<ProduceResponse__Output> {
  return b.call<unknown, ProduceResponse__Output>('Produce', {
    acks: 'ACKS_ALL',
    partitions: [
      {
        topic: 't',
        partition: 0,
        batches: encodeBatch([{ timestamp: 1, key: null, value: Buffer.from('x') }]),
      },
    ],
  });
}

/** Lets every pending callback and I/O completion run a few times. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

function track<T>(p: Promise<T>): { settled: () => boolean; result: Promise<T> } {
  let done = false;
  const result = p.finally(() => (done = true));
  result.catch(() => undefined);
  return { settled: () => done, result };
}

describe('a retry of a batch still waiting for its fsync', () => {
  /** Given a batch whose fsync is held, and its retry sent meanwhile. */
  async function originalAndRetry(): Promise<{
    gate: SyncGate;
    original: ReturnType<typeof track<ProduceOutcome>>;
    retry: ReturnType<typeof track<ProduceOutcome>>;
  }> {
    const fs = new FaultyFs();
    const { b } = await brokerOn(fs);
    const broker = b.running.broker;
    const gate = fs.holdSyncs();
    const original = track(broker.produce('t', 0, idempotentBatch(0), 'all'));
    const retry = track(broker.produce('t', 0, idempotentBatch(0), 'all'));
    await turns();
    return { gate, original, retry };
  }

  it('is answered only after the original is durable, with the same offsets', async () => {
    const { gate, original, retry } = await originalAndRetry();
    expect(original.settled()).toBe(false);
    expect(retry.settled()).toBe(false);
    gate.open();
    const [first, second] = await Promise.all([original.result, retry.result]);
    expect(second.duplicate).toBe(true);
    expect(second.baseOffset).toBe(first.baseOffset);
  });

  it('fails when the original fsync fails', async () => {
    const { gate, original, retry } = await originalAndRetry();
    expect(retry.settled()).toBe(false);
    gate.fail('EIO');
    await expect(original.result).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR', retriable: false });
    await expect(retry.result).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR', retriable: false });
  });
});

describe('a partition whose fsync failed', () => {
  it('refuses produce and fetch with a non-retriable storage error, and /readyz says why', async () => {
    const fs = new FaultyFs();
    const { b, lines } = await brokerOn(fs);
    const readyz = (): Promise<Response> => fetch(`http://${b.running.httpAddress}/readyz`);
    expect((await readyz()).status).toBe(200);
    fs.failSyncs = 1;
    const produce = (): Promise<ProduceResponse__Output> => produceOne(b);
    for (let i = 0; i < 3; i++) {
      const error = fromWireError((await produce()).results[0]?.error);
      expect(error).toBeInstanceOf(WeirError);
      expect(error?.code).toBe('KAFKA_STORAGE_ERROR');
      expect(error?.retriable).toBe(false);
    }
    const fetched = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic: 't', partition: 0, offset: 0 }],
    });
    expect(fetched.results[0]?.error?.code).toBe('KAFKA_STORAGE_ERROR');
    const res = await readyz();
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/1 partition\(s\) offline.*t-0/);
    const metrics = await (await fetch(`http://${b.running.httpAddress}/metrics`)).text();
    expect(metrics).toMatch(/^weir_offline_partitions 1$/m);
    expect(metrics).toMatch(/^weir_storage_errors_total\{code="EIO"\} 1$/m);
    // Logged at error level when it went offline, once, and no request logged a stack.
    expect(
      lines.filter((l) => l.level >= 50 && l.msg === 'partition log offline until restart'),
    ).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'request failed')).toHaveLength(0);
  });
});

describe('a full disk', () => {
  it('refuses produce with a retriable storage error, logged once, and serves again once space is freed', async () => {
    const fs = new FaultyFs();
    const { b, lines } = await brokerOn(fs);
    fs.writeError = 'ENOSPC';
    const produce = (): Promise<ProduceResponse__Output> => produceOne(b);
    for (let i = 0; i < 20; i++) {
      const error = fromWireError((await produce()).results[0]?.error);
      expect(error?.code).toBe('KAFKA_STORAGE_ERROR');
      expect(error?.retriable).toBe(true);
      expect(error?.message).toMatch(/ENOSPC/);
    }
    expect(lines.filter((l) => l.level >= 50)).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'request failed')).toHaveLength(0);
    expect(b.running.broker.storageHealth.errorsByCode.get('ENOSPC')).toBe(20);
    const metrics = await (await fetch(`http://${b.running.httpAddress}/metrics`)).text();
    expect(metrics).toMatch(/^weir_storage_errors_total\{code="ENOSPC"\} 20$/m);
    expect(metrics).toMatch(/^weir_offline_partitions 0$/m);
    expect((await fetch(`http://${b.running.httpAddress}/readyz`)).status).toBe(503);
    fs.writeError = null;
    const ok = (await produce()).results[0];
    expect(ok?.error ?? null).toBeNull();
    expect(ok?.baseOffset).toBe(0);
  });
});
