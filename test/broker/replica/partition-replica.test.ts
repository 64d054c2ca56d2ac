// A partition replica joins its Raft group amnesiac (broker/replica/partition-replica.ts) when it
// may have lost entries it acknowledged: its state says so; or it counts written entries as
// persisted, the last stop was unclean and the host booted since its state was written; or it has
// no state while the group has other voters. A group of one never does. Real partition logs and
// `raft-state` files on disk, the real RaftGroups driver on a manual clock; the peers of a group of
// three are test doubles that answer votes.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { voteAnswer, type HardState, type Message } from '../../../broker/raft/messages.js';
import { PartitionReplica, type ReplicaStart } from '../../../broker/replica/partition-replica.js';
import { RaftGroups, type Envelope, type GroupMessage } from '../../../broker/replica/raft-groups.js';
import { crc32c } from '../../../proto/crc32c.js';
import {
  LeaderEpochCache,
  ManualClock,
  NO_VOTE,
  RAFT_STATE_FILE,
  RaftStateFile,
  nodeFs,
  type PartitionLog,
  type RaftState,
} from '../../../storage/index.js';
import {
  expectedBatch,
  openLog,
  seededRandom,
  testLogConfig,
  unstamped,
  useTempDirs,
} from '../../storage/helpers.js';

const tempDir = useTempDirs();
const BOOT_A = '0b3e7c4e-6a47-4b8e-9a55-2f0d6f1c8a01';
const BOOT_B = '7d9f2a10-3c5b-4e6f-8a1d-9b2c4e6f8a03';
const REPLICA = 'c4a1f0e2-5b6d-4c7e-8f90-1a2b3c4d5e6f';
const SELF = 1;
const THREE = [1, 2, 3];
const TICK_MS = 10;
const KEY = 't/0';

const opened: PartitionLog[] = [];
const running: RaftGroups[] = [];

/** The real driver, noting the hard state each group is added with. */
class WatchedGroups extends RaftGroups {
  readonly added: HardState[] = [];
  override add(...args: Parameters<RaftGroups['add']>): void {
    this.added.push(args[2]);
    super.add(...args);
  }
}

afterEach(async () => {
  for (const g of running.splice(0)) g.close();
  for (const log of opened.splice(0)) await log.close();
});

/** Writes `state` as the replica's `raft-state`, under `bootId`. */
function stored(dir: string, state: RaftState, bootId: string | null = BOOT_A): void {
  RaftStateFile.open(nodeFs, dir, { bootId, newReplicaId: () => REPLICA }).persist(state);
}

const whole = (currentTerm: number, votedFor = NO_VOTE): RaftState => ({
  currentTerm,
  votedFor,
  amnesiac: false,
});

interface Joined {
  readonly groups: RaftGroups;
  readonly clock: ManualClock;
  /** The flag the replica's node was given at join. */
  readonly amnesiac: boolean;
  /** The `amnesiac` line of the file on disk, as it is now. */
  storedFlag(): string | undefined;
  /** Ticks, the two peers granting every vote asked of them as whole replicas, until it leads. */
  electWithPeers(ms: number): void;
}

interface JoinSetup {
  readonly voters?: readonly number[];
  /** The host's boot now (null: the host does not say). */
  readonly bootId?: string | null;
  readonly cleanShutdown?: boolean;
  /** flush.messages=1: entries count once fsynced, not once written. */
  readonly fsyncEach?: boolean;
  /** The log opens as after a clean stop (its segments trusted, not re-read). */
  readonly openClean?: boolean;
}

