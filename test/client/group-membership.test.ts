// GroupMembership against a scripted coordinator: what it sends (join, heartbeat with the last
// epoch and what it owns, leave with -1 or -2), and what it does with each error (rejoin after a
// fence, stop on FENCED_INSTANCE_ID, retry a retriable one and give the partitions up once the
// session must have expired). No broker: the answers come from the test.

import { describe, expect, it } from 'vitest';
import { WeirError } from '../../proto/errors.js';
import type { GroupHeartbeatRequest } from '../../proto/generated/weir/v1/GroupHeartbeatRequest.js';
import type { GroupHeartbeatResponse__Output } from '../../proto/generated/weir/v1/GroupHeartbeatResponse.js';
import { systemClock } from '../../client/clock.js';
import { GroupMembership, type MembershipHandler } from '../../client/group-membership.js';
import type { GroupRpc } from '../../client/group-rpc.js';
import type { TopicPartition } from '../../client/records.js';
import { waitFor } from './helpers.js';

type Script = (request: GroupHeartbeatRequest, n: number) => GroupHeartbeatResponse__Output | WeirError;

/** A coordinator that answers heartbeats from a script and records what it was sent. */
class ScriptedRpc implements GroupRpc {
  readonly sent: GroupHeartbeatRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  script: Script;

  constructor(script: Script) {
    this.script = script;
  }

  async groupHeartbeat(request: GroupHeartbeatRequest): Promise<GroupHeartbeatResponse__Output> {
    this.sent.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.inFlight--;
    const answer = this.script(request, this.sent.length);
    if (answer instanceof WeirError) throw answer;
    return answer;
  }

  private unused(): Promise<never> {
    return Promise.reject(new Error('not used by the membership'));
  }
  findCoordinator = () => this.unused();
  offsetCommit = () => this.unused();
  offsetFetch = () => this.unused();
  listGroups = () => this.unused();
  describeGroup = () => this.unused();
  deleteGroup = () => this.unused();
  resetOffsets = () => this.unused();
  deleteOffsets = () => this.unused();
  close(): void {}
}

class RecordingHandler implements MembershipHandler {
  held: TopicPartition[] = [];
  readonly assignments: TopicPartition[][] = [];
  readonly losses: WeirError[] = [];
  failure: WeirError | null = null;

  owned(): TopicPartition[] {
    return this.held;
  }
  assigned(assignment: TopicPartition[]): void {
    this.assignments.push(assignment);
    this.held = assignment;
  }
  lost(reason: WeirError): Promise<void> {
    this.losses.push(reason);
    this.held = [];
    return Promise.resolve();
  }
  failed(error: WeirError): void {
    this.failure = error;
  }
}

function answer(
  epoch: number,
  partitions: number[],
  intervalMs = 10,
  sessionTimeoutMs = 0,
): GroupHeartbeatResponse__Output {
  return {
    memberId: 'm-1',
    memberEpoch: epoch,
    heartbeatIntervalMs: intervalMs,
    assignment: partitions.length > 0 ? [{ topic: 't', partitions }] : [],
    groupEpoch: epoch,
    sessionTimeoutMs,
  };
}

function membership(
  rpc: GroupRpc,
  handler: MembershipHandler,
  overrides: { instanceId?: string; sessionTimeoutMs?: number } = {},
) {
  return new GroupMembership(
    {
      rpc,
      groupId: 'g',
      clientId: 'c',
      instanceId: overrides.instanceId ?? '',
      sessionTimeoutMs: overrides.sessionTimeoutMs ?? 0,
      rebalanceTimeoutMs: 0,
      topics: ['t'],
      pattern: '',
      assignor: '',
      requestTimeoutMs: 1000,
      retryBackoffMs: 5,
      retryBackoffMaxMs: 20,
      clock: systemClock,
      random: () => 0.5,
    },
    handler,
  );
}

