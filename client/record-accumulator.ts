// Per-partition batching, as Kafka's RecordAccumulator: records for one partition go into the
// partition's open batch until it is full (batchBytes) or has lingered long enough (lingerMs);
// then it is closed and handed to the sender.
//
// Why linger at all: a producer whose callers send one record at a time would otherwise send one
// record per request, and per-request costs (a gRPC message, a CRC, an append, a response) then
// dominate both ends. A few milliseconds of waiting gathers whatever else arrives meanwhile into
// the same batch. Open batches are kept in creation order, so one timer, armed for the oldest,
// serves them all.

import { WeirError } from '../proto/errors.js';
import type { RecordInput } from '../proto/record-batch.js';
import type { Clock, TimerHandle } from './clock.js';
import { ProducerBatch, type SendCall } from './producer-batch.js';

export interface AccumulatorOptions {
  /** A batch closes once it holds this many bytes (a single larger record gets a batch of its own). */
  batchBytes: number;
  /** A batch closes this long after its first record; 0 closes batches after the current tick. */
  lingerMs: number;
  clock: Clock;
  /** Receives every closed batch, in closing order (per partition, that is record order). */
  onBatchClosed: (batch: ProducerBatch) => void;
}

export class RecordAccumulator {
  private readonly options: AccumulatorOptions;
  /** topic -> open batch by partition. */
  private readonly open = new Map<string, (ProducerBatch | undefined)[]>();
  /** Every open batch, oldest first (a Set keeps insertion order). */
  private readonly byAge = new Set<ProducerBatch>();
  private timer: TimerHandle | null = null;
  private timerAt = 0;
  private microtaskQueued = false;
  private measuredRecord: RecordInput | null = null;
  private measuredBatch: ProducerBatch | null = null;
  private measuredSize = 0;

  constructor(options: AccumulatorOptions) {
    if (!(options.batchBytes > 0)) throw new WeirError('INVALID_CONFIG', 'batchBytes must be positive');
    this.options = options;
  }

  get openBatchCount(): number {
    return this.byAge.size;
  }

  /** The open batch of a partition, if any. */
  openBatch(topic: string, partition: number): ProducerBatch | undefined {
    return this.open.get(topic)?.[partition];
  }

  /**
   * Appends one record to its partition's open batch (opening one if needed) and returns the
   * bytes it added. A batch that is full afterwards, or that the record would overflow, closes.
   */
  append(topic: string, partition: number, record: RecordInput, call: SendCall, slot: number): number {
    let byPartition = this.open.get(topic);
    if (byPartition === undefined) {
      byPartition = [];
      this.open.set(topic, byPartition);
    }
    let batch = byPartition[partition];
    let size = 0;
    if (batch !== undefined) {
      size =
        this.measuredRecord === record && this.measuredBatch === batch
          ? this.measuredSize
          : batch.sizeOf(record);
      if (batch.sizeBytes + size > this.options.batchBytes) {
        this.close(batch);
        batch = undefined;
      }
    }
    if (batch === undefined) {
      batch = new ProducerBatch(topic, partition, this.options.clock.now());
      byPartition[partition] = batch;
      this.byAge.add(batch);
      this.arm();
      size = batch.sizeOf(record);
    }
    batch.add(record, size, call, slot);
    if (batch.sizeBytes >= this.options.batchBytes) this.close(batch);
    return size;
  }

  /**
   * Closes the partition's open batch if it cannot take `record`; true if it did. The sticky
   * partitioner moves on at that point rather than open a new batch on the same partition.
   */
  closeIfFull(topic: string, partition: number, record: RecordInput): boolean {
    const batch = this.open.get(topic)?.[partition];
    if (batch === undefined) return false;
    const size = batch.sizeOf(record);
    if (batch.sizeBytes + size <= this.options.batchBytes) {
      // The append that follows reuses this measure rather than walk the record twice.
      this.measuredRecord = record;
      this.measuredBatch = batch;
      this.measuredSize = size;
      return false;
    }
    this.close(batch);
    return true;
  }

  /** Closes every open batch now (flush, close). */
  closeAll(): void {
    for (const batch of this.byAge) this.close(batch);
    this.disarm();
  }

  private close(batch: ProducerBatch): void {
    const byPartition = this.open.get(batch.topic);
    if (byPartition !== undefined && byPartition[batch.partition] === batch) {
      byPartition[batch.partition] = undefined;
    }
    this.byAge.delete(batch);
    batch.state = 'queued';
    this.options.onBatchClosed(batch);
  }

  private arm(): void {
    const { lingerMs, clock } = this.options;
    if (lingerMs === 0) {
      if (!this.microtaskQueued) {
        this.microtaskQueued = true;
        queueMicrotask(() => {
          this.microtaskQueued = false;
          this.closeAll();
        });
      }
      return;
    }
    const oldest = this.byAge.values().next().value;
    if (oldest === undefined) return;
    const at = oldest.createdAt + lingerMs;
    if (this.timer !== null && this.timerAt <= at) return;
    this.disarm();
    this.timerAt = at;
    this.timer = clock.schedule(Math.max(0, at - clock.now()), () => this.onTimer());
  }

  private disarm(): void {
    if (this.timer !== null) {
      this.timer.cancel();
      this.timer = null;
    }
  }

  private onTimer(): void {
    this.timer = null;
    const deadline = this.options.clock.now() - this.options.lingerMs;
    for (const batch of this.byAge) {
      if (batch.createdAt > deadline) break;
      this.close(batch);
    }
    this.arm();
  }
}
