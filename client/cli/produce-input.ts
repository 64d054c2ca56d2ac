// What `weir produce` reads, turned into messages. Input is cut into frames, then each frame parsed:
//
//   lines  one record per line (line-splitter.ts), or per --delimiter (delimiter-splitter.ts);
//          with --key-separator the text before its first occurrence is the key.
//   json   one JSON object per line (JSON Lines): key, value, headers, partition, timestamp; keys
//          and values are UTF-8 text, or base64 under keyBase64/valueBase64 for binary; a null
//          value is a tombstone. Blank lines are skipped.
//   raw    the whole input is one record's value, byte for byte.
//
// With --null-empty (kcat's -Z) an empty value becomes null, a tombstone. Errors name the record
// (line) number; the records before a bad one are still sent.

import { InvalidArgumentError } from 'commander';
import { COMPRESSIONS, type Compression } from '../../proto/compression.js';
import type { Message, ProducerHeader } from '../index.js';
import { UsageError } from './common.js';
import { DelimiterSplitter } from './delimiter-splitter.js';
import { LineSplitter, checkFrameSize, type Framer } from './line-splitter.js';

export type { Framer } from './line-splitter.js';

export type InputFormat = 'lines' | 'json' | 'raw';
export const INPUT_FORMATS: readonly InputFormat[] = ['lines', 'json', 'raw'];

/** The codecs the producer can write: Kafka's four, and none. */
export { COMPRESSIONS };
export type CompressionFlag = Compression;

export function parseCompression(raw: string): CompressionFlag {
  const name = raw.trim().toLowerCase();
  if ((COMPRESSIONS as readonly string[]).includes(name)) return name as CompressionFlag;
  throw new InvalidArgumentError(`'${raw}' is not supported: weir produces with ${COMPRESSIONS.join(', ')}`);
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0', '\\': '\\' };

/**
 * A --delimiter value: text with the escapes \n \r \t \0 \\ and \xHH (any byte), so a shell user
 * can write `--delimiter '\0'` for the output of `find -print0`.
 */
export function parseDelimiter(raw: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const next = raw[i + 1];
    if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 2, i + 4))) {
      bytes.push(parseInt(raw.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (next !== undefined && ESCAPES[next] !== undefined) {
      bytes.push(...Buffer.from(ESCAPES[next], 'utf8'));
      i++;
    } else {
      throw new InvalidArgumentError(`unknown escape in '${raw}': use \\n \\r \\t \\0 \\\\ or \\xHH`);
    }
  }
  if (bytes.length === 0) throw new InvalidArgumentError('the delimiter must not be empty');
  return Buffer.from(bytes);
}

/** The whole input as one frame (an empty input is one empty frame). */
export class WholeInput implements Framer {
  private pieces: Buffer[] = [];
  private bytes = 0;
  private readonly maxFrameBytes: number;

  constructor(maxFrameBytes = Infinity) {
    this.maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    checkFrameSize(this.bytes, this.maxFrameBytes, 'raw input');
    this.pieces.push(chunk);
  }

  end(out: Buffer[]): void {
    out.push(Buffer.concat(this.pieces));
    this.pieces = [];
    this.bytes = 0;
  }
}

export interface InputFlags {
  input: InputFormat;
  delimiter?: Buffer;
  keySeparator?: string;
  key?: string;
  header?: [string, string][];
  partition?: number;
  nullEmpty?: boolean;
}

/** Parses frames into messages, up to the first bad one; returns its error, or null. */
export interface FrameParser {
  parse(frames: readonly Buffer[], out: Message[]): Error | null;
}

/** The framer of the input; it fails once a frame passes `maxFrameBytes` (MESSAGE_TOO_LARGE). */
export function framerOf(flags: InputFlags, maxFrameBytes = Infinity): Framer {
  if (flags.input === 'raw') return new WholeInput(maxFrameBytes);
  return flags.delimiter === undefined
    ? new LineSplitter(maxFrameBytes)
    : new DelimiterSplitter(flags.delimiter, maxFrameBytes);
}

export function parserOf(flags: InputFlags): FrameParser {
  if (flags.input === 'raw' && flags.delimiter !== undefined)
    throw new UsageError('--delimiter cuts records apart; --input raw reads one record');
  if (flags.input !== 'lines' && flags.keySeparator !== undefined)
    throw new UsageError(`--key-separator works with --input lines, not ${flags.input}`);
  if (flags.key !== undefined && flags.keySeparator !== undefined)
    throw new UsageError(
      'give --key (one key for every record) or --key-separator (a key per line), not both',
    );
  if (flags.input === 'json' && flags.key !== undefined)
    throw new UsageError('with --input json each line carries its own key');
  return flags.input === 'json' ? new JsonLineParser(flags) : new LineParser(flags);
}

function headersOf(flags: InputFlags): ProducerHeader[] {
  return (flags.header ?? []).map(([key, v]) => ({ key, value: Buffer.from(v, 'utf8') }));
}

/** Lines (or raw input) into messages; with a key separator, a line without one is an error. */
class LineParser implements FrameParser {
  private readonly separator: Buffer | null;
  private readonly key: Buffer | undefined;
  private readonly headers: ProducerHeader[];
  private readonly partition: number | undefined;
  private readonly nullEmpty: boolean;
  private readonly noun: string;
  private count = 0;

  constructor(flags: InputFlags) {
    if (flags.keySeparator === '') throw new UsageError('--key-separator must not be empty');
    this.separator = flags.keySeparator === undefined ? null : Buffer.from(flags.keySeparator, 'utf8');
    this.key = flags.key === undefined ? undefined : Buffer.from(flags.key, 'utf8');
    this.headers = headersOf(flags);
    this.partition = flags.partition;
    this.nullEmpty = flags.nullEmpty === true;
    this.noun = flags.delimiter === undefined ? 'line' : 'record';
  }

  parse(frames: readonly Buffer[], out: Message[]): Error | null {
    for (const frame of frames) {
      this.count++;
      const message: Message = { value: frame };
      if (this.key !== undefined) message.key = this.key;
      if (this.separator !== null) {
        const at = frame.indexOf(this.separator);
        if (at < 0) {
          return new Error(
            `${this.noun} ${this.count} has no key separator '${this.separator.toString()}' ` +
              `(the ${this.noun}s before it were sent)`,
          );
        }
        message.key = frame.subarray(0, at);
        message.value = frame.subarray(at + this.separator.length);
      }
      if (this.nullEmpty && message.value?.length === 0) message.value = null;
      if (this.headers.length > 0) message.headers = this.headers;
      if (this.partition !== undefined) message.partition = this.partition;
      out.push(message);
    }
    return null;
  }
}

const JSON_FIELDS = new Set([
  'key',
  'keyBase64',
  'value',
  'valueBase64',
  'headers',
  'partition',
  'timestamp',
]);

class JsonLineParser implements FrameParser {
  private readonly headers: ProducerHeader[];
  private readonly partition: number | undefined;
  private readonly nullEmpty: boolean;
  private line = 0;

  constructor(flags: InputFlags) {
    this.headers = headersOf(flags);
    this.partition = flags.partition;
    this.nullEmpty = flags.nullEmpty === true;
  }

  parse(frames: readonly Buffer[], out: Message[]): Error | null {
    for (const frame of frames) {
      this.line++;
      const text = frame.toString('utf8');
      if (text.trim() === '') continue;
      try {
        out.push(this.message(text));
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        return new Error(`line ${this.line}: ${reason} (the lines before it were sent)`);
      }
    }
    return null;
  }

  private message(text: string): Message {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`not JSON (${(err as Error).message})`, { cause: err });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('expected a JSON object such as {"key":"k","value":"v"}');
    const o = parsed as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !JSON_FIELDS.has(k));
    if (unknown.length > 0)
      throw new Error(`unknown field ${unknown.join(', ')} (known: ${[...JSON_FIELDS].join(', ')})`);
    const key = bytesField(o, 'key');
    let value = bytesField(o, 'value');
    if (value === undefined)
      throw new Error('no value: give "value" (null for a tombstone) or "valueBase64"');
    if (this.nullEmpty && value?.length === 0) value = null;
    const message: Message = { value };
    if (key !== undefined) message.key = key;
    const headers = [...jsonHeaders(o.headers), ...this.headers];
    if (headers.length > 0) message.headers = headers;
    if (o.partition !== undefined) {
      if (!Number.isSafeInteger(o.partition) || (o.partition as number) < 0)
        throw new Error(`partition must be an integer >= 0, got ${JSON.stringify(o.partition)}`);
      message.partition = o.partition as number;
    } else if (this.partition !== undefined) message.partition = this.partition;
    if (o.timestamp !== undefined) message.timestamp = timestampOf(o.timestamp);
    return message;
  }
}

