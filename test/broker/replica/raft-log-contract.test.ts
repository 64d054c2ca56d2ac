// One contract for every RaftLogStore: the simulation's MemoryRaftLog and the broker's
// PartitionRaftLog (a partition log and its leader-epoch cache) on the real file system and on the
// in-memory one answer the same to the same changes: terms everywhere (start - 1 and gaps
// included), entry starts, reads, truncation, starting afresh and deleting the beginning. The disk
// backends also give the same answers after a reopen, and repair what a crash between the log and
// the cache left.

import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PartitionRaftLog,
  RAFT_LOG_RESET_FILE,
  RAFT_START_STATE_FILE,
} from '../../../broker/replica/partition-raft-log.js';
import type { Entry, EntryKind } from '../../../broker/raft/messages.js';
import { MemoryRaftLog, type RaftLogStore } from '../../../broker/raft/raft-log.js';
import { leaderChangeBatch, membershipBatch } from '../../../proto/control-batch.js';
import type { Membership, MembershipAt } from '../../../broker/raft/membership.js';
import { RAFT_MEMBERSHIP_FILE } from '../../../broker/replica/raft-membership-file.js';
import { encodeBatch } from '../../../proto/record-batch.js';
import {
  LeaderEpochCache,
  ManualClock,
  PartitionLog,
  nodeFs,
  writeFileAtomic,
  type StorageFs,
} from '../../../storage/index.js';
import { MemoryFs } from '../../sim/memory-fs.js';
import { FaultyFs } from '../../storage/faulty-fs.js';
import { seededRandom, testLogConfig, useTempDirs } from '../../storage/helpers.js';

const tempDir = useTempDirs();
// Small segments (about three of the test batches), so that deleting the beginning removes some.
const config = testLogConfig({ 'segment.bytes': 1024 });
const PADDING = Buffer.alloc(300, 7);

type Store = RaftLogStore & { deleteBefore(offset: number, state: Uint8Array | null): void };

/** A config entry at `offset` in `term`: weir's membership control batch. */
function configEntry(offset: number, term: number, membership: Membership): Entry {
  const data = membershipBatch(membership, { leaderEpoch: term, timestamp: 5, baseOffset: offset });
  return { offset, count: 1, term, kind: 'config', data, membership };
}

/** An entry whose data is a real batch at its offset, in its term (a control batch for a no-op). */
function entry(
  offset: number,
  count: number,
  term: number,
  kind: Exclude<EntryKind, 'config'> = 'data',
): Entry {
  const data =
    kind === 'noop'
      ? leaderChangeBatch({
          leaderId: 1,
          voters: [1, 2, 3],
          grantingVoters: [1, 2],
          leaderEpoch: term,
          timestamp: 5,
          baseOffset: offset,
        })
      : encodeBatch(
          // Fewer records than offsets, as compaction leaves them: the count is lastOffsetDelta + 1.
          [
            {
              timestamp: 5,
              key: null,
              value: Buffer.concat([Buffer.from(`${offset}/${term}`), PADDING]),
              offsetDelta: count - 1,
            },
          ],
          { baseOffset: offset, partitionLeaderEpoch: term },
        );
  return { offset, count, term, kind, data };
}

interface DiskLog {
  readonly raft: PartitionRaftLog;
  readonly fs: StorageFs;
  readonly dir: string;
}

function openDisk(fs: StorageFs, dir: string, logStartOffset = 0): DiskLog {
  const log = PartitionLog.open(
    dir,
    config,
    { fs, clock: new ManualClock() },
    { recoveryPoint: 0, logStartOffset, cleanShutdown: false },
  );
  const raft = PartitionRaftLog.open(fs, log, LeaderEpochCache.open(fs, dir), {
    leaderChange: () => ({ leaderId: 1, voters: [1, 2, 3], grantingVoters: [1, 2] }),
    now: () => 5,
  });
  return { raft, fs, dir };
}

/** Closes cleanly and opens again, with the log start the log manager would have checkpointed. */
async function reopen(disk: DiskLog): Promise<DiskLog> {
  const start = disk.raft.start;
  await disk.raft.log.close();
  return openDisk(disk.fs, disk.dir, start);
}

interface Backend {
  readonly name: string;
  make(): { store: Store; reopen?: () => Promise<Store> };
}

