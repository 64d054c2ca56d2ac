// Three brokers sharing many Raft groups (broker/replica/raft-groups.ts) in one process: a manual
// clock, a transport that queues envelopes, and in-memory logs. Each group elects, replicates and
// commits; what two brokers exchange for all their groups travels in one envelope per tick.

import { describe, expect, it } from 'vitest';
import type { AppendRequest, Entry, HardState } from '../../../broker/raft/messages.js';
import { MemoryRaftLog } from '../../../broker/raft/raft-log.js';
import { RaftGroups, type Envelope, type GroupStorage } from '../../../broker/replica/raft-groups.js';
import { ManualClock } from '../../../storage/clock.js';
import { seededRandom } from '../../storage/helpers.js';
import { append as leaderAppend } from '../../sim/raft-test-messages.js';

const BROKERS = [1, 2, 3];
/** A group of the three brokers, as one broker's RaftGroups is given it in the single-broker tests. */
const groupConfig = () => ({
  voters: BROKERS,
  electionTicks: 10,
  heartbeatTicks: 2,
  maxEntriesPerAppend: 8,
  random: seededRandom(1),
});
const GROUPS = 20;
const TICK_MS = 10;

interface Cluster {
  readonly clock: ManualClock;
  readonly brokers: Map<number, RaftGroups>;
  readonly logs: Map<string, MemoryRaftLog>;
  readonly hardStates: Map<string, HardState>;
  readonly sent: Envelope[];
  /** Delivers queued envelopes (and what they cause) until none is left. */
  pump(): Promise<void>;
  /** Moves time on tick by tick, pumping after each. */
  advance(ms: number): Promise<void>;
  /** The broker stops: it ticks no more, and nothing reaches it or leaves it. */
  stop(id: number): void;
}

function cluster(
  persistWhen: GroupStorage['persistWhen'],
  flushed: () => Promise<void> = () => Promise.resolve(),
  quiesce = false,
): Cluster {
  const clock = new ManualClock();
  const random = seededRandom(7);
  const queue: Envelope[] = [];
  const sent: Envelope[] = [];
  const brokers = new Map<number, RaftGroups>();
  const logs = new Map<string, MemoryRaftLog>();
  const hardStates = new Map<string, HardState>();
  const stopped = new Set<number>();
  for (const self of BROKERS) {
    const transport = {
      send: (e: Envelope) => {
        sent.push(e);
        queue.push(e);
      },
    };
    brokers.set(self, new RaftGroups({ self, transport, clock, tickMs: TICK_MS }));
  }
  for (let p = 0; p < GROUPS; p++) {
    for (const self of BROKERS) {
      const key = `${self}/t-${p}`;
      const log = new MemoryRaftLog();
      logs.set(key, log);
      const storage: GroupStorage = {
        log,
        persistWhen,
        persistHardState: (s) => void hardStates.set(key, s),
        flushed,
      };
      const config = {
        voters: BROKERS,
        electionTicks: 10,
        heartbeatTicks: 2,
        maxEntriesPerAppend: 8,
        random,
        quiesce,
      };
      const hardState = { term: 0, votedFor: null, amnesiac: false };
      const listener = { roleChanged: () => undefined, highWatermark: () => undefined };
      brokers.get(self)!.add(`t-${p}`, config, hardState, storage, listener);
    }
  }
  const pump = async (): Promise<void> => {
    for (let round = 0; round < 10_000; round++) {
      await new Promise((resolve) => setImmediate(resolve)); // flush completions
      const e = queue.shift();
      if (e === undefined) return;
      // A stopped broker sends and takes nothing.
      if (!stopped.has(e.from) && !stopped.has(e.to)) brokers.get(e.to)!.receive(e);
    }
    throw new Error('the envelopes never stopped');
  };
  const advance = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += TICK_MS) {
      clock.advance(TICK_MS);
      await pump();
    }
  };
  const stop = (id: number): void => {
    stopped.add(id);
    brokers.get(id)!.close();
  };
  return { clock, brokers, logs, hardStates, sent, pump, advance, stop };
}

function leaderOf(c: Cluster, group: string): number | null {
  for (const [id, b] of c.brokers) if (b.node(group)?.role === 'leader') return id;
  return null;
}

