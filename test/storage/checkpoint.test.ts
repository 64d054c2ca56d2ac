import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointKey, readCheckpoint, writeCheckpoint } from '../../storage/checkpoint.js';
import { nodeFs } from '../../storage/fs.js';

const dir = mkdtempSync(join(tmpdir(), 'weir-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('offset checkpoint files', () => {
  it('write then read gives the same entries, and no temp file is left', () => {
    const entries = new Map([
      [checkpointKey('orders', 0), 1200],
      [checkpointKey('my-topic.v2', 17), 0],
    ]);
    writeCheckpoint(nodeFs, dir, 'cp', entries);
    expect(readCheckpoint(nodeFs, dir, 'cp')).toEqual(entries);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    writeCheckpoint(nodeFs, dir, 'cp', new Map([[checkpointKey('orders', 0), 1300]]));
    expect(readCheckpoint(nodeFs, dir, 'cp')).toEqual(new Map([[checkpointKey('orders', 0), 1300]]));
  });

  it('reads a missing file as empty', () => {
    expect(readCheckpoint(nodeFs, dir, 'absent')).toEqual(new Map());
    expect(existsSync(join(dir, 'absent'))).toBe(false);
  });

  it.each([
    ['1\n0\n', /unknown version/],
    ['0\n2\norders 0 5\n', /count mismatch/],
    ['0\n1\norders 0\n', /malformed/],
    ['0\n1\n../x 0 5\n', /malformed/],
    ['0\n1\norders 0 -5\n', /malformed/],
    ['0\n1\norders zero 5\n', /malformed/],
  ])('reports a malformed file %j as a reason, not a throw', (text, reason) => {
    writeFileSync(join(dir, 'bad'), text);
    expect(readCheckpoint(nodeFs, dir, 'bad')).toMatch(reason);
  });
});
