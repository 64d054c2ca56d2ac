// The Raft groups one broker takes part in, driven together: one timer ticks every group, what
// the groups send to the same broker travels in one envelope (their heartbeats included, so two
// brokers sharing a thousand partitions exchange one message per heartbeat interval, not a
// thousand), and an envelope's answers go back in one envelope too.
//
// This is the driver around each group's RaftNode (broker/raft/raft-node.ts), following its Ready
// contract: a new term or vote is made durable (synchronously: it is a few bytes, and rare) before
// any message that depends on it leaves; what the log holds is reported as persisted when the flush
// policy counts it (at once when written, under the page-cache policy; once flushed, under fsync).
// Time comes from the Clock port and randomness from the config, so a test drives it exactly.
//
// It is also the groups' failure detector, which quiesced groups (RaftConfig.quiesce) need: a quiet
// follower hears nothing from a live leader, so silence no longer tells it the leader is gone.
// Every `pulseTicks` each peer broker gets an envelope, empty if no group has anything for it (one
// per peer, whatever the number of groups); a peer heard from neither way for `peerTimeoutTicks` is
// suspected, and every group is told (RaftNode.peerDown: its quiet followers wake and campaign);
// heard from again, every group is told too (peerUp: its quiet leaders wake, since the peer may have
// restarted and lost what it held).
//
// It also adds up what the groups did for the metrics (RaftTotals): elections each node started and
// won, and each leader append's time to commit, measured on the monotonic clock (a measurement
// only: nothing the groups decide depends on it).
//
// With a replication throttle, it holds the broker's one bucket (replication-throttle.ts), which
// the groups it is handed to (RaftConfig.catchUpQuota) share.

import assert from 'node:assert/strict';
import type { Clock, TimerHandle } from '../../proto/clock.js';
import type { HardState, Message, Ready } from '../raft/messages.js';
import type { MembershipChange } from '../raft/membership.js';
import type { RaftConfig } from '../raft/raft-config.js';
import type { RaftLogStore } from '../raft/raft-log.js';
import { RaftNode, type Role } from '../raft/raft-node.js';
import { RaftTotals } from './raft-totals.js';
import { ReplicationThrottle } from './replication-throttle.js';

/** One group's message inside an envelope. */
export interface GroupMessage {
  readonly group: string;
  readonly message: Message;
}

/** Everything one broker sends another in one go, for any number of groups. */
export interface Envelope {
  readonly from: number;
  readonly to: number;
  readonly messages: readonly GroupMessage[];
}

/** The broker-to-broker port: the process wires a gRPC stream, tests a queue. */
export interface RaftTransport {
  send(envelope: Envelope): void;
}

/** Where a group keeps its log and hard state, and what its flush policy counts as persisted. */
export interface GroupStorage {
  readonly log: RaftLogStore;
  /** Makes `state` durable before returning (temp file, fsync, rename). */
  persistHardState(state: HardState): void;
  /** `written`: an entry counts once in the page cache; `flushed`: once an fsync covered it. */
  readonly persistWhen: 'written' | 'flushed';
  /** Resolves once the log is flushed through `end` (used when persistWhen is `flushed`). */
  flushed(end: number): Promise<void>;
}

/** What a group tells the partition it belongs to. */
export interface GroupListener {
  /** The role, term or leader changed (become leader: rebuild producer state; resign: fail waiters). */
  roleChanged(role: Role, term: number, leader: number | null): void;
  /** The high watermark moved up: waiting fetches and acks=all produces may go on. */
  highWatermark(hw: number): void;
}

interface Group {
  readonly id: string;
  readonly node: RaftNode;
  readonly storage: GroupStorage;
  readonly listener: GroupListener;
  role: Role;
  term: number;
  leader: number | null;
  hw: number;
  /** The log end, and its last term, already reported (or being flushed for) as persisted. */
  persistedEnd: number;
  persistedTerm: number;
  removed: boolean;
  /** The node's election counts already added to the totals. */
  electionsStarted: number;
  electionsWon: number;
  /** The node was amnesiac after its last step. */
  amnesiac: boolean;
  /** Leading: appends not yet committed, as (end, monotonic ms) pairs in end order, from `pendingHead`. */
  pending: number[];
  pendingHead: number;
}

