// Bad input to the Kafka request decoders: valid requests of every API and version, then cut short,
// with bytes overwritten, or with a length field claiming far more than is there. A decoder either
// returns a message or throws WeirError INVALID_REQUEST (the listener then closes the connection);
// it never throws anything else, and never allocates for a claimed size before checking it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import { GENERATED_APIS } from '../../proto/kafka/generated/index.js';
import { KAFKA_APIS } from '../../proto/kafka/messages/index.js';
import { inRange } from '../../proto/kafka/schema.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';
import { FrameReader } from '../../broker/kafka/frames.js';
import { structArb, versionsOf } from './kafka-arbitraries.js';

/** How a valid request's bytes are spoilt. */
type Damage =
  | { kind: 'truncate'; at: number }
  | { kind: 'overwrite'; at: number; bytes: number[] }
  | { kind: 'huge-length'; at: number; width: 1 | 2 | 4 };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('overwrite' as const),
    at: fc.nat(),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 }),
  }),
  fc.record({
    kind: fc.constant('huge-length' as const),
    at: fc.nat(),
    width: fc.constantFrom(1 as const, 2 as const, 4 as const),
  }),
);

function spoil(bytes: Buffer, d: Damage): Buffer {
  if (bytes.length === 0) return bytes;
  const at = d.at % bytes.length;
  if (d.kind === 'truncate') return bytes.subarray(0, at);
  const out = Buffer.from(bytes);
  if (d.kind === 'overwrite') d.bytes.forEach((b, i) => at + i < out.length && (out[at + i] = b));
  // A varint or int16/int32 length of nearly its largest value.
  else if (d.kind === 'huge-length' && d.width === 1) out[at] = 0xff;
  else if (d.kind === 'huge-length' && d.width === 2 && at + 2 <= out.length) out.writeInt16BE(0x7ff0, at);
  else if (d.kind === 'huge-length' && at + 4 <= out.length) out.writeInt32BE(0x7ffffff0, at);
  return out;
}

function decodesOrRefuses(decode: () => unknown): void {
  try {
    decode();
  } catch (err) {
    expect(err).toBeInstanceOf(WeirError);
    expect((err as WeirError).code).toBe('INVALID_REQUEST');
  }
}

describe('Kafka request decoders under bad input', () => {
  for (const def of KAFKA_APIS) {
    const codec = GENERATED_APIS.find((a) => a.apiKey === def.apiKey)!;
    it(`${def.name}: every version decodes or refuses with INVALID_REQUEST`, () => {
      fc.assert(
        fc.property(
          fc
            .constantFrom(...versionsOf(def))
            .chain((v) =>
              fc.tuple(fc.constant(v), structArb(def.request, v, inRange(def.flexible, v)), damage),
            ),
          ([v, request, d]) => {
            const w = new Writer();
            codec.writeRequest(w, v, request as never);
            const bad = spoil(w.toBuffer(), d);
            decodesOrRefuses(() => codec.readRequest(new Reader(bad), v));
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('random bytes never decode into anything but a message or INVALID_REQUEST', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KAFKA_APIS),
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(),
        (def, bytes, pick) => {
          const versions = versionsOf(def);
          const v = versions[pick % versions.length]!;
          const codec = GENERATED_APIS.find((a) => a.apiKey === def.apiKey)!;
          decodesOrRefuses(() => codec.readRequest(new Reader(Buffer.from(bytes)), v));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses a claimed size larger than the bytes left before reading any of it', () => {
    const cases: [string, number[], (r: Reader) => unknown][] = [
      ['classic array', [0x7f, 0xff, 0xff, 0xff, 1, 2], (r) => r.arrayLength(false)],
      ['compact array', [0xff, 0xff, 0xff, 0xff, 0x07, 1], (r) => r.arrayLength(true)],
      ['bytes', [0x7f, 0xff, 0xff, 0xff, 1], (r) => r.bytes(false)],
      ['compact string', [0x90, 0x4e, 1, 2], (r) => r.string(true)],
      ['tagged fields', [0xff, 0xff, 0x03, 0], (r) => r.taggedFields(() => {})],
    ];
    for (const [what, bytes, read] of cases) {
      expect(() => read(new Reader(Buffer.from(bytes))), what).toThrow(
        /elements in|runs past the end|tagged fields in/,
      );
    }
    // A negative length other than null's -1, and a varint of more than 32 bits.
    expect(() => new Reader(Buffer.from([0xff, 0xfe])).string(false)).toThrow(/negative string length/);
    expect(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])).uvarint()).toThrow(
      /exceeds 32 bits/,
    );
  });

  it('a frame reader refuses a size past its limit before the frame arrives, and splits any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }),
        (bodies, cuts) => {
          const stream = Buffer.concat(
            bodies.map((b) => {
              const size = Buffer.alloc(4);
              size.writeInt32BE(b.length);
              return Buffer.concat([size, Buffer.from(b)]);
            }),
          );
          const reader = new FrameReader(64);
          const got: Buffer[] = [];
          for (let at = 0, i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            got.push(...reader.push(stream.subarray(at, at + n)));
            at += n;
          }
          expect(got.map((b) => Buffer.from(b))).toEqual(bodies.map((b) => Buffer.from(b)));
          expect(reader.pending).toBe(0);
        },
      ),
    );
    const reader = new FrameReader(64);
    // 65 bytes claimed: refused on the size alone.
    expect(() => reader.push(Buffer.from([0, 0, 0, 65]))).toThrow(WeirError);
    expect(() => new FrameReader(64).push(Buffer.from([0x80, 0, 0, 0]))).toThrow(/frame of -2147483648/);
  });
});
