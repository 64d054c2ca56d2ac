// `raft-state` keeps a replica's term, vote and amnesia, under the host boot it was written in and
// the replica's id: durable when persist returns, never going back, refused (not read as term 0)
// when the file cannot be trusted; a version 0 file (term and vote only) is still read.

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../proto/crc32c.js';
import { WeirError } from '../../proto/errors.js';
import {
  NO_VOTE,
  RAFT_STATE_FILE,
  RaftStateFile,
  nodeFs,
  type RaftState,
  type RaftStateHost,
} from '../../storage/index.js';
import { FaultyFs, type MutatingCall } from './faulty-fs.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

/** The file's bytes as the layout in storage/raft-state.ts describes them. */
function fileText(body: string): string {
  return `${body}crc32c: ${crc32c(Buffer.from(body)).toString(16).padStart(8, '0')}\n`;
}

const BOOT_A = '0b3e7c4e-6a47-4b8e-9a55-2f0d6f1c8a01';
const BOOT_B = '7d9f2a10-3c5b-4e6f-8a1d-9b2c4e6f8a03';
const REPLICA = 'c4a1f0e2-5b6d-4c7e-8f90-1a2b3c4d5e6f';

/** A host in boot `bootId` that hands out `ids` as new replica ids, in order. */
function host(bootId: string | null = BOOT_A, ...ids: string[]): RaftStateHost {
  const left = ids.length > 0 ? ids : [REPLICA];
  return {
    bootId,
    newReplicaId: () => {
      const id = left.shift();
      if (id === undefined) throw new Error('a second replica id was asked for');
      return id;
    },
  };
}

const open = (dir: string, h: RaftStateHost = host()): RaftStateFile => RaftStateFile.open(nodeFs, dir, h);

const stateOf = (file: RaftStateFile): { currentTerm: number; votedFor: number } => ({
  currentTerm: file.currentTerm,
  votedFor: file.votedFor,
});

/** A state that is not amnesiac. */
const whole = (currentTerm: number, votedFor: number): RaftState => ({
  currentTerm,
  votedFor,
  amnesiac: false,
});

