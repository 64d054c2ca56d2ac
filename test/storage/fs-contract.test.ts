// One contract for every StorageFs (STYLE 12): the real file system in a temp dir and the simulated
// one (test/sim/memory-fs.ts) answer the same calls with the same results and the same errno codes,
// and storage built on either reads back what it wrote. What only the simulation can do (cut the
// power) is tested in test/sim/memory-fs.test.ts and power-loss.test.ts.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  PartitionLog,
  nodeFs,
  writeFileAtomic,
  type OpenOptions,
  type StorageFs,
} from '../../storage/index.js';
import { MemoryFs } from '../sim/memory-fs.js';
import {
  expectedBatch,
  readAllBatches,
  seededRandom,
  testLogConfig,
  unstamped,
  useTempDirs,
  type ExpectedBatch,
} from './helpers.js';
import { seededRecords } from './seeded-batches.js';

const tempDir = useTempDirs();

interface Disk {
  readonly fs: StorageFs;
  /** An empty directory to work in. */
  readonly root: string;
}

const backends: { name: string; disk: () => Disk }[] = [
  { name: 'node:fs', disk: () => ({ fs: nodeFs, root: tempDir('weir-fs-contract-') }) },
  {
    name: 'MemoryFs',
    disk: () => {
      const fs = new MemoryFs();
      fs.mkdirSync('/data');
      return { fs, root: '/data' };
    },
  },
];

