// Where the broker's random identifiers come from (STYLE 10): the cluster id, topic ids and group
// member ids. Passed in like the clock, so a simulation can make them from its seed and replay a
// run exactly. `randomIds` is the real source, used only where the broker is wired (main.ts, and
// Broker.open's defaults for embedding).

import { randomUUID } from 'node:crypto';

export interface Ids {
  /** A fresh RFC 4122 version 4 UUID, as 36 characters. */
  uuid(): string;
}

export const randomIds: Ids = { uuid: () => randomUUID() };
