// The SDK Producer kept pointed at a partition's leader, for the cluster benchmark's failover and
// catch-up runs, until the SDK routes by leader itself. One Producer (idempotent, acks=all, the
// defaults otherwise) is bootstrapped at the leader's address. A watchdog looks every 100 ms: when
// the oldest unanswered send is older than `stallMs` and nothing was acknowledged for as long, it
// asks the other brokers' Metadata who leads; once they name another broker, it opens a Producer
// there, closes the old one without waiting, and sends every unanswered record again through the
// new one (a record the old leader did commit before dying is then written twice: a new producer
// id, so the broker cannot tell). Answers from a replaced producer are ignored.
//
// Each send is a unit of one or more records. The producer counts acknowledged records, keeps the
// time of the last acknowledgement, and, while a gap episode is open (from a kill until the caller
// closes it), the longest time between two acknowledgements. Errors that reach the caller's send
// (as opposed to sends replaced by a switch) are counted by code and the unit is sent again.

import { Producer, isWeirError, type Message } from '../client/index.js';
import type { LocalCluster } from './local-cluster.js';

interface Unit {
  readonly messages: Message[];
  readonly t0: number;
  resolve: () => void;
}

export interface FollowingOptions {
  topic: string;
  /** Wait this long without an answer before asking who leads. */
  stallMs?: number;
  lingerMs?: number;
}

export class LeaderFollowingProducer {
  private producer: Producer;
  private generation = 0;
  private readonly pending = new Set<Unit>();
  private readonly watchdog: NodeJS.Timeout;
  private checking = false;
  private closed = false;
  private readonly stallMs: number;
  private readonly lingerMs: number | undefined;
  /** Records acknowledged so far. */
  acked = 0;
  lastAckAt = performance.now();
  /** Leader changes followed. */
  switches = 0;
  /** Errors that failed a send (the unit was sent again), by code. */
  readonly errors = new Map<string, number>();
  private episodeMaxGap: number | null = null;
  private episodePrev = 0;

  private constructor(
    private readonly cluster: LocalCluster,
    readonly options: FollowingOptions,
    public leader: number,
  ) {
    this.stallMs = options.stallMs ?? 300;
    this.lingerMs = options.lingerMs;
    this.producer = this.open(leader);
    this.watchdog = setInterval(() => void this.check(), 100);
  }

  static async create(cluster: LocalCluster, options: FollowingOptions): Promise<LeaderFollowingProducer> {
    const leader = await leaderOf(cluster, options.topic, null, 30_000);
    const p = new LeaderFollowingProducer(cluster, options, leader);
    await p.producer.connect();
    return p;
  }

  private open(leader: number): Producer {
    return new Producer({
      bootstrap: this.cluster.broker(leader).address,
      acks: 'all',
      ...(this.lingerMs === undefined ? {} : { lingerMs: this.lingerMs }),
    });
  }

  /** Resolves once the records are acknowledged (through whichever producer). */
  send(messages: Message[]): Promise<void> {
    return new Promise((resolve) => {
      const unit: Unit = { messages, t0: performance.now(), resolve };
      this.pending.add(unit);
      this.dispatch(unit);
    });
  }

  get unanswered(): number {
    return this.pending.size;
  }

  private dispatch(unit: Unit): void {
    // The answer counts only while this producer is the current one: a unit sent again through a
    // new producer has its answer from there.
    const generation = this.generation;
    this.producer.send({ topic: this.options.topic, records: unit.messages }).then(
      () => {
        if (generation !== this.generation || !this.pending.delete(unit)) return;
        this.onAck(unit.messages.length);
        unit.resolve();
      },
      (err: unknown) => {
        if (generation !== this.generation || this.closed) return;
        const code = isWeirError(err) ? err.code : String(err);
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
        setTimeout(() => {
          if (generation === this.generation && this.pending.has(unit)) this.dispatch(unit);
        }, 100);
      },
    );
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

  private async check(): Promise<void> {
    if (this.checking || this.closed || this.pending.size === 0) return;
    const now = performance.now();
    const oldest = this.pending.values().next().value as Unit;
    if (now - oldest.t0 < this.stallMs || now - this.lastAckAt < this.stallMs) return;
    this.checking = true;
    try {
      const leader = await leaderOf(this.cluster, this.options.topic, this.leader, 0).catch(() => null);
      if (leader !== null && leader !== this.leader && !this.closed) this.switchTo(leader);
    } finally {
      this.checking = false;
    }
  }

  private switchTo(leader: number): void {
    const old = this.producer;
    this.generation++;
    this.switches++;
    this.leader = leader;
    this.producer = this.open(leader);
    old.close({ timeoutMs: 0 }).catch(() => undefined);
    for (const unit of this.pending) this.dispatch(unit);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await this.producer.close({ timeoutMs: 5_000 }).catch(() => undefined);
  }
}

/**
 * The leader of partition 0 of `topic` as a broker other than `except` reports it (any broker when
 * `except` is null), polled until one is named; throws after `timeoutMs` (0: one look).
 */
export async function leaderOf(
  cluster: LocalCluster,
  topic: string,
  except: number | null,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const md = await cluster.metadata([topic], except);
    const leader = md?.topics.find((t) => t.name === topic)?.partitions[0]?.leader ?? -1;
    if (leader >= 0 && leader !== except && md!.brokers.some((b) => b.nodeId === leader)) return leader;
    if (Date.now() >= deadline) throw new Error(`no leader of ${topic} named within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
