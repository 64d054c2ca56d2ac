// A failed fsync is final for the log (see the top of storage/log-flusher.ts). Given a disk whose
// fdatasync fails once and drops the pages it could not write, as Linux does, then:
//   - every append waiting for that fsync fails, with a non-retriable KAFKA_STORAGE_ERROR;
//   - the log takes no more appends and serves no reads, even though a retried fsync would succeed;
//   - after a restart the log holds every append that was acknowledged.
// Without the rule, the next fsync succeeds and acknowledges appends written past a hole the
// kernel dropped, and recovery then cuts them off.

import { describe, expect, it } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import {
  LogManager,
  ManualClock,
  PartitionLog,
  CLEAN_SHUTDOWN_MARKER,
  DEFAULT_LOG_MANAGER_CONFIG,
  FdCache,
  type LogEvent,
  type LogManagerEvent,
} from '../../storage/index.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FaultyFs } from './faulty-fs.js';
import {
  expectedBatch,
  openLog,
  readAllBatches,
  testLogConfig,
  unstamped,
  useTempDirs,
  type ExpectedBatch,
} from './helpers.js';

const tempDir = useTempDirs();
const DURABLE = testLogConfig({ 'flush.messages': 1 });

function batchOf(i: number, baseOffset: number): ExpectedBatch {
  return expectedBatch(
    [{ timestamp: 1_700_000_000_000 + i, key: Buffer.from(`k${i}`), value: Buffer.from(`value ${i}`) }],
    baseOffset,
  );
}

function openFaulty(dir: string, fs: FaultyFs, events: LogEvent[]): PartitionLog {
  return PartitionLog.open(
    dir,
    DURABLE,
    { fs, clock: new ManualClock(), log: (e) => events.push(e) },
    { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false },
  );
}

async function settle<T>(p: Promise<T>): Promise<{ ok: T } | { err: unknown }> {
  return p.then(
    (ok) => ({ ok }),
    (err: unknown) => ({ err }),
  );
}

function expectOffline(err: unknown): void {
  expect(err).toBeInstanceOf(WeirError);
  expect((err as WeirError).code).toBe('KAFKA_STORAGE_ERROR');
  expect((err as WeirError).retriable).toBe(false);
}

