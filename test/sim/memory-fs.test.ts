// What MemoryFs adds to the StorageFs contract (fs-contract.test.ts): its crash model, its fault
// hooks and its scheduler. A random source that always answers 0 keeps none of the unsynced
// changes through a crash, one that answers just below 1 keeps them all, whole.

import { describe, expect, it } from 'vitest';
import { seededRandom } from '../storage/helpers.js';
import { MemoryFs } from './memory-fs.js';

const keepNothing = (): number => 0;
const keepEverything = (): number => 0.999;

/** A MemoryFs whose fdatasyncs wait until the test runs them, and a file /d/f holding `synced`. */
function diskWithFile(synced: string): { fs: MemoryFs; fd: number; queue: (() => void)[] } {
  const queue: (() => void)[] = [];
  const fs = new MemoryFs({ schedule: (fn) => queue.push(fn) });
  fs.mkdirSync('/d');
  fs.fsyncDirSync('/');
  const fd = fs.openSync('/d/f', 'w+');
  fs.fsyncDirSync('/d');
  write(fs, fd, synced, 0);
  fs.fsyncSync(fd);
  return { fs, fd, queue };
}

function write(fs: MemoryFs, fd: number, text: string, position: number): void {
  fs.writeSync(fd, Buffer.from(text), 0, text.length, position);
}

function text(fs: MemoryFs, path: string): string {
  return fs.readFileSync(path).toString();
}

describe('MemoryFs crash model', () => {
  it('synced bytes survive; of the unsynced writes a prefix survives, the last possibly torn', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const { fs, fd } = diskWithFile('abc');
      write(fs, fd, 'def', 3);
      write(fs, fd, 'ghi', 6);
      const after = text(fs.crash(seededRandom(seed)), '/d/f');
      expect('abcdefghi'.startsWith(after) && after.startsWith('abc'), `seed ${seed}: '${after}'`).toBe(true);
      seen.add(after);
    }
    // Every cut point occurs: nothing kept, each write whole, and writes torn.
    expect([...seen].sort()).toEqual(['abc', 'abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh', 'abcdefghi']);
  });

  it('the same seed gives the same disk', () => {
    const crashOnce = (): string => {
      const { fs, fd } = diskWithFile('x');
      for (let i = 0; i < 20; i++) write(fs, fd, `w${i};`, 1 + 4 * i);
      return text(fs.crash(seededRandom(42)), '/d/f');
    };
    expect(crashOnce()).toBe(crashOnce());
  });

  it('an fdatasync makes durable what was written before it was called, not after', async () => {
    const { fs, fd, queue } = diskWithFile('a');
    write(fs, fd, 'b', 1);
    const synced = fs.fdatasync(fd);
    write(fs, fd, 'c', 2);
    expect(queue.length).toBe(1);
    queue.shift()?.();
    await synced;
    expect(text(fs, '/d/f')).toBe('abc');
    expect(text(fs.crash(keepNothing), '/d/f')).toBe('ab');
  });

  it('an fdatasync in flight at the crash neither lands nor settles', async () => {
    const { fs, fd, queue } = diskWithFile('a');
    write(fs, fd, 'b', 1);
    let settled = false;
    void fs.fdatasync(fd).then(
      () => (settled = true),
      () => (settled = true),
    );
    const after = fs.crash(keepNothing);
    queue.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(text(after, '/d/f')).toBe('a');
  });

  it('a crash closes every descriptor and leaves the old disk dead', () => {
    const { fs, fd } = diskWithFile('a');
    const after = fs.crash(keepEverything);
    expect(fs.openFdCount).toBe(0);
    expect(() => fs.fstatSizeSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => fs.openSync('/d/f', 'r')).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(() => fs.existsSync('/d/f')).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(after.openFdCount).toBe(0);
    expect(text(after, '/d/f')).toBe('a');
  });

  it('a new file, a new directory and an unlink last only once their directory is synced', () => {
    const { fs } = diskWithFile('a');
    const fd = fs.openSync('/d/new', 'w');
    write(fs, fd, 'n', 0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.mkdirSync('/d/sub');
    fs.unlinkSync('/d/f');
    const lost = fs.crash(keepEverything);
    expect(lost.readdirSync('/d')).toEqual(['f']);
    expect(text(lost, '/d/f')).toBe('a');

    lost.unlinkSync('/d/f');
    lost.mkdirSync('/d/sub');
    lost.fsyncDirSync('/d');
    expect(lost.crash(keepEverything).readdirSync('/d')).toEqual(['sub']);
  });

  it('a rename not followed by a directory sync is undone: the old name and content come back', () => {
    const { fs } = diskWithFile('old');
    const fd = fs.openSync('/d/f.tmp', 'w');
    write(fs, fd, 'new', 0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync('/d/f.tmp', '/d/f');
    expect(text(fs, '/d/f')).toBe('new');
    const undone = fs.crash(keepEverything);
    expect(undone.readdirSync('/d')).toEqual(['f']);
    expect(text(undone, '/d/f')).toBe('old');

    const fd2 = undone.openSync('/d/f.tmp', 'w');
    write(undone, fd2, 'new', 0);
    undone.fsyncSync(fd2);
    undone.closeSync(fd2);
    undone.renameSync('/d/f.tmp', '/d/f');
    undone.fsyncDirSync('/d');
    expect(text(undone.crash(keepNothing), '/d/f')).toBe('new');
  });

  it('a failed fdatasync drops the writes it covered; a later one succeeds without them', async () => {
    const { fs, fd, queue } = diskWithFile('a');
    write(fs, fd, 'b', 1);
    fs.failSyncs = 1;
    const failed = fs.fdatasync(fd);
    write(fs, fd, 'c', 2);
    queue.shift()?.();
    await expect(failed).rejects.toMatchObject({ code: 'EIO' });
    expect(text(fs, '/d/f')).toBe('a\0c');
    const retried = fs.fdatasync(fd);
    queue.shift()?.();
    await retried;
    expect(text(fs.crash(keepNothing), '/d/f')).toBe('a\0c');
  });

  it('writes that would pass the capacity fail with ENOSPC and write nothing', () => {
    const fs = new MemoryFs({ capacityBytes: 10 });
    fs.mkdirSync('/d');
    const fd = fs.openSync('/d/f', 'w+');
    write(fs, fd, '12345678', 0);
    expect(() => write(fs, fd, 'abc', 8)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(fs.fstatSizeSync(fd)).toBe(8);
    write(fs, fd, 'ab', 0);
    write(fs, fd, 'cd', 8);
    expect(fs.usedBytes).toBe(10);
    fs.closeSync(fd);
    fs.unlinkSync('/d/f');
    expect(fs.usedBytes).toBe(0);
    fs.closeSync(fs.openSync('/d/g', 'w'));
  });

  it('descriptor numbers are reused lowest first, as POSIX does', () => {
    const fs = new MemoryFs();
    fs.mkdirSync('/d');
    const a = fs.openSync('/d/a', 'w');
    const b = fs.openSync('/d/b', 'w');
    fs.closeSync(a);
    expect(fs.openSync('/d/c', 'w')).toBe(a);
    expect(b).toBe(a + 1);
  });
});
