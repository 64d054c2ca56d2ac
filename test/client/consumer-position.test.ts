// The consumer's position passes control batches, as Kafka's does: a log that ends with one (a new
// leader's no-op, which every leader change writes) is read to its end once its last record is
// yielded, whether the control batch came in the same fetch as that record or in a later one alone.
// A reader that stops when the position reaches the high watermark it read at start (the fault
// runs' read-back, `weir consume` without --follow) would otherwise wait for ever.
//
// The broker is a fake here: a single broker never writes a control batch (its group of one needs
// no no-op), and what is under test is only how the consumer moves over the bytes it is served.

import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../client/connection.js';
import { Consumer, type ConsumerRecord } from '../../client/index.js';
import { ATTRIBUTES_OFFSET, CONTROL_BIT, CRC_OFFSET, computeBatchCrc } from '../../proto/batch-header.js';
import type { FetchRequest } from '../../proto/generated/weir/v1/FetchRequest.js';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { MetadataResponse__Output } from '../../proto/generated/weir/v1/MetadataResponse.js';
import { encodeBatch } from '../../proto/record-batch.js';
import { waitFor, within } from './helpers.js';

const TOPIC = 'ends-with-control';

function dataBatch(baseOffset: number, values: string[]): Buffer {
  return encodeBatch(
    values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1_700_000_000_000 })),
    { baseOffset },
  );
}

/** A one-record batch marked as a control batch, its CRC made good again. */
function controlBatch(offset: number): Buffer {
  const b = dataBatch(offset, ['noop']);
  b.writeInt16BE(b.readInt16BE(ATTRIBUTES_OFFSET) | CONTROL_BIT, ATTRIBUTES_OFFSET);
  b.writeUInt32BE(computeBatchCrc(b, 0), CRC_OFFSET);
  return b;
}

/**
 * One partition whose log is `segments`, each served by a fetch from its first offset (a fetch at
 * the log's end waits a little and returns nothing, as a long-poll would).
 */
class FakeLog extends Connection {
  constructor(private readonly segments: { from: number; bytes: Buffer }[]) {
    super({ bootstrap: '127.0.0.1:1' }); // never dialled: every call the consumer makes is here
  }

  override getMetadata(): Promise<MetadataResponse__Output> {
    const partition = { partition: 0, leader: 0, replicas: [0], leaderEpoch: 0, isr: [0] };
    return Promise.resolve({
      brokers: [],
      controllerId: 0,
      clusterId: 'fake',
      topics: [{ name: TOPIC, internal: false, partitions: [partition], error: null }],
    });
  }

  override async fetch(request: FetchRequest): Promise<FetchResponse__Output> {
    const offset = Number(request.partitions![0]!.offset);
    const segment = this.segments.find((s) => s.from === offset);
    if (segment === undefined) await new Promise((done) => setTimeout(done, 20));
    const hw = this.logEnd;
    const result = {
      topic: TOPIC,
      partition: 0,
      batches: segment?.bytes ?? Buffer.alloc(0),
      records: [],
      highWatermark: hw,
      logStartOffset: 0,
      nextOffset: offset,
      error: null,
    };
    return { results: [result] };
  }

  /** The offset after the log's last batch. */
  private get logEnd(): number {
    const last = this.segments[this.segments.length - 1]!;
    let end = 0;
    for (let off = 0; off < last.bytes.length;) {
      end = Number(last.bytes.readBigInt64BE(off)) + last.bytes.readInt32BE(off + 23) + 1;
      off += 12 + last.bytes.readInt32BE(off + 8);
    }
    return end;
  }
}

let consumer: Consumer | null = null;

afterEach(async () => {
  await consumer?.close();
  consumer = null;
});

/** Reads every record of the fake log, then waits (bounded) for the position to reach `end`. */
async function readToEnd(log: FakeLog, records: number, end: number): Promise<ConsumerRecord[]> {
  const c = new Consumer({ connection: log, maxWaitMs: 20 });
  consumer = c;
  const tp = { topic: TOPIC, partition: 0 };
  c.assign([tp]);
  c.seek(tp, 0);
  const iterator = c[Symbol.asyncIterator]();
  const out: ConsumerRecord[] = [];
  while (out.length < records) {
    const next = await within(iterator.next(), 5000, 'the next record');
    if (next.done === true) break;
    out.push(next.value);
  }
  // The iterator is kept waiting, as a reader waiting for more does.
  void iterator.next().catch(() => undefined);
  await waitFor(() => c.position(tp) === end, `the position at ${end} (it is ${c.position(tp)})`, 3000);
  return out;
}

describe('the consumer position over control batches', () => {
  it('passes a control batch that ends the same fetch as the last record', async () => {
    const log = new FakeLog([
      { from: 0, bytes: Buffer.concat([dataBatch(0, ['a', 'b', 'c']), controlBatch(3)]) },
    ]);
    const read = await readToEnd(log, 3, 4);
    expect(read.map((r) => r.value!.toString())).toEqual(['a', 'b', 'c']);
  });

  it('passes control batches that come alone in a later fetch', async () => {
    const log = new FakeLog([
      { from: 0, bytes: dataBatch(0, ['a', 'b']) },
      { from: 2, bytes: Buffer.concat([controlBatch(2), controlBatch(3)]) },
    ]);
    const read = await readToEnd(log, 2, 4);
    expect(read.map((r) => r.value!.toString())).toEqual(['a', 'b']);
  });

  it('stays on a record not yet yielded after a control batch', async () => {
    const log = new FakeLog([{ from: 0, bytes: Buffer.concat([controlBatch(0), dataBatch(1, ['a'])]) }]);
    const c = new Consumer({ connection: log, maxWaitMs: 20 });
    consumer = c;
    const tp = { topic: TOPIC, partition: 0 };
    c.assign([tp]);
    c.seek(tp, 0);
    const iterator = c[Symbol.asyncIterator]();
    const first = await within(iterator.next(), 5000, 'the first record');
    expect(first.done !== true && first.value.offset).toBe(1);
    expect(c.position(tp)).toBe(2);
  });
});
