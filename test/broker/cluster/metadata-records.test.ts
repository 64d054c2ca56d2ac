// The metadata record codec: golden bytes, round trips of arbitrary records, and one refusal per
// reason a record can be malformed.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMetadataRecord,
  encodeMetadataRecord,
  invalidMetadataRecord,
  type MetadataRecord,
} from '../../../broker/cluster/metadata-records.js';
import { isWeirError } from '../../../proto/errors.js';
import { metadataRecord } from './arbitraries.js';

const INC = '0f8fad5b-d9cb-469f-a165-70867728950e';

/** A version-0 record with `json` as its body, written out by hand. */
function raw(json: string, version = 0): Buffer {
  return Buffer.concat([Buffer.from([version]), Buffer.from(json, 'utf8')]);
}

/** The reason decode gives for `buf`; fails if it decodes or throws anything but INVALID_RECORD. */
function refusal(buf: Uint8Array): string {
  try {
    decodeMetadataRecord(buf);
  } catch (err) {
    if (isWeirError(err, 'INVALID_RECORD')) return err.message;
    throw err;
  }
  throw new Error(`decoded ${Buffer.from(buf).toString('hex')}`);
}

describe('encoding', () => {
  it('is a version byte, then the fields as JSON in their fixed order', () => {
    const record: MetadataRecord = {
      replicationPort: 9094,
      httpPort: 8080,
      grpcPort: 9093,
      host: 'b1.example',
      incarnation: INC,
      nodeId: 1,
      type: 'registerBroker',
    };
    const json =
      '{"type":"registerBroker","nodeId":1,"incarnation":"0f8fad5b-d9cb-469f-a165-70867728950e",' +
      '"host":"b1.example","grpcPort":9093,"httpPort":8080,"replicationPort":9094}';
    expect(encodeMetadataRecord(record).toString('hex')).toBe('00' + Buffer.from(json).toString('hex'));
    expect(decodeMetadataRecord(raw(json))).toEqual(record);
  });

  it("writes a broker's Kafka port after its other ports, and leaves it out when there is none", () => {
    const without: MetadataRecord = {
      type: 'registerBroker',
      nodeId: 2,
      incarnation: INC,
      host: 'b2',
      grpcPort: 1,
      httpPort: 2,
      replicationPort: 3,
    };
    const head = `{"type":"registerBroker","nodeId":2,"incarnation":"${INC}","host":"b2","grpcPort":1,"httpPort":2,"replicationPort":3`;
    expect(
      encodeMetadataRecord({ ...without, kafkaPort: 4 })
        .subarray(1)
        .toString(),
    ).toBe(`${head},"kafkaPort":4}`);
    // A registration as logs older than the field hold it: the same bytes, and it decodes.
    expect(encodeMetadataRecord(without).subarray(1).toString()).toBe(`${head}}`);
    expect(decodeMetadataRecord(raw(`${head}}`))).toEqual(without);
    expect(decodeMetadataRecord(raw(`${head},"kafkaPort":4}`))).toEqual({ ...without, kafkaPort: 4 });
  });

  it('writes a removed config as null', () => {
    const record: MetadataRecord = { type: 'config', topic: 't', key: 'retention.ms', value: null };
    expect(encodeMetadataRecord(record).subarray(1).toString()).toBe(
      '{"type":"config","topic":"t","key":"retention.ms","value":null}',
    );
  });

  it('asserts on a record that is not valid (a bug of the caller)', () => {
    const bad = { type: 'removeTopic', name: '' } as MetadataRecord;
    expect(() => encodeMetadataRecord(bad)).toThrow(/invalid metadata record: removeTopic.name/);
  });
});