describe.each(['written', 'flushed'] as const)('raft groups, entries persisted when %s', (persistWhen) => {
  it('elects a leader per group, replicates and commits, and carries every group in one envelope per tick', async () => {
    const c = cluster(persistWhen);
    await c.advance(1_000);
    const leaders = Array.from({ length: GROUPS }, (_, p) => leaderOf(c, `t-${p}`));
    expect(leaders.every((l) => l !== null)).toBe(true);
    // Terms and votes reached the hard-state store before the messages that announced them.
    expect([...c.hardStates.values()].some((s) => s.term > 0)).toBe(true);

    // Quiet: only heartbeats. Each tick, a broker sends each peer at most one envelope of its own
    // and one of answers, however many groups they share.
    c.sent.length = 0;
    const ticks = 20;
    await c.advance(ticks * TICK_MS);
    const pairs = BROKERS.length * (BROKERS.length - 1);
    expect(c.sent.length).toBeLessThanOrEqual(ticks * pairs * 2);
    const messages = c.sent.reduce((sum, e) => sum + e.messages.length, 0);
    // A heartbeat and its answer per follower per group, every other tick.
    expect(messages).toBeGreaterThanOrEqual((ticks / 2) * GROUPS * 2 * 2);
    const groupsPerEnvelope = c.sent.map((e) => new Set(e.messages.map((m) => m.group)).size);
    expect(Math.max(...groupsPerEnvelope)).toBeGreaterThan(1);

    // A write in every group commits on every replica, byte for byte.
    for (let p = 0; p < GROUPS; p++) {
      const g = `t-${p}`;
      const offset = c.brokers.get(leaders[p]!)!.propose(g, Buffer.from(`batch ${p}`), 3);
      expect(offset).not.toBeNull();
    }
    await c.advance(10 * TICK_MS);
    for (let p = 0; p < GROUPS; p++) {
      const g = `t-${p}`;
      const leadLog = c.logs.get(`${leaders[p]}/${g}`)!;
      const last = leadLog.all().at(-1)!;
      expect(Buffer.from(last.data).toString()).toBe(`batch ${p}`);
      for (const b of BROKERS) {
        expect(c.brokers.get(b)!.node(g)!.highWatermark).toBe(leadLog.end);
        expect(c.logs.get(`${b}/${g}`)!.all()).toEqual(leadLog.all());
      }
    }
    for (const b of c.brokers.values()) b.close();
  });
});

it('entries whose flush never completes do not count: the commit waits', async () => {
  let hold = false;
  const c = cluster('flushed', () => (hold ? new Promise<void>(() => undefined) : Promise.resolve()));
  await c.advance(1_000);
  const g = 't-0';
  const leader = leaderOf(c, g)!;
  const lead = c.brokers.get(leader)!;
  lead.propose(g, Buffer.from('flushed'), 1);
  await c.advance(5 * TICK_MS);
  const committed = lead.node(g)!.highWatermark;
  expect(committed).toBe(c.logs.get(`${leader}/${g}`)!.end);
  // Every replica's flushes now hang (a stuck disk): the new entry is everywhere, counted nowhere.
  hold = true;
  lead.propose(g, Buffer.from('held'), 1);
  await c.advance(20 * TICK_MS);
  for (const b of BROKERS) expect(c.logs.get(`${b}/${g}`)!.end).toBe(committed + 1);
  expect(lead.node(g)!.highWatermark).toBe(committed);
  for (const b of c.brokers.values()) b.close();
});

describe.each(['written', 'flushed'] as const)('a follower, entries persisted when %s', (persistWhen) => {
  it('that cuts a diverged suffix and takes its leader’s entries in one step counts them persisted', async () => {
    const entry = (offset: number, count: number, term: number): Entry => ({
      offset,
      count,
      term,
      kind: 'data',
      data: Buffer.from(`${offset}/${term}`),
    });
    // Given a follower in term 2 whose log holds offsets 0-11 of term 1, then 12-32 of a deposed
    // leader of term 2
    const log = new MemoryRaftLog([entry(0, 12, 1), entry(12, 21, 2)]);
    const sent: Envelope[] = [];
    const groups = new RaftGroups({
      self: 2,
      transport: { send: (e) => void sent.push(e) },
      clock: new ManualClock(),
      tickMs: TICK_MS,
    });
    const config = groupConfig();
    const storage: GroupStorage = {
      log,
      persistWhen,
      persistHardState: () => undefined,
      flushed: () => Promise.resolve(),
    };
    const listener = { roleChanged: () => undefined, highWatermark: () => undefined };
    groups.add('g', config, { term: 2, votedFor: null, amnesiac: false }, storage, listener);

    // When the leader of term 3, whose log holds 0-11 of term 1 then 12-13 of term 3 and commits
    // through 14, sends it those two offsets (the log ends lower than before: 14, not 33)
    const append: AppendRequest = {
      type: 'append',
      from: 1,
      to: 2,
      term: 3,
      prevOffset: 11,
      prevTerm: 1,
      entries: [entry(12, 2, 3)],
      fromStart: false,
      startMembership: null,
      startState: null,
      commitEnd: 14,
      incarnation: 0,
      rejoinEnd: 0,
    };
    groups.receive({ from: 1, to: 2, messages: [{ group: 'g', message: append }] });
    await new Promise((resolve) => setImmediate(resolve));

    // Then the new entries count as persisted: the follower's high watermark reaches the leader's
    // commit, and its last answer tells the leader they are durable
    expect(log.end).toBe(14);
    expect(groups.node('g')!.highWatermark).toBe(14);
    const answers = sent
      .flatMap((e) => e.messages.map((m) => m.message))
      .filter((m) => m.type === 'appendResponse');
    expect(answers.at(-1)).toMatchObject({ success: true, matchEnd: 14, durableEnd: 14 });
    groups.close();
  });
});

