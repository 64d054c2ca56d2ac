// The cluster metadata model stays pure, so the controller and every broker compute the same
// thing from the same log and a simulation can run it: broker/cluster imports only itself, proto,
// the storage index (name and config rules), the topic registry (its limits and the internal
// prefix), the Raft core's membership (a move is planned as membership changes, and is as pure)
// and node:assert, and reads no clock, timer, randomness or process state.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '../../../broker/cluster');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.ts'));
const ALLOWED =
  /^(?:\.\/[a-z-]+\.js|\.\.\/\.\.\/proto\/[a-z-]+\.js|\.\.\/\.\.\/storage\/index\.js|\.\.\/topic-registry\.js|\.\.\/raft\/membership\.js|node:assert\/strict)$/;
const IMPURE =
  /\b(?:Date|Math\.random|setTimeout|setInterval|setImmediate|queueMicrotask|process|performance|crypto|randomUUID)\b/g;

/** Source without comments, so a comment may name what the code must not use. */
function code(file: string): string {
  return readFileSync(join(DIR, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:])\/\/.*$/gm, '$1');
}

it('broker/cluster imports only itself, proto, the storage index, the topic registry, Raft membership and node:assert', () => {
  expect(FILES.length).toBeGreaterThanOrEqual(5);
  const imports = FILES.flatMap((f) =>
    [...code(f).matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => `${f}: ${m[1]}`),
  );
  expect(imports.length).toBeGreaterThan(FILES.length);
  expect(imports.filter((i) => !ALLOWED.test(i.slice(i.indexOf(': ') + 2)))).toEqual([]);
});

it('broker/cluster reads no clock, timer, randomness or process state', () => {
  expect(FILES.flatMap((f) => [...code(f).matchAll(IMPURE)].map((m) => `${f}: ${m[0]}`))).toEqual([]);
});
