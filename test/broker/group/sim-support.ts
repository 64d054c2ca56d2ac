// The simulated world of group-simulation.test.ts: one ConsumerGroup on a seeded clock, a producer
// appending to an in-memory log per partition, consumers that follow the member protocol (and
// break it the ways real ones do: crash, stall, answer late, miss answers), a CommittedOffsets view
// fed through ConsumerGroup.checkCommit as the coordinator feeds it, and the checker of the safety
// invariants, run after every step. Nothing here reads a clock or Math.random (STYLE 10, 11).

import { CommittedOffsets } from '../../../broker/group/committed-offsets.js';
import { partitionKey, splitPartitionKey } from '../../../broker/group/partition-key.js';
import type { AssignorName, TopicPartition } from '../../../broker/group/assignors.js';
import {
  ConsumerGroup,
  JOIN_EPOCH,
  LEAVE_EPOCH,
  STATIC_LEAVE_EPOCH,
  type GroupContext,
  type GroupLimits,
  type HeartbeatRequest,
  type HeartbeatResult,
  type TopicView,
} from '../../../broker/group/consumer-group.js';
import { encodeOffsetKey, encodeOffsetValue } from '../../../broker/group/offset-record.js';
import { isWeirError } from '../../../proto/errors.js';
import { encodeBatch } from '../../../proto/record-batch.js';

export const GROUP_ID = 'sim';

export const SIM_LIMITS: GroupLimits = {
  heartbeatIntervalMs: 500,
  sessionTimeoutMs: 3000,
  minSessionTimeoutMs: 1500,
  maxSessionTimeoutMs: 6000,
  rebalanceTimeoutMs: 2500,
  maxHistory: 16,
};

/** mulberry32: small, fast, and the same sequence on every machine for a given seed. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in lo..hi, both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }
}

/** Faults the driver may inject; each can be switched off so fast-check can shrink a failure. */
export interface Faults {
  readonly crash: boolean;
  readonly leave: boolean;
  readonly staticRestart: boolean;
  readonly pause: boolean;
  readonly slowRevoke: boolean;
  readonly lostResponse: boolean;
  readonly stall: boolean;
  readonly topics: boolean;
  readonly subscription: boolean;
  readonly reset: boolean;
}

export interface Scenario {
  readonly seed: number;
  readonly steps: number;
  readonly assignor: AssignorName;
  readonly faults: Faults;
}

export interface Subscription {
  readonly topics: readonly string[];
  readonly pattern: string;
}

export const SUBSCRIPTIONS: readonly Subscription[] = [
  { topics: ['orders', 'payments'], pattern: '' },
  { topics: ['orders', 'payments'], pattern: '' },
  { topics: ['orders'], pattern: '' },
  { topics: ['payments', 'audit'], pattern: '' },
  { topics: ['orders'], pattern: 'logs-.*' },
  { topics: [], pattern: 'orders|logs-.*' },
];

export interface ClientOptions {
  readonly instanceId: string;
  readonly subscription: Subscription;
  /** 0: the broker's default. */
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** A restarted dynamic member rejoining with its old id (epoch 0), as KIP-848 allows. */
  readonly memberId: string;
}

const STAT_NAMES = [
  'steps',
  'joins',
  'staticRejoins',
  'heartbeats',
  'lostResponses',
  'fenced',
  'unknownMember',
  'evictedSession',
  'evictedRebalance',
  'crashes',
  'leaves',
  'staticLeaves',
  'pauses',
  'slowRevocations',
  'revocations',
  'deliveries',
  'commitsAccepted',
  'zombieCommitsRefused',
  'staleCommitsRefused',
  'resetsApplied',
  'resetsRefused',
  'topicChanges',
  'subscriptionChanges',
  'settleMs',
] as const;

/** What a run did, counted, so the test can tell that its runs went through every path. */
export type Stats = Record<(typeof STAT_NAMES)[number], number>;

export function emptyStats(): Stats {
  return Object.fromEntries(STAT_NAMES.map((n) => [n, 0])) as Stats;
}

