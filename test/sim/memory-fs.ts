// A file system in memory that can lose power, for storage tests and the simulation of several
// brokers in one process (each with its own disk). It answers as node:fs does on Linux, errno
// codes included, for the calls and open flags storage uses ('r', 'r+', 'w', 'w+', 'wx', 'wx+').
//
// Crash model (crash() returns the disk as the next boot finds it):
//   - a file's bytes are durable up to its last completed fsyncSync or fdatasync, which covers the
//     writes and truncations made before the call started; of the later ones a power loss keeps a
//     random prefix, the last write of it possibly torn (memory-node.ts, crashContent);
//   - a directory entry (a new file or directory, a rename's new and old name, an unlink) is
//     durable once its directory is fsynced (fsyncDirSync, or fsync of a descriptor opened on the
//     directory); until then a power loss restores the entries as of that fsync, so an unsynced
//     rename is undone and the old name comes back. Directories are synced one by one: a rename
//     between directories synced on one side only leaves the file under both names or neither;
//   - a power loss closes every descriptor, and fdatasyncs still running never settle (the process
//     that waited on them is gone). The old instance answers every later path call with EIO.
//
// fdatasync completes through `schedule` (default: queueMicrotask): a simulation passes its own
// scheduler to decide when each sync lands, and so where a crash falls among them.
//
// Faults: failSyncs fails the next fdatasyncs with EIO, dropping the changes they covered as Linux
// does (a retry then succeeds without them); capacityBytes makes writes that would grow the files
// past it fail with ENOSPC, writing nothing.

import { posix } from 'node:path';
import type { StorageFs } from '../../storage/index.js';
import { errnoError } from './errno.js';
import { DirNode, FileNode, crashTree, type MemoryNode } from './memory-node.js';

export interface MemoryFsOptions {
  /** Runs a completed fdatasync's continuation; default queueMicrotask. */
  readonly schedule?: (fn: () => void) => void;
  /** Bytes the files may hold in total; default unlimited. */
  readonly capacityBytes?: number;
}

interface OpenFile {
  readonly node: MemoryNode;
  readonly readable: boolean;
  readonly writable: boolean;
  /** The file position, used by writes with a null position. */
  position: number;
}

interface FlagMode {
  readonly readable: boolean;
  readonly writable: boolean;
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly truncate: boolean;
}

const FLAGS: Readonly<Record<string, FlagMode>> = {
  r: { readable: true, writable: false, create: false, exclusive: false, truncate: false },
  'r+': { readable: true, writable: true, create: false, exclusive: false, truncate: false },
  w: { readable: false, writable: true, create: true, exclusive: false, truncate: true },
  'w+': { readable: true, writable: true, create: true, exclusive: false, truncate: true },
  wx: { readable: false, writable: true, create: true, exclusive: true, truncate: true },
  'wx+': { readable: true, writable: true, create: true, exclusive: true, truncate: true },
};

/** The lowest descriptor handed out, as a process has 0-2 taken. */
const FIRST_FD = 3;

export class MemoryFs implements StorageFs {
  /** The next this-many fdatasync calls fail with EIO. */
  failSyncs = 0;
  /** Bytes the files may hold in total. */
  capacityBytes: number;
  /** fdatasync calls made (whether they succeed or not). */
  syncCalls = 0;
  private root = new DirNode();
  private readonly fds = new Map<number, OpenFile>();
  /** Orders every change to file bytes, so a sync covers exactly those made before it. */
  private seq = 0;
  private poweredOff = false;
  private readonly schedule: (fn: () => void) => void;
  private readonly options: MemoryFsOptions;

