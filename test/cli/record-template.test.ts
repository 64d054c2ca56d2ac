// Format templates (record-template.ts) on records built in the test: every placeholder, literal
// percent signs, escapes, bytes passed through as they are, and the parse errors.

import { describe, expect, it } from 'vitest';
import type { ConsumerRecord } from '../../client/index.js';
import { parseRecordFormat } from '../../client/cli/record-format.js';
import { RecordTemplate } from '../../client/cli/record-template.js';

function record(over: Partial<ConsumerRecord> = {}): ConsumerRecord {
  return {
    topic: 't',
    partition: 1,
    offset: 7,
    timestamp: 1_700_000_000_000,
    key: Buffer.from('k'),
    value: Buffer.from('value'),
    headers: [
      { key: 'env', value: Buffer.from('prod') },
      { key: 'env', value: Buffer.from('eu') },
      { key: 'flag', value: null },
    ],
    ...over,
  };
}

function render(template: string, r: ConsumerRecord): Buffer {
  const pieces: (Buffer | string)[] = [];
  RecordTemplate.parse(template).format(r, { push: (p) => pieces.push(p) });
  return Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}

describe('RecordTemplate', () => {
  it('fills every placeholder', () => {
    expect(render('%t %p %o %T %I %k %s %K %S %h', record()).toString()).toBe(
      't 1 7 1700000000000 2023-11-14T22:13:20.000Z k value 1 5 env=prod,env=eu,flag',
    );
  });

  it('%I prints a timestamp no Date can hold (past 8.64e15 ms) as its ms, and goes on', () => {
    const far = 9_000_000_000_000_000;
    expect(render('%o %I|%I\n', record({ timestamp: far })).toString()).toBe(`7 ${far}|${far}\n`);
    expect(render('%I', record({ timestamp: -far })).toString()).toBe(String(-far));
    expect(render('%I', record({ timestamp: 8.64e15 })).toString()).toBe('+275760-09-13T00:00:00.000Z');
  });

  it('prints nothing for a null key or value, and -1 as its length; no headers print nothing', () => {
    expect(render('[%k][%s][%K][%S][%h]', record({ key: null, value: null, headers: [] })).toString()).toBe(
      '[][][-1][-1][]',
    );
  });

  it('%% is a literal percent, also before a placeholder letter; escapes become their characters', () => {
    expect(render('%%t 100%% %o\\t\\r\\n\\\\', record()).toString()).toBe('%t 100% 7\t\r\n\\');
  });

  it('passes bytes that are not UTF-8 through as they are', () => {
    const bytes = Buffer.from([0xff, 0x00, 0xc3]);
    expect(render('%s|%S', record({ value: bytes }))).toEqual(Buffer.concat([bytes, Buffer.from('|3')]));
  });

  it.each([
    ['%x', /unknown placeholder '%x'/],
    ['trailing %', /unknown placeholder '%'/],
    ['%o\\q', /unknown escape '\\q'/],
    ['%o\\', /unknown escape '\\'/],
  ])('refuses %j', (template, reason) => {
    expect(() => RecordTemplate.parse(template)).toThrow(reason);
  });
});

describe('parseRecordFormat', () => {
  it('keeps the named formats, takes text with % as a template, refuses the rest', () => {
    expect(parseRecordFormat('json')).toBe('json');
    expect(parseRecordFormat('%s')).toBeInstanceOf(RecordTemplate);
    expect(() => parseRecordFormat('xml')).toThrow(/value, kv, json or a template/);
  });
});