describe('a group that fails on its own', () => {
  it('is removed and reported, and the broker’s other groups go on taking messages', () => {
    const entry: Entry = { offset: 0, count: 1, term: 1, kind: 'data', data: Buffer.from('x') };
    const failed: [string, string][] = [];
    const sent: Envelope[] = [];
    const groups = new RaftGroups({
      self: 2,
      transport: { send: (e) => void sent.push(e) },
      clock: new ManualClock(),
      tickMs: TICK_MS,
      onGroupFailed: (group, err) => failed.push([group, (err as Error).message]),
    });
    const config = groupConfig();
    const listener = { roleChanged: () => undefined, highWatermark: () => undefined };
    const logs = { bad: new MemoryRaftLog(), good: new MemoryRaftLog() };
    // The bad group's disk fails on the append its leader's message asks for.
    logs.bad.append = (): void => {
      throw new Error('EIO: the disk failed');
    };
    for (const [name, log] of Object.entries(logs)) {
      const storage: GroupStorage = {
        log,
        persistWhen: 'written',
        persistHardState: () => undefined,
        flushed: () => Promise.resolve(),
      };
      groups.add(name, config, { term: 1, votedFor: null, amnesiac: false }, storage, listener);
    }
    const append = (group: string): Envelope['messages'][number] => ({
      group,
      message: { ...leaderAppend(1, 2, 1, -1, 0, [entry], 1), incarnation: 0 },
    });
    expect(() => groups.receive({ from: 1, to: 2, messages: [append('bad'), append('good')] })).not.toThrow();
    expect(failed).toEqual([['bad', 'EIO: the disk failed']]);
    expect(groups.node('bad')).toBeUndefined();
    expect(logs.good.end).toBe(1);
    expect(groups.node('good')!.highWatermark).toBe(1);
    groups.close();
  });
});

describe('the totals of a broker’s groups', () => {
  it('count each group’s elections and time each leader append to its commit', async () => {
    const c = cluster('flushed');
    await c.advance(1_000);
    const all = [...c.brokers.values()].map((b) => b.totals);
    const won = all.reduce((n, t) => n + t.electionsWon, 0);
    // Every group elected a leader; each win followed an election its winner started.
    expect(won).toBeGreaterThanOrEqual(GROUPS);
    expect(all.reduce((n, t) => n + t.electionsStarted, 0)).toBeGreaterThanOrEqual(won);
    expect(all.every((t) => t.electionsStarted >= t.electionsWon)).toBe(true);

    const before = all.map((t) => t.commitCount);
    const leaders = Array.from({ length: GROUPS }, (_, p) => leaderOf(c, `t-${p}`)!);
    for (let p = 0; p < GROUPS; p++) c.brokers.get(leaders[p]!)!.propose(`t-${p}`, Buffer.from('x'), 1);
    // Not committed before the followers answered: nothing timed yet.
    expect(all.map((t) => t.commitCount)).toEqual(before);
    await c.advance(5 * TICK_MS);
    for (const [id, b] of c.brokers) {
      const led = leaders.filter((l) => l === id).length;
      expect(b.totals.commitCount - before[id - 1]!).toBe(led);
    }
    const counted = all.reduce((n, t) => n + t.commitBuckets.reduce((a, x) => a + x, 0), 0);
    expect(counted).toBe(all.reduce((n, t) => n + t.commitCount, 0));
    for (const b of c.brokers.values()) b.close();
  });
});

describe('raft groups that quiesce', () => {
  it('exchange only one empty envelope per peer per heartbeat once idle, and fail over when a broker stops', async () => {
    const c = cluster('written', undefined, true);
    // Given every group elected and idle long enough to go quiet
    await c.advance(1_000);
    const groups = Array.from({ length: GROUPS }, (_, p) => `t-${p}`);
    expect(groups.every((g) => leaderOf(c, g) !== null)).toBe(true);
    expect(groups.every((g) => BROKERS.every((b) => c.brokers.get(b)!.node(g)!.quiesced))).toBe(true);

    // Then the brokers only pulse each other: one empty envelope per pair per heartbeat (2 ticks)
    c.sent.length = 0;
    await c.advance(20 * TICK_MS);
    expect(c.sent.every((e) => e.messages.length === 0)).toBe(true);
    expect(c.sent.length).toBe(10 * BROKERS.length * (BROKERS.length - 1));

    // When a broker that leads some groups stops
    const counts = new Map<number, number>();
    for (const g of groups) counts.set(leaderOf(c, g)!, (counts.get(leaderOf(c, g)!) ?? 0) + 1);
    const victim = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const led = groups.filter((g) => leaderOf(c, g) === victim);
    c.stop(victim);

    // Then the others suspect it, their quiet followers wake, and every group it led elects anew
    await c.advance(1_000);
    for (const g of led) {
      const now = BROKERS.filter((b) => b !== victim && c.brokers.get(b)!.node(g)!.role === 'leader');
      expect(now).toHaveLength(1);
    }
  });
});