/** A broken invariant; the driver adds the scenario and the trace. */
export class SimFailure extends Error {
  override readonly name = 'SimFailure';
}

export function fail(message: string): never {
  throw new SimFailure(message);
}

export const show = (key: string): string => {
  const { topic, partition } = splitPartitionKey(key);
  return `${topic}/${partition}`;
};
const showAll = (keys: Iterable<string>): string => `[${[...keys].map(show).join(' ')}]`;
const tpOf = (key: string): TopicPartition => splitPartitionKey(key);
export const showSubscription = (s: Subscription): string =>
  [...s.topics, ...(s.pattern === '' ? [] : [`/${s.pattern}/`])].join(',');

interface PartitionLog {
  /** Records 0..end-1 exist. */
  end: number;
  /** How many times each record was delivered to some consumer. */
  readonly delivered: number[];
  /** Records below this were skipped by an explicit reset: no consumer owes them. */
  floor: number;
  /** No record below this is undelivered (apart from those under the floor). */
  gap: number;
}

export interface Delivery {
  readonly key: string;
  readonly offset: number;
  readonly memberId: string;
  readonly epoch: number;
  readonly at: number;
}

export class World {
  now = 0;
  readonly rng: Rng;
  readonly faults: Faults;
  readonly assignor: AssignorName;
  readonly group = new ConsumerGroup(GROUP_ID);
  readonly offsets = new CommittedOffsets();
  readonly topics = new Map<string, number>();
  readonly clients: SimClient[] = [];
  readonly trace: string[] = [];
  readonly stats = emptyStats();
  /** The driver's switch: once false, no fault is injected any more (the liveness phase). */
  faultsOn = true;
  private readonly logs = new Map<string, PartitionLog>();
  private logOffset = 0;
  /** __consumer_offsets as written: one batch per commit, and the newest record of each key. */
  private readonly offsetsLog: Buffer[] = [];
  private readonly newest = new Map<string, { offset: number | null; logOffset: number }>();
  private idCounter = 0;
  private clientCounter = 0;
  private lastGeneration = 0;
  /** Committed offsets as last seen by the checker, and the partitions reset since then. */
  private readonly lastCommitted = new Map<string, number>();
  private readonly resetSinceCheck = new Set<string>();
  readonly view: TopicView = {
    partitionCount: (topic) => this.topics.get(topic) ?? 0,
    topicNames: () => [...this.topics.keys()],
  };
  private readonly traceLine: ((line: string) => void) | null;

  constructor(scenario: Scenario, traceLine: ((line: string) => void) | null) {
    this.rng = new Rng(scenario.seed);
    this.faults = scenario.faults;
    this.assignor = scenario.assignor;
    this.traceLine = traceLine;
  }

  ctx(): GroupContext {
    return {
      now: this.now,
      topics: this.view,
      limits: SIM_LIMITS,
      newMemberId: (clientId) => `${clientId}#${++this.idCounter}`,
    };
  }

  log(who: string, what: string): void {
    const line = `${String(this.now).padStart(7)} ${who.padEnd(4)} ${what}`;
    this.trace.push(line);
    this.traceLine?.(line);
  }

  fault(name: keyof Faults, p: number): boolean {
    return this.faultsOn && this.faults[name] && this.rng.chance(p);
  }

  // ---- topics and records ----

  /** Creates a topic or grows it to `count` partitions, and tells the group. */
  setPartitions(topic: string, count: number): void {
    const before = this.topics.get(topic) ?? 0;
    if (count <= before) return;
    this.topics.set(topic, count);
    for (let p = before; p < count; p++)
      this.logs.set(partitionKey(topic, p), { end: 0, delivered: [], floor: 0, gap: 0 });
    const changed = this.group.topicsChanged(this.ctx());
    if (changed) this.stats.topicChanges++;
    this.log(
      'adm',
      `${topic} now has ${count} partitions${changed ? `, generation ${this.group.generation}` : ''}`,
    );
  }

  partitionKeys(): string[] {
    return [...this.logs.keys()];
  }

  private logOf(key: string): PartitionLog {
    const log = this.logs.get(key);
    if (log === undefined) fail(`no partition ${show(key)}`);
    return log;
  }