describe('a failed fsync under flush.messages=1', () => {
  it('fails every waiting append, takes no more, and loses nothing acknowledged', async () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const events: LogEvent[] = [];
    const log = openFaulty(dir, fs, events);
    const acked: ExpectedBatch[] = [];
    let next = 0;
    for (let i = 0; i < 3; i++) {
      const b = batchOf(i, next);
      await log.appendDurable(unstamped(b));
      acked.push(b);
      next++;
    }

    // Given appends in flight when the fsync covering them fails,
    const gate = fs.holdSyncs();
    const inFlight = [0, 1, 2].map((i) => settle(log.appendDurable(unstamped(batchOf(10 + i, next + i)))));
    fs.failSyncs = 1;
    gate.open();
    const outcomes = await Promise.all(inFlight);
    // then every one of them fails,
    for (const o of outcomes) {
      expect('err' in o).toBe(true);
      if ('err' in o) expectOffline(o.err);
    }
    // and the log stays offline even though the disk would now sync again.
    expect(fs.failSyncs).toBe(0);
    const later = await settle(log.appendDurable(unstamped(batchOf(20, next + 3))));
    expect('err' in later).toBe(true);
    if ('err' in later) expectOffline(later.err);
    expect(() => log.read(0, 1 << 20)).toThrow(/offline/);
    expect(log.failed?.code).toBe('KAFKA_STORAGE_ERROR');
    expect(events.filter((e) => e.kind === 'log-failed')).toHaveLength(1);
    await expect(log.flush()).rejects.toThrow(/offline/);
    await expect(log.close()).rejects.toThrow(/offline/);

    // After a restart, what was acknowledged is there, whole and in order.
    const reopened = openLog(dir, DURABLE).log;
    const stored = readAllBatches(reopened);
    expect(stored.slice(0, acked.length).map((b) => b.bytes)).toEqual(acked.map((b) => b.bytes));
    await reopened.close();
  });

  it('never believes a retry: an append after the failure is refused, not acknowledged past a hole', async () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const log = openFaulty(dir, fs, []);
    await log.appendDurable(unstamped(batchOf(0, 0)));
    fs.failSyncs = 1;
    await expect(log.appendDurable(unstamped(batchOf(1, 1)))).rejects.toThrow(WeirError);
    // The kernel dropped the batch at offset 1; a second fsync would succeed. The log must not
    // take (and acknowledge) offset 2 behind the hole.
    const syncsBefore = fs.syncCalls;
    await expect(log.appendDurable(unstamped(batchOf(2, 2)))).rejects.toThrow(/offline/);
    expect(fs.syncCalls).toBe(syncsBefore);
    log.closeNow();
    const stored = readAllBatches(openLog(dir, DURABLE).log);
    expect(stored.map((b) => b.baseOffset)).toEqual([0]);
  });

  it('a failed background flush takes the log offline too', async () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const events: LogEvent[] = [];
    const log = PartitionLog.open(
      dir,
      testLogConfig(),
      { fs, clock: new ManualClock(), log: (e) => events.push(e) },
      { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false },
    );
    log.append(unstamped(batchOf(0, 0)));
    fs.failSyncs = 1;
    await expect(log.flush()).rejects.toThrow(/offline/);
    expect(log.recoveryPoint).toBe(0);
    expect(() => log.append(unstamped(batchOf(1, 1)))).toThrow(/offline/);
    expect(events.map((e) => e.kind)).toContain('log-failed');
    log.closeNow();
  });

  it('a failed directory fsync when a segment rolls takes the log offline', async () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const log = openFaulty(dir, fs, []);
    log.append(unstamped(batchOf(0, 0)));
    fs.dirSyncError = 'EIO';
    expect(() => log.roll()).toThrow(/offline/);
    fs.dirSyncError = null;
    expect(() => log.append(unstamped(batchOf(2, 1)))).toThrow(/offline/);
    log.closeNow();
  });

  it('a failed fsync of a truncation takes the log offline: the cut may not be on the disk', () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const log = openFaulty(dir, fs, []);
    log.append(unstamped(batchOf(0, 0)));
    log.roll();
    log.append(unstamped(batchOf(1, 1)));
    fs.dirSyncError = 'EIO';
    // Removes the second segment, whose unlink the failed directory fsync leaves undecided.
    expect(() => log.truncateTo(1)).toThrow(/offline/);
    fs.dirSyncError = null;
    expect(() => log.append(unstamped(batchOf(2, 1)))).toThrow(/offline/);
    log.closeNow();
  });
});

describe('a failed write', () => {
  it('for lack of space fails that append with a retriable storage error; the log stays online', () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const events: LogEvent[] = [];
    const log = openFaulty(dir, fs, events);
    log.append(unstamped(batchOf(0, 0)));
    fs.writeError = 'ENOSPC';
    let caught: unknown = null;
    try {
      log.append(unstamped(batchOf(1, 1)));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WeirError);
    expect((caught as WeirError).code).toBe('KAFKA_STORAGE_ERROR');
    expect((caught as WeirError).retriable).toBe(true);
    expect((caught as WeirError).message).toMatch(/ENOSPC/);
    expect(log.failed).toBeNull();
    expect(events.filter((e) => e.kind === 'io-error')).toHaveLength(1);
    // Space freed: the next append continues at the same offset.
    fs.writeError = null;
    const b = batchOf(1, 1);
    expect(log.append(unstamped(b)).baseOffset).toBe(1);
    expect(readAllBatches(log).map((s) => s.bytes)).toEqual([batchOf(0, 0).bytes, b.bytes]);
    log.closeNow();
  });

  it('cut short by a full disk leaves no bytes behind: later batches survive rolls and a restart', async () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const config = testLogConfig({ 'segment.bytes': 1024 });
    const log = PartitionLog.open(
      dir,
      config,
      { fs, clock: new ManualClock() },
      { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false },
    );
    const bigValue = Buffer.alloc(600, 7);
    const first = expectedBatch([{ timestamp: 1, key: null, value: Buffer.from('first') }], 0);
    log.append(unstamped(first));
    // Half of this batch reaches the file before the disk is full.
    fs.shortWriteThenFail = 'ENOSPC';
    const torn = expectedBatch([{ timestamp: 2, key: null, value: bigValue }], 1);
    expect(() => log.append(unstamped(torn))).toThrow(/ENOSPC/);
    expect(log.failed).toBeNull();
    fs.heal();
    // The segment holding the torn bytes is closed before anything overwrites them.
    log.roll();
    const later: ExpectedBatch[] = [];
    for (let i = 0; i < 12; i++) {
      const b = expectedBatch([{ timestamp: 10 + i, key: null, value: Buffer.alloc(300, i) }], 1 + i);
      log.append(unstamped(b));
      later.push(b);
    }
    expect(log.segments.length).toBeGreaterThan(3);
    await log.close();
    const events: LogEvent[] = [];
    const reopened = PartitionLog.open(
      dir,
      config,
      { fs: new FaultyFs(), clock: new ManualClock(), log: (e) => events.push(e) },
      { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false },
    );
    expect(readAllBatches(reopened).map((b) => b.bytes)).toEqual([first, ...later].map((b) => b.bytes));
    expect(events.filter((e) => e.kind === 'truncated' || e.kind === 'segments-removed')).toEqual([]);
    await reopened.close();
  });

  it('cut short, when the torn bytes cannot be cut off either, takes the log offline', () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const log = openFaulty(dir, fs, []);
    fs.shortWriteThenFail = 'ENOSPC';
    fs.truncateError = 'EIO';
    expect(() => log.append(unstamped(batchOf(0, 0)))).toThrow(/offline/);
    fs.heal();
    expect(() => log.append(unstamped(batchOf(0, 0)))).toThrow(/offline/);
    log.closeNow();
  });

  it('with EROFS takes the log offline', () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const log = openFaulty(dir, fs, []);
    fs.writeError = 'EROFS';
    expect(() => log.append(unstamped(batchOf(0, 0)))).toThrow(/offline/);
    fs.writeError = null;
    expect(() => log.append(unstamped(batchOf(0, 0)))).toThrow(/offline/);
    expect(log.failed?.retriable).toBe(false);
    log.closeNow();
  });
});

