// The SDK Producer as a user runs it against the cluster (bootstrapped with every broker's address,
// idempotent, acks=all; the SDK finds each partition's leader and follows it when it moves), with
// the counts the cluster benchmark reads off it: records acknowledged, the time of the last
// acknowledgement, and, while a gap episode is open (from a kill until the caller closes it), the
// longest time between two acknowledgements. A send that fails is counted by its error code and
// sent again after 100 ms, as a user who must not lose it would.

import { Producer, isWeirError, type Message } from '../client/index.js';

export class TrackedProducer {
  private readonly producer: Producer;
  private closed = false;
  private inFlight = 0;
  /** Records acknowledged so far. */
  acked = 0;
  lastAckAt = performance.now();
  /** Errors that failed a send (which was then sent again), by code. */
  readonly errors = new Map<string, number>();
  private episodeMaxGap: number | null = null;
  private episodePrev = 0;

  constructor(
    bootstrap: readonly string[],
    private readonly topic: string,
  ) {
    this.producer = new Producer({ bootstrap, acks: 'all' });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  /** Resolves once the records are acknowledged (after however many failed sends). */
  async send(messages: Message[]): Promise<void> {
    this.inFlight++;
    try {
      for (;;) {
        try {
          await this.producer.send({ topic: this.topic, records: messages });
          this.onAck(messages.length);
          return;
        } catch (err) {
          if (this.closed) throw err;
          const code = isWeirError(err) ? err.code : String(err);
          this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      this.inFlight--;
    }
  }

  get unanswered(): number {
    return this.inFlight;
  }

  private onAck(records: number): void {
    const now = performance.now();
    this.acked += records;
    if (this.episodeMaxGap !== null) {
      this.episodeMaxGap = Math.max(this.episodeMaxGap, now - this.episodePrev);
      this.episodePrev = now;
    }
    this.lastAckAt = now;
  }

  /** From now on, the longest time between acknowledgements, counted from the last one before now. */
  openEpisode(): void {
    this.episodeMaxGap = 0;
    this.episodePrev = this.lastAckAt;
  }

  /** The episode's longest gap in ms (including the time since the last acknowledgement). */
  closeEpisode(): number {
    const gap = Math.max(this.episodeMaxGap ?? 0, performance.now() - this.episodePrev);
    this.episodeMaxGap = null;
    return gap;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.producer.close({ timeoutMs: 5_000 }).catch(() => undefined);
  }
}
