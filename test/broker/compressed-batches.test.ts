// Compressed batches through the real gRPC server: a batch whose records inflate past the broker's
// cap (maxInflatedBatchBytes) is refused and nothing is written, records decoded for as_records are
// bounded by the fetch's max_bytes, and inflation leaves the event loop free.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FETCH_MAX_BYTES } from '../../broker/broker.js';
import { BROKER_CONFIG_KEYS, resolveBrokerConfig } from '../../broker/config.js';
import { fetchAnswer } from '../../broker/fetch-records.js';
import { isWeirError } from '../../proto/errors.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import {
  COMPRESSIONS,
  decodeBatch,
  encodeBatch,
  type Compression,
  type RecordInput,
} from '../../proto/record-batch.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';

const MiB = 1024 * 1024;
const CAP = 4 * MiB;

let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker({ maxInflatedBatchBytes: CAP });
  for (const name of ['many', 'loop']) await b.call('CreateTopic', { name, partitions: 1 });
  for (const codec of CODECS) {
    await b.call('CreateTopic', { name: `bomb-${codec}`, partitions: 1 });
    await b.call('CreateTopic', { name: `many-${codec}`, partitions: 1 });
  }
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

/** One batch of one record whose value is `bytes` zeros: a few kilobytes on the wire (snappy: ~5%). */
function zeros(bytes: number, compression: Compression = 'gzip'): Buffer {
  return encodeBatch([{ timestamp: 1, key: null, value: Buffer.alloc(bytes) }], { compression });
}

function produce(topic: string, batches: Buffer): Promise<ProduceResponse__Output> {
  return b.call<unknown, ProduceResponse__Output>('Produce', {
    acks: 'ACKS_LEADER',
    partitions: [{ topic, partition: 0, batches }],
  });
}

function fetchRecords(topic: string, offset: number, maxBytes: number): Promise<FetchResponse__Output> {
  return b.call<unknown, FetchResponse__Output>('Fetch', {
    partitions: [{ topic, partition: 0, offset }],
    maxBytes,
    asRecords: true,
  });
}

describe('the inflated size cap', () => {
  it('is a broker key with an environment variable, a default and bounds', () => {
    const def = BROKER_CONFIG_KEYS.find((d) => d.key === 'maxInflatedBatchBytes');
    expect(def).toMatchObject({ env: 'WEIR_MAX_INFLATED_BATCH_BYTES', default: 64 * MiB });
    expect(resolveBrokerConfig().maxInflatedBatchBytes).toBe(64 * MiB);
    expect(
      resolveBrokerConfig({ env: { WEIR_MAX_INFLATED_BATCH_BYTES: String(MiB) } }).maxInflatedBatchBytes,
    ).toBe(MiB);
    let refused: unknown;
    try {
      resolveBrokerConfig({ overrides: { maxInflatedBatchBytes: 10 } });
    } catch (err) {
      refused = err;
    }
    expect(isWeirError(refused, 'INVALID_CONFIG')).toBe(true);
  });

  it.each(CODECS)(
    'given a %s batch whose record inflates past it, produce refuses it and writes nothing',
    async (codec) => {
      // snappy compresses at most ~20x and lz4 ~250x, so their bombs are larger on the wire: snappy's
      // inflates less, to stay under max.message.bytes.
      const bomb = zeros((codec === 'snappy' ? 2 : 8) * CAP, codec);
      expect(bomb.length).toBeLessThan(codec === 'snappy' ? 512 * 1024 : 256 * 1024);
      const topic = `bomb-${codec}`;
      const res = await produce(topic, bomb);
      expect(res.results[0]?.error).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
      expect(res.results[0]?.error?.message).toContain(`inflated size limit of ${CAP} bytes`);
      expect(res.results[0]?.error?.message).toContain('maxInflatedBatchBytes');

      // A good batch after it lands at offset 0: nothing of the bomb was appended.
      const ok = await produce(topic, zeros(CAP / 2, codec));
      expect(ok.results[0]).toMatchObject({ baseOffset: 0, lastOffset: 0 });
      const fetched = await fetchRecords(topic, 0, 0);
      expect(fetched.results[0]?.records.map((r) => [r.offset, r.value?.length])).toEqual([[0, CAP / 2]]);
    },
  );

  it('given a request whose second batch is a bomb, the first is not written either', async () => {
    const res = await produce('bomb-gzip', Buffer.concat([zeros(10), zeros(8 * CAP)]));
    expect(res.results[0]?.error).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    const fetched = await fetchRecords('bomb-gzip', 1, 0);
    expect(fetched.results[0]?.highWatermark).toBe(1);
  });
});

