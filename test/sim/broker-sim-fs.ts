// One broker process's view of its disk in the broker simulation. The disk (a MemoryFs) outlives
// the process: a process crash keeps everything written (the kernel still holds the page cache),
// but the process itself is gone. So when a simulated process dies, its view is killed: its
// descriptors are closed, any later call from code of the dead process fails with EIO, and an
// fdatasync it started still lands on the disk but never answers it (nobody is left to hear). A
// restarted process opens a new view of the same disk; nothing the dead one left running (a
// flush's continuation writing a checkpoint, say) can touch the files the new one uses.

import type { StorageFs } from '../../storage/index.js';
import { errnoError } from './errno.js';
import type { MemoryFs } from './memory-fs.js';

export class ProcessFs implements StorageFs {
  private dead = false;
  private readonly fds = new Set<number>();

  constructor(private readonly disk: MemoryFs) {}

  /** The process died: its descriptors close, and its code is answered with EIO from now on. */
  kill(): void {
    this.dead = true;
    for (const fd of this.fds) {
      try {
        this.disk.closeSync(fd);
      } catch {
        // After a power loss the disk has closed them itself.
      }
    }
    this.fds.clear();
  }

  openSync(path: string, flags: string): number {
    this.live('open', path);
    const fd = this.disk.openSync(path, flags);
    this.fds.add(fd);
    return fd;
  }

  closeSync(fd: number): void {
    this.live('close');
    this.disk.closeSync(fd);
    this.fds.delete(fd);
  }

  writeSync(fd: number, buf: Uint8Array, off: number, len: number, position: number | null): number {
    this.live('write');
    return this.disk.writeSync(fd, buf, off, len, position);
  }

  readSync(fd: number, buf: Uint8Array, off: number, len: number, position: number): number {
    this.live('read');
    return this.disk.readSync(fd, buf, off, len, position);
  }

  ftruncateSync(fd: number, len: number): void {
    this.live('ftruncate');
    this.disk.ftruncateSync(fd, len);
  }

  fstatSizeSync(fd: number): number {
    this.live('fstat');
    return this.disk.fstatSizeSync(fd);
  }

  fsyncSync(fd: number): void {
    this.live('fsync');
    this.disk.fsyncSync(fd);
  }

  fdatasync(fd: number): Promise<void> {
    if (this.dead) return Promise.reject(errnoError('EIO', 'fdatasync'));
    const sync = this.disk.fdatasync(fd);
    return new Promise<void>((resolve, reject) => {
      sync.then(
        () => {
          if (!this.dead) resolve();
        },
        (err: unknown) => {
          if (!this.dead) reject(err as Error);
        },
      );
    });
  }

  existsSync(path: string): boolean {
    this.live('access', path);
    return this.disk.existsSync(path);
  }

  readFileSync(path: string): Buffer {
    this.live('open', path);
    return this.disk.readFileSync(path);
  }

  renameSync(from: string, to: string): void {
    this.live('rename', from);
    this.disk.renameSync(from, to);
  }

  unlinkSync(path: string): void {
    this.live('unlink', path);
    this.disk.unlinkSync(path);
  }

  readdirSync(path: string): string[] {
    this.live('scandir', path);
    return this.disk.readdirSync(path);
  }

  mkdirSync(path: string): void {
    this.live('mkdir', path);
    this.disk.mkdirSync(path);
  }

  rmSync(path: string): void {
    this.live('rm', path);
    this.disk.rmSync(path);
  }

  fsyncDirSync(path: string): void {
    this.live('open', path);
    this.disk.fsyncDirSync(path);
  }

  private live(syscall: string, path?: string): void {
    if (this.dead) throw errnoError('EIO', syscall, path);
  }
}
