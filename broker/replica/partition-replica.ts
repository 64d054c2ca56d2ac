// A partition's replica in its Raft group: the partition's log as the group's log (PartitionRaftLog
// over the log and its leader-epoch cache), its term, vote and amnesia in `raft-state`, and the
// bridge between the group (RaftGroups) and the Partition: a produce proposes through the group, and
// the group tells the partition its role, leader epoch and high watermark.
//
// What counts as persisted follows the topic's flush policy: with flush.messages=1 an entry counts
// once an fsync covered it, otherwise once it is written (the page cache, as Kafka). On one broker
// every group has one voter, so the replica leads from the moment it is added and commits on its
// own append, exactly as before replication: same offsets, same durability, same answers.
//
// A replica joins amnesiac (HardState.amnesiac: its votes and copies do not count until a leader
// has caught it up) when it may have lost entries it acknowledged: its state says so (an earlier
// start found it amnesiac and no leader has caught it up since); or it counts written entries as
// persisted, the broker did not stop cleanly, and the host booted since the state was written (a
// power loss took the page cache; a process crash alone leaves it, and a clean stop flushed it);
// or it has no state while the group has other voters (a wiped directory, or a new replica: either
// way it holds nothing it could vouch for). A group of one never joins amnesiac: it has nobody to
// catch up from, and electing itself would clear the flag at once.
//
// A replica whose log is damaged at rest (storage/log-loader.ts: a bad batch in a segment it
// trusted) repairs itself when its group has other voters: it is marked amnesiac, durably, then its
// log is cut at the start of the first bad batch (everything before it kept), and it joins as a
// follower. Its copy then counts toward nothing, its vote wins nobody an election (vote-tally.ts),
// a leader will not hand it the leadership (RaftNode.transferLeadership), and it is whole again only
// once caught up to a commit made after its leader heard of this incarnation, which re-sends the
// suffix: the same path as a wiped replica's, which the simulation proves. Before it joins, such a
// replica reads every batch CRC of its log (PartitionLog.verify): after a clean stop the loader reads
// only each segment's tail, and a replica must not lead, nor vote whole, over records it never
// checked. That costs 1.2 to 1.5 s per GiB at start-up (README, Recovery); a group of one is not
// verified (it has nothing to repair from: its consumers meet the damage as an offline partition, or
// their CRC check does), and a damaged one does not join its group at all (replica-manager.ts), so
// nothing cuts its log.
//
// Damage a running replica meets (a read for a consumer or a follower) takes the same path at once:
// the replica leaves its group and joins it again through here (replica-manager.ts, repairLater).
//
// The incarnation (RaftConfig.incarnation) is when the broker started, in ms (a rejoin after
// damage takes the time it rejoins): it grows with every start, so a leader forgets what this
// replica's earlier life acknowledged (without it, a leader holding a stale match for a replica
// that came back shorter would wait on it for ever). A clock set back across a restart only delays
// the catch-up until the next leader, never safety: a leader ignores answers from an incarnation
// below the one it knows.

import { WeirError } from '../../proto/errors.js';
import {
  NO_VOTE,
  RaftStateFile,
  type AppendResult,
  type EpochEntry,
  type LeaderEpochCache,
  type PartitionLog,
  type StorageFs,
} from '../../storage/index.js';
import type { HardState } from '../raft/messages.js';
import type { Role } from '../raft/raft-node.js';
import { PartitionRaftLog } from './partition-raft-log.js';
import type { RaftGroups } from './raft-groups.js';

/** What the Partition hears from its group. */
export interface ReplicaEvents {
  roleChanged(role: Role, term: number, leader: number | null): void;
  highWatermark(hw: number): void;
}