describe('given one stored gzip batch of 2000 records of 600 bytes', () => {
  const COUNT = 2000;
  beforeAll(async () => {
    const records: RecordInput[] = Array.from({ length: COUNT }, (_, i) => ({
      timestamp: 1000 + i,
      key: Buffer.from(`k${i}`),
      value: Buffer.alloc(600, (i % 26) + 97),
    }));
    const batch = encodeBatch(records, { compression: 'gzip' });
    expect(batch.length).toBeLessThan(32 * 1024);
    expect((await produce('many', batch)).results[0]).toMatchObject({ baseOffset: 0, lastOffset: COUNT - 1 });
  });

  it('when fetched as records with max_bytes 1024, then one record comes back and the next offset follows it', async () => {
    const res = (await fetchRecords('many', 0, 1024)).results[0]!;
    expect(res.records.map((r) => r.offset)).toEqual([0]);
    expect(res.records[0]?.value).toEqual(Buffer.alloc(600, 97));
    expect(res.nextOffset).toBe(1);
  });

  it('when fetched on from inside the batch, then records continue from that offset, within max_bytes', async () => {
    const res = (await fetchRecords('many', 1500, 4096)).results[0]!;
    expect(res.records.map((r) => r.offset)).toEqual([1500, 1501, 1502, 1503, 1504, 1505]);
    expect(res.records.map((r) => r.key?.toString())).toEqual([
      'k1500',
      'k1501',
      'k1502',
      'k1503',
      'k1504',
      'k1505',
    ]);
    expect(res.nextOffset).toBe(1506);
  });

  it('when max_bytes is smaller than one record, then still one record comes back', async () => {
    const res = (await fetchRecords('many', 7, 1)).results[0]!;
    expect(res.records.map((r) => r.offset)).toEqual([7]);
    expect(res.nextOffset).toBe(8);
  });

  it('when max_bytes is 0, then records up to the 1 MiB default come back, and the next offset follows them', async () => {
    const res = (await fetchRecords('many', 0, 0)).results[0]!;
    const bytes = res.records.length * 600;
    expect(bytes).toBeLessThanOrEqual(DEFAULT_FETCH_MAX_BYTES);
    expect(bytes).toBeGreaterThan(DEFAULT_FETCH_MAX_BYTES * 0.9);
    expect(res.nextOffset).toBe(res.records.length);
    const rest = (await fetchRecords('many', res.nextOffset, 0)).results[0]!;
    expect(res.records.length + rest.records.length).toBe(COUNT);
    expect(rest.records.at(-1)?.value).toEqual(Buffer.alloc(600, ((COUNT - 1) % 26) + 97));
    expect(rest.nextOffset).toBe(COUNT);
  });
});

describe.each(CODECS)('given one stored %s batch of 300 records', (codec) => {
  const topic = `many-${codec}`;
  beforeAll(async () => {
    const records: RecordInput[] = Array.from({ length: 300 }, (_, i) => ({
      timestamp: 1000 + i,
      key: Buffer.from(`k${i}`),
      value: Buffer.alloc(600, (i % 26) + 97),
    }));
    expect((await produce(topic, encodeBatch(records, { compression: codec }))).results[0]).toMatchObject({
      baseOffset: 0,
      lastOffset: 299,
    });
  });

  it('when fetched as records from inside it, then records continue from that offset, within max_bytes', async () => {
    const res = (await fetchRecords(topic, 150, 2048)).results[0]!;
    expect(res.records.map((r) => r.key?.toString())).toEqual(['k150', 'k151', 'k152']);
    expect(res.records[2]?.value).toEqual(Buffer.alloc(600, (152 % 26) + 97));
    expect(res.nextOffset).toBe(153);
  });

  it('when fetched as batches, then the stored bytes come back with their codec', async () => {
    const raw = await b.call<unknown, FetchResponse__Output>('Fetch', {
      partitions: [{ topic, partition: 0, offset: 0 }],
      maxBytes: 0,
    });
    const decoded = decodeBatch(raw.results[0]!.batches);
    expect(decoded.ok && decoded.batch.compression).toBe(COMPRESSIONS.indexOf(codec));
    expect(decoded.ok && decoded.batch.records.map((r) => r.offset)).toEqual(
      Array.from({ length: 300 }, (_, i) => i),
    );
  });
});

