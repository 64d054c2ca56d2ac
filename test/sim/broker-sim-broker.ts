// One simulated broker: its disk (a MemoryFs that outlives the process), and while it runs a
// process on it: the log manager opening every partition log from that disk (the real loader and
// recovery), each partition's Raft log over its PartitionLog and leader-epoch cache, its term and
// vote in `raft-state`, and one RaftGroups driving every group from the simulation's clock and
// sending through its network.
//
// Each partition joins its group as PartitionReplica.join does (same files, same Raft config), but
// at the level of RaftGroups.add: the simulation knows which restarts were power losses (join
// infers it from the host's boot id, which the simulated hosts do not have), gives an amnesiac
// replica a new Raft incarnation, and turns on broken variants of the protocol for the negative
// controls, none of which join takes. What the replica is told at start-up (amnesia,
// incarnation) stands in for what the controller would tell a real broker: the simulation
// remembers it beside the disk, as the controller remembers a broker's epoch.

import type { Entry, HardState } from '../../broker/raft/messages.js';
import type { RaftFaults } from '../../broker/raft/raft-config.js';
import type { RaftLogStore } from '../../broker/raft/raft-log.js';
import type { MembershipAt } from '../../broker/raft/membership.js';
import type { RaftNode } from '../../broker/raft/raft-node.js';
import { PartitionRaftLog } from '../../broker/replica/partition-raft-log.js';
import { RaftGroups, type Envelope, type GroupStorage } from '../../broker/replica/raft-groups.js';
import type { Clock } from '../../proto/clock.js';
import {
  LeaderEpochCache,
  LogManager,
  NO_VOTE,
  RaftStateFile,
  logConfigFrom,
  type LogConfig,
  type PartitionLog,
} from '../../storage/index.js';
import { ProcessFs } from './broker-sim-fs.js';
import { MemoryFs } from './memory-fs.js';

export const TOPIC = 'sim';
export const DATA_DIR = '/data';
export const TICK_MS = 10;
/** Every group has these voters: the three brokers. */
export const VOTERS: readonly number[] = [1, 2, 3];
/** Far enough that it never comes within a run (retention and compaction stay out of it). */
const NEVER_MS = 1_000_000_000;

export function groupKey(partition: number): string {
  return `${TOPIC}/${partition}`;
}

/** What counts as persisted: written (the page cache, the default) or flushed (flush.messages=1). */
export type FlushPolicy = 'written' | 'flushed';

/** What a broker needs from the simulation around it. */
export interface BrokerHost {
  readonly rand: () => number;
  readonly policy: FlushPolicy;
  readonly segmentBytes: number;
  readonly checkpointIntervalMs: number;
  readonly faults: RaftFaults;
  /**
   * Negative control: a broker restarts after a power loss as if it had lost nothing (not amnesiac,
   * same incarnation): what a replica that cannot tell a reboot from a process crash would do.
   */
  readonly forgetAmnesia: boolean;
  /** A clock for the broker's process now running: its timers die with it. */
  clockFor(b: SimBroker): Clock;
  /** Lands one fdatasync of the broker's disk later. */
  scheduleSync(b: SimBroker, complete: () => void): void;
  send(envelope: Envelope): void;
  /** A replica appended `entry` (as read back from its log) after an entry of `prevTerm`. */
  onAppend(key: string, id: number, entry: Entry, prevTerm: number): void;
  /**
   * Resolves once `log` is flushed through `end`. The broker's own wiring is log.waitFlushed (as
   * PartitionReplica.join has it), but a waiter it leaves above the log end (the log was cut below
   * `end` before the flush landed: a deposed leader truncated) makes LogFlusher restart an empty
   * sync from every completion, a promise loop that starves the event loop (seed 505 with
   * `flushWaitInLog`); so by default the simulation waits itself, from its own agenda.
   */
  whenFlushed(b: SimBroker, log: PartitionLog, end: number): Promise<void>;
}

interface Running {
  readonly fs: ProcessFs;
  readonly manager: LogManager;
  readonly groups: RaftGroups;
  readonly logs: Map<string, PartitionRaftLog>;
}

export class SimBroker {
  /** The disk: it survives a process crash whole, and a power loss as MemoryFs.crash leaves it. */
  disk: MemoryFs;
  /** Bumped at each start: a timer of an earlier process never fires. */
  life = 0;
  /** The Raft incarnation: bumped each time the broker may have lost what it acknowledged. */
  lives = 0;
  /** Groups whose replica must start amnesiac (a power loss under the page-cache policy). */
  readonly amnesiac = new Set<string>();
  private running: Running | null = null;
  private readonly config: LogConfig;

  constructor(
    readonly id: number,
    private readonly host: BrokerHost,
    readonly keys: readonly string[],
  ) {
    this.disk = new MemoryFs({ schedule: (fn) => host.scheduleSync(this, fn) });
    // The data directory exists, durably, before the broker first starts (as an installed broker's
    // does): LogManager.open creates a missing one but does not fsync its parent, so a power loss
    // soon after a first start would otherwise take the whole directory, raft-state files included.
    this.disk.mkdirSync(DATA_DIR);
    this.disk.fsyncDirSync('/');
    this.config = logConfigFrom({
      'segment.bytes': host.segmentBytes,
      'index.interval.bytes': 256,
      ...(host.policy === 'flushed' ? { 'flush.messages': 1 } : {}),
    });
  }

  get up(): boolean {
    return this.running !== null;
  }

  get groups(): RaftGroups | null {
    return this.running?.groups ?? null;
  }

  node(key: string): RaftNode | null {
    return this.running?.groups.node(key) ?? null;
  }

  raftLog(key: string): PartitionRaftLog | null {
    return this.running?.logs.get(key) ?? null;
  }

