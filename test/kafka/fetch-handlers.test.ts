// Fetch answers for partitions that cannot be read (a topic deleted or never made, an unknown id):
// their records field is an empty record set, never null. librdkafka refuses a null one ("invalid
// MessageSetSize -1") and fetches again at once, so a consumer of a deleted topic spun. And the
// old id of a topic deleted and made again under the same name names no topic.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchHandler } from '../../broker/kafka/fetch-handlers.js';
import { NO_RESPONSE, type KafkaRequestContext } from '../../broker/kafka/kafka-server.js';
import { FetchApi, type FetchRequest, type FetchResponse } from '../../proto/kafka/generated/index.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';
import { Admin } from '../../client/index.js';
import { startTestBroker, uniqueTopic, type TestBroker } from '../client/helpers.js';

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
async function fetchAt(
  version: number,
  req: FetchRequest,
  handler = fetchHandler(broker.running.broker),
): Promise<FetchResponse> {
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

  it('answers the old id of a topic deleted and made again under its name with UNKNOWN_TOPIC_ID', async () => {
    const admin = new Admin({ bootstrap: broker.bootstrap });
    // One handler throughout, so the name it cached for the old id is what is checked.
    const handler = fetchHandler(broker.running.broker);
    const idOf = (name: string): string => broker.running.broker.metadata([name], false)[0]!.topicId!;
    try {
      const topic = uniqueTopic('fetch-recreated');
      await admin.createTopic(topic, { partitions: 1 });
      const oldId = idOf(topic);
      expect((await fetchAt(13, request('', oldId), handler)).responses[0]!.partitions[0]!.errorCode).toBe(0);
      await admin.deleteTopic(topic);
      await admin.createTopic(topic, { partitions: 1 });
      const newId = idOf(topic);
      expect(newId).not.toBe(oldId);
      const old = await fetchAt(13, request('', oldId), handler);
      expect(old.responses[0]!.partitions[0]!.errorCode).toBe(100); // UNKNOWN_TOPIC_ID
      const fresh = await fetchAt(13, request('', newId), handler);
      expect(fresh.responses[0]!.partitions[0]!.errorCode).toBe(0);
    } finally {
      await admin.close();
    }
  });
});
