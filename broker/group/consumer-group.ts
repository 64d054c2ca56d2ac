// One consumer group's membership and assignment, as a state machine over explicit time: every
// call takes `now`, nothing here reads a clock or starts a timer, so the coordinator drives it on
// the real clock and the simulation tests drive it on a seeded one (STYLE 10, 11).
//
// The protocol is Kafka's consumer group heartbeat (KIP-848), with the assignment computed here:
//
//   group epoch    bumps on every change that can change the assignment: a member joins, leaves or
//                  is evicted, a subscription changes, a subscribed topic appears, goes or grows.
//                  Each bump computes a new target assignment with the group's assignor.
//   member epoch   the epoch a member has caught up with; commits must carry it. A member reaches
//                  the group epoch once it has given up every partition its target no longer has.
//   owner          who holds each partition now (given to a member, or being revoked from it).
//                  A partition has at most one owner at any time, and it is handed to its next
//                  owner only after the previous one confirmed the revocation (by leaving it out of
//                  `owned` in a heartbeat) or was evicted. So no partition is ever owned by two
//                  members, and a member gains partitions only at the current group epoch: an
//                  evicted member that has not noticed holds an older epoch than anyone who took
//                  its partitions, and its commits are refused.
//
// Partitions that stay with their member are never interrupted by a rebalance.

import assert from 'node:assert/strict';
import type { RE2JS } from 're2js';
import { WeirError } from '../../proto/errors.js';
import type { AssignorName, TopicPartition } from './assignors.js';
import { partitionKey, sortedPartitions } from './partition-key.js';
import { subscriptionShape, targetAssignment } from './target-assignment.js';
import {
  JOIN_EPOCH,
  LEAVE_EPOCH,
  MAX_MEMBER_ID_BYTES,
  PENDING_HEARTBEAT_DIVISOR,
  STATIC_LEAVE_EPOCH,
  checkAssignorName,
  checkRebalanceTimeout,
  checkSessionTimeout,
  compilePattern,
  type GroupContext,
  type GroupState,
  type HeartbeatRequest,
  type HeartbeatResult,
  type MemberDescription,
  type RebalanceReason,
  type RebalanceRecord,
  type TopicView,
} from './group-protocol.js';

export * from './group-protocol.js';

interface Member {
  memberId: string;
  readonly instanceId: string;
  clientId: string;
  host: string;
  epoch: number;
  /** The epoch before the last move (-1: none), accepted once more after a lost answer. */
  previousEpoch: number;
  topics: string[];
  pattern: string;
  regex: RE2JS | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  sessionDeadline: number;
  /** Partitions the member may consume now. */
  readonly assigned: Set<string>;
  /** Partitions it was asked to give up and has not yet confirmed. */
  readonly revoking: Set<string>;
  revokeDeadline: number;
}

export class ConsumerGroup {
  readonly groupId: string;
  private epoch = 0;
  private assignor: AssignorName = 'sticky';
  private readonly members = new Map<string, Member>();
  private readonly staticMembers = new Map<string, string>();
  private readonly owner = new Map<string, string>();
  /** memberId → its partitions in the target assignment of `targetEpoch`. */
  private target = new Map<string, Set<string>>();
  private targetEpoch = 0;
  /** Subscribed topics with their partition counts, as the target was computed for. */
  private subscribedShape = '';
  private readonly history: RebalanceRecord[] = [];

  constructor(groupId: string) {
    this.groupId = groupId;
  }

  get generation(): number {
    return this.epoch;
  }

  get size(): number {
    return this.members.size;
  }

  get state(): GroupState {
    if (this.members.size === 0) return 'Empty';
    for (const m of this.members.values()) {
      if (m.epoch !== this.epoch || m.revoking.size > 0) return 'Reconciling';
      const target = this.target.get(m.memberId);
      if (target === undefined || target.size !== m.assigned.size) return 'Reconciling';
    }
    return 'Stable';
  }

  get assignorName(): AssignorName {
    return this.assignor;
  }

  rebalances(): readonly RebalanceRecord[] {
    return this.history;
  }

  // ---- the heartbeat ----

