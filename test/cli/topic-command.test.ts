// `weir topic create|list|describe|alter|reassign|delete` against a real broker: a full round trip, then
// each kind of mistake with its exit code (1: the broker refused, 2: the command was misused) and
// one line on stderr.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, expectFailure, okLines, startCliBroker, weir, type CliBroker } from './cli-support.js';

let broker: CliBroker;
let b: string[];

beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
});
afterAll(async () => {
  await broker?.close();
});

describe('weir topic', () => {
  it('creates, lists, describes, alters and deletes a topic', async () => {
    // given a new topic with a config override
    expect(
      okLines(
        await weir([
          'topic',
          'create',
          'orders',
          '--partitions',
          '2',
          '--config',
          'retention.ms=3600000',
          ...b,
        ]),
      ),
    ).toEqual(['created topic orders with 2 partitions']);
    await weir(['topic', 'create', 'audit', '--partitions', '1', ...b]);

    // then list shows names, one per line, sorted; json has the partition counts
    expect(okLines(await weir(['topic', 'list', ...b]))).toEqual(['audit', 'orders']);
    const listed = JSON.parse((await weir(['topic', 'list', '--format', 'json', ...b])).stdout) as unknown;
    expect(listed).toEqual([
      { name: 'audit', partitions: 1, internal: false },
      { name: 'orders', partitions: 2, internal: false },
    ]);

    // and describe shows the partitions and the override, as a table and as json
    const table = okLines(await weir(['topic', 'describe', 'orders', ...b]));
    expect(table[0]).toMatch(/^Topic: orders\s+partitions: 2\s+replication factor: 1$/);
    expect(table[1]).toBe('');
    const described = JSON.parse(
      (await weir(['topic', 'describe', 'orders', '--format', 'json', ...b])).stdout,
    );
    expect(described).toMatchObject({ name: 'orders', overrides: { 'retention.ms': '3600000' } });
    expect(described.partitions).toHaveLength(2);
    // every config in force, sorted, with its source: the one override is 'topic'
    const keys = Object.keys(described.configs as Record<string, string>).sort();
    expect(keys.length).toBeGreaterThan(5);
    expect(table[2]).toMatch(/^CONFIG\s+VALUE\s+SOURCE$/);
    const configRows = table.slice(3, 3 + keys.length).map((l) => l.split(/\s+/));
    expect(configRows).toEqual(
      keys.map((k) => [k, described.configs[k], k === 'retention.ms' ? 'topic' : 'default']),
    );
    expect(configRows).toContainEqual(['retention.ms', '3600000', 'topic']);
    expect(configRows).toContainEqual(['cleanup.policy', 'delete', 'default']);
    expect(table[3 + keys.length]).toBe('');
    expect(table[4 + keys.length]).toMatch(
      /^PARTITION\s+LEADER\s+REPLICAS\s+ISR\s+LOG-START\s+HIGH-WATERMARK/,
    );
    // One broker: it leads every partition, its only replica and so the whole in-sync set.
    expect(table.slice(5 + keys.length).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['0', '0', '0', '0'],
      ['1', '0', '0', '0'],
    ]);
    expect(described.partitions[0]).toMatchObject({ replicas: [0], isr: [0], followers: [] });

    // when altered: a config set, one reset, partitions added
    const altered = await weir(
      [
        'topic',
        'alter',
        'orders',
        '--config',
        'segment.bytes=1048576',
        '--delete-config',
        'retention.ms',
        '--partitions',
        '3',
      ].concat(b),
    );
    expect(okLines(altered)).toEqual([
      'altered topic orders: segment.bytes=1048576 -retention.ms partitions=3',
    ]);
    const after = JSON.parse((await weir(['topic', 'describe', 'orders', '--format', 'json', ...b])).stdout);
    expect(after.overrides).toEqual({ 'segment.bytes': '1048576' });
    expect(after.partitions).toHaveLength(3);

    // when deleted, it is gone
    expect(okLines(await weir(['topic', 'delete', 'orders', ...b]))).toEqual(['deleted topic orders']);
    expect(okLines(await weir(['topic', 'list', ...b]))).toEqual(['audit']);
  });

  it('--if-not-exists and --if-exists make create and delete idempotent', async () => {
    await weir(['topic', 'create', 'idem', '--partitions', '1', ...b]);
    expect((await weir(['topic', 'create', 'idem', '--partitions', '1', '--if-not-exists', ...b])).code).toBe(
      0,
    );
    expect((await weir(['topic', 'delete', 'idem', ...b])).code).toBe(0);
    expect((await weir(['topic', 'delete', 'idem', '--if-exists', ...b])).code).toBe(0);
  });

  describe.concurrent('refuses with one line on stderr', () => {
    it('an existing topic (exit 1)', async () => {
      await weir(['topic', 'create', 'twice', '--partitions', '1', ...b]);
      const r = await weir(['topic', 'create', 'twice', '--partitions', '1', ...b]);
      expectFailure(r, 1, /TOPIC_ALREADY_EXISTS.*twice.*--if-not-exists/);
    });
    it('a bad topic name (exit 1)', async () => {
      const r = await weir(['topic', 'create', 'no spaces!', '--partitions', '1', ...b]);
      expectFailure(r, 1, /INVALID_TOPIC_EXCEPTION/);
    });
    it('an unknown config key (exit 1)', async () => {
      const r = await weir(['topic', 'create', 'cfg', '--partitions', '1', '--config', 'nope=1', ...b]);
      expectFailure(r, 1, /INVALID_CONFIG.*nope/);
    });
    it('a bad config value (exit 1)', async () => {
      const r = await weir([
        'topic',
        'create',
        'cfg2',
        '--partitions',
        '1',
        '--config',
        'retention.ms=soon',
        ...b,
      ]);
      expectFailure(r, 1, /INVALID_CONFIG.*retention\.ms/);
    });
    it('a config without = (exit 2)', async () => {
      const r = await weir([
        'topic',
        'create',
        'cfg3',
        '--partitions',
        '1',
        '--config',
        'retention.ms',
        ...b,
      ]);
      expectFailure(r, 2, /--config.*key=value/);
    });
    it('create without --partitions (exit 2)', async () => {
      expectFailure(await weir(['topic', 'create', 'nop', ...b]), 2, /--partitions/);
    });
    it('alter with nothing to change (exit 2)', async () => {
      expectFailure(
        await weir(['topic', 'alter', 'audit', ...b]),
        2,
        /--config, --delete-config or --partitions/,
      );
    });
    it('fewer partitions than now (exit 1)', async () => {
      await weir(['topic', 'create', 'shrink', '--partitions', '2', ...b]);
      expectFailure(
        await weir(['topic', 'alter', 'shrink', '--partitions', '1', ...b]),
        1,
        /INVALID_PARTITIONS/,
      );
    });
    it('reassign with a malformed --move (exit 2), or on a broker without peers (exit 1)', async () => {
      expectFailure(
        await weir(['topic', 'reassign', 'audit', '--move', '0:1,2', ...b]),
        2,
        /PARTITION=BROKER/,
      );
      expectFailure(await weir(['topic', 'reassign', 'audit', ...b]), 2, /--move/);
      expectFailure(
        await weir(['topic', 'reassign', 'audit', '--move', '0=1', ...b]),
        1,
        /INVALID_REQUEST.*without peers/,
      );
    });
    it('describe or delete an unknown topic (exit 1)', async () => {
      expectFailure(await weir(['topic', 'describe', 'ghost', ...b]), 1, /UNKNOWN_TOPIC_OR_PARTITION.*ghost/);
      expectFailure(await weir(['topic', 'delete', 'ghost', ...b]), 1, /UNKNOWN_TOPIC_OR_PARTITION.*ghost/);
    });
    it('a malformed --bootstrap (exit 2)', async () => {
      expectFailure(await weir(['topic', 'list', '--bootstrap', 'nohost']), 2, /--bootstrap.*host:port/);
      const list = `${broker.bootstrap},,127.0.0.1:1`;
      expectFailure(await weir(['topic', 'list', '--bootstrap', list]), 2, /--bootstrap.*entry 2 is empty/);
    });
  });

  it('takes the broker from WEIR_BOOTSTRAP when --bootstrap is not given', async () => {
    const r = await weir(['topic', 'list'], { env: { WEIR_BOOTSTRAP: broker.bootstrap } });
    expect(okLines(r)).toContain('audit');
  });

  it('takes a list of brokers and uses the first that answers', async () => {
    const dead = `127.0.0.1:${await closedPort()}`;
    const flag = await weir(['topic', 'list', '--bootstrap', `${dead},${broker.bootstrap}`]);
    expect(okLines(flag)).toContain('audit');
    const env = await weir(['topic', 'list'], { env: { WEIR_BOOTSTRAP: `${dead}, ${broker.bootstrap}` } });
    expect(okLines(env)).toContain('audit');
  });

  it('names every address when none of the list answers', async () => {
    const [a, b] = [await closedPort(), await closedPort()];
    const r = await weir(['topic', 'list', '--bootstrap', `127.0.0.1:${a},127.0.0.1:${b}`]);
    expectFailure(r, 1, new RegExp(`cannot reach any broker of 127\\.0\\.0\\.1:${a},127\\.0\\.0\\.1:${b}`));
  });

  it('fails fast with a one-line reason when no broker is there', async () => {
    const port = await closedPort();
    const r = await weir(['topic', 'list', '--bootstrap', `127.0.0.1:${port}`], { timeoutMs: 10_000 });
    expectFailure(r, 1, new RegExp(`cannot reach broker at 127\\.0\\.0\\.1:${port}.*WEIR_BOOTSTRAP`));
    expect(r.ms).toBeLessThan(8_000);
  });
});
