// `leader-epoch-checkpoint`: the first offset written in each leader epoch of a partition, as
// Kafka's file of that name (KIP-101, KIP-279), in the partition directory:
//
//   0                      version
//   3                      number of entries
//   0 0                    epoch startOffset, both ascending
//   2 1200
//   5 1873
//
// A follower that comes back after a leader change asks the leader where its last epoch ended
// (OffsetForLeaderEpoch) and truncates there, so it drops exactly the suffix the new leader never
// had: truncating to the high watermark instead loses committed records or keeps divergent ones.
// The answer has to survive restarts, so the list is a file; it is a few lines per leader change,
// and it is rewritten whole (temp file, fsync, rename) on every change, the frame of
// storage/checkpoint.ts. A file that does not parse is a storage error: guessing the epochs would
// let a follower keep records that the leader does not have.
//
// Entries are strictly ascending in both epoch and start offset. An epoch in which nothing was
// written (a leader elected, then replaced before its first batch) is replaced by the next epoch
// assigned at the same offset, as in Kafka, so no entry covers an empty range.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WeirError } from '../proto/errors.js';
import { readCheckpointLines, writeCheckpointLines } from './checkpoint.js';
import type { StorageFs } from './fs.js';
import { toStorageError } from './storage-error.js';

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';
/** OffsetForLeaderEpoch's "no such epoch" and "no such offset". */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;
/** Leader epochs are int32s (a batch's partitionLeaderEpoch). */
const MAX_EPOCH = 0x7fffffff;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** An OffsetForLeaderEpoch answer: the epoch the follower should use, and where it ends here. */
export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: number;
}

const UNDEFINED: EpochEndOffset = Object.freeze({
  epoch: UNDEFINED_EPOCH,
  endOffset: UNDEFINED_EPOCH_OFFSET,
});

/** Why `entries` cannot be a leader-epoch list (not ascending, out of range), or null. */
export function invalidEpochEntries(entries: readonly EpochEntry[]): string | null {
  let prev: EpochEntry | null = null;
  for (const e of entries) {
    if (!Number.isSafeInteger(e.epoch) || e.epoch < 0 || e.epoch > MAX_EPOCH)
      return `epoch ${e.epoch} is not an int32 >= 0`;
    if (!Number.isSafeInteger(e.startOffset) || e.startOffset < 0)
      return `start offset ${e.startOffset} of epoch ${e.epoch} is negative`;
    if (prev !== null && (e.epoch <= prev.epoch || e.startOffset <= prev.startOffset))
      return `entry ${e.epoch} ${e.startOffset} does not ascend from ${prev.epoch} ${prev.startOffset}`;
    prev = e;
  }
  return null;
}

/** Parses the entry lines of a leader-epoch checkpoint, or says why they are malformed. */
export function parseEpochLines(lines: readonly string[]): EpochEntry[] | string {
  const entries: EpochEntry[] = [];
  for (const line of lines) {
    const match = /^(\d+) (\d+)$/.exec(line);
    if (match === null) return `malformed line '${line}'`;
    entries.push({ epoch: Number(match[1]), startOffset: Number(match[2]) });
  }
  return invalidEpochEntries(entries) ?? entries;
}

export class LeaderEpochCache {
  private entries: readonly EpochEntry[];

  private constructor(
    private readonly fs: StorageFs,
    readonly dir: string,
    entries: readonly EpochEntry[],
  ) {
    this.entries = entries;
  }

  /** Reads `dir/leader-epoch-checkpoint` (empty when absent); a malformed file is KAFKA_STORAGE_ERROR. */
  static open(fs: StorageFs, dir: string): LeaderEpochCache {
    const path = join(dir, LEADER_EPOCH_CHECKPOINT);
    let read: string[] | null | string;
    try {
      read = readCheckpointLines(fs, dir, LEADER_EPOCH_CHECKPOINT);
    } catch (err) {
      throw toStorageError(err, `reading ${path}`);
    }
    const entries = read === null ? [] : typeof read === 'string' ? read : parseEpochLines(read);
    if (typeof entries === 'string')
      throw new WeirError('KAFKA_STORAGE_ERROR', `${path}: ${entries}`, { retriable: false });
    return new LeaderEpochCache(fs, dir, entries);
  }

  /** The entries, oldest first (a copy of the list; the entries themselves are frozen). */
  list(): EpochEntry[] {
    return [...this.entries];
  }

  /** The newest epoch, or UNDEFINED_EPOCH when none is known. */
  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /** The epoch that holds `offset`: the last one starting at or before it (UNDEFINED_EPOCH if none). */
  epochAt(offset: number): number {
    return this.entryAt(offset)?.epoch ?? UNDEFINED_EPOCH;
  }

