// This broker as a member of a cluster (a broker started with peers): it applies the committed
// metadata log (__cluster_metadata) into its MetadataImage, heartbeats the controller, and, while
// it leads the metadata log, does the controller's part: it registers brokers and keeps their
// liveness (broker/cluster/ holds the pure model; this file drives it with the clock, the metadata
// partition and the peers' replication listeners).
//
// The controller plans only against an image that holds its whole log: while entries it (or an
// earlier leader) appended are not yet committed and applied, it appends nothing more, so it never
// plans twice from the same image and a new controller first sees what the last one committed. A
// heartbeat is answered at once with what the committed log says of the broker (`live`: registered
// as that incarnation and unfenced); what it asked for (registration, unfencing) commits in the
// background, and the broker hears of it at its next heartbeat. Liveness starts afresh with each
// term of the metadata log, as BrokerLiveness asks.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../proto/clock.js';
import { batchBaseOffset, batchIsControl, batchSize } from '../proto/batch-header.js';
import { WeirError } from '../proto/errors.js';
import type { ReplicationClient } from '../proto/generated/weir/replication/v1/Replication.js';
import { decodeBatch, encodeBatch } from '../proto/record-batch.js';
import { BrokerLiveness } from './cluster/broker-liveness.js';
import { planCommand, type ControllerCommand } from './cluster/controller-commands.js';
import { planRegisterBroker } from './cluster/controller-planner.js';
import { MetadataImage } from './cluster/metadata-image.js';
import {
  decodeMetadataRecord,
  encodeMetadataRecord,
  type MetadataRecord,
  type RegisterBrokerRecord,
} from './cluster/metadata-records.js';
import { peerAddress, type Peer } from './config.js';
import type { Partition } from './partition.js';
import { replicationProto } from './replica/replication-wire.js';
import { commandToWire } from './controller-wire.js';
import { fromServiceError } from '../proto/grpc.js';
import type { TopicLimits } from './topic-registry.js';

/** How often the member looks at the log and the controller checks liveness. */
const TICK_MS = 100;
/** How often a broker heartbeats the controller (KRaft's broker.heartbeat.interval.ms is 2 s). */
export const HEARTBEAT_INTERVAL_MS = 500;
/** A broker not heard from for this long is fenced (KRaft's broker.session.timeout.ms is 9 s). */
export const SESSION_TIMEOUT_MS = 4_000;
const HEARTBEAT_DEADLINE_MS = 2_000;
/**
 * How long an admin request may take end to end: finding the controller (through an election),
 * committing its records, and this broker applying them (Kafka's request.timeout.ms is 30 s).
 */
export const CONTROLLER_REQUEST_TIMEOUT_MS = 15_000;
/**
 * How often a broker hands the partitions it leads back to their preferred replicas (Kafka checks
 * every 300 s, leader.imbalance.check.interval.seconds; Redpanda balances continuously).
 */
export const BALANCE_INTERVAL_MS = 5_000;
/** How often a partition's leader takes the next step of a move (cluster-reassign.ts). */
const REASSIGN_INTERVAL_MS = 500;
const READ_BYTES = 1024 * 1024;

/** This broker's registration: who it is this run, and where clients and peers reach it. */
export type Registration = Omit<RegisterBrokerRecord, 'type'>;

export interface ClusterMemberDeps {
  readonly self: number;
  readonly clusterId: string;
  readonly peers: readonly Peer[];
  readonly clock: Clock;
  /** The metadata log's partition on this broker (absent while it is being made). */
  readonly partition: () => Partition | undefined;
  /** This broker's registration as it is now (its ports are known once its listeners are bound). */
  readonly registration: () => Registration;
  /** A record of the log that does not fit the image, or a heartbeat that failed (for the log). */
  readonly report: (message: string) => void;
  /** The id of a topic the controller creates (a fresh UUID). */
  readonly newTopicId: () => string;
  /** What topic requests are checked against (the single broker's limits). */
  readonly limits: TopicLimits;
  /**
   * Told after records that name topics were applied: those topics, and the end of the log now
   * applied (the broker makes its replicas match the image; see cluster-topics.ts).
   */
  readonly onTopicsApplied?: (topics: ReadonlySet<string>, appliedEnd: number) => void;
  /** The preferred-leader balancer's round, every BALANCE_INTERVAL_MS, given the live brokers. */
  readonly balanceLeaders?: (live: ReadonlySet<number>) => void;
  /** The round of the moves this broker's partitions are making, every REASSIGN_INTERVAL_MS. */
  readonly reassignRound?: () => void;
}

/** Errors after which an admin request looks for the controller again. */
const MOVED = new Set(['NOT_CONTROLLER', 'NOT_LEADER_OR_FOLLOWER', 'NETWORK_EXCEPTION']);