/** Opens the partition's log in `dir` and joins its group as replica 1. */
function joinGroup(dir: string, setup: JoinSetup = {}): Joined {
  const { voters = THREE, bootId = BOOT_B, cleanShutdown = false, fsyncEach = false } = setup;
  const config = testLogConfig(fsyncEach ? { 'flush.messages': 1 } : {});
  const { log } = openLog(dir, config, setup.openClean === true ? { cleanShutdown: true } : {});
  opened.push(log);
  const clock = new ManualClock();
  const queue: Envelope[] = [];
  const groups = new WatchedGroups({
    self: SELF,
    transport: { send: (e) => queue.push(e) },
    clock,
    tickMs: TICK_MS,
  });
  running.push(groups);
  const start: ReplicaStart = { bootId, cleanShutdown, newReplicaId: () => REPLICA };
  const options = { fs: nodeFs, groups, key: KEY, self: SELF, voters, random: seededRandom(3), start };
  const events = { roleChanged: () => undefined, highWatermark: () => undefined };
  PartitionReplica.join(log, LeaderEpochCache.open(nodeFs, dir), options, events);
  const node = groups.node(KEY)!;
  const answer = (m: Message): Message | null =>
    m.type === 'vote' || m.type === 'preVote'
      ? voteAnswer(m, m.type === 'vote' ? m.term : 0, true, false)
      : null;
  return {
    groups,
    clock,
    amnesiac: groups.added[0]!.amnesiac,
    storedFlag: () => /^amnesiac: (\d)$/m.exec(readFileSync(join(dir, RAFT_STATE_FILE), 'utf8'))?.[1],
    electWithPeers(ms: number): void {
      for (let t = 0; t < ms && node.role !== 'leader'; t += TICK_MS) {
        clock.advance(TICK_MS);
        for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
          const messages: GroupMessage[] = [];
          for (const { group, message } of e.messages) {
            const a = answer(message);
            if (a !== null) messages.push({ group, message: a });
          }
          if (messages.length > 0) groups.receive({ from: e.to, to: e.from, messages });
        }
      }
    },
  };
}

function fileText(body: string): string {
  return `${body}crc32c: ${crc32c(Buffer.from(body)).toString(16).padStart(8, '0')}\n`;
}

describe('a replica of a group of three joins amnesiac', () => {
  it('when it has no raft-state (a wiped directory or a new replica), and records the flag before acting', () => {
    const dir = tempDir();
    const j = joinGroup(dir, { cleanShutdown: true, bootId: BOOT_A });
    expect(j.amnesiac).toBe(true);
    expect(j.storedFlag()).toBe('1');
  });

  it('when its stored flag is set, whatever the boot and the last stop', () => {
    const dir = tempDir();
    stored(dir, { currentTerm: 4, votedFor: 2, amnesiac: true });
    const j = joinGroup(dir, { bootId: BOOT_A, cleanShutdown: true, fsyncEach: true });
    expect(j.amnesiac).toBe(true);
    expect(j.groups.node(KEY)!.currentTerm).toBe(4);
    expect(j.storedFlag()).toBe('1');
  });

  it('under the page-cache policy, after an unclean stop and a reboot, and the flag outlives a second start', () => {
    const dir = tempDir();
    stored(dir, whole(4), BOOT_A);
    expect(joinGroup(dir, { bootId: BOOT_B, cleanShutdown: false }).amnesiac).toBe(true);
    // Restarted again in the same boot (a process crash before any leader caught it up).
    expect(joinGroup(dir, { bootId: BOOT_B, cleanShutdown: false }).amnesiac).toBe(true);
  });

  it('after an unclean stop when a boot cannot be told: none stored (a version 0 file) or none now', () => {
    const v0 = tempDir();
    writeFileSync(join(v0, RAFT_STATE_FILE), fileText('version: 0\ncurrent_term: 4\nvoted_for: 2\n'));
    expect(joinGroup(v0, { bootId: BOOT_A }).amnesiac).toBe(true);
    const unknownNow = tempDir();
    stored(unknownNow, whole(4), BOOT_A);
    expect(joinGroup(unknownNow, { bootId: null }).amnesiac).toBe(true);
    // A host that never says: two unknown boots are not the same boot.
    const neverKnown = tempDir();
    stored(neverKnown, whole(4), null);
    expect(joinGroup(neverKnown, { bootId: null }).amnesiac).toBe(true);
  });
});

