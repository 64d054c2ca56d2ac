// Subscription patterns: RE2/J syntax matched over whole topic names in linear time, so a pattern
// built to make a backtracking engine explode cannot hold the broker; too long or invalid patterns
// are refused with INVALID_REGULAR_EXPRESSION. Last, through the real gRPC server, produce keeps
// being answered while a member subscribes with such a pattern.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PATTERN_LENGTH, compilePattern } from '../../../broker/group/group-protocol.js';
import { subscribedTopics } from '../../../broker/group/target-assignment.js';
import type { GroupHeartbeatResponse__Output } from '../../../proto/generated/weir/v1/GroupHeartbeatResponse.js';
import type { ProduceResponse__Output } from '../../../proto/generated/weir/v1/ProduceResponse.js';
import { encodeBatch } from '../../../proto/record-batch.js';
import { removeDir, startTestBroker, type TestBroker } from '../support.js';
import { codeOf } from './error-code.js';

/** Exponential for a backtracking engine on a run of 'a' with no 'b': ~23 s at 44 characters. */
const HOSTILE = '(a|aa)+b';
const LONG_NAME = 'a'.repeat(120);

function topicsOf(names: readonly string[]) {
  return {
    partitionCount: (t: string) => (names.includes(t) ? 1 : 0),
    topicNames: () => names,
  };
}

function matching(pattern: string, names: readonly string[]): string[] {
  return subscribedTopics({ topics: [], regex: compilePattern(pattern) }, topicsOf(names));
}

describe('a subscription pattern', () => {
  it('given a pattern that backtracks exponentially, matching a long topic name completes', () => {
    expect(matching(HOSTILE, [LONG_NAME, `${LONG_NAME}b`, 'aab'])).toEqual([`${LONG_NAME}b`, 'aab']);
  });

  it('matches whole topic names only', () => {
    expect(matching('logs-.*', ['logs-a', 'logs-', 'my-logs-a', 'logs'])).toEqual(['logs-', 'logs-a']);
    expect(matching('a|b', ['a', 'b', 'ab'])).toEqual(['a', 'b']);
  });

  it('accepts RE2/J syntax (classes, named groups, bounded repeats, Unicode classes)', () => {
    expect(matching('[[:digit:]]{3}-\\d+', ['123-4', '12-4'])).toEqual(['123-4']);
    expect(matching('(?P<env>prod|dev)\\.orders', ['prod.orders', 'qa.orders'])).toEqual(['prod.orders']);
    expect(matching('(?i)ORDERS', ['orders'])).toEqual(['orders']);
    expect(matching('\\p{Greek}+', ['αβ', 'ab'])).toEqual(['αβ']);
  });

  it.each([
    ['unbalanced', '(unclosed'],
    ['lookahead', 'orders(?=-v2)'],
    ['back-reference', '(a)\\1'],
    ['repeat count over 1000', 'a{1001}'],
  ])('refuses what RE2/J refuses (%s) with INVALID_REGULAR_EXPRESSION', (_what, pattern) => {
    expect(codeOf(() => compilePattern(pattern))).toBe('INVALID_REGULAR_EXPRESSION');
  });

  it(`takes ${MAX_PATTERN_LENGTH} characters and refuses one more, naming the limit`, () => {
    const longest = `x{0,1}${'a'.repeat(MAX_PATTERN_LENGTH - 6)}`;
    expect(longest).toHaveLength(MAX_PATTERN_LENGTH);
    expect(codeOf(() => compilePattern(longest))).toBe('no error');
    expect(() => compilePattern(`${longest}a`)).toThrow(
      `subscription pattern of ${MAX_PATTERN_LENGTH + 1} characters is longer than ${MAX_PATTERN_LENGTH}`,
    );
    expect(codeOf(() => compilePattern(`${longest}a`))).toBe('INVALID_REGULAR_EXPRESSION');
  });
});

describe('given a broker with a topic whose name is a long run of one letter', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker();
    await b.call('CreateTopic', { name: LONG_NAME, partitions: 1 });
    await b.call('CreateTopic', { name: 'orders', partitions: 1 });
  });
  afterAll(async () => {
    await b.close();
    removeDir(b.dataDir);
  });

  it('when a member subscribes with a hostile pattern, produce is answered and the member joins', async () => {
    const joined = b.call<object, GroupHeartbeatResponse__Output>('GroupHeartbeat', {
      groupId: 'hostile',
      memberId: '',
      memberEpoch: 0,
      clientId: 'c',
      subscribedPattern: HOSTILE,
    });
    const produced = b.call<object, ProduceResponse__Output>('Produce', {
      acks: 'ACKS_LEADER',
      partitions: [
        {
          topic: 'orders',
          partition: 0,
          batches: encodeBatch([{ timestamp: 1, key: null, value: Buffer.from('v') }]),
        },
      ],
    });
    const [member, answer] = await Promise.all([joined, produced]);
    expect(answer.results[0]).toMatchObject({ topic: 'orders', baseOffset: 0, lastOffset: 0 });
    expect(member.memberEpoch).toBeGreaterThan(0);
    expect(member.assignment).toEqual([]);
  });

  it('when a member subscribes with an invalid pattern, it is refused with INVALID_REGULAR_EXPRESSION', async () => {
    const refused = b.call('GroupHeartbeat', {
      groupId: 'invalid',
      memberId: '',
      memberEpoch: 0,
      clientId: 'c',
      subscribedPattern: 'orders(?=x)',
    });
    await expect(refused).rejects.toMatchObject({ code: 'INVALID_REGULAR_EXPRESSION' });
  });
});
