// Leader epochs on the Kafka listener. Given a broker that wrote a partition's records in one term
// and, restarted on the same data, in a later one: OffsetForLeaderEpoch answers where each epoch
// ends, the stored batches carry the term they were written in, and Fetch and ListOffsets naming an
// older or newer epoch than the leader's are fenced as Kafka fences them. DescribeCluster answers
// the cluster as Metadata does. The end-offset rule itself is checked on epoch histories alone.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochEndOffset, type EpochHistory } from '../../broker/kafka/leader-epochs.js';
import { startBroker, type RunningBroker } from '../../broker/main.js';
import { Admin } from '../../client/index.js';
import { batchLeaderEpoch, batchSize } from '../../proto/batch-header.js';
import {
  DescribeClusterApi,
  FetchApi,
  ListOffsetsApi,
  OffsetForLeaderEpochApi,
  type FetchResponsePartition,
} from '../../proto/kafka/generated/index.js';
import { uniqueTopic } from '../client/helpers.js';
import { kafkaRequest } from './kafka-request.js';

const FENCED_LEADER_EPOCH = 74;
const UNKNOWN_LEADER_EPOCH = 75;
const MISMATCHED_ENDPOINT_TYPE = 114;
const UNKNOWN_TOPIC_OR_PARTITION = 3;

