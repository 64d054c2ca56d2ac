// Raising log start offsets (Kafka's DeleteRecords) for the log manager, which runs it in turn with
// retention and compaction. The order is what makes it crash-safe:
//   1. every log named is fsynced through its new start (waitFlushed): a start checkpointed past
//      what is on disk would be past the log end after a power loss, and the loader then keeps
//      the records readable (it never hides what it cannot account for), so the deleted records
//      would come back;
//   2. the starts are raised in memory, and reads below them fail from now;
//   3. one checkpoint write covers every log of the request;
//   4. only then are the segments wholly below each start deleted.
// A crash at any point leaves the old start or the new one, never records back below an answered
// start. Each log is answered on its own: some may be raised while others are refused.

import { WeirError } from '../proto/errors.js';
import type { PartitionLog } from './partition-log.js';
import { toStorageError } from './storage-error.js';

/** One log start to raise: records below `offset` are deleted (at most the log end). */
export interface LogStartRaise {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** A failure as a WeirError (I/O failures become KAFKA_STORAGE_ERROR); anything else is a bug. */
function asStorageError(err: unknown, what: string): WeirError {
  const mapped = toStorageError(err, what);
  if (mapped instanceof WeirError) return mapped;
  throw mapped;
}

/** What raising log starts needs of the log manager. */
export interface LogStartHost {
  /** The manager is closing: nothing is raised. */
  readonly closed: boolean;
  readonly dataDir: string;
  getLog(topic: string, partition: number): PartitionLog | undefined;
  /** Writes the recovery-point and log-start-offset checkpoints of every log. */
  checkpoint(): void;
  emit(event: RecordsDeletedEvent | { kind: 'background-error'; task: string; error: unknown }): void;
}

/** A log whose start a request raised (or whose segments below the start it deleted). */
export interface RecordsDeletedEvent {
  kind: 'records-deleted';
  topic: string;
  partition: number;
  logStartOffset: number;
  /** Segments deleted, wholly below the new start (counted as retention's event counts them). */
  deletedSegments: number;
}

/**
 * Raises the start offsets (see the top of the file). Answers, in order, each log's start offset
 * now or why it was not raised.
 */
export async function raiseLogStarts(
  host: LogStartHost,
  raises: readonly LogStartRaise[],
): Promise<(number | WeirError)[]> {
  const results: (number | WeirError)[] = [];
  const logs: (PartitionLog | null)[] = [];
  /** Each log's start before the request, to report only the logs it changed. */
  const before: number[] = [];
  for (const { topic, partition, offset } of raises) {
    const log = host.getLog(topic, partition);
    let refused: WeirError | null = null;
    if (host.closed) refused = new WeirError('LOG_CLOSED', host.dataDir);
    else if (log === undefined || log.isClosed)
      refused = new WeirError('UNKNOWN_TOPIC_OR_PARTITION', `no log of ${topic}-${partition}`);
    else if (log.failed !== null) refused = log.failed;
    else if (offset > log.logEndOffset)
      refused = new WeirError(
        'OFFSET_OUT_OF_RANGE',
        `log start ${offset} of ${topic}-${partition} is past its log end ${log.logEndOffset}`,
      );
    results.push(refused ?? -1);
    logs.push(refused === null ? (log as PartitionLog) : null);
    before.push(log?.logStartOffset ?? 0);
  }
  const flushed = await Promise.allSettled(
    raises.map(({ offset }, i) => logs[i]?.waitFlushed(offset) ?? Promise.resolve()),
  );
  let pending = 0;
  for (let i = 0; i < raises.length; i++) {
    const log = logs[i];
    const outcome = flushed[i];
    if (log === null || log === undefined || outcome === undefined) continue;
    const { topic, partition, offset } = raises[i] as LogStartRaise;
    try {
      if (outcome.status === 'rejected') throw outcome.reason;
      // The log may have been truncated or closed while it flushed.
      if (log.flushedOffset < offset)
        throw new WeirError('KAFKA_STORAGE_ERROR', `${topic}-${partition} changed while it was flushed`);
      results[i] = log.raiseLogStartOffset(offset);
      pending++;
    } catch (err) {
      results[i] = asStorageError(err, `flushing ${topic}-${partition} through ${offset}`);
      logs[i] = null;
    }
  }
  if (pending === 0) return results;
  try {
    host.checkpoint();
  } catch (err) {
    // The starts are raised in memory (reads below them are refused) but not yet on disk: the
    // caller hears so, and the next checkpoint that succeeds writes them. No segment is deleted
    // until then.
    const error = asStorageError(err, 'checkpointing the new log start offsets');
    for (let i = 0; i < raises.length; i++) if (logs[i] !== null) results[i] = error;
    return results;
  }
  for (let i = 0; i < raises.length; i++) {
    const log = logs[i];
    if (log === null || log === undefined || log.isClosed) continue;
    const { topic, partition } = raises[i] as LogStartRaise;
    try {
      const deletedSegments = log.deleteSegmentsBelowStart();
      if (deletedSegments === 0 && log.logStartOffset === before[i]) continue;
      host.emit({
        kind: 'records-deleted',
        topic,
        partition,
        logStartOffset: log.logStartOffset,
        deletedSegments,
      });
    } catch (error) {
      // The new start is on disk; a segment left below it is deleted by the next call or retention.
      host.emit({ kind: 'background-error', task: 'delete-records', error });
    }
  }
  return results;
}
