// A time as the CLI prints it: ISO 8601 in UTC (2026-11-22T10:00:00.000Z). A JavaScript Date
// holds only ±8.64e15 ms around the epoch, but a record's timestamp is any int64 the producer
// chose (the SDK, JSON produce input and the broker take them as they are), and
// Date.toISOString throws past that range. Such a time prints as its epoch ms instead, so one
// odd record cannot end a consume or a listing.

/** `ms` (since the epoch) as ISO 8601 in UTC; its epoch ms as digits when no Date can hold it. */
export function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
