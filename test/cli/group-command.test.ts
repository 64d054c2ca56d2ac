// `weir group list|describe|delete|reset-offsets` as child processes against a real broker. Group
// members are made in the test process with the broker's own coordinator (a join is one heartbeat,
// a commit one call), so what the CLI prints can be checked against exactly what the members did.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import { Admin, Producer } from '../../client/index.js';
import type { GroupCoordinator } from '../../broker/group/coordinator.js';
import { describeText } from '../../client/cli/group-command.js';
import {
  closedPort,
  expectFailure,
  killAll,
  okLines,
  startCliBroker,
  weir,
  type CliBroker,
} from './cli-support.js';

let broker: CliBroker;
let admin: Admin;
let producer: Producer;
let groups: GroupCoordinator;
let b: string[];

// Topic "orders": 5 records in partition 0, 3 in partition 1, timestamps 1000, 2000, ... per partition.
beforeAll(async () => {
  broker = await startCliBroker();
  b = ['--bootstrap', broker.bootstrap];
  groups = broker.running.broker.groups;
  admin = new Admin({ bootstrap: broker.bootstrap });
  producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  await admin.createTopic('orders', { partitions: 2 });
  for (const [partition, n] of [5, 3].entries()) {
    const records = Array.from({ length: n }, (_, i) => ({
      partition,
      value: `p${partition}-${i}`,
      timestamp: 1000 * (i + 1),
    }));
    await producer.send({ topic: 'orders', records });
  }
});
afterEach(() => killAll());
afterAll(async () => {
  await producer?.close();
  await admin?.close();
  await broker?.close();
});

interface Member {
  readonly groupId: string;
  readonly memberId: string;
  readonly epoch: number;
}

function join(groupId: string, clientId = 'cli-test'): Member {
  const res = groups.heartbeat(groupId, {
    memberId: '',
    memberEpoch: 0,
    instanceId: '',
    clientId,
    host: '10.0.0.7',
    sessionTimeoutMs: 0,
    rebalanceTimeoutMs: 0,
    subscribedTopics: ['orders'],
    subscribedPattern: '',
    assignor: '',
    owned: [],
  });
  return { groupId, memberId: res.memberId, epoch: res.memberEpoch };
}

function leave(m: Member): void {
  groups.heartbeat(m.groupId, {
    memberId: m.memberId,
    memberEpoch: -1,
    instanceId: '',
    clientId: '',
    host: '',
    sessionTimeoutMs: 0,
    rebalanceTimeoutMs: 0,
    subscribedTopics: [],
    subscribedPattern: '',
    assignor: '',
    owned: [],
  });
}

async function commit(m: Member, partition: number, offset: number): Promise<void> {
  const [result] = await groups.commit(m.groupId, m.memberId, m.epoch, [
    { topic: 'orders', partition, offset, metadata: '' },
  ]);
  expect(result?.error).toBeNull();
}

/** A group with no members and these committed offsets of "orders". */
async function emptyGroup(groupId: string, offsets: number[]): Promise<void> {
  await admin.commitOffsets(
    groupId,
    offsets.map((offset, partition) => ({ topic: 'orders', partition, offset })),
  );
}

async function committed(groupId: string): Promise<number[]> {
  const list = await admin.fetchOffsets(groupId);
  return list.sort((x, y) => x.partition - y.partition).map((o) => o.offset);
}

