// The open-file budget: its default from the process's limit, creates refused past it with an
// error that says what to raise, and a create whose logs fail part-way undone without a trace.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isWeirError, type WeirError } from '../../proto/errors.js';
import { Broker } from '../../broker/broker.js';
import { resolveBrokerConfig } from '../../broker/config.js';
import {
  FALLBACK_OPEN_FILES_LIMIT,
  cachedFilesOf,
  defaultMaxOpenFiles,
  openFilesSoftLimit,
  partitionFilesOf,
} from '../../broker/file-budget.js';
import { METADATA_FILE } from '../../broker/topic-registry.js';
import { nodeFs, type StorageFs } from '../../storage/index.js';
import { removeDir, startTestBroker, tempDir, type TestBroker } from './support.js';
import { errorBodyOf, http } from './http-support.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            4096                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('maxOpenFiles', () => {
  it('defaults to the soft open-file limit less a reserve', () => {
    expect(openFilesSoftLimit(() => LIMITS)).toBe(4096);
    expect(
      openFilesSoftLimit(() => {
        throw new Error('no /proc here');
      }),
    ).toBe(FALLBACK_OPEN_FILES_LIMIT);
    expect(defaultMaxOpenFiles(4096)).toBe(4096 - 1024);
    expect(defaultMaxOpenFiles(256)).toBe(256 - 64);
    expect(cachedFilesOf(192) + partitionFilesOf(192)).toBe(192);
    expect(resolveBrokerConfig().maxOpenFiles).toBe(defaultMaxOpenFiles());
  });

  it('is read from WEIR_MAX_OPEN_FILES and bounded', () => {
    expect(resolveBrokerConfig({ env: { WEIR_MAX_OPEN_FILES: '500' } }).maxOpenFiles).toBe(500);
    expect(() => resolveBrokerConfig({ overrides: { maxOpenFiles: 8 } })).toThrow(/maxOpenFiles/);
  });
});

describe('a create past the budget', () => {
  let b: TestBroker | null = null;
  afterEach(async () => {
    await b?.close();
    if (b !== null) removeDir(b.dataDir);
    b = null;
  });

  it('is refused with FILE_BUDGET_EXCEEDED naming the budget, the use and the key', async () => {
    b = await startTestBroker({ maxOpenFiles: 64 });
    const room = partitionFilesOf(64);
    await b.call('CreateTopic', { name: 'first', partitions: room - 4 });
    const refused = await b.call('CreateTopic', { name: 'second', partitions: 5 }).catch((e: unknown) => e);
    expect(isWeirError(refused, 'FILE_BUDGET_EXCEEDED')).toBe(true);
    const message = (refused as Error).message;
    expect(message).toContain(`${room - 4} of the ${room} partition files`);
    expect(message).toContain('maxOpenFiles 64');
    expect(message).toContain('WEIR_MAX_OPEN_FILES');
    // Validation alone says the same, and growing a topic is held to the same budget.
    const dryRun = await b
      .call('CreateTopic', { name: 'second', partitions: 5, validateOnly: true })
      .catch((e: unknown) => e);
    expect(isWeirError(dryRun, 'FILE_BUDGET_EXCEEDED')).toBe(true);
    const grow = await b
      .call('CreatePartitions', { name: 'first', count: room + 1 })
      .catch((e: unknown) => e);
    expect(isWeirError(grow, 'FILE_BUDGET_EXCEEDED')).toBe(true);
    const overHttp = await http(b.running.httpAddress, 'POST', '/v1/topics', {
      name: 'second',
      partitions: 5,
    });
    expect(overHttp.status).toBe(507);
    expect(overHttp.body).toEqual(errorBodyOf('FILE_BUDGET_EXCEEDED'));
    // What fits is still allowed.
    await b.call('CreateTopic', { name: 'second', partitions: 4 });
    const listed = await b.call<object, { topics: { name: string; partitions: number }[] }>('ListTopics', {});
    expect(listed.topics.map((t) => [t.name, t.partitions])).toEqual([
      ['first', room - 4],
      ['second', 4],
    ]);
  });
});

/** The real file system, except that opening the `.log` of `failDir` fails with `code()`. */
function failingFs(failDir: () => string | null, code: () => string = () => 'EMFILE'): StorageFs {
  return {
    ...nodeFs,
    openSync(path, flags) {
      const dir = failDir();
      if (dir !== null && path.includes(`/${dir}/`) && path.endsWith('.log')) {
        throw Object.assign(new Error(`${code()}: injected, open '${path}'`), {
          code: code(),
          syscall: 'open',
          path,
        });
      }
      return nodeFs.openSync(path, flags);
    },
  };
}

describe('a create whose logs fail part-way', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) removeDir(d);
  });

  function topicDirs(dataDir: string, topic: string): string[] {
    return readdirSync(dataDir).filter((n) => n.startsWith(`${topic}-`));
  }

  it('is undone whole: no topic in the registry or on disk, and a typed error', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    let fail: string | null = null;
    let failCode = 'EMFILE';
    const config = resolveBrokerConfig({ overrides: { dataDir, maxOpenFiles: 10_000 } });
    const broker = Broker.open(config, {
      fs: failingFs(
        () => fail,
        () => failCode,
      ),
    });
    broker.createTopic('grow', 2, 1, {});

    fail = 'big-5';
    const created = (() => {
      try {
        return broker.createTopic('big', 10, 1, {});
      } catch (err) {
        return err;
      }
    })();
    expect(isWeirError(created, 'KAFKA_STORAGE_ERROR')).toBe(true);
    expect((created as Error).message).toMatch(/partition 5 of topic 'big'.*EMFILE.*undone/);
    // Out of descriptors can clear: the client may retry.
    expect((created as WeirError).retriable).toBe(true);
    expect(broker.listTopics(true).map((t) => t.name)).toEqual(['grow']);
    expect(topicDirs(dataDir, 'big')).toEqual([]);
    expect(readFileSync(join(dataDir, METADATA_FILE), 'utf8')).not.toContain('"big"');

    fail = 'grow-4';
    failCode = 'EROFS';
    const grown = (() => {
      try {
        return broker.createPartitions('grow', 6);
      } catch (err) {
        return err;
      }
    })();
    expect(isWeirError(grown, 'KAFKA_STORAGE_ERROR')).toBe(true);
    // A read-only file system does not clear by itself: no retry.
    expect((grown as WeirError).retriable).toBe(false);
    expect(broker.describeTopic('grow').partitions).toHaveLength(2);
    expect(topicDirs(dataDir, 'grow').sort()).toEqual(['grow-0', 'grow-1']);

    // Nothing failed is left for a restart to find, and the same creates now succeed.
    fail = null;
    await broker.close();
    const again = Broker.open(config);
    expect(again.listTopics(true).map((t) => [t.name, t.partitions])).toEqual([['grow', 2]]);
    again.createTopic('big', 10, 1, {});
    again.createPartitions('grow', 6);
    expect(topicDirs(dataDir, 'big')).toHaveLength(10);
    expect(existsSync(join(dataDir, 'grow-5'))).toBe(true);
    await again.close();
  });
});
