// How `weir consume` filters and prints records.
//
// Formats (one record per line):
//   value  the value's bytes as they are (UTF-8 text normally), then `\n`
//   kv     key, a TAB, the value, then `\n` (bytes as they are)
//   json   {"topic","partition","offset","timestamp","key","value","headers"}, then `\n`
// and any text containing `%`, a template (record-template.ts).
// In value and kv, a null key or value (a tombstone) prints as `null`, as Kafka's console consumer
// does; json is the exact form. In json, timestamp is ms since the epoch (a number, like the SDK's
// ConsumerRecord.timestamp); key, value and header values are strings when their bytes are valid
// UTF-8, `{"base64": "..."}` when not, and null when null; headers are a list of {key, value} in
// record order, since keys may repeat.

import { isUtf8 } from 'node:buffer';
import { InvalidArgumentError } from 'commander';
import type { ConsumerRecord } from '../index.js';
import { RecordTemplate } from './record-template.js';

export type NamedFormat = 'value' | 'kv' | 'json';
export type RecordFormat = NamedFormat | RecordTemplate;

export const RECORD_FORMATS: readonly NamedFormat[] = ['value', 'kv', 'json'];

/** --format's parser: a named format, or a template if it contains `%`. */
export function parseRecordFormat(raw: string): RecordFormat {
  if ((RECORD_FORMATS as readonly string[]).includes(raw)) return raw as NamedFormat;
  if (raw.includes('%')) return RecordTemplate.parse(raw);
  throw new InvalidArgumentError(
    `expected value, kv, json or a template such as '%t %p %o %k %s\\n', got '${raw}'`,
  );
}

const NULL = Buffer.from('null');
const TAB = Buffer.from('\t');
const NEWLINE = Buffer.from('\n');

export type JsonBytes = string | { base64: string } | null;

export function jsonBytes(bytes: Buffer | null): JsonBytes {
  if (bytes === null) return null;
  return isUtf8(bytes) ? bytes.toString('utf8') : { base64: bytes.toString('base64') };
}

export interface Sink {
  push(piece: Buffer | string): void;
}

/** Pushes the record's line to `out` in pieces (written together later). */
export function formatRecord(format: RecordFormat, r: ConsumerRecord, out: Sink): void {
  if (format instanceof RecordTemplate) {
    format.format(r, out);
  } else if (format === 'value') {
    out.push(r.value ?? NULL);
    out.push(NEWLINE);
  } else if (format === 'kv') {
    out.push(r.key ?? NULL);
    out.push(TAB);
    out.push(r.value ?? NULL);
    out.push(NEWLINE);
  } else {
    out.push(
      JSON.stringify({
        topic: r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: jsonBytes(r.key),
        value: jsonBytes(r.value),
        headers: r.headers.map((h) => ({ key: h.key, value: jsonBytes(h.value) })),
      }) + '\n',
    );
  }
}

/** --key K (exact bytes) and --header k=v (a header k with value v) or --header k (present); all must hold. */
export class RecordFilter {
  private readonly key: Buffer | null;
  private readonly headers: { key: string; value: Buffer | null }[];

  constructor(key: string | undefined, headers: readonly string[]) {
    this.key = key === undefined ? null : Buffer.from(key, 'utf8');
    this.headers = headers.map((h) => {
      const at = h.indexOf('=');
      return at < 0
        ? { key: h, value: null }
        : { key: h.slice(0, at), value: Buffer.from(h.slice(at + 1), 'utf8') };
    });
  }

  get empty(): boolean {
    return this.key === null && this.headers.length === 0;
  }

  matches(r: ConsumerRecord): boolean {
    if (this.key !== null && (r.key === null || !r.key.equals(this.key))) return false;
    for (const want of this.headers) {
      const found = r.headers.some(
        (h) =>
          h.key === want.key && (want.value === null || (h.value !== null && h.value.equals(want.value))),
      );
      if (!found) return false;
    }
    return true;
  }
}