  logEnd(key: string): number {
    return this.logOf(key).end;
  }

  produce(key: string, count: number): void {
    this.logOf(key).end += count;
  }

  /** Hands records to a consumer at `position`; returns the new position. */
  deliver(client: SimClient, key: string, position: number, max: number): number {
    const log = this.logOf(key);
    const until = Math.min(log.end, position + max);
    for (let o = position; o < until; o++) {
      log.delivered[o] = (log.delivered[o] ?? 0) + 1;
      client.deliveries.push({
        key,
        offset: o,
        memberId: client.memberId,
        epoch: client.epoch,
        at: this.now,
      });
    }
    this.stats.deliveries += Math.max(0, until - position);
    return Math.max(position, until);
  }

  /** The group's committed offset of a partition; -1 when there is none. */
  committed(key: string): number {
    const { topic, partition } = tpOf(key);
    return this.offsets.get(GROUP_ID, topic, partition)?.offset ?? -1;
  }

  private apply(key: string, offset: number | null, metadata: string): void {
    const { topic, partition } = tpOf(key);
    const value = offset === null ? null : { offset, commitTimestamp: this.now, metadata };
    const offsetKey = { group: GROUP_ID, topic, partition };
    const logOffset = this.logOffset++;
    this.offsets.apply(offsetKey, value, logOffset);
    this.newest.set(key, { offset, logOffset });
    const record = {
      timestamp: this.now,
      key: encodeOffsetKey(offsetKey),
      value: value === null ? null : encodeOffsetValue(value),
    };
    this.offsetsLog.push(encodeBatch([record], { baseOffset: logOffset }));
  }

  // ---- commits ----

  /**
   * A member's commit, as the coordinator handles one: checkCommit, then the accepted partitions
   * into the view. The answer checkCommit gives is compared with what the group's own description
   * says it must be, so a zombie's commit can only get through if the group misdescribes itself.
   */
  commit(client: SimClient, positions: ReadonlyMap<string, number>, why: string): void {
    if (positions.size === 0) return;
    const keys = [...positions.keys()];
    const me = this.group.describeMembers().find((m) => m.memberId === client.memberId);
    const owners = this.group.ownedPartitions();
    let refused: Set<string>;
    try {
      refused = this.group.checkCommit(client.memberId, client.epoch, keys.map(tpOf));
    } catch (err) {
      if (isWeirError(err, 'UNKNOWN_MEMBER_ID') && me === undefined) {
        this.stats.zombieCommitsRefused++;
        this.log(client.name, `${why} commit ${showAll(keys)} refused: UNKNOWN_MEMBER_ID`);
        return;
      }
      if (isWeirError(err, 'STALE_MEMBER_EPOCH') && me !== undefined && me.memberEpoch !== client.epoch) {
        this.stats.staleCommitsRefused++;
        this.log(client.name, `${why} commit ${showAll(keys)} at epoch ${client.epoch} refused: STALE`);
        return;
      }
      throw err;
    }
    if (me === undefined) fail(`${client.name}: commit from ${client.memberId}, not a member, was accepted`);
    if (me.memberEpoch !== client.epoch)
      fail(`${client.name}: commit at epoch ${client.epoch} accepted, member is at ${me.memberEpoch}`);
    for (const key of keys) {
      const mustRefuse = owners.get(key) !== client.memberId;
      if (refused.has(key) !== mustRefuse)
        fail(`${client.name}: commit of ${show(key)} ${refused.has(key) ? 'refused' : 'accepted'} wrongly`);
      if (refused.has(key)) this.stats.zombieCommitsRefused++;
      else {
        this.apply(key, positions.get(key) ?? 0, client.name);
        this.stats.commitsAccepted++;
      }
    }
    const shown = keys.map((k) => `${show(k)}@${positions.get(k)}${refused.has(k) ? '(refused)' : ''}`);
    this.log(client.name, `${why} commit e=${client.epoch} ${shown.join(' ')}`);
  }

