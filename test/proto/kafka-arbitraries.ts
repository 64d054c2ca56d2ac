// Random Kafka messages from weir's definitions: for one API version, only the fields that version
// carries (the others at their defaults, as a reader leaves them), null only where it may be.

import fc from 'fast-check';
import { inRange, type ApiDef, type FieldDef, type PrimitiveType } from '../../proto/kafka/schema.js';

function primitive(t: PrimitiveType): fc.Arbitrary<unknown> {
  switch (t) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer();
    case 'int64':
      return fc.maxSafeInteger().map((n) => (Object.is(n, -0) ? 0 : n));
    case 'float64':
      return fc.double({ noNaN: true }).map((n) => (Object.is(n, -0) ? 0 : n));
    case 'uuid':
      return fc.uuid();
    case 'string':
      return fc.string({ unit: 'binary', maxLength: 12 });
    case 'bytes':
    case 'records':
      return fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
  }
}

/** The value a field takes when a version does not carry it (as the generated defaults). */
function defaultOf(f: FieldDef): unknown {
  if (f.default !== undefined) return f.default;
  if (f.type === 'array') return [];
  if (f.type === 'struct') return Object.fromEntries(f.fields!.map((g) => [g.name, defaultOf(g)]));
  const zero: Record<PrimitiveType, unknown> = {
    bool: false,
    int8: 0,
    int16: 0,
    uint16: 0,
    int32: 0,
    int64: 0,
    float64: 0,
    uuid: '00000000-0000-0000-0000-000000000000',
    string: '',
    bytes: Buffer.alloc(0),
    records: Buffer.alloc(0),
  };
  return zero[f.type];
}

function fieldArb(f: FieldDef, v: number, flexible: boolean): fc.Arbitrary<unknown> {
  const carried = f.tag !== undefined ? flexible && inRange(f.taggedVersions, v) : inRange(f.versions, v);
  if (!carried) return fc.constant(defaultOf(f));
  let arb: fc.Arbitrary<unknown>;
  if (f.type === 'array') {
    const one = f.element === 'struct' ? structArb(f.fields!, v, flexible) : primitive(f.element!);
    arb = fc.array(one, { maxLength: 3 });
  } else if (f.type === 'struct') arb = structArb(f.fields!, v, flexible);
  else arb = primitive(f.type);
  return inRange(f.nullable, v) ? fc.option(arb, { nil: null }) : arb;
}

export function structArb(fields: readonly FieldDef[], v: number, flexible: boolean): fc.Arbitrary<unknown> {
  return fc.record(Object.fromEntries(fields.map((f) => [f.name, fieldArb(f, v, flexible)])));
}

export function versionsOf(def: ApiDef): number[] {
  return Array.from({ length: def.valid.to! - def.valid.from + 1 }, (_, i) => def.valid.from + i);
}
