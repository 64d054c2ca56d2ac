// Broker liveness on the controller, as KRaft's BrokerHeartbeatManager in spirit: brokers
// heartbeat, a broker silent for longer than the session timeout is fenced, and a fenced broker of
// the registered incarnation is unfenced by its next heartbeat. A pure state machine: time comes in
// as numbers, and its outputs are records for the controller to append (it changes no image).
//
// It reads the controller's image, which moves only when records commit, so between asking for a
// fence or unfence and seeing the broker's entry change it does not ask again. It compares entries
// by identity: the image replaces a broker's entry at each change and only then, so any change
// (the one asked for, or a record of an earlier controller committed meanwhile) ends the wait, and
// what to ask is decided afresh. The wait lives as long as the controller's term: a controller that
// loses leadership may have asked for records that never commit, so the wiring makes a new
// BrokerLiveness at each term.
//
// A new controller knows no heartbeat yet: it starts every broker's session at the first tick or
// heartbeat it sees, as KRaft gives every broker a fresh session after a failover, rather than
// fencing the whole cluster for the old controller's silence.
//
// Time is a monotonic clock in milliseconds; a time earlier than one seen before counts as no time
// passing.

import assert from 'node:assert/strict';
import type { BrokerImage, MetadataImage } from './metadata-image.js';
import type { MetadataRecord } from './metadata-records.js';

interface Session {
  readonly incarnation: string;
  /** When the broker was last heard from (or first seen by this controller). */
  lastSeenMs: number;
  /** The broker's entry when a fence or unfence was asked; null when nothing is awaited. */
  askedAgainst: BrokerImage | null;
}

export class BrokerLiveness {
  private readonly image: MetadataImage;
  readonly sessionTimeoutMs: number;
  private readonly sessions = new Map<number, Session>();

  constructor(image: MetadataImage, sessionTimeoutMs: number) {
    assert.ok(Number.isSafeInteger(sessionTimeoutMs) && sessionTimeoutMs > 0, 'sessionTimeoutMs > 0');
    this.image = image;
    this.sessionTimeoutMs = sessionTimeoutMs;
  }

  /**
   * A heartbeat of `nodeId` as `incarnation`: an unfence record when the broker is the registered
   * incarnation and fenced. A heartbeat of another incarnation, or of an unregistered node, changes
   * nothing (image.isCurrent tells the surface to answer that the broker must register again).
   */
  heartbeat(nodeId: number, incarnation: string, nowMs: number): MetadataRecord[] {
    const broker = this.image.broker(nodeId);
    if (broker === undefined || broker.incarnation !== incarnation) return [];
    const session = this.session(nodeId, incarnation, nowMs);
    session.lastSeenMs = Math.max(session.lastSeenMs, nowMs);
    if (!broker.fenced || this.awaiting(session, broker)) return [];
    session.askedAgainst = broker;
    return [{ type: 'unfenceBroker', nodeId, incarnation }];
  }

  /**
   * A heartbeat of `nodeId` as `incarnation` that cannot be planned from now (the controller's image
   * lags its log): it keeps the broker's session alive and asks for nothing.
   */
  seen(nodeId: number, incarnation: string, nowMs: number): void {
    const broker = this.image.broker(nodeId);
    if (broker === undefined || broker.incarnation !== incarnation) return;
    const session = this.session(nodeId, incarnation, nowMs);
    session.lastSeenMs = Math.max(session.lastSeenMs, nowMs);
  }

  /** Fence records for every live broker silent for longer than the session timeout. */
  tick(nowMs: number): MetadataRecord[] {
    const records: MetadataRecord[] = [];
    for (const nodeId of [...this.sessions.keys()])
      if (this.image.broker(nodeId) === undefined) this.sessions.delete(nodeId);
    for (const broker of this.image.brokers()) {
      const session = this.session(broker.nodeId, broker.incarnation, nowMs);
      if (broker.fenced || this.awaiting(session, broker)) continue;
      if (nowMs - session.lastSeenMs <= this.sessionTimeoutMs) continue;
      session.askedAgainst = broker;
      records.push({ type: 'fenceBroker', nodeId: broker.nodeId, incarnation: broker.incarnation });
    }
    return records;
  }

  /** The session of the registered incarnation, begun now if this is the first sight of it. */
  private session(nodeId: number, incarnation: string, nowMs: number): Session {
    const known = this.sessions.get(nodeId);
    if (known !== undefined && known.incarnation === incarnation) return known;
    const fresh: Session = { incarnation, lastSeenMs: nowMs, askedAgainst: null };
    this.sessions.set(nodeId, fresh);
    return fresh;
  }

  /** Whether a request is still awaited: the broker's entry is the one it was asked against. */
  private awaiting(session: Session, broker: BrokerImage): boolean {
    if (session.askedAgainst === broker) return true;
    session.askedAgainst = null;
    return false;
  }
}
