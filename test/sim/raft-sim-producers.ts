// Idempotent producers in the Raft simulation. Each producer has one batch in flight at a time,
// sent to whichever replica says it leads; a batch not acknowledged (its leader crashed, was
// deposed or is cut off) is retried with the same sequence numbers at the next leader. A leader
// checks each batch against its producer state, the broker's own ProducerStateTable, which it
// rebuilds from its whole log when it becomes leader: a retry of a batch the log already holds,
// committed or not, is answered with the original offsets instead of being appended again (Jepsen
// found exactly such duplicates in Redpanda in 2022). Retention keeps the producer state of the
// entries it removes as the log's start state, which a from-start append hands to a follower with
// the log; without it, a retry whose original retention took is appended again. The checker then
// sees no (producer, sequence) twice in the committed log, and every answer names the batch that
// was sent.

import type { Entry } from '../../broker/raft/messages.js';
import { ProducerStateTable, lastSequence } from '../../broker/producer-state.js';
import { entryEnd } from '../../broker/raft/raft-log.js';

const PREFIX = 'P';

export interface ProducerBatch {
  readonly producerId: number;
  readonly firstSeq: number;
  readonly count: number;
}

/** The bytes of a producer's batch in the simulation: its producer id and first sequence. */
export function producerData(b: ProducerBatch): Buffer {
  return Buffer.from(`${PREFIX}${b.producerId}:${b.firstSeq}`);
}

/** The producer id and first sequence of an entry written by an idempotent producer, or null. */
export function producerOf(e: Entry): { producerId: number; firstSeq: number } | null {
  if (e.kind !== 'data' || e.data[0] !== PREFIX.charCodeAt(0)) return null;
  const [id, seq] = Buffer.from(e.data).toString('latin1').slice(1).split(':');
  return { producerId: Number(id), firstSeq: Number(seq) };
}

/**
 * A new leader's producer state: its log's start state, then every entry of its log (or, in the
 * negative control, only those below its high watermark: a retry of an uncommitted batch is then
 * appended again).
 */
export function rebuildProducerState(
  startState: Uint8Array | null,
  entries: readonly Entry[],
  onlyBelow = Infinity,
): ProducerStateTable {
  const table = startState === null ? new ProducerStateTable() : ProducerStateTable.decode(startState);
  for (const e of entries) {
    if (entryEnd(e) > onlyBelow) break;
    const p = producerOf(e);
    if (p === null) continue;
    table.record(p.producerId, 0, {
      firstSeq: p.firstSeq,
      lastSeq: lastSequence(p.firstSeq, e.count),
      baseOffset: e.offset,
      lastOffset: entryEnd(e) - 1,
      appendTime: 0,
    });
  }
  return table;
}

/** The start state of a log whose entries below `offset` retention removes. */
export function foldProducerState(
  startState: Uint8Array | null,
  entries: readonly Entry[],
  offset: number,
): Uint8Array {
  return rebuildProducerState(startState, entries, offset).encode();
}

export class SimProducer {
  nextSeq = 0;
  /** The batch sent and not yet acknowledged, retried until it is. */
  inFlight: ProducerBatch | null = null;
  /** A send of the batch in flight is waiting for its answer. */
  waiting = false;
  /** Retries answered with the original offsets. */
  duplicatesAnswered = 0;

  constructor(public producerId: number) {}

  /** The batch to send: the one in flight, or a new one of `count` records. */
  batch(count: number): ProducerBatch {
    this.inFlight ??= { producerId: this.producerId, firstSeq: this.nextSeq, count };
    return this.inFlight;
  }

  acknowledged(): void {
    const b = this.inFlight!;
    this.nextSeq = lastSequence(b.firstSeq, b.count) + 1;
    this.inFlight = null;
  }

  /** UNKNOWN_PRODUCER_ID (retention took its batches): start over with a new id, as a client does. */
  restartAs(producerId: number): void {
    this.producerId = producerId;
    this.nextSeq = 0;
    this.inFlight = null;
  }
}