describe('a replica of a group of three damaged at rest', () => {
  it('finds a flip a clean start does not read, records the flag, then cuts its log at the bad batch', async () => {
    const dir = tempDir();
    const { log } = openLog(dir, testLogConfig());
    const bases: number[] = [];
    for (let i = 0; i < 60; i++) {
      const records = [0, 1].map((j) => ({
        timestamp: 1_700_000_000_000 + i,
        key: null,
        value: Buffer.alloc(90, i + j),
      }));
      bases.push(log.append(unstamped(expectedBatch(records, 0)), { leaderEpoch: 4 }).baseOffset);
    }
    await log.close();
    stored(dir, whole(4), BOOT_A);
    // A byte under the CRC of the third batch of the second segment.
    const second = readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .sort()[1]!;
    const segmentBase = Number(second.slice(0, 20));
    const data = readFileSync(join(dir, second));
    let at = 0;
    for (let k = 0; k < 2; k++) at += 12 + data.readInt32BE(at + 8);
    data[at + 80] = data[at + 80]! ^ 0x10;
    writeFileSync(join(dir, second), data);
    const damagedBase = bases[bases.indexOf(segmentBase) + 2]!;

    // A crash in the same boot alone would leave it whole (see below): the damage makes it amnesiac.
    const j = joinGroup(dir, { bootId: BOOT_A, cleanShutdown: false, openClean: true });
    expect(j.amnesiac).toBe(true);
    expect(j.storedFlag()).toBe('1');
    const repaired = opened.at(-1)!;
    expect(repaired.failed).toBeNull();
    expect(repaired.logEndOffset).toBe(damagedBase);
    expect(j.groups.node(KEY)!.logEnd).toBe(damagedBase);
  });
});

describe('a replica of a group of three joins whole', () => {
  it('after an unclean stop in the same boot (a process crash leaves the page cache)', () => {
    const dir = tempDir();
    stored(dir, whole(4), BOOT_A);
    const j = joinGroup(dir, { bootId: BOOT_A, cleanShutdown: false });
    expect(j.amnesiac).toBe(false);
    expect(j.storedFlag()).toBe('0');
  });

  it('after a clean stop and a reboot (the clean stop flushed everything), and records the new boot', () => {
    const dir = tempDir();
    stored(dir, whole(4, 3), BOOT_A);
    expect(joinGroup(dir, { bootId: BOOT_B, cleanShutdown: true }).amnesiac).toBe(false);
    const file = RaftStateFile.open(nodeFs, dir, { bootId: BOOT_B, newReplicaId: () => 'unused' });
    expect(file.storedBootId).toBe(BOOT_B);
    expect(file.state).toEqual({ currentTerm: 4, votedFor: 3, amnesiac: false });
    expect(file.replicaId).toBe(REPLICA);
    // So a process crash later in this boot is not taken for a reboot.
    expect(joinGroup(dir, { bootId: BOOT_B, cleanShutdown: false }).amnesiac).toBe(false);
  });

  it('with flush.messages=1 after an unclean stop and a reboot (what it acknowledged was fsynced)', () => {
    const dir = tempDir();
    stored(dir, whole(4), BOOT_A);
    expect(joinGroup(dir, { bootId: BOOT_B, cleanShutdown: false, fsyncEach: true }).amnesiac).toBe(false);
  });
});

describe('a group of one', () => {
  it('never joins amnesiac: not without state, not after an unclean reboot, not with the flag stored', () => {
    const fresh = tempDir();
    const a = joinGroup(fresh, { voters: [SELF], bootId: BOOT_B });
    expect(a.amnesiac).toBe(false);
    expect(a.groups.node(KEY)!.role).toBe('leader');
    expect(a.storedFlag()).toBe('0');

    const rebooted = tempDir();
    stored(rebooted, whole(4), BOOT_A);
    expect(joinGroup(rebooted, { voters: [SELF], bootId: BOOT_B, cleanShutdown: false }).amnesiac).toBe(
      false,
    );

    const flagged = tempDir();
    stored(flagged, { currentTerm: 4, votedFor: SELF, amnesiac: true });
    const c = joinGroup(flagged, { voters: [SELF] });
    expect(c.amnesiac).toBe(false);
    expect(c.groups.node(KEY)!.role).toBe('leader');
    expect(c.storedFlag()).toBe('0');
  });
});

it('persists the flag the node clears: an amnesiac replica elected by whole peers is whole again', () => {
  const dir = tempDir();
  stored(dir, { currentTerm: 4, votedFor: NO_VOTE, amnesiac: true });
  const j = joinGroup(dir, { bootId: BOOT_A, cleanShutdown: true });
  expect(j.amnesiac).toBe(true);
  j.electWithPeers(40 * TICK_MS);
  const node = j.groups.node(KEY)!;
  expect(node.role).toBe('leader');
  expect(node.isAmnesiac).toBe(false);
  expect(j.storedFlag()).toBe('0');
  const file = RaftStateFile.open(nodeFs, dir, { bootId: BOOT_A, newReplicaId: () => 'unused' });
  expect(file.state).toEqual({ currentTerm: 5, votedFor: SELF, amnesiac: false });
});