describe('a flush that cannot open a descriptor', () => {
  it('fails with a retriable error and leaves the log online: no fsync failed', async () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const log = PartitionLog.open(
      dir,
      testLogConfig({ 'segment.bytes': 1024 }),
      { fs, clock: new ManualClock(), fds: new FdCache(fs, 1) },
      { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false },
    );
    // Given rolled segments whose descriptors the one-slot cache has closed,
    for (let i = 0; i < 12; i++)
      log.append(unstamped(expectedBatch([{ timestamp: i, key: null, value: Buffer.alloc(300, i) }], i)));
    expect(log.segments.length).toBeGreaterThan(3);
    // when the process is out of descriptors as the flush reopens them,
    fs.openError = 'EMFILE';
    const failed = await settle(log.flush());
    // then the flush fails, retriably, and the log stays online with its recovery point;
    expect('err' in failed).toBe(true);
    if ('err' in failed) {
      expect((failed.err as WeirError).code).toBe('KAFKA_STORAGE_ERROR');
      expect((failed.err as WeirError).retriable).toBe(true);
    }
    expect(log.failed).toBeNull();
    // once descriptors are free again, the next flush goes through.
    fs.heal();
    await log.flush();
    expect(log.recoveryPoint).toBe(log.logEndOffset);
    await log.close();
  });
});

describe('the log manager with an offline log', () => {
  it('flushes the other logs, and shuts down without a clean-shutdown marker', async () => {
    const dataDir = tempDir();
    const fs = new FaultyFs();
    const events: LogManagerEvent[] = [];
    const manager = LogManager.open(
      { ...DEFAULT_LOG_MANAGER_CONFIG, dataDir },
      { fs, clock: new ManualClock(), configFor: () => testLogConfig(), log: (e) => events.push(e) },
    );
    const bad = manager.createLog('t', 0);
    const good = manager.createLog('t', 1);
    bad.append(unstamped(batchOf(0, 0)));
    fs.failSyncs = 1;
    await expect(bad.flush()).rejects.toThrow(/offline/);
    good.append(unstamped(batchOf(1, 0)));
    await manager.flushAll();
    expect(good.recoveryPoint).toBe(1);
    await manager.close();
    expect(existsSync(join(dataDir, CLEAN_SHUTDOWN_MARKER))).toBe(false);
    const reopened = LogManager.open(
      { ...DEFAULT_LOG_MANAGER_CONFIG, dataDir },
      { fs: new FaultyFs(), clock: new ManualClock(), configFor: () => testLogConfig() },
    );
    expect(reopened.cleanShutdown).toBe(false);
    expect(readAllBatches(reopened.getLog('t', 1) as PartitionLog)).toHaveLength(1);
    await reopened.close();
  });
});
