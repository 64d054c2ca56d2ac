// Which partition a record goes to when the caller did not say: keyed records by Kafka's murmur2
// partitioner (proto/partitioner.ts), so a key lands where Kafka's Java client would put it;
// records without a key by a sticky partitioner (Kafka's KIP-480): all of them go to one partition
// until the batch they filled there closes, then to another partition chosen at random. Spreading
// each keyless record round-robin instead would make one small batch per partition per linger.

import { partitionForKey } from '../proto/partitioner.js';
import type { Random } from './clock.js';
import type { ProducerBatch } from './producer-batch.js';

/** A custom partitioner: returns a partition in [0, partitionCount). */
export type Partitioner = (topic: string, key: Uint8Array | null, partitionCount: number) => number;

interface Sticky {
  partition: number;
  /** The batch the sticky partition's records went into last; a new choice is due once it closes. */
  batch: ProducerBatch | null;
  /** The last record filled its batch, which closed at once: the next one starts elsewhere. */
  switchDue: boolean;
}

export class StickyPartitioner {
  private readonly random: Random;
  private readonly sticky = new Map<string, Sticky>();

  constructor(random: Random) {
    this.random = random;
  }

  /** The partition for a keyless record of `topic`. Call `appended` with the batch it went into. */
  partition(topic: string, partitionCount: number): number {
    let sticky = this.sticky.get(topic);
    if (sticky === undefined) {
      sticky = { partition: this.choose(-1, partitionCount), batch: null, switchDue: false };
      this.sticky.set(topic, sticky);
    } else if (
      sticky.partition >= partitionCount ||
      sticky.switchDue ||
      (sticky.batch !== null && sticky.batch.state !== 'open')
    ) {
      sticky.partition = this.choose(sticky.partition, partitionCount);
      sticky.batch = null;
      sticky.switchDue = false;
    }
    return sticky.partition;
  }

  /** Moves on from the current partition (its batch could not take the next record). */
  switchFrom(topic: string, partitionCount: number): number {
    const sticky = this.sticky.get(topic)!;
    sticky.partition = this.choose(sticky.partition, partitionCount);
    sticky.batch = null;
    sticky.switchDue = false;
    return sticky.partition;
  }

  /** `openBatch` is the partition's open batch after the append; undefined if the append closed it. */
  appended(topic: string, openBatch: ProducerBatch | undefined): void {
    const sticky = this.sticky.get(topic);
    if (sticky === undefined) return;
    if (openBatch === undefined) sticky.switchDue = true;
    else sticky.batch = openBatch;
  }

  /** A partition other than `previous` when there is a choice. */
  private choose(previous: number, partitionCount: number): number {
    if (partitionCount <= 1) return 0;
    if (previous < 0 || previous >= partitionCount) return Math.floor(this.random() * partitionCount);
    const next = Math.floor(this.random() * (partitionCount - 1));
    return next >= previous ? next + 1 : next;
  }
}

/** Kafka's default: murmur2 of the key bytes, positive, modulo the partition count. */
export function keyPartition(key: Uint8Array, partitionCount: number): number {
  return partitionForKey(key, partitionCount);
}
