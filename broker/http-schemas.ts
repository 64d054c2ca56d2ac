// JSON schemas of the HTTP surface: validated on the way in (ajv, unknown body fields refused),
// and used by fastify to serialize the way out. Shapes mirror the Broker's results, so the admin
// API and gRPC describe a topic the same way.
//
// Bounds that belong to the broker (partition counts, replication factor, topic names, config
// values) are not repeated here: the core checks them and answers with its own error code
// (INVALID_PARTITIONS, INVALID_TOPIC_EXCEPTION, INVALID_CONFIG...), the same on every surface.
// The schemas check only shape and types; a violation is INVALID_REQUEST.

import { ERRORS } from '../proto/errors.js';

const integer = { type: 'integer' } as const;
const string = { type: 'string' } as const;
const boolean = { type: 'boolean' } as const;

const replicaList = { type: 'array', items: integer } as const;

/** One follower as its leader sees it (broker/replica/replica-sync.ts). */
const followerLag = {
  type: 'object',
  required: ['nodeId', 'matchEnd', 'lagRecords', 'lagMs', 'inSync'],
  properties: { nodeId: integer, matchEnd: integer, lagRecords: integer, lagMs: integer, inSync: boolean },
} as const;

/** Filled only by the partition's leader; empty elsewhere. */
const followerList = { type: 'array', items: followerLag } as const;

/** `{ "error": { code, id, retriable, message } }`: every error answer, on every route. */
export const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'id', 'retriable', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERRORS) },
        id: integer,
        retriable: boolean,
        message: string,
      },
    },
  },
} as const;

/** Error answers, merged into every route's response schemas. */
export const errorResponses = { '4xx': errorBody, '5xx': errorBody } as const;

/** Config names to values, as strings (Kafka-style keys: `retention.ms`, `cleanup.policy`...). */
const configMap = { type: 'object', additionalProperties: string } as const;

/** Config values may be sent as strings or numbers; the broker keeps them as strings. */
const configInput = { type: 'object', additionalProperties: { type: ['string', 'number'] } } as const;

export const statusBody = {
  type: 'object',
  required: ['status'],
  properties: { status: string, reason: string },
} as const;

export const clusterBody = {
  type: 'object',
  required: ['clusterId', 'controllerId', 'brokers', 'partitions'],
  properties: {
    clusterId: string,
    controllerId: integer,
    /** Every partition this broker holds, as it knows it (only a leader knows its followers). */
    partitions: {
      type: 'array',
      items: {
        type: 'object',
        required: [
          'topic',
          'partition',
          'leader',
          'leaderEpoch',
          'replicas',
          'isr',
          'followers',
          'highWatermark',
        ],
        properties: {
          topic: string,
          partition: integer,
          leader: integer,
          leaderEpoch: integer,
          replicas: replicaList,
          isr: replicaList,
          followers: followerList,
          highWatermark: integer,
        },
      },
    },
    brokers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['nodeId', 'host', 'grpcPort', 'httpPort'],
        properties: { nodeId: integer, host: string, grpcPort: integer, httpPort: integer },
      },
    },
  },
} as const;

export const topicListBody = {
  type: 'array',
  items: {
    type: 'object',
    required: ['name', 'partitions', 'internal'],
    properties: { name: string, partitions: integer, internal: boolean },
  },
} as const;

const partitionStatsProperties = {
  partition: integer,
  leader: integer,
  replicas: replicaList,
  isr: replicaList,
  followers: followerList,
  logStartOffset: integer,
  highWatermark: integer,
  logEndOffset: integer,
  sizeBytes: integer,
  segments: integer,
} as const;

/** A move in flight (with peers): the brokers it adds and removes. Absent when none is. */
const moveProperties = { addingReplicas: replicaList, removingReplicas: replicaList } as const;

const partitionStatsRequired = Object.keys(partitionStatsProperties);

export const topicDetailBody = {
  type: 'object',
  required: ['name', 'internal', 'replicationFactor', 'configs', 'overrides', 'partitions'],
  properties: {
    name: string,
    internal: boolean,
    replicationFactor: integer,
    configs: configMap,
    overrides: configMap,
    partitions: {
      type: 'array',
      items: {
        type: 'object',
        required: partitionStatsRequired,
        properties: { ...partitionStatsProperties, ...moveProperties },
      },
    },
  },
} as const;

export const topicConfigsBody = {
  type: 'object',
  required: ['configs', 'overrides'],
  properties: { configs: configMap, overrides: configMap },
} as const;

export const partitionDetailBody = {
  type: 'object',
  required: [...partitionStatsRequired, 'earliestOffset', 'latestOffset'],
  properties: { ...partitionStatsProperties, earliestOffset: integer, latestOffset: integer },
} as const;

// ---- requests ----

export const topicNameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: string },
} as const;

export const partitionParams = {
  type: 'object',
  required: ['name', 'partition'],
  // A path segment is a string; its digits are checked here and turned into a number by the route.
  properties: { name: string, partition: { type: 'string', pattern: '^[0-9]{1,10}$' } },
} as const;

export const listTopicsQuery = {
  type: 'object',
  properties: { internal: { type: 'string', enum: ['true', 'false'] } },
} as const;

export const createTopicBody = {
  type: 'object',
  required: ['name', 'partitions'],
  additionalProperties: false,
  properties: {
    name: string,
    partitions: integer,
    /** Absent or 0: the broker's default. */
    replicationFactor: integer,
    configs: configInput,
    /** Checks everything and answers 200 with the topic as it would be, creating nothing. */
    validateOnly: boolean,
  },
} as const;

export const alterConfigsBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    set: configInput,
    delete: { type: 'array', items: string },
  },
} as const;

