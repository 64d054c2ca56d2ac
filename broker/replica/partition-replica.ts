// A partition's replica in its Raft group: the partition's log as the group's log (PartitionRaftLog
// over the log and its leader-epoch cache), its term and vote in `raft-state`, and the bridge
// between the group (RaftGroups) and the Partition: a produce proposes through the group, and the
// group tells the partition its role, leader epoch and high watermark.
//
// What counts as persisted follows the topic's flush policy: with flush.messages=1 an entry counts
// once an fsync covered it, otherwise once it is written (the page cache, as Kafka). On one broker
// every group has one voter, so the replica leads from the moment it is added and commits on its
// own append, exactly as before replication: same offsets, same durability, same answers.

import { WeirError } from '../../proto/errors.js';
import {
  NO_VOTE,
  RaftStateFile,
  type AppendResult,
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

export interface ReplicaOptions {
  readonly fs: StorageFs;
  readonly groups: RaftGroups;
  /** The group's key among this broker's groups (topic and partition). */
  readonly key: string;
  /** This broker's node id and the group's voters (on one broker: just this one). */
  readonly self: number;
  readonly voters: readonly number[];
  readonly random: () => number;
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
    const { fs, groups, key, self, voters } = options;
    const state = RaftStateFile.open(fs, log.dir);
    const leaderChange = (): { leaderId: number; voters: number[]; grantingVoters: number[] } => ({
      leaderId: self,
      voters: [...voters],
      grantingVoters: [self],
    });
    const raftLog = PartitionRaftLog.open(fs, log, cache, { leaderChange });
    const hardState: HardState = {
      term: state.currentTerm,
      votedFor: state.votedFor === NO_VOTE ? null : state.votedFor,
      amnesiac: false,
    };
    const storage = {
      log: raftLog,
      persistWhen: log.logConfig.flushMessages === 1 ? ('flushed' as const) : ('written' as const),
      persistHardState: (s: HardState) => state.persist(s.term, s.votedFor ?? NO_VOTE),
      flushed: (end: number) => log.waitFlushed(end),
    };
    const config = {
      voters,
      electionTicks: 10,
      heartbeatTicks: 2,
      maxEntriesPerAppend: 64,
      random: options.random,
    };
    const replica = new PartitionReplica(raftLog, groups, key);
    groups.add(key, config, hardState, storage, events);
    return replica;
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

  /** Leaves the group (the partition was deleted or moved away). */
  leave(): void {
    this.groups.remove(this.key);
  }
}