describe('GroupMembership', () => {
  it('joins at epoch 0, then heartbeats one at a time with the last epoch and what it owns', async () => {
    const rpc = new ScriptedRpc((req) => answer((req.memberEpoch ?? 0) + 1, [0, 1]));
    const handler = new RecordingHandler();
    const m = membership(rpc, handler);
    m.start();
    await waitFor(() => rpc.sent.length >= 4, 'a few heartbeats');
    await m.leave();

    expect(rpc.sent[0]).toMatchObject({ memberEpoch: 0, owned: [], subscribedTopics: ['t'] });
    // It names itself on the first join (client id first), so a join sent again finds the same member.
    expect(rpc.sent[0]?.memberId).toMatch(/^c-[0-9a-f-]{36}$/);
    expect(rpc.sent[1]).toMatchObject({
      memberId: 'm-1',
      memberEpoch: 1,
      owned: [{ topic: 't', partitions: [0, 1] }],
    });
    expect(rpc.sent[2]).toMatchObject({ memberEpoch: 2 });
    expect(rpc.sent.at(-1)).toMatchObject({ memberId: 'm-1', memberEpoch: -1 });
    expect(rpc.maxInFlight).toBe(1);
  });

  it('when fenced, drops everything and rejoins at epoch 0 under its old id', async () => {
    const rpc = new ScriptedRpc((req, n) =>
      n === 3 ? new WeirError('FENCED_MEMBER_EPOCH', 'test') : answer((req.memberEpoch ?? 0) + 1, [0]),
    );
    const handler = new RecordingHandler();
    const m = membership(rpc, handler);
    m.start();
    await waitFor(() => rpc.sent.length >= 5, 'the rejoin');
    await m.leave();
    expect(handler.losses.map((e) => e.code)).toEqual(['FENCED_MEMBER_EPOCH']);
    expect(rpc.sent[3]).toMatchObject({ memberId: 'm-1', memberEpoch: 0, owned: [] });
  });

  it('stops for good on FENCED_INSTANCE_ID, and does not leave', async () => {
    const rpc = new ScriptedRpc((_req, n) =>
      n === 2 ? new WeirError('FENCED_INSTANCE_ID', 'test') : answer(1, [0]),
    );
    const handler = new RecordingHandler();
    const m = membership(rpc, handler, { instanceId: 'i' });
    m.start();
    await waitFor(() => handler.failure !== null, 'the failure');
    await m.leave();
    expect(handler.failure?.code).toBe('FENCED_INSTANCE_ID');
    expect(rpc.sent).toHaveLength(2);
    expect(m.joined).toBe(false);
  });

  it('retries retriable errors, and gives its partitions up once its session must have expired', async () => {
    let down = false;
    const rpc = new ScriptedRpc((req) =>
      down ? new WeirError('NETWORK_EXCEPTION', 'test') : answer(Math.max(1, req.memberEpoch ?? 0), [0]),
    );
    const handler = new RecordingHandler();
    const m = membership(rpc, handler, { sessionTimeoutMs: 150 });
    m.start();
    await waitFor(() => m.joined, 'the join');
    down = true;
    await waitFor(() => handler.losses.length === 1, 'the session to expire');
    const afterLoss = rpc.sent.length;
    down = false;
    await waitFor(() => rpc.sent.length > afterLoss + 1 && m.joined, 'the rejoin');
    await m.leave();
    expect(rpc.sent[afterLoss]).toMatchObject({ memberEpoch: 0 });
  });

  it('a join sent again after a lost answer carries the same member id', async () => {
    let calls = 0;
    const rpc = new ScriptedRpc((req) =>
      ++calls === 1
        ? new WeirError('REQUEST_TIMED_OUT', 'the answer was lost')
        : answer(Math.max(1, req.memberEpoch ?? 0), [0]),
    );
    const handler = new RecordingHandler();
    const m = membership(rpc, handler);
    m.start();
    await waitFor(() => m.joined, 'the join');
    await m.leave();
    expect(rpc.sent[0]?.memberEpoch).toBe(0);
    expect(rpc.sent[1]?.memberEpoch).toBe(0);
    expect(rpc.sent[1]?.memberId).toBe(rpc.sent[0]?.memberId);
  });

  it('judges its session by the timeout the coordinator says is in force', async () => {
    let down = false;
    // The member asks for no timeout of its own (it would assume 45 s); the broker's is 150 ms.
    const rpc = new ScriptedRpc((req) =>
      down
        ? new WeirError('NETWORK_EXCEPTION', 'test')
        : answer(Math.max(1, req.memberEpoch ?? 0), [0], 10, 150),
    );
    const handler = new RecordingHandler();
    const m = membership(rpc, handler);
    m.start();
    await waitFor(() => m.joined, 'the join');
    down = true;
    await waitFor(() => handler.losses.length === 1, 'the 150 ms session to expire', 5000);
    await m.leave();
  });

  it('heartbeats at once when asked, without waiting for the interval', async () => {
    const rpc = new ScriptedRpc(() => answer(1, [0], 60_000));
    const handler = new RecordingHandler();
    const m = membership(rpc, handler);
    m.start();
    await waitFor(() => rpc.sent.length === 1 && m.joined, 'the join');
    m.heartbeatNow();
    await waitFor(() => rpc.sent.length === 2, 'the heartbeat asked for', 5000);
    await m.leave();
  });

  it('a static member leaves with epoch -2; a member that never joined sends nothing', async () => {
    const rpc = new ScriptedRpc(() => answer(3, [0]));
    const m = membership(rpc, new RecordingHandler(), { instanceId: 'i' });
    m.start();
    await waitFor(() => m.joined, 'the join');
    await m.leave();
    expect(rpc.sent.at(-1)).toMatchObject({ memberEpoch: -2, instanceId: 'i' });

    const silent = new ScriptedRpc(() => new WeirError('NOT_COORDINATOR', 'test'));
    const never = membership(silent, new RecordingHandler());
    never.start();
    await waitFor(() => silent.sent.length >= 1, 'an attempt');
    await never.leave();
    expect(silent.sent.every((r) => r.memberEpoch === 0)).toBe(true);
  });
});
