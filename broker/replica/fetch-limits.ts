// How much a fetch's answer may hold: a max_bytes of 0 means the defaults here, chosen so that an
// answer with the defaults fits what gRPC clients in other languages receive by default.

/**
 * A fetch's max_bytes of 0: about 1 MiB an answer, so that with the defaults it stays well under
 * the 4 MiB that gRPC clients (Python, Go, Java) receive by default, also as decoded records.
 */
export const DEFAULT_FETCH_MAX_BYTES = 1024 * 1024;
/** A partition's max_bytes of 0, as Kafka's max.partition.fetch.bytes. */
export const DEFAULT_PARTITION_FETCH_MAX_BYTES = 1024 * 1024;

/** The bytes a fetch's answer may hold: its max_bytes, or the default for 0. */
export function fetchMaxBytes(asked: number): number {
  return asked > 0 ? asked : DEFAULT_FETCH_MAX_BYTES;
}

/** The bytes one partition may add to a fetch's answer, before what is left of the answer's. */
export function partitionFetchMaxBytes(asked: number): number {
  return asked > 0 ? asked : DEFAULT_PARTITION_FETCH_MAX_BYTES;
}
