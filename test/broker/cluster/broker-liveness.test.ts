// Broker liveness on the controller: a heartbeat unfences, silence past the session fences, a
// request is asked once until the image shows it, and stale or unknown brokers change nothing.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BrokerLiveness } from '../../../broker/cluster/broker-liveness.js';
import { MetadataImage } from '../../../broker/cluster/metadata-image.js';
import type { MetadataRecord } from '../../../broker/cluster/metadata-records.js';
import { A, fence, unfence } from './arbitraries.js';

const B = '22222222-2222-4222-8222-222222222222';
const SESSION_MS = 1000;

function register(image: MetadataImage, nodeId: number, incarnation = A): void {
  image.apply({
    type: 'registerBroker',
    nodeId,
    incarnation,
    host: 'h',
    grpcPort: 1,
    httpPort: 2,
    replicationPort: 3,
  });
}

/** Applies what liveness asked for, as the committed log would. */
function commit(image: MetadataImage, records: MetadataRecord[]): MetadataRecord[] {
  for (const r of records) expect(image.apply(r)).toBeNull();
  return records;
}

describe('heartbeats', () => {
  it('the first heartbeat of a registered, fenced broker unfences it', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    expect(commit(image, liveness.heartbeat(1, A, 0))).toEqual([unfence(1)]);
    expect(image.broker(1)?.fenced).toBe(false);
    expect(liveness.heartbeat(1, A, 10)).toEqual([]);
  });

  it('asks to unfence once until the image shows it', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    expect(liveness.heartbeat(1, A, 0)).toEqual([unfence(1)]);
    expect(liveness.heartbeat(1, A, 10)).toEqual([]);
    commit(image, [unfence(1)]);
    commit(image, [fence(1)]); // fenced again by some other hand: a heartbeat unfences it afresh
    expect(liveness.heartbeat(1, A, 20)).toEqual([unfence(1)]);
  });

  it('ignores a heartbeat of an unregistered broker or of another incarnation', () => {
    const image = new MetadataImage();
    register(image, 1, B);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    expect(liveness.heartbeat(2, A, 0)).toEqual([]);
    expect(liveness.heartbeat(1, A, 0)).toEqual([]);
    expect(image.isCurrent(1, A)).toBe(false);
  });

  it('a stale incarnation does not keep the current one alive', () => {
    const image = new MetadataImage();
    register(image, 1, A);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    commit(image, liveness.heartbeat(1, A, 0));
    register(image, 1, B);
    commit(image, liveness.heartbeat(1, B, 100));
    for (let t = 200; t <= 1100; t += 100) expect(liveness.heartbeat(1, A, t)).toEqual([]);
    expect(liveness.tick(1101)).toEqual([fence(1, B)]);
  });
});

describe('sessions', () => {
  it('fences a broker silent for longer than the session, not at exactly the session', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    commit(image, liveness.heartbeat(1, A, 5000));
    expect(liveness.tick(6000)).toEqual([]);
    expect(commit(image, liveness.tick(6001))).toEqual([fence(1)]);
    expect(image.liveBrokers()).toEqual([]);
    expect(commit(image, liveness.heartbeat(1, A, 6002))).toEqual([unfence(1)]);
  });

  it('a heartbeat renews the session', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    commit(image, liveness.heartbeat(1, A, 0));
    for (let t = 900; t < 10_000; t += 900) {
      liveness.heartbeat(1, A, t);
      expect(liveness.tick(t + 900)).toEqual([]);
    }
  });

  it('a heartbeat only seen (the controller could not plan) renews the session and asks for nothing', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    commit(image, liveness.heartbeat(1, A, 0));
    for (let t = 900; t < 10_000; t += 900) {
      liveness.seen(1, A, t);
      expect(liveness.tick(t + 900)).toEqual([]);
    }
    // Seen as a stale incarnation, or unregistered, it keeps nothing alive.
    liveness.seen(1, B, 10_500);
    liveness.seen(2, A, 10_500);
    expect(liveness.tick(9_900 + SESSION_MS + 1)).toEqual([fence(1)]);
    // Fenced, a broker only seen stays fenced: unfencing waits for a heartbeat that can plan.
    commit(image, [fence(1)]);
    liveness.seen(1, A, 11_000);
    expect(liveness.tick(11_100)).toEqual([]);
    expect(image.broker(1)?.fenced).toBe(true);
  });

  it('asks to fence once until the image shows it', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    commit(image, liveness.heartbeat(1, A, 0));
    expect(liveness.tick(2000)).toEqual([fence(1)]);
    expect(liveness.tick(3000)).toEqual([]);
  });

  it('a new controller starts every session at its first sight of the broker', () => {
    const image = new MetadataImage();
    register(image, 1);
    register(image, 2);
    commit(image, [unfence(1), unfence(2)]);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    expect(liveness.tick(50_000)).toEqual([]);
    liveness.heartbeat(2, A, 50_500);
    expect(liveness.tick(51_001)).toEqual([fence(1)]);
  });

  it('a fenced broker stays fenced without asking again, and a new incarnation gets a new session', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    expect(liveness.tick(0)).toEqual([]);
    expect(liveness.tick(5000)).toEqual([]);
    register(image, 1, B);
    expect(commit(image, liveness.heartbeat(1, B, 5000))).toEqual([unfence(1, B)]);
    expect(liveness.tick(6000)).toEqual([]);
    expect(liveness.tick(6001)).toEqual([fence(1, B)]);
  });

  it('a new incarnation unfenced by an earlier controller gets a session of its own', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    commit(image, liveness.heartbeat(1, A, 0));
    register(image, 1, B);
    image.apply(unfence(1, B));
    expect(liveness.tick(1500)).toEqual([]);
    expect(liveness.tick(2501)).toEqual([fence(1, B)]);
  });

  it('a clock that goes back counts as no time passing', () => {
    const image = new MetadataImage();
    register(image, 1);
    const liveness = new BrokerLiveness(image, SESSION_MS);
    commit(image, liveness.heartbeat(1, A, 10_000));
    liveness.heartbeat(1, A, 3000);
    expect(liveness.tick(11_000)).toEqual([]);
    expect(liveness.tick(11_001)).toEqual([fence(1)]);
  });

  it('refuses a session timeout that is not a positive integer (a bug of the wiring)', () => {
    expect(() => new BrokerLiveness(new MetadataImage(), 0)).toThrow(/sessionTimeoutMs/);
  });
});

