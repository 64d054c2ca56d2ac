// The classic group under random interleavings: clients that join, sync, heartbeat, leave, stall
// and come back in any order, with time jumping ahead. Whatever happens, per seed:
//   - every held request is answered once, and none is left held once every client is gone;
//   - all members answered into one generation agree on its leader and protocol, and the leader
//     was given every one of them;
//   - a member's assignment is exactly the bytes the leader of its generation sent for it.
// A failing seed is printed, and replays alone with SEED=n.

import { describe, expect, it } from 'vitest';
import { ClassicGroup, type ClassicReply } from '../../../broker/group/classic-group.js';
import type { GroupContext, GroupLimits } from '../../../broker/group/group-protocol.js';
import { WeirError } from '../../../proto/errors.js';

const LIMITS: GroupLimits = {
  heartbeatIntervalMs: 100,
  sessionTimeoutMs: 1000,
  minSessionTimeoutMs: 100,
  maxSessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 2000,
  maxHistory: 10,
};

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Client {
  readonly name: string;
  readonly instanceId: string | null;
  memberId: string;
  generation: number;
  /** A JoinGroup or SyncGroup of this client is held. */
  waiting: 'join' | 'sync' | null;
  leader: boolean;
  members: string[];
}

interface Generation {
  leader: string;
  protocol: string | null;
  joined: Set<string>;
  leaderMembers: string[] | null;
  assigned: Map<string, string> | null;
}

