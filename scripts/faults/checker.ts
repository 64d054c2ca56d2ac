// The fault runs' checker: the safety properties of a produce/consume history (history.ts) from
// real processes. It sees only what a client saw and what is on disk, never the brokers' state, so
// it holds the brokers to what they promised their clients:
//
//   ack-lost            an acknowledged record is read back (acks=all: none may be lost)
//   offset-mismatch     it is read at the offset it was acknowledged at; no two acknowledgements
//                       name one offset; one offset holds one record in every read
//   duplicate           no record is read at two offsets (the producers are idempotent)
//   order               a producer's records read back are in the order it sent them
//   failed-present      a record whose send certainly failed is not in the log
//   unexpected          every record read back was sent by the workload
//   replica-divergent   after heal, every replica holds the same batches, byte for byte, below the
//                       partition's high watermark
//
// The simulation's checker (test/sim/raft-checker.ts) watches Raft entries from inside the
// replicas; this one has only the client's view, so it shares that checker's vocabulary
// ('ack-lost', 'duplicate') rather than its code. Unknown outcomes are counted (present or not):
// both are correct.

import { LOG_OVERHEAD, PARTITION_LEADER_EPOCH_OFFSET } from '../../proto/batch-header.js';
import type { History, ProduceOp, ReadRecord, ReplicaLog } from './history.js';

export const PROPERTIES = [
  'ack-lost',
  'offset-mismatch',
  'duplicate',
  'order',
  'failed-present',
  'unexpected',
  'replica-divergent',
] as const;

export type Property = (typeof PROPERTIES)[number];

export interface Finding {
  readonly property: Property;
  readonly detail: string;
}

export interface CheckResult {
  readonly ops: { ok: number; failed: number; unknown: number };
  /** Acknowledged records, and how many of them were not read back. */
  readonly acknowledged: number;
  readonly lost: number;
  /** Unknown outcomes that turned out written, and not. */
  readonly unknownPresent: number;
  readonly unknownAbsent: number;
  readonly findings: readonly Finding[];
}

/** Findings are capped per property so a run that loses everything still prints a short report. */
const MAX_FINDINGS_PER_PROPERTY = 20;

class Findings {
  readonly list: Finding[] = [];
  private readonly counts = new Map<Property, number>();

  add(property: Property, detail: string): void {
    const n = (this.counts.get(property) ?? 0) + 1;
    this.counts.set(property, n);
    if (n <= MAX_FINDINGS_PER_PROPERTY) this.list.push({ property, detail });
  }

  count(property: Property): number {
    return this.counts.get(property) ?? 0;
  }
}

/** Every offset each value was read at, and the one value each (partition, offset) holds. */
function indexReads(reads: readonly ReadRecord[], out: Findings): Map<string, ReadRecord[]> {
  const byValue = new Map<string, ReadRecord[]>();
  const atOffset = new Map<string, string>();
  for (const r of reads) {
    const slot = `${r.partition}@${r.offset}`;
    const held = atOffset.get(slot);
    if (held === undefined) atOffset.set(slot, r.value);
    else if (held !== r.value) {
      out.add(
        'offset-mismatch',
        `partition ${r.partition} offset ${r.offset} read as ${held} and ${r.value}`,
      );
      continue;
    } else continue; // the same record read twice (two reads of one log): not a duplicate
    const seen = byValue.get(r.value);
    if (seen === undefined) byValue.set(r.value, [r]);
    else seen.push(r);
  }
  return byValue;
}

function checkAcknowledged(
  ops: readonly ProduceOp[],
  byValue: Map<string, ReadRecord[]>,
  out: Findings,
): void {
  const ackedAt = new Map<string, string>();
  for (const op of ops) {
    if (op.status !== 'ok') continue;
    const slot = `${op.partition}@${op.offset}`;
    const other = ackedAt.get(slot);
    if (other !== undefined)
      out.add('offset-mismatch', `${other} and ${op.value} both acknowledged at partition ${slot}`);
    ackedAt.set(slot, op.value);
    const found = byValue.get(op.value);
    if (found === undefined) {
      out.add('ack-lost', `${op.value} acknowledged at partition ${slot}, not read back`);
      continue;
    }
    if (!found.some((r) => r.partition === op.partition && r.offset === op.offset))
      out.add(
        'offset-mismatch',
        `${op.value} acknowledged at partition ${slot}, read at ` +
          found.map((r) => `${r.partition}@${r.offset}`).join(', '),
      );
  }
}

