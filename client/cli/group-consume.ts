// `weir consume TOPIC --group G`: reading as a member of a consumer group with the SDK's
// GroupConsumer. The coordinator decides which partitions this process reads; each starts at the
// group's committed offset, or (none committed) at the end, or at the beginning with
// --from-beginning (Kafka's console consumer does the same). The command leaves the group when it
// ends, so the other members take its partitions over at once.
//
// Commits: only what has been written to stdout is committed. The SDK's auto-commit is off (it
// commits what the loop has moved past, which may still sit in the output buffer); the command
// commits explicit positions, those of the records its output has written (or a filter left out
// before them), at most every COMMIT_INTERVAL_MS, when partitions move to another member
// (onRevoked, which also runs on close), and so at the end. Output that fails is never committed.
//
// Without --follow the command ends once every partition it holds has been read up to the high
// watermark read at start, and the group is Stable with this member holding exactly those (so a
// partition still on its way from another member is waited for). A member given no partitions (the
// group has more members than the topic has partitions) ends at once. Records that arrive while it
// finishes are printed too: a record the iterator hands over is either printed (unless a filter
// leaves it out) and committed, or neither.

import {
  Admin,
  GroupConsumer,
  isWeirError,
  type Connection,
  type ConsumerRecord,
  type TopicPartition,
} from '../index.js';
import { onStopSignal } from './common.js';
import type { Output } from './output.js';
import { formatRecord, RecordFilter, type RecordFormat } from './record-format.js';

export interface GroupConsumeFlags {
  group: string;
  fromBeginning?: boolean;
  follow?: boolean;
  maxMessages?: number;
  key?: string;
  header?: string[];
  format: RecordFormat;
  timeoutMs: number;
}

/** How often an idle command looks whether it is done. */
const CHECK_INTERVAL_MS = 200;
/** Kafka's auto.commit.interval.ms. */
const COMMIT_INTERVAL_MS = 5000;
/**
 * The group consumer's request deadline, which also bounds its last commit on the way out: with the
 * broker gone, Ctrl-C ends the command in about this long instead of the SDK's 30 s (a second
 * Ctrl-C ends it at once).
 */
const GROUP_REQUEST_TIMEOUT_MS = 10_000;
/** Records printed between two writes at most, when records keep coming. */
const MAX_RECORDS_PER_WRITE = 1000;
export const CLIENT_ID = 'weir-cli';

/**
 * Where each held partition stands against its end (the high watermark at start). Records of a
 * partition may come before onAssigned has looked its start up, so what was read counts too.
 */
class Progress {
  private readonly ends: ReadonlyMap<number, number>;
  /** Partitions assigned through onAssigned: true once read to their end. */
  private readonly held = new Map<number, boolean>();
  /** The next offset of each partition after the records handed over so far. */
  private readonly read = new Map<number, number>();
  lastChange = Date.now();

  constructor(ends: ReadonlyMap<number, number>) {
    this.ends = ends;
  }

  /** A partition created after the start had nothing to read then. */
  private endOf(partition: number): number {
    return this.ends.get(partition) ?? 0;
  }

  /** `start` null: not known (done once a record reaches the end). */
  assigned(partition: number, start: number | null): void {
    const at = Math.max(start ?? -1, this.read.get(partition) ?? -1);
    this.held.set(partition, at >= this.endOf(partition));
    this.lastChange = Date.now();
  }

  dropped(partition: number): void {
    this.held.delete(partition);
    this.read.delete(partition);
    this.lastChange = Date.now();
  }

  consumed(r: ConsumerRecord): void {
    this.lastChange = Date.now();
    this.read.set(r.partition, r.offset + 1);
    if (this.held.has(r.partition) && r.offset + 1 >= this.endOf(r.partition))
      this.held.set(r.partition, true);
  }

  /**
   * The consumer's position in a held partition: past a control batch that ends the log (a new
   * leader's no-op), which yields no record, the partition is read to its end all the same.
   */
  positioned(partition: number, position: number | null): void {
    if (position === null || this.held.get(partition) !== false || position < this.endOf(partition)) return;
    this.held.set(partition, true);
    this.lastChange = Date.now();
  }

  /** Whether every partition in `owned` was assigned through onAssigned and is read to its end. */
  allDone(owned: readonly TopicPartition[]): boolean {
    return owned.every((tp) => this.held.get(tp.partition) === true);
  }

  get unfinished(): number {
    let n = 0;
    for (const done of this.held.values()) if (!done) n++;
    return n;
  }
}

