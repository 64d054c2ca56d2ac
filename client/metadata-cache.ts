// A client's view of its topics, from GetMetadata: each topic's partition count and who leads each
// partition. A topic is looked up the first time it is used and refreshed in the background once
// older than maxAgeMs (Kafka's metadata.max.age.ms), so partitions added with createPartitions are
// picked up without restarting the client; a client that meets a leader gone (NOT_LEADER_OR_FOLLOWER,
// a broker it cannot reach) asks for a refresh at once. Lookups asked for while one is in flight
// wait and go out together in the next, after a backoff when the last one failed.

import { WeirError, isWeirError } from '../proto/errors.js';
import { fromWireError } from '../proto/grpc.js';
import type { MetadataResponse__Output } from '../proto/generated/weir/v1/MetadataResponse.js';
import { backoffMs, type Clock, type Random, type TimerHandle } from './clock.js';

/** A partition whose leader is not known (none elected yet, or the topic not looked up). */
export const NO_LEADER = -1;

/**
 * Errors of a partition (or of a call to its leader) that say its leader may be elsewhere now: the
 * producer and the consumer look the topic up again before they send to it.
 */
export const STALE_LEADER: ReadonlySet<string> = new Set([
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'BROKER_SHUTTING_DOWN',
  'REQUEST_TIMED_OUT',
  'UNKNOWN_TOPIC_OR_PARTITION',
]);

export interface TopicInfo {
  partitionCount: number;
  /** The node id leading each partition, NO_LEADER when there is none. */
  leaders: Int32Array;
  fetchedAt: number;
}

export interface MetadataCacheOptions {
  fetch: (topics: string[]) => Promise<MetadataResponse__Output>;
  clock: Clock;
  random: Random;
  maxAgeMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** Called after every lookup, successful or not. */
  onUpdate: () => void;
}

export class MetadataCache {
  private readonly options: MetadataCacheOptions;
  private readonly topics = new Map<string, TopicInfo>();
  private readonly errors = new Map<string, WeirError>();
  private readonly wanted = new Set<string>();
  private inFlight = false;
  private failures = 0;
  private retryTimer: TimerHandle | null = null;
  private closed = false;
  /** Counts completed lookups, so a caller can wait for one that started after it asked. */
  generation = 0;

  constructor(options: MetadataCacheOptions) {
    this.options = options;
  }

  get(topic: string): TopicInfo | undefined {
    const info = this.topics.get(topic);
    if (info !== undefined && this.options.clock.now() - info.fetchedAt > this.options.maxAgeMs) {
      this.request(topic); // stale: refresh in the background, use what we have meanwhile
    }
    return info;
  }

  /** The partition's leader, NO_LEADER while unknown (a lookup is then asked for). */
  leaderOf(topic: string, partition: number): number {
    const leader = this.get(topic)?.leaders[partition] ?? NO_LEADER;
    if (leader === NO_LEADER) this.request(topic);
    return leader;
  }

  /** The last lookup's error for a topic that has no info. */
  error(topic: string): WeirError | undefined {
    return this.errors.get(topic);
  }

  clearError(topic: string): void {
    this.errors.delete(topic);
  }

  /** Looks the topic up (again) soon; onUpdate tells when. */
  request(topic: string): void {
    this.wanted.add(topic);
    this.kick();
  }

  close(): void {
    this.closed = true;
    this.retryTimer?.cancel();
    this.retryTimer = null;
  }

  private lookup(): void {
    if (this.closed || this.wanted.size === 0) return;
    const topics = [...this.wanted];
    this.wanted.clear();
    this.inFlight = true;
    this.options.fetch(topics).then(
      (response) => {
        // A topic that came back with a retriable error counts as a failure, so the next lookup
        // backs off instead of following at once (a new topic without a leader yet, say).
        let retriable = false;
        const now = this.options.clock.now();
        const seen = new Set<string>();
        for (const topic of response.topics) {
          seen.add(topic.name);
          const err = fromWireError(topic.error);
          if (err !== null) {
            this.errors.set(topic.name, err);
            this.topics.delete(topic.name);
            retriable ||= err.retriable;
          } else if (topic.partitions.length === 0) {
            retriable = true;
            this.errors.set(
              topic.name,
              new WeirError('LEADER_NOT_AVAILABLE', `${topic.name} has no partitions`),
            );
          } else {
            this.errors.delete(topic.name);
            const leaders = new Int32Array(topic.partitions.length).fill(NO_LEADER);
            for (const p of topic.partitions) {
              if (p.partition >= 0 && p.partition < leaders.length && p.leader >= 0)
                leaders[p.partition] = p.leader;
            }
            // A partition between leaders (an election under way) is looked up again after a backoff.
            retriable ||= leaders.includes(NO_LEADER);
            this.topics.set(topic.name, { partitionCount: topic.partitions.length, leaders, fetchedAt: now });
          }
        }
        for (const topic of topics) {
          if (!seen.has(topic)) {
            this.errors.set(
              topic,
              new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} not in metadata`),
            );
          }
        }
        this.failures = retriable ? this.failures + 1 : 0;
        this.finish();
      },
      (err: unknown) => {
        const error = isWeirError(err) ? err : new WeirError('NETWORK_EXCEPTION', String(err));
        for (const topic of topics) this.errors.set(topic, error);
        this.failures++;
        this.finish();
      },
    );
  }

  private finish(): void {
    this.inFlight = false;
    this.generation++;
    this.options.onUpdate(); // callers still waiting ask again from here
    this.kick();
  }

  private kick(): void {
    if (this.inFlight || this.retryTimer !== null || this.closed || this.wanted.size === 0) return;
    if (this.failures === 0) {
      this.lookup();
      return;
    }
    const delay = backoffMs(
      this.failures,
      this.options.retryBackoffMs,
      this.options.retryBackoffMaxMs,
      this.options.random,
    );
    this.retryTimer = this.options.clock.schedule(delay, () => {
      this.retryTimer = null;
      this.lookup();
    });
  }
}
