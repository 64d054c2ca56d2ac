// The inodes of MemoryFs (memory-fs.ts): files and directories, each holding what a reader sees now
// (volatile) beside what would survive a power loss (durable).
//
// A file keeps its durable bytes and a journal of the writes and truncations made since, in order.
// A sync makes a prefix of the journal durable: the operations made before the sync started. A
// crash keeps a random prefix of the journal, whose last write may be torn (see crashContent).
// A directory keeps its current entries and the entries as of its last directory fsync.

import { errnoError } from './errno.js';

/** One change to a file's bytes since its last sync; `seq` orders changes across the whole disk. */
export type FileOp =
  | { readonly kind: 'write'; readonly seq: number; readonly position: number; readonly bytes: Buffer }
  | { readonly kind: 'truncate'; readonly seq: number; readonly length: number };

export class FileNode {
  readonly kind = 'file';
  /** The file's bytes as a reader sees them: data[0, size). */
  private data: Buffer;
  size: number;
  /** The bytes as of the last completed sync. */
  private durable: Buffer;
  /** Changes made after `durable`, oldest first. */
  private journal: FileOp[] = [];

  constructor(content: Buffer = Buffer.alloc(0)) {
    this.data = Buffer.from(content);
    this.size = content.length;
    this.durable = Buffer.from(content);
  }

  /** A copy of the current bytes. */
  content(): Buffer {
    return Buffer.from(this.data.subarray(0, this.size));
  }

  write(seq: number, src: Uint8Array, position: number): void {
    const bytes = Buffer.from(src);
    this.writeVolatile(bytes, position);
    this.journal.push({ kind: 'write', seq, position, bytes });
  }

  truncate(seq: number, length: number): void {
    this.truncateVolatile(length);
    this.journal.push({ kind: 'truncate', seq, length });
  }

  read(dst: Uint8Array, off: number, len: number, position: number): number {
    if (position >= this.size) return 0;
    const n = Math.min(len, this.size - position);
    this.data.copy(dst, off, position, position + n);
    return n;
  }

  /** The changes numbered up to `seq` are on the device now. */
  syncUpTo(seq: number): void {
    const covered = this.coveredBy(seq);
    if (covered === 0) return;
    this.durable =
      covered === this.journal.length
        ? this.content()
        : applyOps(this.durable, this.journal.slice(0, covered));
    this.journal = this.journal.slice(covered);
  }

  /**
   * A sync of the changes up to `seq` failed: as Linux does, the kernel marks the pages it could
   * not write clean and forgets them, so the file reads as if those changes had never been made
   * (later ones stay) and a later sync succeeds without them.
   */
  dropUpTo(seq: number): void {
    const covered = this.coveredBy(seq);
    if (covered === 0) return;
    this.journal = this.journal.slice(covered);
    const rebuilt = applyOps(this.durable, this.journal);
    this.data = rebuilt;
    this.size = rebuilt.length;
  }

  /**
   * The bytes after a power loss: the durable bytes plus a random prefix of the journal (the disk
   * wrote the page cache back in order, and the power went in the middle), the last write of which
   * is torn in half the cases (a random prefix of its bytes reached the device). The model does not
   * reorder writes within a file: that is a stronger disk than some, which a later step may relax.
   */
  crashContent(rand: () => number): Buffer {
    const kept = Math.floor(rand() * (this.journal.length + 1));
    const ops = this.journal.slice(0, kept);
    const last = ops[ops.length - 1];
    if (last !== undefined && last.kind === 'write' && rand() < 0.5) {
      const keep = Math.floor(rand() * last.bytes.length);
      ops[ops.length - 1] = { ...last, bytes: last.bytes.subarray(0, keep) };
    }
    return applyOps(this.durable, ops);
  }

  private coveredBy(seq: number): number {
    let n = 0;
    while (n < this.journal.length && (this.journal[n] as FileOp).seq <= seq) n++;
    return n;
  }

  private writeVolatile(bytes: Buffer, position: number): void {
    const end = position + bytes.length;
    if (end > this.data.length) {
      const grown = Buffer.alloc(Math.max(end, this.data.length * 2, 64));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    }
    // A write past the end leaves a hole that reads as zeros; the buffer's spare room may hold
    // bytes from before a truncation, so it is cleared first.
    if (position > this.size) this.data.fill(0, this.size, position);
    bytes.copy(this.data, position);
    this.size = Math.max(this.size, end);
  }

  private truncateVolatile(length: number): void {
    if (length > this.size) {
      if (length > this.data.length) {
        const grown = Buffer.alloc(length);
        this.data.copy(grown, 0, 0, this.size);
        this.data = grown;
      } else {
        this.data.fill(0, this.size, length);
      }
    }
    this.size = length;
  }
}

/** `base` with `ops` applied in order, as a new buffer. */
function applyOps(base: Buffer, ops: readonly FileOp[]): Buffer {
  const file = new FileNode(base);
  for (const op of ops) {
    if (op.kind === 'write') file.write(op.seq, op.bytes, op.position);
    else file.truncate(op.seq, op.length);
  }
  return file.content();
}

export class DirNode {
  readonly kind = 'dir';
  /** The entries a lookup sees. */
  readonly entries = new Map<string, MemoryNode>();
  /** The entries as of the last fsync of this directory: what a crash leaves. */
  durable = new Map<string, MemoryNode>();

  sync(): void {
    this.durable = new Map(this.entries);
  }

  child(name: string, syscall: string, path: string): MemoryNode {
    const node = this.entries.get(name);
    if (node === undefined) throw errnoError('ENOENT', syscall, path);
    return node;
  }
}

export type MemoryNode = FileNode | DirNode;

/**
 * The tree a power loss leaves of `dir`: the durable entries of every directory, down from a
 * directory whose own entry survived, and every file's crash content. A file reached under two
 * names (a rename between directories synced on one side only) gets one content, copied per name.
 * Directories and files are visited in name order, so the same random source gives the same tree.
 */
export function crashTree(dir: DirNode, rand: () => number, seen = new Map<FileNode, Buffer>()): DirNode {
  const out = new DirNode();
  for (const name of [...dir.durable.keys()].sort()) {
    const node = dir.durable.get(name) as MemoryNode;
    if (node.kind === 'dir') {
      out.entries.set(name, crashTree(node, rand, seen));
      continue;
    }
    let content = seen.get(node);
    if (content === undefined) {
      content = node.crashContent(rand);
      seen.set(node, content);
    }
    out.entries.set(name, new FileNode(content));
  }
  out.sync();
  return out;
}
