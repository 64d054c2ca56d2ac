// The pieces together, as the controller and the brokers will use them: admin requests and
// heartbeats planned against the controller's image, appended to a log as encoded records,
// applied by the controller once "committed", and replayed from the bytes by a broker. Whatever
// the requests, every planned record fits the image it is applied to, the replica's image equals
// the controller's, and every topic stays well formed.

import fc from 'fast-check';
import { expect, it } from 'vitest';
import { BrokerLiveness } from '../../../broker/cluster/broker-liveness.js';
import {
  planAlterConfigs,
  planCreatePartitions,
  planCreateTopic,
  planDeleteTopic,
  planRegisterBroker,
} from '../../../broker/cluster/controller-planner.js';
import { MetadataImage } from '../../../broker/cluster/metadata-image.js';
import {
  decodeMetadataRecord,
  encodeMetadataRecord,
  type MetadataRecord,
} from '../../../broker/cluster/metadata-records.js';
import { MAX_PARTITIONS_PER_TOPIC } from '../../../broker/topic-admin.js';
import type { TopicLimits } from '../../../broker/topic-registry.js';
import { isWeirError } from '../../../proto/errors.js';
import { DEFAULT_LOG_CONFIG } from '../../../storage/index.js';

const LIMITS: TopicLimits = { maxPartitions: MAX_PARTITIONS_PER_TOPIC, topicDefaults: DEFAULT_LOG_CONFIG };
const SESSION_MS = 1000;
const INCARNATIONS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];

type Op =
  | { op: 'register'; nodeId: number; restart: number }
  | { op: 'heartbeat'; nodeId: number; dt: number }
  | { op: 'tick'; dt: number }
  | { op: 'create'; name: string; partitions: number; rf: number; retention: boolean }
  | { op: 'delete'; name: string }
  | { op: 'grow'; name: string; by: number }
  | { op: 'alter'; name: string; retentionMs: number | null };

const nodeId = fc.integer({ min: 0, max: 4 });
const name = fc.constantFrom('a', 'b', 'c');
// Weighted so that brokers come up often enough for topics to be placed, and go silent now and then.
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('register' as const), nodeId, restart: fc.nat(1) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('heartbeat' as const), nodeId, dt: fc.nat(400) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), dt: fc.nat(2000) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('create' as const),
      name,
      partitions: fc.integer({ min: 1, max: 6 }),
      rf: fc.integer({ min: 1, max: 3 }),
      retention: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), name }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('grow' as const), name, by: fc.integer({ min: 1, max: 3 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('alter' as const),
      name,
      retentionMs: fc.option(fc.nat(1e6), { nil: null }),
    }),
  },
);

it('planned records always fit, a replica replaying the bytes agrees, and topics stay well formed', () => {
  let topicIds = 0;
  const appended = new Map<string, number>();
  fc.assert(
    fc.property(fc.array(op, { minLength: 20, maxLength: 80 }), (ops) => {
      const controller = new MetadataImage();
      const liveness = new BrokerLiveness(controller, SESSION_MS);
      const log: Buffer[] = [];
      let now = 0;
      const append = (records: MetadataRecord[]): void => {
        for (const r of records) {
          log.push(encodeMetadataRecord(r));
          appended.set(r.type, (appended.get(r.type) ?? 0) + 1);
          expect(controller.apply(r), JSON.stringify(r)).toBeNull();
        }
      };
      for (const o of ops) {
        try {
          switch (o.op) {
            case 'register':
              append(
                planRegisterBroker(controller, {
                  nodeId: o.nodeId,
                  incarnation: INCARNATIONS[o.restart]!,
                  host: `b${o.nodeId}`,
                  grpcPort: 9093,
                  httpPort: 8080,
                  replicationPort: 9094,
                }),
              );
              break;
            case 'heartbeat': {
              now += o.dt;
              const current = controller.broker(o.nodeId)?.incarnation ?? INCARNATIONS[0]!;
              append(liveness.heartbeat(o.nodeId, current, now));
              break;
            }
            case 'tick':
              now += o.dt;
              append(liveness.tick(now));
              break;
            case 'create': {
              const configs: Record<string, string> = o.retention ? { 'retention.ms': '60000' } : {};
              const request = { name: o.name, partitions: o.partitions, replicationFactor: o.rf, configs };
              append(planCreateTopic(controller, request, `topic-${topicIds++}`, LIMITS));
              break;
            }
            case 'delete':
              append(planDeleteTopic(controller, o.name));
              break;
            case 'grow': {
              const count = (controller.topic(o.name)?.partitions.length ?? 0) + o.by;
              append(planCreatePartitions(controller, o.name, count, LIMITS));
              break;
            }
            case 'alter': {
              const set: Record<string, string> =
                o.retentionMs === null ? {} : { 'retention.ms': String(o.retentionMs) };
              append(
                planAlterConfigs(
                  controller,
                  o.name,
                  set,
                  o.retentionMs === null ? ['retention.ms'] : [],
                  LIMITS,
                ),
              );
              break;
            }
          }
        } catch (err) {
          // A refused request appends nothing.
          if (!isWeirError(err)) throw err;
        }
      }
      const replica = new MetadataImage();
      for (const bytes of log) expect(replica.apply(decodeMetadataRecord(bytes))).toBeNull();
      expect(replica.toJSON()).toEqual(controller.toJSON());
      for (const topic of controller.topics()) {
        expect(topic.partitions.length).toBeGreaterThan(0);
        for (const { replicas } of topic.partitions) {
          expect(replicas).toHaveLength(topic.replicationFactor);
          expect(new Set(replicas).size).toBe(replicas.length);
          for (const id of replicas) expect(controller.broker(id)).toBeDefined();
        }
      }
    }),
    { numRuns: 300 },
  );
  // The runs reach every kind of record, or the agreement above would be shallow.
  for (const type of [
    'registerBroker',
    'fenceBroker',
    'unfenceBroker',
    'topic',
    'partition',
    'config',
    'removeTopic',
  ])
    expect(appended.get(type), type).toBeGreaterThan(20);
});
