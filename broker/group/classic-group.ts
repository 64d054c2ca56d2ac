// One group of Kafka's classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), as a state
// machine over explicit time like consumer-group.ts: every call takes a GroupContext (now, limits,
// member ids) and returns the answers it can give, nothing here reads a clock or starts a timer.
//
// In the classic protocol the broker does not assign partitions. It gathers the members at a join
// barrier, picks a protocol (an assignor name) every member supports, hands the leader every
// member's metadata for it, and passes the leader's assignment bytes to each member unchanged:
//
//   Empty ──join──▶ PreparingRebalance ──every member joined, or the rebalance timeout──▶
//   CompletingRebalance ──the leader's SyncGroup──▶ Stable ──a join, leave or expiry──▶ Preparing…
//
// JoinGroup and SyncGroup wait: a join is answered when the barrier completes, a follower's sync
// when the leader's sync arrives. Such a request is held as a ticket (a number the caller chose);
// every call returns the replies to tickets it settled, the caller's own or others'. A member
// waiting at the barrier or for its assignment is not expired, as Kafka keeps such members alive.
//
// Generations: each completed barrier starts a new one. A member's SyncGroup, Heartbeat and
// OffsetCommit must carry the current generation (ILLEGAL_GENERATION otherwise); while the group
// gathers members again, heartbeats answer REBALANCE_IN_PROGRESS so the members rejoin.
//
// Static members (group.instance.id) keep their place across restarts: a new incarnation that
// joins with the instance id takes over the old member under a new member id, without a rebalance
// when nothing changed, and the old id is fenced (FENCED_INSTANCE_ID).

import assert from 'node:assert/strict';
import { WeirError } from '../../proto/errors.js';
import type { GroupContext, RebalanceReason, RebalanceRecord } from './group-protocol.js';
import { checkSessionTimeout } from './group-protocol.js';
import type {
  ClassicMemberDescription,
  ClassicProtocol,
  ClassicReply,
  ClassicState,
  JoinAnswer,
  JoinRequest,
  MemberRef,
  SyncAnswer,
  SyncRequest,
} from './classic-protocol.js';

export type * from './classic-protocol.js';

interface Member {
  memberId: string;
  readonly instanceId: string | null;
  clientId: string;
  host: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: readonly ClassicProtocol[];
  sessionDeadline: number;
  /** A JoinGroup held at the barrier. */
  joinTicket: number | null;
  /** A SyncGroup held until the leader's. */
  syncTicket: number | null;
  assignment: Buffer;
}

const EMPTY = Buffer.alloc(0);

export class ClassicGroup {
  readonly groupId: string;
  private stateNow: ClassicState = 'Empty';
  private generationNow = 0;
  private protocolTypeNow: string | null = null;
  private protocolNameNow: string | null = null;
  private leaderId: string | null = null;
  /** In join order, so the first member joined leads when the leader is gone. */
  private readonly members = new Map<string, Member>();
  /** Ids given with MEMBER_ID_REQUIRED, not yet joined with: id → when it is forgotten. */
  private readonly pending = new Map<string, number>();
  private readonly staticMembers = new Map<string, string>();
  /** Members of the generation that have not sent SyncGroup yet (CompletingRebalance). */
  private readonly awaitingSync = new Set<string>();
  private joinDeadline = Infinity;
  private syncDeadline = Infinity;
  private readonly history: RebalanceRecord[] = [];

  constructor(groupId: string) {
    this.groupId = groupId;
  }

  get state(): ClassicState {
    return this.stateNow;
  }

  get generation(): number {
    return this.generationNow;
  }

  get protocolType(): string | null {
    return this.protocolTypeNow;
  }

  get protocolName(): string | null {
    return this.protocolNameNow;
  }

  get leader(): string | null {
    return this.leaderId;
  }

  /** Members, and ids handed out that may still join: a group with either is not empty. */
  get size(): number {
    return this.members.size + this.pending.size;
  }

  rebalances(): readonly RebalanceRecord[] {
    return this.history;
  }

