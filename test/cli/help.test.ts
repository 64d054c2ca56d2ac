// The CLI contract of DESIGN.md: every command answers --help with exit 0, takes --bootstrap, and
// has the flags scripts depend on.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { okLines, weir } from './cli-support.js';

const CONTRACT: [string[], string[]][] = [
  [['cluster', 'status'], ['--format']],
  [
    ['topic', 'create'],
    ['--partitions', '--replication-factor', '--config'],
  ],
  [['topic', 'list'], ['--format']],
  [['topic', 'describe'], ['--format']],
  [['topic', 'delete'], []],
  [
    ['topic', 'offsets'],
    ['--time', '--format'],
  ],
  [
    ['topic', 'alter'],
    ['--config', '--delete-config', '--partitions'],
  ],
  [['produce'], ['--key-separator', '--header', '--partition', '--acks', '--file']],
  [
    ['consume'],
    [
      '--from-beginning',
      '--offset',
      '--from-time',
      '--since',
      '--until',
      '--pattern',
      '-f, --follow',
      '--partition',
      '--group',
      '--max-messages',
      '-c, --count',
      '--key',
      '--header',
      '--format',
    ],
  ],
  [['group', 'list'], []],
  [['group', 'describe'], ['--format']],
  [['group', 'delete'], []],
  [
    ['group', 'reset-offsets'],
    ['--topic', '--to-earliest', '--to-latest', '--to-time', '--to-offset', '--shift-by', '--execute'],
  ],
  [
    ['bench', 'produce'],
    ['--topic', '--records', '--record-size', '--acks', '--rate', '--json'],
  ],
  [
    ['bench', 'consume'],
    ['--topic', '--records', '--json'],
  ],
];

describe.concurrent('weir --help', () => {
  it.each(CONTRACT)('weir %j --help lists --bootstrap and the contract flags', async (path, flags) => {
    const help = okLines(await weir([...path, '--help'])).join('\n');
    expect(help).toContain(`Usage: weir ${path.join(' ')}`);
    for (const flag of ['--bootstrap', '--help', ...flags]) expect(help).toContain(flag);
  });

  it.each([[['topic']], [['bench']], [[]]])('weir %j --help lists the subcommands', async (path) => {
    const help = okLines(await weir([...path, '--help'])).join('\n');
    expect(help).toMatch(/Commands:/);
  });
});

describe('weir --version', () => {
  it.each([['--version'], ['-V']])('%s prints the installed package version and exits 0', async (flag) => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(okLines(await weir([flag]))).toEqual([version]);
  });
});
