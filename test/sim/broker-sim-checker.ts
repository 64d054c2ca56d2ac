// The broker simulation's checker. Each partition's group gets the Raft simulation's checker
// (raft-checker.ts: election safety, log matching, leader completeness, the committed prefix never
// changing, acknowledged entries in it, no high watermark going back while a replica lives), fed
// with the real replicas: their RaftNode, and their log read back through PartitionRaftLog over
// the real storage. At the end, once the cluster has healed and converged, it checks what only
// real storage can get wrong: every acknowledged batch is in the leader's log at its offset, byte
// for byte, and decodes there (CRC and records) through the read path; and every replica's log is
// byte-identical to the leader's below the high watermark.
//
// The durable-log comparison of raft-checker.ts is off (strictDurable false): what a power loss
// keeps is MemoryFs's business here, and what matters, whether the acknowledged entries survive
// it, is what the run checks.

import { equal } from 'node:assert/strict';
import type { Entry } from '../../broker/raft/messages.js';
import type { MemoryRaftLog } from '../../broker/raft/raft-log.js';
import type { PartitionRaftLog } from '../../broker/replica/partition-raft-log.js';
import { readAllBatches, type StoredBatch } from '../storage/helpers.js';
import { VOTERS, type SimBroker } from './broker-sim-broker.js';
import { RaftChecker, Violation, noCounts, type CheckerCounts, type ReplicaView } from './raft-checker.js';

const NO_DURABLE_LOG = Object.freeze({
  entries: [],
  start: 0,
  startTerm: 0,
  startMembership: null,
  startState: null,
});

function copyEntry(e: Entry): Entry {
  return { ...e, data: Buffer.from(e.data) };
}

/**
 * What RaftChecker reads of a replica's log (start, read, entryAt, all), answered by the real one.
 * Entries are copies: a read may hand out views of buffers the storage reuses.
 */
class StoredLogView {
  constructor(private readonly log: PartitionRaftLog) {}

  get start(): number {
    return this.log.start;
  }

  read(from: number, max: number): Entry[] {
    return this.log.read(from, max).map(copyEntry);
  }

  entryAt(offset: number): Entry | undefined {
    if (offset < this.log.start || offset >= this.log.end) return undefined;
    const e = this.log.read(offset, 1)[0];
    return e?.offset === offset ? copyEntry(e) : undefined;
  }

  all(): Entry[] {
    return this.read(this.log.start, Number.MAX_SAFE_INTEGER);
  }
}

function view(b: SimBroker, key: string): ReplicaView {
  const log = b.raftLog(key);
  return {
    id: b.id,
    node: b.node(key),
    // RaftChecker reads only these four members of a log: the view answers them from storage.
    log: log === null ? null : (new StoredLogView(log) as unknown as MemoryRaftLog),
    durableLog: NO_DURABLE_LOG,
  };
}

export class BrokerChecker {
  private readonly groups = new Map<string, RaftChecker>();
  /** Per group, each acknowledged batch by offset: its bytes as the leader stamped them. */
  readonly acks = new Map<string, Map<number, Buffer>>();

  constructor(keys: readonly string[]) {
    for (const key of keys) {
      // Replica ids are broker ids (1..3), which RaftChecker uses as indexes.
      this.groups.set(key, new RaftChecker(Math.max(...VOTERS) + 1, false));
      this.acks.set(key, new Map());
    }
  }

  get counts(): CheckerCounts {
    const total = noCounts();
    for (const c of this.groups.values())
      for (const k of Object.keys(total) as (keyof CheckerCounts)[]) total[k] += c.counts[k];
    return total;
  }

  get committed(): number {
    let n = 0;
    for (const c of this.groups.values()) n += c.committed.length;
    return n;
  }

  onAppend(key: string, id: number, entry: Entry, prevTerm: number): void {
    this.group(key).onAppend(id, entry, prevTerm);
  }

  onRestart(id: number): void {
    for (const c of this.groups.values()) c.onRestart(id);
  }

  afterStep(brokers: readonly SimBroker[]): void {
    for (const [key, c] of this.groups) c.afterStep(brokers.map((b) => view(b, key)));
  }

  /** The committed entry at `offset` in `key`'s group, if any. */
  committedAt(key: string, offset: number): Entry | undefined {
    return this.group(key).committedAt(offset);
  }

  /** The leader acknowledged the batch at `offset`, whose bytes it stamped are `expected`. */
  onAck(key: string, offset: number, expected: Buffer): void {
    const entry = this.committedAt(key, offset);
    if (entry === undefined || !Buffer.from(entry.data).equals(expected))
      throw new Violation('ack-lost', `${key}: offset ${offset} acknowledged but not the committed batch`);
    this.group(key).onAck(entry);
    this.acks.get(key)!.set(offset, expected);
  }

  /** Once healed and converged: every replica is up, and one leads each group. */
  finalCheck(brokers: readonly SimBroker[]): void {
    for (const [key, c] of this.groups) {
      c.finalCheck(brokers.map((b) => view(b, key)));
      const leader = brokers.find((b) => b.node(key)?.role === 'leader');
      if (leader === undefined) throw new Violation('liveness', `${key}: no leader at the end`);
      const hw = leader.node(key)!.highWatermark;
      const led = readAllBatches(leader.partitionLog(key)!);
      const byOffset = new Map(led.map((batch) => [batch.baseOffset, batch.bytes]));
      for (const [offset, expected] of this.acks.get(key)!) {
        const stored = byOffset.get(offset);
        if (stored === undefined || !stored.equals(expected) || offset >= hw)
          throw new Violation(
            'ack-lost',
            `${key}: acknowledged offset ${offset} is not on leader ${leader.id}`,
          );
      }
      const below = (batches: StoredBatch[]) => batches.filter((batch) => batch.lastOffset < hw);
      const expected = below(led);
      for (const b of brokers) {
        if (b === leader) continue;
        const got = below(readAllBatches(b.partitionLog(key)!));
        equal(b.node(key)!.highWatermark, hw, `${key}: broker ${b.id} high watermark`);
        const same =
          got.length === expected.length &&
          got.every(
            (batch, i) =>
              batch.baseOffset === expected[i]!.baseOffset && batch.bytes.equals(expected[i]!.bytes),
          );
        if (!same)
          throw new Violation(
            'committed-changed',
            `${key}: broker ${b.id}'s log below ${hw} differs from leader ${leader.id}'s`,
          );
      }
    }
  }

  private group(key: string): RaftChecker {
    const c = this.groups.get(key);
    if (c === undefined) throw new Error(`no group ${key}`);
    return c;
  }
}