  /**
   * An administrator's reset (kafka-consumer-groups --reset-offsets, or a delete when `offset` is
   * null): a commit from outside the group, allowed only while it has no members.
   */
  reset(key: string, offset: number | null): void {
    const size = this.group.size;
    try {
      this.group.checkCommit('', -1, [tpOf(key)]);
    } catch (err) {
      if (!isWeirError(err, 'UNKNOWN_MEMBER_ID') || size === 0) throw err;
      this.stats.resetsRefused++;
      return;
    }
    if (size > 0) fail(`a commit from outside the group was accepted while it has ${size} members`);
    const before = this.committed(key);
    this.apply(key, offset, 'reset');
    const log = this.logOf(key);
    if (offset !== null && offset > log.floor) log.floor = offset;
    this.resetSinceCheck.add(key);
    this.stats.resetsApplied++;
    this.log('adm', `reset ${show(key)} from ${before} to ${offset ?? 'nothing (deleted)'}`);
  }

  // ---- membership ----

  newClient(opts: ClientOptions): SimClient {
    const client = new SimClient(`c${++this.clientCounter}`, opts);
    this.clients.push(client);
    this.stats.joins++;
    client.nextHeartbeatAt = this.now;
    const sub = showSubscription(opts.subscription);
    this.log(
      client.name,
      `starts${opts.instanceId === '' ? '' : ` static ${opts.instanceId}`}${opts.memberId === '' ? '' : ` as ${opts.memberId}`} on ${sub}`,
    );
    return client;
  }

  running(): SimClient[] {
    return this.clients.filter((c) => c.status === 'running');
  }

  /** The coordinator's sweep. */
  sweep(): void {
    const evicted = this.group.expire(this.ctx());
    if (evicted.length === 0) return;
    const history = this.group.rebalances().slice(-evicted.length);
    for (const record of history) {
      if (record.reason === 'session-timeout') this.stats.evictedSession++;
      else if (record.reason === 'rebalance-timeout') this.stats.evictedRebalance++;
      this.log('grp', `evicted ${record.memberId} (${record.reason}), generation ${record.generation}`);
    }
  }

  // ---- the checker ----

  /** The safety invariants; called after every step. */
  check(): void {
    const group = this.group;
    if (group.generation < this.lastGeneration)
      fail(`group epoch went back from ${this.lastGeneration} to ${group.generation}`);
    this.lastGeneration = group.generation;

    // The coordinator's side: no partition under two members, and the owner map agrees.
    const members = group.describeMembers();
    const holder = new Map<string, string>();
    for (const m of members) {
      if (m.memberEpoch > group.generation) fail(`${m.memberId} is at epoch ${m.memberEpoch} > group`);
      for (const tp of [...m.assignment, ...m.pendingRevocation]) {
        const key = partitionKey(tp.topic, tp.partition);
        const other = holder.get(key);
        if (other !== undefined) fail(`coordinator: ${show(key)} is under ${other} and ${m.memberId}`);
        holder.set(key, m.memberId);
      }
    }
    const owners = group.ownedPartitions();
    if (owners.size !== holder.size)
      fail(`owner map has ${owners.size} entries, members hold ${holder.size}`);
    for (const [key, id] of holder) if (owners.get(key) !== id) fail(`owner of ${show(key)} is not ${id}`);

    // The members' side: what running consumers consume. Two may overlap only while one of them is
    // a zombie, and then their epochs differ; a consumer the group still knows consumes only what
    // the group counts as its own (given, or being revoked and not yet confirmed).
    const byMember = new Map(members.map((m) => [m.memberId, m]));
    const consumers = new Map<string, SimClient[]>();
    for (const c of this.running()) {
      const mine = byMember.get(c.memberId);
      for (const key of c.consuming.keys()) {
        const list = consumers.get(key) ?? [];
        const same = list.find((o) => o.epoch === c.epoch);
        if (same !== undefined)
          fail(`${show(key)} is consumed by ${same.name} and ${c.name}, both at epoch ${c.epoch}`);
        list.push(c);
        consumers.set(key, list);
        if (mine !== undefined && owners.get(key) !== c.memberId)
          fail(
            `${c.name} (${c.memberId}) consumes ${show(key)}, which the group gives to ${owners.get(key)}`,
          );
      }
    }

    // Committed offsets: the view holds the newest record of each key; only forwards (unless
    // reset), never ahead of delivery or of the log.
    const committed = this.offsets.of(GROUP_ID);
    for (const [key, n] of this.newest) {
      const c = committed.get(key);
      if ((c?.offset ?? null) !== n.offset || (c !== undefined && c.logOffset !== n.logOffset))
        fail(`view of ${show(key)}: ${c?.offset}@${c?.logOffset}, newest record ${n.offset}@${n.logOffset}`);
    }
    if (committed.size > this.newest.size) fail('the view holds keys never committed');
    for (const [key, last] of this.lastCommitted) {
      if (!committed.has(key) && !this.resetSinceCheck.has(key))
        fail(`the committed offset of ${show(key)} (${last}) disappeared without a reset`);
    }
    for (const [key, c] of committed) {
      const last = this.lastCommitted.get(key) ?? -1;
      if (c.offset < last && !this.resetSinceCheck.has(key))
        fail(`the committed offset of ${show(key)} went back from ${last} to ${c.offset}`);
      const log = this.logOf(key);
      if (c.offset > log.end) fail(`${show(key)} committed at ${c.offset}, past the log end ${log.end}`);
      while (log.gap < log.end && (log.gap < log.floor || (log.delivered[log.gap] ?? 0) > 0)) log.gap++;
      if (c.offset > log.gap)
        fail(`${show(key)} committed at ${c.offset}, but record ${log.gap} was never delivered`);
    }
    this.lastCommitted.clear();
    for (const [key, c] of committed) this.lastCommitted.set(key, c.offset);
    this.resetSinceCheck.clear();
  }

