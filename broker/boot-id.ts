// The host's boot identity (STYLE 10): a replica asks whether the host rebooted since its Raft state
// was last written, because a reboot after an unclean stop may have taken writes still in the page
// cache, and a process crash alone did not. Passed in like the clock: `procBootId` reads Linux's
// `/proc/sys/kernel/random/boot_id` (a UUID the kernel draws at each boot) and is wired only where
// the broker is (main.ts, and Broker.open's default for embedding); tests pass their own.

import { readFileSync } from 'node:fs';

export interface HostBoot {
  /** The current boot of the host as a lowercase UUID; null where the host does not say. */
  bootId(): string | null;
}

/** Where Linux publishes the current boot's id. */
export const LINUX_BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The boot id read from `path`: null when the file is missing or unreadable (not Linux, /proc not
 * mounted) or does not hold a UUID. Null means "cannot tell": the caller must assume a reboot.
 */
export function bootIdAt(path: string): HostBoot {
  return {
    bootId(): string | null {
      let text: string;
      try {
        text = readFileSync(path, 'latin1');
      } catch {
        return null;
      }
      const id = text.trim().toLowerCase();
      return UUID.test(id) ? id : null;
    },
  };
}

/** The real host: Linux's boot id, null elsewhere. */
export const procBootId: HostBoot = bootIdAt(LINUX_BOOT_ID_PATH);
