// Fetch answers for partitions that cannot be read (a topic deleted or never made, an unknown id):
// their records field is an empty record set, never null. librdkafka refuses a null one ("invalid
// MessageSetSize -1") and fetches again at once, so a consumer of a deleted topic spun.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchHandler } from '../../broker/kafka/fetch-handlers.js';
import { NO_RESPONSE, type KafkaRequestContext } from '../../broker/kafka/kafka-server.js';
import { FetchApi, type FetchRequest, type FetchResponse } from '../../proto/kafka/generated/index.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';
import { startTestBroker, type TestBroker } from '../client/helpers.js';

let broker: TestBroker;

beforeAll(async () => {
  broker = await startTestBroker();
});

afterAll(async () => {
  await broker?.close();
});

function request(topic: string, topicId: string): FetchRequest {
  return {
    ...FetchApi.defaultRequest(),
    maxWaitMs: 0,
    minBytes: 0,
    topics: [
      {
        topic,
        topicId,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
          },
        ],
      },
    ],
  };
}

/** The handler's answer at `version`, written to bytes and read back as a client reads it. */
async function fetchAt(version: number, req: FetchRequest): Promise<FetchResponse> {
  const handler = fetchHandler(broker.running.broker);
  const context: KafkaRequestContext = {
    apiVersion: version,
    correlationId: 1,
    clientId: 'test',
    remoteAddress: '127.0.0.1',
  };
  const answer = await handler.handle(req, context);
  if (answer === NO_RESPONSE) throw new Error('a fetch is always answered');
  const w = new Writer();
  handler.api.writeResponse(w, version, answer);
  return FetchApi.readResponse(new Reader(w.toBuffer(), 0), version);
}

describe('Fetch of a partition that cannot be read', () => {
  it.each([4, 11, 12])('answers v%i with the error and an empty record set, not null', async (version) => {
    const answer = await fetchAt(version, request('no-such-topic', '00000000-0000-0000-0000-000000000000'));
    const p = answer.responses[0]!.partitions[0]!;
    expect(p.errorCode).toBe(3); // UNKNOWN_TOPIC_OR_PARTITION
    expect(p.records).not.toBeNull();
    expect(Buffer.concat(Buffer.isBuffer(p.records) ? [p.records] : [...p.records!]).length).toBe(0);
  });

  it('answers an unknown topic id (v13+) with UNKNOWN_TOPIC_ID and an empty record set', async () => {
    const answer = await fetchAt(13, request('', '5f1c7e0a-0000-4000-8000-000000000001'));
    const p = answer.responses[0]!.partitions[0]!;
    expect(p.errorCode).toBe(100); // UNKNOWN_TOPIC_ID
    expect(p.records).not.toBeNull();
  });
});
