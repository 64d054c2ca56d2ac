// The fault runs' checker on hand-made histories: a clean one passes, and each property it checks
// is caught by a history that breaks only that property (so each check can fail).

import { describe, expect, it } from 'vitest';
import { brokenProperties, checkHistory, describeResult } from '../../scripts/faults/checker.js';
import {
  opValue,
  type History,
  type ProduceOp,
  type ReadRecord,
  type ReplicaLog,
} from '../../scripts/faults/history.js';

const v = (producer: number, seq: number) => opValue('r', producer, seq);

function ok(producer: number, seq: number, offset: number, partition = 0): ProduceOp {
  return { producer, seq, partition, value: v(producer, seq), status: 'ok', offset };
}

function read(producer: number, seq: number, offset: number, partition = 0): ReadRecord {
  return { partition, offset, value: v(producer, seq) };
}

/** Two producers interleaved on partition 0, one unknown outcome written, one not. */
function clean(): { ops: ProduceOp[]; reads: ReadRecord[] } {
  return {
    ops: [
      ok(0, 0, 0),
      ok(1, 0, 1),
      ok(0, 1, 2),
      {
        producer: 1,
        seq: 1,
        partition: 0,
        value: v(1, 1),
        status: 'unknown',
        offset: null,
        error: 'timeout',
      },
      ok(1, 2, 4),
      {
        producer: 0,
        seq: 2,
        partition: 0,
        value: v(0, 2),
        status: 'unknown',
        offset: null,
        error: 'timeout',
      },
      {
        producer: 0,
        seq: 3,
        partition: 0,
        value: v(0, 3),
        status: 'failed',
        offset: null,
        error: 'UNKNOWN_TOPIC_OR_PARTITION',
      },
    ],
    reads: [read(0, 0, 0), read(1, 0, 1), read(0, 1, 2), read(1, 1, 3), read(1, 2, 4)],
  };
}

function batch(baseOffset: number, lastOffset: number, fill: number) {
  return { baseOffset, lastOffset, bytes: Buffer.alloc(20, fill) };
}

function replicas(second: ReplicaLog['batches']): ReplicaLog[] {
  const first = [batch(0, 1, 1), batch(2, 4, 2), batch(5, 5, 3)];
  return [
    { broker: 1, partition: 0, batches: first },
    { broker: 2, partition: 0, batches: second },
  ];
}

describe('the fault checker', () => {
  it('passes a history that keeps every property, and counts outcomes', () => {
    const h = clean();
    const result = checkHistory({
      ...h,
      replicas: replicas([batch(0, 1, 1), batch(2, 4, 2)]),
      highWatermarks: new Map([[0, 5]]),
    });
    expect(result.findings).toEqual([]);
    expect(result.ops).toEqual({ ok: 4, failed: 1, unknown: 2 });
    expect(result).toMatchObject({ acknowledged: 4, lost: 0, unknownPresent: 1, unknownAbsent: 1 });
    expect(describeResult(result)).toContain('acknowledged writes lost: 0 of 4');
  });

  const broken: [string, () => History, string][] = [
    [
      'an acknowledged record missing',
      () => {
        const h = clean();
        return { ...h, reads: h.reads.filter((r) => r.value !== v(0, 1)) };
      },
      'ack-lost',
    ],
    [
      'an acknowledged record read at another offset',
      () => {
        const h = clean();
        return { ...h, reads: h.reads.map((r) => (r.value === v(1, 2) ? { ...r, offset: 7 } : r)) };
      },
      'offset-mismatch',
    ],
    [
      'one offset read as two records',
      () => {
        const h = clean();
        return { ...h, reads: [...h.reads, { partition: 0, offset: 3, value: v(9, 9) }] };
      },
      'offset-mismatch',
    ],
    [
      'a record read twice',
      () => {
        const h = clean();
        return { ...h, reads: [...h.reads, read(0, 1, 5)] };
      },
      'duplicate',
    ],
    [
      "a producer's records out of its order",
      () => ({ ops: [ok(0, 0, 1), ok(0, 1, 0)], reads: [read(0, 1, 0), read(0, 0, 1)] }),
      'order',
    ],
    [
      'a failed send written after all',
      () => {
        const h = clean();
        return { ...h, reads: [...h.reads, read(0, 3, 5)] };
      },
      'failed-present',
    ],
    [
      'a record nobody sent',
      () => {
        const h = clean();
        return { ...h, reads: [...h.reads, { partition: 0, offset: 5, value: 'stray' }] };
      },
      'unexpected',
    ],
    [
      'a replica whose batch below the high watermark differs',
      () => ({
        ...clean(),
        replicas: replicas([batch(0, 1, 1), batch(2, 4, 9)]),
        highWatermarks: new Map([[0, 5]]),
      }),
      'replica-divergent',
    ],
    [
      'a replica short of the high watermark',
      () => ({ ...clean(), replicas: replicas([batch(0, 1, 1)]), highWatermarks: new Map([[0, 5]]) }),
      'replica-divergent',
    ],
  ];

  it.each(broken)('catches %s', (_, history, property) => {
    const result = checkHistory(history());
    expect(brokenProperties(result)).toEqual([property]);
  });

  it('counts every lost acknowledgement but lists only the first few', () => {
    const ops = Array.from({ length: 50 }, (_, i) => ok(0, i, i));
    const result = checkHistory({ ops, reads: [] });
    expect(result.lost).toBe(50);
    expect(result.findings.length).toBeLessThanOrEqual(20);
    expect(describeResult(result)).toContain('acknowledged writes lost: 50 of 50');
  });
});
