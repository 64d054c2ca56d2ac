// Per-partition batching on its own, with a manual clock: batches close when the next record
// would not fit (and never exceed batchBytes unless one record alone does), when lingerMs has
// passed since their first record, oldest first, or all at once on closeAll.

import { describe, expect, it } from 'vitest';
import { SendCall, type ProducerBatch } from '../../client/producer-batch.js';
import { RecordAccumulator } from '../../client/record-accumulator.js';
import { encodeBatch, type RecordInput } from '../../proto/record-batch.js';
import { ManualClock } from '../../storage/clock.js';
import { turn } from './fakes.js';

function setup(batchBytes: number, lingerMs: number) {
  const clock = new ManualClock();
  const closed: ProducerBatch[] = [];
  const accumulator = new RecordAccumulator({
    batchBytes,
    lingerMs,
    clock,
    onBatchClosed: (b) => closed.push(b),
  });
  return { clock, closed, accumulator };
}

function record(value: string, timestamp = 1_700_000_000_000): RecordInput {
  return { key: null, value: Buffer.from(value), timestamp };
}

function call(n: number): SendCall {
  return new SendCall(
    't',
    Array.from({ length: n }, () => record('')),
    null,
    0,
    () => {},
  );
}

describe('RecordAccumulator', () => {
  it('closes a batch before a record that would overflow it; sizes match the codec exactly', () => {
    const { accumulator, closed } = setup(500, 1000);
    const c = call(100);
    for (let i = 0; i < 100; i++) accumulator.append('t', 0, record(`value-${i}`.padEnd(30, '-')), c, i);
    expect(closed.length).toBeGreaterThan(3);
    for (const batch of closed) {
      const encoded = encodeBatch(batch.records);
      expect(batch.sizeBytes).toBe(encoded.length);
      expect(encoded.length).toBeLessThanOrEqual(500);
      // It closed because the next record did not fit.
      expect(encoded.length + 30 + 8).toBeGreaterThan(500);
    }
    const all = closed.flatMap((b) => b.records).concat(accumulator.openBatch('t', 0)?.records ?? []);
    expect(all.map((r) => r.value!.toString())).toEqual(
      Array.from({ length: 100 }, (_, i) => `value-${i}`.padEnd(30, '-')),
    );
    expect(closed.flatMap((b) => b.slots)).toEqual(
      Array.from({ length: closed.flatMap((b) => b.slots).length }, (_, i) => i),
    );
  });

  it('gives a record larger than batchBytes a batch of its own', () => {
    const { accumulator, closed } = setup(100, 1000);
    const c = call(3);
    accumulator.append('t', 0, record('a'), c, 0);
    accumulator.append('t', 0, record('b'.repeat(500)), c, 1);
    accumulator.append('t', 0, record('c'), c, 2);
    expect(closed.map((b) => b.records.length)).toEqual([1, 1]);
    expect(closed[1]!.records[0]!.value!.length).toBe(500);
    expect(accumulator.openBatch('t', 0)!.records[0]!.value!.toString()).toBe('c');
  });

  it('keeps one open batch per partition', () => {
    const { accumulator } = setup(10_000, 1000);
    const c = call(4);
    accumulator.append('t', 0, record('a'), c, 0);
    accumulator.append('t', 1, record('b'), c, 1);
    accumulator.append('u', 0, record('c'), c, 2);
    accumulator.append('t', 0, record('d'), c, 3);
    expect(accumulator.openBatch('t', 0)!.records.map((r) => r.value!.toString())).toEqual(['a', 'd']);
    expect(accumulator.openBatch('t', 1)!.records).toHaveLength(1);
    expect(accumulator.openBatch('u', 0)!.records).toHaveLength(1);
    expect(accumulator.openBatchCount).toBe(3);
  });

  it('closes each batch lingerMs after its first record, oldest first, not before', () => {
    const { accumulator, closed, clock } = setup(10_000, 10);
    const c = call(3);
    accumulator.append('t', 0, record('a'), c, 0);
    clock.advance(4);
    accumulator.append('t', 1, record('b'), c, 1);
    accumulator.append('t', 0, record('a2'), c, 2); // does not extend partition 0's deadline
    clock.advance(5);
    expect(closed).toHaveLength(0);
    clock.advance(1);
    expect(closed.map((b) => b.partition)).toEqual([0]);
    expect(closed[0]!.records).toHaveLength(2);
    clock.advance(3);
    expect(closed).toHaveLength(1);
    clock.advance(1);
    expect(closed.map((b) => b.partition)).toEqual([0, 1]);
    expect(accumulator.openBatchCount).toBe(0);
  });

  it('with lingerMs 0 closes what one synchronous burst appended, right after it', async () => {
    const { accumulator, closed } = setup(10_000, 0);
    const c = call(3);
    for (let i = 0; i < 3; i++) accumulator.append('t', 0, record(`${i}`), c, i);
    expect(closed).toHaveLength(0);
    await turn();
    expect(closed).toHaveLength(1);
    expect(closed[0]!.records).toHaveLength(3);
  });

  it('closeAll closes every open batch at once and closeIfFull only a full one', () => {
    const { accumulator, closed } = setup(200, 60_000);
    const c = call(4);
    accumulator.append('t', 0, record('a'), c, 0);
    accumulator.append('t', 1, record('b'), c, 1);
    expect(accumulator.closeIfFull('t', 0, record('small'))).toBe(false);
    expect(accumulator.closeIfFull('t', 0, record('x'.repeat(190)))).toBe(true);
    expect(closed.map((b) => b.partition)).toEqual([0]);
    accumulator.closeAll();
    expect(closed.map((b) => b.partition)).toEqual([0, 1]);
    expect(closed.every((b) => b.state === 'queued')).toBe(true);
  });
});
