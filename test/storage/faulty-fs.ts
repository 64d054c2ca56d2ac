// The real file system with faults injected where a test chooses, as a disk and a kernel produce
// them:
//   - fdatasync fails with EIO, and the kernel drops the pages it could not write: the file is cut
//     back to what the last successful fdatasync of that descriptor covered (the "fsyncgate"
//     behaviour: a later fdatasync succeeds, and the lost bytes are not on disk).
//   - fdatasync waits at a gate the test opens or fails, to stage races with its completion.
//   - writes, directory fsyncs or file creation fail with a chosen errno (ENOSPC, EROFS, EMFILE...).

import { nodeFs, type StorageFs } from '../../storage/index.js';

export function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: injected failure, ${syscall}`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  return err;
}

interface Gate {
  readonly opened: Promise<void>;
  open(): void;
  fail(code: string): void;
}

function newGate(): Gate {
  let open!: () => void;
  let fail!: (err: unknown) => void;
  const opened = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  opened.catch(() => undefined);
  return { opened, open, fail: (code) => fail(errnoError(code, 'fdatasync')) };
}

export class FaultyFs implements StorageFs {
  /** The next this-many fdatasync calls fail with EIO (dropping unsynced bytes). */
  failSyncs = 0;
  /** While set, writes fail with this errno. */
  writeError: string | null = null;
  /** While set, directory fsyncs fail with this errno. */
  dirSyncError: string | null = null;
  /** While set, opening a file fails with this errno. */
  openError: string | null = null;
  /** fdatasync calls started (whether they succeeded or not). */
  syncCalls = 0;
  private gate: Gate | null = null;
  private readonly syncedSize = new Map<number, number>();

  /**
   * Holds every fdatasync from now on until the returned gate is opened (they go on) or failed
   * (they fail with that errno); either ends the holding.
   */
  holdSyncs(): Gate {
    const gate = newGate();
    this.gate = gate;
    const release = (): void => {
      if (this.gate === gate) this.gate = null;
    };
    return {
      opened: gate.opened,
      open: () => (release(), gate.open()),
      fail: (code) => (release(), gate.fail(code)),
    };
  }

  /** Lets held fdatasyncs go on (a test's clean-up, so a broker can close after a failed assertion). */
  openHeld(): void {
    this.gate?.open();
    this.gate = null;
  }

  openSync(path: string, flags: string): number {
    if (this.openError !== null) throw errnoError(this.openError, 'open');
    const fd = nodeFs.openSync(path, flags);
    this.syncedSize.set(fd, nodeFs.fstatSizeSync(fd));
    return fd;
  }
  closeSync(fd: number): void {
    this.syncedSize.delete(fd);
    nodeFs.closeSync(fd);
  }
  writeSync(fd: number, buf: Uint8Array, off: number, len: number, position: number | null): number {
    if (this.writeError !== null) throw errnoError(this.writeError, 'write');
    return nodeFs.writeSync(fd, buf, off, len, position);
  }
  readSync(fd: number, buf: Uint8Array, off: number, len: number, position: number): number {
    return nodeFs.readSync(fd, buf, off, len, position);
  }
  ftruncateSync(fd: number, len: number): void {
    nodeFs.ftruncateSync(fd, len);
  }
  fstatSizeSync(fd: number): number {
    return nodeFs.fstatSizeSync(fd);
  }
  fsyncSync(fd: number): void {
    nodeFs.fsyncSync(fd);
  }
  async fdatasync(fd: number): Promise<void> {
    this.syncCalls++;
    // What this call covers is what was written when it started.
    const size = nodeFs.fstatSizeSync(fd);
    const gate = this.gate;
    if (gate !== null) {
      try {
        await gate.opened;
      } catch (err) {
        this.dropUnsynced(fd);
        throw err;
      }
    }
    if (this.failSyncs > 0) {
      this.failSyncs--;
      this.dropUnsynced(fd);
      throw errnoError('EIO', 'fdatasync');
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
    nodeFs.renameSync(from, to);
  }
  unlinkSync(path: string): void {
    nodeFs.unlinkSync(path);
  }
  readdirSync(path: string): string[] {
    return nodeFs.readdirSync(path);
  }
  mkdirSync(path: string): void {
    nodeFs.mkdirSync(path);
  }
  rmSync(path: string): void {
    nodeFs.rmSync(path);
  }
  fsyncDirSync(path: string): void {
    if (this.dirSyncError !== null) throw errnoError(this.dirSyncError, 'fsync');
    nodeFs.fsyncDirSync(path);
  }

  /** The kernel marks the pages it failed to write clean and forgets them. */
  private dropUnsynced(fd: number): void {
    const synced = this.syncedSize.get(fd);
    if (synced !== undefined && nodeFs.fstatSizeSync(fd) > synced) nodeFs.ftruncateSync(fd, synced);
  }
}