  /**
   * A coordinator restart: a fresh view replayed from the log gives the same view, and so does one
   * fed the records in any order (appends may complete out of order).
   */
  checkReplay(): void {
    const expected = [...this.offsets.of(GROUP_ID)].map(([k, c]) => `${show(k)}=${c.offset}@${c.logOffset}`);
    const shuffled = [...this.offsetsLog];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = this.rng.int(0, i);
      [shuffled[i], shuffled[j]] = [shuffled[j] as Buffer, shuffled[i] as Buffer];
    }
    for (const [name, batches] of [
      ['in order', this.offsetsLog],
      ['shuffled', shuffled],
    ] as const) {
      const view = new CommittedOffsets();
      const { skipped, lastReason } = view.replay(Buffer.concat(batches));
      if (skipped > 0) fail(`replay ${name} skipped ${skipped} records: ${lastReason}`);
      const got = [...view.of(GROUP_ID)].map(([k, c]) => `${show(k)}=${c.offset}@${c.logOffset}`);
      if (got.sort().join(' ') !== [...expected].sort().join(' '))
        fail(`replay ${name}: ${got.sort().join(' ')}; live view: ${[...expected].sort().join(' ')}`);
    }
  }

  /** The end-of-run recount, from the deliveries each consumer recorded (not the counters above). */
  checkDeliveries(): void {
    const seen = new Map<string, Set<number>>();
    for (const c of this.clients)
      for (const d of c.deliveries) {
        const set = seen.get(d.key) ?? new Set<number>();
        set.add(d.offset);
        seen.set(d.key, set);
      }
    for (const [key, c] of this.offsets.of(GROUP_ID)) {
      const floor = this.logOf(key).floor;
      const set = seen.get(key);
      for (let o = floor; o < c.offset; o++)
        if (set?.has(o) !== true)
          fail(`${show(key)}: record ${o} is below the committed ${c.offset}, never delivered`);
    }
  }
}

