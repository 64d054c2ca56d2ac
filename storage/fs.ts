// The file system comes in through this interface (STYLE 10), so storage can run on a simulated
// disk that loses unsynced writes. The real one is node:fs. Writes and reads are synchronous: they
// go to the page cache and take microseconds, which costs less than a round trip through libuv's
// thread pool. fsync is asynchronous because it waits on the device and must not stall the event loop.

import * as fs from 'node:fs';

export interface StorageFs {
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  writeSync(fd: number, buf: Uint8Array, off: number, len: number, position: number | null): number;
  readSync(fd: number, buf: Uint8Array, off: number, len: number, position: number): number;
  ftruncateSync(fd: number, len: number): void;
  fstatSizeSync(fd: number): number;
  fsyncSync(fd: number): void;
  fdatasync(fd: number): Promise<void>;
  existsSync(path: string): boolean;
  readFileSync(path: string): Buffer;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  readdirSync(path: string): string[];
  mkdirSync(path: string): void;
  rmSync(path: string): void;
  /** fsync of a directory, so a rename or create in it survives a power loss. */
  fsyncDirSync(path: string): void;
}

export const nodeFs: StorageFs = {
  openSync: (path, flags) => fs.openSync(path, flags),
  closeSync: (fd) => fs.closeSync(fd),
  writeSync: (fd, buf, off, len, position) => fs.writeSync(fd, buf, off, len, position),
  readSync: (fd, buf, off, len, position) => fs.readSync(fd, buf, off, len, position),
  ftruncateSync: (fd, len) => fs.ftruncateSync(fd, len),
  fstatSizeSync: (fd) => fs.fstatSync(fd).size,
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fdatasync: (fd) =>
    new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
  existsSync: (path) => fs.existsSync(path),
  readFileSync: (path) => fs.readFileSync(path),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  readdirSync: (path) => fs.readdirSync(path),
  mkdirSync: (path) => void fs.mkdirSync(path, { recursive: true }),
  rmSync: (path) => fs.rmSync(path, { recursive: true, force: true }),
  fsyncDirSync(path) {
    const fd = fs.openSync(path, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
};