/** What the broker knows at start-up of its host and of its last stop. */
export interface ReplicaStart {
  /** The host's current boot id (a UUID); null when the host does not say. */
  readonly bootId: string | null;
  /** The broker's last stop was clean: it flushed and closed every log. */
  readonly cleanShutdown: boolean;
  /** A fresh UUID: the identity of a replica whose state is created now. */
  newReplicaId(): string;
  /** This start's Raft incarnation: grows with every start (see the file comment). Default 0. */
  readonly incarnation?: number;
}

/** What the replica's state and start-up say about whether it may have lost acknowledged entries. */
export interface AmnesiaFacts {
  readonly self: number;
  readonly voters: readonly number[];
  /** The replica's `raft-state` existed. */
  readonly found: boolean;
  /** The stored flag: an earlier start found it amnesiac, and no leader has caught it up since. */
  readonly storedAmnesiac: boolean;
  /** The boot the state was last written under, and the current one (null: not known). */
  readonly storedBootId: string | null;
  readonly bootId: string | null;
  /** Entries count as persisted once written (the page cache), not once fsynced. */
  readonly pageCache: boolean;
  readonly cleanShutdown: boolean;
  /** The log was cut at damage at rest: it lost entries it may have acknowledged. */
  readonly damaged?: boolean;
}

/** Whether a replica joins its group amnesiac (see the file comment). */
export function amnesiacAtJoin(f: AmnesiaFacts): boolean {
  if (f.voters.length === 1 && f.voters[0] === f.self) return false;
  if (!f.found || f.damaged === true) return true;
  if (f.storedAmnesiac) return true;
  // An unknown boot on either side cannot rule a reboot out.
  const rebooted = f.storedBootId === null || f.bootId === null || f.storedBootId !== f.bootId;
  return f.pageCache && !f.cleanShutdown && rebooted;
}

export interface ReplicaOptions {
  readonly fs: StorageFs;
  readonly groups: RaftGroups;
  /** The group's key among this broker's groups (topic and partition). */
  readonly key: string;
  /** This broker's node id and the group's voters (on one broker: just this one). */
  readonly self: number;
  readonly voters: readonly number[];
  readonly random: () => number;
  readonly start: ReplicaStart;
}

export class PartitionReplica {
  private readonly raftLog: PartitionRaftLog;
  private readonly groups: RaftGroups;
  private readonly key: string;

  private constructor(raftLog: PartitionRaftLog, groups: RaftGroups, key: string) {
    this.raftLog = raftLog;
    this.groups = groups;
    this.key = key;
  }