/** `name` as UTF-8 text, or `nameBase64`; null stays null; undefined when neither is there. */
function bytesField(o: Record<string, unknown>, name: 'key' | 'value'): Buffer | null | undefined {
  const text = o[name];
  const b64 = o[`${name}Base64`];
  if (text !== undefined && b64 !== undefined) throw new Error(`give ${name} or ${name}Base64, not both`);
  if (b64 !== undefined) {
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
      throw new Error(`${name}Base64 must be a base64 string`);
    return Buffer.from(b64, 'base64');
  }
  if (text === undefined || text === null) return text;
  if (typeof text !== 'string')
    throw new Error(
      `${name} must be a string or null (${name}Base64 for binary), got ${JSON.stringify(text)}`,
    );
  return Buffer.from(text, 'utf8');
}

/** Headers as an object ({"k":"v"}) or a list ([{"key":"k","value":"v"}], keys may repeat). */
function jsonHeaders(raw: unknown): ProducerHeader[] {
  if (raw === undefined) return [];
  const entries: [unknown, unknown][] = Array.isArray(raw)
    ? raw.map((h: unknown) => {
        if (h === null || typeof h !== 'object') throw new Error('each header must be {"key":..,"value":..}');
        const { key, value } = h as { key?: unknown; value?: unknown };
        return [key, value];
      })
    : raw !== null && typeof raw === 'object'
      ? Object.entries(raw)
      : (() => {
          throw new Error('headers must be an object or a list of {"key","value"}');
        })();
  return entries.map(([key, value]) => {
    if (typeof key !== 'string') throw new Error('a header key must be a string');
    if (value !== null && typeof value !== 'string')
      throw new Error(`header ${key} must be a string or null, got ${JSON.stringify(value)}`);
    return { key, value: value === null ? null : Buffer.from(value, 'utf8') };
  });
}

function timestampOf(raw: unknown): number {
  const ms = typeof raw === 'number' ? raw : typeof raw === 'string' ? Date.parse(raw) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new Error(`timestamp must be epoch ms or an ISO 8601 time, got ${JSON.stringify(raw)}`);
  return ms;
}