  /** Where the epoch that holds `offset` starts (UNDEFINED_EPOCH_OFFSET if none holds it). */
  epochStartAt(offset: number): number {
    return this.entryAt(offset)?.startOffset ?? UNDEFINED_EPOCH_OFFSET;
  }

  private entryAt(offset: number): EpochEntry | undefined {
    let lo = 0;
    let hi = this.entries.length - 1;
    let found: EpochEntry | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid] as EpochEntry;
      if (e.startOffset <= offset) {
        found = e;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Replaces every entry with `entries` in one write (a log dropped and started afresh keeps only
   * the epoch of the offset before its new start). Entries that do not ascend are a bug.
   */
  reset(entries: readonly EpochEntry[]): void {
    const next = entries.map((e) => Object.freeze({ epoch: e.epoch, startOffset: e.startOffset }));
    const invalid = invalidEpochEntries(next);
    assert.equal(invalid, null, `reset: ${invalid}`);
    this.replace(next);
  }

  /**
   * Records that `epoch` starts at `startOffset` (the log end when a leader is elected, or the base
   * offset of the first batch of an epoch a follower appends). A repeat of the latest epoch is
   * ignored; an epoch or offset below the latest entry is a bug.
   */
  assign(epoch: number, startOffset: number): void {
    const last = this.entries.at(-1);
    if (last !== undefined && epoch === last.epoch) {
      assert.ok(startOffset >= last.startOffset, `epoch ${epoch} again at ${startOffset}, before its start`);
      return;
    }
    const entry = Object.freeze({ epoch, startOffset });
    const kept =
      last !== undefined && last.startOffset === startOffset ? this.entries.slice(0, -1) : this.entries;
    const next = [...kept, entry];
    const invalid = invalidEpochEntries(next);
    assert.equal(invalid, null, `assign(${epoch}, ${startOffset}): ${invalid}`);
    this.replace(next);
  }

  /**
   * The OffsetForLeaderEpoch answer, as Kafka's LeaderEpochFileCache.endOffsetFor: for the latest
   * epoch, the log end; for an older one, the start of the first later epoch, paired with the
   * largest known epoch at or below the requested one (which is the requested one when it is
   * known); below every known epoch, the requested epoch with the start of the first one (the
   * older history was deleted, and the follower must start where this log does); UNDEFINED for
   * UNDEFINED_EPOCH, an empty cache, or an epoch above the latest.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    if (requestedEpoch === UNDEFINED_EPOCH || this.entries.length === 0) return UNDEFINED;
    if (requestedEpoch === this.latestEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higher = this.entries.findIndex((e) => e.epoch > requestedEpoch);
    if (higher < 0) return UNDEFINED;
    const endOffset = (this.entries[higher] as EpochEntry).startOffset;
    if (higher === 0) return { epoch: requestedEpoch, endOffset };
    return { epoch: (this.entries[higher - 1] as EpochEntry).epoch, endOffset };
  }

  /** The log was truncated to end before `endOffset`: epochs that start at or after it go. */
  truncateFromEnd(endOffset: number): void {
    assert.ok(Number.isSafeInteger(endOffset) && endOffset >= 0, `truncateFromEnd(${endOffset})`);
    const kept = this.entries.filter((e) => e.startOffset < endOffset);
    if (kept.length !== this.entries.length) this.replace(kept);
  }

  /**
   * The log start moved to `startOffset`: epochs wholly before it go, and the epoch that holds it
   * (the last one starting at or before it) now starts there.
   */
  truncateFromStart(startOffset: number): void {
    assert.ok(Number.isSafeInteger(startOffset) && startOffset >= 0, `truncateFromStart(${startOffset})`);
    const firstAfter = this.entries.findIndex((e) => e.startOffset > startOffset);
    const after = firstAfter < 0 ? this.entries.length : firstAfter;
    if (after === 0) return;
    const holder = this.entries[after - 1] as EpochEntry;
    if (after === 1 && holder.startOffset === startOffset) return;
    const moved = Object.freeze({ epoch: holder.epoch, startOffset });
    this.replace([moved, ...this.entries.slice(after)]);
  }

  /** Makes `next` durable, then current: after a failed write the cache keeps its old entries. */
  private replace(next: readonly EpochEntry[]): void {
    const lines = next.map((e) => `${e.epoch} ${e.startOffset}`);
    try {
      writeCheckpointLines(this.fs, this.dir, LEADER_EPOCH_CHECKPOINT, lines);
    } catch (err) {
      throw toStorageError(err, `writing ${join(this.dir, LEADER_EPOCH_CHECKPOINT)}`);
    }
    this.entries = next;
  }
}
