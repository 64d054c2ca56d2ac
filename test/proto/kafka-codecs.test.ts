// The generated Kafka codecs: for every API and every version, random requests and responses
// (built from the definitions: only the fields that version carries, null only where it may be)
// survive writing and reading back unchanged, and the checked-in generated files are what the
// generator makes of the definitions today.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GENERATED_APIS } from '../../proto/kafka/generated/index.js';
import { KAFKA_APIS } from '../../proto/kafka/messages/index.js';
import { inRange } from '../../proto/kafka/schema.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';
import { GENERATED_DIR, generateAll } from '../../scripts/gen-kafka-codecs.js';
import { structArb, versionsOf } from './kafka-arbitraries.js';

describe('generated Kafka codecs', () => {
  for (const def of KAFKA_APIS) {
    const codec = GENERATED_APIS.find((a) => a.apiKey === def.apiKey)!;
    for (const v of versionsOf(def)) {
      const flexible = inRange(def.flexible, v);
      it(`${def.name} v${v}: requests and responses read back as written`, () => {
        fc.assert(
          fc.property(
            structArb(def.request, v, flexible),
            structArb(def.response, v, flexible),
            (req, res) => {
              const w = new Writer(16);
              codec.writeRequest(w, v, req as never);
              const bytes = w.toBuffer();
              const r = new Reader(bytes);
              expect(codec.readRequest(r, v)).toEqual(req);
              expect(r.remaining).toBe(0);

              const w2 = new Writer(16);
              codec.writeResponse(w2, v, res as never);
              const r2 = new Reader(w2.toBuffer());
              expect(codec.readResponse(r2, v)).toEqual(res);
              expect(r2.remaining).toBe(0);
            },
          ),
          { numRuns: 60 },
        );
      });
    }
  }

  it('the checked-in generated files are what the definitions generate', () => {
    for (const [name, text] of generateAll()) {
      expect(readFileSync(join(GENERATED_DIR, name), 'utf8'), `${name}: run npm run gen:kafka`).toBe(text);
    }
  });

  it('every API with definitions is in the generated table, once', () => {
    expect(GENERATED_APIS.map((a) => a.apiKey)).toEqual(
      KAFKA_APIS.map((a) => a.apiKey).sort((a, b) => a - b),
    );
  });
});
