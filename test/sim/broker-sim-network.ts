// The broker simulation's network: what one broker's RaftGroups sends another travels as an
// envelope that may be dropped, delayed, duplicated or reordered, and brokers may be partitioned
// from each other (both ways, or one way only) until the partition heals. Once the simulation
// calls it calm, nothing is dropped any more (envelopes may still be delayed, duplicated and
// reordered) and every partition is healed.
//
// An envelope is copied when sent, as a real transport serializes it then (later changes to the
// sender's buffers do not travel), and again at each delivery (a duplicate is a second decoding).

import type { Message } from '../../broker/raft/messages.js';
import type { Envelope } from '../../broker/replica/raft-groups.js';

export type NetworkEvent = { kind: 'deliver'; e: Envelope } | { kind: 'heal'; pairs: string[] };

export interface NetworkScenario {
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly reorderRate: number;
  /** Delivery takes 1 to this many ms (plus up to 200 when reordered). */
  readonly delayMs: number;
}

export class SimNetwork {
  /** Blocked directions (`from>to`), each with how many partitions block it. */
  private readonly blocked = new Map<string, number>();
  calm = false;

  constructor(
    private readonly rand: () => number,
    private readonly s: NetworkScenario,
    /** Schedules `event` this many ms from now. */
    private readonly schedule: (delayMs: number, event: NetworkEvent) => void,
  ) {}

  send(e: Envelope): void {
    if (!this.calm && this.rand() < this.s.dropRate) return;
    const sent = copyEnvelope(e);
    this.schedule(this.delay(), { kind: 'deliver', e: sent });
    if (this.rand() < this.s.duplicateRate) this.schedule(this.delay(), { kind: 'deliver', e: sent });
  }

  /** The envelope as its receiver decodes it, or null if a partition stops it. */
  arrive(e: Envelope): Envelope | null {
    return this.blocked.has(`${e.from}>${e.to}`) ? null : copyEnvelope(e);
  }

  /** Partitions `ids` at random, both ways or one way; returns the blocked directions. */
  partition(ids: readonly number[]): string[] {
    const pairs: string[] = [];
    if (this.rand() < 0.5) {
      // Both ways: a random side against the rest.
      const side = ids.map(() => this.rand() < 0.5);
      for (let a = 0; a < ids.length; a++)
        for (let b = 0; b < ids.length; b++) if (side[a] !== side[b]) pairs.push(`${ids[a]}>${ids[b]}`);
    } else {
      // One way: a cannot reach b, b still reaches a.
      const a = Math.floor(this.rand() * ids.length);
      const b = (a + 1 + Math.floor(this.rand() * (ids.length - 1))) % ids.length;
      pairs.push(`${ids[a]}>${ids[b]}`);
    }
    for (const p of pairs) this.blocked.set(p, (this.blocked.get(p) ?? 0) + 1);
    this.schedule(50 + Math.floor(this.rand() * 1000), { kind: 'heal', pairs });
    return pairs;
  }

  heal(pairs: readonly string[]): void {
    for (const p of pairs) {
      const c = (this.blocked.get(p) ?? 0) - 1;
      if (c <= 0) this.blocked.delete(p);
      else this.blocked.set(p, c);
    }
  }

  /** The faults stop: nothing is lost from now on. */
  calmDown(): void {
    this.calm = true;
    this.blocked.clear();
  }

  private delay(): number {
    let d = 1 + Math.floor(this.rand() * this.s.delayMs);
    if (this.rand() < this.s.reorderRate) d += Math.floor(this.rand() * 200);
    return d;
  }
}

function copyMessage(m: Message): Message {
  if (m.type !== 'append') return m;
  return { ...m, entries: m.entries.map((e) => ({ ...e, data: Buffer.from(e.data) })) };
}

function copyEnvelope(e: Envelope): Envelope {
  return {
    from: e.from,
    to: e.to,
    messages: e.messages.map((g) => ({ group: g.group, message: copyMessage(g.message) })),
  };
}
