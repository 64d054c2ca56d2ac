// Sparse offset index of one segment: `<base>.index`.
//
//  entry (8 bytes): int32 relativeOffset | int32 position
//
// relativeOffset is a batch's base offset minus the segment's base offset, position the byte
// position of that batch in the `.log` file. One entry is added per index.interval.bytes of log
// data, so the index stays small (a 1 GiB segment: 2 MiB). Both columns strictly increase, which
// lets lookup binary-search for the greatest entry at or below a target and the log be scanned
// forward from there. Relative offsets keep entries at 8 bytes; a segment rolls before a relative
// offset would overflow int32.

import assert from 'node:assert/strict';
import type { StorageFs } from './fs.js';
import { IndexFile } from './index-file.js';

export const OFFSET_INDEX_ENTRY_SIZE = 8;
export const OFFSET_INDEX_SUFFIX = '.index';

export class OffsetIndex {
  readonly file: IndexFile;

  constructor(fs: StorageFs, path: string, maxBytes: number, exists: boolean) {
    this.file = new IndexFile(fs, path, OFFSET_INDEX_ENTRY_SIZE, maxBytes, exists);
  }

  get entries(): number {
    return this.file.entries;
  }

  get isFull(): boolean {
    return this.file.isFull;
  }

  relativeOffsetAt(i: number): number {
    return this.file.data().readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE);
  }

  positionAt(i: number): number {
    return this.file.data().readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE + 4);
  }

  append(relativeOffset: number, position: number): void {
    const n = this.file.entries;
    if (n > 0) {
      assert.ok(relativeOffset > this.relativeOffsetAt(n - 1), 'offset index offsets must increase');
      assert.ok(position > this.positionAt(n - 1), 'offset index positions must increase');
    }
    const slot = this.file.appendSlot();
    slot.buf.writeInt32BE(relativeOffset, slot.offset);
    slot.buf.writeInt32BE(position, slot.offset + 4);
  }

  /** Index of the greatest entry whose relative offset is <= target, or -1. */
  floorEntry(targetRelative: number): number {
    let lo = 0;
    let hi = this.file.entries - 1;
    let found = -1;
    const data = this.file.data();
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (data.readInt32BE(mid * OFFSET_INDEX_ENTRY_SIZE) <= targetRelative) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Byte position to start scanning from for a target relative offset (0 = segment start). */
  lookup(targetRelative: number): number {
    const i = this.floorEntry(targetRelative);
    return i < 0 ? 0 : this.positionAt(i);
  }

  /** Drops entries at or above `relativeOffset` (used when the log is truncated). */
  truncateFrom(relativeOffset: number): void {
    this.file.truncateToEntries(this.floorEntry(relativeOffset - 1) + 1);
  }

  /** Why the index disagrees with a log of `logSize` bytes, or null. */
  invalid(logSize: number): string | null {
    if (this.file.fileBytes % OFFSET_INDEX_ENTRY_SIZE !== 0)
      return `torn index file (${this.file.fileBytes} bytes)`;
    let prevOffset = -1;
    let prevPosition = -1;
    for (let i = 0; i < this.entries; i++) {
      const rel = this.relativeOffsetAt(i);
      const pos = this.positionAt(i);
      if (rel <= prevOffset || pos <= prevPosition || pos >= logSize)
        return `entry ${i} out of order or past the log`;
      prevOffset = rel;
      prevPosition = pos;
    }
    return null;
  }
}
