// Shared helpers of the consumer-group tests: a broker with short group timings, a consumer loop
// that collects what it is given, and a group transport that can be cut to simulate a member
// whose process died (no heartbeat, no leave) while the broker lives on.

import { afterAll, afterEach, beforeAll } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import type { StartBrokerOptions } from '../../broker/main.js';
import {
  Admin,
  GroupConsumer,
  Producer,
  type ConsumerRecord,
  type GroupConsumerOptions,
} from '../../client/index.js';
import { Connection } from '../../client/connection.js';
import type { GroupRpc } from '../../client/group-rpc.js';
import { startTestBroker, uniqueTopic, type TestBroker } from './helpers.js';

/** Group timings short enough for tests; assertions never depend on them, only waits do. */
export const GROUP_BROKER_CONFIG: Partial<StartBrokerOptions> = {
  groupHeartbeatIntervalMs: 50,
  groupMinSessionTimeoutMs: 100,
  groupSessionTimeoutMs: 3000,
  groupRebalanceTimeoutMs: 10_000,
};

export function startGroupBroker(options: Partial<StartBrokerOptions> = {}): Promise<TestBroker> {
  return startTestBroker({ ...GROUP_BROKER_CONFIG, ...options });
}

export interface GroupFixture {
  readonly broker: TestBroker;
  readonly admin: Admin;
  readonly producer: Producer;
  readonly consumers: Consumers;
  /** A new topic of `partitions` partitions. */
  newTopic(partitions: number): Promise<string>;
}

/**
 * One broker with short group timings for the test file, an admin and a producer on it; every
 * group consumer made through `consumers` is closed after each test.
 */
export function useGroupBroker(): GroupFixture {
  const fixture = { consumers: new Consumers() } as GroupFixture & {
    broker: TestBroker;
    admin: Admin;
    producer: Producer;
  };
  fixture.newTopic = async (partitions) => {
    const topic = uniqueTopic('group');
    await fixture.admin.createTopic(topic, { partitions });
    return topic;
  };
  beforeAll(async () => {
    fixture.broker = await startGroupBroker();
    fixture.admin = new Admin({ bootstrap: fixture.broker.bootstrap });
    fixture.producer = new Producer({ bootstrap: fixture.broker.bootstrap, lingerMs: 0 });
  });
  afterEach(async () => {
    await fixture.consumers.closeAll();
  });
  afterAll(async () => {
    await fixture.producer?.close();
    await fixture.admin?.close();
    await fixture.broker?.close();
  });
  return fixture;
}

let groupCounter = 0;
/** A group id unique within the test run. */
export function uniqueGroup(prefix = 'g'): string {
  return `${prefix}-${process.pid}-${++groupCounter}`;
}

/** Whether the consumer owns exactly these partitions (of its one topic), as a waitFor condition. */
export function owns(consumer: GroupConsumer, partitions: number[]): () => boolean {
  return () => JSON.stringify(sortedTps(consumer.assignment())) === JSON.stringify(partitions);
}

/** Runs `for await` over a group consumer in the background, keeping what it yields. */
export class Collector {
  readonly records: ConsumerRecord[] = [];
  readonly done: Promise<void>;
  error: unknown = null;

  constructor(consumer: GroupConsumer, onRecord?: (record: ConsumerRecord) => Promise<void> | void) {
    this.done = (async () => {
      try {
        for await (const record of consumer) {
          this.records.push(record);
          await onRecord?.(record);
        }
      } catch (err) {
        this.error = err;
      }
    })();
  }

  /** The offsets yielded for one partition, in the order they came. */
  offsets(topic: string, partition: number): number[] {
    return this.records.filter((r) => r.topic === topic && r.partition === partition).map((r) => r.offset);
  }

  values(): string[] {
    return this.records.map((r) => r.value?.toString() ?? '');
  }
}

/**
 * A group transport that fails every call with NETWORK_EXCEPTION once cut, as a dead peer would,
 * and can fail one commit with a chosen error.
 */
export class CuttableRpc implements GroupRpc {
  private readonly real: Connection;
  cut = false;
  /** Makes the next OffsetCommit fail with this error without reaching the broker. */
  failNextCommit: WeirError | null = null;

  constructor(bootstrap: string) {
    this.real = new Connection({ bootstrap });
  }

  /** Once set, every call hangs: no answer and no error, as a broker that stopped answering. */
  hang = false;

  private guard<T>(call: () => Promise<T>): Promise<T> {
    if (this.hang) return new Promise<T>(() => undefined);
    if (this.cut) return Promise.reject(new WeirError('NETWORK_EXCEPTION', 'cut by the test'));
    return call();
  }

  findCoordinator: GroupRpc['findCoordinator'] = (...a) => this.guard(() => this.real.findCoordinator(...a));
  groupHeartbeat: GroupRpc['groupHeartbeat'] = (...a) => this.guard(() => this.real.groupHeartbeat(...a));
  offsetCommit: GroupRpc['offsetCommit'] = (...a) => {
    if (this.hang) return new Promise(() => undefined);
    const fail = this.failNextCommit;
    this.failNextCommit = null;
    if (fail !== null) return Promise.reject(fail);
    return this.guard(() => this.real.offsetCommit(...a));
  };
  offsetFetch: GroupRpc['offsetFetch'] = (...a) => this.guard(() => this.real.offsetFetch(...a));
  listGroups: GroupRpc['listGroups'] = (...a) => this.guard(() => this.real.listGroups(...a));
  describeGroup: GroupRpc['describeGroup'] = (...a) => this.guard(() => this.real.describeGroup(...a));
  deleteGroup: GroupRpc['deleteGroup'] = (...a) => this.guard(() => this.real.deleteGroup(...a));
  resetOffsets: GroupRpc['resetOffsets'] = (...a) => this.guard(() => this.real.resetOffsets(...a));
  deleteOffsets: GroupRpc['deleteOffsets'] = (...a) => this.guard(() => this.real.deleteOffsets(...a));
  close(): void {
    this.real.close();
  }
}

/** Closes every group consumer a test opened, whatever happened to it. */
export class Consumers {
  private readonly open: GroupConsumer[] = [];

  add(options: GroupConsumerOptions, rpc?: GroupRpc): GroupConsumer {
    const consumer = new GroupConsumer(options, rpc === undefined ? {} : { rpc });
    this.open.push(consumer);
    return consumer;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.open.splice(0).map((c) => c.close()));
  }
}

/** Produces `count` records to one partition, values `${prefix}-${i}`. */
export async function produceTo(
  producer: Producer,
  topic: string,
  partition: number,
  count: number,
  prefix = `p${partition}`,
): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => ({ value: `${prefix}-${i}`, partition }));
  await producer.send({ topic, records });
}

export function sortedTps(tps: { topic: string; partition: number }[]): number[] {
  return tps.map((tp) => tp.partition).sort((a, b) => a - b);
}
