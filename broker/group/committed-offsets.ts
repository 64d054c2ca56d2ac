// The coordinator's view of __consumer_offsets: the newest commit of every (group, topic,
// partition), as the log says. Entries carry the log offset of the record they came from, and an
// older record never replaces a newer one, so the view matches the log whatever order appends
// complete in, and replaying the log at start-up gives the same view as before the restart.

import { forEachRecord, type RecordEntry } from '../../proto/record-batch.js';
import { RECORDS_OFFSET, batchIsControl, batchSize } from '../../proto/batch-header.js';
import { partitionKey } from './partition-key.js';
import { decodeOffsetKey, decodeOffsetValue, type OffsetKey, type OffsetValue } from './offset-record.js';

export interface Committed extends OffsetValue {
  /** Offset of the record in __consumer_offsets. */
  readonly logOffset: number;
}

const SEP = '\u0000';

interface ReplayState {
  readonly target: CommittedOffsets;
  skipped: number;
  lastReason: string;
}

function replayRecord(entry: RecordEntry, state: ReplayState): void {
  const { data, view } = entry;
  if (view.keyLength < 0) {
    state.skipped++;
    state.lastReason = 'record without a key';
    return;
  }
  const key = decodeOffsetKey(data.subarray(view.keyStart, view.keyStart + view.keyLength));
  if (typeof key === 'string') {
    state.skipped++;
    state.lastReason = key;
    return;
  }
  if (view.valueLength < 0) {
    state.target.apply(key, null, entry.offset);
    return;
  }
  const value = decodeOffsetValue(data.subarray(view.valueStart, view.valueStart + view.valueLength));
  if (typeof value === 'string') {
    state.skipped++;
    state.lastReason = value;
    return;
  }
  state.target.apply(key, value, entry.offset);
}

export class CommittedOffsets {
  private readonly groups = new Map<string, Map<string, Committed>>();
  /** Tombstones seen, by key, so a replayed older commit cannot bring a deleted one back. */
  private readonly deletedAt = new Map<string, number>();

  /** Applies one record of the log (value null: a tombstone). */
  apply(key: OffsetKey, value: OffsetValue | null, logOffset: number): void {
    const k = partitionKey(key.topic, key.partition);
    const fullKey = `${key.group}${SEP}${k}`;
    const current = this.groups.get(key.group)?.get(k);
    const newest = Math.max(current?.logOffset ?? -1, this.deletedAt.get(fullKey) ?? -1);
    if (logOffset <= newest) return;
    if (value === null) {
      this.deletedAt.set(fullKey, logOffset);
      const group = this.groups.get(key.group);
      group?.delete(k);
      if (group?.size === 0) this.groups.delete(key.group);
      return;
    }
    this.deletedAt.delete(fullKey);
    let group = this.groups.get(key.group);
    if (group === undefined) this.groups.set(key.group, (group = new Map()));
    group.set(k, { ...value, logOffset });
  }

  /**
   * Replays batches read from the log (whole RecordBatch v2 bytes laid end to end). Returns how
   * many records were skipped as undecodable and the last reason. Control batches (with peers,
   * each new leader's no-op) hold no commit and are passed over.
   */
  replay(batches: Buffer): { skipped: number; lastReason: string } {
    const state: ReplayState = { target: this, skipped: 0, lastReason: '' };
    let off = 0;
    while (off < batches.length) {
      const control = off + RECORDS_OFFSET <= batches.length && batchIsControl(batches, off);
      const reason = control ? null : forEachRecord(batches, off, replayRecord, state);
      if (reason !== null) {
        state.skipped++;
        state.lastReason = reason;
      }
      const size = off + 12 <= batches.length ? batchSize(batches, off) : 0;
      if (size <= 0) break;
      off += size;
    }
    return { skipped: state.skipped, lastReason: state.lastReason };
  }

  get(group: string, topic: string, partition: number): Committed | undefined {
    return this.groups.get(group)?.get(partitionKey(topic, partition));
  }

  /** The group's commits, keyed by `topic\0partition`. */
  of(group: string): ReadonlyMap<string, Committed> {
    return this.groups.get(group) ?? new Map();
  }

  has(group: string): boolean {
    return this.groups.has(group);
  }

  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  /**
   * Drops what is known of the groups `drop` picks, tombstones too: their partition is led
   * elsewhere now, and a replay from its log start rebuilds them if it is led here again.
   */
  forget(drop: (groupId: string) => boolean): void {
    for (const group of [...this.groups.keys()]) if (drop(group)) this.groups.delete(group);
    for (const key of [...this.deletedAt.keys()])
      if (drop(key.slice(0, key.indexOf(SEP)))) this.deletedAt.delete(key);
  }
}
