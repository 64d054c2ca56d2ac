// The coordinator's classic groups: each one's state machine (classic-group.ts), and the JoinGroup
// and SyncGroup requests it holds, as promises the Kafka listener awaits. A held request is a
// ticket; whatever call settles it (another member's join, the leader's sync, a tick, a leave) hands
// back its reply, and the ticket's promise resolves with it. The coordinator routes each call here
// after checking it coordinates the group.

import assert from 'node:assert/strict';
import { WeirError } from '../../proto/errors.js';
import {
  ClassicGroup,
  type ClassicReply,
  type JoinAnswer,
  type JoinRequest,
  type MemberRef,
  type SyncAnswer,
  type SyncRequest,
} from './classic-group.js';
import type { GroupContext } from './group-protocol.js';

export class ClassicGroups {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly held = new Map<number, (reply: ClassicReply) => void>();
  private nextTicket = 1;

  constructor(private readonly log: (message: string) => void) {}

  get(groupId: string): ClassicGroup | undefined {
    return this.groups.get(groupId);
  }

  ids(): string[] {
    return [...this.groups.keys()];
  }

  /** Forgets a group with nobody in it (deleted, or taken over by the consumer protocol). */
  delete(groupId: string): void {
    const group = this.groups.get(groupId);
    assert(group === undefined || group.size === 0, `group '${groupId}' deleted with members`);
    this.groups.delete(groupId);
  }

  async join(groupId: string, req: JoinRequest, ctx: GroupContext): Promise<JoinAnswer> {
    let group = this.groups.get(groupId);
    if (group === undefined) this.groups.set(groupId, (group = new ClassicGroup(groupId)));
    const g = group;
    const reply = this.hold((ticket) => g.join(req, ticket, ctx));
    // A first join refused leaves nothing worth keeping.
    if (g.size === 0 && g.generation === 0) this.groups.delete(groupId);
    const answer = await reply;
    assert('join' in answer, 'a JoinGroup answered with a sync reply');
    return answer.join;
  }

  async sync(groupId: string, req: SyncRequest, ctx: GroupContext): Promise<SyncAnswer> {
    const group = this.requireGroup(groupId, req.memberId);
    const answer = await this.hold((ticket) => group.sync(req, ticket, ctx));
    assert('sync' in answer, 'a SyncGroup answered with a join reply');
    return answer.sync;
  }

  heartbeat(groupId: string, req: MemberRef & { generation: number }, ctx: GroupContext): void {
    this.requireGroup(groupId, req.memberId).heartbeat(req, ctx);
  }

  leave(groupId: string, who: readonly MemberRef[], ctx: GroupContext): (WeirError | null)[] {
    const group = this.groups.get(groupId);
    if (group === undefined)
      return who.map(
        (m) => new WeirError('UNKNOWN_MEMBER_ID', `group '${groupId}' has no member '${m.memberId}'`),
      );
    const { errors, replies } = group.leave(who, ctx);
    this.deliver(replies);
    return errors;
  }

  /** Expires what is due in every group. */
  tick(ctx: GroupContext): void {
    for (const group of this.groups.values()) {
      if (group.nextDeadline() > ctx.now) continue;
      const { expired, replies } = group.tick(ctx);
      this.deliver(replies);
      for (const memberId of expired)
        this.log(`group '${group.groupId}': removed member ${memberId}, generation ${group.generation}`);
    }
  }

  /** Answers what the chosen groups hold with `error` and forgets them (the coordinator moved). */
  drop(which: (groupId: string) => boolean, error: WeirError): void {
    for (const [groupId, group] of [...this.groups]) {
      if (!which(groupId)) continue;
      this.deliver(group.abandon(error));
      this.groups.delete(groupId);
    }
  }

  private requireGroup(groupId: string, memberId: string): ClassicGroup {
    const group = this.groups.get(groupId);
    if (group === undefined)
      throw new WeirError('UNKNOWN_MEMBER_ID', `group '${groupId}' has no member '${memberId}'`);
    return group;
  }

  private hold(run: (ticket: number) => ClassicReply[]): Promise<ClassicReply> {
    const ticket = this.nextTicket++;
    const reply = new Promise<ClassicReply>((resolve) => this.held.set(ticket, resolve));
    try {
      this.deliver(run(ticket));
    } catch (err) {
      this.held.delete(ticket);
      throw err;
    }
    return reply;
  }

  private deliver(replies: readonly ClassicReply[]): void {
    for (const reply of replies) {
      const resolve = this.held.get(reply.ticket);
      assert(resolve !== undefined, `reply to ticket ${reply.ticket}, which nothing holds`);
      this.held.delete(reply.ticket);
      resolve(reply);
    }
  }
}
