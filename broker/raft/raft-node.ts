// One replica of a Raft group as a pure state machine (STYLE 10, 11): inputs are `tick`, `receive`,
// `propose`, `recoveryDone`, `persisted` and `hardStatePersisted` (fsyncs done); outputs are collected
// into a Ready (messages, log actions, the hard state to make durable first, the high watermark).
// No timers, no I/O, no clock: the driver decides when ticks and completions happen, which is what
// lets the simulation replay a seed exactly.
//
// Raft as in the paper, plus: randomized election timeouts, pre-vote (a node asks whether it could
// win before bumping its term, and peers that heard from a leader within the election timeout say
// no, so a partitioned node cannot depose a healthy leader when it returns), check-quorum (a leader
// that has not heard from a majority within an election timeout steps down), a no-op entry first in
// each leader's term (§5.4.2: commit moves only through an entry of the leader's own term; a group
// of one needs none),
// term-by-term backing up on a rejected append, pipelined appends within a window per follower (a
// byte budget per append and a bound on those unanswered, so a follower far behind is fed at the
// pace it answers, not at the pace of proposals), and durability-aware acks: an entry counts toward
// the majority only once it is fsynced on that replica, leader included. The high watermark a
// replica exposes is its commit end capped by its own durable end, so a read below it survives the
// loss of every node's power. Membership changes one replica at a time (membership.ts): learners
// receive the log without voting or counting, and the latest config entry in the log rules. A
// catch-up quota (catch-up-quota.ts), when the driver gives one, holds back appends to members far
// behind that the commit does not need; the node asks it, and offers it again on each tick.
//
// Quiescence (RaftConfig.quiesce), for the thousands of idle groups a broker hosts: a leader with
// nothing uncommitted, nothing in flight and every member holding its whole log durably sends one
// last heartbeat marked `quiesce` and then sends none; a follower whose log that heartbeat matches
// to the end and whose commit it covers stops its election timer. A quiet node's ticks count
// nothing. Any proposal, membership change or transfer, a (pre-)vote request, a message of a newer
// term, an answer showing a member behind, or the driver's peerUp wakes the group. A quiet
// follower cannot notice its leader's death by silence, so the driver's failure detector tells it
// (peerDown): it wakes with its lease on the leader run out and campaigns after the rest of an
// election timeout. A wrong suspicion is safe: the campaign is an ordinary pre-vote, which wakes
// a quiet leader and which the others refuse while they heard from it within a timeout.

