// The descriptor cache of closed segments: least-recently-used eviction, never closing a busy
// descriptor (a read, a scan, an fdatasync in flight), and logs that keep working through it with
// far fewer descriptors than segments: reads, compaction's renames, loading after a clean stop
// and recovery after an unclean one.

import { fstatSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWeirError } from '../../proto/errors.js';
import { encodeBatch, type RecordInput } from '../../proto/record-batch.js';
import {
  FdCache,
  ManualClock,
  PartitionLog,
  compactLog,
  logConfigFrom,
  nodeFs,
  type StorageFs,
} from '../../storage/index.js';
import { readAllBatches, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** Descriptors this process holds on files under `dir`, read from /proc/self/fd. */
function fdsUnder(dir: string): number {
  let n = 0;
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${entry}`).startsWith(dir + '/')) n++;
    } catch {
      // the descriptor readdir itself used is gone by now
    }
  }
  return n;
}

function files(dir: string, count: number): string[] {
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(dir, `f${i}`);
    writeFileSync(path, `file ${i}`);
    paths.push(path);
  }
  return paths;
}

describe('FdCache', () => {
  it('closes the least recently used idle descriptor first', () => {
    const cache = new FdCache(nodeFs, 2);
    const [a, b, c] = files(tempDir(), 3).map((p) => cache.file(p));
    const use = (f: typeof a & object): void => {
      cache.acquire(f);
      cache.release(f);
    };
    use(a!);
    use(b!);
    // a, then b were used: a is the oldest, and goes when c needs room.
    use(c!);
    expect(a!.fd).toBe(-1);
    expect(b!.fd).toBeGreaterThanOrEqual(0);
    expect(cache.openCount).toBe(2);
    // Using b makes c the oldest.
    use(b!);
    use(a!);
    expect(c!.fd).toBe(-1);
    expect([a!.fd >= 0, b!.fd >= 0]).toEqual([true, true]);
    cache.trim(0);
    expect(cache.openCount).toBe(0);
  });

  it('never closes a busy descriptor; it goes over capacity and shrinks back on release', () => {
    const cache = new FdCache(nodeFs, 1);
    const [a, b] = files(tempDir(), 2).map((p) => cache.file(p));
    const fdA = cache.acquire(a!);
    const fdB = cache.acquire(b!);
    expect(isOpen(fdA) && isOpen(fdB)).toBe(true);
    expect(cache.openCount).toBe(2);
    cache.release(a!);
    expect(a!.fd).toBe(-1);
    expect(b!.fd).toBe(fdB);
    cache.release(b!);
    expect(cache.openCount).toBe(1);
    cache.trim(0);
  });

  it('holds rolled descriptors until their sync, but never more than half its capacity', () => {
    const cache = new FdCache(nodeFs, 4);
    const [a, b, c, ...others] = files(tempDir(), 8).map((p) => cache.file(p));
    const releases = [a!, b!, c!].map((f) => {
      cache.acquire(f);
      const release = cache.holdUntilSynced(f);
      cache.release(f);
      return release;
    });
    // Many other files come and go: the two held stay open, the third (past half) may go.
    for (const f of others) {
      cache.acquire(f);
      cache.release(f);
    }
    expect(a!.fd >= 0 && b!.fd >= 0).toBe(true);
    expect(c!.fd).toBe(-1);
    expect(cache.openCount).toBeLessThanOrEqual(4);
    for (const release of releases) release();
    for (const f of others) {
      cache.acquire(f);
      cache.release(f);
    }
    expect(a!.fd).toBe(-1);
    expect(b!.fd).toBe(-1);
    cache.trim(0);
  });

  it('closes a file closed while busy when its last use ends', () => {
    const cache = new FdCache(nodeFs, 4);
    const [a] = files(tempDir(), 1).map((p) => cache.file(p));
    const fd = cache.acquire(a!);
    cache.close(a!);
    expect(isOpen(fd)).toBe(true);
    cache.release(a!);
    expect(a!.fd).toBe(-1);
    expect(cache.openCount).toBe(0);
  });

  it('gives back its idle descriptors when the process runs out, and says so when none are idle', () => {
    // The real file system with a process-wide limit of 3 descriptors, as RLIMIT_NOFILE would be.
    const open = new Set<number>();
    const limited: StorageFs = {
      ...nodeFs,
      openSync(path, flags) {
        if (open.size >= 3) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
        const fd = nodeFs.openSync(path, flags);
        open.add(fd);
        return fd;
      },
      closeSync(fd) {
        open.delete(fd);
        nodeFs.closeSync(fd);
      },
    };
    const cache = new FdCache(limited, 10);
    const all = files(tempDir(), 4).map((p) => cache.file(p));
    for (const f of all.slice(0, 3)) {
      cache.acquire(f);
      cache.release(f);
    }
    const fourth = all[3]!;
    expect(cache.acquire(fourth)).toBeGreaterThanOrEqual(0);
    expect(all.slice(0, 3).map((f) => f.fd)).toEqual([-1, -1, -1]);
    const busy = all.slice(0, 2);
    for (const f of busy) cache.acquire(f);
    let refused: unknown = null;
    try {
      cache.acquire(all[2]!);
    } catch (err) {
      refused = err;
    }
    expect(isWeirError(refused, 'KAFKA_STORAGE_ERROR')).toBe(true);
    expect(String(refused)).toContain('EMFILE');
    for (const f of [fourth, ...busy]) cache.release(f);
    cache.trim(0);
    expect(open.size).toBe(0);
  });

  it('keeps pinned descriptors out of the LRU order', () => {
    const cache = new FdCache(nodeFs, 1);
    const [p1, p2, p3] = files(tempDir(), 3);
    const pinned = cache.openPinned(p1!, 'r+');
    const other = cache.file(p2!);
    const third = cache.file(p3!);
    for (const f of [other, third]) {
      cache.acquire(f);
      cache.release(f);
    }
    expect(pinned.fd).toBeGreaterThanOrEqual(0);
    expect(other.fd).toBe(-1);
    cache.unpin(pinned);
    expect(third.fd).toBe(-1);
    expect(cache.openCount).toBe(1);
    cache.close(pinned);
    expect(pinned.fd).toBe(-1);
  });
});

const SMALL = logConfigFrom({
  'segment.bytes': '1024',
  'index.interval.bytes': '256',
  'cleanup.policy': 'compact',
});

function records(i: number): RecordInput[] {
  return [{ timestamp: 1_700_000_000_000 + i, key: Buffer.from(`k${i % 7}`), value: Buffer.alloc(300, i) }];
}

function open(dir: string, fds: FdCache, clean: boolean, fs: StorageFs = nodeFs): PartitionLog {
  return PartitionLog.open(
    dir,
    SMALL,
    { fs, clock: new ManualClock(), fds },
    { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: clean },
  );
}

describe('logs through a small descriptor cache', () => {
  it('hold the active segment and at most the cache capacity, through writes, reads and restarts', async () => {
    const dir = tempDir();
    const fds = new FdCache(nodeFs, 3);
    let log = open(dir, fds, true);
    for (let i = 0; i < 200; i++) log.append(encodeBatch(records(i)));
    expect(log.segments.length).toBeGreaterThan(50);
    expect(fdsUnder(dir)).toBeLessThanOrEqual(1 + 3);
    const written = readAllBatches(log);
    expect(written.map((b) => b.baseOffset)).toEqual([...Array(200).keys()]);
    expect(fdsUnder(dir)).toBeLessThanOrEqual(1 + 3);
    await log.close();
    expect(fdsUnder(dir)).toBe(0);

    // Loading touches every segment: its tail after a clean stop, all of it after an unclean one.
    log = open(dir, fds, true);
    expect(fdsUnder(dir)).toBeLessThanOrEqual(1 + 3);
    expect(readAllBatches(log)).toEqual(written);
    log.append(encodeBatch(records(200)));
    log.closeNow();
    // A rolled segment's descriptor held for its post-roll flush goes once that flush settles.
    await log.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(fdsUnder(dir)).toBe(0);
    log = open(dir, fds, false);
    expect(fdsUnder(dir)).toBeLessThanOrEqual(1 + 3);
    const after = readAllBatches(log);
    expect(after.slice(0, 200)).toEqual(written);
    expect(after.map((b) => b.baseOffset)).toEqual([...Array(201).keys()]);
    // Truncating back into a closed segment makes it the active one again, and it takes appends.
    log.truncateTo(150);
    log.append(encodeBatch(records(150)));
    expect(readAllBatches(log).map((b) => b.baseOffset)).toEqual([...Array(151).keys()]);
    await log.close();
    expect(fdsUnder(dir)).toBe(0);
  });

  it('compaction renames segments whose descriptors come and go, and the log reads back', async () => {
    const dir = tempDir();
    const fds = new FdCache(nodeFs, 1);
    const log = open(dir, fds, true);
    for (let i = 0; i < 120; i++) log.append(encodeBatch(records(i)));
    const outcome = await compactLog(log, 1_700_000_000_000, { fs: nodeFs, pause: async () => {} });
    expect(outcome.segmentsRewritten).toBeGreaterThan(1);
    expect(outcome.bytesAfter).toBeLessThan(outcome.bytesBefore);
    const latest = new Map<string, number>();
    for (let i = 0; i < 120; i++) latest.set(`k${i % 7}`, i);
    const kept = readAllBatches(log).map((b) => b.baseOffset);
    for (const offset of latest.values()) expect(kept).toContain(offset);
    // Busy descriptors (the rolls' background fsyncs) may run over the capacity for a moment.
    await log.flush();
    expect(fdsUnder(dir)).toBeLessThanOrEqual(1 + 1);
    await log.close();
    const reopened = open(dir, fds, true);
    expect(readAllBatches(reopened).map((b) => b.baseOffset)).toEqual(kept);
    await reopened.close();
  });

  it('keeps taking appends in the active segment after a roll failed for want of descriptors', () => {
    const dir = tempDir();
    let full = false;
    const fs: StorageFs = {
      ...nodeFs,
      openSync(path, flags) {
        // Only the new segment's `.log` fails to open: the roll gets as far as it can.
        if (full && flags === 'wx+')
          throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
        return nodeFs.openSync(path, flags);
      },
    };
    const log = open(dir, new FdCache(fs, 4), true, fs);
    log.append(encodeBatch(records(0)));
    full = true;
    // 300 more bytes do not fit segment.bytes 1024 next to the first batch, so this one rolls.
    const big = encodeBatch([{ timestamp: 1_700_000_000_001, key: null, value: Buffer.alloc(800) }]);
    let refused: unknown = null;
    try {
      log.append(big);
    } catch (err) {
      refused = err;
    }
    expect(isWeirError(refused, 'KAFKA_STORAGE_ERROR')).toBe(true);
    // A batch that fits still goes to the segment that stayed active.
    const small = encodeBatch([{ timestamp: 1_700_000_000_002, key: null, value: Buffer.alloc(10) }]);
    expect(log.append(small).baseOffset).toBe(1);
    full = false;
    log.append(big);
    expect(log.segments.length).toBe(2);
    expect(readAllBatches(log).map((b) => b.baseOffset)).toEqual([0, 1, 2]);
    log.closeNow();
  });

  it('never closes a closed segment while its fdatasync is in flight', async () => {
    const dir = tempDir();
    const waiting: (() => void)[] = [];
    const held = new Set<number>();
    const closedWhileSyncing: number[] = [];
    const fs: StorageFs = {
      ...nodeFs,
      fdatasync: (fd) => {
        held.add(fd);
        return new Promise<void>((resolve, reject) => {
          waiting.push(() => void nodeFs.fdatasync(fd).then(resolve, reject));
        }).finally(() => held.delete(fd));
      },
      closeSync: (fd) => {
        if (held.has(fd)) closedWhileSyncing.push(fd);
        nodeFs.closeSync(fd);
      },
    };
    const fds = new FdCache(fs, 1);
    const log = open(dir, fds, true, fs);
    for (let i = 0; i < 20; i++) log.append(encodeBatch(records(i)));
    // The roll's background flush of the first closed segment waits on its fdatasync...
    const first = log.segments[0]!;
    const syncing = first.flush();
    expect(held.size).toBeGreaterThan(0);
    // ...while reads of other closed segments churn the one-descriptor cache.
    for (const seg of log.segments.slice(1, -1)) log.read(seg.baseOffset, 100);
    expect(closedWhileSyncing).toEqual([]);
    while (held.size > 0) {
      for (const go of waiting.splice(0)) go();
      await new Promise((r) => setTimeout(r, 5));
    }
    await syncing;
    expect(closedWhileSyncing).toEqual([]);
    log.closeNow();
  });
});
