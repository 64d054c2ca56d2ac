import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  REPLICATION_OFFSET_CHECKPOINT,
  checkpointKey,
  readCheckpoint,
  writeCheckpoint,
} from '../../storage/checkpoint.js';
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
    ['0\n1\norders 0 \n', /malformed/],
    ['0\n1\norders 0 1e3\n', /malformed/],
    ['0\n1\norders 0 5', /torn/],
  ])('reports a malformed file %j as a reason, not a throw', (text, reason) => {
    writeFileSync(join(dir, 'bad'), text);
    expect(readCheckpoint(nodeFs, dir, 'bad')).toMatch(reason);
  });
});

describe('replication-offset-checkpoint (high watermarks)', () => {
  const highWatermarks = new Map([
    [checkpointKey('orders', 0), 1200],
    [checkpointKey('orders', 1), 988],
  ]);

  it("is the offset checkpoint layout under Kafka's name, and reads back", () => {
    writeCheckpoint(nodeFs, dir, REPLICATION_OFFSET_CHECKPOINT, highWatermarks);
    const text = readFileSync(join(dir, 'replication-offset-checkpoint'), 'utf8');
    expect(text).toBe('0\n2\norders 0 1200\norders 1 988\n');
    expect(readCheckpoint(nodeFs, dir, REPLICATION_OFFSET_CHECKPOINT)).toEqual(highWatermarks);
  });

  it('reports every torn prefix of the file as a reason, never as fewer or smaller offsets', () => {
    writeCheckpoint(nodeFs, dir, REPLICATION_OFFSET_CHECKPOINT, highWatermarks);
    const whole = readFileSync(join(dir, REPLICATION_OFFSET_CHECKPOINT));
    for (let length = 0; length < whole.length; length++) {
      writeFileSync(join(dir, 'torn'), whole.subarray(0, length));
      const read = readCheckpoint(nodeFs, dir, 'torn');
      expect(typeof read, `prefix of ${length} bytes: ${JSON.stringify(read)}`).toBe('string');
    }
  });
});