  // ---- JoinGroup ----

  join(req: JoinRequest, ticket: number, ctx: GroupContext): ClassicReply[] {
    const replies: ClassicReply[] = [];
    try {
      this.checkJoin(req, ctx);
      if (req.memberId === '') this.joinUnknown(req, ticket, ctx, replies);
      else this.joinKnown(req, ticket, ctx, replies);
    } catch (err) {
      if (!(err instanceof WeirError)) throw err;
      replies.push({ ticket, join: this.joinError(err, req.memberId) });
    }
    this.assertInvariants();
    return replies;
  }

  private checkJoin(req: JoinRequest, ctx: GroupContext): void {
    checkSessionTimeout(req.sessionTimeoutMs, ctx.limits);
    if (req.protocolType === '' || req.protocols.length === 0)
      throw new WeirError('INCONSISTENT_GROUP_PROTOCOL', 'a member must name a protocol type and protocols');
    if (this.members.size === 0) return;
    if (req.protocolType !== this.protocolTypeNow)
      throw new WeirError(
        'INCONSISTENT_GROUP_PROTOCOL',
        `group '${this.groupId}' has protocol type '${this.protocolTypeNow}', the member '${req.protocolType}'`,
      );
    const supported = this.supportedProtocols();
    if (!req.protocols.some((p) => supported.has(p.name)))
      throw new WeirError(
        'INCONSISTENT_GROUP_PROTOCOL',
        `group '${this.groupId}' members support ${[...supported].join(', ')}; the member none of them`,
      );
  }

  private joinUnknown(req: JoinRequest, ticket: number, ctx: GroupContext, replies: ClassicReply[]): void {
    const memberId = ctx.newMemberId(req.clientId);
    if (req.instanceId !== null) {
      const oldId = this.staticMembers.get(req.instanceId);
      if (oldId !== undefined) return this.replaceStatic(oldId, memberId, req, ticket, ctx, replies);
    } else if (req.requireKnownMemberId) {
      this.pending.set(memberId, ctx.now + req.sessionTimeoutMs);
      const err = new WeirError('MEMBER_ID_REQUIRED', `join again with member id ${memberId}`);
      replies.push({ ticket, join: this.joinError(err, memberId) });
      return;
    }
    this.addMember(memberId, req, ticket, ctx, replies);
  }

  private joinKnown(req: JoinRequest, ticket: number, ctx: GroupContext, replies: ClassicReply[]): void {
    this.checkInstance(req);
    if (this.pending.has(req.memberId)) return this.addMember(req.memberId, req, ticket, ctx, replies);
    const member = this.requireMember(req.memberId);
    switch (this.stateNow) {
      case 'PreparingRebalance':
        this.updateMember(member, req, ticket, replies);
        this.maybeCompleteJoin(ctx, replies);
        return;
      case 'CompletingRebalance':
        if (this.sameProtocols(member, req)) {
          replies.push({ ticket, join: this.joinAnswer(member.memberId, false) });
          return;
        }
        this.updateMember(member, req, ticket, replies);
        this.prepareRebalance('subscription', member.memberId, ctx, replies);
        return;
      case 'Stable':
        if (member.memberId !== this.leaderId && this.sameProtocols(member, req)) {
          // A follower that rejoins unchanged (its heartbeat answer was lost): nothing to redo.
          replies.push({ ticket, join: this.joinAnswer(member.memberId, false) });
          return;
        }
        this.updateMember(member, req, ticket, replies);
        this.prepareRebalance(
          member.memberId === this.leaderId ? 'join' : 'subscription',
          member.memberId,
          ctx,
          replies,
        );
        return;
      case 'Empty':
        assert.fail(`member ${member.memberId} in an empty group`);
    }
  }

