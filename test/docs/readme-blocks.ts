// The README's fenced code blocks, for the tests that run its examples as written.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

/** The first ```lang block of README.md that contains `marker`; throws when there is none. */
export function readmeBlock(lang: 'ts' | 'sh', marker: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const fence = new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g');
  const block = [...readme.matchAll(fence)].map((m) => m[1] as string).find((code) => code.includes(marker));
  if (block === undefined) throw new Error(`README.md has no \`\`\`${lang} block containing ${marker}`);
  return block;
}

/** The shell commands of a ```sh block: one per non-empty line, with trailing comments dropped. */
export function shellCommands(block: string): string[] {
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The port the README's examples assume, quoted as they quote it. */
export const README_BOOTSTRAP = "'127.0.0.1:9093'";