  partitionLog(key: string): PartitionLog | null {
    return this.raftLog(key)?.log ?? null;
  }

  /** Boots a process on the disk: storage opens (recovering what needs it) and every group joins. */
  start(): void {
    if (this.running !== null) throw new Error(`broker ${this.id} is already running`);
    this.life++;
    const fs = new ProcessFs(this.disk);
    const clock = this.host.clockFor(this);
    const manager = LogManager.open(
      {
        dataDir: DATA_DIR,
        checkpointIntervalMs: this.host.checkpointIntervalMs,
        retentionCheckIntervalMs: NEVER_MS,
        cleanerBackoffMs: NEVER_MS,
      },
      { fs, clock, configFor: () => this.config },
    );
    manager.startBackgroundTasks();
    const groups = new RaftGroups({
      self: this.id,
      transport: { send: (e) => this.host.send(e) },
      clock,
      tickMs: TICK_MS,
    });
    const logs = new Map<string, PartitionRaftLog>();
    this.running = { fs, manager, groups, logs };
    this.keys.forEach((key, partition) => {
      const log = manager.getLog(TOPIC, partition) ?? manager.createLog(TOPIC, partition, this.config);
      const cache = LeaderEpochCache.open(fs, log.dir);
      const state = RaftStateFile.open(fs, log.dir, {
        bootId: null,
        newReplicaId: () => replicaIdOf(this.id, partition),
      });
      const self = this.id;
      const raftLog = PartitionRaftLog.open(fs, log, cache, {
        leaderChange: () => ({ leaderId: self, voters: [...VOTERS], grantingVoters: [self] }),
        now: () => clock.now(),
      });
      logs.set(key, raftLog);
      const hardState: HardState = {
        term: state.currentTerm,
        votedFor: state.votedFor === NO_VOTE ? null : state.votedFor,
        amnesiac: this.amnesiac.has(key) && !this.host.forgetAmnesia,
      };
      const storage: GroupStorage = {
        log: new CheckedLog(raftLog, (entry, prevTerm) => this.host.onAppend(key, self, entry, prevTerm)),
        persistWhen: this.host.policy,
        persistHardState: (s) =>
          state.persist({ currentTerm: s.term, votedFor: s.votedFor ?? NO_VOTE, amnesiac: s.amnesiac }),
        flushed: (end) => this.host.whenFlushed(this, log, end),
      };
      const config = {
        voters: VOTERS,
        electionTicks: 10,
        heartbeatTicks: 2,
        maxEntriesPerAppend: 64,
        random: this.host.rand,
        incarnation: this.host.forgetAmnesia ? 0 : this.lives,
        faults: this.host.faults,
      };
      groups.add(key, config, hardState, storage, { roleChanged: noop, highWatermark: noop });
    });
  }

  /**
   * The process dies. A `process` crash keeps the disk as written; a `power` loss keeps what
   * MemoryFs.crash leaves, and under the page-cache policy the broker may have lost entries it
   * acknowledged, so it comes back amnesiac in a new incarnation.
   */
  crash(kind: 'process' | 'power'): void {
    const r = this.running;
    if (r === null) return;
    this.running = null;
    r.groups.close();
    r.fs.kill();
    if (kind === 'power') {
      this.disk = this.disk.crash(this.host.rand);
      if (this.host.policy === 'written') {
        this.lives++;
        for (const key of this.keys) this.amnesiac.add(key);
      }
    }
  }

  /** Forgets the amnesia of groups whose replica a leader has brought back up to its commit point. */
  noteRecovered(): void {
    for (const key of this.amnesiac) if (this.node(key)?.isAmnesiac === false) this.amnesiac.delete(key);
  }
}

function noop(): void {}

/**
 * The Raft log as the group sees it, reporting each append (read back through the storage path)
 * to the simulation's checker.
 */
class CheckedLog implements RaftLogStore {
  constructor(
    private readonly inner: PartitionRaftLog,
    private readonly appended: (entry: Entry, prevTerm: number) => void,
  ) {}

  get start(): number {
    return this.inner.start;
  }
  get startTerm(): number {
    return this.inner.startTerm;
  }
  get end(): number {
    return this.inner.end;
  }
  get lastTerm(): number {
    return this.inner.lastTerm;
  }
  termAt(offset: number): number {
    return this.inner.termAt(offset);
  }
  entryStart(offset: number): number {
    return this.inner.entryStart(offset);
  }
  termStart(offset: number): number {
    return this.inner.termStart(offset);
  }
  read(from: number, max: number, maxBytes?: number): Entry[] {
    return this.inner.read(from, max, maxBytes);
  }
  append(entry: Entry): void {
    const prevTerm = this.inner.lastTerm;
    this.inner.append(entry);
    const stored = this.inner.read(entry.offset, 1)[0];
    if (stored?.offset !== entry.offset) throw new Error(`the entry at ${entry.offset} does not read back`);
    // A copy: the read may hand out a view of a buffer the storage reuses.
    this.appended({ ...stored, data: Buffer.from(stored.data) }, prevTerm);
  }
  truncateFrom(from: number): void {
    this.inner.truncateFrom(from);
  }
  resetTo(start: number, startTerm: number, membership: MembershipAt | null, state: Uint8Array | null): void {
    this.inner.resetTo(start, startTerm, membership, state);
  }
  get startState(): Uint8Array | null {
    return this.inner.startState;
  }
  membershipBefore(offset: number): MembershipAt | null {
    return this.inner.membershipBefore(offset);
  }
}

/** A replica id for broker `broker`'s replica of `partition`: a UUID of the seedless form the file takes. */
function replicaIdOf(broker: number, partition: number): string {
  const hex = (broker * 1000 + partition).toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}