  constructor(options: MemoryFsOptions = {}) {
    this.options = options;
    this.schedule = options.schedule ?? queueMicrotask;
    this.capacityBytes = options.capacityBytes ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Cuts the power: returns the disk as it is found after a restart (see the top of the file), with
   * the same options. Every descriptor of this instance is closed and it is dead from now on.
   */
  crash(rand: () => number): MemoryFs {
    const next = new MemoryFs({ ...this.options, capacityBytes: this.capacityBytes });
    next.root = crashTree(this.root, rand);
    this.poweredOff = true;
    this.fds.clear();
    return next;
  }

  /** Descriptors open now (a test checks that storage gives back what it takes). */
  get openFdCount(): number {
    return this.fds.size;
  }

  /** Bytes held by every file still reachable by name or descriptor. */
  get usedBytes(): number {
    const files = new Set<FileNode>();
    const walk = (dir: DirNode): void => {
      for (const node of dir.entries.values()) {
        if (node.kind === 'dir') walk(node);
        else files.add(node);
      }
    };
    walk(this.root);
    for (const f of this.fds.values()) if (f.node.kind === 'file') files.add(f.node);
    let total = 0;
    for (const f of files) total += f.size;
    return total;
  }

  openSync(path: string, flags: string): number {
    const mode = FLAGS[flags];
    if (mode === undefined) throw new Error(`MemoryFs does not model open flag '${flags}'`);
    const { parent, name, node } = this.locate(path, 'open');
    let target = node;
    if (target === undefined) {
      if (!mode.create) throw errnoError('ENOENT', 'open', path);
      target = new FileNode();
      parent.entries.set(name, target);
    } else if (mode.exclusive) {
      throw errnoError('EEXIST', 'open', path);
    } else if (target.kind === 'dir') {
      if (mode.writable) throw errnoError('EISDIR', 'open', path);
    } else if (mode.truncate && target.size > 0) {
      target.truncate(++this.seq, 0);
    }
    let fd = FIRST_FD;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, { node: target, readable: mode.readable, writable: mode.writable, position: 0 });
    return fd;
  }

  closeSync(fd: number): void {
    this.open(fd, 'close');
    this.fds.delete(fd);
  }

  writeSync(fd: number, buf: Uint8Array, off: number, len: number, position: number | null): number {
    const f = this.open(fd, 'write');
    if (!f.writable || f.node.kind !== 'file') throw errnoError('EBADF', 'write');
    const file = f.node;
    const at = position ?? f.position;
    const growth = Math.max(0, at + len - file.size);
    if (growth > 0 && Number.isFinite(this.capacityBytes) && this.usedBytes + growth > this.capacityBytes)
      throw errnoError('ENOSPC', 'write');
    file.write(++this.seq, buf.subarray(off, off + len), at);
    // pwrite (a numeric position) leaves the file position alone, as on Linux.
    if (position === null) f.position = at + len;
    return len;
  }

  readSync(fd: number, buf: Uint8Array, off: number, len: number, position: number): number {
    const f = this.open(fd, 'read');
    if (f.node.kind === 'dir') throw errnoError('EISDIR', 'read');
    if (!f.readable) throw errnoError('EBADF', 'read');
    return f.node.read(buf, off, len, position);
  }

  ftruncateSync(fd: number, len: number): void {
    const f = this.open(fd, 'ftruncate');
    if (!f.writable || f.node.kind !== 'file') throw errnoError('EINVAL', 'ftruncate');
    f.node.truncate(++this.seq, len);
  }

  fstatSizeSync(fd: number): number {
    const f = this.open(fd, 'fstat');
    // Linux reports a directory's size as its block size.
    return f.node.kind === 'file' ? f.node.size : 4096;
  }

  fsyncSync(fd: number): void {
    const { node } = this.open(fd, 'fsync');
    if (node.kind === 'dir') node.sync();
    else node.syncUpTo(this.seq);
  }

  fdatasync(fd: number): Promise<void> {
    let node: MemoryNode;
    try {
      node = this.open(fd, 'fdatasync').node;
    } catch (err) {
      return Promise.reject(err);
    }
    this.syncCalls++;
    // What the call covers is what was written before it started.
    const upTo = this.seq;
    const fail = this.failSyncs > 0;
    if (fail) this.failSyncs--;
    return new Promise<void>((resolve, reject) => {
      this.schedule(() => {
        // After a power loss the caller is gone too: its sync neither lands nor fails.
        if (this.poweredOff) return;
        if (node.kind === 'dir') {
          if (fail) reject(errnoError('EIO', 'fdatasync'));
          else resolve(node.sync());
        } else if (fail) {
          node.dropUpTo(upTo);
          reject(errnoError('EIO', 'fdatasync'));
        } else {
          node.syncUpTo(upTo);
          resolve();
        }
      });
    });
  }

  existsSync(path: string): boolean {
    this.assertPowered('access', path);
    try {
      return this.locate(path, 'access').node !== undefined;
    } catch {
      return false;
    }
  }

  readFileSync(path: string): Buffer {
    const node = this.existing(path, 'open');
    if (node.kind === 'dir') throw errnoError('EISDIR', 'read');
    return node.content();
  }