  private addMember(
    memberId: string,
    req: JoinRequest,
    ticket: number,
    ctx: GroupContext,
    replies: ClassicReply[],
  ): void {
    this.pending.delete(memberId);
    if (this.members.size === 0) this.protocolTypeNow = req.protocolType;
    const member: Member = {
      memberId,
      instanceId: req.instanceId,
      clientId: req.clientId,
      host: req.host,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: rebalanceTimeoutOf(req),
      protocols: req.protocols,
      sessionDeadline: ctx.now + req.sessionTimeoutMs,
      joinTicket: ticket,
      syncTicket: null,
      assignment: EMPTY,
    };
    this.members.set(memberId, member);
    if (member.instanceId !== null) this.staticMembers.set(member.instanceId, memberId);
    if (this.stateNow === 'PreparingRebalance') this.maybeCompleteJoin(ctx, replies);
    else this.prepareRebalance('join', memberId, ctx, replies);
  }

  /**
   * A static member's new incarnation: it takes the old member's place under a new id. Held
   * requests of the old one are answered FENCED_INSTANCE_ID. In a stable group with the same
   * protocols it gets the current generation back at once; otherwise the group rebalances.
   */
  private replaceStatic(
    oldId: string,
    memberId: string,
    req: JoinRequest,
    ticket: number,
    ctx: GroupContext,
    replies: ClassicReply[],
  ): void {
    const old = this.members.get(oldId)!;
    const fenced = new WeirError('FENCED_INSTANCE_ID', `instance '${req.instanceId}' joined again`);
    this.settleHeld(old, fenced, replies);
    this.members.delete(oldId);
    old.memberId = memberId;
    old.clientId = req.clientId;
    old.host = req.host;
    this.members.set(memberId, old);
    this.staticMembers.set(old.instanceId!, memberId);
    if (this.leaderId === oldId) this.leaderId = memberId;
    if (this.awaitingSync.delete(oldId)) this.awaitingSync.add(memberId);
    if (this.stateNow === 'Stable' && this.sameProtocols(old, req)) {
      old.sessionTimeoutMs = req.sessionTimeoutMs;
      old.rebalanceTimeoutMs = rebalanceTimeoutOf(req);
      old.sessionDeadline = ctx.now + old.sessionTimeoutMs;
      replies.push({ ticket, join: this.joinAnswer(memberId, memberId === this.leaderId) });
      return;
    }
    this.updateMember(old, req, ticket, replies);
    if (this.stateNow === 'PreparingRebalance') this.maybeCompleteJoin(ctx, replies);
    else this.prepareRebalance('join', memberId, ctx, replies);
  }

  private updateMember(member: Member, req: JoinRequest, ticket: number, replies: ClassicReply[]): void {
    if (member.joinTicket !== null)
      replies.push({
        ticket: member.joinTicket,
        join: this.joinError(
          new WeirError('REBALANCE_IN_PROGRESS', 'the member joined again'),
          member.memberId,
        ),
      });
    member.clientId = req.clientId;
    member.host = req.host;
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = rebalanceTimeoutOf(req);
    member.joinTicket = ticket;
  }

  // ---- the barrier ----

  private prepareRebalance(
    reason: RebalanceReason,
    memberId: string,
    ctx: GroupContext,
    replies: ClassicReply[],
  ): void {
    if (this.stateNow === 'CompletingRebalance') {
      const err = new WeirError('REBALANCE_IN_PROGRESS', `group '${this.groupId}' rebalances again`);
      for (const m of this.members.values()) {
        if (m.syncTicket !== null) replies.push({ ticket: m.syncTicket, sync: this.syncError(err) });
        m.syncTicket = null;
      }
    }
    if (this.stateNow !== 'PreparingRebalance') {
      this.history.push({ generation: this.generationNow + 1, reason, memberId, timestamp: ctx.now });
      while (this.history.length > ctx.limits.maxHistory) this.history.shift();
    }
    this.awaitingSync.clear();
    this.syncDeadline = Infinity;
    this.stateNow = 'PreparingRebalance';
    let timeout = 0;
    for (const m of this.members.values()) timeout = Math.max(timeout, m.rebalanceTimeoutMs);
    this.joinDeadline = ctx.now + timeout;
    this.maybeCompleteJoin(ctx, replies);
  }

