// The real file system with faults injected where a test chooses, as disks and kernels produce them:
//   - a call fails with an errno (ENOSPC on chosen calls; EIO or EROFS on writes; EIO on directory
//     fsyncs), until healed;
//   - fdatasync fails with EIO, and the kernel drops the pages it could not write: the file is cut
//     back to what the last successful fdatasync of that descriptor covered (the "fsyncgate"
//     behaviour: a later fdatasync succeeds, and the lost bytes are not on disk);
//   - fdatasync waits at a gate the test opens or fails, to stage races with its completion;
//   - a crash at the k-th call that changes the disk, after which nothing more reaches the disk (as
//     after a power cut: calls still return, their effects are dropped), so the test can close what
//     it opened and reopen the directory as the next process would.

import { closeSync, openSync } from 'node:fs';
import { nodeFs, type StorageFs } from '../../storage/index.js';

export type MutatingCall =
  'open-write' | 'write' | 'truncate' | 'fsync' | 'rename' | 'unlink' | 'mkdir' | 'rm' | 'fsync-dir';

export function errnoError(code: string, syscall: string, path = ''): NodeJS.ErrnoException {
  const err = new Error(`${code}: injected failure, ${syscall} '${path}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  return err;
}

export interface SyncGate {
  /** The held fdatasyncs go on. */
  open(): void;
  /** The held fdatasyncs fail with `code`, dropping what they did not write. */
  fail(code: string): void;
}

export class FaultyFs implements StorageFs {
  /** Mutating calls since the last crashAt(). */
  steps = 0;
  /** Set once the crash step was reached. */
  crashed = false;
  /** The next this-many fdatasync calls fail with EIO (dropping unsynced bytes). */
  failSyncs = 0;
  /** While set, writes fail with this errno. */
  writeError: string | null = null;
  /**
   * When set, the next write is cut short (half of it reaches the file) and every write after it
   * fails with this errno, as a disk filling up mid-write does.
   */
  shortWriteThenFail: string | null = null;
  /** While set, opening a file for writing fails with this errno (EMFILE: out of descriptors). */
  openError: string | null = null;
  /** While set, ftruncate fails with this errno. */
  truncateError: string | null = null;
  /** While set, directory fsyncs fail with this errno. */
  dirSyncError: string | null = null;
  /** fdatasync calls started (whether they succeeded or not). */
  syncCalls = 0;
  private crashStep = Infinity;
  private enospc: ((call: MutatingCall, path: string) => boolean) | null = null;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  private readonly paths = new Map<number, string>();
  private readonly dropped = new Set<number>();
  private readonly syncedSize = new Map<number, number>();

  /** Fails every call for which `when` is true with ENOSPC, until heal(). */
  failWithEnospc(when: (call: MutatingCall, path: string) => boolean): void {
    this.enospc = when;
  }

  heal(): void {
    this.enospc = null;
    this.writeError = null;
    this.dirSyncError = null;
    this.truncateError = null;
    this.openError = null;
  }

  /** The k-th mutating call from now (1-based) throws, and every later one is dropped. */
  crashAt(k: number): void {
    this.steps = 0;
    this.crashStep = k;
  }

  /** Holds every fdatasync from now on until the returned gate is opened or failed; either ends it. */
  holdSyncs(): SyncGate {
    let open!: () => void;
    let fail!: (err: unknown) => void;
    const gate = new Promise<void>((resolve, reject) => {
      open = resolve;
      fail = reject;
    });
    gate.catch(() => undefined);
    this.gate = gate;
    this.openGate = open;
    const release = (): void => {
      if (this.gate === gate) {
        this.gate = null;
        this.openGate = null;
      }
    };
    return {
      open: () => (release(), open()),
      fail: (code) => (release(), fail(errnoError(code, 'fdatasync'))),
    };
  }

  /** Lets held fdatasyncs go on (a test's clean-up, so a broker can close after a failed assertion). */
  openHeld(): void {
    this.openGate?.();
    this.gate = null;
    this.openGate = null;
  }

  /** Throws for a faulty call; returns true when its effect must be dropped (after a crash). */
  private fault(call: MutatingCall, path: string): boolean {
    if (this.crashed) return true;
    const code = this.injected(call, path);
    if (code !== null) throw errnoError(code, call, path);
    if (++this.steps === this.crashStep) {
      this.crashed = true;
      throw new Error(`simulated crash at step ${this.steps}: ${call} '${path}'`);
    }
    return false;
  }

  private injected(call: MutatingCall, path: string): string | null {
    if (this.enospc?.(call, path)) return 'ENOSPC';
    if (call === 'write') return this.writeError;
    if (call === 'fsync-dir') return this.dirSyncError;
    if (call === 'truncate') return this.truncateError;
    if (call === 'open-write') return this.openError;
    return null;
  }

  openSync(path: string, flags: string): number {
    if (flags !== 'r' && this.fault('open-write', path)) {
      const fd = openSync('/dev/null', 'r+');
      this.dropped.add(fd);
      return fd;
    }
    const fd = nodeFs.openSync(path, flags);
    this.paths.set(fd, path);
    this.syncedSize.set(fd, nodeFs.fstatSizeSync(fd));
    return fd;
  }
  closeSync(fd: number): void {
    this.paths.delete(fd);
    this.syncedSize.delete(fd);
    if (this.dropped.delete(fd)) closeSync(fd);
    else nodeFs.closeSync(fd);
  }
  writeSync(fd: number, buf: Uint8Array, off: number, len: number, position: number | null): number {
    if (this.fault('write', this.paths.get(fd) ?? '')) return len;
    if (this.shortWriteThenFail !== null && len > 1) {
      this.writeError = this.shortWriteThenFail;
      this.shortWriteThenFail = null;
      return nodeFs.writeSync(fd, buf, off, len >> 1, position);
    }
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
  async fdatasync(fd: number): Promise<void> {
    this.syncCalls++;
    if (this.fault('fsync', this.paths.get(fd) ?? '')) return;
    // What this call covers is what was written when it started.
    const size = nodeFs.fstatSizeSync(fd);
    if (this.gate !== null) {
      try {
        await this.gate;
      } catch (err) {
        this.dropUnsynced(fd);
        throw err;
      }
    }
    if (this.failSyncs > 0) {
      this.failSyncs--;
      this.dropUnsynced(fd);
      throw errnoError('EIO', 'fdatasync', this.paths.get(fd));
    }
    await nodeFs.fdatasync(fd);
    this.syncedSize.set(fd, Math.max(this.syncedSize.get(fd) ?? 0, size));
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

  /** The kernel marks the pages it failed to write clean and forgets them. */
  private dropUnsynced(fd: number): void {
    const synced = this.syncedSize.get(fd);
    if (synced !== undefined && nodeFs.fstatSizeSync(fd) > synced) nodeFs.ftruncateSync(fd, synced);
  }
}
