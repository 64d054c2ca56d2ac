// Idempotent-producer rules at the edges the broker tests do not reach: sequence wrap-around at
// int32 max, the five-batch window, and a new epoch.

import { describe, expect, it } from 'vitest';
import { CACHED_BATCHES, ProducerStateTable, lastSequence } from '../../broker/producer-state.js';

const INT32_MAX = 0x7fff_ffff;

function record(
  t: ProducerStateTable,
  epoch: number,
  firstSeq: number,
  records: number,
  baseOffset: number,
): void {
  t.record(7, epoch, {
    firstSeq,
    lastSeq: lastSequence(firstSeq, records),
    baseOffset,
    lastOffset: baseOffset + records - 1,
    appendTime: 0,
  });
}

describe('ProducerStateTable', () => {
  it('wraps sequences from int32 max to 0', () => {
    expect(lastSequence(INT32_MAX - 1, 3)).toBe(0);
    const t = new ProducerStateTable();
    record(t, 0, 0, 1, 0);
    record(t, 0, INT32_MAX - 1, 3, 1); // as if the sequence had reached the top
    expect(t.check(7, 0, 1, 1)).toEqual({ kind: 'append' });
    expect(() => t.check(7, 0, 2, 2)).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
  });

  it('answers duplicates from the last five batches only', () => {
    const t = new ProducerStateTable();
    for (let i = 0; i < CACHED_BATCHES + 1; i++) record(t, 0, i * 2, 2, i * 2);
    expect(t.check(7, 0, 2, 3)).toMatchObject({ kind: 'duplicate', batch: { baseOffset: 2 } });
    // The oldest batch fell out of the window: neither a duplicate nor the next batch.
    expect(() => t.check(7, 0, 0, 1)).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
    expect(t.check(7, 0, (CACHED_BATCHES + 1) * 2, (CACHED_BATCHES + 1) * 2)).toEqual({ kind: 'append' });
  });

  it('starts a newer epoch at sequence 0 and fences the older one', () => {
    const t = new ProducerStateTable();
    record(t, 0, 0, 3, 0);
    expect(() => t.check(7, 1, 3, 3)).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
    expect(t.check(7, 1, 0, 0)).toEqual({ kind: 'append' });
    record(t, 1, 0, 1, 3);
    expect(() => t.check(7, 0, 3, 3)).toThrow(/INVALID_PRODUCER_EPOCH/);
  });
  it('checks in a trial copy without touching the table', () => {
    const t = new ProducerStateTable();
    record(t, 0, 0, 2, 0);
    const trial = t.trial();
    expect(trial.check(7, 0, 2, 2)).toEqual({ kind: 'append' });
    trial.record(7, 0, { firstSeq: 2, lastSeq: 2, baseOffset: -1, lastOffset: -1, appendTime: -1 });
    expect(trial.check(7, 0, 3, 3)).toEqual({ kind: 'append' });
    expect(() => trial.check(7, 0, 2, 3)).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
    trial.record(7, 1, { firstSeq: 0, lastSeq: 0, baseOffset: -1, lastOffset: -1, appendTime: -1 });
    expect(t.check(7, 0, 2, 2)).toEqual({ kind: 'append' });
    expect(() => t.check(7, 0, 3, 3)).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
  });
});
