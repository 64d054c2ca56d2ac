// A produce in the records form (records given as fields, not RecordBatch bytes): its idempotence
// fields, checked, and its records grouped by the partition each goes to.

import { WeirError } from '../../proto/errors.js';
import { partitionForKey } from '../../proto/partitioner.js';
import type { RecordInput } from '../../proto/record-batch.js';

export interface ProducedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: { key: string; value: Buffer | null }[];
  /** 0 = now. */
  readonly timestamp: number;
}

/**
 * The idempotence fields of a produce in the records form: all three or none (not idempotent).
 * A batch in RecordBatch form carries them in its header instead.
 */
export interface ProducerFields {
  readonly producerId?: number | undefined;
  readonly producerEpoch?: number | undefined;
  readonly baseSequence?: number | undefined;
}

/** The batch header fields for `fields`, or null when the produce is not idempotent. */
export function sequencedBatch(
  fields: ProducerFields,
  partition: number,
): { producerId: number; producerEpoch: number; baseSequence: number } | null {
  const { producerId, producerEpoch, baseSequence } = fields;
  if (producerId === undefined && producerEpoch === undefined && baseSequence === undefined) return null;
  if (producerId === undefined || producerEpoch === undefined || baseSequence === undefined)
    throw new WeirError(
      'INVALID_REQUEST',
      'producer_id, producer_epoch and base_sequence go together: set all three or none',
    );
  if (partition === -1)
    throw new WeirError(
      'INVALID_REQUEST',
      'an idempotent produce names its partition: sequence numbers count per partition, so not -1',
    );
  if (!Number.isSafeInteger(producerId) || producerId < 0)
    throw new WeirError('INVALID_REQUEST', `producer_id ${producerId} is not one InitProducerId gives`);
  if (!Number.isInteger(producerEpoch) || producerEpoch < 0 || producerEpoch > 0x7fff)
    throw new WeirError('INVALID_REQUEST', `producer_epoch ${producerEpoch} is not in 0..32767`);
  if (!Number.isInteger(baseSequence) || baseSequence < 0)
    throw new WeirError('INVALID_REQUEST', `base_sequence ${baseSequence} is negative`);
  return { producerId, producerEpoch, baseSequence };
}

/**
 * The records by the partition each goes to: `partition`, or with -1 by Kafka's murmur2 of the key
 * over `count` partitions, records without a key all to `unkeyed`. A timestamp of 0 becomes `now`.
 */
export function groupByPartition(
  records: readonly ProducedRecord[],
  partition: number,
  count: number,
  unkeyed: number,
  now: number,
): Map<number, RecordInput[]> {
  const groups = new Map<number, RecordInput[]>();
  for (const r of records) {
    const target = partition !== -1 ? partition : r.key === null ? unkeyed : partitionForKey(r.key, count);
    let group = groups.get(target);
    if (group === undefined) groups.set(target, (group = []));
    group.push({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: r.timestamp === 0 ? now : r.timestamp,
    });
  }
  return groups;
}
