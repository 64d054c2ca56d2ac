// The Raft core stays pure: broker/raft imports only proto/, its own files and node:assert (no
// storage, no other broker file, no timers or I/O modules), so it can run inside the simulation.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '../../broker/raft');

it('broker/raft imports only proto, itself and node:assert', () => {
  const imports: string[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(DIR, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) imports.push(m[1]!);
  }
  expect(imports.length).toBeGreaterThan(0);
  expect(imports.filter((s) => !/^(?:\.\/[a-z-]+\.js|\.\.\/\.\.\/proto\/.+|node:assert)$/.test(s))).toEqual(
    [],
  );
});
