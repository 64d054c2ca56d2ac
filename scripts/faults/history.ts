// What a fault run records: every produce the workload made, with its outcome as the client saw
// it, what a consumer read back afterwards, and (when the harness can read them) each replica's
// log as record-batch bytes. The checker (checker.ts) judges these alone, so a history from a real
// run and a hand-made one that breaks a property go through the same code.
//
// An operation's outcome is one of three, as in Jepsen's histories: `ok`, the broker acknowledged
// the record at an offset; `failed`, the record was certainly not written (refused before any
// attempt reached a broker's log); `unknown`, anything else (a timeout, a broker gone mid-call, a
// retriable error the producer gave up on): the record may or may not be in the log, and either
// is correct.

export type OpStatus = 'ok' | 'failed' | 'unknown';

export interface ProduceOp {
  /** The workload's producer (an index, not the broker's producer id, which may change). */
  readonly producer: number;
  /** The producer's sends in the order it made them, from 0. */
  readonly seq: number;
  readonly partition: number;
  /** Unique over the run: how a record read back is matched with its send. */
  readonly value: string;
  readonly status: OpStatus;
  /** The acknowledged offset; null unless `ok`. */
  readonly offset: number | null;
  /** The error's code or message, for failed and unknown operations. */
  readonly error?: string;
}

/** One record a consumer read back. */
export interface ReadRecord {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

/** One stored batch of a replica's log: its offsets and exact bytes. */
export interface ReplicaBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly bytes: Buffer;
}

/** One replica of one partition, read from its files after the run. */
export interface ReplicaLog {
  readonly broker: number;
  readonly partition: number;
  readonly batches: readonly ReplicaBatch[];
}

export interface History {
  readonly ops: readonly ProduceOp[];
  /** Everything read back, from every partition's start to its high watermark. */
  readonly reads: readonly ReadRecord[];
  /** Replicas to compare, with each partition's high watermark after heal; empty when not read. */
  readonly replicas?: readonly ReplicaLog[];
  readonly highWatermarks?: ReadonlyMap<number, number>;
}

/** The value the workload writes for a producer's send: unique within a run. */
export function opValue(run: string, producer: number, seq: number): string {
  return `${run}/p${producer}/s${seq}`;
}
