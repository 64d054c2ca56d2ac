// Sparse time index of one segment: `<base>.timeindex`.
//
//  entry (12 bytes): int64 maxTimestampSoFar | int32 relativeOffset
//
// An entry is written with each offset-index entry, and only when the largest timestamp seen in the
// segment has grown since the previous entry, so timestamps strictly increase down the file.
// relativeOffset is the base offset of the batch (relative to the segment base) at which that
// maximum was reached. Every record in that batch and before it has a timestamp <= the entry's.
// A lookup for target T therefore takes the last entry with timestamp < T and scans the log from
// its batch: nothing earlier can be at or after T. A final entry is written when the segment rolls
// or closes, so the last entry always holds the segment's largest timestamp.

import assert from 'node:assert/strict';
import { readInt64, writeInt64 } from '../proto/batch-header.js';
import type { StorageFs } from './fs.js';
import { IndexFile } from './index-file.js';

export const TIME_INDEX_ENTRY_SIZE = 12;
export const TIME_INDEX_SUFFIX = '.timeindex';

export class TimeIndex {
  readonly file: IndexFile;

  constructor(fs: StorageFs, path: string, maxBytes: number, exists: boolean) {
    this.file = new IndexFile(fs, path, TIME_INDEX_ENTRY_SIZE, maxBytes, exists);
  }

  get entries(): number {
    return this.file.entries;
  }

  get isFull(): boolean {
    return this.file.isFull;
  }

  timestampAt(i: number): number {
    return readInt64(this.file.data(), i * TIME_INDEX_ENTRY_SIZE);
  }

  relativeOffsetAt(i: number): number {
    return this.file.data().readInt32BE(i * TIME_INDEX_ENTRY_SIZE + 8);
  }

  /** The largest timestamp recorded, or -1 for an empty index. */
  lastTimestamp(): number {
    const n = this.entries;
    return n === 0 ? -1 : this.timestampAt(n - 1);
  }

  /** Appends if `timestamp` is larger than the last entry's; returns whether it did. */
  maybeAppend(timestamp: number, relativeOffset: number): boolean {
    const n = this.entries;
    if (n > 0 && timestamp <= this.timestampAt(n - 1)) return false;
    if (n > 0)
      assert.ok(relativeOffset >= this.relativeOffsetAt(n - 1), 'time index offsets must not go back');
    if (this.isFull) return false;
    const slot = this.file.appendSlot();
    writeInt64(slot.buf, slot.offset, timestamp);
    slot.buf.writeInt32BE(relativeOffset, slot.offset + 8);
    return true;
  }

  /** Relative offset to start scanning from for the first record at or after `timestamp`, or -1 (segment start). */
  lookup(timestamp: number): number {
    let lo = 0;
    let hi = this.entries - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestampAt(mid) < timestamp) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? -1 : this.relativeOffsetAt(found);
  }

  /** Drops entries whose offset is at or above `relativeOffset`. */
  truncateFrom(relativeOffset: number): void {
    let keep = this.entries;
    while (keep > 0 && this.relativeOffsetAt(keep - 1) >= relativeOffset) keep--;
    this.file.truncateToEntries(keep);
  }

  /** Why the index disagrees with a segment whose next offset is `nextRelative`, or null. */
  invalid(nextRelative: number): string | null {
    if (this.file.fileBytes % TIME_INDEX_ENTRY_SIZE !== 0)
      return `torn time index file (${this.file.fileBytes} bytes)`;
    let prevTs = Number.NEGATIVE_INFINITY;
    let prevOffset = -1;
    for (let i = 0; i < this.entries; i++) {
      const ts = this.timestampAt(i);
      const rel = this.relativeOffsetAt(i);
      if (Number.isNaN(ts) || ts <= prevTs || rel < prevOffset || rel >= nextRelative) {
        return `time index entry ${i} out of order or past the log`;
      }
      prevTs = ts;
      prevOffset = rel;
    }
    return null;
  }
}
