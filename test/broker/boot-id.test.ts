// The host's boot id (broker/boot-id.ts): the UUID in a file like Linux's
// /proc/sys/kernel/random/boot_id, and null (cannot tell) where there is no such file or it holds
// something else.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LINUX_BOOT_ID_PATH, bootIdAt, procBootId } from '../../broker/boot-id.js';
import { useTempDirs } from '../storage/helpers.js';

const tempDir = useTempDirs();
const ID = '3f2b8c1d-9e4a-4f6b-a7c8-0d1e2f3a4b5c';

function bootIdIn(content: string): string | null {
  const path = join(tempDir(), 'boot_id');
  writeFileSync(path, content);
  return bootIdAt(path).bootId();
}

describe('the host boot id', () => {
  it('is the UUID in the file, without its newline, in lower case', () => {
    expect(bootIdIn(`${ID}\n`)).toBe(ID);
    expect(bootIdIn(ID.toUpperCase())).toBe(ID);
  });

  it('is null when the file is missing or holds no UUID', () => {
    expect(bootIdAt(join(tempDir(), 'absent')).bootId()).toBeNull();
    expect(bootIdIn('')).toBeNull();
    expect(bootIdIn('boot 7\n')).toBeNull();
    expect(bootIdIn(`${ID}${ID}`)).toBeNull();
  });

  it.runIf(existsSync(LINUX_BOOT_ID_PATH))('is read from /proc on Linux, the same on every read', () => {
    const id = procBootId.bootId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(procBootId.bootId()).toBe(id);
  });
});
