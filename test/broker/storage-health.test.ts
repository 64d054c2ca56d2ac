// StorageHealth on a manual clock: an episode of storage errors is reported once when it starts and
// once when it ends (after a quiet period), with the count and the errno codes seen in between.

import { describe, expect, it } from 'vitest';
import { STORAGE_EPISODE_QUIET_MS, StorageHealth, type StorageReport } from '../../broker/storage-health.js';
import { ManualClock, escapedStorageError, toStorageError } from '../../storage/index.js';
import { WeirError } from '../../proto/errors.js';
import { errnoError } from '../storage/faulty-fs.js';

function storageError(code: string): WeirError {
  const err = toStorageError(errnoError(code, 'write'), 'append');
  if (!(err instanceof WeirError)) throw new Error('not converted');
  return err;
}

describe('StorageHealth', () => {
  it('reports the first error of an episode, counts the rest, and reports the end with the count', () => {
    const clock = new ManualClock();
    const reports: StorageReport[] = [];
    const health = new StorageHealth(clock, (r) => reports.push(r));
    expect(health.failing).toBe(false);
    for (let i = 0; i < 30; i++) {
      health.note(storageError(i % 3 === 0 ? 'EMFILE' : 'ENOSPC'));
      clock.advance(STORAGE_EPISODE_QUIET_MS / 2);
    }
    expect(reports.map((r) => r.level)).toEqual(['error']);
    expect(health.failing).toBe(true);
    clock.advance(STORAGE_EPISODE_QUIET_MS);
    expect(health.failing).toBe(false);
    expect(reports).toHaveLength(2);
    expect(reports[1]).toMatchObject({
      level: 'warn',
      fields: { errors: 30, codes: { ENOSPC: 20, EMFILE: 10 } },
    });
    // A new error starts a new episode, reported again.
    health.note(storageError('EIO'));
    expect(reports).toHaveLength(3);
    expect(reports[2]?.level).toBe('error');
    expect(health.errorsByCode.get('ENOSPC')).toBe(20);
    expect(health.errorsByCode.get('EIO')).toBe(1);
    health.close();
  });

  it('says a full disk can heal and a read-only one cannot', () => {
    expect(storageError('ENOSPC').retriable).toBe(true);
    expect(storageError('EMFILE').retriable).toBe(true);
    expect(storageError('EROFS').retriable).toBe(false);
    expect(storageError('EIO').retriable).toBe(false);
    expect(storageError('ENOSPC').code).toBe('KAFKA_STORAGE_ERROR');
    // At the surfaces only file-system failures count: a client hanging up is no disk failing.
    const reset = Object.assign(errnoError('ECONNRESET', 'read'), { path: undefined });
    expect(escapedStorageError(reset, 'Produce')).toBeNull();
    expect(escapedStorageError(errnoError('ENOSPC', 'write'), 'Produce')?.code).toBe('KAFKA_STORAGE_ERROR');
    const missing = Object.assign(errnoError('ENOENT', 'open'), { path: '/data/weir-metadata.json' });
    expect(escapedStorageError(missing, 'CreateTopic')?.retriable).toBe(false);
    // Anything that is not a failed system call is left alone (a bug stays a bug).
    const bug = new TypeError('x is undefined');
    expect(toStorageError(bug, 'append')).toBe(bug);
  });
});
