// A StorageFs over the real one that injects disk faults: ENOSPC on chosen calls, or a crash at the
// k-th call that changes the disk, after which nothing more reaches the disk (as after a power cut:
// calls still return, their effects are dropped) so the test can close what it opened and reopen
// the directory as the next process would.

import { closeSync, openSync } from 'node:fs';
import { nodeFs, type StorageFs } from '../../storage/index.js';

export type MutatingCall =
  'open-write' | 'write' | 'truncate' | 'fsync' | 'rename' | 'unlink' | 'mkdir' | 'rm' | 'fsync-dir';

export class FaultyFs implements StorageFs {
  /** Mutating calls since the last crashAt(). */
  steps = 0;
  /** Set once the crash step was reached. */
  crashed = false;
  private crashStep = Infinity;
  private enospc: ((call: MutatingCall, path: string) => boolean) | null = null;
  private readonly paths = new Map<number, string>();
  private readonly dropped = new Set<number>();

  /** Fails every call for which `when` is true with ENOSPC, until heal(). */
  failWithEnospc(when: (call: MutatingCall, path: string) => boolean): void {
    this.enospc = when;
  }

  heal(): void {
    this.enospc = null;
  }

  /** The k-th mutating call from now (1-based) throws, and every later one is dropped. */
  crashAt(k: number): void {
    this.steps = 0;
    this.crashStep = k;
  }

  /** Throws for a faulty call; returns true when its effect must be dropped (after a crash). */
  private fault(call: MutatingCall, path: string): boolean {
    if (this.crashed) return true;
    if (this.enospc?.(call, path)) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, ${call} '${path}'`), {
        code: 'ENOSPC',
      });
    }
    if (++this.steps === this.crashStep) {
      this.crashed = true;
      throw new Error(`simulated crash at step ${this.steps}: ${call} '${path}'`);
    }
    return false;
  }

  openSync(path: string, flags: string): number {
    if (flags !== 'r' && this.fault('open-write', path)) {
      const fd = openSync('/dev/null', 'r+');
      this.dropped.add(fd);
      return fd;
    }
    const fd = nodeFs.openSync(path, flags);
    this.paths.set(fd, path);
    return fd;
  }
  closeSync(fd: number): void {
    this.paths.delete(fd);
    if (this.dropped.delete(fd)) closeSync(fd);
    else nodeFs.closeSync(fd);
  }
  writeSync(fd: number, buf: Uint8Array, off: number, len: number, position: number | null): number {
    if (this.fault('write', this.paths.get(fd) ?? '')) return len;
    return nodeFs.writeSync(fd, buf, off, len, position);
  }
  readSync(fd: number, buf: Uint8Array, off: number, len: number, position: number): number {
    return nodeFs.readSync(fd, buf, off, len, position);
  }
  ftruncateSync(fd: number, len: number): void {
    if (!this.fault('truncate', this.paths.get(fd) ?? '')) nodeFs.ftruncateSync(fd, len);
  }
  fstatSizeSync(fd: number): number {
    return nodeFs.fstatSizeSync(fd);
  }
  fsyncSync(fd: number): void {
    if (!this.fault('fsync', this.paths.get(fd) ?? '')) nodeFs.fsyncSync(fd);
  }
  fdatasync(fd: number): Promise<void> {
    try {
      if (this.fault('fsync', this.paths.get(fd) ?? '')) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return nodeFs.fdatasync(fd);
  }
  existsSync(path: string): boolean {
    return nodeFs.existsSync(path);
  }
  readFileSync(path: string): Buffer {
    return nodeFs.readFileSync(path);
  }
  renameSync(from: string, to: string): void {
    if (!this.fault('rename', from)) nodeFs.renameSync(from, to);
  }
  unlinkSync(path: string): void {
    if (!this.fault('unlink', path)) nodeFs.unlinkSync(path);
  }
  readdirSync(path: string): string[] {
    return nodeFs.readdirSync(path);
  }
  mkdirSync(path: string): void {
    if (!this.fault('mkdir', path)) nodeFs.mkdirSync(path);
  }
  rmSync(path: string): void {
    if (!this.fault('rm', path)) nodeFs.rmSync(path);
  }
  fsyncDirSync(path: string): void {
    if (!this.fault('fsync-dir', path)) nodeFs.fsyncDirSync(path);
  }
}