/** Where a newly assigned partition starts: its committed offset, else per autoOffsetReset. */
async function startsOf(
  admin: Admin,
  group: string,
  tps: readonly TopicPartition[],
  earliest: boolean,
): Promise<Map<number, number | null>> {
  const committed = await admin.fetchOffsets(group, tps);
  const starts = new Map<number, number | null>();
  const unset: TopicPartition[] = [];
  for (const c of committed) {
    if (c.offset >= 0) starts.set(c.partition, c.offset);
    else unset.push(c);
  }
  if (unset.length > 0) {
    // 'latest' starts at the end as it is now, at or past the end at start: nothing to read, and
    // that end is the position committed if the consumer has not looked its own up by the stop.
    const found = await admin.listOffsets(unset, earliest ? 'earliest' : 'latest');
    for (const [i, tp] of unset.entries()) starts.set(tp.partition, found[i]?.offset ?? null);
  }
  return starts;
}

/** Whether the coordinator agrees the group is settled with this member holding `owned`. */
async function settled(
  admin: Admin,
  consumer: GroupConsumer,
  owned: readonly TopicPartition[],
): Promise<boolean> {
  if (consumer.memberId === '') return false;
  const d = await admin.describeGroup(consumer.groupId);
  if (d.state !== 'Stable') return false;
  const me = d.members.find((m) => m.memberId === consumer.memberId);
  if (me === undefined || me.assignment.length !== owned.length) return false;
  const mine = new Set(owned.map((tp) => `${tp.topic}/${tp.partition}`));
  return me.assignment.every((tp) => mine.has(`${tp.topic}/${tp.partition}`));
}