describe('round trip', () => {
  it('decode(encode(r)) equals r, frozen, and encodes to the same bytes again', () => {
    fc.assert(
      fc.property(metadataRecord, (r) => {
        const bytes = encodeMetadataRecord(r);
        const back = decodeMetadataRecord(bytes);
        expect(back).toEqual(r);
        expect(Object.isFrozen(back)).toBe(true);
        if (back.type === 'partition') expect(Object.isFrozen(back.replicas)).toBe(true);
        expect(encodeMetadataRecord(back).equals(bytes)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every proper prefix of a record', () => {
    fc.assert(
      fc.property(metadataRecord, fc.nat(), (r, cut) => {
        const bytes = encodeMetadataRecord(r);
        expect(refusal(bytes.subarray(0, cut % bytes.length))).toMatch(/^INVALID_RECORD/);
      }),
    );
  });

  it('refuses a changed byte, or decodes it to a valid record, and never throws otherwise', () => {
    fc.assert(
      fc.property(metadataRecord, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, xor) => {
        const bytes = Buffer.from(encodeMetadataRecord(r));
        bytes[at % bytes.length]! ^= xor;
        try {
          expect(invalidMetadataRecord(decodeMetadataRecord(bytes))).toBeNull();
        } catch (err) {
          expect(isWeirError(err, 'INVALID_RECORD')).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('decode refuses', () => {
  const topic = '"name":"t","topicId":"AAAAAAAAAAAAAAAAAAAAAA","partitions":3,"replicationFactor":3';
  it.each([
    ['an empty buffer', Buffer.alloc(0), /0 bytes is too short/],
    ['spaces', raw('{"type": "removeTopic", "name": "t"}'), /not in the one encoding/],
    ['keys in another order', raw('{"name":"t","type":"removeTopic"}'), /not in the one encoding/],
    ['a repeated key', raw('{"type":"removeTopic","name":"u","name":"t"}'), /not in the one encoding/],
    [
      'a number written as 1.0',
      raw(`{"type":"fenceBroker","nodeId":1.0,"incarnation":"${INC}"}`),
      /not in the one encoding/,
    ],
    ['an escaped letter', raw('{"type":"removeTopic","name":"\\u0074"}'), /not in the one encoding/],
    ['an unknown version', raw('{"type":"removeTopic","name":"t"}', 1), /unknown version 1/],
    ['malformed UTF-8', Buffer.from('00227b22ff22', 'hex'), /not well-formed UTF-8/],
    ['text that is not JSON', raw('{"type":'), /not JSON/],
    ['JSON that is not an object', raw('[1,2]'), /not an object/],
    ['null', raw('null'), /not an object/],
    ['an object without a type', raw('{"name":"t"}'), /no type/],
    ['an unknown type', raw('{"type":"deleteEverything"}'), /unknown type "deleteEverything"/],
    ['a type inherited from Object', raw('{"type":"toString"}'), /unknown type "toString"/],
    ['a missing field', raw('{"type":"fenceBroker","nodeId":1}'), /fenceBroker: missing field incarnation/],
    ['an unknown field', raw('{"type":"removeTopic","name":"t","force":true}'), /unknown field "force"/],
    [
      'a __proto__ field',
      raw('{"type":"removeTopic","name":"t","__proto__":{}}'),
      /unknown field "__proto__"/,
    ],
    [
      'a number as a string',
      raw(`{"type":"fenceBroker","nodeId":"1","incarnation":"${INC}"}`),
      /nodeId: "1" is not an integer/,
    ],
    [
      'a fraction',
      raw(`{"type":"fenceBroker","nodeId":1.5,"incarnation":"${INC}"}`),
      /nodeId: 1.5 is not an integer/,
    ],
    [
      'a negative node id',
      raw(`{"type":"fenceBroker","nodeId":-1,"incarnation":"${INC}"}`),
      /nodeId: -1 is not an integer from 0/,
    ],
    [
      'a node id past int32',
      raw(`{"type":"fenceBroker","nodeId":2147483648,"incarnation":"${INC}"}`),
      /to 2147483647/,
    ],
    [
      'an uppercase UUID',
      raw(`{"type":"fenceBroker","nodeId":1,"incarnation":"${INC.toUpperCase()}"}`),
      /not a lowercase UUID/,
    ],
    [
      'port 0',
      raw(
        `{"type":"registerBroker","nodeId":1,"incarnation":"${INC}","host":"h","grpcPort":0,"httpPort":1,"replicationPort":1}`,
      ),
      /grpcPort: 0 is not an integer from 1 to 65535/,
    ],
    [
      'Kafka port 0',
      raw(
        `{"type":"registerBroker","nodeId":1,"incarnation":"${INC}","host":"h","grpcPort":1,"httpPort":1,"replicationPort":1,"kafkaPort":0}`,
      ),
      /kafkaPort: 0 is not an integer from 1 to 65535/,
    ],
    [
      'a null Kafka port',
      raw(
        `{"type":"registerBroker","nodeId":1,"incarnation":"${INC}","host":"h","grpcPort":1,"httpPort":1,"replicationPort":1,"kafkaPort":null}`,
      ),
      /kafkaPort: null is not an integer/,
    ],
    [
      'a Kafka port before the other ports',
      raw(
        `{"type":"registerBroker","nodeId":1,"incarnation":"${INC}","host":"h","kafkaPort":1,"grpcPort":1,"httpPort":1,"replicationPort":1}`,
      ),
      /not in the one encoding/,
    ],
    [
      'a host with a space',
      raw(
        `{"type":"registerBroker","nodeId":1,"incarnation":"${INC}","host":"a b","grpcPort":1,"httpPort":1,"replicationPort":1}`,
      ),
      /host: "a b" is not a host/,
    ],
    [
      'an empty host',
      raw(
        `{"type":"registerBroker","nodeId":1,"incarnation":"${INC}","host":"","grpcPort":1,"httpPort":1,"replicationPort":1}`,
      ),
      /host: "" is not a host/,
    ],
    ['an illegal topic name', raw('{"type":"removeTopic","name":"a/b"}'), /outside \[a-zA-Z0-9._-\]/],
    [
      'a topic id with illegal characters',
      raw(topic.replace('AAAAAAAAAAAAAAAAAAAAAA', 'a b').replace(/^/, '{"type":"topic",') + '}'),
      /topicId: topic id "a b"/,
    ],
    [
      'zero partitions',
      raw(`{"type":"topic",${topic.replace('"partitions":3', '"partitions":0')}}`),
      /partitions: 0 is not an integer from 1/,
    ],
    [
      'a replication factor past int16',
      raw(`{"type":"topic",${topic.replace('"replicationFactor":3', '"replicationFactor":32768')}}`),
      /replicationFactor: 32768 is not an integer from 1 to 32767/,
    ],
    [
      'a negative partition',
      raw('{"type":"partition","topic":"t","partition":-1,"replicas":[1]}'),
      /partition: -1/,
    ],
    [
      'no replicas',
      raw('{"type":"partition","topic":"t","partition":0,"replicas":[]}'),
      /replicas: \[\] is not a list of 1 to/,
    ],
    [
      'replicas as an object',
      raw('{"type":"partition","topic":"t","partition":0,"replicas":{"0":1}}'),
      /is not a list/,
    ],
    [
      'a replica that is not a node id',
      raw('{"type":"partition","topic":"t","partition":0,"replicas":[1,"2"]}'),
      /replicas: node id "2"/,
    ],
    [
      'a replica named twice',
      raw('{"type":"partition","topic":"t","partition":0,"replicas":[1,2,1]}'),
      /\[1,2,1\] names a node twice/,
    ],
    [
      'a config key with capitals',
      raw('{"type":"config","topic":"t","key":"Retention.ms","value":"1"}'),
      /key: "Retention.ms" is not a config key/,
    ],
    [
      'a config value that is a number',
      raw('{"type":"config","topic":"t","key":"retention.ms","value":1}'),
      /value: 1 is neither a string nor null/,
    ],
  ])('%s', (_what, buf, reason) => {
    expect(refusal(buf)).toMatch(reason);
  });
});
