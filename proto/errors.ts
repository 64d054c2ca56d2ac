// The one error table. Every surface (storage, gRPC, HTTP, the client, the CLI) names its errors
// from here, so a code means the same thing wherever a user meets it.
//
// Ids are Kafka's where Kafka has the same error, so people who know Kafka's error numbers read
// weir's at a glance; weir-only errors take ids from 1000 up. Ids never change once released.
// grpc is the numeric gRPC status code (google.rpc.Code), http the HTTP status.

export interface ErrorSpec {
  readonly id: number;
  readonly retriable: boolean;
  readonly grpc: number;
  readonly http: number;
  readonly message: string;
}

// gRPC status codes, named here so the table reads without a dependency on a gRPC package.
const CANCELLED = 1;
const INVALID_ARGUMENT = 3;
const DEADLINE_EXCEEDED = 4;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const RESOURCE_EXHAUSTED = 8;
const FAILED_PRECONDITION = 9;
const OUT_OF_RANGE = 11;
const UNIMPLEMENTED = 12;
const INTERNAL = 13;
const UNAVAILABLE = 14;
const DATA_LOSS = 15;

// One row per error, kept on one line each so the table reads as a table (hence prettier-ignore).
// prettier-ignore
export const ERRORS = {
  UNKNOWN_SERVER_ERROR: { id: -1, retriable: false, grpc: INTERNAL, http: 500, message: 'unexpected server error' },
  OFFSET_OUT_OF_RANGE: { id: 1, retriable: false, grpc: OUT_OF_RANGE, http: 416, message: 'offset is outside the log' },
  CORRUPT_MESSAGE: { id: 2, retriable: false, grpc: DATA_LOSS, http: 400, message: 'record batch is corrupt' },
  UNKNOWN_TOPIC_OR_PARTITION: { id: 3, retriable: false, grpc: NOT_FOUND, http: 404, message: 'unknown topic or partition' },
  LEADER_NOT_AVAILABLE: { id: 5, retriable: true, grpc: UNAVAILABLE, http: 503, message: 'no leader for this partition' },
  NOT_LEADER_OR_FOLLOWER: { id: 6, retriable: true, grpc: FAILED_PRECONDITION, http: 421, message: 'this broker does not lead this partition' },
  REQUEST_TIMED_OUT: { id: 7, retriable: true, grpc: DEADLINE_EXCEEDED, http: 504, message: 'request timed out' },
  MESSAGE_TOO_LARGE: { id: 10, retriable: false, grpc: RESOURCE_EXHAUSTED, http: 413, message: 'record batch is larger than allowed' },
  OFFSET_METADATA_TOO_LARGE: { id: 12, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'offset commit metadata is too large' },
  NETWORK_EXCEPTION: { id: 13, retriable: true, grpc: UNAVAILABLE, http: 503, message: 'broker unreachable' },
  COORDINATOR_NOT_AVAILABLE: { id: 15, retriable: true, grpc: UNAVAILABLE, http: 503, message: 'the group coordinator is not available yet' },
  NOT_COORDINATOR: { id: 16, retriable: true, grpc: FAILED_PRECONDITION, http: 421, message: 'this broker is not the coordinator of this group' },
  INVALID_TOPIC_EXCEPTION: { id: 17, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid topic name' },
  INVALID_REQUIRED_ACKS: { id: 21, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid acks setting' },
  ILLEGAL_GENERATION: { id: 22, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the generation is not the group\'s current one' },
  INCONSISTENT_GROUP_PROTOCOL: { id: 23, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the member asks for a different protocol or assignor than the group uses' },
  INVALID_GROUP_ID: { id: 24, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid group id' },
  UNKNOWN_MEMBER_ID: { id: 25, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the group has no such member' },
  INVALID_SESSION_TIMEOUT: { id: 26, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'session timeout is outside the broker\'s bounds' },
  REBALANCE_IN_PROGRESS: { id: 27, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the group is rebalancing; rejoin it' },
  INVALID_TIMESTAMP: { id: 32, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid timestamp' },
  UNSUPPORTED_VERSION: { id: 35, retriable: false, grpc: UNIMPLEMENTED, http: 400, message: 'the broker does not support this version of this API' },
  TOPIC_ALREADY_EXISTS: { id: 36, retriable: false, grpc: ALREADY_EXISTS, http: 409, message: 'topic already exists' },
  INVALID_PARTITIONS: { id: 37, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid partition count' },
  INVALID_REPLICATION_FACTOR: { id: 38, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid replication factor' },
  INVALID_REPLICA_ASSIGNMENT: { id: 39, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid replica assignment' },
  INVALID_CONFIG: { id: 40, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid configuration' },
  NOT_CONTROLLER: { id: 41, retriable: true, grpc: FAILED_PRECONDITION, http: 421, message: 'this broker is not the controller' },
  INVALID_REQUEST: { id: 42, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid request' },
  POLICY_VIOLATION: { id: 44, retriable: false, grpc: FAILED_PRECONDITION, http: 403, message: 'not allowed by the broker' },
  OUT_OF_ORDER_SEQUENCE_NUMBER: { id: 45, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'producer sequence number out of order' },
  INVALID_PRODUCER_EPOCH: { id: 47, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'producer epoch is fenced by a newer one' },
  KAFKA_STORAGE_ERROR: { id: 56, retriable: true, grpc: UNAVAILABLE, http: 503, message: 'storage error on the broker' },
  UNKNOWN_PRODUCER_ID: { id: 59, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the broker has no state for this producer id' },
  REASSIGNMENT_IN_PROGRESS: { id: 60, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'a reassignment of the partition is in progress' },
  NON_EMPTY_GROUP: { id: 68, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the group still has members' },
  GROUP_ID_NOT_FOUND: { id: 69, retriable: false, grpc: NOT_FOUND, http: 404, message: 'unknown group' },
  FETCH_SESSION_ID_NOT_FOUND: { id: 70, retriable: true, grpc: FAILED_PRECONDITION, http: 409, message: 'the broker has no such fetch session' },
  FENCED_LEADER_EPOCH: { id: 74, retriable: true, grpc: FAILED_PRECONDITION, http: 409, message: 'the leader epoch given is older than the leader\'s: refresh the metadata' },
  UNKNOWN_LEADER_EPOCH: { id: 75, retriable: true, grpc: FAILED_PRECONDITION, http: 409, message: 'the leader epoch given is newer than the broker knows yet' },
  UNSUPPORTED_COMPRESSION_TYPE: { id: 76, retriable: false, grpc: UNIMPLEMENTED, http: 400, message: 'unsupported compression type' },
  MEMBER_ID_REQUIRED: { id: 79, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'join again with the member id this answer carries' },
  GROUP_MAX_SIZE_REACHED: { id: 81, retriable: false, grpc: RESOURCE_EXHAUSTED, http: 409, message: 'the group has as many members as it may' },
  FENCED_INSTANCE_ID: { id: 82, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'another member has taken over this instance id' },
  GROUP_SUBSCRIBED_TO_TOPIC: { id: 86, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'a member of the group subscribes to this topic' },
  INVALID_RECORD: { id: 87, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'invalid record' },
  UNKNOWN_TOPIC_ID: { id: 100, retriable: true, grpc: NOT_FOUND, http: 404, message: 'no topic has this id' },
  INCONSISTENT_CLUSTER_ID: { id: 104, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the peer broker belongs to another cluster' },
  FENCED_MEMBER_EPOCH: { id: 110, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the member epoch is fenced; drop every partition and rejoin' },
  UNSUPPORTED_ASSIGNOR: { id: 112, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'unknown assignor' },
  STALE_MEMBER_EPOCH: { id: 113, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the generation is stale' },
  MISMATCHED_ENDPOINT_TYPE: { id: 114, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'the request asks for another kind of endpoint than this listener is' },
  INVALID_VOTER_KEY: { id: 125, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the request is addressed to another broker (node id)' },
  INVALID_REGULAR_EXPRESSION: { id: 128, retriable: false, grpc: INVALID_ARGUMENT, http: 400, message: 'the regular expression is not valid' },
  LOG_CLOSED: { id: 1000, retriable: true, grpc: FAILED_PRECONDITION, http: 503, message: 'partition log is closed' },
  REQUEST_CANCELLED: { id: 1001, retriable: true, grpc: CANCELLED, http: 499, message: 'request cancelled' },
  BROKER_SHUTTING_DOWN: { id: 1002, retriable: true, grpc: UNAVAILABLE, http: 503, message: 'broker is shutting down' },
  NOT_PARTITION_OWNER: { id: 1003, retriable: false, grpc: FAILED_PRECONDITION, http: 409, message: 'the member does not own this partition in this generation' },
  FILE_BUDGET_EXCEEDED: { id: 1004, retriable: false, grpc: RESOURCE_EXHAUSTED, http: 507, message: 'the broker would pass its open-file budget (maxOpenFiles)' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An expected failure, carrying a code from the table. Bugs are assertions, not WeirErrors. */
export class WeirError extends Error {
  override readonly name = 'WeirError';
  readonly code: ErrorCode;
  readonly id: number;
  readonly retriable: boolean;

  /**
   * `retriable` overrides the table for this one error, where the same code can be worth retrying
   * or not (a storage error from a full disk can heal; one from a log taken offline cannot).
   */
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; retriable?: boolean }) {
    const spec: ErrorSpec = ERRORS[code];
    super(
      detail === undefined ? `${code}: ${spec.message}` : `${code}: ${spec.message}: ${detail}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.id = spec.id;
    this.retriable = options?.retriable ?? spec.retriable;
  }

  /** Rebuilds an error that crossed the wire, keeping the message and retriability the broker sent. */
  static fromMessage(code: ErrorCode, message: string, cause?: unknown, retriable?: boolean): WeirError {
    const err = new WeirError(code, undefined, {
      ...(cause === undefined ? {} : { cause }),
      ...(retriable === undefined ? {} : { retriable }),
    });
    if (message) err.message = message.startsWith(`${code}:`) ? message : `${code}: ${message}`;
    return err;
  }
}

export function isWeirError(err: unknown, code?: ErrorCode): err is WeirError {
  return err instanceof WeirError && (code === undefined || err.code === code);
}
