// `weir produce` beyond plain lines, as a real process against a real broker, read back through
// the SDK's connection: tombstones (-Z), JSON lines (text, base64, headers, partition, timestamp,
// null values) with line-numbered errors, custom delimiters, raw input and compression. The input
// parts (delimiter escapes, the splitter across chunk seams) are checked on their own first.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../broker/main.js';
import { DelimiterSplitter } from '../../client/cli/delimiter-splitter.js';
import { LineSplitter } from '../../client/cli/line-splitter.js';
import { WholeInput, parseDelimiter } from '../../client/cli/produce-input.js';
import { Admin, Connection } from '../../client/index.js';
import { COMPRESSION_MASK, batchAttributes } from '../../proto/batch-header.js';
import {
  COMPRESSION_GZIP,
  COMPRESSION_LZ4,
  COMPRESSION_SNAPPY,
  COMPRESSION_ZSTD,
} from '../../proto/record-batch.js';
import {
  expectFailure,
  killAll,
  startCliBroker,
  startWeir,
  waitFor,
  weir,
  type CliBroker,
} from './cli-support.js';

describe('parseDelimiter', () => {
  it('reads escapes and plain text as bytes', () => {
    expect(parseDelimiter('\\0')).toEqual(Buffer.from([0]));
    expect(parseDelimiter('\\n\\t\\r\\\\')).toEqual(Buffer.from('\n\t\r\\'));
    expect(parseDelimiter('\\x1e|')).toEqual(Buffer.from([0x1e, 0x7c]));
    expect(parseDelimiter('--')).toEqual(Buffer.from('--'));
    expect(() => parseDelimiter('\\q')).toThrow(/unknown escape/);
    expect(() => parseDelimiter('')).toThrow(/must not be empty/);
  });
});

describe('DelimiterSplitter', () => {
  function split(delimiter: string, chunks: string[]): string[] {
    const splitter = new DelimiterSplitter(Buffer.from(delimiter));
    const out: Buffer[] = [];
    for (const c of chunks) splitter.push(Buffer.from(c), out);
    splitter.end(out);
    return out.map((b) => b.toString());
  }

  it('cuts at a one-byte delimiter, keeps empty records and \\r, and ends with the last record', () => {
    expect(split('|', ['a|b\r|', '|c'])).toEqual(['a', 'b\r', '', 'c']);
    expect(split('|', ['a|'])).toEqual(['a']);
    expect(split('|', [])).toEqual([]);
  });

  it('finds a longer delimiter across chunk seams, however the input is cut', () => {
    const input = 'one<=>two<=><=>three<=>';
    for (let size = 1; size <= input.length; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < input.length; i += size) chunks.push(input.slice(i, i + size));
      expect(split('<=>', chunks), `chunks of ${size}`).toEqual(['one', 'two', '', 'three']);
    }
    expect(split('<=>', ['a<', '=', 'x<=', '>b'])).toEqual(['a<=x', 'b']);
  });
});

describe('a frame past the limit', () => {
  const MiB = Buffer.alloc(1024 * 1024, 'x');
  /** Pushes `chunks` MiB of input without the separator, and how many were pushed before the throw. */
  function pushedBeforeFailure(framer: { push(chunk: Buffer, out: Buffer[]): void }, chunks: number) {
    for (let i = 1; i <= chunks; i++) {
      try {
        framer.push(MiB, []);
      } catch (err) {
        return { at: i, error: err };
      }
    }
    return { at: null, error: null };
  }

  it.each([
    ['LineSplitter', () => new LineSplitter(2.5 * 1024 * 1024), /a line passed 2621440 bytes/],
    ['DelimiterSplitter', () => new DelimiterSplitter(Buffer.from('<=>'), 2.5 * 1024 * 1024), /a record/],
    ['WholeInput', () => new WholeInput(2.5 * 1024 * 1024), /raw input/],
  ])('%s fails with MESSAGE_TOO_LARGE at the chunk that passes it, not at the end', (_name, make, reason) => {
    const { at, error } = pushedBeforeFailure(make(), 100);
    expect(at).toBe(3);
    expect(error).toMatchObject({ code: 'MESSAGE_TOO_LARGE', message: expect.stringMatching(reason) });
  });

  it('counts whole frames too, and lets a frame at the limit through', () => {
    const out: Buffer[] = [];
    new DelimiterSplitter(Buffer.from('|'), 3).push(Buffer.from('abc|de|'), out);
    expect(out.map(String)).toEqual(['abc', 'de']);
    expect(() => new DelimiterSplitter(Buffer.from('|'), 3).push(Buffer.from('ab|abcd|'), [])).toThrow(
      /a record passed 3 bytes/,
    );
    const lines: Buffer[] = [];
    new LineSplitter(3).push(Buffer.from('abc\r\nabcd'), lines);
    expect(lines.map(String)).toEqual(['abc']);
    expect(() => new LineSplitter(3).push(Buffer.from('abcd\n'), [])).toThrow(/a line passed 3 bytes/);
  });
});