describe('weir group describe', () => {
  let m: Member;
  beforeAll(async () => {
    m = join('shop');
    await commit(m, 0, 2);
  });
  afterAll(() => leave(m));

  it('--format json prints one object with the fields DESIGN.md promises', async () => {
    const lines = okLines(await weir(['group', 'describe', 'shop', '--format', 'json', ...b]));
    expect(lines).toHaveLength(1);
    const d = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(d).toMatchObject({
      group: 'shop',
      state: 'Stable',
      generation: 1,
      members: [
        {
          memberId: m.memberId,
          clientId: 'cli-test',
          host: '10.0.0.7',
          assignment: [
            { topic: 'orders', partition: 0 },
            { topic: 'orders', partition: 1 },
          ],
        },
      ],
      offsets: [
        { topic: 'orders', partition: 0, committed: 2, highWatermark: 5, lag: 3 },
        // Owned but never committed: its lag is unknown, so null, not -1 (which would count in a sum).
        { topic: 'orders', partition: 1, committed: -1, highWatermark: 3, lag: null },
      ],
      rebalances: [{ generation: 1, reason: 'join', memberId: m.memberId }],
    });
    expect(Object.keys(d).slice(0, 5)).toEqual(['group', 'state', 'generation', 'members', 'offsets']);
    expect(Object.keys((d.offsets as object[])[0]!)).toEqual([
      'topic',
      'partition',
      'committed',
      'highWatermark',
      'lag',
    ]);
  });

  it('prints a table per partition with lag and owner, the members, and the rebalances', async () => {
    const lines = okLines(await weir(['group', 'describe', 'shop', ...b]));
    expect(lines[0]).toMatch(
      /^Group: shop +state: Stable +generation: 1 +assignor: sticky +members: 1 +total lag: 3$/,
    );
    const text = lines.join('\n');
    expect(text).toMatch(/TOPIC +PARTITION +COMMITTED +HIGH-WATERMARK +LAG +MEMBER-ID +HOST +CLIENT-ID/);
    expect(text).toMatch(new RegExp(`orders +0 +2 +5 +3 +${m.memberId} +10\\.0\\.0\\.7 +cli-test`));
    expect(text).toMatch(new RegExp(`orders +1 +- +3 +- +${m.memberId}`));
    expect(text).toMatch(/MEMBER-ID +INSTANCE-ID +CLIENT-ID +HOST +EPOCH +PARTITIONS +REVOKING/);
    expect(text).toMatch(new RegExp(`${m.memberId} +- +cli-test +10\\.0\\.0\\.7 +1 +2 +0`));
    expect(text).toContain('Latest rebalances (newest last):');
    expect(text).toMatch(new RegExp(`^1 +\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z +join +${m.memberId}$`, 'm'));
  });

  it('fails with exit 1 and one line for an unknown group', async () => {
    expectFailure(await weir(['group', 'describe', 'nobody', ...b]), 1, /GROUP_ID_NOT_FOUND.*nobody/);
  });
});

describe('weir group list', () => {
  it('lists groups with state, members and generation; --format json too', async () => {
    await emptyGroup('listed', [1, 1]);
    const lines = okLines(await weir(['group', 'list', ...b]));
    expect(lines[0]).toMatch(/^GROUP +STATE +MEMBERS +GENERATION +LAG$/);
    // Committed 1 and 1 of high watermarks 5 and 3: 4 + 2 behind.
    expect(lines).toContainEqual(expect.stringMatching(/^listed +Empty +0 +0 +6$/));
    const json = JSON.parse(okLines(await weir(['group', 'list', '--format', 'json', ...b]))[0]!) as unknown;
    expect(json).toEqual(
      expect.arrayContaining([{ groupId: 'listed', state: 'Empty', members: 0, generation: 0, lag: 6 }]),
    );
  });

  it('shows an unknown lag as - (null in JSON), as describe does', async () => {
    const m = join('lagless');
    try {
      const lines = okLines(await weir(['group', 'list', ...b]));
      expect(lines).toContainEqual(expect.stringMatching(/^lagless +\w+ +1 +1 +-$/));
      const json = JSON.parse(okLines(await weir(['group', 'list', '--format', 'json', ...b]))[0]!) as {
        groupId: string;
        lag: number | null;
      }[];
      expect(json.find((g) => g.groupId === 'lagless')?.lag).toBeNull();
      const described = okLines(await weir(['group', 'describe', 'lagless', ...b]));
      expect(described[0]).toMatch(/total lag: -$/);
    } finally {
      leave(m);
    }
  });
});

describe('weir group delete', () => {
  it('refuses a group with members (exit 1), deletes it once empty', async () => {
    const m = join('doomed');
    await commit(m, 0, 1);
    expectFailure(await weir(['group', 'delete', 'doomed', ...b]), 1, /NON_EMPTY_GROUP/);
    leave(m);
    expect(okLines(await weir(['group', 'delete', 'doomed', ...b]))).toEqual(['deleted group doomed']);
    expectFailure(await weir(['group', 'delete', 'doomed', ...b]), 1, /GROUP_ID_NOT_FOUND/);
  });
});