export class ClusterMember {
  readonly image = new MetadataImage();
  /** The offset after the last record applied to the image. */
  private applied = 0;
  private liveness: { readonly term: number; readonly liveness: BrokerLiveness } | null = null;
  private timer: TimerHandle | null = null;
  private sinceHeartbeat = HEARTBEAT_INTERVAL_MS;
  private sinceBalance = 0;
  private sinceReassign = 0;
  private heartbeatInFlight = false;
  private readonly clients = new Map<number, ReplicationClient>();
  private stopped = false;
  /** Failures that repeat every tick or heartbeat, by kind: reported once until they clear. */
  private readonly failing = new Set<'tick' | 'heartbeat'>();
  /** Topics named by the records applied since the broker was last told. */
  private readonly changedTopics = new Set<string>();
  /** Requests waiting for the image to apply the log through an end, in no order. */
  private appliedWaiters: { end: number; resolve: () => void }[] = [];
  /** The controller's admin requests, one at a time: each plans against the last one's outcome. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ClusterMemberDeps) {}

  /** Starts applying the log, heartbeating, and (while leading) the controller's part. */
  start(): void {
    assert(this.timer === null && !this.stopped, 'a cluster member starts once');
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.wakeApplied(Infinity);
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /**
   * A broker's heartbeat, on the controller: plans its registration or unfencing when the image
   * holds the whole log, and answers what the committed log says of it now. NOT_CONTROLLER when
   * this broker does not lead the metadata log.
   */
  heartbeat(request: Registration, nowMs: number): { live: boolean } {
    const p = this.controllerPartition();
    const { nodeId, incarnation } = request;
    if (!this.deps.peers.some((q) => q.nodeId === nodeId))
      throw new WeirError('INVALID_REQUEST', `node ${nodeId} is not among the cluster's peers`);
    if (this.caughtUp(p)) {
      const records = [
        ...planRegisterBroker(this.image, request),
        ...this.livenessOf(p).heartbeat(nodeId, incarnation, nowMs),
      ];
      this.append(p, records, nowMs);
    } else {
      // Nothing is planned from a stale image, but the broker was heard from.
      this.livenessOf(p).seen(nodeId, incarnation, nowMs);
    }
    const b = this.image.broker(request.nodeId);
    return { live: b !== undefined && b.incarnation === request.incarnation && !b.fenced };
  }

  // ---- admin requests ----

  /**
   * Carries out an admin request wherever the controller is: here, or forwarded to it over its
   * replication listener. Resolves once the records that carry it out are committed and applied by
   * this broker's image too (so the caller reads its own change here); refusals are the planner's
   * typed errors. A controller that moves is followed; REQUEST_TIMED_OUT when none answers in time.
   */
  async request(command: ControllerCommand): Promise<void> {
    const deadline = this.deps.clock.now() + CONTROLLER_REQUEST_TIMEOUT_MS;
    for (;;) {
      if (this.stopped) throw new WeirError('BROKER_SHUTTING_DOWN', `broker ${this.deps.self} is stopping`);
      const controller = this.deps.partition()?.leaderId ?? null;
      try {
        let end: number | null = null;
        if (controller === this.deps.self) end = await this.submit(command);
        else if (controller !== null) end = await this.forward(controller, command, deadline);
        if (end !== null) {
          await this.untilApplied(end, deadline);
          return;
        }
      } catch (err) {
        // The controller moved (or was never reached): ask again wherever it is now.
        if (!(err instanceof WeirError) || !MOVED.has(err.code)) throw err;
      }
      if (this.deps.clock.now() + TICK_MS >= deadline)
        throw new WeirError(
          'REQUEST_TIMED_OUT',
          `no controller carried out the request within ${CONTROLLER_REQUEST_TIMEOUT_MS} ms`,
        );
      await this.sleep(TICK_MS);
    }
  }

  /**
   * On the controller: plans `command` against an image that holds the whole log, appends its
   * records as one batch and resolves with the log's end once they are committed and applied. One
   * request at a time, so each plans against the outcome of the one before.
   */
  submit(command: ControllerCommand): Promise<number> {
    const run = this.queue.then(() => this.carryOut(command));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async carryOut(command: ControllerCommand): Promise<number> {
    const deadline = this.deps.clock.now() + CONTROLLER_REQUEST_TIMEOUT_MS;
    let p = this.controllerPartition();
    // A new controller first commits what earlier ones appended (its term's first entry does).
    while (!this.caughtUp(p)) {
      if (this.deps.clock.now() >= deadline)
        throw new WeirError('REQUEST_TIMED_OUT', 'the controller did not catch up with its log in time');
      await this.sleep(TICK_MS);
      p = this.controllerPartition();
    }
    const records = planCommand(this.image, command, this.deps.newTopicId, this.deps.limits);
    if (records.length === 0) return this.applied;
    const now = this.deps.clock.now();
    const batch = encodeBatch(
      records.map((r) => ({ key: null, value: encodeMetadataRecord(r), timestamp: now })),
    );
    const { end, committed } = p.appendInternalCommitted(batch);
    await committed;
    this.apply(p);
    return end;
  }

  /** Sends `command` to the controller's replication listener; resolves with the log end it gives. */
  private forward(controller: number, command: ControllerCommand, deadline: number): Promise<number> {
    const client = this.clientOf(controller);
    if (client === null)
      return Promise.reject(new WeirError('NOT_CONTROLLER', `broker ${controller} is not a peer`));
    return new Promise((resolve, reject) => {
      client.Controller(
        { clusterId: this.deps.clusterId, from: this.deps.self, ...commandToWire(command) },
        { deadline: new Date(deadline) },
        (err, answer) => {
          if (err !== null) reject(fromServiceError(err));
          else resolve(Number(answer?.metadataEnd ?? 0));
        },
      );
    });
  }

  /** Resolves once this broker's image holds the log through `end`; REQUEST_TIMED_OUT past `deadline`. */
  private untilApplied(end: number, deadline: number): Promise<void> {
    if (this.applied >= end) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        end,
        resolve: (): void => {
          timer.cancel();
          if (this.stopped)
            reject(new WeirError('BROKER_SHUTTING_DOWN', `broker ${this.deps.self} is stopping`));
          else resolve();
        },
      };
      const timer = this.deps.clock.schedule(Math.max(0, deadline - this.deps.clock.now()), () => {
        this.appliedWaiters = this.appliedWaiters.filter((w) => w !== waiter);
        reject(
          new WeirError(
            'REQUEST_TIMED_OUT',
            `the change is committed at metadata offset ${end}, but this broker has applied only to ${this.applied}`,
          ),
        );
      });
      this.appliedWaiters.push(waiter);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.deps.clock.schedule(ms, resolve));
  }

