// `raft-state` keeps a replica's term and vote: durable when persist returns, never going back,
// and refused (not read as term 0) when the file cannot be trusted.

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../proto/crc32c.js';
import { WeirError } from '../../proto/errors.js';
import { NO_VOTE, RAFT_STATE_FILE, RaftStateFile, nodeFs, type RaftState } from '../../storage/index.js';
import { FaultyFs, type MutatingCall } from './faulty-fs.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

/** The file's bytes as the layout in storage/raft-state.ts describes them. */
function fileText(body: string): string {
  return `${body}crc32c: ${crc32c(Buffer.from(body)).toString(16).padStart(8, '0')}\n`;
}

const stateOf = (file: RaftStateFile): RaftState => ({
  currentTerm: file.currentTerm,
  votedFor: file.votedFor,
});

function openError(dir: string): WeirError {
  try {
    RaftStateFile.open(nodeFs, dir);
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
  it('writes the layout with its CRC-32C, and a reopen reads the same term and vote', () => {
    const dir = tempDir();
    const file = RaftStateFile.open(nodeFs, dir);
    file.persist(3, NO_VOTE);
    file.persist(3, 2);
    expect(readFileSync(join(dir, RAFT_STATE_FILE), 'utf8')).toBe(
      fileText('version: 0\ncurrent_term: 3\nvoted_for: 2\n'),
    );
    expect(stateOf(RaftStateFile.open(nodeFs, dir))).toEqual({ currentTerm: 3, votedFor: 2 });
    file.persist(9, NO_VOTE);
    expect(stateOf(RaftStateFile.open(nodeFs, dir))).toEqual({ currentTerm: 9, votedFor: NO_VOTE });
    expect(readdirSync(dir)).toEqual([RAFT_STATE_FILE]);
  });

  it('opens a directory without the file as term 0 with no vote, and writes nothing', () => {
    const dir = tempDir();
    expect(stateOf(RaftStateFile.open(nodeFs, dir))).toEqual({ currentTerm: 0, votedFor: NO_VOTE });
    expect(existsSync(join(dir, RAFT_STATE_FILE))).toBe(false);
  });

  it('asserts that the term never goes back and a vote is not changed within its term', () => {
    const dir = tempDir();
    const file = RaftStateFile.open(nodeFs, dir);
    file.persist(5, 1);
    expect(() => file.persist(4, NO_VOTE)).toThrow(/term goes back from 5 to 4/);
    expect(() => file.persist(5, 2)).toThrow(/vote in term 5 changes from 1 to 2/);
    expect(() => file.persist(5, NO_VOTE)).toThrow(/vote in term 5 changes from 1 to -1/);
    expect(() => file.persist(6, -2)).toThrow(/neither a node id/);
    expect(() => file.persist(2 ** 31, NO_VOTE)).toThrow(/int32/);
    expect(stateOf(file)).toEqual({ currentTerm: 5, votedFor: 1 });
    expect(stateOf(RaftStateFile.open(nodeFs, dir))).toEqual({ currentTerm: 5, votedFor: 1 });
  });

  it('writes nothing when the state persisted is the current one', () => {
    const fs = new RecordingFs();
    const file = RaftStateFile.open(fs, tempDir());
    file.persist(2, 7);
    const calls = fs.calls.length;
    file.persist(2, 7);
    expect(fs.calls.length).toBe(calls);
  });

  it('refuses every torn prefix of the file as KAFKA_STORAGE_ERROR naming it', () => {
    const dir = tempDir();
    RaftStateFile.open(nodeFs, dir).persist(12, 4);
    const path = join(dir, RAFT_STATE_FILE);
    const whole = readFileSync(path);
    for (let length = 0; length < whole.length; length++) {
      writeFileSync(path, whole.subarray(0, length));
      const err = openError(dir);
      expect(err.code, `prefix of ${length} bytes`).toBe('KAFKA_STORAGE_ERROR');
      expect(err.message).toContain(path);
    }
  });

  it.each([
    [
      'a changed digit',
      'version: 0\ncurrent_term: 12\nvoted_for: 4\n',
      (t: string) => t.replace('12', '13'),
      /crc32c mismatch/,
    ],
    [
      'an unknown version',
      'version: 1\ncurrent_term: 1\nvoted_for: 4\n',
      (t: string) => t,
      /unknown version 1/,
    ],
    ['a missing field', 'version: 0\ncurrent_term: 1\n', (t: string) => t, /malformed fields/],
    ['a vote below -1', 'version: 0\ncurrent_term: 1\nvoted_for: -2\n', (t: string) => t, /malformed fields/],
    ['a term past int32', 'version: 0\ncurrent_term: 2147483648\nvoted_for: 1\n', (t: string) => t, /int32/],
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
    RaftStateFile.open(fs, tempDir()).persist(1, 0);
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
      const file = RaftStateFile.open(fs, dir);
      file.persist(4, 2);
      fs.failWithEnospc((call) => call === failing);
      expect(() => file.persist(5, 3)).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
      expect(stateOf(file)).toEqual({ currentTerm: 4, votedFor: 2 });
      fs.heal();
      // Nothing was answered, so the replica may still vote in term 5 (for anyone).
      file.persist(5, 1);
      expect(stateOf(RaftStateFile.open(nodeFs, dir))).toEqual({ currentTerm: 5, votedFor: 1 });
    },
  );

  it('leaves the old or the new state on disk, never a refused file, at a crash in any step', () => {
    const seen: RaftState[] = [];
    for (let step = 1; step <= 10; step++) {
      const dir = tempDir();
      RaftStateFile.open(nodeFs, dir).persist(4, 2);
      const fs = new FaultyFs();
      const file = RaftStateFile.open(fs, dir);
      fs.crashAt(step);
      try {
        file.persist(5, 3);
      } catch {
        const after = stateOf(RaftStateFile.open(nodeFs, dir));
        expect([
          { currentTerm: 4, votedFor: 2 },
          { currentTerm: 5, votedFor: 3 },
        ]).toContainEqual(after);
        seen.push(after);
        continue;
      }
      // Past the last step persist returns, and the new state is there.
      expect(stateOf(RaftStateFile.open(nodeFs, dir))).toEqual({ currentTerm: 5, votedFor: 3 });
      // Crashes before the rename left the old state, after it the new one.
      expect(seen.map((s) => s.currentTerm)).toEqual([4, 4, 4, 4, 5]);
      return;
    }
    throw new Error('persist never returned');
  });
});
