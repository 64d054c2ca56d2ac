// One Kafka request on a fresh connection and its decoded answer, for tests that ask a particular
// broker something a Kafka client would not (a follower's answer to a produce or fetch, a read of
// exactly one partition). Non-flexible versions only: request header v1, response header v0.

import { connect } from 'node:net';
import { FrameReader } from '../../broker/kafka/frames.js';
import { batchIsControl, batchSize } from '../../proto/batch-header.js';
import { FetchApi, type FetchResponsePartition } from '../../proto/kafka/generated/index.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';
import { decodeBatch } from '../../proto/record-batch.js';

interface KafkaApi<Req, Res> {
  readonly apiKey: number;
  writeRequest(w: Writer, version: number, request: Req): void;
  readResponse(r: Reader, version: number): Res;
}

const TIMEOUT_MS = 10_000;

/** Sends `request` as `api` at `version` to 127.0.0.1:`port` and reads the answer (10 s at most). */
export function kafkaCall<Req, Res>(
  port: number,
  api: KafkaApi<Req, Res>,
  version: number,
  request: Req,
): Promise<Res> {
  const w = new Writer();
  w.int32(0);
  w.int16(api.apiKey);
  w.int16(version);
  w.int32(1);
  w.string('raw-test', false);
  api.writeRequest(w, version, request);
  const frame = w.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);
  return new Promise<Res>((resolve, reject) => {
    const reader = new FrameReader(64 * 1024 * 1024);
    const socket = connect(port, '127.0.0.1', () => socket.write(frame));
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`no answer from port ${port}`)));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`port ${port} closed the connection`)));
    socket.on('data', (chunk: Buffer) => {
      const frames = reader.push(chunk);
      if (frames.length === 0) return;
      try {
        resolve(api.readResponse(new Reader(frames[0]!, 4), version));
      } catch (err) {
        reject(err as Error);
      } finally {
        socket.destroy();
      }
    });
  });
}

/** A Fetch v11 (topics by name) of one partition from `offset`, without waiting for data. */
export async function fetchPartition(
  port: number,
  topic: string,
  partition: number,
  offset: number,
): Promise<FetchResponsePartition> {
  const answer = await kafkaCall(port, FetchApi, 11, {
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