  renameSync(from: string, to: string): void {
    const src = this.locate(from, 'rename');
    if (src.node === undefined) throw errnoError('ENOENT', 'rename', from);
    const dst = this.locate(to, 'rename');
    if (src.node === dst.node) return;
    if (src.node.kind === 'file' && dst.node?.kind === 'dir') throw errnoError('EISDIR', 'rename', to);
    if (src.node.kind === 'dir') {
      if (dst.node?.kind === 'file') throw errnoError('ENOTDIR', 'rename', to);
      if (dst.node !== undefined && dst.node.entries.size > 0) throw errnoError('ENOTEMPTY', 'rename', to);
      if (this.isWithin(dst.parent, src.node)) throw errnoError('EINVAL', 'rename', to);
    }
    dst.parent.entries.set(dst.name, src.node);
    src.parent.entries.delete(src.name);
  }

  unlinkSync(path: string): void {
    const { parent, name, node } = this.locate(path, 'unlink');
    if (node === undefined) throw errnoError('ENOENT', 'unlink', path);
    if (node.kind === 'dir') throw errnoError('EISDIR', 'unlink', path);
    parent.entries.delete(name);
  }

  readdirSync(path: string): string[] {
    const node = this.existing(path, 'scandir');
    if (node.kind !== 'dir') throw errnoError('ENOTDIR', 'scandir', path);
    return [...node.entries.keys()].sort();
  }

  /** Creates the directory and any missing parents, as nodeFs does ({ recursive: true }). */
  mkdirSync(path: string): void {
    this.assertPowered('mkdir', path);
    let dir = this.root;
    const names = components(path);
    names.forEach((name, i) => {
      const node = dir.entries.get(name);
      if (node === undefined) {
        const made = new DirNode();
        dir.entries.set(name, made);
        dir = made;
      } else if (node.kind === 'dir') {
        dir = node;
      } else {
        throw errnoError(i === names.length - 1 ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
      }
    });
  }

  /** Removes a file or a directory tree; a missing path is not an error, as nodeFs ({ force: true }). */
  rmSync(path: string): void {
    let found;
    try {
      found = this.locate(path, 'rm');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EIO') throw err;
      return;
    }
    if (found.node !== undefined) found.parent.entries.delete(found.name);
  }

  fsyncDirSync(path: string): void {
    const node = this.existing(path, 'open');
    if (node.kind === 'dir') node.sync();
    else node.syncUpTo(this.seq);
  }

  private open(fd: number, syscall: string): OpenFile {
    const f = this.fds.get(fd);
    if (f === undefined) throw errnoError('EBADF', syscall);
    return f;
  }

  private assertPowered(syscall: string, path: string): void {
    if (this.poweredOff) throw errnoError('EIO', syscall, path);
  }

  private existing(path: string, syscall: string): MemoryNode {
    if (components(path).length === 0) {
      this.assertPowered(syscall, path);
      return this.root;
    }
    const { node } = this.locate(path, syscall);
    if (node === undefined) throw errnoError('ENOENT', syscall, path);
    return node;
  }

  /** The parent directory of `path` (which must exist), the last name, and what it names if anything. */
  private locate(
    path: string,
    syscall: string,
  ): { parent: DirNode; name: string; node: MemoryNode | undefined } {
    this.assertPowered(syscall, path);
    const names = components(path);
    const name = names.pop();
    if (name === undefined) throw errnoError('EINVAL', syscall, path);
    let dir = this.root;
    for (const part of names) {
      const node = dir.child(part, syscall, path);
      if (node.kind !== 'dir') throw errnoError('ENOTDIR', syscall, path);
      dir = node;
    }
    return { parent: dir, name, node: dir.entries.get(name) };
  }

  /** Whether `dir` is `ancestor` or lies beneath it. */
  private isWithin(dir: DirNode, ancestor: DirNode): boolean {
    if (dir === ancestor) return true;
    for (const node of ancestor.entries.values())
      if (node.kind === 'dir' && this.isWithin(dir, node)) return true;
    return false;
  }
}

/** The names along an absolute path ('/a/b/../c' -> ['a', 'c']); a relative path starts at the root. */
function components(path: string): string[] {
  return posix
    .resolve('/', path)
    .split('/')
    .filter((part) => part !== '');
}