  /** Kafka's barrier: every member has rejoined and no member id handed out is still to join. */
  private maybeCompleteJoin(ctx: GroupContext, replies: ClassicReply[]): void {
    if (this.stateNow !== 'PreparingRebalance') return;
    // With no members left the group empties at once; ids handed out join it afresh.
    if (this.members.size > 0 && this.pending.size > 0) return;
    for (const m of this.members.values()) if (m.joinTicket === null) return;
    this.completeJoin(ctx, replies);
  }

  /**
   * Starts the next generation with the members that rejoined. Dynamic members that did not are
   * dropped; static ones stay (with their last metadata) until their session ends.
   */
  private completeJoin(ctx: GroupContext, replies: ClassicReply[]): void {
    for (const m of [...this.members.values()])
      if (m.joinTicket === null && m.instanceId === null) this.drop(m, null, replies);
    this.generationNow++;
    this.joinDeadline = Infinity;
    const joined = [...this.members.values()].filter((m) => m.joinTicket !== null);
    if (joined.length === 0) {
      // Nobody rejoined (a last leave, or every member timed out at the barrier).
      for (const m of [...this.members.values()]) this.drop(m, null, replies);
      this.stateNow = 'Empty';
      this.protocolNameNow = null;
      this.leaderId = null;
      if (this.pending.size === 0) this.protocolTypeNow = null;
      return;
    }
    this.protocolNameNow = this.selectProtocol();
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId);
    if (leader === undefined || leader.joinTicket === null) this.leaderId = joined[0]!.memberId;
    this.stateNow = 'CompletingRebalance';
    let timeout = 0;
    for (const m of this.members.values()) m.assignment = EMPTY;
    // A static member away at the barrier keeps its place (and its session deadline): the leader
    // assigns to it on its last metadata, as Kafka's does.
    for (const m of joined) {
      m.sessionDeadline = ctx.now + m.sessionTimeoutMs;
      timeout = Math.max(timeout, m.rebalanceTimeoutMs);
      this.awaitingSync.add(m.memberId);
    }
    this.syncDeadline = ctx.now + timeout;
    for (const m of joined) {
      replies.push({ ticket: m.joinTicket!, join: this.joinAnswer(m.memberId, false) });
      m.joinTicket = null;
    }
  }

  /** The protocol every member supports that most members list first among those (Kafka's vote). */
  private selectProtocol(): string {
    const candidates = this.supportedProtocols();
    assert(candidates.size > 0, `group '${this.groupId}' has no protocol in common`);
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = '';
    let most = 0;
    for (const [name, n] of votes) if (n > most) [best, most] = [name, n];
    return best;
  }

  private supportedProtocols(): Set<string> {
    let common: Set<string> | null = null;
    for (const m of this.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      const before: Set<string> = common ?? names;
      common = new Set([...before].filter((n) => names.has(n)));
    }
    return common ?? new Set<string>();
  }

  private sameProtocols(member: Member, req: JoinRequest): boolean {
    return (
      member.protocols.length === req.protocols.length &&
      member.protocols.every(
        (p, i) => p.name === req.protocols[i]!.name && p.metadata.equals(req.protocols[i]!.metadata),
      )
    );
  }

  private joinAnswer(memberId: string, skipAssignment: boolean): JoinAnswer {
    const isLeader = memberId === this.leaderId;
    return {
      error: null,
      generation: this.generationNow,
      protocolType: this.protocolTypeNow,
      protocolName: this.protocolNameNow,
      leader: this.leaderId ?? '',
      memberId,
      members: isLeader
        ? [...this.members.values()].map((m) => ({
            memberId: m.memberId,
            instanceId: m.instanceId,
            metadata: this.metadataOf(m),
          }))
        : [],
      skipAssignment: isLeader && skipAssignment,
    };
  }

  private joinError(error: WeirError, memberId: string): JoinAnswer {
    return {
      error,
      generation: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      memberId,
      members: [],
      skipAssignment: false,
    };
  }

  private metadataOf(m: Member): Buffer {
    return m.protocols.find((p) => p.name === this.protocolNameNow)?.metadata ?? EMPTY;
  }

  // ---- SyncGroup ----

  sync(req: SyncRequest, ticket: number, ctx: GroupContext): ClassicReply[] {
    const replies: ClassicReply[] = [];
    try {
      const member = this.checkMember(req, req.generation);
      if (
        (req.protocolType !== null && req.protocolType !== this.protocolTypeNow) ||
        (req.protocolName !== null && req.protocolName !== this.protocolNameNow)
      )
        throw new WeirError(
          'INCONSISTENT_GROUP_PROTOCOL',
          `group '${this.groupId}' uses ${this.protocolTypeNow}/${this.protocolNameNow}`,
        );
      member.sessionDeadline = ctx.now + member.sessionTimeoutMs;
      if (this.stateNow === 'PreparingRebalance')
        throw new WeirError('REBALANCE_IN_PROGRESS', `group '${this.groupId}' is rebalancing`);
      if (this.stateNow === 'Stable') {
        replies.push({ ticket, sync: this.syncAnswer(member) });
        return replies;
      }
      if (member.syncTicket !== null)
        replies.push({
          ticket: member.syncTicket,
          sync: this.syncError(new WeirError('REBALANCE_IN_PROGRESS', 'the member synced again')),
        });
      member.syncTicket = ticket;
      this.awaitingSync.delete(member.memberId);
      if (member.memberId === this.leaderId) this.completeSync(req.assignments, replies);
    } catch (err) {
      if (!(err instanceof WeirError)) throw err;
      replies.push({ ticket, sync: this.syncError(err) });
    }
    this.assertInvariants();
    return replies;
  }

  /** The leader's assignment: each member gets its bytes (none named: empty), the group is stable. */
  private completeSync(
    assignments: readonly { memberId: string; assignment: Buffer }[],
    replies: ClassicReply[],
  ): void {
    const given = new Map(assignments.map((a) => [a.memberId, a.assignment]));
    this.stateNow = 'Stable';
    this.syncDeadline = Infinity;
    this.awaitingSync.clear();
    for (const m of this.members.values()) {
      m.assignment = given.get(m.memberId) ?? EMPTY;
      if (m.syncTicket !== null) replies.push({ ticket: m.syncTicket, sync: this.syncAnswer(m) });
      m.syncTicket = null;
    }
  }

  private syncAnswer(m: Member): SyncAnswer {
    return {
      error: null,
      protocolType: this.protocolTypeNow,
      protocolName: this.protocolNameNow,
      assignment: m.assignment,
    };
  }

  private syncError(error: WeirError): SyncAnswer {
    return { error, protocolType: null, protocolName: null, assignment: EMPTY };
  }

  // ---- Heartbeat, LeaveGroup ----

  /** Throws what Kafka answers: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS... */
  heartbeat(req: MemberRef & { generation: number }, ctx: GroupContext): void {
    const member = this.checkMember(req, req.generation);
    member.sessionDeadline = ctx.now + member.sessionTimeoutMs;
    if (this.stateNow === 'PreparingRebalance')
      throw new WeirError('REBALANCE_IN_PROGRESS', `group '${this.groupId}' is rebalancing; rejoin`);
  }

  /** Takes members out; returns each one's error (null: it left) and the replies it settled. */
  leave(
    who: readonly MemberRef[],
    ctx: GroupContext,
  ): { errors: (WeirError | null)[]; replies: ClassicReply[] } {
    const replies: ClassicReply[] = [];
    const errors: (WeirError | null)[] = [];
    let removed: string | null = null;
    for (const ref of who) {
      try {
        const id = this.leavingId(ref);
        if (this.pending.delete(id)) {
          errors.push(null);
          continue;
        }
        const member = this.requireMember(id);
        this.drop(member, new WeirError('UNKNOWN_MEMBER_ID', 'the member left'), replies);
        removed = id;
        errors.push(null);
      } catch (err) {
        if (!(err instanceof WeirError)) throw err;
        errors.push(err);
      }
    }
    if (removed !== null) this.afterRemoval('leave', removed, ctx, replies);
    else this.maybeCompleteJoin(ctx, replies);
    this.assertInvariants();
    return { errors, replies };
  }

  /** A leave names a member by id, or a static one by instance id (with its id, or ''). */
  private leavingId(ref: MemberRef): string {
    if (ref.instanceId === null) {
      if (!this.members.has(ref.memberId) && !this.pending.has(ref.memberId))
        throw new WeirError('UNKNOWN_MEMBER_ID', `group '${this.groupId}' has no member '${ref.memberId}'`);
      return ref.memberId;
    }
    const id = this.staticMembers.get(ref.instanceId);
    if (id === undefined)
      throw new WeirError('UNKNOWN_MEMBER_ID', `group '${this.groupId}' has no instance '${ref.instanceId}'`);
    if (ref.memberId !== '' && ref.memberId !== id)
      throw new WeirError(
        'FENCED_INSTANCE_ID',
        `instance '${ref.instanceId}' is member ${id}, not ${ref.memberId}`,
      );
    return id;
  }

  // ---- time ----

  /** Expires sessions, handed-out ids and the barrier's and the leader's deadlines. */
  tick(ctx: GroupContext): { expired: string[]; replies: ClassicReply[] } {
    const replies: ClassicReply[] = [];
    const expired: string[] = [];
    for (const [id, deadline] of [...this.pending]) if (ctx.now >= deadline) this.pending.delete(id);
    let reason: RebalanceReason | null = null;
    for (const m of [...this.members.values()]) {
      if (m.joinTicket !== null || m.syncTicket !== null || ctx.now < m.sessionDeadline) continue;
      this.drop(m, null, replies);
      expired.push(m.memberId);
      reason = 'session-timeout';
    }
    if (this.stateNow === 'CompletingRebalance' && ctx.now >= this.syncDeadline) {
      // The leader never sent the assignment: members that did not sync are dropped, the rest
      // gather again.
      for (const id of [...this.awaitingSync]) {
        const m = this.members.get(id);
        if (m === undefined) continue;
        this.drop(m, null, replies);
        expired.push(id);
      }
      reason = 'rebalance-timeout';
    }
    if (reason !== null) this.afterRemoval(reason, expired[0] ?? '', ctx, replies);
    if (this.stateNow === 'PreparingRebalance' && ctx.now >= this.joinDeadline) {
      for (const m of this.members.values())
        if (m.joinTicket === null && m.instanceId === null) expired.push(m.memberId);
      this.completeJoin(ctx, replies);
    } else this.maybeCompleteJoin(ctx, replies);
    this.assertInvariants();
    return { expired, replies };
  }

  /** The earliest time tick() has something to do (Infinity: nothing pending). */
  nextDeadline(): number {
    let next = this.stateNow === 'PreparingRebalance' ? this.joinDeadline : Infinity;
    if (this.stateNow === 'CompletingRebalance') next = Math.min(next, this.syncDeadline);
    for (const d of this.pending.values()) next = Math.min(next, d);
    for (const m of this.members.values())
      if (m.joinTicket === null && m.syncTicket === null) next = Math.min(next, m.sessionDeadline);
    return next;
  }

  /** Every held request answered with `error` (the coordinator moved, or is closing). */
  abandon(error: WeirError): ClassicReply[] {
    const replies: ClassicReply[] = [];
    for (const m of this.members.values()) this.settleHeld(m, error, replies);
    return replies;
  }

  // ---- commits and descriptions ----

  /**
   * Checks an OffsetCommit as Kafka's classic groups do: from outside the group (generation -1,
   * no member id) only while it is empty; from a member, at the current generation and not while
   * the generation's assignment is being handed out.
   */
  checkCommit(ref: MemberRef, generation: number): void {
    if (generation < 0 && ref.memberId === '' && ref.instanceId === null) {
      if (this.members.size > 0)
        throw new WeirError(
          'UNKNOWN_MEMBER_ID',
          `group '${this.groupId}' has ${this.members.size} members; commits must come from one of them`,
        );
      return;
    }
    this.checkMember(ref, generation);
    if (this.stateNow === 'CompletingRebalance')
      throw new WeirError('REBALANCE_IN_PROGRESS', `group '${this.groupId}' is handing out assignments`);
  }

  describeMembers(): ClassicMemberDescription[] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      clientId: m.clientId,
      host: m.host,
      metadata: this.metadataOf(m),
      assignment: m.assignment,
    }));
  }

  // ---- members ----

  private checkInstance(ref: MemberRef): void {
    if (ref.instanceId === null) return;
    const current = this.staticMembers.get(ref.instanceId);
    if (current !== undefined && current !== ref.memberId)
      throw new WeirError(
        'FENCED_INSTANCE_ID',
        `instance '${ref.instanceId}' now belongs to member ${current}, not ${ref.memberId}`,
      );
  }

  private requireMember(memberId: string): Member {
    const member = this.members.get(memberId);
    if (member === undefined)
      throw new WeirError('UNKNOWN_MEMBER_ID', `group '${this.groupId}' has no member '${memberId}'`);
    return member;
  }

  /** The member a SyncGroup, Heartbeat or OffsetCommit comes from, at `generation`. */
  private checkMember(ref: MemberRef, generation: number): Member {
    this.checkInstance(ref);
    const member = this.requireMember(ref.memberId);
    if (generation !== this.generationNow)
      throw new WeirError(
        'ILLEGAL_GENERATION',
        `generation ${generation}; group '${this.groupId}' is at generation ${this.generationNow}`,
      );
    return member;
  }

  /** Takes a member out, answering its held requests with `error` (UNKNOWN_MEMBER_ID if null). */
  private drop(member: Member, error: WeirError | null, replies: ClassicReply[]): void {
    this.settleHeld(
      member,
      error ?? new WeirError('UNKNOWN_MEMBER_ID', `member ${member.memberId} was removed from the group`),
      replies,
    );
    this.members.delete(member.memberId);
    this.awaitingSync.delete(member.memberId);
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === member.memberId)
      this.staticMembers.delete(member.instanceId);
    if (this.leaderId === member.memberId) this.leaderId = null;
  }

  private settleHeld(member: Member, error: WeirError, replies: ClassicReply[]): void {
    if (member.joinTicket !== null)
      replies.push({ ticket: member.joinTicket, join: this.joinError(error, member.memberId) });
    if (member.syncTicket !== null) replies.push({ ticket: member.syncTicket, sync: this.syncError(error) });
    member.joinTicket = null;
    member.syncTicket = null;
  }

  private afterRemoval(
    reason: RebalanceReason,
    memberId: string,
    ctx: GroupContext,
    replies: ClassicReply[],
  ): void {
    if (this.stateNow === 'Stable' || this.stateNow === 'CompletingRebalance')
      this.prepareRebalance(reason, memberId, ctx, replies);
    else this.maybeCompleteJoin(ctx, replies);
  }

  private assertInvariants(): void {
    assert(
      (this.stateNow === 'Empty') === (this.members.size === 0),
      `group '${this.groupId}' is ${this.stateNow} with ${this.members.size} members`,
    );
    if (this.stateNow === 'CompletingRebalance' || this.stateNow === 'Stable')
      assert(this.leaderId !== null && this.members.has(this.leaderId), 'a generation without its leader');
    for (const m of this.members.values()) {
      assert(
        m.syncTicket === null || this.stateNow === 'CompletingRebalance',
        `${m.memberId} holds a sync outside CompletingRebalance`,
      );
      assert(
        m.joinTicket === null || this.stateNow === 'PreparingRebalance',
        `${m.memberId} holds a join outside PreparingRebalance`,
      );
    }
  }
}

function rebalanceTimeoutOf(req: JoinRequest): number {
  return req.rebalanceTimeoutMs < 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs;
}
