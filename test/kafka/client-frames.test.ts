// Request frames captured from real clients (kcat/librdkafka 2.0, the Java client 4.1, kafkajs 2.2;
// test/fixtures/kafka/CLIENT/API-vN.hex, written by test/kafka/compat/capture-fixtures.test.ts)
// decoded with weir's generated readers: the header and body parse to the last byte, and the
// fields hold what the client was asked to send (topic fixture-topic, key fixture-key, value
// fixture-value, header fixture-header=1). A reader that drifts from what clients write fails here
// without any client installed.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchSize } from '../../proto/batch-header.js';
import { decodeBatch } from '../../proto/record-batch.js';
import {
  ApiVersionsApi,
  FetchApi,
  GENERATED_APIS,
  InitProducerIdApi,
  ListOffsetsApi,
  MetadataApi,
  ProduceApi,
  type ApiVersionsRequest,
  type FetchRequest,
  type InitProducerIdRequest,
  type ListOffsetsRequest,
  type MetadataRequest,
  type ProduceRequest,
} from '../../proto/kafka/generated/index.js';
import { Reader } from '../../proto/kafka/wire.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/kafka');
const TOPIC = 'fixture-topic';

interface Frame {
  client: string;
  file: string;
  apiName: string;
  version: number;
  bytes: Buffer;
}

const frames: Frame[] = readdirSync(FIXTURES).flatMap((client) =>
  readdirSync(join(FIXTURES, client)).map((file) => {
    const [, apiName, version] = /^(\w+)-v(\d+)\.hex$/.exec(file)!;
    return {
      client,
      file,
      apiName: apiName!,
      version: Number(version),
      bytes: Buffer.from(readFileSync(join(FIXTURES, client, file), 'utf8').trim(), 'hex'),
    };
  }),
);

/** Reads the request header, then the body with the API's generated reader, to the last byte. */
function decode(f: Frame): { clientId: string | null; body: unknown } {
  const api = GENERATED_APIS.find((a) => a.name === f.apiName)!;
  const r = new Reader(f.bytes, 0);
  expect(r.int16()).toBe(api.apiKey);
  expect(r.int16()).toBe(f.version);
  r.int32(); // correlation id
  const clientId = r.string(false); // never compact, even in header v2
  if (f.version >= api.flexibleFrom) r.taggedFields(() => {});
  const body = api.readRequest(r, f.version);
  expect(r.remaining).toBe(0);
  return { clientId, body };
}

/** Every record in a Produce's record sets. */
function producedRecords(req: ProduceRequest) {
  return req.topicData.flatMap((t) =>
    t.partitionData.flatMap((p) => {
      const buf = Buffer.isBuffer(p.records) ? p.records : Buffer.concat([...(p.records ?? [])]);
      const out = [];
      for (let off = 0; off < buf.length; off += batchSize(buf, off)) {
        const decoded = decodeBatch(buf, off);
        if (!decoded.ok) throw new Error(decoded.reason);
        out.push(...decoded.batch.records);
      }
      return out.map((rec) => ({ topic: t.name, partition: p.index, rec }));
    }),
  );
}

describe('request frames captured from real clients', () => {
  it('covers every client and the APIs each used', () => {
    expect(new Set(frames.map((f) => f.client))).toEqual(new Set(['kcat', 'java-4.1.1', 'kafkajs']));
    for (const client of ['kcat', 'java-4.1.1', 'kafkajs'])
      expect(frames.filter((f) => f.client === client).map((f) => f.apiName)).toEqual(
        expect.arrayContaining(['ApiVersions', 'Metadata', 'Produce']),
      );
  });

  it.each(frames.map((f) => [`${f.client}/${f.file}`, f] as const))(
    '%s decodes to the last byte',
    (_name, f) => {
      const { clientId, body } = decode(f);
      expect(clientId).not.toBeNull();
      switch (f.apiName) {
        case ApiVersionsApi.name: {
          const req = body as ApiVersionsRequest;
          // From v3 a client names its software.
          if (f.version >= 3) expect(req.clientSoftwareName).toMatch(/^[a-zA-Z0-9.-]+$/);
          break;
        }
        case MetadataApi.name: {
          const req = body as MetadataRequest;
          // All topics (null, or an empty list before v1), or named ones.
          for (const t of req.topics ?? []) expect(t.name).toBe(TOPIC);
          break;
        }
        case ProduceApi.name: {
          const req = body as ProduceRequest;
          expect(req.transactionalId).toBeNull();
          const records = producedRecords(req);
          expect(records).toHaveLength(1);
          const { topic, partition, rec } = records[0]!;
          expect([topic, partition]).toEqual([TOPIC, 0]);
          expect(rec.key?.toString()).toBe('fixture-key');
          expect(rec.value?.toString()).toBe('fixture-value');
          expect(rec.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['fixture-header', '1']]);
          break;
        }
        case FetchApi.name: {
          const req = body as FetchRequest;
          expect(req.topics).toHaveLength(1);
          const t = req.topics[0]!;
          // By name before v13, by id from it.
          if (f.version < 13) expect(t.topic).toBe(TOPIC);
          else expect(t.topicId).toMatch(/^[0-9a-f-]{36}$/);
          expect(t.partitions.map((p) => p.partition)).toEqual([0]);
          expect(req.maxWaitMs).toBeGreaterThan(0);
          break;
        }
        case ListOffsetsApi.name: {
          const req = body as ListOffsetsRequest;
          expect(req.replicaId).toBe(-1);
          expect(req.topics.map((t) => t.name)).toEqual([TOPIC]);
          break;
        }
        case InitProducerIdApi.name: {
          const req = body as InitProducerIdRequest;
          expect(req.transactionalId).toBeNull();
          break;
        }
        default:
          throw new Error(`no check for ${f.apiName}`);
      }
    },
  );
});
