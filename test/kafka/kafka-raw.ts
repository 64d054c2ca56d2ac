// Reads of one partition from a particular broker's Kafka listener (kafka-request.ts sends them),
// for tests that ask a broker something a Kafka client would not: a follower's answer to a fetch,
// or every record of a partition with the producer sequence each was written with.

import { batchIsControl, batchSize } from '../../proto/batch-header.js';
import { FetchApi, type FetchResponsePartition } from '../../proto/kafka/generated/index.js';
import { decodeBatch } from '../../proto/record-batch.js';
import { kafkaRequest } from './kafka-request.js';

/** A Fetch v11 (topics by name) of one partition from `offset`, without waiting for data. */
export async function fetchPartition(
  port: number,
  topic: string,
  partition: number,
  offset: number,
): Promise<FetchResponsePartition> {
  const answer = await kafkaRequest(port, FetchApi, 11, {
    ...FetchApi.defaultRequest(),
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 8 << 20,
    topics: [
      {
        topic,
        topicId: '00000000-0000-0000-0000-000000000000',
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: 4 << 20,
            replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
          },
        ],
      },
    ],
  });
  return answer.responses[0]!.partitions[0]!;
}

/** A record as read back, with the producer id/epoch and sequence its batch gave it. */
export interface PartitionRecord {
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly producer: string;
  readonly sequence: number;
}

/** Every data record of a partition up to its high watermark, read from its leader's Kafka listener. */
export async function readPartition(
  port: number,
  topic: string,
  partition: number,
): Promise<PartitionRecord[]> {
  const out: PartitionRecord[] = [];
  let next = 0;
  for (;;) {
    const p = await fetchPartition(port, topic, partition, next);
    if (p.errorCode !== 0) throw new Error(`fetch ${topic}/${partition} at ${next}: error ${p.errorCode}`);
    const records = Buffer.isBuffer(p.records) ? p.records : Buffer.concat(p.records ?? []);
    for (let off = 0; off < records.length; off += batchSize(records, off)) {
      const decoded = decodeBatch(records, off);
      if (!decoded.ok) throw new Error(decoded.reason);
      // A control batch (a Raft leader's first entry of its term) holds no data for clients.
      if (batchIsControl(records, off)) {
        next = Math.max(next, decoded.batch.records.at(-1)!.offset + 1);
        continue;
      }
      for (const r of decoded.batch.records) {
        if (r.offset < next) continue;
        out.push({
          offset: r.offset,
          key: r.key?.toString() ?? null,
          value: r.value?.toString() ?? null,
          producer: `${decoded.batch.producerId}/${decoded.batch.producerEpoch}`,
          sequence: decoded.batch.baseSequence + (r.offset - decoded.batch.baseOffset),
        });
        next = r.offset + 1;
      }
    }
    if (next >= p.highWatermark) return out;
    if (records.length === 0) throw new Error(`fetch ${topic}/${partition} at ${next}: no progress`);
  }
}
