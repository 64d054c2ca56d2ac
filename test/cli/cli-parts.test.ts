// The CLI's small parts in process: line splitting over chunk boundaries, duration and time
// parsing, record filters and formats, and the progress line.

import { Writable } from 'node:stream';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import type { ConsumerRecord } from '../../client/index.js';
import { LineSplitter } from '../../client/cli/line-splitter.js';
import { ProgressLine } from '../../client/cli/progress.js';
import { RecordFilter, formatRecord } from '../../client/cli/record-format.js';
import { formatBytes, parseDuration, parseTime } from '../../client/cli/units.js';

function split(chunks: string[]): string[] {
  const splitter = new LineSplitter();
  const out: Buffer[] = [];
  for (const c of chunks) splitter.push(Buffer.from(c), out);
  splitter.end(out);
  return out.map((l) => l.toString());
}

describe('LineSplitter', () => {
  it('gives the same lines however the input is cut into chunks', () => {
    const text = 'alpha\r\nbeta\n\ngamma delta\nlast';
    const expected = ['alpha', 'beta', '', 'gamma delta', 'last'];
    expect(split([text])).toEqual(expected);
    for (let cut = 1; cut < text.length; cut++) {
      expect(split([text.slice(0, cut), text.slice(cut)])).toEqual(expected);
    }
    expect(split(text.split(''))).toEqual(expected);
  });

  it('has no lines for empty input and no extra line after a final newline', () => {
    expect(split([])).toEqual([]);
    expect(split(['', ''])).toEqual([]);
    expect(split(['a\n'])).toEqual(['a']);
    expect(split(['\n'])).toEqual(['']);
  });
});

describe('units', () => {
  it.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
  ])('parseDuration(%s) = %d ms', (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });

  it.each(['15', '15 m', '-1m', 'm', '2w'])('parseDuration refuses %j', (raw) => {
    expect(() => parseDuration(raw)).toThrow(InvalidArgumentError);
  });

  it('parseTime reads ISO 8601 and epoch ms, and refuses the rest', () => {
    expect(parseTime('2026-11-22T10:00:00Z')).toBe(Date.UTC(2026, 10, 22, 10));
    expect(parseTime('2026-11-22T10:00:00.250+01:00')).toBe(Date.UTC(2026, 10, 22, 9, 0, 0, 250));
    expect(parseTime('1700000000000')).toBe(1_700_000_000_000);
    for (const bad of ['yesterday', '22/11/2026', '2026-13-45T99:00:00Z', '']) {
      expect(() => parseTime(bad)).toThrow(InvalidArgumentError);
    }
  });

  it('formatBytes', () => {
    expect([0, 1023, 1024, 1536 * 1024, 3 * 1024 ** 3].map(formatBytes)).toEqual([
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 MiB',
      '3.0 GiB',
    ]);
  });
});

function record(over: Partial<ConsumerRecord> = {}): ConsumerRecord {
  return {
    topic: 't',
    partition: 1,
    offset: 7,
    timestamp: 1_700_000_000_000,
    key: Buffer.from('k'),
    value: Buffer.from('v'),
    headers: [
      { key: 'env', value: Buffer.from('prod') },
      { key: 'env', value: Buffer.from('eu') },
      { key: 'flag', value: null },
    ],
    ...over,
  };
}

function formatted(format: 'value' | 'kv' | 'json', r: ConsumerRecord): Buffer {
  const pieces: (Buffer | string)[] = [];
  formatRecord(format, r, { push: (p) => pieces.push(p) });
  return Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}

describe('record formats and filters', () => {
  it('formats value, kv and json lines', () => {
    expect(formatted('value', record()).toString()).toBe('v\n');
    expect(formatted('kv', record({ key: null, value: null })).toString()).toBe('null\tnull\n');
    expect(JSON.parse(formatted('json', record({ value: Buffer.from([0xc3, 0x28]) })).toString())).toEqual({
      topic: 't',
      partition: 1,
      offset: 7,
      timestamp: 1_700_000_000_000,
      key: 'k',
      value: { base64: 'wyg=' },
      headers: [
        { key: 'env', value: 'prod' },
        { key: 'env', value: 'eu' },
        { key: 'flag', value: null },
      ],
    });
  });

  it('matches keys exactly and headers by value or presence, any of repeated keys', () => {
    expect(new RecordFilter(undefined, []).matches(record())).toBe(true);
    expect(new RecordFilter('k', []).matches(record())).toBe(true);
    expect(new RecordFilter('kk', []).matches(record())).toBe(false);
    expect(new RecordFilter('k', []).matches(record({ key: null }))).toBe(false);
    expect(new RecordFilter(undefined, ['env=eu']).matches(record())).toBe(true);
    expect(new RecordFilter(undefined, ['env=us']).matches(record())).toBe(false);
    expect(new RecordFilter(undefined, ['flag']).matches(record())).toBe(true);
    expect(new RecordFilter(undefined, ['flag=']).matches(record())).toBe(false);
    expect(new RecordFilter('k', ['env=prod', 'flag']).matches(record())).toBe(true);
    expect(new RecordFilter('k', ['env=prod', 'zone']).matches(record())).toBe(false);
  });
});

describe('ProgressLine', () => {
  it('redraws one line with the share of bytes read, and erases it at the end', async () => {
    let written = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        written += chunk.toString();
        done();
      },
    }) as unknown as NodeJS.WriteStream;
    const progress = new ProgressLine(4 * 1024 * 1024, sink);
    progress.update(1024 * 1024, 12_345);
    await new Promise((resolve) => setTimeout(resolve, 250));
    progress.stop();
    expect(written).toContain('25% 1.0 MiB / 4.0 MiB  12,345 records');
    expect(written).not.toContain('\n');
    expect(written.endsWith('\r\x1b[K')).toBe(true);
  });
});