describe('any run', () => {
  type Step =
    | { kind: 'heartbeat'; nodeId: number; stale: boolean; dt: number }
    | { kind: 'tick'; dt: number }
    | { kind: 'commit' }
    | { kind: 'earlier controller'; nodeId: number; fence: boolean };
  const nodeId = fc.integer({ min: 0, max: 3 });
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('heartbeat' as const), nodeId, stale: fc.boolean(), dt: fc.nat(700) }),
    fc.record({ kind: fc.constant('tick' as const), dt: fc.nat(700) }),
    fc.record({ kind: fc.constant('commit' as const) }),
    fc.record({ kind: fc.constant('earlier controller' as const), nodeId, fence: fc.boolean() }),
  );

  it('asks once for what fits, fences only the silent, and unfences whoever heartbeats in the end', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const image = new MetadataImage();
        for (let id = 0; id < 3; id++) register(image, id); // node 3 never registers
        const liveness = new BrokerLiveness(image, SESSION_MS);
        const heard = new Map<number, number>();
        let pending: MetadataRecord[] = [];
        // Asked and not yet committed, with no other change to the broker since: not to be asked again.
        const awaited = new Set<string>();
        const flush = (): void => {
          for (const r of pending) image.apply(r);
          pending = [];
          awaited.clear();
        };
        let now = 0;
        for (const s of steps) {
          if (s.kind === 'commit') flush();
          if (s.kind === 'earlier controller') {
            image.apply(s.fence ? fence(s.nodeId) : unfence(s.nodeId));
            awaited.delete(`fenceBroker ${s.nodeId}`);
            awaited.delete(`unfenceBroker ${s.nodeId}`);
          }
          if (s.kind !== 'tick' && s.kind !== 'heartbeat') continue;
          now += s.dt;
          const records =
            s.kind === 'tick' ? liveness.tick(now) : liveness.heartbeat(s.nodeId, s.stale ? B : A, now);
          if (s.kind === 'heartbeat' && !s.stale && s.nodeId < 3) heard.set(s.nodeId, now);
          for (const r of records) {
            if (r.type !== 'fenceBroker' && r.type !== 'unfenceBroker') throw new Error(`asked ${r.type}`);
            if (r.type === 'fenceBroker')
              expect(now - (heard.get(r.nodeId) ?? 0)).toBeGreaterThan(SESSION_MS);
            expect(r.incarnation).toBe(A);
            expect(image.broker(r.nodeId)?.fenced).toBe(r.type === 'unfenceBroker');
            expect(awaited.has(`${r.type} ${r.nodeId}`)).toBe(false);
            awaited.add(`${r.type} ${r.nodeId}`);
            pending.push(r);
          }
        }
        flush();
        for (let id = 0; id < 3; id++) commit(image, liveness.heartbeat(id, A, now));
        expect(image.liveBrokers().map((b) => b.nodeId)).toEqual([0, 1, 2]);
      }),
      { numRuns: 300 },
    );
  });
});
