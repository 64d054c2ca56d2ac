// The layering check in eslint.config.js: imports against the layer direction fail lint (and so
// `npm test`) with a message naming the rule, allowed imports pass, and the real tree is clean.

import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const LAYER_RULES = new Set(['@typescript-eslint/no-restricted-imports', 'no-restricted-syntax']);
// Only the layering rules run, so other lint findings in a snippet do not blur the assertions.
const eslint = new ESLint({ cwd: ROOT, ruleFilter: ({ ruleId }) => LAYER_RULES.has(ruleId) });

/** The layering messages for `code` as if it were the file at `path` (which need not exist). */
async function layering(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  if (result === undefined) throw new Error(`no lint result for ${path}`);
  expect(result.messages.filter((m) => m.fatal)).toEqual([]);
  return result.messages.map((m) => m.message);
}

const PROTO = 'proto may import only node:* and packages';
const STORAGE = 'storage may import only proto and node:*';
const BROKER = 'broker may import only storage, proto, node:* and packages';
const SURFACES = 'the broker core may not import its surfaces (grpc-*, http-*, kafka/, main)';
const CLIENT = 'client may import only proto, node:* and packages';
const RAFT = 'broker/raft may import only proto and node:* (it is a pure state machine)';

describe('an import against the layer direction', () => {
  it.each([
    ['proto/x.ts', "import { openLog } from '../storage/index.js';", PROTO],
    ['proto/x.ts', "import { Producer } from '../client/index.js';", PROTO],
    ['storage/x.ts', "import { Broker } from '../broker/broker.js';", STORAGE],
    ['storage/x.ts', "import pino from 'pino';", STORAGE],
    ['storage/x.ts', "import { tempDir } from '../test/storage/support.js';", STORAGE],
    ['broker/x.ts', "import { Producer } from '../client/index.js';", BROKER],
    ['broker/group/x.ts', "import { Producer } from '../../client/index.js';", BROKER],
    ['broker/raft/x.ts', "import { LogManager } from '../../storage/index.js';", RAFT],
    ['broker/raft/x.ts', "import { Partition } from '../partition.js';", RAFT],
    ['broker/raft/x.ts', "import pino from 'pino';", RAFT],
    ['client/x.ts', "import { openLog } from '../storage/index.js';", CLIENT],
    ['client/cli/x.ts', "import { runBroker } from '../../broker/main.js';", CLIENT],
  ])('%s: %s', async (path, code, message) => {
    expect(await layering(path, code)).toEqual([expect.stringContaining(message)]);
  });

  it('fails when type-only, re-exported or loaded by import()', async () => {
    const code = [
      "import type { Broker } from '../broker/broker.js';",
      "export { Producer } from '../client/index.js';",
      "export type * from '../broker/config.js';",
      "export const load = () => import('../broker/main.js');",
      "export type Config = import('../broker/config.js').BrokerConfig;",
    ].join('\n');
    const messages = await layering('storage/x.ts', code);
    expect(messages).toHaveLength(5);
    for (const message of messages) expect(message).toContain(STORAGE);
  });

  it('fails when the broker core imports a surface', async () => {
    expect(await layering('broker/partition.ts', "import { x } from './grpc-server.js';")).toEqual([
      expect.stringContaining(SURFACES),
    ]);
    expect(await layering('broker/broker.ts', "import { x } from './http-routes.js';")).toEqual([
      expect.stringContaining(SURFACES),
    ]);
    expect(await layering('broker/group/x.ts', "import { x } from '../main.js';")).toEqual([
      expect.stringContaining(SURFACES),
    ]);
  });
});

describe('an import along the layer direction', () => {
  it.each([
    ['proto/x.ts', "import * as grpc from '@grpc/grpc-js';\nimport { z } from './varint.js';"],
    ['storage/x.ts', "import { x } from '../proto/record-batch.js';\nimport { y } from 'node:fs';"],
    ['storage/x.ts', "import { x } from './segment.js';\nexport type { Y } from '../proto/errors.js';"],
    ['broker/x.ts', "import { x } from '../storage/index.js';\nimport { y } from 'fastify';"],
    ['broker/raft/x.ts', "import { x } from './raft-log.js';\nimport { y } from '../../proto/errors.js';"],
    [
      'broker/group/x.ts',
      "import { Broker } from '../broker.js';\nimport { y } from '../../proto/errors.js';",
    ],
    ['broker/grpc-x.ts', "import { Broker } from './broker.js';\nimport { y } from './grpc-unary.js';"],
    ['broker/main.ts', "import { x } from './http-server.js';"],
    ['client/x.ts', "import { x } from '../proto/errors.js';\nimport { y } from '@grpc/grpc-js';"],
    ['client/cli/x.ts', "import { Producer } from '../index.js';\nimport { Command } from 'commander';"],
    [
      'scripts/x.ts',
      "import { Broker } from '../broker/broker.js';\nimport { Producer } from '../client/index.js';",
    ],
    ['test/x.ts', "import { startBroker } from '../broker/main.js';"],
  ])('%s: passes', async (path, code) => {
    expect(await layering(path, code)).toEqual([]);
  });
});

describe('`weir broker`', () => {
  const COMMAND = 'client/cli/broker-command.ts';

  it('may load broker/main.js through import(), as it does', async () => {
    expect(await layering(COMMAND, "export const load = () => import('../../broker/main.js');")).toEqual([]);
  });

  it('may not import it statically or load anything else of the broker or storage', async () => {
    for (const code of [
      "import { runBroker } from '../../broker/main.js';",
      "import type { RunningBroker } from '../../broker/main.js';",
      "export const load = () => import('../../broker/broker.js');",
      "export const load = () => import('../../storage/index.js');",
    ])
      expect(await layering(COMMAND, code), code).toEqual([expect.stringContaining(CLIENT)]);
  });
});

it('finds no import against the layer direction in the tree', async () => {
  const results = await eslint.lintFiles(['proto', 'storage', 'broker', 'client']);
  // Guards against a glob that matches nothing and so passes vacuously.
  expect(results.length).toBeGreaterThan(100);
  const found = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.message}`));
  expect(found).toEqual([]);
});