describe('weir group reset-offsets', () => {
  it('is a dry run by default: prints the plan, says nothing changed, changes nothing', async () => {
    await emptyGroup('dry', [4, 2]);
    const lines = okLines(
      await weir(['group', 'reset-offsets', 'dry', '--topic', 'orders', '--to-earliest', ...b]),
    );
    expect(lines[0]).toMatch(/^TOPIC +PARTITION +PREVIOUS +NEW$/);
    expect(lines[1]).toMatch(/^orders +0 +4 +0$/);
    expect(lines[2]).toMatch(/^orders +1 +2 +0$/);
    expect(lines.at(-1)).toBe('dry run: nothing was changed (add --execute to commit these offsets)');
    expect(await committed('dry')).toEqual([4, 2]);
  });

  it.each([
    [['--to-latest'], [5, 3]],
    [
      ['--to-offset', '1'],
      [1, 1],
    ],
    [
      ['--shift-by', '-3'],
      [1, 0],
    ],
    [['--shift-by=2'], [5, 3]],
    [
      ['--to-time', '1970-01-01T00:00:02.500Z'],
      [2, 2],
    ],
    [
      ['--to-time', '2500'],
      [2, 2],
    ],
  ])('with --execute, %j commits %j', async (target, offsets) => {
    const group = `exec-${target.join('').replace(/[^a-z0-9]/g, '')}`;
    await emptyGroup(group, [4, 2]);
    const result = await weir([
      'group',
      'reset-offsets',
      group,
      '--topic',
      'orders',
      ...target,
      '--execute',
      ...b,
    ]);
    expect(okLines(result).at(-1)).toBe(`committed these offsets for group ${group}`);
    expect(await committed(group)).toEqual(offsets);
  });

  it('--partition limits the reset to the partitions named; --format json prints the result', async () => {
    await emptyGroup('one-part', [4, 2]);
    const result = await weir([
      'group',
      'reset-offsets',
      'one-part',
      '--topic',
      'orders',
      '--partition',
      '1',
      '--to-offset',
      '3',
      '--execute',
      '--format',
      'json',
      ...b,
    ]);
    expect(JSON.parse(okLines(result)[0]!)).toEqual({
      group: 'one-part',
      topic: 'orders',
      executed: true,
      offsets: [{ topic: 'orders', partition: 1, previous: 2, offset: 3 }],
    });
    expect(await committed('one-part')).toEqual([4, 3]);
  });

  it.each([
    [[], /needs one of --to-earliest, --to-latest, --to-time, --to-offset or --shift-by/],
    [['--to-earliest', '--to-latest'], /--to-earliest.*cannot be used with.*--to-latest/],
    [['--to-offset', '1', '--shift-by', '1'], /cannot be used with/],
    [['--to-offset', '-1'], /--to-offset.*integer/],
    [['--to-time', 'yesterday'], /--to-time.*ISO 8601/],
    [['--to-earliest', '--partition', 'x'], /--partition.*integer/],
  ])('refuses %j with exit 2 and one line', async (args, reason) => {
    const result = await weir(['group', 'reset-offsets', 'any', '--topic', 'orders', ...args, ...b]);
    expectFailure(result, 2, reason);
  });

  it('refuses without --topic (exit 2)', async () => {
    expectFailure(await weir(['group', 'reset-offsets', 'any', '--to-earliest', ...b]), 2, /--topic/);
  });

  it('fails with exit 1 while the group has members, and for an unknown partition', async () => {
    const m = join('busy');
    try {
      const busy = await weir(['group', 'reset-offsets', 'busy', '--topic', 'orders', '--to-earliest', ...b]);
      expectFailure(busy, 1, /NON_EMPTY_GROUP.*stop them/);
    } finally {
      leave(m);
    }
    const args = ['group', 'reset-offsets', 'busy', '--topic', 'orders', '--partition', '7', '--to-earliest'];
    expectFailure(await weir([...args, ...b]), 1, /UNKNOWN_TOPIC_OR_PARTITION.*partition 7/);
  });
});