/** Runs one seed; returns how many assignments were handed out (so a run cannot pass idly). */
function run(seed: number): number {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const group = new ClassicGroup('g');
  let now = 0;
  let ids = 0;
  let tickets = 0;
  const ctx = (): GroupContext => ({
    now,
    topics: { partitionCount: () => 0, topicNames: () => [] },
    limits: LIMITS,
    newMemberId: (c) => `${c}-${++ids}`,
  });
  const held = new Map<number, Client>();
  const answered = new Set<number>();
  const generations = new Map<number, Generation>();
  let handedOut = 0;
  const clients: Client[] = Array.from({ length: 4 }, (_, i) => ({
    name: `c${i}`,
    instanceId: i === 3 ? 'static-3' : null,
    memberId: '',
    generation: -1,
    waiting: null,
    leader: false,
    members: [],
  }));

  const genOf = (g: number): Generation => {
    let gen = generations.get(g);
    if (gen === undefined) {
      gen = { leader: '', protocol: null, joined: new Set(), leaderMembers: null, assigned: null };
      generations.set(g, gen);
    }
    return gen;
  };

  const take = (replies: readonly ClassicReply[]): void => {
    for (const r of replies) {
      expect(answered.has(r.ticket), `seed ${seed}: ticket ${r.ticket} answered twice`).toBe(false);
      answered.add(r.ticket);
      const c = held.get(r.ticket);
      held.delete(r.ticket);
      if (c === undefined) continue;
      c.waiting = null;
      if ('join' in r) {
        const a = r.join;
        if (a.error !== null) {
          if (a.error.code === 'MEMBER_ID_REQUIRED') c.memberId = a.memberId;
          else if (a.error.code === 'UNKNOWN_MEMBER_ID' || a.error.code === 'FENCED_INSTANCE_ID')
            c.memberId = '';
          continue;
        }
        c.memberId = a.memberId;
        c.generation = a.generation;
        c.leader = a.leader === a.memberId;
        c.members = a.members.map((m) => m.memberId);
        const gen = genOf(a.generation);
        if (gen.leader === '') [gen.leader, gen.protocol] = [a.leader, a.protocolName];
        expect([a.leader, a.protocolName], `seed ${seed}: generation ${a.generation} disagrees`).toEqual([
          gen.leader,
          gen.protocol,
        ]);
        gen.joined.add(a.memberId);
        if (c.leader && !a.skipAssignment) gen.leaderMembers = c.members;
      } else {
        const a = r.sync;
        if (a.error !== null) continue;
        const gen = genOf(c.generation);
        expect(gen.assigned, `seed ${seed}: a sync answered before the leader's`).not.toBeNull();
        expect(a.assignment.toString(), `seed ${seed}: ${c.memberId}'s bytes`).toBe(
          gen.assigned!.get(c.memberId) ?? '',
        );
        handedOut++;
      }
    }
  };

  const hold = (c: Client, kind: 'join' | 'sync', send: (ticket: number) => ClassicReply[]): void => {
    const ticket = ++tickets;
    held.set(ticket, c);
    c.waiting = kind;
    take(send(ticket));
  };

  const step = (): void => {
    const c = pick(clients);
    const roll = random();
    if (roll < 0.1) {
      now += Math.floor(random() * 1500);
      take(group.tick(ctx()).replies);
      return;
    }
    if (c.waiting !== null) return;
    if (roll < 0.4)
      hold(c, 'join', (t) =>
        group.join(
          {
            memberId: c.memberId,
            instanceId: c.instanceId,
            clientId: c.name,
            host: 'h',
            sessionTimeoutMs: 1000,
            rebalanceTimeoutMs: 1 + Math.floor(random() * 2000),
            protocolType: 'consumer',
            protocols:
              random() < 0.5
                ? [{ name: 'range', metadata: Buffer.from(c.name) }]
                : [
                    { name: 'rr', metadata: Buffer.from(c.name) },
                    { name: 'range', metadata: Buffer.from(c.name) },
                  ],
            requireKnownMemberId: random() < 0.7,
          },
          t,
          ctx(),
        ),
      );
    else if (roll < 0.6) {
      const assignments = c.leader
        ? c.members.map((m) => ({ memberId: m, assignment: Buffer.from(`${m}@${c.generation}`) }))
        : [];
      const gen = genOf(c.generation);
      hold(c, 'sync', (t) => {
        const before = group.state;
        const replies = group.sync(
          {
            memberId: c.memberId,
            instanceId: c.instanceId,
            generation: c.generation,
            protocolType: null,
            protocolName: null,
            assignments,
          },
          t,
          ctx(),
        );
        // The leader's sync that completed the generation fixes every member's bytes.
        if (before === 'CompletingRebalance' && group.state === 'Stable' && gen.assigned === null)
          gen.assigned = new Map(assignments.map((a) => [a.memberId, a.assignment.toString()]));
        return replies;
      });
    } else if (roll < 0.9) {
      try {
        group.heartbeat({ memberId: c.memberId, instanceId: c.instanceId, generation: c.generation }, ctx());
      } catch {
        // The client rejoins on its next turn.
      }
    } else if (c.memberId !== '') {
      take(group.leave([{ memberId: c.memberId, instanceId: c.instanceId }], ctx()).replies);
      c.memberId = '';
    }
  };

  for (let i = 0; i < 400; i++) step();
  for (const gen of generations.values())
    if (gen.leaderMembers !== null)
      for (const m of gen.joined) expect(gen.leaderMembers, `seed ${seed}: leader misses ${m}`).toContain(m);
  // Every client goes away: nothing stays held, and the group empties.
  now += 100_000;
  take(group.tick(ctx()).replies);
  now += 100_000;
  take(group.tick(ctx()).replies);
  // The timeouts alone answered everything: nothing for the coordinator's move to answer.
  expect(held.size, `seed ${seed}: requests still held`).toBe(0);
  expect(group.abandon(new WeirError('NOT_COORDINATOR')), `seed ${seed}`).toEqual([]);
  expect(group.state, `seed ${seed}`).toBe('Empty');
  return handedOut;
}

describe('a classic group under random interleavings', () => {
  const only = process.env['SEED'];
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: 200 }, (_, i) => i + 1);
  it(`keeps its promises over ${seeds.length} seeds`, () => {
    let handedOut = 0;
    for (const seed of seeds) {
      try {
        handedOut += run(seed);
      } catch (err) {
        console.error(`failing seed: ${seed} (replay with SEED=${seed})`);
        throw err;
      }
    }
    expect(handedOut).toBeGreaterThan(seeds.length);
  });
});