/** A consumer, following the member protocol of consumer-group.ts from its own point of view. */
export class SimClient {
  readonly name: string;
  readonly instanceId: string;
  subscription: Subscription;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  status: 'running' | 'crashed' | 'left' = 'running';
  memberId: string;
  /** The epoch of the last answer; 0 until the first and after being fenced. */
  epoch = JOIN_EPOCH;
  /** What it consumes now, with its position (the next offset to read). */
  readonly consuming = new Map<string, number>();
  /** Partitions it was told to give up, consumed until it gets round to it (a slow callback). */
  readonly revokeAt = new Map<string, number>();
  nextHeartbeatAt = 0;
  /** Its heartbeats do not reach the coordinator until then; it keeps consuming and committing. */
  pausedUntil = 0;
  intervalMs = SIM_LIMITS.heartbeatIntervalMs;
  readonly deliveries: Delivery[] = [];

  constructor(name: string, opts: ClientOptions) {
    this.name = name;
    this.instanceId = opts.instanceId;
    this.subscription = opts.subscription;
    this.sessionTimeoutMs = opts.sessionTimeoutMs;
    this.rebalanceTimeoutMs = opts.rebalanceTimeoutMs;
    this.memberId = opts.memberId;
  }

  get sessionMs(): number {
    return this.sessionTimeoutMs === 0 ? SIM_LIMITS.sessionTimeoutMs : this.sessionTimeoutMs;
  }

  get rebalanceMs(): number {
    return this.rebalanceTimeoutMs === 0 ? SIM_LIMITS.rebalanceTimeoutMs : this.rebalanceTimeoutMs;
  }

  /** Revocations that are due, then a heartbeat if one is due (at once after a revocation). */
  tick(w: World): void {
    for (let i = 0; i < 4 && this.status === 'running'; i++) {
      const revoked = this.finishRevocations(w);
      if (w.now < this.pausedUntil) return;
      if (!revoked && w.now < this.nextHeartbeatAt) return;
      this.heartbeat(w);
    }
  }

  /** Auto-commit: the position of everything it consumes. */
  autoCommit(w: World): void {
    w.commit(this, this.consuming, 'auto');
  }

  consume(w: World, key: string, max: number): void {
    const position = this.consuming.get(key);
    if (position !== undefined) this.consuming.set(key, w.deliver(this, key, position, max));
  }

  private finishRevocations(w: World): boolean {
    const due = new Map<string, number>();
    for (const [key, at] of this.revokeAt) if (at <= w.now) due.set(key, this.consuming.get(key) ?? 0);
    if (due.size === 0) return false;
    w.commit(this, due, 'revoke');
    for (const key of due.keys()) {
      this.revokeAt.delete(key);
      this.consuming.delete(key);
    }
    w.stats.revocations += due.size;
    w.log(this.name, `gave up ${showAll(due.keys())}`);
    return true;
  }

  private heartbeat(w: World): void {
    const joining = this.epoch === JOIN_EPOCH;
    const owned = joining ? [] : [...this.consuming.keys()];
    // Consumers name the group's assignor, or leave it to the broker when it is the default: a
    // consumer configured otherwise would be refused with INCONSISTENT_GROUP_PROTOCOL.
    const assignor = w.assignor === 'sticky' && w.rng.chance(0.3) ? '' : w.assignor;
    let res: HeartbeatResult;
    const generation = w.group.generation;
    w.stats.heartbeats++;
    try {
      res = w.group.heartbeat(this.request(this.epoch, owned, assignor), w.ctx());
    } catch (err) {
      if (!isWeirError(err, 'FENCED_MEMBER_EPOCH') && !isWeirError(err, 'UNKNOWN_MEMBER_ID')) throw err;
      if (err.code === 'FENCED_MEMBER_EPOCH') w.stats.fenced++;
      else w.stats.unknownMember++;
      w.log(
        this.name,
        `hb ${this.memberId} e=${this.epoch} ${showAll(owned)}: ${err.code}; drops all, rejoins`,
      );
      this.consuming.clear();
      this.revokeAt.clear();
      this.epoch = JOIN_EPOCH;
      // Rejoining with the old id or with none: the group must treat both as a new member.
      if (w.rng.chance(0.5)) this.memberId = '';
      this.nextHeartbeatAt = w.now;
      return;
    }
    // A static member that finds its old incarnation still in the group takes its place: no bump.
    if (joining && this.instanceId !== '' && w.group.generation === generation) w.stats.staticRejoins++;
    const line = `hb ${joining ? 'join' : `e=${this.epoch}`} ${showAll(owned)} -> ${res.memberId} e=${res.memberEpoch} g=${res.groupEpoch} ${showAll(res.assignment.map((tp) => partitionKey(tp.topic, tp.partition)))}`;
    if (w.fault('lostResponse', 0.03)) {
      w.stats.lostResponses++;
      w.log(this.name, `${line} (answer lost)`);
      this.nextHeartbeatAt = w.now + this.intervalMs;
      return;
    }
    w.log(this.name, line);
    this.onAnswer(w, res);
  }