function expectErrno(fn: () => unknown, code: string): void {
  let thrown: unknown = null;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected ${code}`).toBeInstanceOf(Error);
  expect((thrown as NodeJS.ErrnoException).code).toBe(code);
}

function writeAll(fs: StorageFs, path: string, text: string): void {
  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, Buffer.from(text), 0, text.length, 0);
  } finally {
    fs.closeSync(fd);
  }
}

function readText(fs: StorageFs, path: string): string {
  return fs.readFileSync(path).toString('latin1');
}

const CONFIG = testLogConfig({ 'segment.bytes': 4096 });

function openLog(fs: StorageFs, dir: string, options: Partial<OpenOptions> = {}): PartitionLog {
  return PartitionLog.open(
    dir,
    CONFIG,
    { fs, clock: new ManualClock() },
    { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false, ...options },
  );
}

/** Appends `count` seeded batches one append each; returns them as they must lie in the log. */
function appendSeeded(log: PartitionLog, seed: number, count: number): ExpectedBatch[] {
  const rand = seededRandom(seed);
  const out: ExpectedBatch[] = [];
  for (let id = 0; id < count; id++) {
    const want = expectedBatch(seededRecords(rand, id), log.logEndOffset);
    expect(log.append(unstamped(want)).baseOffset).toBe(want.baseOffset);
    out.push(want);
  }
  return out;
}

function expectLogHolds(log: PartitionLog, want: readonly ExpectedBatch[]): void {
  const stored = readAllBatches(log);
  expect(stored.map((b) => [b.baseOffset, b.lastOffset])).toEqual(
    want.map((b) => [b.baseOffset, b.lastOffset]),
  );
  stored.forEach((b, i) => expect(b.bytes.equals((want[i] as ExpectedBatch).bytes), `batch ${i}`).toBe(true));
  expect(log.logEndOffset).toBe(
    want.length === 0 ? 0 : (want[want.length - 1] as ExpectedBatch).lastOffset + 1,
  );
}

describe.each(backends)('StorageFs contract: $name', ({ disk }) => {
  it('open flags: r and r+ need the file, w truncates, wx refuses an existing one', () => {
    const { fs, root } = disk();
    const path = join(root, 'f');
    expectErrno(() => fs.openSync(path, 'r'), 'ENOENT');
    expectErrno(() => fs.openSync(path, 'r+'), 'ENOENT');
    fs.closeSync(fs.openSync(path, 'wx'));
    expect(fs.existsSync(path)).toBe(true);
    expectErrno(() => fs.openSync(path, 'wx'), 'EEXIST');
    expectErrno(() => fs.openSync(path, 'wx+'), 'EEXIST');
    writeAll(fs, path, 'hello');
    const rw = fs.openSync(path, 'r+');
    expect(fs.fstatSizeSync(rw)).toBe(5);
    fs.closeSync(rw);
    fs.closeSync(fs.openSync(path, 'w'));
    expect(fs.readFileSync(path).length).toBe(0);
    const created = fs.openSync(join(root, 'g'), 'wx+');
    fs.writeSync(created, Buffer.from('ab'), 0, 2, 0);
    const back = Buffer.alloc(2);
    expect(fs.readSync(created, back, 0, 2, 0)).toBe(2);
    expect(back.toString()).toBe('ab');
    fs.closeSync(created);
  });

  it('open errors: a missing parent, a file as parent, a directory opened for writing', () => {
    const { fs, root } = disk();
    writeAll(fs, join(root, 'file'), 'x');
    fs.mkdirSync(join(root, 'dir'));
    expectErrno(() => fs.openSync(join(root, 'missing', 'f'), 'w'), 'ENOENT');
    expectErrno(() => fs.openSync(join(root, 'file', 'f'), 'w'), 'ENOTDIR');
    expectErrno(() => fs.openSync(join(root, 'dir'), 'w'), 'EISDIR');
    expectErrno(() => fs.openSync(join(root, 'dir'), 'r+'), 'EISDIR');
    const dirFd = fs.openSync(join(root, 'dir'), 'r');
    expectErrno(() => fs.readSync(dirFd, Buffer.alloc(1), 0, 1, 0), 'EISDIR');
    fs.closeSync(dirFd);
  });

  it('a descriptor is used only as opened: no reads on w, no writes on r, nothing once closed', () => {
    const { fs, root } = disk();
    const path = join(root, 'f');
    const w = fs.openSync(path, 'w');
    expectErrno(() => fs.readSync(w, Buffer.alloc(1), 0, 1, 0), 'EBADF');
    fs.closeSync(w);
    const r = fs.openSync(path, 'r');
    expectErrno(() => fs.writeSync(r, Buffer.from('x'), 0, 1, 0), 'EBADF');
    expectErrno(() => fs.ftruncateSync(r, 0), 'EINVAL');
    fs.closeSync(r);
    // Checked at once, before anything else in the process can be given the same number.
    expectErrno(() => fs.fstatSizeSync(r), 'EBADF');
    expectErrno(() => fs.closeSync(r), 'EBADF');
  });

  it('positional writes leave holes as zeros and do not move the file position', () => {
    const { fs, root } = disk();
    const path = join(root, 'f');
    const fd = fs.openSync(path, 'w+');
    expect(fs.writeSync(fd, Buffer.from('ab'), 0, 2, null)).toBe(2);
    expect(fs.writeSync(fd, Buffer.from('--XY--'), 2, 2, 8)).toBe(2);
    fs.writeSync(fd, Buffer.from('cd'), 0, 2, null);
    expect(fs.fstatSizeSync(fd)).toBe(10);
    const buf = Buffer.alloc(12, 0xee);
    expect(fs.readSync(fd, buf, 1, 10, 0)).toBe(10);
    expect(buf.toString('latin1')).toBe('\xeeabcd\0\0\0\0XY\xee');
    expect(fs.readSync(fd, buf, 0, 4, 8)).toBe(2);
    expect(fs.readSync(fd, buf, 0, 4, 10)).toBe(0);
    expect(fs.readSync(fd, buf, 0, 4, 100)).toBe(0);
    fs.closeSync(fd);
    expect(readText(fs, path)).toBe('abcd\0\0\0\0XY');
  });

  it('ftruncate shrinks and grows (with zeros); fstat reports the size', () => {
    const { fs, root } = disk();
    const path = join(root, 'f');
    writeAll(fs, path, 'abcdef');
    const fd = fs.openSync(path, 'r+');
    fs.ftruncateSync(fd, 2);
    expect(fs.fstatSizeSync(fd)).toBe(2);
    fs.ftruncateSync(fd, 5);
    expect(fs.fstatSizeSync(fd)).toBe(5);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    expect(readText(fs, path)).toBe('ab\0\0\0');
  });

  it('fdatasync resolves on an open descriptor and rejects with EBADF on a closed one', async () => {
    const { fs, root } = disk();
    const fd = fs.openSync(join(root, 'f'), 'w');
    fs.writeSync(fd, Buffer.from('x'), 0, 1, 0);
    await fs.fdatasync(fd);
    fs.closeSync(fd);
    await expect(fs.fdatasync(fd)).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('rename replaces an existing file; a descriptor on the replaced one still reads it', () => {
    const { fs, root } = disk();
    const a = join(root, 'a');
    const b = join(root, 'b');
    writeAll(fs, a, 'new');
    writeAll(fs, b, 'old!');
    const held = fs.openSync(b, 'r');
    fs.renameSync(a, b);
    fs.fsyncDirSync(root);
    expect(fs.existsSync(a)).toBe(false);
    expect(readText(fs, b)).toBe('new');
    const buf = Buffer.alloc(4);
    expect(fs.readSync(held, buf, 0, 4, 0)).toBe(4);
    expect(buf.toString()).toBe('old!');
    fs.closeSync(held);
    expectErrno(() => fs.renameSync(a, b), 'ENOENT');
    expectErrno(() => fs.renameSync(b, join(root, 'missing', 'b')), 'ENOENT');
  });

  it('rename errors between files and directories', () => {
    const { fs, root } = disk();
    writeAll(fs, join(root, 'f'), 'x');
    fs.mkdirSync(join(root, 'empty'));
    fs.mkdirSync(join(root, 'full'));
    writeAll(fs, join(root, 'full', 'x'), 'x');
    expectErrno(() => fs.renameSync(join(root, 'f'), join(root, 'empty')), 'EISDIR');
    expectErrno(() => fs.renameSync(join(root, 'empty'), join(root, 'f')), 'ENOTDIR');
    expectErrno(() => fs.renameSync(join(root, 'empty'), join(root, 'full')), 'ENOTEMPTY');
    fs.renameSync(join(root, 'full'), join(root, 'moved'));
    expect(readText(fs, join(root, 'moved', 'x'))).toBe('x');
    expect(fs.readdirSync(root).sort()).toEqual(['empty', 'f', 'moved']);
  });

  it('readdir lists names; unlink removes a file but not a directory', () => {
    const { fs, root } = disk();
    expect(fs.readdirSync(root)).toEqual([]);
    for (const name of ['b.log', 'a.index', 'c']) writeAll(fs, join(root, name), name);
    fs.mkdirSync(join(root, 'sub'));
    expect(fs.readdirSync(root).sort()).toEqual(['a.index', 'b.log', 'c', 'sub']);
    const held = fs.openSync(join(root, 'c'), 'r');
    fs.unlinkSync(join(root, 'c'));
    expect(fs.existsSync(join(root, 'c'))).toBe(false);
    expect(fs.fstatSizeSync(held)).toBe(1);
    fs.closeSync(held);
    expectErrno(() => fs.unlinkSync(join(root, 'c')), 'ENOENT');
    expectErrno(() => fs.unlinkSync(join(root, 'sub')), 'EISDIR');
    expectErrno(() => fs.readdirSync(join(root, 'missing')), 'ENOENT');
    expectErrno(() => fs.readdirSync(join(root, 'b.log')), 'ENOTDIR');
    expectErrno(() => fs.readFileSync(join(root, 'c')), 'ENOENT');
    expectErrno(() => fs.readFileSync(join(root, 'sub')), 'EISDIR');
    expect(fs.readdirSync(root).sort()).toEqual(['a.index', 'b.log', 'sub']);
  });

  it('mkdir makes parents and accepts an existing directory; rm removes a tree, and nothing quietly', () => {
    const { fs, root } = disk();
    const deep = join(root, 'a', 'b', 'c');
    fs.mkdirSync(deep);
    fs.mkdirSync(deep);
    writeAll(fs, join(deep, 'f'), 'x');
    writeAll(fs, join(root, 'a', 'g'), 'y');
    expectErrno(() => fs.mkdirSync(join(root, 'a', 'g')), 'EEXIST');
    expectErrno(() => fs.mkdirSync(join(root, 'a', 'g', 'h')), 'ENOTDIR');
    fs.rmSync(join(root, 'a'));
    expect(fs.existsSync(join(root, 'a'))).toBe(false);
    expect(fs.existsSync(deep)).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
    fs.rmSync(join(root, 'a'));
    writeAll(fs, join(root, 'f'), 'x');
    fs.rmSync(join(root, 'f'));
    expect(fs.existsSync(join(root, 'f'))).toBe(false);
  });

  it('writeFileAtomic writes and replaces a file, leaving no temp file', () => {
    const { fs, root } = disk();
    writeFileAtomic(fs, root, 'checkpoint', Buffer.from('first\n'));
    expect(readText(fs, join(root, 'checkpoint'))).toBe('first\n');
    writeFileAtomic(fs, root, 'checkpoint', Buffer.from('2\n'));
    expect(readText(fs, join(root, 'checkpoint'))).toBe('2\n');
    expect(fs.readdirSync(root)).toEqual(['checkpoint']);
  });

  it('a PartitionLog closed and reopened reads back every batch byte for byte', async () => {
    const { fs, root } = disk();
    const dir = join(root, 'orders-0');
    const log = openLog(fs, dir);
    const want = appendSeeded(log, 11, 60);
    expect(log.segments.length, 'the workload spans several segments').toBeGreaterThan(2);
    await log.close();
    const reopened = openLog(fs, dir, { cleanShutdown: true, recoveryPoint: want.length });
    try {
      expectLogHolds(reopened, want);
    } finally {
      await reopened.close();
    }
  });

  it('a PartitionLog stopped uncleanly recovers every batch and appends after them', async () => {
    const { fs, root } = disk();
    const dir = join(root, 'orders-0');
    const log = openLog(fs, dir);
    const want = appendSeeded(log, 12, 60);
    // As a killed process leaves it: no flush, no index written on the way out.
    log.closeNow(false);
    const reopened = openLog(fs, dir);
    try {
      expectLogHolds(reopened, want);
      const more = appendSeeded(reopened, 13, 3);
      expectLogHolds(reopened, [...want, ...more]);
    } finally {
      await reopened.close();
    }
  });
});