function diskBackend(name: string, fs: () => StorageFs, dir: () => string): Backend {
  return {
    name,
    make() {
      let disk = openDisk(fs(), dir());
      return {
        get store() {
          return disk.raft;
        },
        async reopen() {
          disk = await reopen(disk);
          return disk.raft;
        },
      };
    },
  };
}

const backends: Backend[] = [
  { name: 'MemoryRaftLog', make: () => ({ store: new MemoryRaftLog() }) },
  diskBackend(
    'PartitionRaftLog on disk',
    () => nodeFs,
    () => tempDir('weir-raft-log-'),
  ),
  diskBackend(
    'PartitionRaftLog on MemoryFs',
    () => new MemoryFs(),
    () => '/data/t-0',
  ),
];

/** Everything a store answers, for offsets from start - 1 to the end. */
function answers(log: RaftLogStore): unknown {
  const terms: number[] = [];
  const starts: number[] = [];
  const termStarts: number[] = [];
  for (let o = log.start - 1; o < log.end; o++) terms.push(log.termAt(o));
  for (let o = log.start; o < log.end; o++) starts.push(log.entryStart(o));
  for (let o = log.start; o < log.end; o++) termStarts.push(log.termStart(o));
  const memberships: (MembershipAt | null)[] = [];
  for (let o = log.start; o <= log.end; o++) memberships.push(log.membershipBefore(o));
  return {
    memberships,
    startState: hex(log.startState),
    start: log.start,
    startTerm: log.startTerm,
    end: log.end,
    lastTerm: log.lastTerm,
    terms,
    starts,
    termStarts,
    entries: log.read(log.start, 1000).map(shape),
  };
}

function hex(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes).toString('hex');
}

function shape(e: Entry): unknown {
  return {
    offset: e.offset,
    count: e.count,
    term: e.term,
    kind: e.kind,
    data: Buffer.from(e.data).toString('hex'),
    membership: e.membership,
  };
}

// noop@0 t1, data 1-3 t1, data 4-5 t1, noop@6 t2, data 7-10 t2, a gap 11-14, data 15-16 t3, 17 t3.
const HISTORY = [
  entry(0, 1, 1, 'noop'),
  entry(1, 3, 1),
  entry(4, 2, 1),
  entry(6, 1, 2, 'noop'),
  entry(7, 4, 2),
  entry(15, 2, 3),
  entry(17, 1, 3),
];

// Start states, opaque to the log (in the broker, encoded producer state).
const STATE_A = new Uint8Array([1, 2, 3]);
const STATE_B = new Uint8Array([9, 8, 7, 6]);

const M3: Membership = { voters: [1, 2, 3], learners: [] };
const M4: Membership = { voters: [1, 2, 3], learners: [4] };
const M5: Membership = { voters: [1, 2, 3, 4], learners: [] };
// noop@0 t1, data 1-3 t1, config@4 t1 (learner 4), data 5 t1, noop@6 t2, config@7 t2 (4 a voter), data 8 t2.
const CHANGES = [
  entry(0, 1, 1, 'noop'),
  entry(1, 3, 1),
  configEntry(4, 1, M4),
  entry(5, 1, 1),
  entry(6, 1, 2, 'noop'),
  configEntry(7, 2, M5),
  entry(8, 1, 2),
];

function appendAll(log: RaftLogStore, entries: readonly Entry[]): void {
  for (const e of entries) log.append(e);
}

/** The answers MemoryRaftLog gives after `change`, the reference for the disk backends. */
function reference(change: (log: MemoryRaftLog) => void): unknown {
  const log = new MemoryRaftLog();
  change(log);
  return answers(log);
}