/** A producer's records read back, by its send order, must sit at increasing offsets. */
function checkOrder(ops: readonly ProduceOp[], byValue: Map<string, ReadRecord[]>, out: Findings): void {
  const byProducer = new Map<number, ProduceOp[]>();
  for (const op of ops) {
    const list = byProducer.get(op.producer);
    if (list === undefined) byProducer.set(op.producer, [op]);
    else list.push(op);
  }
  for (const [producer, list] of byProducer) {
    list.sort((a, b) => a.seq - b.seq);
    const last = new Map<number, { seq: number; offset: number }>();
    for (const op of list) {
      const found = byValue.get(op.value);
      if (found === undefined) continue;
      for (const r of found) {
        const prev = last.get(r.partition);
        if (prev !== undefined && r.offset <= prev.offset)
          out.add(
            'order',
            `producer ${producer}: send ${op.seq} at ${r.partition}@${r.offset}, ` +
              `not after send ${prev.seq} at ${r.partition}@${prev.offset}`,
          );
        last.set(r.partition, { seq: op.seq, offset: r.offset });
      }
    }
  }
}

function sameBatch(a: ReplicaLog['batches'][number], b: ReplicaLog['batches'][number]): boolean {
  return a.baseOffset === b.baseOffset && a.lastOffset === b.lastOffset && a.bytes.equals(b.bytes);
}

/** A batch for a divergence report: its offsets, size and leader epoch. */
function describeBatch(b: ReplicaLog['batches'][number] | undefined): string {
  if (b === undefined) return 'nothing';
  return `batch ${b.baseOffset}..${b.lastOffset} (${b.bytes.length} bytes, leader epoch ${b.bytes.length >= LOG_OVERHEAD + 4 ? b.bytes.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET) : '?'})`;
}

/** Every replica of a partition holds the same batches below its high watermark. */
function checkReplicas(
  replicas: readonly ReplicaLog[],
  highWatermarks: ReadonlyMap<number, number>,
  out: Findings,
): void {
  const byPartition = new Map<number, ReplicaLog[]>();
  for (const r of replicas) {
    const list = byPartition.get(r.partition);
    if (list === undefined) byPartition.set(r.partition, [r]);
    else list.push(r);
  }
  for (const [partition, list] of byPartition) {
    const hw = highWatermarks.get(partition);
    if (hw === undefined) {
      out.add('replica-divergent', `partition ${partition}: no high watermark to compare below`);
      continue;
    }
    const below = (r: ReplicaLog) => r.batches.filter((b) => b.baseOffset < hw);
    const reference = below(list[0]!);
    const covered = reference.length === 0 ? 0 : reference[reference.length - 1]!.lastOffset + 1;
    if (hw > 0 && covered < hw)
      out.add(
        'replica-divergent',
        `partition ${partition}: broker ${list[0]!.broker} holds offsets below ${covered}, not up to ${hw}`,
      );
    for (const r of list.slice(1)) {
      const mine = below(r);
      const i = mine.findIndex((b, k) => reference[k] === undefined || !sameBatch(b, reference[k]!));
      if (i >= 0 || mine.length !== reference.length) {
        const k = i >= 0 ? i : mine.length;
        out.add(
          'replica-divergent',
          `partition ${partition}: broker ${r.broker} differs from broker ${list[0]!.broker} ` +
            `below the high watermark ${hw}: ${describeBatch(mine[k])} against ${describeBatch(reference[k])}`,
        );
      }
    }
  }
}

export function checkHistory(history: History): CheckResult {
  const out = new Findings();
  const byValue = indexReads(history.reads, out);
  const sent = new Set(history.ops.map((op) => op.value));
  for (const [value, found] of byValue) {
    if (!sent.has(value))
      out.add('unexpected', `${value} read at ${found[0]!.partition}@${found[0]!.offset}`);
    if (found.length > 1)
      out.add('duplicate', `${value} read at ${found.map((r) => `${r.partition}@${r.offset}`).join(', ')}`);
  }
  checkAcknowledged(history.ops, byValue, out);
  checkOrder(history.ops, byValue, out);
  const ops = { ok: 0, failed: 0, unknown: 0 };
  let unknownPresent = 0;
  for (const op of history.ops) {
    ops[op.status]++;
    const present = byValue.has(op.value);
    if (op.status === 'failed' && present)
      out.add('failed-present', `${op.value} failed (${op.error}) but was written`);
    if (op.status === 'unknown' && present) unknownPresent++;
  }
  if (history.replicas !== undefined && history.replicas.length > 0)
    checkReplicas(history.replicas, history.highWatermarks ?? new Map(), out);
  return {
    ops,
    acknowledged: ops.ok,
    lost: out.count('ack-lost'),
    unknownPresent,
    unknownAbsent: ops.unknown - unknownPresent,
    findings: out.list,
  };
}

/** The properties a result breaks, each once. */
export function brokenProperties(result: CheckResult): Property[] {
  return PROPERTIES.filter((p) => result.findings.some((f) => f.property === p));
}

/** One line: `ops ok/failed/unknown, acknowledged writes lost: L of N`, then any findings. */
export function describeResult(result: CheckResult): string {
  const { ok, failed, unknown } = result.ops;
  const head =
    `ops ok ${ok} / failed ${failed} / unknown ${unknown} (${result.unknownPresent} written), ` +
    `acknowledged writes lost: ${result.lost} of ${result.acknowledged}`;
  return [head, ...result.findings.map((f) => `  ${f.property}: ${f.detail}`)].join('\n');
}
