// Whether the broker still takes work: one flag shared by the broker's parts (topic admin, replica
// manager, metadata cache), so that once the broker stops accepting, every part refuses new work
// alike with BROKER_SHUTTING_DOWN.

import { WeirError } from '../proto/errors.js';

export class Lifecycle {
  private stopped = false;

  get closing(): boolean {
    return this.stopped;
  }

  /** From now on assertOpen throws; there is no way back (a broker is reopened, not restarted). */
  stop(): void {
    this.stopped = true;
  }

  assertOpen(): void {
    if (this.stopped) throw new WeirError('BROKER_SHUTTING_DOWN', 'the broker is shutting down');
  }
}
