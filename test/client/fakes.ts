// Test doubles for the producer's seams: a Connection whose metadata and producer ids come from
// memory, and a ProduceTransport that behaves like the broker's idempotent produce path (sequence
// checks, a five-batch dedupe cache per producer, in-order answers) over in-memory logs, with
// faults injected per request. Expectations in tests come from what the test sent, never from
// the code under test.

import { WeirError } from '../../proto/errors.js';
import type { InitProducerIdResponse__Output } from '../../proto/generated/weir/v1/InitProducerIdResponse.js';
import type { MetadataResponse__Output } from '../../proto/generated/weir/v1/MetadataResponse.js';
import type { ProduceRequest } from '../../proto/generated/weir/v1/ProduceRequest.js';
import type { PartitionProduceResult__Output } from '../../proto/generated/weir/v1/PartitionProduceResult.js';
import type { ProduceResponse__Output } from '../../proto/generated/weir/v1/ProduceResponse.js';
import type { Error__Output } from '../../proto/generated/weir/v1/Error.js';
import { decodeBatch } from '../../proto/record-batch.js';
import { Connection } from '../../client/connection.js';
import type { ProduceTransport } from '../../client/produce-transport.js';

function toWireError(err: WeirError): Error__Output {
  return { code: err.code, id: err.id, retriable: err.retriable, message: err.message };
}

/** Metadata and producer ids from memory; nothing goes over the network. */
export class FakeConnection extends Connection {
  readonly topics = new Map<string, number>();
  /** The node every partition's leader is, as lookups answer it (an election moves it). */
  leader = 0;
  metadataCalls = 0;
  private nextProducerId = 1000;

  constructor(topics: Record<string, number> = {}) {
    // The address is never dialled: every RPC the producer makes here is overridden.
    super({ bootstrap: '127.0.0.1:1' });
    for (const [name, partitions] of Object.entries(topics)) this.topics.set(name, partitions);
  }

  override getMetadata(topics: readonly string[]): Promise<MetadataResponse__Output> {
    this.metadataCalls++;
    return Promise.resolve({
      brokers: [],
      controllerId: 0,
      clusterId: 'fake',
      topics: topics.map((name) => {
        const count = this.topics.get(name);
        return {
          name,
          internal: false,
          partitions: Array.from({ length: count ?? 0 }, (_, partition) => ({
            partition,
            leader: this.leader,
            replicas: [0],
            leaderEpoch: 0,
            isr: [0],
          })),
          error: count === undefined ? toWireError(new WeirError('UNKNOWN_TOPIC_OR_PARTITION', name)) : null,
        };
      }),
    });
  }

  override initProducerId(): Promise<InitProducerIdResponse__Output> {
    return Promise.resolve({ producerId: this.nextProducerId++, producerEpoch: 0 });
  }
}

export interface StoredRecord {
  key: string | null;
  value: string | null;
  producerId: number;
}

interface ProducerEntry {
  epoch: number;
  batches: { firstSeq: number; lastSeq: number; baseOffset: number }[];
}

/** One partition's log and idempotence state, with the broker's rules (broker/producer-state.ts). */
class FakePartition {
  readonly records: StoredRecord[] = [];
  readonly producers = new Map<number, ProducerEntry>();

  append(batches: Buffer, maxBatchBytes: number): PartitionProduceResult__Output['baseOffset'] {
    const decoded = decodeBatch(batches);
    if (!decoded.ok) throw new WeirError('CORRUPT_MESSAGE', decoded.reason);
    const batch = decoded.batch;
    if (batch.size > maxBatchBytes) throw new WeirError('MESSAGE_TOO_LARGE', `${batch.size} bytes`);
    const count = batch.records.length;
    if (batch.producerId >= 0) {
      const firstSeq = batch.baseSequence;
      const lastSeq = firstSeq + count - 1;
      const entry = this.producers.get(batch.producerId);
      if (entry === undefined) {
        if (firstSeq !== 0) throw new WeirError('UNKNOWN_PRODUCER_ID', `starts at ${firstSeq}`);
      } else {
        if (batch.producerEpoch < entry.epoch) throw new WeirError('INVALID_PRODUCER_EPOCH', 'old epoch');
        const dup = entry.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
        if (dup !== undefined) return dup.baseOffset;
        const last = entry.batches[entry.batches.length - 1];
        const expected = last === undefined ? 0 : last.lastSeq + 1;
        if (firstSeq !== expected) {
          throw new WeirError('OUT_OF_ORDER_SEQUENCE_NUMBER', `expected ${expected}, got ${firstSeq}`);
        }
      }
      const baseOffset = this.records.length;
      const e = entry ?? { epoch: batch.producerEpoch, batches: [] };
      e.batches.push({ firstSeq, lastSeq, baseOffset });
      if (e.batches.length > 5) e.batches.shift();
      this.producers.set(batch.producerId, e);
    }
    const baseOffset = this.records.length;
    for (const r of batch.records) {
      this.records.push({
        key: r.key === null ? null : r.key.toString(),
        value: r.value === null ? null : r.value.toString(),
        producerId: batch.producerId,
      });
    }
    return baseOffset;
  }
}