describe('weir group reset-offsets --all-topics', () => {
  it('resets every topic the group committed, and refuses --partition with it', async () => {
    await admin.createTopic('refunds', { partitions: 1 });
    await producer.send({ topic: 'refunds', records: [{ value: 'r0' }, { value: 'r1' }] });
    await emptyGroup('everything', [4, 2]);
    await admin.commitOffsets('everything', [{ topic: 'refunds', partition: 0, offset: 1 }]);
    const args = ['group', 'reset-offsets', 'everything', '--all-topics', '--to-latest'];
    const dry = okLines(await weir([...args, ...b]));
    expect(dry.slice(1, 4).map((l) => l.split(/ +/))).toEqual([
      ['orders', '0', '4', '5'],
      ['orders', '1', '2', '3'],
      ['refunds', '0', '1', '2'],
    ]);
    const done = JSON.parse(okLines(await weir([...args, '--execute', '--format', 'json', ...b]))[0]!);
    expect(done).toEqual({
      group: 'everything',
      topics: ['orders', 'refunds'],
      executed: true,
      offsets: [
        { topic: 'orders', partition: 0, previous: 4, offset: 5 },
        { topic: 'orders', partition: 1, previous: 2, offset: 3 },
        { topic: 'refunds', partition: 0, previous: 1, offset: 2 },
      ],
    });
    const offsets = await admin.fetchOffsets('everything');
    expect(offsets.map((o) => `${o.topic}/${o.partition}=${o.offset}`).sort()).toEqual([
      'orders/0=5',
      'orders/1=3',
      'refunds/0=2',
    ]);

    expectFailure(
      await weir([...args, '--partition', '0', ...b]),
      2,
      /--partition names partitions of one --topic/,
    );
    expectFailure(
      await weir([...args, '--topic', 'orders', ...b]),
      2,
      /--topic.*cannot be used with.*--all-topics/,
    );
    expectFailure(
      await weir(['group', 'reset-offsets', 'nothing-committed', '--all-topics', '--to-earliest', ...b]),
      1,
      /group nothing-committed has no committed offsets/,
    );
  });
});

describe('weir group delete-offsets', () => {
  it('refuses while a member subscribes to the topic, deletes once it left', async () => {
    const m = join('pruned');
    await commit(m, 0, 2);
    await commit(m, 1, 1);
    expectFailure(
      await weir(['group', 'delete-offsets', 'pruned', '--topic', 'orders', ...b]),
      1,
      /GROUP_SUBSCRIBED_TO_TOPIC/,
    );
    leave(m);
    expect(
      okLines(
        await weir(['group', 'delete-offsets', 'pruned', '--topic', 'orders', '--partition', '1', ...b]),
      ),
    ).toEqual(['deleted the committed offsets of group pruned for orders/1']);
    expect(await committed('pruned')).toEqual([2]);
    const json = await weir([
      'group',
      'delete-offsets',
      'pruned',
      '--topic',
      'orders',
      '--format',
      'json',
      ...b,
    ]);
    expect(JSON.parse(okLines(json)[0]!)).toEqual({
      group: 'pruned',
      deleted: [{ topic: 'orders', partition: 0 }],
    });
    expect(await committed('pruned')).toEqual([]);
    expect(okLines(await weir(['group', 'delete-offsets', 'pruned', '--topic', 'orders', ...b]))).toEqual([
      'group pruned has no committed offsets of orders',
    ]);
    expectFailure(
      await weir(['group', 'delete-offsets', 'nobody', '--topic', 'orders', ...b]),
      1,
      /GROUP_ID_NOT_FOUND/,
    );
    expectFailure(
      await weir(['group', 'delete-offsets', 'pruned', '--topic', 'nope', ...b]),
      1,
      /UNKNOWN_TOPIC_OR_PARTITION.*nope/,
    );
    expectFailure(await weir(['group', 'delete-offsets', 'pruned', ...b]), 2, /--topic/);
  });
});

