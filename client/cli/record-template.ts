// `weir consume --format TEMPLATE`: one record printed through a template of placeholders, as
// kcat's `-f` (and rpk's `--format`):
//
//   %t topic       %p partition     %o offset
//   %k key         %s value         (bytes as they are; a null key or value prints nothing)
//   %K key length  %S value length  (in bytes; -1 for null, so a tombstone tells from an empty value)
//   %T timestamp in ms since the epoch
//   %I timestamp as ISO 8601 in UTC (2026-11-22T10:00:00.000Z); past what a Date holds
//      (±8.64e15 ms), the ms as %T prints them
//   %h headers as k1=v1,k2=v2 in record order (a null value prints the key alone)
//   %% a literal %
// and the escapes \n, \t, \r and \\. Nothing is added: a template prints a line only if it ends
// with \n, as kcat's and rpk's do. The template is parsed once into parts, so a record costs one
// pass over them.

import { InvalidArgumentError } from 'commander';
import type { ConsumerRecord } from '../index.js';
import { isoTime } from './iso-time.js';
import type { Sink } from './record-format.js';

export const PLACEHOLDERS = 'tpokKsSTIh';
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '\\': '\\' };

interface Part {
  field: string | null;
  text: string;
}

export class RecordTemplate {
  /** Literal text (field null), or a placeholder's letter. */
  private readonly parts: readonly Part[];

  private constructor(parts: readonly Part[]) {
    this.parts = parts;
  }

  /** Throws InvalidArgumentError (a usage error) on an unknown placeholder or escape. */
  static parse(template: string): RecordTemplate {
    const parts: Part[] = [];
    let literal = '';
    for (let i = 0; i < template.length; i++) {
      const c = template[i]!;
      if (c !== '%' && c !== '\\') {
        literal += c;
        continue;
      }
      const next = template[++i];
      if (c === '\\') {
        const escaped = next === undefined ? undefined : ESCAPES[next];
        if (escaped === undefined)
          throw new InvalidArgumentError(
            `unknown escape '\\${next ?? ''}' in the template (\\n, \\t, \\r and \\\\ are known)`,
          );
        literal += escaped;
      } else if (next === '%') {
        literal += '%';
      } else if (next !== undefined && PLACEHOLDERS.includes(next)) {
        if (literal !== '') parts.push({ field: null, text: literal });
        literal = '';
        parts.push({ field: next, text: '' });
      } else {
        throw new InvalidArgumentError(
          `unknown placeholder '%${next ?? ''}' in the template (known: ` +
            [...PLACEHOLDERS].map((p) => `%${p}`).join(' ') +
            ' %%)',
        );
      }
    }
    if (literal !== '') parts.push({ field: null, text: literal });
    return new RecordTemplate(parts);
  }

  /** Pushes the record's text to `out` in pieces. */
  format(r: ConsumerRecord, out: Sink): void {
    for (const part of this.parts) {
      switch (part.field) {
        case null:
          out.push(part.text);
          break;
        case 't':
          out.push(r.topic);
          break;
        case 'p':
          out.push(String(r.partition));
          break;
        case 'o':
          out.push(String(r.offset));
          break;
        case 'k':
          if (r.key !== null) out.push(r.key);
          break;
        case 's':
          if (r.value !== null) out.push(r.value);
          break;
        case 'K':
          out.push(String(r.key === null ? -1 : r.key.length));
          break;
        case 'S':
          out.push(String(r.value === null ? -1 : r.value.length));
          break;
        case 'T':
          out.push(String(r.timestamp));
          break;
        case 'I':
          out.push(isoTime(r.timestamp));
          break;
        case 'h':
          r.headers.forEach((h, i) => {
            out.push(i === 0 ? h.key : `,${h.key}`);
            if (h.value !== null) {
              out.push('=');
              out.push(h.value);
            }
          });
          break;
      }
    }
  }
}