  private request(memberEpoch: number, owned: readonly string[], assignor: string): HeartbeatRequest {
    return {
      memberId: this.memberId,
      memberEpoch,
      instanceId: this.instanceId,
      clientId: this.name,
      host: 'sim',
      sessionTimeoutMs: this.sessionTimeoutMs,
      rebalanceTimeoutMs: this.rebalanceTimeoutMs,
      subscribedTopics: this.subscription.topics,
      subscribedPattern: this.subscription.pattern,
      assignor,
      owned: owned.map(tpOf),
    };
  }

  private onAnswer(w: World, res: HeartbeatResult): void {
    if (res.memberEpoch < 0) fail(`${this.name}: heartbeat answered with epoch ${res.memberEpoch}`);
    this.memberId = res.memberId;
    this.epoch = res.memberEpoch;
    this.intervalMs = res.heartbeatIntervalMs;
    this.nextHeartbeatAt = w.now + Math.round(res.heartbeatIntervalMs * (0.8 + 0.3 * w.rng.next()));
    const assigned = new Set(res.assignment.map((tp) => partitionKey(tp.topic, tp.partition)));
    for (const key of assigned) {
      if (this.revokeAt.delete(key)) continue;
      if (this.consuming.has(key)) continue;
      this.consuming.set(key, Math.max(0, w.committed(key)));
    }
    for (const key of this.consuming.keys()) {
      if (assigned.has(key) || this.revokeAt.has(key)) continue;
      let at = w.now;
      if (w.fault('slowRevoke', 0.3)) {
        at += w.rng.int(100, Math.round(this.rebalanceMs * 1.6));
        w.stats.slowRevocations++;
        w.log(this.name, `will give up ${show(key)} at ${at}`);
      }
      this.revokeAt.set(key, at);
    }
  }

  /** Stops without a word: no commit, no leave. */
  crash(w: World): void {
    this.status = 'crashed';
    this.consuming.clear();
    this.revokeAt.clear();
    w.stats.crashes++;
    w.log(this.name, `crashes (${this.memberId} e=${this.epoch})`);
  }

  /** Commits, stops consuming, and leaves: for good (-1), or to come back (-2, static only). */
  leave(w: World, temporary: boolean): void {
    w.commit(this, this.consuming, 'leave');
    this.consuming.clear();
    this.revokeAt.clear();
    this.status = 'left';
    const epoch = temporary && this.instanceId !== '' ? STATIC_LEAVE_EPOCH : LEAVE_EPOCH;
    if (epoch === STATIC_LEAVE_EPOCH) w.stats.staticLeaves++;
    else w.stats.leaves++;
    if (this.epoch === JOIN_EPOCH && this.memberId === '') {
      w.log(this.name, 'stops before joining');
      return;
    }
    try {
      w.group.heartbeat(this.request(epoch, [], ''), w.ctx());
      w.log(this.name, `leaves ${this.memberId} with ${epoch}, generation ${w.group.generation}`);
    } catch (err) {
      // A zombie leaving a group that already evicted it, or a static member whose last join
      // answer was lost: the group gave its instance id to a member id it never heard of.
      if (!isWeirError(err, 'UNKNOWN_MEMBER_ID') && !isWeirError(err, 'FENCED_INSTANCE_ID')) throw err;
      w.log(this.name, `leaves ${this.memberId} with ${epoch}: ${err.code}`);
    }
  }
}