function openError(dir: string): WeirError {
  try {
    open(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(WeirError);
    return err as WeirError;
  }
  throw new Error(`${dir}: the raft state was accepted`);
}

/** A FaultyFs that also records the mutating calls made through it, in order. */
class RecordingFs extends FaultyFs {
  readonly calls: string[] = [];
  override writeSync(fd: number, buf: Uint8Array, off: number, len: number, pos: number | null): number {
    this.calls.push('write');
    return super.writeSync(fd, buf, off, len, pos);
  }
  override fsyncSync(fd: number): void {
    this.calls.push('fsync');
    super.fsyncSync(fd);
  }
  override renameSync(from: string, to: string): void {
    this.calls.push(`rename ${from.split('/').at(-1)} ${to.split('/').at(-1)}`);
    super.renameSync(from, to);
  }
  override fsyncDirSync(path: string): void {
    this.calls.push('fsync-dir');
    super.fsyncDirSync(path);
  }
}

describe('raft-state file', () => {
  it('writes the version 1 layout with its CRC-32C, and a reopen reads the same state', () => {
    const dir = tempDir();
    const file = open(dir);
    file.persist(whole(3, NO_VOTE));
    file.persist({ currentTerm: 3, votedFor: 2, amnesiac: true });
    expect(readFileSync(join(dir, RAFT_STATE_FILE), 'utf8')).toBe(
      fileText(
        'version: 1\ncurrent_term: 3\nvoted_for: 2\namnesiac: 1\n' +
          `boot_id: ${BOOT_A}\nreplica_id: ${REPLICA}\n`,
      ),
    );
    const again = open(dir, host(BOOT_A, 'not asked for'));
    expect(again.state).toEqual({ currentTerm: 3, votedFor: 2, amnesiac: true });
    expect(again.replicaId).toBe(REPLICA);
    expect(again.storedBootId).toBe(BOOT_A);
    expect(again.found).toBe(true);
    file.persist(whole(9, NO_VOTE));
    expect(open(dir).state).toEqual({ currentTerm: 9, votedFor: NO_VOTE, amnesiac: false });
    expect(readdirSync(dir)).toEqual([RAFT_STATE_FILE]);
  });

  it('records "-" for a host without a boot id, and reads it back as none', () => {
    const dir = tempDir();
    open(dir, host(null)).persist(whole(1, 1));
    expect(readFileSync(join(dir, RAFT_STATE_FILE), 'utf8')).toContain('\nboot_id: -\n');
    expect(open(dir, host(null)).storedBootId).toBeNull();
  });

  it('reads a version 0 file as not amnesiac with no boot id, and writes version 1 with a new replica id at the next persist', () => {
    const dir = tempDir();
    writeFileSync(join(dir, RAFT_STATE_FILE), fileText('version: 0\ncurrent_term: 12\nvoted_for: 4\n'));
    const file = open(dir, host(BOOT_B, REPLICA));
    expect(file.state).toEqual({ currentTerm: 12, votedFor: 4, amnesiac: false });
    expect(file.storedBootId).toBeNull();
    expect(file.found).toBe(true);
    expect(file.replicaId).toBe(REPLICA);
    // Reading upgrades nothing on disk.
    expect(readFileSync(join(dir, RAFT_STATE_FILE), 'utf8')).toMatch(/^version: 0\n/);
    // The same state, persisted, is written: the file is not yet in the current version.
    file.persist(whole(12, 4));
    expect(readFileSync(join(dir, RAFT_STATE_FILE), 'utf8')).toBe(
      fileText(
        'version: 1\ncurrent_term: 12\nvoted_for: 4\namnesiac: 0\n' +
          `boot_id: ${BOOT_B}\nreplica_id: ${REPLICA}\n`,
      ),
    );
  });

  it('opens a directory without the file as term 0 with no vote under a new replica id, and writes nothing', () => {
    const dir = tempDir();
    const file = open(dir);
    expect(file.state).toEqual({ currentTerm: 0, votedFor: NO_VOTE, amnesiac: false });
    expect(file.found).toBe(false);
    expect(file.storedBootId).toBeNull();
    expect(file.replicaId).toBe(REPLICA);
    expect(existsSync(join(dir, RAFT_STATE_FILE))).toBe(false);
  });

  it('keeps the replica id for the life of the state, and stamps each write with the boot it happens in', () => {
    const dir = tempDir();
    open(dir, host(BOOT_A, REPLICA)).persist(whole(1, 1));
    const other = 'e9d8c7b6-a5f4-4e3d-8c2b-1a0f9e8d7c6b';
    const rebooted = open(dir, host(BOOT_B, other));
    expect(rebooted.replicaId).toBe(REPLICA);
    expect(rebooted.storedBootId).toBe(BOOT_A);
    // The same state under a new boot is written again, so the file names the boot it was last
    // written under.
    rebooted.persist(whole(1, 1));
    const after = open(dir, host(BOOT_B, other));
    expect(after.storedBootId).toBe(BOOT_B);
    expect(after.replicaId).toBe(REPLICA);
  });

  it('clears the amnesia flag and keeps it cleared', () => {
    const dir = tempDir();
    const file = open(dir);
    file.persist({ currentTerm: 2, votedFor: NO_VOTE, amnesiac: true });
    expect(open(dir).amnesiac).toBe(true);
    file.persist(whole(2, NO_VOTE));
    expect(open(dir).amnesiac).toBe(false);
  });

  it('asserts that the term never goes back and a vote is not changed within its term', () => {
    const dir = tempDir();
    const file = open(dir);
    file.persist(whole(5, 1));
    expect(() => file.persist(whole(4, NO_VOTE))).toThrow(/term goes back from 5 to 4/);
    expect(() => file.persist(whole(5, 2))).toThrow(/vote in term 5 changes from 1 to 2/);
    expect(() => file.persist(whole(5, NO_VOTE))).toThrow(/vote in term 5 changes from 1 to -1/);
    expect(() => file.persist(whole(6, -2))).toThrow(/neither a node id/);
    expect(() => file.persist(whole(2 ** 31, NO_VOTE))).toThrow(/int32/);
    expect(stateOf(file)).toEqual({ currentTerm: 5, votedFor: 1 });
    expect(stateOf(open(dir))).toEqual({ currentTerm: 5, votedFor: 1 });
  });

  it('asserts that the boot id it is given is a lowercase UUID', () => {
    expect(() => open(tempDir(), host('not-a-uuid'))).toThrow(/boot id not-a-uuid/);
    expect(() => open(tempDir(), host(BOOT_A, 'not-a-uuid'))).toThrow(/replica id not-a-uuid/);
  });

  it('writes nothing when the state persisted is the one on disk under this boot', () => {
    const fs = new RecordingFs();
    const dir = tempDir();
    const file = RaftStateFile.open(fs, dir, host());
    file.persist({ currentTerm: 2, votedFor: 7, amnesiac: true });
    const calls = fs.calls.length;
    file.persist({ currentTerm: 2, votedFor: 7, amnesiac: true });
    RaftStateFile.open(fs, dir, host()).persist({ currentTerm: 2, votedFor: 7, amnesiac: true });
    expect(fs.calls.length).toBe(calls);
  });

  it('refuses every torn prefix of the file as KAFKA_STORAGE_ERROR naming it', () => {
    const dir = tempDir();
    open(dir).persist({ currentTerm: 12, votedFor: 4, amnesiac: true });
    const path = join(dir, RAFT_STATE_FILE);
    const whole = readFileSync(path);
    for (let length = 0; length < whole.length; length++) {
      writeFileSync(path, whole.subarray(0, length));
      const err = openError(dir);
      expect(err.code, `prefix of ${length} bytes`).toBe('KAFKA_STORAGE_ERROR');
      expect(err.message).toContain(path);
    }
  });

  const V1 = `version: 1\ncurrent_term: 12\nvoted_for: 4\namnesiac: 0\nboot_id: ${BOOT_A}\nreplica_id: ${REPLICA}\n`;
  const same = (t: string): string => t;

  it.each([
    ['a changed digit', V1, (t: string) => t.replace('12', '13'), /crc32c mismatch/],
    ['a flipped amnesia flag', V1, (t: string) => t.replace('amnesiac: 0', 'amnesiac: 1'), /crc32c mismatch/],
    ['an unknown version', V1.replace('version: 1', 'version: 2'), same, /unknown version 2/],
    ['a missing field', 'version: 0\ncurrent_term: 1\n', same, /malformed fields/],
    ['a version 1 file without a replica id', V1.replace(/replica_id.*\n/, ''), same, /malformed fields/],
    ['a version 1 file without the amnesia flag', V1.replace('amnesiac: 0\n', ''), same, /malformed fields/],
    [
      'a version 0 file with version 1 fields',
      V1.replace('version: 1', 'version: 0'),
      same,
      /malformed fields/,
    ],
    ['an amnesia flag of 2', V1.replace('amnesiac: 0', 'amnesiac: 2'), same, /malformed fields/],
    ['a boot id that is no UUID', V1.replace(BOOT_A, 'yesterday'), same, /malformed fields/],
    ['an upper-case replica id', V1.replace(REPLICA, REPLICA.toUpperCase()), same, /malformed fields/],
    ['a vote below -1', 'version: 0\ncurrent_term: 1\nvoted_for: -2\n', same, /malformed fields/],
    ['a term past int32', V1.replace('12', '2147483648'), same, /int32/],
    ['a version 0 term past int32', 'version: 0\ncurrent_term: 2147483648\nvoted_for: 1\n', same, /int32/],
  ])('refuses a file with %s', (_what, body, damage, reason) => {
    const dir = tempDir();
    writeFileSync(join(dir, RAFT_STATE_FILE), damage(fileText(body)));
    const err = openError(dir);
    expect(err.code).toBe('KAFKA_STORAGE_ERROR');
    expect(err.message).toContain(join(dir, RAFT_STATE_FILE));
    expect(err.message).toMatch(reason);
  });
});

describe('raft-state durability: persist returns only once the state is on disk', () => {
  it('has fsynced the file, renamed it into place and fsynced the directory when it returns', () => {
    const fs = new RecordingFs();
    RaftStateFile.open(fs, tempDir(), host()).persist(whole(1, 0));
    const tmp = `${RAFT_STATE_FILE}.tmp`;
    expect(fs.calls.filter((c) => c !== 'write')).toEqual([
      'fsync',
      `rename ${tmp} ${RAFT_STATE_FILE}`,
      'fsync-dir',
    ]);
    expect(fs.calls.indexOf('write')).toBeLessThan(fs.calls.indexOf('fsync'));
  });

  it.each<MutatingCall>(['write', 'fsync', 'rename', 'fsync-dir'])(
    'throws KAFKA_STORAGE_ERROR and keeps the old state when the %s fails',
    (failing) => {
      const dir = tempDir();
      const fs = new FaultyFs();
      const file = RaftStateFile.open(fs, dir, host());
      file.persist(whole(4, 2));
      fs.failWithEnospc((call) => call === failing);
      expect(() => file.persist(whole(5, 3))).toThrow(
        expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }),
      );
      expect(stateOf(file)).toEqual({ currentTerm: 4, votedFor: 2 });
      fs.heal();
      // Nothing was answered, so the replica may still vote in term 5 (for anyone).
      file.persist(whole(5, 1));
      expect(stateOf(open(dir))).toEqual({ currentTerm: 5, votedFor: 1 });
    },
  );

  it('leaves the old or the new state on disk, never a refused file, at a crash in any step', () => {
    const seen: RaftState[] = [];
    for (let step = 1; step <= 10; step++) {
      const dir = tempDir();
      open(dir).persist(whole(4, 2));
      const fs = new FaultyFs();
      const file = RaftStateFile.open(fs, dir, host());
      fs.crashAt(step);
      try {
        file.persist({ currentTerm: 5, votedFor: 3, amnesiac: true });
      } catch {
        const after = open(dir).state;
        expect([
          { currentTerm: 4, votedFor: 2, amnesiac: false },
          { currentTerm: 5, votedFor: 3, amnesiac: true },
        ]).toContainEqual(after);
        seen.push(after);
        continue;
      }
      // Past the last step persist returns, and the new state is there.
      expect(open(dir).state).toEqual({ currentTerm: 5, votedFor: 3, amnesiac: true });
      // Crashes before the rename left the old state, after it the new one.
      expect(seen.map((s) => s.currentTerm)).toEqual([4, 4, 4, 4, 5]);
      return;
    }
    throw new Error('persist never returned');
  });
});