  heartbeat(req: HeartbeatRequest, ctx: GroupContext): HeartbeatResult {
    const { memberEpoch } = req;
    if (memberEpoch === LEAVE_EPOCH || memberEpoch === STATIC_LEAVE_EPOCH) return this.leave(req, ctx);
    if (memberEpoch === JOIN_EPOCH) return this.join(req, ctx);
    if (!Number.isInteger(memberEpoch) || memberEpoch < 0)
      throw new WeirError('INVALID_REQUEST', `member epoch ${memberEpoch} is not valid`);
    const member = this.requireMember(req);
    if (memberEpoch !== member.epoch && !this.lostAnswer(member, req)) {
      // The member missed an epoch it must have seen (or was evicted and replaced): it may be
      // consuming partitions that now belong to someone else. It must drop them all and rejoin.
      this.remove(member, 'fenced', ctx);
      throw new WeirError(
        'FENCED_MEMBER_EPOCH',
        `member ${member.memberId} sent epoch ${memberEpoch}, its epoch is ${member.epoch}`,
      );
    }
    member.sessionDeadline = ctx.now + member.sessionTimeoutMs;
    const owned = new Set(req.owned.map((tp) => partitionKey(tp.topic, tp.partition)));
    for (const key of member.revoking) {
      if (!owned.has(key)) {
        member.revoking.delete(key);
        this.owner.delete(key);
      }
    }
    if (member.revoking.size === 0) member.revokeDeadline = Infinity;
    if (this.updateSubscription(member, req)) this.bump('subscription', member.memberId, ctx);
    return this.reconcile(member, ctx);
  }

  /**
   * The answer that moved the member to its epoch was lost (a timeout on the client after the
   * coordinator processed the heartbeat), and it retries with the epoch before. That is safe to
   * take, as KIP-848 does, when everything it says it owns is still its own: moving to an epoch
   * never takes partitions away (revocations keep the member at its old epoch until confirmed).
   */
  private lostAnswer(member: Member, req: HeartbeatRequest): boolean {
    if (req.memberEpoch !== member.previousEpoch) return false;
    return req.owned.every((tp) => this.owner.get(partitionKey(tp.topic, tp.partition)) === member.memberId);
  }

  /** Evicts members whose session or revocation deadline passed. Returns the evicted ids. */
  expire(ctx: GroupContext): string[] {
    const evicted: string[] = [];
    for (const m of [...this.members.values()]) {
      if (ctx.now >= m.sessionDeadline) {
        this.remove(m, 'session-timeout', ctx);
        evicted.push(m.memberId);
      } else if (m.revoking.size > 0 && ctx.now >= m.revokeDeadline) {
        this.remove(m, 'rebalance-timeout', ctx);
        evicted.push(m.memberId);
      }
    }
    return evicted;
  }

  /** The earliest deadline of any member (Infinity for an empty group). */
  nextDeadline(): number {
    let next = Infinity;
    for (const m of this.members.values()) next = Math.min(next, m.sessionDeadline, m.revokeDeadline);
    return next;
  }

  /** A subscribed topic appeared, went away or grew: recompute the target if the shape changed. */
  topicsChanged(ctx: GroupContext): boolean {
    if (this.members.size === 0 || this.shapeOf(ctx.topics) === this.subscribedShape) return false;
    this.bump('partitions', '', ctx);
    return true;
  }

  // ---- commits ----

  /**
   * Checks that a commit may be written: from the member at its current epoch, for partitions it
   * owns (being revoked counts: it commits before confirming). A commit from outside the group
   * (`memberId` '' and generation -1) is allowed only while the group has no members. Returns the
   * partitions refused with NOT_PARTITION_OWNER; throws for the whole commit.
   */
  checkCommit(memberId: string, generation: number, partitions: readonly TopicPartition[]): Set<string> {
    const refused = new Set<string>();
    if (memberId === '' && generation === -1) {
      if (this.members.size > 0)
        throw new WeirError(
          'UNKNOWN_MEMBER_ID',
          `group '${this.groupId}' has ${this.members.size} members; commits must come from one of them`,
        );
      return refused;
    }
    const member = this.members.get(memberId);
    if (member === undefined)
      throw new WeirError('UNKNOWN_MEMBER_ID', `group '${this.groupId}' has no member '${memberId}'`);
    if (generation !== member.epoch)
      throw new WeirError(
        'STALE_MEMBER_EPOCH',
        `commit from generation ${generation}; member ${memberId} is at generation ${member.epoch}`,
      );
    for (const tp of partitions) {
      const key = partitionKey(tp.topic, tp.partition);
      if (this.owner.get(key) !== memberId) refused.add(key);
    }
    return refused;
  }

  // ---- description ----

