// Captures the request frames real clients send (kcat/librdkafka, the Java client, kafkajs) into
// test/fixtures/kafka/CLIENT/API-vN.hex, through the proxy of kafka-proxy.ts in front of a weir
// broker process. Not part of the suite (it rewrites the fixtures): run it on purpose with
//   WEIR_CAPTURE_FIXTURES=1 npx vitest run test/kafka/compat/capture-fixtures.test.ts
// after `npm run build` and scripts/ci/kafka-clients.sh. test/kafka/client-frames.test.ts decodes
// what it wrote. Every client writes the same topic, key, value and header, which that test checks.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Admin } from '../../../client/index.js';
import { GENERATED_APIS } from '../../../proto/kafka/generated/index.js';
import { startBrokerProcess } from './broker-process.js';
import { startKafkaProxy, type CapturedRequest } from './kafka-proxy.js';
import { runTool } from './run-tool.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/kafka');
const TOPIC = 'fixture-topic';
const JAVA_TARGET = join(import.meta.dirname, 'java/target');

function save(client: string, requests: readonly CapturedRequest[]): void {
  const dir = join(FIXTURES, client);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const names = new Map<number, string>(GENERATED_APIS.map((a) => [a.apiKey, a.name]));
  const seen = new Set<string>();
  for (const r of requests) {
    const name = names.get(r.apiKey);
    const file = `${name}-v${r.apiVersion}.hex`;
    if (name === undefined || seen.has(file)) continue;
    seen.add(file);
    writeFileSync(join(dir, file), r.frame.toString('hex') + '\n');
  }
}

describe.skipIf(process.env['WEIR_CAPTURE_FIXTURES'] !== '1')('capturing client request frames', () => {
  it('captures kcat, the Java client and kafkajs', async () => {
    const broker = await startBrokerProcess();
    const admin = new Admin({ bootstrap: broker.grpc });
    try {
      await admin.createTopic(TOPIC, { partitions: 1 });
      let proxy = await startKafkaProxy(broker.kafka);
      const kcat = (args: string[], input?: string) =>
        runTool('kcat', ['-b', proxy.address, ...args], { input });
      expect((await kcat(['-L'])).code).toBe(0);
      expect(
        (
          await kcat(
            ['-P', '-t', TOPIC, '-p', '0', '-K:', '-H', 'fixture-header=1'],
            'fixture-key:fixture-value\n',
          )
        ).code,
      ).toBe(0);
      expect((await kcat(['-C', '-t', TOPIC, '-p', '0', '-o', 'beginning', '-e'])).code).toBe(0);
      save('kcat', proxy.requests);
      await proxy.close();

      proxy = await startKafkaProxy(broker.kafka);
      const file = join(broker.dataDir, 'fixture.tsv');
      writeFileSync(
        file,
        `0\t1700000000000\t${Buffer.from('fixture-key').toString('hex')}\t${Buffer.from('fixture-value').toString('hex')}\tfixture-header=31\n`,
      );
      const cp = [
        join(JAVA_TARGET, 'classes'),
        join(JAVA_TARGET, 'lib/*'),
        join(JAVA_TARGET, 'kafka-clients-4.1.1/*'),
      ];
      const java = await runTool(
        'java',
        [
          '-cp',
          cp.join(':'),
          'weir.compat.Compat',
          proxy.address,
          `produce:${TOPIC}:${file}`,
          `consume:${TOPIC}:1:1`,
        ],
        { timeoutMs: 60_000 },
      );
      expect(java.code, java.stderr).toBe(0);
      save('java-4.1.1', proxy.requests);
      await proxy.close();

      proxy = await startKafkaProxy(broker.kafka);
      const kafka = new Kafka({ clientId: 'fixture', brokers: [proxy.address], logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      await producer.send({
        topic: TOPIC,
        acks: -1,
        messages: [
          { partition: 0, key: 'fixture-key', value: 'fixture-value', headers: { 'fixture-header': '1' } },
        ],
      });
      await producer.disconnect();
      const kadmin = kafka.admin();
      await kadmin.connect();
      await kadmin.fetchTopicOffsets(TOPIC);
      await kadmin.disconnect();
      save('kafkajs', proxy.requests);
      await proxy.close();
    } finally {
      await admin.close();
      await broker.close();
    }
  });
});
