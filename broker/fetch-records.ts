// A fetch's answer on the wire: stored batches as they are, or (as_records) decoded into plain
// records for clients that do not read RecordBatch.
//
// Decoded records are bounded like the batches are: by each partition's max_bytes and the fetch's,
// shared by its partitions in order (0 = the defaults of replica-manager.ts), at least one record
// for the first partition with data (as Kafka's fetch returns at least one batch). The bound matters because a compressed batch is limited by its
// compressed size only: a few hundred kilobytes of gzip can decode to hundreds of megabytes, so
// decoding stops, inflation included, once the answer is full. A partition's next offset then
// follows the last record returned. Compressed batches inflate on the thread pool
// (batch-inflate.ts), never past the broker's inflate cap; uncompressed ones decode at once.

import { batchIsControl, batchSize, invalidBatch } from '../proto/batch-header.js';
import { INFLATED_TOO_LARGE, forEachInflatedRecord, isCompressed } from '../proto/batch-inflate.js';
import { WeirError } from '../proto/errors.js';
import type { PartitionFetchResult } from '../proto/generated/weir/v1/PartitionFetchResult.js';
import type { Record as WireRecord } from '../proto/generated/weir/v1/Record.js';
import { toWireError } from '../proto/grpc.js';
import { forEachRecord, type RecordEntry } from '../proto/record-batch.js';
import { readHeaders } from '../proto/record.js';
import { fetchMaxBytes, partitionFetchMaxBytes } from './replica/fetch-limits.js';
import type { FetchPartitionResult } from './replica/replica-manager.js';

/** What a walk over one partition's batches gathers. */
interface Gathered {
  readonly records: WireRecord[];
  readonly fromOffset: number;
  /** Record bytes the partition may still take. */
  readonly limit: number;
  /** Whether the first record goes in whatever its size. */
  readonly atLeastOne: boolean;
  bytes: number;
  lastOffset: number;
  full: boolean;
}

function gather(entry: RecordEntry, g: Gathered): boolean {
  if (entry.offset < g.fromOffset) return true;
  const { data, view } = entry;
  const size = view.end - view.start;
  if (g.bytes + size > g.limit && (g.records.length > 0 || !g.atLeastOne)) {
    g.full = true;
    return false;
  }
  g.bytes += size;
  const record: WireRecord = {
    headers: readHeaders(data, view).map((h) =>
      h.value === null ? { key: h.key } : { key: h.key, value: h.value },
    ),
    timestamp: entry.timestamp,
    offset: entry.offset,
  };
  if (view.keyLength >= 0) record.key = data.subarray(view.keyStart, view.keyStart + view.keyLength);
  if (view.valueLength >= 0)
    record.value = data.subarray(view.valueStart, view.valueStart + view.valueLength);
  g.records.push(record);
  g.lastOffset = entry.offset;
  return true;
}

async function gatherBatches(batches: Buffer, g: Gathered, maxInflatedBytes: number): Promise<void> {
  for (let off = 0; off < batches.length && !g.full; off += batchSize(batches, off)) {
    const end = off + batchSize(batches, off);
    let reason = invalidBatch(batches, off, end);
    // Control batches (a leader's epoch marker, transaction markers) hold no user records: the
    // records form skips them, as Kafka clients do, and the next offset moves past them.
    if (reason === null && batchIsControl(batches, off)) continue;
    if (reason === null && !isCompressed(batches, off)) reason = forEachRecord(batches, off, gather, g, end);
    else if (reason === null) {
      const walked = await forEachInflatedRecord(batches, off, maxInflatedBytes, gather, g);
      if (walked === INFLATED_TOO_LARGE) {
        throw new WeirError(
          'MESSAGE_TOO_LARGE',
          `the stored batch at byte ${off} of the answer inflates past maxInflatedBatchBytes ` +
            `(${maxInflatedBytes} bytes); fetch it as batches`,
        );
      }
      reason = walked;
    }
    if (reason !== null)
      throw new WeirError('KAFKA_STORAGE_ERROR', `stored batch does not decode: ${reason}`);
  }
}

export interface FetchAnswerOptions {
  readonly asRecords: boolean;
  /** The fetch's max_bytes (0 = the default); decoded records count against it. */
  readonly maxBytes: number;
  /** The broker's cap on what one batch may inflate to. */
  readonly maxInflatedBytes: number;
}

/**
 * The wire form of a fetch's results; `requests[i]` is what asked for `results[i]` (its offset
 * and its own max_bytes, 0 = the default).
 */
export async function fetchAnswer(
  results: readonly FetchPartitionResult[],
  requests: readonly { offset: number; maxBytes: number }[],
  options: FetchAnswerOptions,
): Promise<PartitionFetchResult[]> {
  let budget = fetchMaxBytes(options.maxBytes);
  let nothingYet = true;
  const out: PartitionFetchResult[] = [];
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    const wire: PartitionFetchResult = {
      topic: r.topic,
      partition: r.partition,
      highWatermark: r.highWatermark,
      logStartOffset: r.logStartOffset,
      nextOffset: r.nextOffset,
    };
    out.push(wire);
    if (r.error !== null) {
      wire.error = toWireError(r.error);
      continue;
    }
    if (!options.asRecords) {
      wire.batches = r.batches;
      continue;
    }
    const g: Gathered = {
      records: [],
      fromOffset: requests[i]?.offset ?? 0,
      limit: Math.min(partitionFetchMaxBytes(requests[i]?.maxBytes ?? 0), budget),
      atLeastOne: nothingYet,
      bytes: 0,
      lastOffset: -1,
      full: false,
    };
    try {
      await gatherBatches(r.batches, g, options.maxInflatedBytes);
    } catch (err) {
      if (!(err instanceof WeirError)) throw err;
      // This partition's answer only: the records before the batch that cannot be decoded are
      // served, and the next fetch, starting at that batch, gets the error.
      if (g.records.length === 0) {
        wire.error = toWireError(err);
        wire.nextOffset = g.fromOffset;
        continue;
      }
      g.full = true;
    }
    wire.records = g.records;
    if (g.full) wire.nextOffset = g.records.length > 0 ? g.lastOffset + 1 : g.fromOffset;
    budget = Math.max(0, budget - g.bytes);
    if (g.records.length > 0) nothingYet = false;
  }
  return out;
}