export interface RaftGroupsOptions {
  /** This broker's node id: its replica id in every group. */
  readonly self: number;
  readonly transport: RaftTransport;
  readonly clock: Clock;
  readonly tickMs: number;
  /** Ticks between liveness envelopes to each peer broker (default 2: a leader's heartbeat). */
  readonly pulseTicks?: number;
  /** Ticks of silence after which a peer broker is suspected gone (default 8: an election timeout). */
  readonly peerTimeoutTicks?: number;
  /**
   * A group failed on its own (a storage error while it took a peer's message, ticked or heard of
   * a flush): it is removed, and this says why. A failure of a proposal goes to its proposer.
   */
  readonly onGroupFailed?: (group: string, err: unknown) => void;
  /**
   * Bytes per second of appends to members catching up, over all groups given `throttle`, and the
   * ticks without holding the leader's whole log after which a member counts as catching up. Not
   * given: no throttle.
   */
  readonly throttle?: { readonly bytesPerSecond: number; readonly lagTicks: number };
}

function tickNode(n: RaftNode): void {
  n.tick();
}

/** A peer broker as the failure detector sees it. */
interface PeerState {
  /** The detector's tick at which anything last came from it. */
  heardAt: number;
  suspected: boolean;
}

/** How often the set of peer brokers is read off the groups' memberships, in ticks. */
const PEER_SCAN_TICKS = 10;

export class RaftGroups {
  private readonly self: number;
  private readonly transport: RaftTransport;
  private readonly clock: Clock;
  private readonly tickMs: number;
  private readonly onGroupFailed: (group: string, err: unknown) => void;
  private readonly groups = new Map<string, Group>();
  /** Messages waiting to leave, per destination broker; flushed at the end of each entry point. */
  private readonly outbox = new Map<number, GroupMessage[]>();
  private timer: TimerHandle | null = null;
  private closed = false;
  private readonly pulseTicks: number;
  private readonly peerTimeoutTicks: number;
  /** Ticks of this driver's timer: the failure detector's clock. */
  private tickCount = 0;
  /** Every peer broker some group has as a member (re-read every PEER_SCAN_TICKS), and its state. */
  private readonly peers = new Map<number, PeerState>();
  /** Envelopes sent, for tests and metrics. */
  envelopesSent = 0;
  /** What every group did since this broker started, for the metrics. */
  readonly totals = new RaftTotals();
  /** The broker's replication throttle, for the groups to share (null: none). */
  readonly throttle: ReplicationThrottle | null;
  /** The milliseconds commit latency is measured in: monotonic, not the Clock port's wall time. */
  private readonly monotonicMs: () => number = () => performance.now();

  constructor(options: RaftGroupsOptions) {
    assert(options.tickMs > 0, 'a tick takes time');
    this.self = options.self;
    this.transport = options.transport;
    this.clock = options.clock;
    this.tickMs = options.tickMs;
    this.pulseTicks = options.pulseTicks ?? 2;
    this.peerTimeoutTicks = options.peerTimeoutTicks ?? 8;
    assert(this.pulseTicks >= 1 && this.pulseTicks < this.peerTimeoutTicks, 'pulses come within the timeout');
    this.onGroupFailed = options.onGroupFailed ?? ((): void => undefined);
    const t = options.throttle;
    this.throttle =
      t === undefined ? null : new ReplicationThrottle({ ...t, clock: this.clock, totals: this.totals });
    this.scheduleTick();
  }

  /**
   * Starts taking part in `group`, whose local state survived as `hardState` and `storage.log`.
   * Local recovery is done (the log is open), so the replica may campaign.
   */
  add(
    group: string,
    config: Omit<RaftConfig, 'id'>,
    hardState: HardState,
    storage: GroupStorage,
    listener: GroupListener,
  ): void {
    assert(!this.closed, 'groups are added to a running broker');
    assert(!this.groups.has(group), `group ${group} added twice`);
    const node = new RaftNode({ ...config, id: this.self }, hardState, storage.log);
    const g: Group = {
      id: group,
      node,
      storage,
      listener,
      role: node.role,
      term: node.currentTerm,
      leader: node.leaderId,
      hw: node.highWatermark,
      persistedEnd: storage.log.end,
      persistedTerm: storage.log.lastTerm,
      removed: false,
      electionsStarted: 0,
      electionsWon: 0,
      amnesiac: node.isAmnesiac,
      pending: [],
      pendingHead: 0,
    };
    this.groups.set(group, g);
    this.step(g, (n) => n.recoveryDone());
    this.flush();
  }

  /** Stops taking part in `group` (the replica moved away or the topic was deleted). */
  remove(group: string): void {
    const g = this.groups.get(group);
    if (g === undefined) return;
    g.removed = true;
    this.groups.delete(group);
  }

  /** The group's node, for reads of its state (role, term, leader, high watermark). */
  node(group: string): RaftNode | undefined {
    return this.groups.get(group)?.node;
  }

