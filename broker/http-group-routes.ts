// The consumer-group routes of the JSON admin API, registered by adminRoutes under /v1/: list,
// describe, delete, and reset or delete a group's offsets. Each route calls one GroupCoordinator method and
// shapes its answer for JSON (partition lists flat, "none" as null, as the SDK shows them); the
// coordinator's WeirErrors go to the server's error handler (STYLE 14).

import type { FastifyPluginAsync } from 'fastify';
import { WeirError } from '../proto/errors.js';
import type { Broker } from './broker.js';
import type { GroupDescription, ResetTarget } from './group/coordinator.js';
import {
  deleteOffsetsBody,
  deleteOffsetsResultBody,
  errorResponses,
  groupDetailBody,
  groupIdParams,
  groupListBody,
  resetOffsetsBody,
  resetOffsetsResultBody,
} from './http-schemas.js';

export interface GroupRoutesOptions {
  readonly broker: Broker;
}

interface IdParams {
  id: string;
}

/** The body of POST /groups/:id/reset-offsets; the schema lets exactly one target through. */
interface ResetBody {
  topic: string;
  partitions?: number[];
  earliest?: true;
  latest?: true;
  timestamp?: number;
  offset?: number;
  shiftBy?: number;
  execute?: boolean;
}

/** The body of POST /groups/:id/delete-offsets. */
interface DeleteOffsetsBody {
  topic: string;
  partitions?: number[];
}

function resetTarget(body: ResetBody): ResetTarget {
  if (body.earliest === true) return { kind: 'earliest' };
  if (body.latest === true) return { kind: 'latest' };
  if (body.timestamp !== undefined) return { kind: 'timestamp', timestamp: body.timestamp };
  if (body.offset !== undefined) return { kind: 'offset', offset: body.offset };
  if (body.shiftBy !== undefined) return { kind: 'shiftBy', shiftBy: body.shiftBy };
  // The schema's oneOf makes this unreachable; kept so a schema change cannot reset to 0.
  throw new WeirError(
    'INVALID_REQUEST',
    'say where to reset to: earliest, latest, timestamp, offset or shiftBy',
  );
}

function orNull(value: string): string | null {
  return value === '' ? null : value;
}

function describeBody(d: GroupDescription): unknown {
  return {
    groupId: d.groupId,
    state: d.state,
    generation: d.generation,
    assignor: d.assignor,
    members: d.memberList.map((m) => ({
      ...m,
      instanceId: orNull(m.instanceId),
      subscribedPattern: orNull(m.subscribedPattern),
    })),
    // The core's -1 for an unknown lag is null here, so a sum of lags counts only known ones.
    offsets: d.offsets.map((o) => ({ ...o, lag: o.lag < 0 ? null : o.lag })),
    rebalances: d.rebalances.map((r) => ({ ...r, memberId: orNull(r.memberId) })),
  };
}

export const groupRoutes: FastifyPluginAsync<GroupRoutesOptions> = async (app, { broker }) => {
  const groups = broker.groups;

  app.get('/groups', { schema: { response: { 200: groupListBody, ...errorResponses } } }, async () => {
    // Unknown (null) when no committed partition has a known lag, as `weir group list` shows it.
    const lag = new Map<string, number>();
    for (const { groupId, offsets } of groups.allOffsets())
      for (const o of offsets) if (o.lag >= 0) lag.set(groupId, (lag.get(groupId) ?? 0) + o.lag);
    return groups.listGroups().map((g) => ({ ...g, lag: lag.get(g.groupId) ?? null }));
  });

  app.get<{ Params: IdParams }>(
    '/groups/:id',
    { schema: { params: groupIdParams, response: { 200: groupDetailBody, ...errorResponses } } },
    async (req) => describeBody(groups.describeGroup(req.params.id)),
  );

  app.delete<{ Params: IdParams }>(
    '/groups/:id',
    { schema: { params: groupIdParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (req, reply) => {
      await groups.deleteGroup(req.params.id);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: IdParams; Body: ResetBody }>(
    '/groups/:id/reset-offsets',
    {
      schema: {
        params: groupIdParams,
        body: resetOffsetsBody,
        response: { 200: resetOffsetsResultBody, ...errorResponses },
      },
    },
    async (req) => {
      const { topic, partitions, execute } = req.body;
      const executed = execute === true;
      const offsets = await groups.resetOffsets(
        req.params.id,
        topic,
        partitions ?? [],
        resetTarget(req.body),
        executed,
      );
      return { offsets, executed };
    },
  );

  // As the SDK: the first partition's error, if any, is the answer (the others' offsets are gone).
  app.post<{ Params: IdParams; Body: DeleteOffsetsBody }>(
    '/groups/:id/delete-offsets',
    {
      schema: {
        params: groupIdParams,
        body: deleteOffsetsBody,
        response: { 200: deleteOffsetsResultBody, ...errorResponses },
      },
    },
    async (req) => {
      const { topic, partitions } = req.body;
      const results = await groups.deleteOffsets(req.params.id, [{ topic, partitions: partitions ?? [] }]);
      for (const r of results) if (r.error !== null) throw r.error;
      return { deleted: results.map((r) => ({ topic: r.topic, partition: r.partition })) };
    },
  );
};
