// User records to codec input, the bootstrap address, and option checks: what a caller from plain
// JavaScript can get wrong is refused with a WeirError that names it.

import { describe, expect, it } from 'vitest';
import {
  Connection,
  DEFAULT_BOOTSTRAP,
  parseBootstrap,
  parseBootstrapList,
  resolveBootstrap,
} from '../../client/connection.js';
import { Deque } from '../../client/deque.js';
import { intOption } from '../../client/options.js';
import { checkTopicPartition, toRecordInput } from '../../client/records.js';
import { isWeirError } from '../../proto/errors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isWeirError(err) ? err.code : `not a WeirError: ${String(err)}`;
  }
  return undefined;
}

describe('toRecordInput', () => {
  it('encodes strings as UTF-8, keeps bytes, and maps absent to null', () => {
    const input = toRecordInput({ key: 'ключ', value: new Uint8Array([1, 2]) }, 42, 0);
    expect(Buffer.from(input.key!).toString('utf8')).toBe('ключ');
    expect([...input.value!]).toEqual([1, 2]);
    expect(input.timestamp).toBe(42);
    expect(toRecordInput({ value: null }, 1, 0)).toMatchObject({ key: null, value: null });
    expect(toRecordInput({ value: undefined as never }, 1, 0).value).toBeNull();
  });

  it('takes headers as a list (keys may repeat) or as an object', () => {
    const list = toRecordInput(
      {
        value: 'v',
        headers: [
          { key: 'a', value: '1' },
          { key: 'a', value: null },
        ],
      },
      1,
      0,
    );
    expect(
      list.headers!.map((h) => [h.key, h.value === null ? null : Buffer.from(h.value).toString()]),
    ).toEqual([
      ['a', '1'],
      ['a', null],
    ]);
    const object = toRecordInput({ value: 'v', headers: { x: Buffer.from('y'), z: null } }, 1, 0);
    expect(object.headers!.map((h) => h.key)).toEqual(['x', 'z']);
  });

  it('takes a Date or a number as timestamp', () => {
    expect(toRecordInput({ value: 'v', timestamp: new Date(5000) }, 1, 0).timestamp).toBe(5000);
    expect(toRecordInput({ value: 'v', timestamp: 7 }, 1, 0).timestamp).toBe(7);
  });

  it('refuses what the codec cannot carry, naming the record', () => {
    expect(codeOf(() => toRecordInput({ value: 5 as never }, 1, 3))).toBe('INVALID_RECORD');
    expect(codeOf(() => toRecordInput({ key: {} as never, value: 'v' }, 1, 0))).toBe('INVALID_RECORD');
    expect(codeOf(() => toRecordInput({ value: 'v', headers: [{ key: 1 } as never] }, 1, 0))).toBe(
      'INVALID_RECORD',
    );
    expect(codeOf(() => toRecordInput({ value: 'v', timestamp: 1.5 }, 1, 0))).toBe('INVALID_TIMESTAMP');
    expect(codeOf(() => toRecordInput({ value: 'v', timestamp: new Date(NaN) }, 1, 0))).toBe(
      'INVALID_TIMESTAMP',
    );
    expect(codeOf(() => toRecordInput(null as never, 1, 0))).toBe('INVALID_RECORD');
  });

  it('checks topic-partitions', () => {
    expect(checkTopicPartition({ topic: 't', partition: 0 })).toEqual({ topic: 't', partition: 0 });
    expect(codeOf(() => checkTopicPartition({ topic: 't', partition: -1 }))).toBe('INVALID_REQUEST');
    expect(codeOf(() => checkTopicPartition({ topic: '', partition: 0 }))).toBe('INVALID_TOPIC_EXCEPTION');
  });
});

describe('bootstrap', () => {
  it('defaults to WEIR_BOOTSTRAP, else 127.0.0.1:9093', () => {
    expect(resolveBootstrap(undefined, {})).toEqual([DEFAULT_BOOTSTRAP]);
    expect(DEFAULT_BOOTSTRAP).toBe('127.0.0.1:9093');
    expect(resolveBootstrap(undefined, { WEIR_BOOTSTRAP: 'broker:1234' })).toEqual(['broker:1234']);
    expect(resolveBootstrap(undefined, { WEIR_BOOTSTRAP: ' ' })).toEqual([DEFAULT_BOOTSTRAP]);
    expect(resolveBootstrap('other:1', { WEIR_BOOTSTRAP: 'broker:1234' })).toEqual(['other:1']);
  });

  it('takes a comma-separated list or an array, in order, without repeats', () => {
    expect(parseBootstrapList('a:1, b:2 ,[::1]:3')).toEqual(['a:1', 'b:2', '[::1]:3']);
    expect(parseBootstrapList(['b:2', 'a:1', 'b:2'])).toEqual(['b:2', 'a:1']);
    expect(resolveBootstrap(undefined, { WEIR_BOOTSTRAP: 'x:1,y:2' })).toEqual(['x:1', 'y:2']);
    expect(resolveBootstrap(['p:1', 'q:2'], { WEIR_BOOTSTRAP: 'x:1' })).toEqual(['p:1', 'q:2']);
  });

  it('refuses a list with a bad or empty entry, naming it', () => {
    const message = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        expect(codeOf(() => f())).toBe('INVALID_CONFIG');
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(message(() => parseBootstrapList('a:1,,b:2'))).toMatch(/entry 2 is empty/);
    expect(message(() => parseBootstrapList('a:1,'))).toMatch(/entry 2 is empty/);
    expect(message(() => parseBootstrapList('a:1,b'))).toMatch(/host:port, got 'b'/);
    expect(message(() => parseBootstrapList([]))).toMatch(/names no broker/);
    expect(message(() => parseBootstrapList(['a:1', 7 as never]))).toMatch(/entry 2 must be a string/);
    expect(message(() => resolveBootstrap(9093 as never, {}))).toMatch(/bootstrap must be/);
    expect(message(() => new Connection({ bootstrap: 'a:1;b:2' }))).toMatch(/host:port/);
  });

  it('accepts host:port and [ipv6]:port, refuses anything else', () => {
    expect(parseBootstrap('localhost:9093')).toBe('localhost:9093');
    expect(parseBootstrap('[::1]:9093')).toBe('[::1]:9093');
    for (const bad of ['localhost', ':9093', 'host:0', 'host:70000', 'a:1,b:2', 'http://h:1']) {
      expect(codeOf(() => parseBootstrap(bad))).toBe('INVALID_CONFIG');
    }
  });

  it('checks integer options', () => {
    expect(intOption('x', undefined, 5, 0, 10)).toBe(5);
    expect(codeOf(() => intOption('x', 11, 5, 0, 10))).toBe('INVALID_CONFIG');
    expect(codeOf(() => intOption('x', '3', 5, 0, 10))).toBe('INVALID_CONFIG');
  });
});

describe('Deque', () => {
  it('is a FIFO that can also take items back at the front, across growth', () => {
    const q = new Deque<number>();
    const model: number[] = [];
    for (let i = 0; i < 100; i++) {
      q.push(i);
      model.push(i);
      if (i % 3 === 0) expect(q.shift()).toBe(model.shift());
      if (i % 7 === 0) {
        q.unshift(-i);
        model.unshift(-i);
      }
    }
    expect(q.length).toBe(model.length);
    expect(q.get(1)).toBe(model[1]);
    expect(q.drain()).toEqual(model);
    expect(q.peek()).toBeUndefined();
  });
});