function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Reads as a member of the group and prints; resolves when done, stopped, or the output is gone. */
export async function readAsGroup(
  connection: Connection,
  topic: string,
  ends: ReadonlyMap<number, number>,
  flags: GroupConsumeFlags,
  output: Output,
): Promise<void> {
  const admin = new Admin({ connection });
  const follow = flags.follow === true;
  const earliest = flags.fromBeginning === true;
  const filter = new RecordFilter(flags.key, flags.header ?? []);
  const max = flags.maxMessages ?? Infinity;
  const progress = new Progress(ends);
  let failure: unknown = null;
  let stopping = false;
  let checking = false;
  let lastCommit = Date.now();
  // Per partition, the position after the last record handled (printed into the output, or left
  // out by a filter), and after the last one the output has written: only these are committed.
  const handled = new Map<number, number>();
  const written = new Map<number, number>();
  /** Partitions that have yielded a record (handled or not): their position may be past it. */
  const touched = new Set<number>();
  const flush = async (): Promise<void> => {
    const snapshot = [...handled];
    await output.flush();
    if (output.closed || output.error !== null) return;
    for (const [partition, next] of snapshot)
      if ((written.get(partition) ?? -1) < next) written.set(partition, next);
  };
  // A partition that comes back later starts from the group's offset then, not from ours now.
  const forget = (tps: readonly TopicPartition[]): void => {
    for (const { partition } of tps) {
      progress.dropped(partition);
      handled.delete(partition);
      written.delete(partition);
      touched.delete(partition);
      startOf.delete(partition);
    }
  };
  // The start of every partition held that has yielded nothing yet: committed too, as Kafka's
  // consumer commits its position, so the next reader starts there and not at a later end. Taken
  // again when the command stops, before closing gives the partitions up.
  const untouched = (): Map<number, number> => {
    const out = new Map<number, number>();
    for (const tp of consumer.assignment()) {
      if (touched.has(tp.partition) || written.has(tp.partition)) continue;
      // Before the consumer has looked its position up (under load it may not have by the time
      // the command stops), the start this command looked up is the same place.
      const position = consumer.position(tp) ?? startOf.get(tp.partition) ?? null;
      if (position !== null) out.set(tp.partition, position);
    }
    return out;
  };
  let untouchedAtStop = new Map<number, number>();
  /** Where each partition assigned started, as onAssigned looked it up. */
  const startOf = new Map<number, number>();
  const toCommit = (): { topic: string; partition: number; offset: number }[] => {
    const offsets = new Map([...untouchedAtStop, ...untouched()]);
    for (const p of touched) offsets.delete(p);
    for (const [p, next] of written) offsets.set(p, next);
    return [...offsets].map(([partition, offset]) => ({ topic, partition, offset }));
  };

  // A connection of its own (the consumer closes it), for the shorter deadline.
  const consumer: GroupConsumer = new GroupConsumer({
    bootstrap: connection.address,
    requestTimeoutMs: GROUP_REQUEST_TIMEOUT_MS,
    closeTimeoutMs: GROUP_REQUEST_TIMEOUT_MS,
    groupId: flags.group,
    topics: [topic],
    clientId: CLIENT_ID,
    autoOffsetReset: earliest ? 'earliest' : 'latest',
    autoCommit: false,
    onAssigned: async (tps) => {
      const starts = follow ? null : await startsOf(admin, flags.group, tps, earliest);
      for (const tp of tps) {
        const start = starts?.get(tp.partition) ?? null;
        progress.assigned(tp.partition, start);
        if (start !== null) startOf.set(tp.partition, start);
      }
    },
    // Before the partitions move on (or the command ends): write, then commit what was written. A
    // failed commit does not hold the rebalance up; the next owner reads those records again.
    onRevoked: async (tps) => {
      // Output that could not be written (a full disk, a reader gone) is never committed.
      await flush();
      if (!output.closed && output.error === null)
        await consumer.commit(toCommit()).catch((err: unknown) => {
          // On the way out it is the last chance: say so (a rebalance's next owner just re-reads).
          if (stopping)
            failure ??= new Error(
              `could not commit to group '${flags.group}' before leaving, so its next reader reads ` +
                `again what this one printed since its last commit: ${(err as Error).message}`,
            );
        });
      forget(tps);
    },
    onLost: (tps) => forget(tps),
  });
  const stop = (): void => {
    if (stopping) return;
    untouchedAtStop = untouched();
    stopping = true;
    // Failures surface from the close awaited at the end.
    consumer.close().catch(() => undefined);
  };
  const signals = onStopSignal(stop);
  output.whenClosed(stop);

  const check = async (): Promise<void> => {
    if (follow || stopping || checking) return;
    checking = true;
    try {
      const owned = consumer.assignment();
      for (const tp of owned) progress.positioned(tp.partition, consumer.position(tp));
      const done = progress.allDone(owned);
      if (done && (await settled(admin, consumer, owned))) {
        if (owned.length === 0 && process.stderr.isTTY === true)
          process.stderr.write(
            `no partitions of ${topic} were assigned to this member: the group's other members hold them all\n`,
          );
        stop();
      } else if (Date.now() - progress.lastChange >= flags.timeoutMs) {
        failure = new Error(
          done
            ? `group '${flags.group}' did not settle in ${flags.timeoutMs} ms: another member may hold ` +
                `partitions of ${topic} without giving them up`
            : `nothing read in ${flags.timeoutMs} ms with ${progress.unfinished} partition(s) of ${topic} ` +
                'not yet read to their high watermark at start: is the broker still up?',
        );
        stop();
      }
    } catch (err) {
      // A broker that stops answering is the watchdog's to report, after --timeout-ms.
      if (isWeirError(err) && err.retriable) return;
      failure = err;
      stop();
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), CHECK_INTERVAL_MS);

  const records = consumer[Symbol.asyncIterator]();
  let printed = 0;
  let unwritten = 0;
  try {
    for (;;) {
      // The next record is asked for first, so it is on its way while the last ones are written.
      const next = records.next();
      let ready = false;
      void next.then(
        () => (ready = true),
        () => (ready = true),
      );
      await nextTick();
      if (unwritten >= MAX_RECORDS_PER_WRITE || (!ready && unwritten > 0)) {
        // A full chunk, or caught up: write before waiting for more.
        await flush();
        unwritten = 0;
      }
      // Everything handled so far is written: commit it now and then.
      if (unwritten === 0 && !output.closed && Date.now() - lastCommit >= COMMIT_INTERVAL_MS) {
        lastCommit = Date.now();
        consumer.commit(toCommit()).catch(() => undefined); // the next one, or the last, catches up
      }
      const got = await next;
      if (got.done !== true) touched.add(got.value.partition);
      // Handed over after the stop: neither printed nor consumed (the iterator is not asked again).
      if (got.done === true || stopping) break;
      const r = got.value;
      progress.consumed(r);
      handled.set(r.partition, r.offset + 1);
      if (!filter.matches(r)) continue;
      formatRecord(flags.format, r, output);
      unwritten++;
      if (++printed < max) continue;
      // The last one: written and committed on close (asked past, so the SDK counts it too).
      void records.next().catch(() => undefined);
      stop();
      break;
    }
  } catch (err) {
    failure ??= err;
  } finally {
    clearInterval(timer);
    signals.dispose();
    await flush();
    stop();
    await consumer.close();
  }
  if (failure !== null) throw failure;
}
