// The notation weir's Kafka message definitions are written in (proto/kafka/messages/), and what
// the code generator (scripts/gen-kafka-codecs.ts) reads. A definition states, for one request or
// response, its fields in wire order with the versions each appears in, the versions it may be
// null in, and for a tagged field its tag. Those are the protocol's published facts; the notation
// and the code generated from it are weir's own.
//
// Why definitions and a generator rather than hand-written codecs: Kafka's APIs have dozens of
// versions each, and a field added or dropped at one version is where hand-written codecs go
// wrong. One definition per message drives the decoder, the encoder, the TypeScript types and the
// round-trip tests alike.

/** An inclusive version range; `to` undefined means "and every later version". */
export interface VersionRange {
  readonly from: number;
  readonly to?: number;
}

/** The wire types of a field (arrays are `array` with an element). */
export type PrimitiveType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'int64'
  | 'float64'
  | 'uuid'
  | 'string'
  | 'bytes'
  | 'records';

export interface FieldDef {
  /** camelCase, as the TypeScript property. */
  readonly name: string;
  readonly type: PrimitiveType | 'array' | 'struct';
  /** Of an array: a primitive, or a struct (given by `fields`). */
  readonly element?: PrimitiveType | 'struct';
  /** Of a struct or an array of structs: the TypeScript type's name and its fields. */
  readonly structName?: string;
  readonly fields?: readonly FieldDef[];
  readonly versions: VersionRange | null;
  readonly nullable: VersionRange | null;
  /** A tagged field: its tag, and the versions it is carried in the tagged section. */
  readonly tag?: number;
  readonly taggedVersions?: VersionRange;
  /** Its value when absent from a version (the type's zero value if not given). */
  readonly default?: boolean | number | string | null;
}

/** "3+", "0-4", "2", or "none". */
export function versions(spec: string): VersionRange | null {
  if (spec === 'none') return null;
  const plus = /^(\d+)\+$/.exec(spec);
  if (plus !== null) return { from: Number(plus[1]) };
  const range = /^(\d+)-(\d+)$/.exec(spec);
  if (range !== null) {
    const from = Number(range[1]);
    const to = Number(range[2]);
    if (to < from) throw new Error(`bad version range ${spec}`);
    return { from, to };
  }
  const one = /^(\d+)$/.exec(spec);
  if (one !== null) return { from: Number(one[1]), to: Number(one[1]) };
  throw new Error(`bad version range ${spec}`);
}

export function inRange(range: VersionRange | null | undefined, version: number): boolean {
  return (
    range !== null &&
    range !== undefined &&
    version >= range.from &&
    (range.to === undefined || version <= range.to)
  );
}

/** Options of a field beyond its name, type and versions. */
export interface FieldOptions {
  /** Versions it may be null in (strings, bytes, records, arrays, structs). */
  nullable?: string;
  tag?: number;
  /** Defaults to the field's own versions. */
  taggedVersions?: string;
  default?: boolean | number | string | null;
}

/** A field of a primitive type. */
export function f(name: string, type: PrimitiveType, spec: string, options: FieldOptions = {}): FieldDef {
  return field(name, type, spec, options, {});
}

/** An array of a primitive type. */
export function list(
  name: string,
  element: PrimitiveType,
  spec: string,
  options: FieldOptions = {},
): FieldDef {
  return field(name, 'array', spec, options, { element });
}

/** An array of structs, whose TypeScript type is `structName`. */
export function structs(
  name: string,
  structName: string,
  spec: string,
  fields: readonly FieldDef[],
  options: FieldOptions = {},
): FieldDef {
  return field(name, 'array', spec, options, { element: 'struct', structName, fields });
}

/** One struct (not an array of them). */
export function struct(
  name: string,
  structName: string,
  spec: string,
  fields: readonly FieldDef[],
  options: FieldOptions = {},
): FieldDef {
  return field(name, 'struct', spec, options, { structName, fields });
}

function field(
  name: string,
  type: FieldDef['type'],
  spec: string,
  options: FieldOptions,
  rest: Pick<FieldDef, 'element' | 'structName' | 'fields'>,
): FieldDef {
  const range = versions(spec);
  const out: FieldDef = {
    name,
    type,
    ...rest,
    versions: range,
    nullable: options.nullable === undefined ? null : versions(options.nullable),
    ...(options.tag !== undefined
      ? {
          tag: options.tag,
          taggedVersions: versions(options.taggedVersions ?? spec) ?? undefined,
        }
      : {}),
    ...(options.default !== undefined ? { default: options.default } : {}),
  };
  return out;
}

/** One API: its key, name, versions, flexible versions, and both messages' fields. */
export interface ApiDef {
  readonly apiKey: number;
  readonly name: string;
  readonly valid: VersionRange;
  readonly flexible: VersionRange | null;
  readonly request: readonly FieldDef[];
  readonly response: readonly FieldDef[];
}

export function api(
  apiKey: number,
  name: string,
  valid: string,
  flexible: string,
  request: readonly FieldDef[],
  response: readonly FieldDef[],
): ApiDef {
  const range = versions(valid);
  if (range === null) throw new Error(`${name} has no valid versions`);
  return { apiKey, name, valid: range, flexible: versions(flexible), request, response };
}