  /**
   * Opens the replica's Raft state beside `log` and joins the group. The group may elect this
   * replica at once (a group of one does), so `events` must be ready before this is called.
   */
  static join(
    log: PartitionLog,
    cache: LeaderEpochCache,
    options: ReplicaOptions,
    events: ReplicaEvents,
  ): PartitionReplica {
    const { fs, groups, key, self, voters, start } = options;
    const state = RaftStateFile.open(fs, log.dir, {
      bootId: start.bootId,
      newReplicaId: () => start.newReplicaId(),
    });
    const damaged = PartitionReplica.repairDamage(log, state, self, voters);
    const leaderChange = (): { leaderId: number; voters: number[]; grantingVoters: number[] } => ({
      leaderId: self,
      voters: [...voters],
      grantingVoters: [self],
    });
    const raftLog = PartitionRaftLog.open(fs, log, cache, { leaderChange });
    const persistWhen = log.logConfig.flushMessages === 1 ? ('flushed' as const) : ('written' as const);
    const amnesiac = amnesiacAtJoin({
      self,
      voters,
      found: state.found,
      storedAmnesiac: state.amnesiac,
      storedBootId: state.storedBootId,
      bootId: start.bootId,
      pageCache: persistWhen === 'written',
      cleanShutdown: start.cleanShutdown,
      damaged,
    });
    // Durable before the replica acts: the flag, so a second crash does not forget the loss, and
    // the boot, so the next start judges a crash against this boot. A new state that is not
    // amnesiac waits for its first term (a group of one elects itself at once).
    if (state.found || amnesiac) state.persist({ ...state.state, amnesiac });
    const hardState: HardState = {
      term: state.currentTerm,
      votedFor: state.votedFor === NO_VOTE ? null : state.votedFor,
      amnesiac,
    };
    const storage = {
      log: raftLog,
      persistWhen,
      persistHardState: (s: HardState) =>
        state.persist({ currentTerm: s.term, votedFor: s.votedFor ?? NO_VOTE, amnesiac: s.amnesiac }),
      flushed: (end: number) => log.waitFlushed(end),
    };
    const config = {
      voters,
      // Elections after 0.8 to 1.6 s without a leader: a dead leader's writes resume within about
      // 1.1 s on average (2 s at worst) of its death, while a live one still has four heartbeats'
      // time (every 200 ms) to reach a follower, so a leader's loop may stall 0.8 s under load
      // before anyone campaigns (and pre-vote keeps one that lost touch from deposing it).
      electionTicks: 8,
      heartbeatTicks: 2,
      // An idle group stops heartbeating; RaftGroups' failure detector stands in for the silence.
      quiesce: true,
      // An append to a follower carries up to 1 MiB of batches (however small they are: the count
      // only stops a run of tiny ones at a sane length), and up to four go unanswered: a follower
      // far behind is fed in 1 MiB steps as fast as it answers, and a producer's entries for a
      // follower whose window is full go in its next append.
      maxEntriesPerAppend: 4096,
      maxBytesPerAppend: 1024 * 1024,
      maxInflightAppends: 4,
      random: options.random,
      incarnation: start.incarnation ?? 0,
    };
    const replica = new PartitionReplica(raftLog, groups, key);
    groups.add(key, config, hardState, storage, events);
    return replica;
  }

  /**
   * With other voters: reads every batch of the log (verify), and if it is damaged marks the
   * replica amnesiac, durably, then cuts the log at the damage (see the file comment). Whether it
   * was cut. A group of one is left as it is: its holder keeps a damaged log offline.
   */
  private static repairDamage(
    log: PartitionLog,
    state: RaftStateFile,
    self: number,
    voters: readonly number[],
  ): boolean {
    if (voters.length === 1 && voters[0] === self) return false;
    if (log.verify() === null) return false;
    // Amnesiac before the cut: a crash between the two must not forget what the cut took.
    state.persist({ ...state.state, amnesiac: true });
    log.repair();
    return true;
  }

  /**
   * Appends a batch as the leader; where it went. `crcChecked`: the caller checked every record.
   * Throws NOT_LEADER_OR_FOLLOWER when this replica does not lead.
   */
  append(batch: Buffer, count: number, crcChecked: boolean): AppendResult {
    this.raftLog.crcChecked = crcChecked;
    this.raftLog.lastAppend = null;
    let offset: number | null;
    try {
      offset = this.groups.propose(this.key, batch, count);
    } finally {
      this.raftLog.crcChecked = false;
    }
    if (offset === null) throw new WeirError('NOT_LEADER_OR_FOLLOWER', `${this.key} is not led here`);
    const result = this.raftLog.lastAppend as AppendResult | null;
    if (result === null || result.baseOffset !== offset)
      throw new Error(`${this.key}: the append at ${offset} left no result`);
    return result;
  }

  /** What the Raft log keeps of the batches below its start (the producer state), if anything. */
  get startState(): Uint8Array | null {
    return this.raftLog.startState;
  }

  /** Where each leader epoch (Raft term) starts in the log, oldest first: the leader-epoch cache. */
  get leaderEpochs(): EpochEntry[] {
    return this.raftLog.cache.list();
  }

  /** Hands the leadership to replica `to` if it has caught up; null once asked, or why not. */
  transferLeadership(to: number): string | null {
    return this.groups.transferLeadership(this.key, to);
  }

  /** Leaves the group (the partition was deleted or moved away). */
  leave(): void {
    this.groups.remove(this.key);
  }
}
