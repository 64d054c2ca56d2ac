// Reads the golden batches under test/fixtures/record-batch/ (made by kafkajs, see
// scripts/gen-record-batch-fixtures.ts) and their JSON sidecars.

import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../fixtures/record-batch/', import.meta.url));

export interface FixtureHeader {
  key: string;
  value: string | null;
}

export interface FixtureRecord {
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: FixtureHeader[];
}

export interface Fixture {
  name: string;
  bytes: Buffer;
  description: string;
  batch: {
    baseOffset: number;
    partitionLeaderEpoch: number;
    producerId: number;
    producerEpoch: number;
    baseSequence: number;
    compression: 'none' | 'gzip';
    transactional: boolean;
  };
  records: FixtureRecord[];
}

export function fixtureNames(): string[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.hex'))
    .map((f) => f.slice(0, -'.hex'.length))
    .sort();
}

export function readFixture(name: string): Fixture {
  const hex = readFileSync(`${DIR}${name}.hex`, 'utf8').trim();
  if (!/^([0-9a-f]{2})+$/.test(hex)) throw new Error(`${name}.hex is not lowercase hex`);
  const sidecar = JSON.parse(readFileSync(`${DIR}${name}.json`, 'utf8')) as Omit<Fixture, 'name' | 'bytes'>;
  return { name, bytes: Buffer.from(hex, 'hex'), ...sidecar };
}

export const fromHex = (hex: string | null): Buffer | null => (hex === null ? null : Buffer.from(hex, 'hex'));