import assert from 'node:assert';
import type { RaftConfig } from './raft-config.js';
import { validateRaftConfig } from './raft-config.js';
import { entryEnd, isUpToDate, lastOffsetWithTermAtMost, type RaftLogStore } from './raft-log.js';
import { LeaderProgress, type Progress } from './leader-progress.js';
import { catchingUp } from './catch-up-quota.js';
import {
  applyChange,
  isVoter,
  majorityOf,
  peersOf,
  validateMembership,
  type Membership,
  type MembershipChange,
} from './membership.js';
import { voteAnswer, voteRequest } from './messages.js';
import { VoteTally } from './vote-tally.js';
import type {
  AppendRequest,
  AppendResponse,
  Entry,
  HardState,
  Message,
  Ready,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from './messages.js';

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

const EMPTY = new Uint8Array(0);
const NO_ENTRIES: readonly Entry[] = Object.freeze([]);
/** RaftConfig.maxInflightAppends when not given. */
export const DEFAULT_MAX_INFLIGHT_APPENDS = 8;

/**
 * After a success answer: the appends its match covers leave the follower's window, and so does a
 * probe's (which left `next` where it was): answered, or lost, it is not waited for, since `next`
 * is where sending goes on. Otherwise a lost probe would hold a window of one shut for good, each
 * heartbeat from `next` answered with success.
 */
function answered(pr: Progress): void {
  const inflight = pr.inflight;
  let kept = 0;
  for (const end of inflight) if (end > pr.matchEnd && end <= pr.next) inflight[kept++] = end;
  inflight.length = kept;
}

/** The data bytes of `entries`: what an append costs the catch-up quota. */
function entryBytes(entries: readonly Entry[]): number {
  let bytes = 0;
  for (const e of entries) bytes += e.data.length;
  return bytes;
}

export class RaftNode {
  readonly id: number;
  private readonly config: RaftConfig;
  private readonly log: RaftLogStore;
  /** The group as the latest config entry in the log sets it (the bootstrap voters before any). */
  private membershipNow!: Membership;
  /** Where that config entry is (-1: the bootstrap). */
  private membershipOffset = -1;
  /** Every member but this replica: whom a leader replicates to. */
  private peers: readonly number[] = [];
  /** The voters but this replica. */
  private otherVoters: readonly number[] = [];
  private quorum = 1;
  private voter = false;

  private term: number;
  private votedFor: number | null;
  /** HardState.amnesiac: this replica's votes do not count until a leader has caught it up. */
  private amnesiac: boolean;
  /** Amnesiac follower: the current leader's commit end in its own term, once heard (else 0). */
  private rejoinAt = 0;
  private roleNow: Role = 'follower';
  private leader: number | null = null;
  /** May this replica campaign yet? Not before its local recovery is done. */
  private recovered = false;

  private electionElapsed = 0;
  private electionTimeout = 0;
  private heartbeatElapsed = 0;
  /** Quiesced: no heartbeats (leader) or election timer (follower), and ticks count nothing. */
  private quiet = false;
  /**
   * The peers the driver's failure detector suspects (peerDown, until peerUp); null: none yet. No
   * group quiesces with a suspect in it: a leader needs its heartbeats' answers for check-quorum,
   * and a follower must not be put back to sleep by a late quiesce heartbeat of a leader deemed gone.
   */
  private suspects: Set<number> | null = null;
  /** Ticks since the current leader was last heard from: the pre-vote lease. */
  private sinceLeader = Infinity;
  /** Votes (or pre-votes) of the current round, this replica's own included. */
  private votes: VoteTally;

  /** Raft's commit index as an end: everything below is committed (not necessarily durable here). */
  private commitEnd = 0;
  /** Everything below this end is durable on this replica and matches the in-memory log. */
  private durableEnd: number;
  private hw = 0;
  /** Follower: the current leader's log matches ours below this end; its commit end as last told. */
  private matchedEnd = 0;
  private leaderCommitEnd = 0;
  private progress: LeaderProgress | null = null;
  /**
   * Leader: ticks left of a leadership transfer it asked for (0: none). Meanwhile it takes no
   * proposal, so its target stays caught up through its election (Raft thesis 3.10).
   */
  private transferTicks = 0;

  private hardStateDirty = false;
  private outbox: Message[] = [];

  /** Ticks since this node was made: the time in which a leader's followers' lag is told. */
  private ticksNow = 0;
  /** Elections this node started (its term bumped as a candidate) and won, since it was made. */
  private started = 0;
  private won = 0;

  /**
   * `hardState` and `log` are what survived on disk: every entry of the log is durable. The log is
   * the replica's own from then on: the protocol appends to it and truncates it directly.
   */
  constructor(config: RaftConfig, hardState: HardState, log: RaftLogStore) {
    validateRaftConfig(config);
    this.config = config;
    this.id = config.id;
    this.log = log;
    this.refreshMembership();
    this.term = hardState.term;
    this.votedFor = hardState.votedFor;
    this.amnesiac = hardState.amnesiac;
    // The driver makes a term durable before any entry of that term: a log from the future is a bug.
    assert(
      this.term >= this.log.lastTerm,
      `term ${this.term} behind the log's last term ${this.log.lastTerm}`,
    );
    this.durableEnd = this.log.end;
    this.votes = this.newTally();
    this.resetElectionTimer();
  }

  get role(): Role {
    return this.roleNow;
  }
  get currentTerm(): number {
    return this.term;
  }
  get leaderId(): number | null {
    return this.leader;
  }
  get isAmnesiac(): boolean {
    return this.amnesiac;
  }
  get highWatermark(): number {
    return this.hw;
  }
  get logEnd(): number {
    return this.log.end;
  }
  get membership(): Membership {
    return this.membershipNow;
  }
  /** Where the config entry in force is (-1: the bootstrap voters). */
  get membershipAt(): number {
    return this.membershipOffset;
  }
  /** Quiesced (an idle group): see the header. */
  get quiesced(): boolean {
    return this.quiet;
  }
  /**
   * Ticks since this node was made, those spent quiesced left out: a quiet leader's followers hold
   * its whole log, so their lag (replica-sync.ts) stands still meanwhile.
   */
  get ticks(): number {
    return this.ticksNow;
  }
  get electionsStarted(): number {
    return this.started;
  }
  get electionsWon(): number {
    return this.won;
  }
  /** Leading: each member replicated to and what this leader knows of it; otherwise nothing. */
  followers(): IterableIterator<[number, Readonly<Progress>]> | null {
    return this.roleNow === 'leader' ? this.progress!.members() : null;
  }

  recoveryDone(): void {
    this.recovered = true;
    // A group of one has nobody to wait for.
    if (this.mayCampaign && this.otherVoters.length === 0 && this.roleNow !== 'leader') this.startPreVote();
  }

  tick(): void {
    if (this.quiet) return;
    this.ticksNow++;
    this.electionElapsed++;
    this.sinceLeader++;
    if (this.roleNow === 'leader') {
      // A transfer not done within an election timeout is given up: proposals are taken again.
      if (this.transferTicks > 0) this.transferTicks--;
      if (this.config.catchUpQuota !== undefined) this.offerQuota();
      this.heartbeatElapsed++;
      if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
        this.heartbeatElapsed = 0;
        if (this.mayQuiesce()) return this.quiesce();
        for (const p of this.peers) this.sendAppend(p, 'heartbeat');
      }
      if (this.electionElapsed >= this.config.electionTicks) {
        this.electionElapsed = 0;
        // Check-quorum: a leader cut off from a majority stops acting as one (its clients retry
        // elsewhere) instead of waiting for a higher term to reach it.
        if (!this.progress!.takeQuorumActive(this.otherVoters, this.voter, this.quorum))
          this.becomeFollower(this.term, null);
      }
      return;
    }
    // A learner, or a replica no longer in the group, never campaigns.
    if (this.recovered && this.mayCampaign && this.electionElapsed >= this.electionTimeout)
      this.startPreVote();
  }

  /**
   * Appends `data`, taking `count` offsets, if this replica leads; returns its first offset, or
   * null (the client asks the leader).
   */
  propose(data: Uint8Array, count = 1): number | null {
    // While handing its leadership over, it takes nothing new: an entry appended after the target
    // was found caught up makes the others refuse the target's vote, and the election (the target
    // wins none, then anyone may) costs the group its leader for nothing.
    if (this.roleNow !== 'leader' || this.transferTicks > 0) return null;
    assert(count >= 1, 'an entry takes at least one offset');
    this.wake();
    const offset = this.appendLocal({ offset: this.log.end, count, term: this.term, kind: 'data', data });
    for (const p of this.peers) this.sendAppend(p);
    this.maybeCommit();
    return offset;
  }

  /**
   * Starts a one-replica membership change if this replica leads; the config entry's offset, or why
   * not (the caller retries later or elsewhere). A change waits until the previous one is committed
   * and this leader has committed an entry of its own term; a learner is promoted only once it
   * holds, durably and whole, everything committed.
   */
  proposeMembership(change: MembershipChange): number | string {
    if (this.roleNow !== 'leader') return 'not the leader';
    if (this.transferTicks > 0) return 'a leadership transfer is in flight';
    const faults = this.config.faults;
    if (this.membershipOffset >= this.commitEnd && faults?.overlappingChanges !== true)
      return 'a membership change is in flight';
    if (this.commitEnd <= this.log.start || this.log.termAt(this.commitEnd - 1) !== this.term)
      return 'nothing committed in this term yet';
    if (change.id === this.id && change.kind !== 'remove') return 'a leader is a voter already';
    const next = applyChange(this.membershipNow, change);
    if (typeof next === 'string') return next;
    if (change.kind === 'promote') {
      const pr = this.progress!.of(change.id);
      if (pr.amnesiac || pr.durableEnd < this.commitEnd) return `learner ${change.id} has not caught up`;
    }
    this.wake();
    const offset = this.appendLocal({
      offset: this.log.end,
      count: 1,
      term: this.term,
      kind: 'config',
      data: EMPTY,
      membership: next,
    });
    for (const p of this.peers) this.sendAppend(p);
    this.maybeCommit();
    return offset;
  }

  /**
   * The log below `end`, whose last entry has `lastTerm`, is durable. A sync that raced with a
   * truncation is recognised by the term: (offset, term) names one entry group-wide, and by log
   * matching the whole prefix before it too.
   */
  persisted(end: number, lastTerm: number): void {
    const log = this.log;
    if (end <= this.durableEnd || end > log.end || end < log.start || log.termAt(end - 1) !== lastTerm)
      return;
    this.durableEnd = end;
    if (this.roleNow === 'leader') {
      this.maybeCommit();
      return;
    }
    this.updateHighWatermark();
    this.maybeRejoin();
    if (this.leader !== null && this.matchedEnd > 0) this.sendAppendSuccess(this.leader);
  }

  /** The driver made the hard state of `term` durable. */
  hardStatePersisted(term: number): void {
    if (this.roleNow === 'candidate' && term === this.term && this.votes.won) this.becomeLeader();
  }

  receive(m: Message): void {
    assert(m.to === this.id && m.from !== this.id, 'a message is addressed to this replica from a peer');
    if (m.term > this.term) {
      // A pre-vote must not change the receiver's term (that is its whole point), nor a granted
      // pre-vote answer (it carries the asker's future term, not a real one).
      const preVote = m.type === 'preVote' || (m.type === 'preVoteResponse' && m.granted);
      if (!preVote) this.becomeFollower(m.term, m.type === 'append' ? m.from : null);
    } else if (m.term < this.term) {
      // Tell a stale leader or candidate our term so it steps down; drop stale answers.
      if (m.type === 'append') this.outbox.push(this.appendAnswer(m.from, false, m.prevOffset, 0, 0));
      else if (m.type === 'vote' || m.type === 'preVote')
        this.outbox.push(voteAnswer(m, this.term, false, this.amnesiac));
      return;
    }
    switch (m.type) {
      // Somebody campaigns: a quiet leader heartbeats again (its followers then refuse the
      // campaign), and a quiet follower's lease on its leader starts running out.
      case 'preVote':
        this.wake();
        return this.joining ? undefined : this.onPreVote(m);
      case 'vote':
        this.wake();
        return this.joining ? undefined : this.onVote(m);
      case 'preVoteResponse':
      case 'voteResponse':
        return this.onVoteResponse(m);
      case 'append':
        return this.onAppend(m);
      case 'appendResponse':
        return this.onAppendResponse(m);
      case 'timeoutNow':
        return this.onTimeoutNow(m);
    }
  }

  /**
   * Whether takeReady would hand out a hard state or messages. Most ticks of an idle group only
   * count, so the driver skips taking (and allocating) an empty Ready; the log's own changes it
   * sees on the log.
   */
  get hasReady(): boolean {
    return this.hardStateDirty || this.outbox.length > 0;
  }

  takeReady(): Ready {
    const ready: Ready = {
      hardState: this.hardStateDirty
        ? { term: this.term, votedFor: this.votedFor, amnesiac: this.amnesiac }
        : null,
      messages: this.outbox,
      highWatermark: this.hw,
    };
    this.hardStateDirty = false;
    this.outbox = [];
    return ready;
  }

  /**
   * Hands leadership to `to` (a preferred leader back, say): a voter whose log matches this
   * leader's to its end, durably, and that is whole. It is told to campaign at once and is elected
   * as any candidate is, so nothing here bypasses the election's checks. Returns null once asked,
   * or why not (the caller tries again later).
   */
  transferLeadership(to: number): string | null {
    if (this.roleNow !== 'leader') return 'not the leader';
    if (to === this.id) return 'already the leader';
    if (!this.otherVoters.includes(to)) return `${to} is not a voter`;
    const pr = this.progress!.of(to);
    if (pr.amnesiac || pr.matchEnd < this.log.end || pr.durableEnd < this.log.end)
      return `${to} has not caught up`;
    // Awake: should the target not win, the group needs its leader's heartbeats again.
    this.wake();
    this.outbox.push({ type: 'timeoutNow', from: this.id, to, term: this.term });
    this.transferTicks = this.config.electionTicks;
    return null;
  }

  private onTimeoutNow(m: TimeoutNow): void {
    // From the leader of this term only; a learner, or a replica not done recovering, does not campaign.
    if (m.from !== this.leader || this.roleNow !== 'follower') return;
    if (!this.recovered || !this.mayCampaign) return;
    if (this.config.faults?.transferWithoutElection === true) {
      // Negative control: leads in the current term without an election.
      this.becomeLeader();
      return;
    }
    this.startElection();
  }

  // Elections.

  private startPreVote(): void {
    this.quiet = false;
    this.roleNow = 'preCandidate';
    this.leader = null;
    this.votes = this.newTally();
    this.resetElectionTimer();
    if (this.votes.won) return this.startElection();
    for (const p of this.otherVoters)
      this.outbox.push(voteRequest('preVote', this.id, p, this.term + 1, this.log));
  }

  private startElection(): void {
    this.started++;
    this.setTerm(this.term + 1, this.id);
    this.quiet = false;
    this.roleNow = 'candidate';
    this.leader = null;
    this.votes = this.newTally();
    this.resetElectionTimer();
    // Alone, wait for hardStatePersisted: a leader acting in a term it could forget in a crash
    // might lead that term twice, and (offset, term) would no longer name one entry.
    for (const p of this.otherVoters) this.outbox.push(voteRequest('vote', this.id, p, this.term, this.log));
  }

  private onPreVote(m: VoteRequest): void {
    // Refuse while a leader is alive (we lead, or heard from one within a timeout): a replica that
    // merely lost touch must not disrupt the group. The asked term must be newer than ours.
    const leaderAlive =
      this.roleNow === 'leader' || (this.leader !== null && this.sinceLeader < this.config.electionTicks);
    const granted = m.term > this.term && !leaderAlive && this.logAllowsVote(m);
    this.outbox.push(voteAnswer(m, this.term, granted, this.amnesiac));
  }

  private onVote(m: VoteRequest): void {
    const canVote = this.votedFor === m.from || (this.votedFor === null && this.leader === null);
    const granted = canVote && this.logAllowsVote(m);
    if (granted) {
      // Persisted (hardStateDirty) before the reply leaves: the driver holds messages until then.
      this.setTerm(this.term, m.from);
      this.resetElectionTimer();
    }
    this.outbox.push(voteAnswer(m, this.term, granted, this.amnesiac));
  }

  private logAllowsVote(m: VoteRequest): boolean {
    return this.config.faults?.voteForStaleLog === true || isUpToDate(this.log, m.lastOffset, m.lastTerm);
  }

  private onVoteResponse(m: VoteResponse): void {
    const pre = m.type === 'preVoteResponse';
    const round = pre ? this.term + 1 : this.term;
    if (this.roleNow !== (pre ? 'preCandidate' : 'candidate') || m.voteTerm !== round) return;
    // Only voters of the configuration this replica knows count (a learner's word does not).
    if (!isVoter(this.membershipNow, m.from) && this.config.faults?.countLearners !== true) return;
    this.votes.record(m.from, m.granted, m.amnesiac);
    if (!this.votes.won) return;
    if (pre) this.startElection();
    else this.becomeLeader();
  }

  private becomeFollower(term: number, leader: number | null): void {
    if (term > this.term) this.setTerm(term, null);
    this.quiet = false;
    this.roleNow = 'follower';
    this.leader = leader;
    this.progress = null;
    this.transferTicks = 0;
    this.matchedEnd = 0;
    this.leaderCommitEnd = 0;
    this.sinceLeader = leader === null ? Infinity : 0;
    this.resetElectionTimer();
  }

  private becomeLeader(): void {
    this.won++;
    this.quiet = false;
    this.roleNow = 'leader';
    this.leader = this.id;
    this.transferTicks = 0;
    // Elected by whole replicas, its log holds every committed entry; elected by amnesiac ones (the
    // whole group lost its memory), it is the best there is.
    if (this.amnesiac) {
      this.amnesiac = false;
      this.hardStateDirty = true;
    }
    this.heartbeatElapsed = 0;
    this.electionElapsed = 0;
    this.progress = new LeaderProgress(this.peers, this.log.end, this.ticksNow);
    // The no-op lets this term commit (and with it every earlier entry) without waiting for a client.
    // A group of one needs none: its own durable log is the majority, whatever the terms in it, so a
    // single broker's offsets run on across restarts as before replication.
    if (!this.alone) this.appendNoop();
    this.maybeCommit();
  }

  /** A no-op of this leader's term, sent to every member: it commits with nothing else to commit. */
  private appendNoop(): void {
    this.appendLocal({ offset: this.log.end, count: 1, term: this.term, kind: 'noop', data: EMPTY });
    for (const p of this.peers) this.sendAppend(p);
  }

  private setTerm(term: number, votedFor: number | null): void {
    assert(term >= this.term, 'the term never goes back');
    assert(term > this.term || this.votedFor === null || this.votedFor === votedFor, 'one vote per term');
    this.term = term;
    this.votedFor = votedFor;
    this.hardStateDirty = true;
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    const base = this.config.electionTicks;
    this.electionTimeout = base + Math.floor(this.config.random() * base);
  }

  // Replication.

  private onAppend(m: AppendRequest): void {
    if (this.roleNow !== 'follower' || this.leader !== m.from) this.becomeFollower(this.term, m.from);
    assert(this.roleNow === 'follower' && this.leader === m.from, 'one leader per term');
    this.quiet = false;
    this.electionElapsed = 0;
    this.sinceLeader = 0;
    const log = this.log;
    const p = m.prevOffset;
    // Below our own log start everything was committed (retention removes nothing else), and a
    // leader holds every committed entry: the leader's log matches ours there.
    const matches = p < log.start - 1 || (p < log.end && log.termAt(p) === m.prevTerm);
    if (!matches && m.fromStart) {
      // The leader's log starts after p, so a longer match cannot be found: start afresh there.
      // Only a shorter log or an uncommitted entry at p gets here (committed entries match).
      assert(this.commitEnd <= p + 1, `reset at ${p + 1} below the commit end ${this.commitEnd}`);
      log.resetTo(p + 1, m.prevTerm, m.startMembership, m.startState);
      this.refreshMembership();
      // Until the reset is persisted the disk holds the old log: no more of it is durable than the
      // high watermark already covered (the committed prefix, which the reset only drops).
      this.durableEnd = Math.min(this.durableEnd, this.hw);
      this.matchedEnd = Math.min(this.matchedEnd, p + 1);
    } else if (!matches) {
      const hint = lastOffsetWithTermAtMost(log, p, m.prevTerm);
      this.outbox.push(this.appendAnswer(m.from, false, p, 0, 0, hint, log.termAt(hint)));
      // Negative control: quiet though its log does not match the leader's.
      if (m.quiesce === true && this.config.faults?.quiesceBehind === true) this.quiet = true;
      return;
    }
    for (const e of m.entries) {
      if (entryEnd(e) <= log.start) continue; // below our log start: committed, as the leader's
      assert(e.offset >= log.start, `entry at ${e.offset} straddles the log start ${log.start}`);
      if (e.offset < log.end) {
        // One leader wrote every entry of a term, so the same term at an offset means the same entry.
        if (log.termAt(e.offset) === e.term || this.config.faults?.noTruncate === true) continue;
        // A diverging suffix is never committed: a leader holds every committed entry (§5.4).
        assert(
          e.offset >= this.commitEnd,
          `truncation at ${e.offset} below the commit end ${this.commitEnd}`,
        );
        assert(
          e.offset >= this.matchedEnd,
          `truncation at ${e.offset} below what this leader already matched`,
        );
        this.truncateLocal(e.offset);
      }
      this.appendLocal(e);
    }
    const last = m.entries[m.entries.length - 1];
    this.matchedEnd = Math.max(this.matchedEnd, last === undefined ? p + 1 : entryEnd(last));
    this.leaderCommitEnd = Math.max(this.leaderCommitEnd, m.commitEnd);
    // A commit the leader made after it heard of this incarnation took a majority of whole replicas
    // in its term, so it lies past everything committed before the incarnation began: an amnesiac
    // replica holding the log up to it has lost nothing. (A commit end from before proves nothing:
    // the leader may since have been deposed by one this replica no longer remembers.)
    const c = m.rejoinEnd;
    const toMe = m.incarnation === (this.config.incarnation ?? 0);
    if (this.amnesiac && toMe && c > log.start && c <= this.matchedEnd && log.termAt(c - 1) === m.term)
      this.rejoinAt = Math.max(this.rejoinAt, c);
    this.updateHighWatermark();
    this.maybeRejoin();
    this.sendAppendSuccess(m.from);
    if (m.quiesce === true) this.quiet = this.followerMayQuiesce(m);
  }

  /**
   * Told to quiesce: only with the leader's whole log matched (the heartbeat came from its log end,
   * with nothing after it), all of it committed, and whole: otherwise the election timer runs on,
   * and its campaign (a pre-vote) wakes the leader, which catches it up.
   */
  private followerMayQuiesce(m: AppendRequest): boolean {
    if (this.config.faults?.quiesceBehind === true) return true;
    return (
      this.suspects?.has(m.from) !== true &&
      m.entries.length === 0 &&
      this.matchedEnd === m.prevOffset + 1 &&
      this.log.end === this.matchedEnd &&
      m.commitEnd >= this.matchedEnd &&
      !this.amnesiac
    );
  }

  /**
   * Leader: may the group go quiet? Only with nothing to carry on: no transfer, no learner, nothing
   * uncommitted, its own log durable, and every member holding the whole log durably, whole, and
   * known where it matches. The quiesce heartbeat then tells them the commit end; a voter that
   * misses it stays awake, and its campaign wakes the leader.
   */
  private mayQuiesce(): boolean {
    if (this.config.quiesce !== true || this.peers.length === 0) return false;
    if (this.transferTicks > 0) return false;
    if (this.config.faults?.quiesceBehind === true) return true;
    // A learner never campaigns, so one that missed the quiesce heartbeat (a dropped envelope)
    // would never wake the leader to learn the commit end. Learners are a move's passing state:
    // the move's next step wakes the group anyway.
    if (this.membershipNow.learners.length > 0) return false;
    const end = this.log.end;
    if (this.commitEnd !== end || this.durableEnd !== end) return false;
    for (const p of this.peers) {
      if (this.suspects?.has(p) === true) return false;
      const pr = this.progress!.of(p);
      if (pr.probing || pr.amnesiac || pr.matchEnd !== end || pr.durableEnd !== end) return false;
    }
    return true;
  }

  /** Leader: the last heartbeat, marked, and then none until woken. */
  private quiesce(): void {
    for (const p of this.peers) this.sendAppend(p, 'quiesce');
    this.quiet = true;
  }

  /**
   * A quiet node takes part again: a leader heartbeats at once (and its check-quorum starts
   * afresh), a follower starts its election timer.
   */
  private wake(): void {
    if (!this.quiet) return;
    this.quiet = false;
    if (this.roleNow === 'leader') {
      this.heartbeatElapsed = 0;
      this.electionElapsed = 0;
      this.progress!.takeQuorumActive(this.otherVoters, this.voter, this.quorum);
      for (const p of this.peers) this.sendAppend(p, 'heartbeat');
    } else {
      this.resetElectionTimer();
    }
  }

  /**
   * The driver's failure detector suspects broker `peer` has gone (it has heard nothing from it
   * for a while). A quiet follower of it wakes, its lease on that leader run out (it grants
   * pre-votes and campaigns within an election timeout); a quiet leader wakes to heartbeat, so
   * check-quorum judges it again. Otherwise nothing: an awake node has its own timers. A wrong
   * suspicion costs at most an election. While suspected, the peer keeps any group it is in awake.
   */
  peerDown(peer: number): void {
    if (this.config.faults?.ignorePeerDown === true) return;
    (this.suspects ??= new Set()).add(peer);
    if (!this.quiet) return;
    if (this.roleNow === 'leader') {
      if (this.peers.includes(peer)) this.wake();
      return;
    }
    if (this.leader !== peer) return;
    this.wake();
    const base = this.config.electionTicks;
    // The detector already waited about an election timeout: what is left is the random part.
    this.sinceLeader = base;
    this.electionElapsed = base;
  }

  /**
   * Broker `peer` is heard from again after a silence (or a new connection): a quiet leader of it
   * wakes, as the member may have restarted and lost what it held; nothing else changes.
   */
  peerUp(peer: number): void {
    this.suspects?.delete(peer);
    if (this.quiet && this.roleNow === 'leader' && this.peers.includes(peer)) this.wake();
  }

  /** An amnesiac follower that holds, durably, the log up to its leader's commit point is whole again. */
  private maybeRejoin(): void {
    if (!this.amnesiac || this.rejoinAt === 0 || Math.min(this.matchedEnd, this.durableEnd) < this.rejoinAt)
      return;
    this.amnesiac = false;
    this.rejoinAt = 0;
    this.hardStateDirty = true;
  }

  private onAppendResponse(m: AppendResponse): void {
    // A member removed since (or never added) is no longer followed.
    if (this.roleNow !== 'leader' || !this.progress!.has(m.from)) return;
    const pr = this.progress!.of(m.from);
    // What an earlier life of the follower said may have been lost with it: forget it, and ignore
    // that life's late answers.
    if (m.incarnation < pr.incarnation) return;
    const newIncarnation = m.incarnation > pr.incarnation;
    if (newIncarnation) {
      if (pr.incarnation >= 0 && this.config.faults?.keepStaleProgress !== true) {
        pr.matchEnd = 0;
        pr.durableEnd = 0;
      }
      pr.incarnation = m.incarnation;
      pr.rejoinAfter = this.commitEnd;
      pr.probing = true;
      pr.inflight.length = 0;
    }
    const amnesiacBefore = pr.amnesiac;
    pr.amnesiac = m.amnesiac;
    pr.active = true;
    // A quiet leader hears an answer from a member that is not (or no longer) caught up: wake.
    const end = this.log.end;
    if (this.quiet && (newIncarnation || m.amnesiac || !m.success || m.matchEnd < end || m.durableEnd < end))
      if (this.config.faults?.quiesceBehind !== true) this.wake();
    // An amnesiac member is whole again only through a commit made after this answer (onAppend).
    // With nothing in flight to commit (an idle partition that a move adds a replica to: every new
    // replica joins amnesiac) none would come, and the member would never be whole, so never
    // promoted: a no-op makes one.
    if (
      newIncarnation &&
      m.amnesiac &&
      this.log.end <= this.commitEnd &&
      this.config.faults?.noRejoinNoop !== true
    )
      this.appendNoop();
    if (m.success) {
      assert(m.durableEnd <= m.matchEnd && m.matchEnd <= this.log.end, 'a follower acks what it matched');
      const advanced = m.matchEnd > pr.matchEnd;
      const durableBefore = pr.durableEnd;
      pr.matchEnd = Math.max(pr.matchEnd, m.matchEnd);
      pr.durableEnd = Math.max(pr.durableEnd, m.durableEnd);
      pr.next = Math.max(pr.next, pr.matchEnd);
      pr.probing = false;
      answered(pr);
      this.progress!.noteAck(m.from, this.log.end, this.ticksNow);
      // The commit point depends only on the copies' durable ends and amnesia: an idle group's
      // heartbeat answer, which changes neither, cannot move it.
      if (pr.durableEnd !== durableBefore || pr.amnesiac !== amnesiacBefore) this.maybeCommit();
      // (A leader the commit removed from the voters has stepped down.) The answer made room in
      // the window: fill it.
      if (advanced && this.roleNow === 'leader') this.fillWindow(m.from, pr);
      return;
    }
    // What a follower only appended can vanish in its crash; what it fsynced cannot. A rejection
    // inside the durable prefix is therefore a late duplicate; any other means back up, though no
    // further than the durable match.
    if (m.prevOffset < pr.durableEnd) return;
    pr.probing = true;
    // What was sent after the mismatch is sent again from where the logs match.
    pr.inflight.length = 0;
    const log = this.log;
    const back = lastOffsetWithTermAtMost(log, m.hintOffset, m.hintTerm);
    pr.matchEnd = pr.durableEnd;
    const next = Math.max(pr.durableEnd, Math.min(back + 1, m.prevOffset));
    // Whole entries only: back up to the start of the entry that holds `next`.
    pr.next = next > log.start && next < log.end ? log.entryStart(next) : next;
    this.sendAppend(m.from);
  }

  /**
   * Sends `to` the entries from its `next` if its window has room (see RaftConfig.maxInflightAppends);
   * with a full window, a heartbeat goes without entries, from `next` all the same: a follower that
   * lost an earlier append rejects it and the leader backs up. A quiesce heartbeat is a heartbeat
   * marked as the last before the group goes quiet. Whether entries went.
   */
  private sendAppend(to: number, kind: 'append' | 'heartbeat' | 'quiesce' = 'append'): boolean {
    const heartbeat = kind !== 'append';
    const log = this.log;
    const pr = this.progress!.of(to);
    // A follower behind our log start gets the log from its start (Kafka's follower restarts from
    // the leader's log start offset).
    if (pr.next < log.start) pr.next = log.start;
    const next = pr.next;
    const window = pr.probing ? 1 : (this.config.maxInflightAppends ?? DEFAULT_MAX_INFLIGHT_APPENDS);
    const full = pr.inflight.length >= window;
    // Asked before the read: a member held back costs the leader no read of its log.
    const quota = !full && next < log.end && this.throttled(pr) ? this.config.catchUpQuota! : null;
    const held = quota !== null && !quota.admits();
    if (held) pr.held = true;
    const send = !full && !held;
    if (!send && !heartbeat) return false;
    const entries = send
      ? log.read(next, this.config.maxEntriesPerAppend, this.config.maxBytesPerAppend)
      : NO_ENTRIES;
    if (quota !== null && send) quota.charge(entryBytes(entries));
    const fromStart = next === log.start && next > 0;
    const prev = next - 1;
    this.outbox.push({
      type: 'append',
      from: this.id,
      to,
      term: this.term,
      prevOffset: prev,
      prevTerm: log.termAt(prev),
      entries,
      commitEnd: this.commitEnd,
      fromStart,
      startMembership: fromStart ? log.membershipBefore(next) : null,
      startState: fromStart ? log.startState : null,
      incarnation: pr.incarnation,
      rejoinEnd: pr.amnesiac && this.commitEnd > pr.rejoinAfter ? this.commitEnd : 0,
      ...(kind === 'quiesce' ? { quiesce: true } : null),
    });
    const last = entries[entries.length - 1];
    if (last === undefined) return false;
    pr.inflight.push(entryEnd(last));
    // Pipelined: the next append carries what comes after these, not these again.
    if (!pr.probing) pr.next = entryEnd(last);
    return true;
  }

  /**
   * Whether appends to the member `pr` count against the catch-up quota: it is catching up, and a
   * majority of the voters is not, so the commit does not wait for it (catch-up-quota.ts).
   */
  private throttled(pr: Progress): boolean {
    const quota = this.config.catchUpQuota;
    if (quota === undefined || !catchingUp(pr, this.ticksNow, quota.lagTicks)) return false;
    let keepingPace = this.voter ? 1 : 0;
    for (const v of this.otherVoters)
      if (!catchingUp(this.progress!.of(v), this.ticksNow, quota.lagTicks)) keepingPace++;
    return keepingPace >= this.quorum;
  }

  /** Leader's tick: the members held back for want of quota are offered it again. */
  private offerQuota(): void {
    for (const p of this.peers) {
      const pr = this.progress!.of(p);
      if (!pr.held) continue;
      pr.held = false;
      this.fillWindow(p, pr);
    }
  }

  /** Sends `to` appends until its window is full or it has been sent the whole log. */
  private fillWindow(to: number, pr: Progress): void {
    while (pr.next < this.log.end && this.sendAppend(to)) {
      // Each append sent moved `next` on or filled the window (probing: one at a time).
    }
  }

  private sendAppendSuccess(to: number): void {
    const durable = Math.min(this.matchedEnd, this.durableEnd);
    this.outbox.push(this.appendAnswer(to, true, this.matchedEnd - 1, this.matchedEnd, durable));
  }

  /** An answer to an append: a success (with its ends) or a rejection (with its hint). */
  private appendAnswer(
    to: number,
    success: boolean,
    prevOffset: number,
    matchEnd: number,
    durableEnd: number,
    hintOffset = -1,
    hintTerm = 0,
  ): AppendResponse {
    return {
      type: 'appendResponse',
      from: this.id,
      to,
      term: this.term,
      success,
      prevOffset,
      matchEnd,
      durableEnd,
      hintOffset,
      hintTerm,
      incarnation: this.config.incarnation ?? 0,
      amnesiac: this.amnesiac,
    };
  }

  /**
   * A group of one from its start (no config entry): no other replica ever held a copy that could
   * have been elected, so it needs no no-op and commits entries of earlier terms by itself.
   */
  private get alone(): boolean {
    return this.peers.length === 0 && this.membershipOffset === -1;
  }

  private newTally(): VoteTally {
    const ignoreAmnesia = this.config.faults?.ignoreAmnesia === true;
    return new VoteTally(
      this.id,
      this.quorum,
      this.membershipNow.voters.length,
      this.amnesiac,
      ignoreAmnesia,
      this.voter,
      !this.halfWholeSuffices,
    );
  }

  /**
   * Whether half the voters (rounded up) whole, within a majority, elect and commit (VoteTally),
   * rather than a whole majority. That is what lets a new partition's even-sized group, whose
   * replicas all start amnesiac, commit and make its followers whole, and a group of two with one
   * amnesiac replica elect at all. It holds only while the group keeps its first configuration with
   * no learner: once a change is under way or made, a configuration one change newer than this
   * replica knows may have committed entries with a majority that misses half of these voters (a
   * candidate removed by a change it never received, granted by a replica behind and a wiped one,
   * was elected over the replica that held the change and was only down), so a whole majority it is.
   */
  private get halfWholeSuffices(): boolean {
    if (this.config.faults?.wholeMajorityOnly === true) return false;
    return this.membershipOffset === -1 && this.membershipNow.learners.length === 0;
  }

  /**
   * A voter campaigns; so does a voter whose removal is in its log but not known to be committed:
   * the others may not hold that change, and may wait for this replica's vote, which it would refuse
   * them if its log is ahead. Elected, it leads without counting itself until the removal commits
   * (as a leader that removes itself does), then steps down. A learner never campaigns.
   */
  private get mayCampaign(): boolean {
    if (this.joining) return false;
    if (this.voter) return true;
    if (this.membershipOffset < this.commitEnd || this.membershipOffset < this.log.start) return false;
    const before = this.log.membershipBefore(this.membershipOffset);
    return isVoter(before?.membership ?? { voters: this.config.voters, learners: [] }, this.id);
  }

  /**
   * A replica created outside its bootstrap voters (a move's or a membership change's new replica)
   * that no leader has made whole yet (an amnesiac one never was, or lost what it was): it neither
   * campaigns nor answers a vote. Its id may be reused (a broker the group left, and a later move
   * brings back): while it copies the log it passes configurations in which the earlier replica of
   * that id was a voter, perhaps the only one, and its grants and its own vote, amnesiac, would
   * then be counted as a whole majority's (VoteTally's escape for a group that lost its power).
   * Made whole, it holds the config entry that added it, and its log rules again.
   *
   * The price: such a replica, promoted and then amnesiac again (a power loss under the page-cache
   * policy) before its bootstrap voters include it (the broker's registry records the move done),
   * takes no part in elections until a leader has made it whole. If that leaves its configuration
   * without a majority of whole replicas to elect from (the group lost its power mid-move), the
   * group waits: an answer from it, even a refusal, would count toward the majority amnesiac that
   * lets amnesiac grants elect, for a candidate on an old configuration too. Voters named by replica
   * identity rather than broker id (KRaft's directory ids) would lift it.
   */
  private get joining(): boolean {
    return this.amnesiac && !this.config.voters.includes(this.id) && this.config.faults?.joinerVotes !== true;
  }

  /**
   * Takes the membership of the latest config entry in the log (after an append, a truncation or a
   * reset): who votes, the majority, and, leading, whom to replicate to.
   */
  private refreshMembership(): void {
    const at = this.log.membershipBefore(this.log.end);
    const membership = at?.membership ?? { voters: this.config.voters, learners: [] };
    validateMembership(membership);
    this.membershipNow = membership;
    this.membershipOffset = at?.offset ?? -1;
    this.voter = isVoter(membership, this.id);
    this.peers = peersOf(membership, this.id);
    this.otherVoters = membership.voters.filter((v) => v !== this.id);
    this.quorum = majorityOf(membership);
    this.progress?.setPeers(this.peers, this.log.end, this.ticksNow);
  }

  /** Leader: commit the largest end a majority holds durably, if its last entry is of this term. */
  private maybeCommit(): void {
    const needed = this.config.faults?.commitOnMinority === true ? this.quorum - 1 : this.quorum;
    // An amnesiac follower's copy counts only when a majority is amnesiac (the whole group lost its
    // memory): otherwise a deposed leader could commit with replicas that forgot the newer term.
    const progress = this.progress!;
    const faults = this.config.faults;
    const counted = faults?.countLearners === true ? this.peers : this.otherVoters;
    const countAmnesiac = faults?.ignoreAmnesia === true || progress.amnesiacAmong(counted) >= this.quorum;
    // A leader the change in flight removes manages the group without counting itself.
    const own = this.voter ? this.durableEnd : null;
    // Copies count once a majority holds the entry with half the voters (rounded up) whole among
    // them: every majority that elects a later leader then meets a whole holder (see VoteTally).
    const whole = this.halfWholeSuffices
      ? Math.min(needed, Math.ceil(this.membershipNow.voters.length / 2))
      : needed;
    const end = progress.quorumDurableEnd(own, counted, Math.max(1, needed), countAmnesiac, whole);
    // §5.4.2: counting replicas proves nothing about an entry of an earlier term (except alone: a
    // group of one has no other copy that could have been elected over it).
    if (end > this.commitEnd && end > this.log.start) {
      if (this.alone || this.log.termAt(end - 1) === this.term) this.commitEnd = end;
    }
    this.updateHighWatermark();
    // Once the change that removed it is committed, a leader outside the voters steps down: its
    // successor is elected among them.
    if (!this.voter && this.membershipOffset < this.commitEnd) this.becomeFollower(this.term, null);
  }

  private updateHighWatermark(): void {
    if (this.roleNow !== 'leader') {
      this.commitEnd = Math.max(this.commitEnd, Math.min(this.leaderCommitEnd, this.matchedEnd));
    }
    const hw = Math.min(this.commitEnd, this.durableEnd);
    // Truncation stays at or above the commit end, so the durable prefix under it only grows.
    assert(hw >= this.hw, `high watermark went back from ${this.hw} to ${hw}`);
    this.hw = hw;
  }

  private appendLocal(e: Entry): number {
    this.log.append(e);
    if (this.config.faults?.countBeforeFsync === true) this.durableEnd = this.log.end;
    // A configuration rules from the moment it is in the log, committed or not.
    if (e.kind === 'config') this.refreshMembership();
    return e.offset;
  }

  private truncateLocal(from: number): void {
    this.log.truncateFrom(from);
    this.durableEnd = Math.min(this.durableEnd, from);
    if (from <= this.membershipOffset) this.refreshMembership();
  }
}
