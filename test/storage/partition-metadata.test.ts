// partition.metadata records which topic a partition directory belongs to; the log manager never
// lets a log of one topic id start on the files of another, and retries removing deleted logs.

import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../proto/record-batch.js';
import {
  DEFAULT_LOG_MANAGER_CONFIG,
  DELETE_RETRY_MS,
  LogManager,
  ManualClock,
  PARTITION_METADATA_FILE,
  nodeFs,
  readPartitionTopicId,
  writePartitionTopicId,
  type LogManagerEvent,
  type StorageFs,
} from '../../storage/index.js';
import { FaultyFs } from './faulty-fs.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

function open(dataDir: string, fs: StorageFs = nodeFs, clock = new ManualClock()) {
  const events: LogManagerEvent[] = [];
  const manager = LogManager.open(
    { dataDir, ...DEFAULT_LOG_MANAGER_CONFIG },
    { fs, clock, log: (e) => events.push(e) },
  );
  return { manager, events };
}

const record = (v: string): Buffer => encodeBatch([{ timestamp: 1, key: null, value: Buffer.from(v) }]);

describe('partition.metadata', () => {
  it('is written in Kafka layout and read back', () => {
    const dir = tempDir();
    writePartitionTopicId(nodeFs, dir, 'Zx3-id_1');
    expect(readFileSync(join(dir, PARTITION_METADATA_FILE), 'utf8')).toBe('version: 0\ntopic_id: Zx3-id_1\n');
    expect(readPartitionTopicId(nodeFs, dir)).toEqual({ topicId: 'Zx3-id_1' });
    expect(readPartitionTopicId(nodeFs, tempDir())).toEqual({ topicId: null });
    for (const bad of ['version: 1\ntopic_id: a\n', 'version: 0\ntopic_id: ../x\n', 'garbage']) {
      writeFileSync(join(dir, PARTITION_METADATA_FILE), bad);
      expect(typeof readPartitionTopicId(nodeFs, dir)).toBe('string');
    }
  });

  it('records the topic id of a new log, and reads it again at start-up', async () => {
    const dir = tempDir();
    const first = open(dir);
    first.manager.createLog('orders', 0, undefined, 'id-1').append(record('a'));
    await first.manager.close();
    const second = open(dir);
    expect(second.manager.topicIdOf('orders', 0)).toBe('id-1');
    await second.manager.close();
  });
});

describe('a log of another topic id', () => {
  it('is set aside, kept, and never reused by a new log of the same name', async () => {
    const dir = tempDir();
    const { manager, events } = open(dir);
    manager.createLog('orders', 0, undefined, 'old').append(record('old data'));
    const fresh = manager.createLog('orders', 0, undefined, 'new');
    expect(fresh.logEndOffset).toBe(0);
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: 'log-set-aside',
        dir: join(dir, 'orders-0'),
        aside: join(dir, 'orders-0.old-orphaned'),
      }),
    );
    expect(readdirSync(join(dir, 'orders-0.old-orphaned'))).toContain('00000000000000000000.log');
    expect(readPartitionTopicId(nodeFs, join(dir, 'orders-0'))).toEqual({ topicId: 'new' });
    await manager.close();
  });

  it('found on disk but not open is set aside too', async () => {
    const dir = tempDir();
    const first = open(dir);
    first.manager.createLog('orders', 0, undefined, 'old').append(record('old data'));
    await first.manager.close();
    const second = open(dir);
    cpSync(join(dir, 'orders-0'), join(dir, 'orders-1'), { recursive: true });
    expect(second.manager.createLog('orders', 1, undefined, 'new').logEndOffset).toBe(0);
    expect(existsSync(join(dir, 'orders-1.old-orphaned'))).toBe(true);
    await second.manager.close();
  });
});

describe('deleting a log', () => {
  it('renames it aside at once and retries removing it on the clock', async () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const clock = new ManualClock();
    const { manager, events } = open(dir, fs, clock);
    manager.createLog('gone', 0, undefined, 'gid').append(record('x'));
    fs.failWithEnospc((call) => call === 'rm');
    const { renamed, removed } = await manager.deleteLog('gone', 0);
    expect(renamed).toBe(true);
    expect(readdirSync(dir).filter((n) => n.startsWith('gone'))).toEqual(['gone-0.gid-delete']);
    expect(events.filter((e) => e.kind === 'delete-retry').length).toBe(1);
    clock.advance(DELETE_RETRY_MS);
    expect(events.filter((e) => e.kind === 'delete-retry').length).toBe(2);
    fs.heal();
    clock.advance(DELETE_RETRY_MS);
    await removed;
    expect(readdirSync(dir).filter((n) => n.startsWith('gone'))).toEqual([]);
    await manager.close();
  });
});