describe('while a large compressed batch inflates', () => {
  it('the event loop runs other work before the produce is answered', async () => {
    const order: string[] = [];
    const batch = zeros(CAP - 64 * 1024);
    setImmediate(() => order.push('other work'));
    await b.running.broker.produce('loop', 0, batch, 'leader').then(() => order.push('produced'));
    expect(order).toEqual(['other work', 'produced']);
  });

  it('the event loop runs other work before records decoded from it are answered', async () => {
    const [stored] = await b.running.broker.fetch(
      [{ topic: 'loop', partition: 0, offset: 0, maxBytes: 0 }],
      0,
      0,
      0,
    );
    const order: string[] = [];
    setImmediate(() => order.push('other work'));
    const answer = await fetchAnswer([stored!], [{ offset: 0, maxBytes: 0 }], {
      asRecords: true,
      maxBytes: 0,
      maxInflatedBytes: CAP,
    }).then((wire) => {
      order.push('decoded');
      return wire;
    });
    expect(answer[0]?.records?.[0]?.value).toHaveLength(CAP - 64 * 1024);
    expect(order).toEqual(['other work', 'decoded']);
  });

  it('produces to one partition append in arrival order, behind one that inflates', async () => {
    const big = b.running.broker.produce('loop', 0, zeros(CAP - 64 * 1024), 'leader');
    const small = b.running.broker.produce(
      'loop',
      0,
      encodeBatch([{ timestamp: 1, key: null, value: Buffer.from('after') }]),
      'leader',
    );
    const [first, second] = await Promise.all([big, small]);
    expect(second.baseOffset).toBe(first.baseOffset + 1);
  });
});

describe('given a stored batch that inflates past the cap of a broker reopened with a lower one', () => {
  it('fetching it as records is MESSAGE_TOO_LARGE for that partition only, and as batches it comes back', async () => {
    const first = await startTestBroker({ maxInflatedBatchBytes: CAP });
    await first.call('CreateTopic', { name: 'old', partitions: 2 });
    await first.call('Produce', {
      acks: 'ACKS_LEADER',
      partitions: [
        { topic: 'old', partition: 0, batches: zeros(2 * MiB) },
        {
          topic: 'old',
          partition: 1,
          batches: encodeBatch([{ timestamp: 1, key: null, value: Buffer.from('fine') }]),
        },
      ],
    });
    await first.close();
    const reopened = await startTestBroker({ maxInflatedBatchBytes: MiB }, first.dataDir);
    try {
      const partitions = [0, 1].map((partition) => ({ topic: 'old', partition, offset: 0 }));
      const asRecords = await reopened.call<unknown, FetchResponse__Output>('Fetch', {
        partitions,
        maxBytes: 0,
        asRecords: true,
      });
      expect(asRecords.results[0]?.error).toMatchObject({
        code: 'MESSAGE_TOO_LARGE',
        message: expect.stringContaining('maxInflatedBatchBytes') as unknown,
      });
      expect(asRecords.results[0]?.nextOffset).toBe(0);
      expect(asRecords.results[1]?.error ?? null).toBeNull();
      expect(asRecords.results[1]?.records.map((r) => r.value?.toString())).toEqual(['fine']);
      const raw = await reopened.call<unknown, FetchResponse__Output>('Fetch', {
        partitions: partitions.slice(0, 1),
        maxBytes: 0,
      });
      const decoded = decodeBatch(raw.results[0]!.batches);
      expect(decoded.ok && decoded.batch.records[0]?.value?.length).toBe(2 * MiB);
    } finally {
      await reopened.close();
      removeDir(first.dataDir);
    }
  });
});

describe('a compressed produce still inflating when the broker shuts down', () => {
  it('is appended before the final flush, answered, and there after a restart', async () => {
    const first = await startTestBroker({ maxInflatedBatchBytes: CAP });
    await first.call('CreateTopic', { name: 'late', partitions: 1 });
    const broker = first.running.broker;
    const produced = broker.produce('late', 0, zeros(CAP - 64 * 1024), 'leader');
    await broker.close();
    expect((await produced).baseOffset).toBe(0);
    await first.close();
    const reopened = await startTestBroker({}, first.dataDir);
    try {
      expect(reopened.running.broker.cleanShutdown).toBe(true);
      expect(reopened.running.broker.listOffset('late', 0, -1).offset).toBe(1);
    } finally {
      await reopened.close();
      removeDir(first.dataDir);
    }
  });
});