/**
 * What happens to one request: 'ok'; 'fail' answers every partition with `code` without
 * appending; 'lose' appends but the answer never arrives (the stream breaks); 'break' the stream
 * breaks before the broker reads it. The '-alone' kinds touch that request only: its answer is
 * lost after the append, or it is dropped before the broker sees it, and later requests go on.
 */
export type Fault =
  | { kind: 'ok' }
  | { kind: 'fail'; code: 'NOT_LEADER_OR_FOLLOWER' | 'KAFKA_STORAGE_ERROR' }
  | { kind: 'lose' }
  | { kind: 'break' }
  | { kind: 'lose-alone' }
  | { kind: 'drop-alone' };

interface Pending {
  request: ProduceRequest;
  resolve: (response: ProduceResponse__Output | null) => void;
  reject: (err: WeirError) => void;
  expectResponse: boolean;
}

export class FakeBrokerTransport implements ProduceTransport {
  readonly partitions = new Map<string, FakePartition>();
  readonly pending: Pending[] = [];
  /** Decides each request's fate, by the order requests arrive (0, 1, ...). */
  fault: (index: number) => Fault = () => ({ kind: 'ok' });
  /** Batches larger than this are refused with MESSAGE_TOO_LARGE, as max.message.bytes. */
  maxBatchBytes = Number.MAX_SAFE_INTEGER;
  /** Answers partitions with this error (e.g. a fenced epoch) while set. */
  forcedError: WeirError | null = null;
  /** Nodes that cannot be reached: a request sent to one fails at once, as a refused connection. */
  readonly down = new Set<number>();
  /** The node each request was sent to, in order (undefined: any). */
  readonly sentTo: (number | undefined)[] = [];
  requests = 0;
  closed = false;
  /** Per partition, the most batches ever sent and not yet answered at once. */
  readonly maxInFlightSeen = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();

  send(
    request: ProduceRequest,
    expectResponse: boolean,
    broker?: number,
  ): Promise<ProduceResponse__Output | null> {
    this.sentTo.push(broker);
    if (broker !== undefined && this.down.has(broker))
      return Promise.reject(new WeirError('NETWORK_EXCEPTION', `node ${broker} cannot be reached`));
    for (const data of request.partitions ?? []) {
      const key = `${data.topic}-${data.partition}`;
      const n = (this.inFlight.get(key) ?? 0) + 1;
      this.inFlight.set(key, n);
      this.maxInFlightSeen.set(key, Math.max(n, this.maxInFlightSeen.get(key) ?? 0));
    }
    return new Promise((resolve, reject) => this.pending.push({ request, resolve, reject, expectResponse }));
  }

  /** As the real transport: answers still due are given up on when there is no grace left. */
  close(graceMs: number): Promise<void> {
    this.closed = true;
    if (graceMs === 0) {
      for (const p of this.pending.splice(0)) p.reject(new WeirError('REQUEST_CANCELLED', 'closed'));
    }
    return Promise.resolve();
  }

  log(topic: string, partition: number): StoredRecord[] {
    return this.partitions.get(`${topic}-${partition}`)?.records ?? [];
  }

  /** Handles the oldest request only, so the producer runs between answers (as on a real stream). */
  processOne(): void {
    this.process(this.pending.splice(0, 1));
  }

  /** Handles every request sent so far, in order. A broken stream fails every request after it too. */
  processAll(): void {
    this.process(this.pending.splice(0));
  }

  private process(batch: Pending[]): void {
    let broken = false;
    for (const p of batch) {
      for (const data of p.request.partitions ?? []) {
        const key = `${data.topic}-${data.partition}`;
        this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
      }
      const fault: Fault = broken ? { kind: 'break' } : this.fault(this.requests++);
      if (fault.kind === 'break' || fault.kind === 'drop-alone') {
        if (fault.kind === 'break') broken = true;
        p.reject(new WeirError('NETWORK_EXCEPTION', 'stream broke'));
        continue;
      }
      const results: PartitionProduceResult__Output[] = [];
      for (const data of p.request.partitions ?? []) {
        const topic = data.topic!;
        const partition = data.partition!;
        const result: PartitionProduceResult__Output = {
          topic,
          partition,
          baseOffset: -1,
          lastOffset: -1,
          logAppendTime: -1,
          logStartOffset: 0,
          error: null,
        };
        try {
          if (this.forcedError !== null) throw this.forcedError;
          if (fault.kind === 'fail') throw new WeirError(fault.code, 'injected');
          let log = this.partitions.get(`${topic}-${partition}`);
          if (log === undefined) this.partitions.set(`${topic}-${partition}`, (log = new FakePartition()));
          result.baseOffset = log.append(data.batches as Buffer, this.maxBatchBytes);
        } catch (err) {
          result.error = toWireError(err as WeirError);
        }
        results.push(result);
      }
      if (fault.kind === 'lose' || fault.kind === 'lose-alone') {
        if (fault.kind === 'lose') broken = true;
        p.reject(new WeirError('NETWORK_EXCEPTION', 'answer lost'));
      } else {
        p.resolve(p.expectResponse ? { correlationId: 0, results } : null);
      }
    }
  }
}

/** Lets every pending microtask and one round of I/O callbacks run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