describe.each(backends)('RaftLogStore contract: $name', (backend) => {
  /** Checks the store against the reference, then (disk) again after a reopen. */
  async function expectLike(
    made: ReturnType<Backend['make']>,
    change: (log: MemoryRaftLog) => void,
  ): Promise<void> {
    const want = reference(change);
    expect(answers(made.store)).toEqual(want);
    if (made.reopen !== undefined) expect(answers(await made.reopen())).toEqual(want);
  }

  it('is empty at 0 in term 0', async () => {
    const made = backend.make();
    const log = made.store;
    expect([log.start, log.startTerm, log.end, log.lastTerm, log.termAt(-1)]).toEqual([0, 0, 0, 0, 0]);
    expect(log.read(0, 10)).toEqual([]);
    await expectLike(made, () => undefined);
  });

  it('answers terms, entry starts and reads over batches of several offsets, terms and a gap', async () => {
    const made = backend.make();
    const log = made.store;
    appendAll(log, HISTORY);
    expect([log.end, log.lastTerm]).toEqual([18, 3]);
    expect([0, 1, 3, 5, 6, 10, 11, 14, 15, 16, 17].map((o) => log.termAt(o))).toEqual([
      1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3,
    ]);
    expect([0, 2, 3, 5, 8, 11, 14, 16, 17].map((o) => log.entryStart(o))).toEqual([
      0, 1, 1, 4, 7, 11, 14, 15, 17,
    ]);
    expect([0, 3, 5, 6, 10, 14, 15, 17].map((o) => log.termStart(o))).toEqual([0, 0, 0, 6, 6, 6, 15, 15]);
    expect(log.read(0, 3).map((e) => e.offset)).toEqual([0, 1, 4]);
    expect(log.read(2, 2).map((e) => e.offset)).toEqual([4, 6]);
    expect(log.read(11, 10).map((e) => e.offset)).toEqual([15, 17]);
    expect(log.read(18, 5)).toEqual([]);
    expect(log.read(6, 1).map(shape)).toEqual([shape(HISTORY[3]!)]);
    await expectLike(made, (m) => appendAll(m, HISTORY));
  });

  it('truncates a suffix and takes a new term after it', async () => {
    const made = backend.make();
    const log = made.store;
    appendAll(log, HISTORY);
    log.truncateFrom(6);
    expect([log.end, log.lastTerm, log.termAt(5)]).toEqual([6, 1, 1]);
    const next = [entry(6, 1, 4, 'noop'), entry(7, 2, 4)];
    appendAll(log, next);
    expect([log.end, log.lastTerm, log.termAt(6)]).toEqual([9, 4, 4]);
    await expectLike(made, (m) => {
      appendAll(m, HISTORY);
      m.truncateFrom(6);
      appendAll(m, next);
    });
  });

  it('truncates everything from the start', async () => {
    const made = backend.make();
    made.store.append(entry(0, 2, 1));
    made.store.truncateFrom(0);
    expect([made.store.end, made.store.lastTerm]).toEqual([0, 0]);
    await expectLike(made, (m) => {
      m.append(entry(0, 2, 1));
      m.truncateFrom(0);
    });
  });

  it('deletes its beginning and keeps the term before the new start', async () => {
    const made = backend.make();
    let log = made.store;
    appendAll(log, HISTORY);
    log.deleteBefore(7, STATE_A);
    expect([log.start, log.startTerm, log.termAt(6)]).toEqual([7, 2, 2]);
    expect(hex(log.startState)).toBe(hex(STATE_A));
    expect(() => log.read(6, 1)).toThrow();
    await expectLike(made, (m) => {
      appendAll(m, HISTORY);
      m.deleteBefore(7, STATE_A);
    });
    log = made.store;
    log.deleteBefore(18, null);
    expect([log.start, log.startTerm, log.end, log.lastTerm]).toEqual([18, 3, 18, 3]);
    expect(log.startState).toBeNull();
    log.append(entry(18, 1, 3));
    await expectLike(made, (m) => {
      appendAll(m, HISTORY);
      m.deleteBefore(7, STATE_A);
      m.deleteBefore(18, null);
      m.append(entry(18, 1, 3));
    });
  });

  it.each([
    ['past the end', 30, 5],
    ['inside the log', 10, 2],
    ['at the start', 0, 0],
  ])('starts afresh %s, keeping the term before', async (_name, start, startTerm) => {
    const made = backend.make();
    const log = made.store;
    appendAll(log, HISTORY);
    log.resetTo(start, startTerm, null, STATE_B);
    expect([log.start, log.startTerm, log.end, log.lastTerm]).toEqual([start, startTerm, start, startTerm]);
    expect(hex(log.startState)).toBe(hex(STATE_B));
    expect(log.termAt(start - 1)).toBe(startTerm);
    expect(log.read(start, 10)).toEqual([]);
    const next = [entry(start, 1, 6, 'noop'), entry(start + 1, 3, 6)];
    appendAll(log, next);
    expect([log.termAt(start - 1), log.termAt(start), log.lastTerm]).toEqual([startTerm, 6, 6]);
    await expectLike(made, (m) => {
      appendAll(m, HISTORY);
      m.resetTo(start, startTerm, null, STATE_B);
      appendAll(m, next);
    });
  });

  it('knows the membership each config entry sets, and forgets a truncated one', async () => {
    const made = backend.make();
    const log = made.store;
    appendAll(log, CHANGES);
    expect([0, 4, 5, 7, 8, 9].map((o) => log.membershipBefore(o)?.membership ?? null)).toEqual([
      null,
      null,
      M4,
      M4,
      M5,
      M5,
    ]);
    expect(log.read(4, 1).map(shape)).toEqual([shape(CHANGES[2]!)]);
    log.truncateFrom(7);
    expect(log.membershipBefore(log.end)).toEqual({ offset: 4, membership: M4 });
    await expectLike(made, (m) => {
      appendAll(m, CHANGES);
      m.truncateFrom(7);
    });
  });

  it('keeps the membership in force at its start across deletion and a reset', async () => {
    const made = backend.make();
    let log = made.store;
    appendAll(log, CHANGES);
    log.deleteBefore(6, STATE_A);
    expect(log.membershipBefore(6)).toEqual({ offset: 4, membership: M4 });
    await expectLike(made, (m) => {
      appendAll(m, CHANGES);
      m.deleteBefore(6, STATE_A);
    });
    log = made.store;
    const at = { offset: 11, membership: M3 };
    log.resetTo(20, 3, at, null);
    expect([log.membershipBefore(20), log.end, log.startState]).toEqual([at, 20, null]);
    await expectLike(made, (m) => {
      appendAll(m, CHANGES);
      m.deleteBefore(6, STATE_A);
      m.resetTo(20, 3, at, null);
    });
  });
});