let broker: CliBroker;
let b: string[];
let connection: Connection;
let admin: Admin;

beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
  connection = new Connection({ bootstrap: broker.bootstrap });
  admin = new Admin({ connection });
});
afterAll(async () => {
  killAll();
  connection?.close();
  await broker?.close();
});

interface Read {
  partition: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
  timestamp: number;
}

/** Every record of the topic's partitions, through the records form of Fetch. */
async function readAll(topic: string, partitions = 1): Promise<Read[]> {
  const answer = await connection.fetch({
    partitions: Array.from({ length: partitions }, (_, p) => ({
      topic,
      partition: p,
      offset: 0,
      maxBytes: 0,
    })),
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1024 * 1024,
    asRecords: true,
  });
  return answer.results.flatMap((r) =>
    r.records.map((rec) => ({
      partition: r.partition,
      key: rec.key === undefined ? null : rec.key.toString('utf8'),
      value: rec.value === undefined ? null : rec.value.toString('utf8'),
      headers: rec.headers.map((h): [string, string | null] => [
        h.key,
        h.value === undefined ? null : h.value.toString('utf8'),
      ]),
      timestamp: rec.timestamp,
    })),
  );
}

describe('weir produce tombstones', () => {
  it('-Z sends an empty value as null, with or without a key separator', async () => {
    await admin.createTopic('tombstones', { partitions: 1 });
    const produced = await weir(['produce', 'tombstones', '-Z', '--key-separator', ':', ...b], {
      input: 'k1:v1\nk1:\nk2:v2\n',
    });
    expect(produced.code, produced.stderr).toBe(0);
    expect((await readAll('tombstones')).map((r) => [r.key, r.value])).toEqual([
      ['k1', 'v1'],
      ['k1', null],
      ['k2', 'v2'],
    ]);
    // Without -Z an empty value stays an empty value.
    await admin.createTopic('empties', { partitions: 1 });
    expect((await weir(['produce', 'empties', ...b], { input: '\nx\n' })).code).toBe(0);
    expect((await readAll('empties')).map((r) => r.value)).toEqual(['', 'x']);
  });
});