export const reassignBody = {
  type: 'object',
  required: ['partitions'],
  additionalProperties: false,
  properties: {
    partitions: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['partition', 'replicas'],
        additionalProperties: false,
        properties: {
          partition: { type: 'integer', minimum: 0 },
          replicas: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } },
        },
      },
    },
  },
} as const;

export const createPartitionsBody = {
  type: 'object',
  required: ['count'],
  additionalProperties: false,
  properties: { count: integer },
} as const;

export const deleteRecordsBody = {
  type: 'object',
  required: ['offset'],
  additionalProperties: false,
  // -1: the high watermark
  properties: { offset: { type: 'integer', minimum: -1 } },
} as const;

export const deletedRecordsBody = {
  type: 'object',
  required: ['topic', 'partition', 'lowWatermark'],
  properties: { topic: string, partition: integer, lowWatermark: integer },
} as const;

// ---- consumer groups ----

const topicPartition = {
  type: 'object',
  required: ['topic', 'partition'],
  properties: { topic: string, partition: integer },
} as const;

const topicPartitionList = { type: 'array', items: topicPartition } as const;

/** A string, or null where the broker has none (a dynamic member's instance id, say). */
const nullableString = { type: ['string', 'null'] } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;

export const groupIdParams = {
  type: 'object',
  required: ['id'],
  // Any string the broker takes as a group id; the core checks it (INVALID_GROUP_ID).
  properties: { id: string },
} as const;

const groupSummaryProperties = {
  groupId: string,
  /** Empty, Reconciling or Stable (a classic group: Empty, PreparingRebalance, CompletingRebalance or Stable). */
  state: string,
  members: integer,
  generation: integer,
} as const;

export const groupListBody = {
  type: 'array',
  items: {
    type: 'object',
    required: [...Object.keys(groupSummaryProperties), 'lag'],
    properties: {
      ...groupSummaryProperties,
      /** The sum of the known lags of the partitions the group has committed; null when none is known. */
      lag: nullableInteger,
    },
  },
} as const;

export const groupDetailBody = {
  type: 'object',
  required: ['groupId', 'state', 'generation', 'assignor', 'members', 'offsets', 'rebalances'],
  properties: {
    groupId: string,
    state: string,
    generation: integer,
    assignor: string,
    members: {
      type: 'array',
      items: {
        type: 'object',
        required: [
          'memberId',
          'instanceId',
          'clientId',
          'host',
          'memberEpoch',
          'assignment',
          'pendingRevocation',
          'subscribedTopics',
          'subscribedPattern',
        ],
        properties: {
          memberId: string,
          instanceId: nullableString,
          clientId: string,
          host: string,
          memberEpoch: integer,
          assignment: topicPartitionList,
          pendingRevocation: topicPartitionList,
          subscribedTopics: { type: 'array', items: string },
          subscribedPattern: nullableString,
        },
      },
    },
    offsets: {
      type: 'array',
      items: {
        type: 'object',
        required: ['topic', 'partition', 'committed', 'highWatermark', 'lag', 'metadata'],
        properties: {
          topic: string,
          partition: integer,
          /** -1: nothing committed. */
          committed: integer,
          /** -1: the topic is gone. */
          highWatermark: integer,
          /** null: unknown (nothing committed, or the topic is gone). */
          lag: nullableInteger,
          metadata: string,
        },
      },
    },
    rebalances: {
      type: 'array',
      items: {
        type: 'object',
        required: ['generation', 'reason', 'memberId', 'timestamp'],
        properties: { generation: integer, reason: string, memberId: nullableString, timestamp: integer },
      },
    },
  },
} as const;

/** The targets of a reset; a body names exactly one. */
const RESET_TARGETS = ['earliest', 'latest', 'timestamp', 'offset', 'shiftBy'] as const;

export const resetOffsetsBody = {
  type: 'object',
  required: ['topic'],
  additionalProperties: false,
  properties: {
    topic: string,
    /** Absent or empty: every partition of the topic. */
    partitions: { type: 'array', items: integer },
    earliest: { type: 'boolean', enum: [true] },
    latest: { type: 'boolean', enum: [true] },
    /** ms since the epoch: the first offset at or after it (the end of the log if none). */
    timestamp: integer,
    /** Clamped to the log's range. */
    offset: integer,
    /** From the committed offset (or the earliest, if none), clamped. */
    shiftBy: integer,
    /** false (the default): a dry run that answers the plan and changes nothing. */
    execute: boolean,
  },
  oneOf: RESET_TARGETS.map((target) => ({ required: [target] })),
} as const;

export const resetOffsetsResultBody = {
  type: 'object',
  required: ['offsets', 'executed'],
  properties: {
    offsets: {
      type: 'array',
      items: {
        type: 'object',
        required: ['topic', 'partition', 'previous', 'offset'],
        properties: {
          topic: string,
          partition: integer,
          /** -1: nothing was committed. */
          previous: integer,
          offset: integer,
        },
      },
    },
    executed: boolean,
  },
} as const;

/** The body of POST /groups/:id/delete-offsets: one topic's committed offsets. */
export const deleteOffsetsBody = {
  type: 'object',
  required: ['topic'],
  additionalProperties: false,
  properties: {
    topic: string,
    /** Absent or empty: every partition of the topic the group has committed. */
    partitions: { type: 'array', items: integer },
  },
} as const;

export const deleteOffsetsResultBody = {
  type: 'object',
  required: ['deleted'],
  properties: {
    /** The partitions whose committed offsets are gone (or had none). */
    deleted: {
      type: 'array',
      items: {
        type: 'object',
        required: ['topic', 'partition'],
        properties: { topic: string, partition: integer },
      },
    },
  },
} as const;