  describeMembers(): MemberDescription[] {
    return [...this.members.values()]
      .sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
      .map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        clientId: m.clientId,
        host: m.host,
        memberEpoch: m.epoch,
        assignment: sortedPartitions(m.assigned),
        pendingRevocation: sortedPartitions(m.revoking),
        subscribedTopics: [...m.topics],
        subscribedPattern: m.pattern,
      }));
  }

  /** Whether a member subscribes to `topic`, by name or by pattern (OffsetDelete refuses then). */
  isSubscribedTo(topic: string): boolean {
    for (const m of this.members.values()) {
      if (m.topics.includes(topic) || (m.regex !== null && m.regex.testExact(topic))) return true;
    }
    return false;
  }

  /** Who holds each partition now (given, or being revoked): `topic\0partition` → member id. */
  ownedPartitions(): ReadonlyMap<string, string> {
    return this.owner;
  }

  // ---- membership ----

  private join(req: HeartbeatRequest, ctx: GroupContext): HeartbeatResult {
    if (Buffer.byteLength(req.memberId, 'utf8') > MAX_MEMBER_ID_BYTES)
      throw new WeirError('INVALID_REQUEST', `a member id is at most ${MAX_MEMBER_ID_BYTES} bytes`);
    const assignor = checkAssignorName(req.assignor);
    const sessionTimeoutMs = checkSessionTimeout(req.sessionTimeoutMs, ctx.limits);
    const rebalanceTimeoutMs = checkRebalanceTimeout(req.rebalanceTimeoutMs, ctx.limits);
    const regex = req.subscribedPattern === '' ? null : compilePattern(req.subscribedPattern);
    if (regex === null && req.subscribedTopics.length === 0)
      throw new WeirError('INVALID_REQUEST', 'a member must subscribe to topics or to a pattern');
    if (req.instanceId !== '') {
      const previous = this.staticMembers.get(req.instanceId);
      const old = previous === undefined ? undefined : this.members.get(previous);
      if (old !== undefined) {
        this.checkSameAssignor(assignor);
        return this.rejoinStatic(old, req, ctx, sessionTimeoutMs, rebalanceTimeoutMs);
      }
    }
    // A member rejoining after being fenced sends its old id with epoch 0: what it held is gone
    // (and, were it the only member, the group is empty again and may change assignor).
    const stale = req.memberId === '' ? undefined : this.members.get(req.memberId);
    if (stale !== undefined && stale.instanceId === '') {
      this.release(stale);
      try {
        this.checkSameAssignor(assignor);
      } catch (err) {
        this.bump('fenced', stale.memberId, ctx);
        this.assertInvariants();
        throw err;
      }
    } else {
      this.checkSameAssignor(assignor);
    }
    if (this.members.size === 0) this.assignor = assignor ?? 'sticky';
    const member: Member = {
      // A member may name itself (KIP-1082), so a join whose answer was lost and is sent again
      // finds itself instead of leaving a ghost member holding partitions until its session ends.
      memberId:
        req.memberId !== '' && !this.members.has(req.memberId) ? req.memberId : ctx.newMemberId(req.clientId),
      instanceId: req.instanceId,
      clientId: req.clientId,
      host: req.host,
      epoch: 0,
      previousEpoch: -1,
      topics: [...new Set(req.subscribedTopics)].sort(),
      pattern: req.subscribedPattern,
      regex,
      sessionTimeoutMs,
      rebalanceTimeoutMs,
      sessionDeadline: ctx.now + sessionTimeoutMs,
      assigned: new Set(),
      revoking: new Set(),
      revokeDeadline: Infinity,
    };
    assert(!this.members.has(member.memberId), `member id ${member.memberId} is taken`);
    this.members.set(member.memberId, member);
    if (member.instanceId !== '') this.staticMembers.set(member.instanceId, member.memberId);
    this.bump('join', member.memberId, ctx);
    return this.reconcile(member, ctx);
  }

  /**
   * A static member came back (after a restart, or a leave with epoch -2): the new incarnation
   * takes over the old one's partitions and epoch under a new member id, without a rebalance.
   * The old id is fenced from then on.
   */
  private rejoinStatic(
    old: Member,
    req: HeartbeatRequest,
    ctx: GroupContext,
    sessionTimeoutMs: number,
    rebalanceTimeoutMs: number,
  ): HeartbeatResult {
    const oldId = old.memberId;
    const memberId =
      req.memberId !== '' && (req.memberId === oldId || !this.members.has(req.memberId))
        ? req.memberId
        : ctx.newMemberId(req.clientId);
    this.members.delete(oldId);
    old.memberId = memberId;
    old.clientId = req.clientId;
    old.host = req.host;
    old.sessionTimeoutMs = sessionTimeoutMs;
    old.rebalanceTimeoutMs = rebalanceTimeoutMs;
    old.sessionDeadline = ctx.now + sessionTimeoutMs;
    // The new incarnation owns nothing yet, so nothing is left to revoke.
    for (const key of old.revoking) this.owner.delete(key);
    old.revoking.clear();
    old.revokeDeadline = Infinity;
    for (const key of old.assigned) this.owner.set(key, memberId);
    this.members.set(memberId, old);
    this.staticMembers.set(old.instanceId, memberId);
    const target = this.target.get(oldId);
    this.target.delete(oldId);
    if (target !== undefined) this.target.set(memberId, target);
    if (this.updateSubscription(old, req)) this.bump('subscription', memberId, ctx);
    return this.reconcile(old, ctx);
  }

  private leave(req: HeartbeatRequest, ctx: GroupContext): HeartbeatResult {
    const member = this.requireMember(req);
    if (req.memberEpoch === STATIC_LEAVE_EPOCH && member.instanceId !== '') {
      // It will be back: its partitions wait for it until its session times out. It gave up
      // everything it consumed, so its revocations are done.
      for (const key of member.revoking) this.owner.delete(key);
      member.revoking.clear();
      member.revokeDeadline = Infinity;
      this.assertInvariants();
      return {
        memberId: member.memberId,
        memberEpoch: STATIC_LEAVE_EPOCH,
        heartbeatIntervalMs: 0,
        assignment: [],
        groupEpoch: this.epoch,
        sessionTimeoutMs: 0,
      };
    }
    this.remove(member, 'leave', ctx);
    return {
      memberId: member.memberId,
      memberEpoch: LEAVE_EPOCH,
      heartbeatIntervalMs: 0,
      assignment: [],
      groupEpoch: this.epoch,
      sessionTimeoutMs: 0,
    };
  }

  private requireMember(req: HeartbeatRequest): Member {
    if (req.instanceId !== '') {
      const current = this.staticMembers.get(req.instanceId);
      if (current !== undefined && current !== req.memberId)
        throw new WeirError(
          'FENCED_INSTANCE_ID',
          `instance id '${req.instanceId}' now belongs to member ${current}, not ${req.memberId}`,
        );
    }
    const member = this.members.get(req.memberId);
    if (member === undefined)
      throw new WeirError('UNKNOWN_MEMBER_ID', `group '${this.groupId}' has no member '${req.memberId}'`);
    return member;
  }

  /** Takes a member out and frees its partitions for the others. */
  private remove(member: Member, reason: RebalanceReason, ctx: GroupContext): void {
    this.release(member);
    this.bump(reason, member.memberId, ctx);
    this.assertInvariants();
  }

  private release(member: Member): void {
    for (const key of member.assigned) this.owner.delete(key);
    for (const key of member.revoking) this.owner.delete(key);
    this.members.delete(member.memberId);
    this.target.delete(member.memberId);
    if (member.instanceId !== '' && this.staticMembers.get(member.instanceId) === member.memberId)
      this.staticMembers.delete(member.instanceId);
  }

  private updateSubscription(member: Member, req: HeartbeatRequest): boolean {
    const topics = [...new Set(req.subscribedTopics)].sort();
    const same = topics.length === member.topics.length && topics.every((t, i) => t === member.topics[i]);
    if (req.subscribedPattern === member.pattern && same) return false;
    const regex = req.subscribedPattern === '' ? null : compilePattern(req.subscribedPattern);
    if (regex === null && topics.length === 0)
      throw new WeirError('INVALID_REQUEST', 'a member must subscribe to topics or to a pattern');
    member.topics = topics;
    member.pattern = req.subscribedPattern;
    member.regex = regex;
    return true;
  }

  // ---- assignment ----

  private bump(reason: RebalanceReason, memberId: string, ctx: GroupContext): void {
    this.epoch++;
    this.history.push({ generation: this.epoch, reason, memberId, timestamp: ctx.now });
    while (this.history.length > ctx.limits.maxHistory) this.history.shift();
    this.computeTarget(ctx.topics);
  }

  private shapeOf(topics: TopicView): string {
    return subscriptionShape([...this.members.values()], topics);
  }

  private computeTarget(topics: TopicView): void {
    const members = [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      topics: m.topics,
      regex: m.regex,
      current: this.target.get(m.memberId) ?? m.assigned,
    }));
    this.target = targetAssignment(this.assignor, members, topics);
    this.targetEpoch = this.epoch;
    this.subscribedShape = this.shapeOf(topics);
  }

  /**
   * Moves the member that is heartbeating as far toward its target as it can go without double
   * ownership. Only the member's own heartbeat moves it: its epoch changes only in an answer it
   * receives, so the epoch it sends back is always the one the coordinator holds.
   */
  private reconcile(member: Member, ctx: GroupContext): HeartbeatResult {
    assert(this.targetEpoch === this.epoch, 'target is behind the group epoch');
    this.reconcileRevocations(member, ctx);
    this.reconcileGrants(member);
    this.assertInvariants();
    return this.answer(member, ctx);
  }

  private reconcileRevocations(m: Member, ctx: GroupContext): void {
    if (m.epoch === this.epoch) return;
    const target = this.target.get(m.memberId) ?? new Set<string>();
    for (const key of m.assigned) {
      if (!target.has(key)) {
        m.assigned.delete(key);
        m.revoking.add(key);
      }
    }
    if (m.revoking.size > 0) {
      if (m.revokeDeadline === Infinity) m.revokeDeadline = ctx.now + m.rebalanceTimeoutMs;
      return;
    }
    if (m.epoch !== 0) m.previousEpoch = m.epoch;
    m.epoch = this.epoch;
  }

  private reconcileGrants(m: Member): void {
    if (m.epoch !== this.epoch || m.revoking.size > 0) return;
    const target = this.target.get(m.memberId);
    if (target === undefined) return;
    for (const key of target) {
      if (!m.assigned.has(key) && !this.owner.has(key)) {
        m.assigned.add(key);
        this.owner.set(key, m.memberId);
      }
    }
  }

  private answer(member: Member, ctx: GroupContext): HeartbeatResult {
    let interval = Math.max(
      1,
      Math.min(ctx.limits.heartbeatIntervalMs, Math.floor(member.sessionTimeoutMs / 3)),
    );
    // A member waiting for partitions that another member is giving up heartbeats more often, so
    // it takes them soon after they are freed: a join then settles within about one interval
    // (the time the others take to hear of it) instead of two.
    if (this.awaitsGrants(member)) interval = Math.max(1, Math.floor(interval / PENDING_HEARTBEAT_DIVISOR));
    return {
      memberId: member.memberId,
      memberEpoch: member.epoch,
      heartbeatIntervalMs: interval,
      assignment: sortedPartitions(member.assigned),
      groupEpoch: this.epoch,
      sessionTimeoutMs: member.sessionTimeoutMs,
    };
  }

  private awaitsGrants(member: Member): boolean {
    const target = this.target.get(member.memberId);
    if (target === undefined || member.epoch !== this.epoch) return false;
    for (const key of target) if (!member.assigned.has(key)) return true;
    return false;
  }

  /** A joining member may name an assignor only if it is the one the (non-empty) group uses. */
  private checkSameAssignor(name: AssignorName | null): void {
    if (name !== null && this.members.size > 0 && name !== this.assignor)
      throw new WeirError(
        'INCONSISTENT_GROUP_PROTOCOL',
        `group '${this.groupId}' uses the ${this.assignor} assignor, the member asks for ${name}`,
      );
  }

  /** No partition has two owners; owner and the members' sets agree; no member is ahead. */
  private assertInvariants(): void {
    let held = 0;
    for (const m of this.members.values()) {
      assert(m.epoch <= this.epoch, `member ${m.memberId} epoch ${m.epoch} is ahead of ${this.epoch}`);
      for (const key of m.assigned) {
        assert(!m.revoking.has(key), `${key} is both assigned to and revoking from ${m.memberId}`);
        assert(this.owner.get(key) === m.memberId, `${key} is held by ${m.memberId} but owned by another`);
      }
      for (const key of m.revoking)
        assert(
          this.owner.get(key) === m.memberId,
          `${key} is revoking from ${m.memberId} but owned by another`,
        );
      held += m.assigned.size + m.revoking.size;
    }
    assert(held === this.owner.size, `owner map has ${this.owner.size} entries, members hold ${held}`);
  }
}