  private controllerPartition(): Partition {
    if (this.stopped) throw new WeirError('BROKER_SHUTTING_DOWN', `broker ${this.deps.self} is stopping`);
    const p = this.deps.partition();
    if (p === undefined || p.role !== 'leader') {
      const leader = p?.leaderId ?? null;
      throw new WeirError(
        'NOT_CONTROLLER',
        `broker ${this.deps.self} is not the controller${leader === null ? '' : `: broker ${leader} is`}`,
      );
    }
    return p;
  }

  /** Applies what committed since the last look; true when the image holds the whole log. */
  private caughtUp(p: Partition): boolean {
    this.apply(p);
    return this.applied === p.logEndOffset;
  }

  private livenessOf(p: Partition): BrokerLiveness {
    if (this.liveness?.term !== p.leaderEpoch)
      this.liveness = { term: p.leaderEpoch, liveness: new BrokerLiveness(this.image, SESSION_TIMEOUT_MS) };
    return this.liveness.liveness;
  }

  /** Appends `records` as one batch of the metadata log; they take effect once committed. */
  private append(p: Partition, records: readonly MetadataRecord[], nowMs: number): void {
    if (records.length === 0) return;
    const batch = encodeBatch(
      records.map((r) => ({ key: null, value: encodeMetadataRecord(r), timestamp: nowMs })),
    );
    p.appendInternal(batch).flushed.catch((err: unknown) =>
      this.deps.report(`metadata append was not flushed: ${String(err)}`),
    );
  }

  /** Applies the committed records past `applied`, in log order. */
  private apply(p: Partition): void {
    const hw = p.highWatermark;
    if (this.applied < p.logStartOffset) this.applied = p.logStartOffset;
    while (this.applied < hw) {
      const read = p.read(this.applied, READ_BYTES, { maxOffset: hw });
      const buf = read.records;
      if (buf.length === 0) break;
      for (let off = 0; off < buf.length; off += batchSize(buf, off)) {
        if (batchIsControl(buf, off)) continue;
        const decoded = decodeBatch(buf, off, off + batchSize(buf, off));
        if (!decoded.ok) {
          this.deps.report(`metadata batch at ${batchBaseOffset(buf, off)}: ${decoded.reason}`);
          continue;
        }
        for (const r of decoded.batch.records) {
          if (r.offset < this.applied || r.value === null) continue;
          this.applyRecord(r.offset, r.value);
        }
      }
      this.applied = Math.max(this.applied, read.lastOffset + 1);
    }
    if (this.changedTopics.size > 0 && this.deps.onTopicsApplied !== undefined) {
      const topics = new Set(this.changedTopics);
      this.changedTopics.clear();
      this.deps.onTopicsApplied(topics, this.applied);
    }
    this.wakeApplied(this.applied);
  }