describe('a tombstone under compaction', () => {
  it('removes its key: the older value and, past delete.retention.ms, the tombstone itself', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weir-cli-compact-'));
    const compacting = await startBroker({ dataDir, logLevel: 'silent', cleanerBackoffMs: 20 });
    const own = new Connection({ bootstrap: compacting.grpcAddress });
    try {
      await new Admin({ connection: own }).createTopic('compacted', {
        partitions: 1,
        configs: {
          'cleanup.policy': 'compact',
          'segment.bytes': 1024,
          'min.cleanable.dirty.ratio': 0,
          'delete.retention.ms': 0,
        },
      });
      const keysOf = async (): Promise<string[]> => {
        const answer = await own.fetch({
          partitions: [{ topic: 'compacted', partition: 0, offset: 0, maxBytes: 0 }],
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1024 * 1024,
          asRecords: true,
        });
        return answer.results[0]!.records.map((r) => r.key?.toString() ?? '');
      };
      const produce = async (lines: string[]): Promise<void> => {
        const args = ['produce', 'compacted', '-Z', '--key-separator', ':'];
        const produced = await weir([...args, '--bootstrap', compacting.grpcAddress], {
          input: lines.join('\n') + '\n',
        });
        expect(produced.code, produced.stderr).toBe(0);
      };
      await produce([
        'gone:v1',
        'kept:v1',
        'gone:',
        ...Array.from({ length: 10 }, (_, i) => `f${i}:${'x'.repeat(100)}`),
      ]);
      // Still in the active segment, which compaction leaves alone.
      expect((await keysOf()).slice(0, 3)).toEqual(['gone', 'kept', 'gone']);
      // A second batch rolls a new segment: the tombstone's is no longer the active one.
      await produce(['after:x']);
      let keys: string[] = [];
      const poll = setInterval(() => void keysOf().then((k) => (keys = k)), 50);
      try {
        await waitFor(() => keys.length > 0 && !keys.includes('gone'), 'compaction to remove the key');
      } finally {
        clearInterval(poll);
      }
      expect(keys[0]).toBe('kept');
    } finally {
      own.close();
      await compacting.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('weir produce --input json', () => {
  it('sends keys, values, base64 bytes, headers, partitions, timestamps and null values', async () => {
    await admin.createTopic('json-in', { partitions: 2 });
    const lines = [
      JSON.stringify({ key: 'k', value: 'text', headers: { h: '1', none: null }, partition: 1 }),
      '',
      JSON.stringify({
        keyBase64: Buffer.from([0xff, 0x00]).toString('base64'),
        valueBase64: Buffer.from('bin').toString('base64'),
        partition: 0,
        timestamp: '2026-01-02T03:04:05.678Z',
      }),
      JSON.stringify({
        key: 'k',
        value: null,
        partition: 1,
        timestamp: 1_700_000_000_000,
        headers: [
          { key: 'x', value: 'a' },
          { key: 'x', value: 'b' },
        ],
      }),
    ];
    const produced = await weir(['produce', 'json-in', '--input', 'json', '--header', 'src=cli', ...b], {
      input: lines.join('\n') + '\n',
    });
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr.trim()).toBe('sent 3 records to json-in (partition:offsets 0:0 1:0-1)');
    const records = await readAll('json-in', 2);
    expect(records.map(({ timestamp: _, ...r }) => r)).toEqual([
      {
        partition: 0,
        key: Buffer.from([0xff, 0x00]).toString('utf8'),
        value: 'bin',
        headers: [['src', 'cli']],
      },
      {
        partition: 1,
        key: 'k',
        value: 'text',
        headers: [
          ['h', '1'],
          ['none', null],
          ['src', 'cli'],
        ],
      },
      {
        partition: 1,
        key: 'k',
        value: null,
        headers: [
          ['x', 'a'],
          ['x', 'b'],
          ['src', 'cli'],
        ],
      },
    ]);
    expect(records[0]?.timestamp).toBe(Date.parse('2026-01-02T03:04:05.678Z'));
    expect(records[2]?.timestamp).toBe(1_700_000_000_000);
  });

  it('stops at a bad line, naming it, after sending the lines before it', async () => {
    await admin.createTopic('json-bad', { partitions: 1 });
    const cases: [string, RegExp][] = [
      ['{"value":"ok"}\n{"value":"ok"}\nnot json\n', /line 3: not JSON/],
      ['{"value":"ok"}\n{"value":"ok"}\n[1]\n', /line 3: expected a JSON object/],
      [
        '{"value":"ok"}\n{"value":"ok"}\n{"key":"k"}\n',
        /line 3: no value: give "value" \(null for a tombstone\)/,
      ],
      ['{"value":"ok"}\n{"value":"ok"}\n{"value":1}\n', /line 3: value must be a string or null/],
      ['{"value":"ok"}\n{"value":"ok"}\n{"value":"v","partiton":0}\n', /line 3: unknown field partiton/],
      [
        '{"value":"ok"}\n{"value":"ok"}\n{"valueBase64":"%%"}\n',
        /line 3: valueBase64 must be a base64 string/,
      ],
      ['{"value":"ok"}\n{"value":"ok"}\n{"value":"v","timestamp":"soon"}\n', /line 3: timestamp must be/],
    ];
    let sent = 0;
    for (const [input, reason] of cases) {
      const result = await weir(['produce', 'json-bad', '--input', 'json', ...b], { input });
      sent += 2;
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(reason);
      expect(result.stderr).toMatch(/sent 2 records to json-bad/);
    }
    expect(await readAll('json-bad')).toHaveLength(sent);
  });

  it('refuses options that do not fit JSON input', async () => {
    expectFailure(
      await weir(['produce', 'json-bad', '--input', 'json', '--key-separator', ':', ...b]),
      2,
      /--key-separator works with --input lines, not json/,
    );
    expectFailure(
      await weir(['produce', 'json-bad', '--key', 'k', '--key-separator', ':', ...b]),
      2,
      /--key .* or --key-separator .*, not both/,
    );
    expectFailure(
      await weir(['produce', 'json-bad', '--input', 'json', '--key', 'k', ...b]),
      2,
      /with --input json each line carries its own key/,
    );
    expectFailure(
      await weir(['produce', 'json-bad', '--input', 'yaml', ...b]),
      2,
      /argument 'yaml' is invalid. Allowed choices are lines, json, raw/,
    );
  });
});

describe('weir produce --delimiter and --input raw', () => {
  it('cuts records at a custom delimiter, bytes kept as they are', async () => {
    await admin.createTopic('nul', { partitions: 1 });
    const input = Buffer.concat([
      Buffer.from('a\nb\r'),
      Buffer.from([0]),
      Buffer.from('k=v'),
      Buffer.from([0]),
    ]);
    const produced = await weir(['produce', 'nul', '--delimiter', '\\0', '--key-separator', '=', ...b], {
      input: Buffer.concat([input, Buffer.from('x=')]),
    });
    expect(produced.code, produced.stderr).toBe(1);
    expect(produced.stderr).toMatch(/record 1 has no key separator '='/);

    const ok = await weir(['produce', 'nul', '--delimiter', '\\0', ...b], { input });
    expect(ok.code, ok.stderr).toBe(0);
    expect((await readAll('nul')).map((r) => r.value)).toEqual(['a\nb\r', 'k=v']);
  });

  it('sends all of the input as one record with --input raw, with --key', async () => {
    await admin.createTopic('raw', { partitions: 1 });
    const bytes = Buffer.from([0x00, 0x0a, 0xff, 0x0d, 0x0a, 0x41]);
    const produced = await weir(['produce', 'raw', '--input', 'raw', '--key', 'blob', ...b], {
      input: bytes,
    });
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr.trim()).toBe('sent 1 record to raw (partition:offsets 0:0)');
    const answer = await connection.fetch({
      partitions: [{ topic: 'raw', partition: 0, offset: 0, maxBytes: 0 }],
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1024 * 1024,
      asRecords: true,
    });
    const record = answer.results[0]?.records[0];
    expect(record?.key?.toString()).toBe('blob');
    expect(record?.value).toEqual(bytes);
    expectFailure(
      await weir(['produce', 'raw', '--input', 'raw', '--delimiter', ',', ...b]),
      2,
      /--input raw reads one record/,
    );
  });
});

describe("weir produce past the topic's max.message.bytes", () => {
  it('fails as soon as a record passes it, with the input still open, having sent the records before', async () => {
    await admin.createTopic('small', { partitions: 1, configs: { 'max.message.bytes': 4096 } });
    const cli = startWeir(['produce', 'small', '--delimiter', '|', ...b], { openStdin: true });
    // A wrong delimiter: one record that never ends. The input stays open, so only the limit ends it.
    cli.child.stdin!.write('first|');
    for (let i = 0; i < 8; i++) cli.child.stdin!.write(Buffer.alloc(1024, 'y'));
    const result = await cli.exited;
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/error: .*MESSAGE_TOO_LARGE.*passed 4096 bytes/);
    expect((await readAll('small')).map((r) => r.value)).toEqual(['first']);
  });
});

describe('weir produce --compression', () => {
  it.each([
    ['gzip', COMPRESSION_GZIP],
    ['snappy', COMPRESSION_SNAPPY],
    ['lz4', COMPRESSION_LZ4],
    ['zstd', COMPRESSION_ZSTD],
  ] as const)('writes %s batches, which read back', async (codec, id) => {
    const topic = `c-${codec}`;
    await admin.createTopic(topic, { partitions: 1 });
    const produced = await weir(['produce', topic, '--compression', codec, ...b], { input: 'a\nb\nc\n' });
    expect(produced.code, produced.stderr).toBe(0);
    const answer = await connection.fetch({
      partitions: [{ topic, partition: 0, offset: 0, maxBytes: 0 }],
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1024 * 1024,
    });
    const batches = answer.results[0]!.batches;
    expect(batchAttributes(batches, 0) & COMPRESSION_MASK).toBe(id);
    expect((await readAll(topic)).map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('names the codecs there are for one that is not', async () => {
    expectFailure(
      await weir(['produce', 'c-gzip', '--compression', 'brotli', ...b]),
      2,
      /'brotli' is not supported: weir produces with none, gzip, snappy, lz4, zstd/,
    );
  });
});
