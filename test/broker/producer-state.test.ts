// Idempotent-producer rules at the edges the broker tests do not reach: sequence wrap-around at
// int32 max, the five-batch window, a new epoch, and the table as bytes.

import fc from 'fast-check';
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

describe('ProducerStateTable as bytes', () => {
  const batch = fc.record({
    firstSeq: fc.integer({ min: 0, max: INT32_MAX }),
    lastSeq: fc.integer({ min: 0, max: INT32_MAX }),
    baseOffset: fc.maxSafeNat(),
    lastOffset: fc.maxSafeNat(),
    appendTime: fc.integer({ min: -1, max: 2 ** 45 }),
  });
  const producers = fc.array(
    fc.record({
      id: fc.maxSafeNat(),
      epoch: fc.integer({ min: 0, max: 0x7fff }),
      batches: fc.array(batch, { minLength: 1, maxLength: CACHED_BATCHES }),
    }),
    { maxLength: 8 },
  );

  it('decodes what it encodes: every producer answers its retries as before', () => {
    fc.assert(
      fc.property(producers, (ps) => {
        const t = new ProducerStateTable();
        for (const p of ps) for (const b of p.batches) t.record(p.id, p.epoch, b);
        const back = ProducerStateTable.decode(t.encode());
        expect(back.encode()).toEqual(t.encode());
        for (const p of ps) {
          const last = p.batches.at(-1)!;
          const answer = (table: ProducerStateTable): unknown => {
            try {
              return table.check(p.id, p.epoch, last.firstSeq, last.lastSeq);
            } catch (e) {
              return (e as Error).message;
            }
          };
          expect(answer(back)).toEqual(answer(t));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses bytes that are cut short, too long or of another version, with a typed error', () => {
    const t = new ProducerStateTable();
    record(t, 2, 0, 3, 40);
    const bytes = t.encode();
    const bad = [
      bytes.subarray(0, bytes.length - 1),
      Buffer.concat([bytes, Buffer.from([0])]),
      Buffer.concat([Buffer.from([1]), bytes.subarray(1)]),
      Buffer.alloc(3),
    ];
    for (const b of bad) {
      expect(() => ProducerStateTable.decode(b)).toThrow(
        expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }) as Error,
      );
    }
  });
});
