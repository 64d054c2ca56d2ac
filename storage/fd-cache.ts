// Descriptors of segment `.log` files, shared by every log of a data directory, with at most
// `capacity` of them open for closed segments: the least recently used is closed first.
//
// Why: a closed (rolled) segment is read rarely (a consumer catching up, compaction, a time lookup,
// its one fsync after the roll), yet a broker with thousands of partitions and segments that kept
// one descriptor per segment would reach RLIMIT_NOFILE, after which every open fails: new
// segments, sockets, metadata writes. The active segment of each log is pinned instead: it keeps
// its descriptor outside the LRU order, so appends and reads at the tail never open a file.
//
// A descriptor in use (a read or scan, or an fdatasync waiting on the device) is busy and is never
// closed under its user: closing it mid-fdatasync would let the next open reuse its number, and
// the sync would land on another file. Eviction skips busy entries, so the cache may run over its
// capacity while many are busy; it shrinks back as they are released. A descriptor stays valid
// across a rename (compaction's `.cleaned` -> `.swap` -> live); `path` is where the next open goes.
//
// A rolled segment's descriptor is held (busy) until the fsync that follows the roll, within half
// the capacity: the write-back error an fsync must report is kept on the inode, which the kernel
// may evict (and the error with it) once no descriptor is open and no page is dirty. Past that
// half, a burst of rolls lets the descriptor go rather than pass the bound: since Linux 4.16 a
// descriptor opened later still sees an error no fsync has reported, while the inode stays.

import assert from 'node:assert/strict';
import type { StorageFs } from './fs.js';
import { toStorageError } from './storage-error.js';

/** One file the cache may hold a descriptor for; owned by a segment. */
export class CachedFile {
  path: string;
  /** The open descriptor, or -1. */
  fd = -1;
  /** Uses in progress; a busy descriptor is never closed. */
  busy = 0;
  /** Held open outside the LRU order (the active segment). */
  pinned = false;
  /** close() was called: the descriptor goes when the last use ends, and is never opened again. */
  closed = false;
  /** Neighbours in the LRU list, most recent toward `newer`. */
  newer: CachedFile | null = null;
  older: CachedFile | null = null;
  listed = false;

  constructor(path: string) {
    this.path = path;
  }
}

const NOTHING_HELD = (): void => undefined;

export class FdCache {
  readonly capacity: number;
  private readonly fs: StorageFs;
  /** Most and least recently used unpinned open files. */
  private newest: CachedFile | null = null;
  private oldest: CachedFile | null = null;
  private listedCount = 0;
  /** Descriptors held by holdUntilSynced. */
  private held = 0;

  constructor(fs: StorageFs, capacity: number) {
    assert.ok(capacity >= 1, 'an fd cache holds at least one descriptor');
    this.fs = fs;
    this.capacity = capacity;
  }

  /** Descriptors open for unpinned files (closed segments). */
  get openCount(): number {
    return this.listedCount;
  }

  /** A file with no descriptor yet; it is opened by the first acquire(). */
  file(path: string): CachedFile {
    return new CachedFile(path);
  }

  /** Opens `path` with `flags` (creating it, for a new active segment) and keeps it pinned. */
  openPinned(path: string, flags: string): CachedFile {
    const f = new CachedFile(path);
    f.fd = this.openFd(path, flags);
    f.pinned = true;
    return f;
  }

  /** The file's descriptor, opened if need be; it stays open until release(). */
  acquire(f: CachedFile): number {
    assert.ok(!f.closed, 'acquire of a closed file');
    if (!f.pinned) {
      if (f.fd < 0) this.open(f);
      else this.unlink(f);
      this.pushNewest(f);
    }
    f.busy++;
    return f.fd;
  }

  release(f: CachedFile): void {
    assert.ok(f.busy > 0, 'release without acquire');
    f.busy--;
    if (f.busy > 0) return;
    if (f.closed) this.closeFd(f);
    else if (this.listedCount > this.capacity) this.trim(this.capacity);
  }

  /** Keeps the file open outside the LRU order (it became the active segment). */
  pin(f: CachedFile): void {
    assert.ok(!f.closed, 'pin of a closed file');
    if (f.pinned) return;
    if (f.fd < 0) this.open(f);
    else this.unlink(f);
    f.pinned = true;
  }

  /** Hands a pinned file's descriptor to the LRU order, as its most recent entry. */
  unpin(f: CachedFile): void {
    if (!f.pinned || f.closed) return;
    f.pinned = false;
    this.pushNewest(f);
    this.trim(this.capacity);
  }

  /**
   * Keeps `f`'s descriptor open until the returned function is called, if fewer than half the
   * capacity are held so; otherwise holds nothing (see the top of the file).
   */
  holdUntilSynced(f: CachedFile): () => void {
    if (this.held >= this.capacity / 2) return NOTHING_HELD;
    this.acquire(f);
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      this.release(f);
    };
  }

  /** The file's descriptor is closed now, or when its last use ends. */
  close(f: CachedFile): void {
    if (f.closed) return;
    f.closed = true;
    if (f.listed) this.unlink(f);
    if (f.busy === 0) this.closeFd(f);
  }

  /** Closes idle unpinned descriptors, oldest first, until at most `keep` are open. */
  trim(keep: number): number {
    let closed = 0;
    let f = this.oldest;
    while (f !== null && this.listedCount > keep) {
      const next = f.newer;
      if (f.busy === 0) {
        this.unlink(f);
        this.closeFd(f);
        closed++;
      }
      f = next;
    }
    return closed;
  }

  private open(f: CachedFile): void {
    // Room first, so the cache itself never pushes the process past its budget.
    if (this.listedCount >= this.capacity) this.trim(this.capacity - 1);
    f.fd = this.openFd(f.path, 'r+');
  }

  private openFd(path: string, flags: string): number {
    try {
      return this.fs.openSync(path, flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EMFILE' && code !== 'ENFILE') throw err;
      // Out of descriptors elsewhere in the process: give back every idle one and try once more.
      if (this.trim(0) > 0) {
        try {
          return this.fs.openSync(path, flags);
        } catch {
          // reported below, as the first failure
        }
      }
      throw toStorageError(err, `out of file descriptors opening ${path}`);
    }
  }

  private closeFd(f: CachedFile): void {
    if (f.fd < 0) return;
    const fd = f.fd;
    f.fd = -1;
    this.fs.closeSync(fd);
  }

  private pushNewest(f: CachedFile): void {
    f.older = this.newest;
    f.newer = null;
    if (this.newest !== null) this.newest.newer = f;
    this.newest = f;
    if (this.oldest === null) this.oldest = f;
    f.listed = true;
    this.listedCount++;
  }

  private unlink(f: CachedFile): void {
    if (!f.listed) return;
    if (f.newer !== null) f.newer.older = f.older;
    else this.newest = f.older;
    if (f.older !== null) f.older.newer = f.newer;
    else this.oldest = f.newer;
    f.newer = null;
    f.older = null;
    f.listed = false;
    this.listedCount--;
  }
}