  private wakeApplied(end: number): void {
    if (this.appliedWaiters.length === 0) return;
    const still: { end: number; resolve: () => void }[] = [];
    const ready: (() => void)[] = [];
    for (const w of this.appliedWaiters) {
      if (w.end <= end) ready.push(w.resolve);
      else still.push(w);
    }
    this.appliedWaiters = still;
    for (const resolve of ready) resolve();
  }

  private applyRecord(offset: number, value: Uint8Array): void {
    let record: MetadataRecord;
    try {
      record = decodeMetadataRecord(value);
    } catch (err) {
      this.deps.report(`metadata record at ${offset}: ${(err as Error).message}`);
      return;
    }
    const ignored = this.image.apply(record);
    if (ignored !== null) this.deps.report(`metadata record at ${offset} ignored: ${ignored}`);
    else if (record.type === 'topic' || record.type === 'removeTopic') this.changedTopics.add(record.name);
    else if (record.type === 'partition' || record.type === 'reassign' || record.type === 'config')
      this.changedTopics.add(record.topic);
  }

  private schedule(): void {
    this.timer = this.deps.clock.schedule(TICK_MS, () => {
      if (this.stopped) return;
      try {
        this.tick();
        this.cleared('tick', 'cluster member ticks again');
      } catch (err) {
        // A metadata log gone offline, or a leadership lost between the check and the append: the
        // next tick looks again (the partition's own health is reported where storage is).
        this.failed('tick', `cluster member tick failed: ${(err as Error).message}`);
      }
      this.schedule();
    });
  }

  private tick(): void {
    const p = this.deps.partition();
    if (p === undefined) return;
    const now = this.deps.clock.now();
    if (p.role === 'leader' && this.caughtUp(p)) this.append(p, this.livenessOf(p).tick(now), now);
    else this.apply(p);
    this.sinceBalance += TICK_MS;
    if (this.sinceBalance >= BALANCE_INTERVAL_MS && this.deps.balanceLeaders !== undefined) {
      this.sinceBalance = 0;
      // Live as the committed log says: a fenced broker gets nothing back until it is unfenced.
      this.deps.balanceLeaders(new Set(this.image.liveBrokers().map((b) => b.nodeId)));
    }
    this.sinceReassign += TICK_MS;
    if (this.sinceReassign >= REASSIGN_INTERVAL_MS && this.deps.reassignRound !== undefined) {
      this.sinceReassign = 0;
      this.deps.reassignRound();
    }
    this.sinceHeartbeat += TICK_MS;
    if (this.sinceHeartbeat >= HEARTBEAT_INTERVAL_MS && !this.heartbeatInFlight) {
      this.sinceHeartbeat = 0;
      this.sendHeartbeat(p, now);
    }
  }

  /** Heartbeats the controller: itself in place, another over its replication listener. */
  private sendHeartbeat(p: Partition, now: number): void {
    const controller = p.leaderId;
    if (controller === null) return;
    const registration = this.deps.registration();
    if (controller === this.deps.self) {
      try {
        this.heartbeat(registration, now);
        this.cleared('heartbeat', 'heartbeats reach the controller again');
      } catch (err) {
        this.failed('heartbeat', `heartbeat to itself failed: ${(err as Error).message}`);
      }
      return;
    }
    const client = this.clientOf(controller);
    if (client === null) return;
    this.heartbeatInFlight = true;
    client.Heartbeat(
      { clusterId: this.deps.clusterId, ...registration },
      { deadline: new Date(now + HEARTBEAT_DEADLINE_MS) },
      // The answer says whether the controller has it live yet; the applied log says the same.
      (err) => {
        this.heartbeatInFlight = false;
        if (err === null) this.cleared('heartbeat', 'heartbeats reach the controller again');
        else this.failed('heartbeat', `heartbeat to broker ${controller} failed: ${err.details}`);
      },
    );
  }

  /** Reports the first failure of a kind; the rest of the episode is quiet (an election, an outage). */
  private failed(kind: 'tick' | 'heartbeat', message: string): void {
    if (this.failing.has(kind)) return;
    this.failing.add(kind);
    this.deps.report(`${message} (reported once until it clears)`);
  }

  private cleared(kind: 'tick' | 'heartbeat', message: string): void {
    if (this.failing.delete(kind)) this.deps.report(message);
  }

  private clientOf(nodeId: number): ReplicationClient | null {
    let client = this.clients.get(nodeId);
    if (client !== undefined) return client;
    const peer = this.deps.peers.find((q) => q.nodeId === nodeId);
    if (peer === undefined) return null;
    const Replication = replicationProto().Replication;
    client = new Replication(peerAddress(peer), grpc.credentials.createInsecure());
    this.clients.set(nodeId, client);
    return client;
  }
}
