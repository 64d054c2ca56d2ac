// Calling a test broker's HTTP side with Node's fetch, and reading Prometheus text.

import { expect } from 'vitest';
import { ERRORS, type ErrorCode } from '../../proto/errors.js';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body, or the text when it is not JSON, or null when empty. */
  readonly body: unknown;
}

export async function http(
  address: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json', ...headers };
  }
  const res = await fetch(`http://${address}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text.length === 0 ? null : text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text.length > 0) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The `{ error: {...} }` body the table prescribes for `code`, the message left open. */
export function errorBodyOf(code: ErrorCode): unknown {
  const spec = ERRORS[code];
  return {
    error: { code, id: spec.id, retriable: spec.retriable, message: expect.stringContaining(`${code}:`) },
  };
}

/**
 * The value of one sample in Prometheus text: the line for `name` whose labels are exactly
 * `labels`, or undefined when there is none.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got: [string, string][] = [];
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      got.push([l[1]!, l[2]!]);
    if (JSON.stringify(got.sort()) === want) return Number(m[3]);
  }
  return undefined;
}