describe('where a leader epoch ends', () => {
  const history: EpochHistory = {
    epochs: [
      { epoch: 2, startOffset: 0 },
      { epoch: 4, startOffset: 10 },
      { epoch: 7, startOffset: 25 },
    ],
    leaderEpoch: 7,
    logStartOffset: 0,
    logEndOffset: 40,
  };

  it("answers the log end for the latest epoch, the next epoch's start for older ones", () => {
    expect(epochEndOffset(history, 7)).toEqual({ epoch: 7, endOffset: 40 });
    expect(epochEndOffset(history, 4)).toEqual({ epoch: 4, endOffset: 25 });
    expect(epochEndOffset(history, 2)).toEqual({ epoch: 2, endOffset: 10 });
    // An epoch with no records here: the largest epoch below it, ending where the next one starts.
    expect(epochEndOffset(history, 5)).toEqual({ epoch: 4, endOffset: 25 });
    expect(epochEndOffset(history, 3)).toEqual({ epoch: 2, endOffset: 10 });
    // Below every epoch known: the first one's start.
    expect(epochEndOffset(history, 1)).toEqual({ epoch: 1, endOffset: 0 });
    // Above the latest, or none: undefined.
    expect(epochEndOffset(history, 8)).toEqual({ epoch: -1, endOffset: -1 });
    expect(epochEndOffset(history, -1)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it("counts the leader's epoch from the log end before anything was appended in it", () => {
    const elected = { ...history, leaderEpoch: 9 };
    expect(epochEndOffset(elected, 9)).toEqual({ epoch: 9, endOffset: 40 });
    expect(epochEndOffset(elected, 7)).toEqual({ epoch: 7, endOffset: 40 });
    expect(epochEndOffset(elected, 8)).toEqual({ epoch: 7, endOffset: 40 });
    expect(epochEndOffset({ ...elected, epochs: [] }, 9)).toEqual({ epoch: 9, endOffset: 40 });
  });

  it('never answers an end below the log start', () => {
    const trimmed = {
      ...history,
      epochs: [{ epoch: 4, startOffset: 14 }, ...history.epochs.slice(2)],
      logStartOffset: 15,
    };
    expect(epochEndOffset(trimmed, 3)).toEqual({ epoch: 3, endOffset: 15 });
  });
});

describe('leader epochs on the Kafka listener', () => {
  let dataDir: string;
  let running: RunningBroker;
  let port: number;
  const topic = uniqueTopic('kepoch');
  let firstEpoch: number;
  let secondEpoch: number;

  async function start(): Promise<void> {
    running = await startBroker({ dataDir, grpcPort: 0, httpPort: 0, kafkaPort: 0 });
    port = Number(running.kafkaAddress!.split(':').pop());
  }

  async function produce(values: string[]): Promise<void> {
    const producer = new Kafka({
      clientId: 'weir-test',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
    } finally {
      await producer.disconnect();
    }
  }

  function epochNow(): number {
    return running.broker.find(topic, 0)!.leaderEpoch;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'weir-kepoch-'));
    await start();
    const admin = new Admin({ bootstrap: running.grpcAddress });
    try {
      await admin.createTopic(topic, { partitions: 1 });
    } finally {
      await admin.close();
    }
    firstEpoch = epochNow();
    await produce(['a', 'b', 'c']);
    await produce(['d', 'e']);
    // Restarted on the same data, the partition's group elects its replica again, in a later term.
    await running.close();
    await start();
    secondEpoch = epochNow();
    await produce(['f', 'g']);
  });

  afterAll(async () => {
    await running?.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  function offsetForEpoch(
    version: number,
    partitions: { partition: number; currentLeaderEpoch: number; leaderEpoch: number }[],
    name = topic,
  ): Promise<{ errorCode: number; leaderEpoch: number; endOffset: number }[]> {
    return kafkaRequest(port, OffsetForLeaderEpochApi, version, {
      replicaId: -1,
      topics: [{ topic: name, partitions }],
    }).then((r) => r.topics[0]!.partitions);
  }

  function fetch(version: number, currentLeaderEpoch: number): Promise<FetchResponsePartition> {
    return kafkaRequest(port, FetchApi, version, {
      ...FetchApi.defaultRequest(),
      maxWaitMs: 0,
      minBytes: 0,
      topics: [
        {
          topic,
          topicId: running.broker.metadata([topic], false)[0]!.topicId!,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch,
              fetchOffset: 0,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: 1 << 20,
              replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
            },
          ],
        },
      ],
    }).then((r) => r.responses[0]!.partitions[0]!);
  }

  it('stamps every batch with the term it was written in', async () => {
    expect(secondEpoch).toBeGreaterThan(firstEpoch);
    const p = await fetch(12, -1);
    expect(p.errorCode).toBe(0);
    const records = Buffer.isBuffer(p.records) ? p.records : Buffer.concat(p.records ?? []);
    const epochs: number[] = [];
    for (let off = 0; off < records.length; off += batchSize(records, off))
      epochs.push(batchLeaderEpoch(records, off));
    expect(epochs).toEqual([firstEpoch, firstEpoch, secondEpoch]);
  });

  it('answers where each epoch ends (OffsetForLeaderEpoch v0-v4)', async () => {
    for (const version of [0, 1, 2, 3, 4]) {
      const answers = await offsetForEpoch(version, [
        { partition: 0, currentLeaderEpoch: -1, leaderEpoch: firstEpoch },
        { partition: 0, currentLeaderEpoch: -1, leaderEpoch: secondEpoch },
        { partition: 0, currentLeaderEpoch: -1, leaderEpoch: secondEpoch + 1 },
        { partition: 7, currentLeaderEpoch: -1, leaderEpoch: firstEpoch },
      ]);
      // v0 has no epoch in the answer (read back as -1).
      const epochOf = (e: number): number => (version >= 1 ? e : -1);
      expect(answers, `v${version}`).toEqual([
        { errorCode: 0, partition: 0, leaderEpoch: epochOf(firstEpoch), endOffset: 5 },
        { errorCode: 0, partition: 0, leaderEpoch: epochOf(secondEpoch), endOffset: 7 },
        { errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1 },
        { errorCode: UNKNOWN_TOPIC_OR_PARTITION, partition: 7, leaderEpoch: -1, endOffset: -1 },
      ]);
    }
    // From v2 the client's current epoch is checked first.
    const fenced = await offsetForEpoch(4, [
      { partition: 0, currentLeaderEpoch: firstEpoch, leaderEpoch: firstEpoch },
      { partition: 0, currentLeaderEpoch: secondEpoch + 1, leaderEpoch: firstEpoch },
      { partition: 0, currentLeaderEpoch: secondEpoch, leaderEpoch: firstEpoch },
    ]);
    expect(fenced.map((a) => a.errorCode)).toEqual([FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, 0]);
  });

  it('fences a Fetch naming an older or a newer leader epoch, and serves the current one', async () => {
    const old = await fetch(12, firstEpoch);
    expect(old.errorCode).toBe(FENCED_LEADER_EPOCH);
    // An empty record set, never null (librdkafka refuses a null one).
    expect(old.records).not.toBeNull();
    expect(Buffer.concat(Buffer.isBuffer(old.records) ? [old.records] : [...old.records!]).length).toBe(0);
    // The leader as the broker knows it, for a client to go on without asking Metadata.
    expect(old.currentLeader).toEqual({ leaderId: running.nodeId, leaderEpoch: secondEpoch });
    expect((await fetch(12, secondEpoch + 1)).errorCode).toBe(UNKNOWN_LEADER_EPOCH);
    const current = await fetch(12, secondEpoch);
    expect(current.errorCode).toBe(0);
    expect(current.highWatermark).toBe(7);
  });

  it('fences a ListOffsets naming an older or a newer leader epoch', async () => {
    const answers = await kafkaRequest(port, ListOffsetsApi, 6, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: topic,
          partitions: [firstEpoch, secondEpoch + 1, secondEpoch, -1].map((currentLeaderEpoch) => ({
            partitionIndex: 0,
            currentLeaderEpoch,
            timestamp: -1,
          })),
        },
      ],
    });
    expect(answers.topics[0]!.partitions.map((p) => [p.errorCode, p.offset])).toEqual([
      [FENCED_LEADER_EPOCH, -1],
      [UNKNOWN_LEADER_EPOCH, -1],
      [0, 7],
      [0, 7],
    ]);
  });

  it('describes the cluster: this broker at its Kafka port, and no controller endpoints', async () => {
    for (const version of [0, 1]) {
      const answer = await kafkaRequest(port, DescribeClusterApi, version, {
        includeClusterAuthorizedOperations: false,
        endpointType: 1,
      });
      expect(answer).toMatchObject({
        errorCode: 0,
        clusterId: running.broker.clusterId,
        controllerId: running.broker.cluster().controllerId,
        brokers: [{ brokerId: running.nodeId, host: '127.0.0.1', port, rack: null }],
      });
    }
    const controllers = await kafkaRequest(port, DescribeClusterApi, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 2,
    });
    expect(controllers.errorCode).toBe(MISMATCHED_ENDPOINT_TYPE);
    expect(controllers.brokers).toEqual([]);
  });
});
