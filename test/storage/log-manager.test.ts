// The log manager: opens every partition under a data directory, tells a clean start from an
// unclean one, recovers only from the recovery point, deletes logs crash-safely, and runs
// retention and compaction on its clock.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isWeirError } from '../../proto/errors.js';
import { encodeBatch } from '../../proto/record-batch.js';
import {
  CLEAN_SHUTDOWN_MARKER,
  DEFAULT_LOG_MANAGER_CONFIG,
  LogManager,
  ManualClock,
  logConfigFrom,
  nodeFs,
  type LogConfig,
  type LogManagerEvent,
} from '../../storage/index.js';

const root = mkdtempSync(join(tmpdir(), 'weir-manager-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function open(dataDir: string, clock = new ManualClock(), configFor?: (topic: string) => LogConfig) {
  const events: LogManagerEvent[] = [];
  const manager = LogManager.open(
    { dataDir, ...DEFAULT_LOG_MANAGER_CONFIG },
    { fs: nodeFs, clock, log: (e) => events.push(e), ...(configFor ? { configFor } : {}) },
  );
  return { manager, events };
}

const small = logConfigFrom({ 'segment.bytes': '2000', 'index.interval.bytes': '200' });

function fillLog(
  manager: LogManager,
  topic: string,
  partition: number,
  batches: number,
  timestamp = 1000,
): void {
  const log = manager.createLog(topic, partition, small);
  for (let i = 0; i < batches; i++)
    log.append(encodeBatch([{ timestamp, key: null, value: Buffer.alloc(300, i) }]));
}

describe('LogManager start-up', () => {
  it('reopens every log after a clean close without rescanning any segment', async () => {
    const dir = join(root, `m-${n++}`);
    const first = open(dir);
    fillLog(first.manager, 'orders', 0, 20);
    fillLog(first.manager, 'orders', 1, 5);
    fillLog(first.manager, 'my-topic', 0, 1);
    await first.manager.close();
    expect(existsSync(join(dir, CLEAN_SHUTDOWN_MARKER))).toBe(true);

    const second = open(dir);
    expect(second.manager.cleanShutdown).toBe(true);
    expect(second.events.filter((e) => e.kind === 'recovered')).toEqual([]);
    expect(existsSync(join(dir, CLEAN_SHUTDOWN_MARKER))).toBe(false);
    expect(
      second.manager
        .allLogs()
        .map((l) => `${l.topic}-${l.partition}:${l.log.logEndOffset}`)
        .sort(),
    ).toEqual(['my-topic-0:1', 'orders-0:20', 'orders-1:5']);
    await second.manager.close();
  });

  it('after a crash rescans only from the recovery point and keeps every record', async () => {
    const dir = join(root, `m-${n++}`);
    const first = open(dir);
    fillLog(first.manager, 'orders', 0, 30);
    await first.manager.flushAll();
    const log = first.manager.getLog('orders', 0)!;
    const recoveryPoint = log.recoveryPoint;
    expect(recoveryPoint).toBe(30);
    for (let i = 0; i < 10; i++)
      log.append(encodeBatch([{ timestamp: 1, key: null, value: Buffer.alloc(300) }]));
    const bases = log.segments.map((s) => s.baseOffset);
    const holding = Math.max(...bases.filter((b) => b <= recoveryPoint));
    const expectedRescans = bases.filter((b) => b >= holding).length;
    expect(expectedRescans).toBeLessThan(bases.length);
    first.manager.crashForTesting();

    const second = open(dir);
    expect(second.manager.cleanShutdown).toBe(false);
    const recovered = second.events.filter((e) => e.kind === 'recovered');
    // The segment holding the recovery point and every later one; none before it.
    expect(recovered.length).toBe(expectedRescans);
    expect(second.manager.getLog('orders', 0)!.logEndOffset).toBe(40);
    await second.manager.close();
  });

  it('skips directories that are not partitions, and removes half-deleted logs', async () => {
    const dir = join(root, `m-${n++}`);
    mkdirSync(join(dir, 'lost+found'), { recursive: true });
    mkdirSync(join(dir, 'orders-0.123-delete'), { recursive: true });
    const { manager, events } = open(dir);
    expect(events).toContainEqual({ kind: 'ignored-dir', dataDir: dir, name: 'lost+found' });
    expect(existsSync(join(dir, 'orders-0.123-delete'))).toBe(false);
    await manager.close();
  });

  it('rejects bad names with a typed error and touches nothing', async () => {
    const dir = join(root, `m-${n++}`);
    const { manager } = open(dir);
    for (const name of ['../escape', '', '.', 'a/b']) {
      let thrown: unknown;
      try {
        manager.createLog(name, 0);
      } catch (err) {
        thrown = err;
      }
      expect(isWeirError(thrown, 'INVALID_TOPIC_EXCEPTION')).toBe(true);
    }
    expect(() => manager.createLog('ok', -1)).toThrow(/UNKNOWN_TOPIC_OR_PARTITION/);
    expect(readdirSync(dir).filter((f) => !f.includes('checkpoint'))).toEqual([]);
    await manager.close();
  });

  it('deletes a log and its directory', async () => {
    const dir = join(root, `m-${n++}`);
    const { manager } = open(dir);
    fillLog(manager, 'gone', 3, 4);
    await manager.deleteLog('gone', 3);
    expect(manager.getLog('gone', 3)).toBeUndefined();
    expect(readdirSync(dir).filter((f) => f.startsWith('gone'))).toEqual([]);
    await expect(manager.deleteLog('gone', 3)).rejects.toThrow(/UNKNOWN_TOPIC_OR_PARTITION/);
    await manager.close();
  });
});

describe('LogManager background tasks', () => {
  it('runs retention on the clock and checkpoints the new log start', async () => {
    const dir = join(root, `m-${n++}`);
    const clock = new ManualClock(10_000_000);
    const retained = logConfigFrom({ 'segment.bytes': '2000', 'retention.ms': '60000' });
    const { manager, events } = open(dir, clock, () => retained);
    const log = manager.createLog('events', 0, retained);
    for (let i = 0; i < 12; i++)
      log.append(encodeBatch([{ timestamp: clock.now(), key: null, value: Buffer.alloc(600) }]));
    manager.startBackgroundTasks();
    clock.advance(DEFAULT_LOG_MANAGER_CONFIG.retentionCheckIntervalMs);
    // Retention runs behind the start-up flush in the background queue: wait for it, boundedly.
    for (let i = 0; i < 250 && !events.some((e) => e.kind === 'retention'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(events.some((e) => e.kind === 'retention')).toBe(true);
    expect(log.logStartOffset).toBeGreaterThan(0);
    const start = log.logStartOffset;
    await manager.close();
    const reopened = open(dir, clock, () => retained);
    expect(reopened.manager.getLog('events', 0)!.logStartOffset).toBe(start);
    await reopened.manager.close();
  });

  it('compacts compacted topics on the clock', async () => {
    const dir = join(root, `m-${n++}`);
    const clock = new ManualClock(10_000_000);
    const compacted = logConfigFrom({ 'segment.bytes': '2000', 'cleanup.policy': 'compact' });
    const { manager, events } = open(dir, clock, () => compacted);
    const log = manager.createLog('table', 0, compacted);
    for (let i = 0; i < 40; i++) {
      log.append(
        encodeBatch([{ timestamp: clock.now(), key: Buffer.from(`k${i % 3}`), value: Buffer.alloc(300) }]),
      );
    }
    const before = log.size;
    manager.startBackgroundTasks();
    clock.advance(DEFAULT_LOG_MANAGER_CONFIG.cleanerBackoffMs);
    for (let i = 0; i < 20 && !events.some((e) => e.kind === 'compaction'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(events.some((e) => e.kind === 'compaction')).toBe(true);
    expect(log.size).toBeLessThan(before);
    await manager.close();
  });
});