describe('weir group reset-offsets --all-topics --execute, when a topic fails', () => {
  const args = (group: string): string[] => ['group', 'reset-offsets', group, '--all-topics', '--to-latest'];

  /** A group with offsets of orders (0 and 1) and of "returns"; the broker fails the reset of returns. */
  async function failingReturns(group: string, when: 'plan' | 'execute'): Promise<void> {
    if ((await admin.listTopics()).every((t) => t.name !== 'returns'))
      await admin.createTopic('returns', { partitions: 1 });
    await emptyGroup(group, [1, 1]);
    await admin.commitOffsets(group, [{ topic: 'returns', partition: 0, offset: 0 }]);
    const real = groups.resetOffsets.bind(groups);
    // The broker's own coordinator, made to refuse one topic, as if a member joined just then.
    vi.spyOn(groups, 'resetOffsets').mockImplementation((g, topic, partitions, to, execute) =>
      topic === 'returns' && execute === (when === 'execute')
        ? Promise.reject(new WeirError('NON_EMPTY_GROUP', 'refused by the test'))
        : real(g, topic, partitions, to, execute),
    );
  }
  afterEach(() => vi.restoreAllMocks());
  const offsetsOf = async (group: string): Promise<string[]> =>
    (await admin.fetchOffsets(group)).map((o) => `${o.topic}/${o.partition}=${o.offset}`).sort();

  it('a refusal while planning leaves every topic as it was', async () => {
    await failingReturns('planned', 'plan');
    expectFailure(await weir([...args('planned'), '--execute', ...b]), 1, /refused by the test/);
    expect(await offsetsOf('planned')).toEqual(['orders/0=1', 'orders/1=1', 'returns/0=0']);
  });

  it('a failure part way prints the topics reset before it, and exits 1', async () => {
    await failingReturns('halfway', 'execute');
    const result = await weir([...args('halfway'), '--execute', ...b]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/refused by the test/);
    expect(result.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^TOPIC +PARTITION +PREVIOUS +NEW$/),
      expect.stringMatching(/^orders +0 +1 +5$/),
      expect.stringMatching(/^orders +1 +1 +3$/),
      '',
      'committed these offsets for group halfway',
      'then the reset of returns failed; not reset: returns',
    ]);
    expect(await offsetsOf('halfway')).toEqual(['orders/0=5', 'orders/1=3', 'returns/0=0']);
    vi.restoreAllMocks();
    await failingReturns('halfway', 'execute');
    const json = await weir([...args('halfway'), '--execute', '--format', 'json', ...b]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      group: 'halfway',
      topics: ['orders'],
      executed: true,
      offsets: [
        { topic: 'orders', partition: 0, previous: 1, offset: 5 },
        { topic: 'orders', partition: 1, previous: 1, offset: 3 },
      ],
      failedTopic: 'returns',
      notReset: [],
    });
  });
});

describe('weir group, broker side', () => {
  it('fails with exit 1 and one line when no broker answers', async () => {
    const port = await closedPort();
    const result = await weir(['group', 'list', '--bootstrap', `127.0.0.1:${port}`]);
    expectFailure(result, 1, /cannot reach broker at 127\.0\.0\.1:\d+.*is it running/);
  });

  it.each([
    [['group', 'list'], ['--format']],
    [['group', 'describe'], ['--format']],
    [['group', 'delete'], []],
    [
      ['group', 'reset-offsets'],
      [
        '--topic',
        '--to-earliest',
        '--to-latest',
        '--to-time',
        '--to-offset',
        '--shift-by',
        '--partition',
        '--execute',
      ],
    ],
  ])('weir %j --help lists --bootstrap and the contract flags', async (path, flags) => {
    const help = okLines(await weir([...path, '--help'])).join('\n');
    expect(help).toContain(`Usage: weir ${path.join(' ')}`);
    for (const flag of ['--bootstrap', '--help', ...flags]) expect(help).toContain(flag);
  });
});

describe('describeText', () => {
  it('marks a partition being revoked, and shows "-" where there is no value', () => {
    const text = describeText({
      groupId: 'g',
      state: 'Reconciling',
      generation: 3,
      assignor: 'range',
      members: [
        {
          memberId: 'm-1',
          instanceId: 'host-a',
          clientId: '',
          host: '10.0.0.1',
          memberEpoch: 2,
          assignment: [{ topic: 't', partition: 0 }],
          pendingRevocation: [{ topic: 't', partition: 1 }],
          subscribedTopics: ['t'],
          subscribedPattern: null,
        },
      ],
      offsets: [
        { topic: 't', partition: 0, committed: 7, highWatermark: 9, lag: 2, metadata: '' },
        { topic: 't', partition: 1, committed: -1, highWatermark: 4, lag: null, metadata: '' },
        { topic: 'gone', partition: 0, committed: 3, highWatermark: -1, lag: null, metadata: '' },
      ],
      rebalances: [{ generation: 3, reason: 'partitions', memberId: null, timestamp: 0 }],
    });
    expect(text).toMatch(
      /^Group: g +state: Reconciling +generation: 3 +assignor: range +members: 1 +total lag: 2$/m,
    );
    expect(text).toMatch(/^t +0 +7 +9 +2 +m-1 +10\.0\.0\.1 +-$/m);
    expect(text).toMatch(/^t +1 +- +4 +- +m-1 \(revoking\) +10\.0\.0\.1 +-$/m);
    expect(text).toMatch(/^gone +0 +3 +- +- +- +- +-$/m);
    expect(text).toMatch(/^m-1 +host-a +- +10\.0\.0\.1 +2 +1 +1$/m);
    expect(text).toMatch(/^3 +1970-01-01T00:00:00\.000Z +partitions +-$/m);
  });
});
