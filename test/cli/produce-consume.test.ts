// `weir produce` then `weir consume` as real processes: lines in (stdin or --file), records out
// as JSON lines, with keys, headers and bytes kept; and the ways produce refuses.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.js';
import {
  closedPort,
  expectFailure,
  killAll,
  jsonLines,
  okLines,
  startCliBroker,
  startWeir,
  waitFor,
  weir,
  type CliBroker,
} from './cli-support.js';

let broker: CliBroker;
let admin: Admin;
let b: string[];
let dir: string;

beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
  admin = new Admin({ bootstrap: broker.bootstrap });
  dir = mkdtempSync(join(tmpdir(), 'weir-cli-files-'));
});
afterAll(async () => {
  killAll();
  await admin?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('weir produce | weir consume', () => {
  it('sends stdin lines with keys and headers, and reads them back as JSON lines', async () => {
    await admin.createTopic('lines', { partitions: 1 });
    const before = Date.now();
    const produced = await weir(
      ['produce', 'lines', '--key-separator', '::', '--header', 'source=cli', '--header', 'trace=a=b', ...b],
      { input: 'k1::hello\nk2::wörld::more\n::empty key\n' },
    );
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr.trim()).toBe('sent 3 records to lines (partition:offsets 0:0-2)');

    const records = jsonLines(await weir(['consume', 'lines', '--from-beginning', '--format', 'json', ...b]));
    expect(records.map((r) => Object.keys(r))).toEqual(
      Array(3).fill(['topic', 'partition', 'offset', 'timestamp', 'key', 'value', 'headers']),
    );
    const headers = [
      { key: 'source', value: 'cli' },
      { key: 'trace', value: 'a=b' },
    ];
    expect(records.map(({ timestamp: _, ...r }) => r)).toEqual([
      { topic: 'lines', partition: 0, offset: 0, key: 'k1', value: 'hello', headers },
      { topic: 'lines', partition: 0, offset: 1, key: 'k2', value: 'wörld::more', headers },
      { topic: 'lines', partition: 0, offset: 2, key: '', value: 'empty key', headers },
    ]);
    for (const r of records) {
      expect(r['timestamp']).toBeTypeOf('number');
      expect(r['timestamp'] as number).toBeGreaterThanOrEqual(before - 1000);
      expect(r['timestamp'] as number).toBeLessThanOrEqual(Date.now());
    }
  });

  it('sends the lines of --file (CRLF, a last line without newline, empty lines) to one --partition', async () => {
    await admin.createTopic('filed', { partitions: 3 });
    const path = join(dir, 'records.txt');
    writeFileSync(path, 'one\r\ntwo\n\nfour');
    const produced = await weir(['produce', 'filed', '--file', path, '--partition', '2', ...b]);
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr).toContain('sent 4 records to filed (partition:offsets 2:0-3)');
    const records = jsonLines(await weir(['consume', 'filed', '--from-beginning', '--format', 'json', ...b]));
    expect(records.map((r) => [r['partition'], r['key'], r['value']])).toEqual([
      [2, null, 'one'],
      [2, null, 'two'],
      [2, null, ''],
      [2, null, 'four'],
    ]);
  });

  it('spreads keyed lines by key, as the SDK does, with acks none and leader', async () => {
    await admin.createTopic('keyed', { partitions: 4 });
    const input = Array.from({ length: 40 }, (_, i) => `key-${i % 8}\tv${i}`).join('\n');
    for (const acks of ['none', 'leader']) {
      const r = await weir(['produce', 'keyed', '--key-separator', '\t', '--acks', acks, ...b], { input });
      expect(r.code, r.stderr).toBe(0);
    }
    const records = jsonLines(await weir(['consume', 'keyed', '--from-beginning', '--format', 'json', ...b]));
    expect(records).toHaveLength(80);
    const partitionOf = new Map<unknown, unknown>();
    for (const r of records) {
      if (!partitionOf.has(r['key'])) partitionOf.set(r['key'], r['partition']);
      expect(r['partition']).toBe(partitionOf.get(r['key']));
    }
    expect(new Set(partitionOf.values()).size).toBeGreaterThan(1);
  });

  it('prints bytes that are not UTF-8 as {"base64"} in json and as they are in kv format', async () => {
    await admin.createTopic('binary', { partitions: 1 });
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x41]);
    const producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
    await producer.send({ topic: 'binary', key: bytes, value: bytes, headers: { h: bytes, n: null } });
    await producer.send({ topic: 'binary', key: 'gone', value: null });
    await producer.close();
    const records = jsonLines(
      await weir(['consume', 'binary', '--from-beginning', '--format', 'json', ...b]),
    );
    const base64 = { base64: bytes.toString('base64') };
    expect(records[0]).toMatchObject({
      key: base64,
      value: base64,
      headers: [
        { key: 'h', value: base64 },
        { key: 'n', value: null },
      ],
    });
    expect(records[1]).toMatchObject({ key: 'gone', value: null });
    const raw = await weir(['consume', 'binary', '--from-beginning', '--format', 'kv', ...b]);
    expect(raw.code).toBe(0);
    const tab = Buffer.from('\t');
    const newline = Buffer.from('\n');
    expect(raw.stdoutBytes).toEqual(Buffer.concat([bytes, tab, bytes, newline, Buffer.from('gone\tnull\n')]));
  });

  it('consume stops quietly, exit 0, when its reader goes away (as with | head)', async () => {
    await admin.createTopic('big', { partitions: 1 });
    const input = Array.from({ length: 200_000 }, (_, i) => `line-${i}`).join('\n');
    expect((await weir(['produce', 'big', ...b], { input })).code).toBe(0);
    const reader = startWeir(['consume', 'big', '--from-beginning', ...b]);
    await waitFor(() => reader.stdout().length > 0, 'the first lines');
    reader.child.stdout!.destroy();
    const result = await reader.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').length).toBeLessThan(200_000);
  });

  it('on SIGTERM, sends what it has read, reports it, and exits 0', async () => {
    await admin.createTopic('typed', { partitions: 1 });
    const typing = startWeir(['produce', 'typed', ...b], { openStdin: true });
    typing.child.stdin!.write('first line\n');
    // Sent at once, though stdin is still open: a person typing sees each line go.
    let seen: string[] = [];
    const deadline = Date.now() + 10_000;
    while (seen.length === 0 && Date.now() < deadline) {
      seen = okLines(await weir(['consume', 'typed', '--from-beginning', ...b]));
    }
    expect(seen).toEqual(['first line']);
    typing.child.kill('SIGTERM');
    const result = await typing.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('sent 1 record to typed (partition:offsets 0:0)\n');
  });

  describe.concurrent('refuses with one line on stderr', () => {
    it('a line without the key separator (exit 1), after sending the lines before it', async () => {
      await admin.createTopic('strict', { partitions: 1 });
      const r = await weir(['produce', 'strict', '--key-separator', ':', ...b], {
        input: 'a:1\nno separator\nc:3\n',
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^sent 1 record to strict/);
      expect(r.stderr).toMatch(/\nerror: line 2 has no key separator ':'/);
      expect(okLines(await weir(['consume', 'strict', '--from-beginning', ...b]))).toEqual(['1']);
    });
    it('an unknown topic (exit 1)', async () => {
      expectFailure(
        await weir(['produce', 'nowhere', ...b], { input: 'x\n' }),
        1,
        /UNKNOWN_TOPIC_OR_PARTITION.*nowhere/,
      );
    });
    it('a partition the topic does not have (exit 2)', async () => {
      await admin.createTopic('small', { partitions: 2 });
      expectFailure(
        await weir(['produce', 'small', '--partition', '5', ...b], { input: 'x\n' }),
        2,
        /--partition 5.*2 partitions/,
      );
    });
    it('a bad --acks (exit 2)', async () => {
      expectFailure(await weir(['produce', 'small', '--acks', 'some', ...b]), 2, /--acks.*none, leader, all/);
    });
    it('a missing --file (exit 1)', async () => {
      expectFailure(
        await weir(['produce', 'small', '--file', join(dir, 'absent.txt'), ...b]),
        1,
        /cannot read --file/,
      );
    });
    it.each([
      [['produce', 'small']],
      [['consume', 'small', '-f']],
      [['bench', 'produce', '--topic', 'small']],
      [['bench', 'consume', '--topic', 'small']],
    ])('no broker for %j (exit 1, fast)', async (args) => {
      const port = await closedPort();
      const r = await weir([...args, '--bootstrap', `127.0.0.1:${port}`], {
        input: 'x\n',
        timeoutMs: 10_000,
      });
      expectFailure(r, 1, /cannot reach broker at 127\.0\.0\.1:\d+ \(connection refused\)/);
      expect(r.ms).toBeLessThan(8_000);
    });
  });
});
