// A file of fixed-size entries kept whole in memory: the shared mechanism under the offset index
// and the time index.
//
// Why in memory and written lazily: Node cannot mmap, and a syscall per index entry would sit on
// the append path. Entries are appended to a memory buffer and written to the file only by
// flush() (before its fsync) and close(). That is safe because indexes are never the source of
// truth: every segment past the recovery point has its indexes rebuilt from the log after an
// unclean stop, and the recovery point only moves past a segment after flush() has written and
// synced its indexes. Closed segments load their index on first use, not at start-up.
//
// A new segment creates its index files empty (reset()), so they are listed with its log from the
// start; entries are only ever added at the end or cut whole (truncateToEntries), so a reader from
// outside sees whole entries, a prefix of those in memory.

import assert from 'node:assert/strict';
import type { StorageFs } from './fs.js';

const INITIAL_CAPACITY_BYTES = 4096;

export class IndexFile {
  readonly path: string;
  readonly entrySize: number;
  readonly maxEntries: number;
  private readonly fs: StorageFs;
  private buf: Buffer;
  private count = 0;
  /** Entries [0, persisted) are in the file; the rest only in memory. */
  private persisted = 0;
  private loaded: boolean;
  /** Set by delete(): a late flush must not bring the file back. */
  private deleted = false;
  private loadedFileBytes = 0;

  /** `exists`: the file is on disk and is loaded on first use; otherwise the index starts empty. */
  constructor(fs: StorageFs, path: string, entrySize: number, maxBytes: number, exists: boolean) {
    assert.ok(entrySize > 0 && maxBytes >= entrySize);
    this.fs = fs;
    this.path = path;
    this.entrySize = entrySize;
    this.maxEntries = Math.floor(maxBytes / entrySize);
    this.buf = Buffer.alloc(
      Math.min(INITIAL_CAPACITY_BYTES - (INITIAL_CAPACITY_BYTES % entrySize), this.maxEntries * entrySize),
    );
    this.loaded = !exists;
  }

  /** The entries as one buffer (entry i at i * entrySize); valid until the next append. */
  data(): Buffer {
    this.ensureLoaded();
    return this.buf;
  }

  /** Size of the file as loaded; differs from entries * entrySize when the file was torn. */
  get fileBytes(): number {
    this.ensureLoaded();
    return this.loadedFileBytes;
  }

  get entries(): number {
    this.ensureLoaded();
    return this.count;
  }

  get isFull(): boolean {
    return this.entries >= this.maxEntries;
  }

  /** Returns a buffer positioned for the next entry; the caller writes entrySize bytes at `offset`. */
  appendSlot(): { buf: Buffer; offset: number } {
    this.ensureLoaded();
    assert.ok(this.count < this.maxEntries, 'index is full');
    const needed = (this.count + 1) * this.entrySize;
    if (needed > this.buf.length) {
      const grown = Buffer.alloc(
        Math.min(Math.max(needed, this.buf.length * 2), this.maxEntries * this.entrySize),
      );
      this.buf.copy(grown, 0, 0, this.count * this.entrySize);
      this.buf = grown;
    }
    const offset = this.count * this.entrySize;
    this.count++;
    return { buf: this.buf, offset };
  }

  /** Keeps the first `n` entries. */
  truncateToEntries(n: number): void {
    this.ensureLoaded();
    assert.ok(n >= 0 && n <= this.count);
    this.count = n;
    if (this.persisted > n) {
      const fd = this.fs.openSync(this.path, 'r+');
      try {
        this.fs.ftruncateSync(fd, n * this.entrySize);
      } finally {
        this.fs.closeSync(fd);
      }
      this.persisted = n;
    }
  }

  /** Drops every entry, in memory and on disk (used before a rebuild). */
  reset(): void {
    this.loadedFileBytes = 0;
    this.count = 0;
    this.persisted = 0;
    this.loaded = true;
    const fd = this.fs.openSync(this.path, 'w');
    this.fs.closeSync(fd);
  }

  /** Writes the entries not yet on disk and fsyncs the file. */
  async flush(): Promise<void> {
    this.writeOut();
    if (!this.loaded || this.deleted || !this.fs.existsSync(this.path)) return;
    const fd = this.fs.openSync(this.path, 'r');
    try {
      await this.fs.fdatasync(fd);
    } finally {
      this.fs.closeSync(fd);
    }
  }

  /** Writes the entries not yet on disk without fsync (close, roll). */
  writeOut(): void {
    if (!this.loaded || this.deleted) return;
    const fd = this.fs.openSync(this.path, this.fs.existsSync(this.path) ? 'r+' : 'w+');
    try {
      this.writePending(fd);
    } finally {
      this.fs.closeSync(fd);
    }
  }

  /** Renames the file (compaction's .cleaned -> .swap -> live steps). */
  rename(to: string): void {
    if (this.fs.existsSync(this.path)) this.fs.renameSync(this.path, to);
    (this as { path: string }).path = to;
  }

  delete(): void {
    this.deleted = true;
    if (this.fs.existsSync(this.path)) this.fs.unlinkSync(this.path);
    this.count = 0;
    this.persisted = 0;
  }

  private writePending(fd: number): void {
    if (this.persisted === this.count) return;
    const start = this.persisted * this.entrySize;
    const end = this.count * this.entrySize;
    let pos = start;
    while (pos < end) pos += this.fs.writeSync(fd, this.buf, pos, end - pos, pos);
    this.persisted = this.count;
  }

  private ensureLoaded(): void {
    if (this.loaded) return;
    this.loaded = true;
    const bytes = this.fs.existsSync(this.path) ? this.fs.readFileSync(this.path) : Buffer.alloc(0);
    // A torn index (not a whole number of entries) is cut to whole entries; the segment's
    // sanity check then decides whether to rebuild it.
    const whole = Math.min(Math.floor(bytes.length / this.entrySize), this.maxEntries);
    this.buf = Buffer.alloc(
      Math.max(whole * this.entrySize, INITIAL_CAPACITY_BYTES - (INITIAL_CAPACITY_BYTES % this.entrySize)),
    );
    bytes.copy(this.buf, 0, 0, whole * this.entrySize);
    this.count = whole;
    this.persisted = bytes.length === whole * this.entrySize ? whole : 0;
    this.loadedFileBytes = bytes.length;
  }
}