  /** Appends `data` (`count` offsets) if this broker leads `group`; its first offset, or null. */
  propose(group: string, data: Uint8Array, count: number): number | null {
    const g = this.groups.get(group);
    if (g === undefined) return null;
    let offset: number | null = null;
    const proposedAt = this.monotonicMs();
    this.step(g, (n) => (offset = n.propose(data, count)));
    if (offset !== null) {
      const end = offset + count;
      // A group of one committing on its own write does so within this step.
      if (g.node.highWatermark >= end) this.totals.observeCommit((this.monotonicMs() - proposedAt) / 1000);
      else g.pending.push(end, proposedAt);
    }
    this.flush();
    return offset;
  }

  /** Asks this broker's replica, leading `group`, to hand its leadership to `to`; null, or why not. */
  transferLeadership(group: string, to: number): string | null {
    const g = this.groups.get(group);
    if (g === undefined) return 'not a group of this broker';
    let refused: string | null = null;
    this.step(g, (n) => (refused = n.transferLeadership(to)));
    this.flush();
    return refused;
  }

  /** Starts a one-replica membership change of `group`, which this broker leads; null, or why not. */
  proposeMembership(group: string, change: MembershipChange): string | null {
    const g = this.groups.get(group);
    if (g === undefined) return 'not a group of this broker';
    let outcome: number | string = 'not proposed';
    this.step(g, (n) => (outcome = n.proposeMembership(change)));
    this.flush();
    return typeof outcome === 'string' ? outcome : null;
  }

  /** Handles an envelope from a peer; the answers leave together. */
  receive(envelope: Envelope): void {
    if (this.closed) return;
    assert(envelope.to === this.self, `an envelope for ${envelope.to} reached ${this.self}`);
    this.heardFrom(envelope.from);
    for (const { group, message } of envelope.messages) {
      const g = this.groups.get(group);
      // A group this broker does not (or no longer) hosts: the sender learns it from metadata.
      if (g !== undefined) this.stepAlone(g, (n) => n.receive(message));
    }
    this.flush();
  }

