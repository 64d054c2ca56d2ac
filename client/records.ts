// The records users hand to the producer and get from the consumer, and the one place where user
// input becomes codec input (proto's RecordInput). Checks happen here, per call and before any
// record of the call is queued, so a bad record fails its own send and never a batch shared with
// other callers' records.

import { WeirError } from '../proto/errors.js';
import type { RecordHeaderInput, RecordInput } from '../proto/record-batch.js';

/** Bytes as the producer accepts them: strings are encoded as UTF-8. */
export type Bytes = Buffer | Uint8Array | string;

export interface ProducerHeader {
  key: string;
  value: Bytes | null;
}

/** Headers as a list (keys may repeat, order kept) or as an object (one value per key). */
export type ProducerHeaders = readonly ProducerHeader[] | Readonly<Record<string, Bytes | null>>;

/** One record to produce, without its topic. */
export interface Message {
  /** null or absent: no key (the record is spread over partitions, sticky per batch). */
  key?: Bytes | null;
  /** null: a tombstone (deletes the key under compaction). */
  value: Bytes | null;
  headers?: ProducerHeaders;
  /** ms since the epoch or a Date; default: now. */
  timestamp?: number | Date;
  /** Explicit partition; default: by key (Kafka's murmur2), or sticky for records without a key. */
  partition?: number;
}

export interface ProducerRecord extends Message {
  topic: string;
}

/** Many records for one topic, sent (and resolved) as one call. */
export interface TopicMessages {
  topic: string;
  records: readonly Message[];
}

/** Where a produced record landed. offset is -1 under acks 'none' (nothing is reported back). */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A record as the consumer yields it. key and value are Buffers: `record.value?.toString()`. */
export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

function bytes(value: unknown, what: string): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  throw new WeirError('INVALID_RECORD', `${what} must be a Buffer, Uint8Array, string or null`);
}

function headersOf(headers: unknown, index: number): RecordHeaderInput[] | undefined {
  if (headers === undefined || headers === null) return undefined;
  const out: RecordHeaderInput[] = [];
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i] as Partial<ProducerHeader> | null;
      if (header === null || typeof header !== 'object' || typeof header.key !== 'string') {
        throw new WeirError('INVALID_RECORD', `record ${index}: header ${i} needs a string key`);
      }
      out.push({ key: header.key, value: bytes(header.value, `record ${index}: header ${header.key}`) });
    }
    return out;
  }
  if (typeof headers !== 'object') {
    throw new WeirError('INVALID_RECORD', `record ${index}: headers must be a list or an object`);
  }
  for (const key of Object.keys(headers)) {
    out.push({
      key,
      value: bytes((headers as Record<string, unknown>)[key], `record ${index}: header ${key}`),
    });
  }
  return out;
}

/**
 * The codec input for one user record; `now` fills a missing timestamp. Throws INVALID_RECORD or
 * INVALID_TIMESTAMP naming the record's index in its call.
 */
export function toRecordInput(message: Message, now: number, index: number): RecordInput {
  if (message === null || typeof message !== 'object') {
    throw new WeirError('INVALID_RECORD', `record ${index} must be an object`);
  }
  let timestamp: number;
  const given = message.timestamp;
  if (given === undefined) timestamp = now;
  else if (given instanceof Date) timestamp = given.getTime();
  else timestamp = given;
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new WeirError('INVALID_TIMESTAMP', `record ${index}: timestamp ${String(given)}`);
  }
  const input: RecordInput = {
    timestamp,
    key: bytes(message.key, `record ${index}: key`),
    value: bytes(message.value, `record ${index}: value`),
  };
  const headers = headersOf(message.headers, index);
  if (headers !== undefined) input.headers = headers;
  return input;
}

/** Checks a topic name's type (the broker checks its content and answers INVALID_TOPIC_EXCEPTION). */
export function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new WeirError('INVALID_TOPIC_EXCEPTION', `topic must be a non-empty string, got ${String(topic)}`);
  }
  return topic;
}

export function checkTopicPartition(tp: unknown): TopicPartition {
  const candidate = tp as Partial<TopicPartition> | null;
  if (candidate === null || typeof candidate !== 'object') {
    throw new WeirError('INVALID_REQUEST', 'expected { topic, partition }');
  }
  const topic = checkTopic(candidate.topic);
  const partition = candidate.partition;
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0) {
    throw new WeirError('INVALID_REQUEST', `partition must be an integer >= 0, got ${String(partition)}`);
  }
  return { topic, partition };
}
