// Start-up never deletes data that no explicit delete asked for. A missing metadata file, or an
// entry missing from it, rebuilds the topics from their partition directories (reported at error
// level); a directory of another topic id, or past a topic's partition count, is set aside and kept;
// invalid metadata entries stop the broker with an error naming them.

import { cpSync, existsSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { FetchResponse__Output } from '../../proto/generated/weir/v1/FetchResponse.js';
import type { TopicDescription__Output } from '../../proto/generated/weir/v1/TopicDescription.js';
import { isWeirError } from '../../proto/errors.js';
import { OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIGS } from '../../broker/group/coordinator.js';
import { METADATA_FILE } from '../../broker/topic-registry.js';
import { startBroker } from '../../broker/main.js';
import { PARTITION_METADATA_FILE, nodeFs, readPartitionTopicId } from '../../storage/index.js';
import { removeDir, startTestBroker, tempDir, type TestBroker } from './support.js';

interface LogLine {
  level: number;
  msg: string;
  event?: { kind: string; topic?: string };
}

/** A pino logger whose lines land in `lines`. */
function capturingLogger(lines: LogLine[]): pino.Logger {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return pino({ level: 'info' }, stream);
}

const ERROR = 50;

async function produce(b: TestBroker, topic: string, partition: number, values: string[]): Promise<void> {
  await b.call('Produce', {
    partitions: [{ topic, partition, records: values.map((v) => ({ value: Buffer.from(v) })) }],
  });
}

async function values(b: TestBroker, topic: string, partition: number): Promise<string[]> {
  const res = await b.call<unknown, FetchResponse__Output>('Fetch', {
    partitions: [{ topic, partition, offset: 0 }],
    asRecords: true,
  });
  return res.results[0]!.records.map((r) => r.value?.toString() ?? '');
}

function describeTopic(b: TestBroker, name: string): Promise<TopicDescription__Output> {
  return b.call<unknown, TopicDescription__Output>('DescribeTopic', { name });
}

function metadata(dir: string): { topics: { name: string; topicId: string }[] } {
  return JSON.parse(readFileSync(join(dir, METADATA_FILE), 'utf8')) as {
    topics: { name: string; topicId: string }[];
  };
}

describe('a missing metadata file', () => {
  it('rebuilds every topic from its directories, deletes nothing, and reports each at error level', async () => {
    const dir = tempDir();
    try {
      const first = await startTestBroker({}, dir);
      await first.call('CreateTopic', { name: 'orders', partitions: 3, configs: { 'retention.ms': '1000' } });
      await produce(first, 'orders', 0, ['a', 'b']);
      await produce(first, 'orders', 2, ['c']);
      first.running.broker.createInternalTopic(OFFSETS_TOPIC, 2, OFFSETS_TOPIC_CONFIGS);
      const ordersId = metadata(dir).topics.find((t) => t.name === 'orders')!.topicId;
      await first.close();

      // Given: the metadata file is gone, and so is one partition's directory.
      unlinkSync(join(dir, METADATA_FILE));
      rmSync(join(dir, 'orders-1'), { recursive: true });

      const lines: LogLine[] = [];
      const second = await startTestBroker({ logger: capturingLogger(lines) }, dir);
      try {
        const orders = await describeTopic(second, 'orders');
        expect(orders.partitions.map((p) => p.highWatermark)).toEqual([2, 0, 1]);
        // Its configs are lost: retention deletes nothing until an operator sets them.
        expect(orders.overrides).toEqual({ 'retention.ms': '-1', 'retention.bytes': '-1' });
        expect(await values(second, 'orders', 0)).toEqual(['a', 'b']);
        expect(await values(second, 'orders', 2)).toEqual(['c']);
        expect(metadata(dir).topics.find((t) => t.name === 'orders')!.topicId).toBe(ordersId);
        const offsets = await describeTopic(second, OFFSETS_TOPIC);
        expect(offsets.internal).toBe(true);
        expect(offsets.overrides).toEqual(OFFSETS_TOPIC_CONFIGS);
        const rebuilt = lines.filter((l) => l.event?.kind === 'topic-rebuilt');
        expect(rebuilt.map((l) => [l.level, l.event?.topic]).sort()).toEqual([
          [ERROR, OFFSETS_TOPIC],
          [ERROR, 'orders'],
        ]);
      } finally {
        await second.close();
      }
    } finally {
      removeDir(dir);
    }
  });
});

describe('directories the metadata does not account for', () => {
  it('sets aside a directory of another topic id and one past the partition count, and keeps both', async () => {
    const dir = tempDir();
    try {
      const first = await startTestBroker({}, dir);
      await first.call('CreateTopic', { name: 'orders', partitions: 1 });
      await produce(first, 'orders', 0, ['old']);
      await first.close();
      // Given: orders-0 carries another topic id, and a stray orders-4 exists.
      cpSync(join(dir, 'orders-0'), join(dir, 'orders-4'), { recursive: true });
      writeFileSync(join(dir, 'orders-0', PARTITION_METADATA_FILE), 'version: 0\ntopic_id: someone-else\n');

      const lines: LogLine[] = [];
      const second = await startTestBroker({ logger: capturingLogger(lines) }, dir);
      try {
        expect(await values(second, 'orders', 0)).toEqual([]);
        const id = metadata(dir).topics[0]!.topicId;
        const aside = readdirSync(dir)
          .filter((n) => n.endsWith('-orphaned'))
          .sort();
        expect(aside).toEqual([`orders-0.someone-else-orphaned`, `orders-4.${id}-orphaned`]);
        for (const name of aside) expect(readdirSync(join(dir, name))).toContain('00000000000000000000.log');
        expect(lines.filter((l) => l.event?.kind === 'log-set-aside').map((l) => l.level)).toEqual([
          ERROR,
          ERROR,
        ]);
      } finally {
        await second.close();
      }
      // And: a later start neither loads nor removes them.
      const third = await startTestBroker({}, dir);
      try {
        expect((await describeTopic(third, 'orders')).partitions.length).toBe(1);
        expect(readdirSync(dir).filter((n) => n.endsWith('-orphaned')).length).toBe(2);
      } finally {
        await third.close();
      }
    } finally {
      removeDir(dir);
    }
  });

  it('rebuilds a topic whose entry is missing with its own id, and adopts a directory without a partition file', async () => {
    const dir = tempDir();
    try {
      const first = await startTestBroker({}, dir);
      await first.call('CreateTopic', { name: 'kept', partitions: 1 });
      await first.call('CreateTopic', { name: 'dropped', partitions: 2 });
      await produce(first, 'kept', 0, ['k']);
      await produce(first, 'dropped', 1, ['d']);
      await first.close();
      const file = metadata(dir);
      const droppedId = file.topics.find((t) => t.name === 'dropped')!.topicId;
      const keptId = file.topics.find((t) => t.name === 'kept')!.topicId;
      // Given: the entry of `dropped` is gone, and kept-0 predates partition files.
      writeFileSync(
        join(dir, METADATA_FILE),
        JSON.stringify({ ...file, topics: file.topics.filter((t) => t.name !== 'dropped') }),
      );
      unlinkSync(join(dir, 'kept-0', PARTITION_METADATA_FILE));

      const second = await startTestBroker({}, dir);
      try {
        expect(await values(second, 'dropped', 1)).toEqual(['d']);
        expect(await values(second, 'kept', 0)).toEqual(['k']);
        expect(metadata(dir).topics.find((t) => t.name === 'dropped')!.topicId).toBe(droppedId);
        expect(readPartitionTopicId(nodeFs, join(dir, 'kept-0'))).toEqual({ topicId: keptId });
      } finally {
        await second.close();
      }
    } finally {
      removeDir(dir);
    }
  });
});

describe('invalid metadata entries', () => {
  const valid = {
    name: 'fine',
    topicId: 'abc',
    partitions: 1,
    replicationFactor: 1,
    configs: {},
    internal: false,
    createdAt: 1,
  };
  const cases: [string, unknown[], RegExp][] = [
    [
      'a path as name and -1 partitions',
      [{ ...valid, name: '../etc', partitions: -1 }],
      /entry 0 \("\.\.\/etc"\).*characters outside/,
    ],
    ['-1 partitions', [{ ...valid, partitions: -1 }], /entry 0 \("fine"\): partitions -1/],
    ['too many partitions', [{ ...valid, partitions: 10_001 }], /entry 0 \("fine"\): partitions 10001/],
    ['a replication factor of 0', [{ ...valid, replicationFactor: 0 }], /replicationFactor 0/],
    [
      'an unknown config',
      [{ ...valid, configs: { 'no.such': '1' } }],
      /entry 0 \("fine"\): configs: .*no\.such/,
    ],
    ['a numeric topic id', [{ ...valid, topicId: 7 }], /topic id 7/],
    ['a string as internal', [{ ...valid, internal: 'no' }], /internal is not a boolean/],
    ['no createdAt', [{ ...valid, createdAt: undefined }], /createdAt is not a number/],
    ['a duplicate name', [valid, { ...valid, topicId: 'def' }], /entry 1 \("fine"\): a second entry/],
  ];
  it.each(cases)('refuses to start on %s, naming the entry', async (_, topics, message) => {
    const dir = tempDir();
    try {
      writeFileSync(
        join(dir, METADATA_FILE),
        JSON.stringify({ version: 1, clusterId: 'c', producerIdBlockEnd: 0, topics }),
      );
      const thrown = await startBroker({ dataDir: dir, logLevel: 'silent' }).catch((err: unknown) => err);
      expect(isWeirError(thrown, 'KAFKA_STORAGE_ERROR')).toBe(true);
      expect((thrown as Error).message).toMatch(message);
      expect(existsSync(join(dir, '..etc-0'))).toBe(false);
    } finally {
      removeDir(dir);
    }
  });
});