  /**
   * Stops ticking and taking messages. Groups stay, so appends still accepted (a produce still
   * inflating at shutdown) go through: a group of one needs neither.
   */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    this.outbox.clear();
  }

  private scheduleTick(): void {
    this.timer = this.clock.schedule(this.tickMs, this.tickAll);
  }

  private readonly tickAll = (): void => {
    if (this.closed) return;
    this.tickCount++;
    // A group removed meanwhile (a failure) is skipped by step; none is added during a tick.
    for (const g of this.groups.values()) this.stepAlone(g, tickNode);
    if (this.tickCount % PEER_SCAN_TICKS === 1) this.scanPeers();
    this.detectFailures();
    if (this.tickCount % this.pulseTicks === 0) this.pulse();
    this.flush();
    this.scheduleTick();
  };

  /** Which peer brokers the groups have: a peer no group has any more is forgotten. */
  private scanPeers(): void {
    const seen = new Set<number>();
    for (const g of this.groups.values()) {
      const m = g.node.membership;
      for (const id of m.voters) seen.add(id);
      for (const id of m.learners) seen.add(id);
    }
    seen.delete(this.self);
    for (const id of this.peers.keys()) if (!seen.has(id)) this.peers.delete(id);
    // A peer starts as heard from now: it gets a timeout's grace before it is suspected.
    for (const id of seen)
      if (!this.peers.has(id)) this.peers.set(id, { heardAt: this.tickCount, suspected: false });
  }

  /** A peer silent for peerTimeoutTicks is suspected gone; every group hears of it once. */
  private detectFailures(): void {
    for (const [id, p] of this.peers) {
      if (p.suspected || this.tickCount - p.heardAt < this.peerTimeoutTicks) continue;
      p.suspected = true;
      for (const g of this.groups.values()) this.stepAlone(g, (n) => n.peerDown(id));
    }
  }

  private heardFrom(id: number): void {
    const p = this.peers.get(id);
    if (p === undefined) return; // not a peer of any group yet (the next scan adds it)
    p.heardAt = this.tickCount;
    if (!p.suspected) return;
    p.suspected = false;
    for (const g of this.groups.values()) this.stepAlone(g, (n) => n.peerUp(id));
  }

  /** Every peer broker gets an envelope this tick, an empty one if nothing else goes to it. */
  private pulse(): void {
    for (const id of this.peers.keys()) if (!this.outbox.has(id)) this.outbox.set(id, []);
  }

  /**
   * step() where no caller waits to hear of a failure (a peer's message, a tick, a flush): a group
   * that fails is removed and reported, and the broker and its other groups go on. Its log is
   * already offline when storage failed, and the partition reports that itself.
   */
  private stepAlone(g: Group, input: (n: RaftNode) => void): void {
    try {
      this.step(g, input);
    } catch (err) {
      this.remove(g.id);
      this.onGroupFailed(g.id, err);
    }
  }

  /** Runs `input` on a group's node and carries out its Ready. */
  private step(g: Group, input: (n: RaftNode) => void): void {
    if (g.removed) return;
    const n = g.node;
    input(n);
    // Nothing to carry out (an idle group's tick, mostly): no Ready is taken.
    const log = g.storage.log;
    if (n.hasReady || log.end !== g.persistedEnd || log.lastTerm !== g.persistedTerm) {
      for (let ready = n.takeReady(); ; ready = n.takeReady()) {
        if (!this.apply(g, ready)) break;
      }
    }
    this.observe(g);
  }

  /** Carries out one Ready; true if it fed the node something new (another Ready may follow). */
  private apply(g: Group, ready: Ready): boolean {
    let fed = false;
    if (ready.hardState !== null) {
      // Durable before anything that depends on it leaves or counts.
      g.storage.persistHardState(ready.hardState);
      g.node.hardStatePersisted(ready.hardState.term);
      fed = true;
    }
    for (const m of ready.messages) this.queue(g.id, m);
    const log = g.storage.log;
    const end = log.end;
    const term = log.lastTerm;
    // The log changed: it grew, or it was cut and maybe grew again in the same step (a follower
    // truncating a diverged suffix and appending its leader's entries in one Ready), so its end may
    // be below the last one reported and still hold entries never reported. The end and the last
    // term name the log's content (log matching); the node ignores an end at or below what it
    // already counts as durable, so a plain cut reports nothing new.
    if (end !== g.persistedEnd || term !== g.persistedTerm) {
      g.persistedEnd = end;
      g.persistedTerm = term;
      if (g.storage.persistWhen === 'written') {
        g.node.persisted(end, term);
        fed = true;
      } else {
        void g.storage.flushed(end).then(
          () => {
            if (g.removed) return;
            this.stepAlone(g, (n) => n.persisted(end, term));
            this.flush();
          },
          () => undefined, // the log is offline: its partition reports the storage error
        );
      }
    }
    return fed;
  }

  private observe(g: Group): void {
    const n = g.node;
    this.countElections(g);
    if (n.role !== g.role || n.currentTerm !== g.term || n.leaderId !== g.leader) {
      g.role = n.role;
      g.term = n.currentTerm;
      g.leader = n.leaderId;
      // Appends of a term this node no longer leads commit, if ever, under another leader.
      if (g.role !== 'leader') {
        g.pending.length = 0;
        g.pendingHead = 0;
      }
      g.listener.roleChanged(g.role, g.term, g.leader);
    }
    if (n.highWatermark > g.hw) {
      g.hw = n.highWatermark;
      this.observeCommits(g);
      g.listener.highWatermark(g.hw);
    }
  }

  private countElections(g: Group): void {
    const { electionsStarted, electionsWon } = g.node;
    this.totals.electionsStarted += electionsStarted - g.electionsStarted;
    this.totals.electionsWon += electionsWon - g.electionsWon;
    g.electionsStarted = electionsStarted;
    g.electionsWon = electionsWon;
    // A step either rejoins a follower or elects a candidate, never both: which one cleared it.
    if (g.amnesiac && !g.node.isAmnesiac) {
      if (g.node.role === 'leader') this.totals.amnesiacWins++;
      else this.totals.rejoined++;
    }
    g.amnesiac = g.node.isAmnesiac;
  }

  /** The appends the high watermark now covers: their time from append to commit. */
  private observeCommits(g: Group): void {
    const pending = g.pending;
    if (g.pendingHead >= pending.length) return;
    const now = this.monotonicMs();
    let i = g.pendingHead;
    while (i < pending.length && pending[i]! <= g.hw) {
      this.totals.observeCommit(Math.max(0, now - pending[i + 1]!) / 1000);
      i += 2;
    }
    if (i >= pending.length) {
      pending.length = 0;
      i = 0;
    } else if (i > 1024) {
      pending.splice(0, i);
      i = 0;
    }
    g.pendingHead = i;
  }

  private queue(group: string, message: Message): void {
    let box = this.outbox.get(message.to);
    if (box === undefined) this.outbox.set(message.to, (box = []));
    box.push({ group, message });
  }

  /** Sends one envelope per destination broker. */
  private flush(): void {
    if (this.closed) this.outbox.clear(); // nothing leaves a closed broker
    if (this.outbox.size === 0) return;
    const boxes = [...this.outbox];
    this.outbox.clear();
    for (const [to, messages] of boxes) {
      this.envelopesSent++;
      this.transport.send({ from: this.self, to, messages });
    }
  }
}