describe('PartitionRaftLog across crashes', () => {
  it('drops a membership change whose batch did not reach the log, and refuses an unreadable index', () => {
    const dir = tempDir();
    const { raft } = openDisk(nodeFs, dir);
    appendAll(raft, CHANGES.slice(0, 4));
    // As a crash after the index write and before the batch leaves it: a change at the log end.
    writeFileAtomic(nodeFs, dir, RAFT_MEMBERSHIP_FILE, Buffer.from('0\n2\n4 1,2,3 4\n6 1,2,3,4 -\n'));
    raft.log.closeNow();
    const again = openDisk(nodeFs, dir).raft;
    expect(answers(again)).toEqual(reference((m) => appendAll(m, CHANGES.slice(0, 4))));
    again.log.closeNow();
    writeFileAtomic(nodeFs, dir, RAFT_MEMBERSHIP_FILE, Buffer.from('0\n1\n4 1,x 4\n'));
    expect(() => openDisk(nodeFs, dir)).toThrow(/raft-membership: malformed line/);
  });

  it('builds the no-op batch itself when the core appends an empty one', () => {
    const { raft } = openDisk(nodeFs, tempDir());
    raft.append({ offset: 0, count: 1, term: 1, kind: 'noop', data: new Uint8Array(0) });
    const [noop] = raft.read(0, 1);
    expect(noop && shape(noop)).toEqual(shape(entry(0, 1, 1, 'noop')));
    raft.log.closeNow();
  });

  it('repairs a cache that missed the epoch of batches the log took (a crash between the two)', () => {
    const dir = tempDir();
    const { raft } = openDisk(nodeFs, dir);
    appendAll(raft, HISTORY.slice(0, 3));
    // As a writer that crashed before the cache write leaves it: term 2 in the log, not the cache.
    raft.log.append(Buffer.from(entry(6, 1, 2, 'noop').data), { assignOffsets: false, leaderEpoch: 2 });
    raft.log.append(Buffer.from(entry(7, 4, 2).data), { assignOffsets: false, leaderEpoch: 2 });
    expect(raft.lastTerm).toBe(1);
    raft.log.closeNow();
    const again = openDisk(nodeFs, dir).raft;
    expect(answers(again)).toEqual(reference((m) => appendAll(m, HISTORY.slice(0, 5))));
    expect(again.cache.list()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 6 },
    ]);
    again.log.closeNow();
  });

  it('drops an epoch assigned past the log end (a crash before the batch reached the log)', () => {
    const dir = tempDir();
    const { raft } = openDisk(nodeFs, dir);
    appendAll(raft, HISTORY.slice(0, 3));
    raft.cache.assign(2, 6);
    raft.log.closeNow();
    const again = openDisk(nodeFs, dir).raft;
    expect(answers(again)).toEqual(reference((m) => appendAll(m, HISTORY.slice(0, 3))));
    again.log.closeNow();
  });

  it('keeps the term before the start when retention deleted segments under it', () => {
    const dir = tempDir();
    const { raft } = openDisk(nodeFs, dir);
    appendAll(raft, HISTORY);
    // The log manager's retention deletes whole segments, not through the Raft log.
    raft.log.deleteOldestSegments(2);
    const start = raft.start;
    expect(start).toBeGreaterThan(0);
    const want = reference((m) => {
      appendAll(m, HISTORY);
      m.deleteBefore(start, null);
    });
    expect(answers(raft)).toEqual(want);
    raft.log.closeNow();
    expect(answers(openDisk(nodeFs, dir).raft)).toEqual(want);
  });

  it('keeps the term before the start when a crash took the checkpointed start of a deletion', () => {
    const dir = tempDir();
    const { raft } = openDisk(nodeFs, dir);
    appendAll(raft, HISTORY);
    raft.deleteBefore(15, STATE_A);
    const base = raft.log.segments[0]!.baseOffset;
    expect(base).toBeGreaterThan(0);
    expect(base).toBeLessThan(15);
    raft.log.closeNow();
    // No log-start checkpoint: the log starts at its first segment again, below 15.
    const again = openDisk(nodeFs, dir).raft;
    expect(answers(again)).toEqual(
      reference((m) => {
        appendAll(m, HISTORY);
        m.deleteBefore(base, null);
      }),
    );
    again.log.closeNow();
  });

  it('cuts the log at a segment that lost its tail while a later one kept batches', () => {
    const dir = tempDir();
    const { raft } = openDisk(nodeFs, dir);
    appendAll(raft, HISTORY);
    const bases = raft.log.segments.map((s) => s.baseOffset);
    expect(bases.length).toBeGreaterThan(1);
    raft.log.closeNow();
    // As a power loss can leave it: the first segment keeps only its first batch (the no-op).
    truncateSync(join(dir, `${'0'.padStart(20, '0')}.log`), HISTORY[0]!.data.length);
    const again = openDisk(nodeFs, dir).raft;
    expect(answers(again)).toEqual(reference((m) => m.append(HISTORY[0]!)));
    again.log.closeNow();
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'is a prefix holding what was flushed, with its terms, after a power loss (seed %i)',
    async (seed) => {
      const rand = seededRandom(seed);
      const fs = new MemoryFs();
      // The partition directory is durable, as the log manager makes it before opening the log.
      fs.mkdirSync('/data/t-0');
      fs.fsyncDirSync('/data');
      fs.fsyncDirSync('/');
      const { raft } = openDisk(fs, '/data/t-0');
      const flushedAfter = Math.floor(rand() * HISTORY.length);
      for (let i = 0; i < HISTORY.length; i++) {
        raft.append(HISTORY[i]!);
        if (i === flushedAfter) await raft.log.flush();
      }
      const got = answers(openDisk(fs.crash(rand), '/data/t-0').raft) as {
        entries: { offset: number }[];
      };
      // Unflushed batches may be lost, each segment file keeping a prefix of its own; the log is
      // cut at the first hole, so what is left is a prefix holding every flushed entry.
      const offsets = new Set(got.entries.map((e) => e.offset));
      const kept = HISTORY.filter((e) => offsets.has(e.offset));
      expect(kept).toEqual(HISTORY.slice(0, kept.length));
      expect(kept.length).toBeGreaterThan(flushedAfter);
      expect(got).toEqual(reference((m) => appendAll(m, kept)));
    },
  );

  it('keeps a start state only while the log starts where it was kept, and refuses a damaged one', () => {
    const dir = tempDir();
    const { raft } = openDisk(nodeFs, dir);
    appendAll(raft, HISTORY);
    raft.deleteBefore(7, STATE_A);
    raft.log.closeNow();
    let again = openDisk(nodeFs, dir, 7).raft;
    expect(hex(again.startState)).toBe(hex(STATE_A));
    // As a crash between writing the next state and moving the start leaves it: a state for 15
    // while the log starts at 7 is no one's.
    again.deleteBefore(15, STATE_B);
    again.log.closeNow();
    again = openDisk(nodeFs, dir, 7).raft;
    expect(again.start).toBeLessThan(15);
    expect(again.startState).toBeNull();
    again.log.closeNow();
    const path = join(dir, RAFT_START_STATE_FILE);
    const damaged = nodeFs.readFileSync(path);
    damaged[damaged.length - 1]! ^= 1;
    writeFileAtomic(nodeFs, dir, RAFT_START_STATE_FILE, damaged);
    expect(() => openDisk(nodeFs, dir, 15)).toThrow(/raft-start-state: fails its checksum/);
  });

  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8])(
    'after a truncation and appends of a new term, a power loss leaves a prefix of the new log with its terms (seed %i)',
    async (seed) => {
      // Seed 0 keeps nothing unsynced: a cut left unsynced would come back whole, the old suffix
      // under the epochs of term 4 that the cache fsynced.
      const rand = seed === 0 ? (): number => 0 : seededRandom(seed);
      const fs = new MemoryFs();
      fs.mkdirSync('/data/t-0');
      fs.fsyncDirSync('/data');
      fs.fsyncDirSync('/');
      const { raft } = openDisk(fs, '/data/t-0');
      appendAll(raft, HISTORY);
      await raft.log.flush();
      // A follower whose suffix from 6 (terms 2 and 3) diverges from a leader of term 4.
      const kept = HISTORY.slice(0, 3);
      const fresh = [entry(6, 1, 4, 'noop'), entry(7, 2, 4), entry(9, 1, 4)];
      raft.truncateFrom(6);
      appendAll(raft, fresh);
      const got = answers(openDisk(fs.crash(rand), '/data/t-0').raft) as { entries: unknown[] };
      const survived = got.entries.length - kept.length;
      expect(survived).toBeGreaterThanOrEqual(0);
      expect(survived).toBeLessThanOrEqual(fresh.length);
      expect(got).toEqual(reference((m) => appendAll(m, [...kept, ...fresh.slice(0, survived)])));
    },
  );

  it('finishes a reset a crash interrupted after it was recorded', () => {
    const dir = tempDir();
    const { raft } = openDisk(nodeFs, dir);
    appendAll(raft, HISTORY);
    // Recorded and the log started afresh, but the cache still the old one.
    const state = `state ${Buffer.from(STATE_B).toString('base64')}\n`;
    writeFileAtomic(nodeFs, dir, RAFT_LOG_RESET_FILE, Buffer.from(`12 2\n9 1,2,3 4\n${state}`));
    raft.log.truncateFullyAndStartAt(12);
    raft.log.closeNow();
    const again = openDisk(nodeFs, dir).raft;
    expect(answers(again)).toEqual(
      reference((m) => m.resetTo(12, 2, { offset: 9, membership: M4 }, STATE_B)),
    );
    expect(nodeFs.existsSync(`${dir}/${RAFT_LOG_RESET_FILE}`)).toBe(false);
    again.log.closeNow();
  });

  it('leaves the old log or the reset one, with its start term, at a crash in any step of resetTo', () => {
    const before = reference((m) => appendAll(m, HISTORY));
    const at = { offset: 20, membership: M5 };
    const after = reference((m) => m.resetTo(30, 5, at, STATE_B));
    const seen: unknown[] = [];
    for (let step = 1; ; step++) {
      expect(step).toBeLessThan(60);
      const dir = tempDir();
      const seeded = openDisk(nodeFs, dir).raft;
      appendAll(seeded, HISTORY);
      seeded.log.closeNow();
      const fs = new FaultyFs();
      const { raft } = openDisk(fs, dir);
      fs.crashAt(step);
      let threw = false;
      try {
        raft.resetTo(30, 5, at, STATE_B);
      } catch {
        threw = true;
      }
      raft.log.closeNow();
      const got = answers(openDisk(nodeFs, dir).raft);
      expect([before, after]).toContainEqual(got);
      seen.push(JSON.stringify(got) === JSON.stringify(before) ? 'old' : 'new');
      if (!threw) break;
    }
    expect(seen[0]).toBe('old');
    expect(seen.at(-1)).toBe('new');
  });
});
