// The JSON admin API, mounted under /v1/: cluster, topics, topic detail with partitions, configs,
// and consumer groups (http-group-routes.ts, registered here so they share the prefix).
// Each route decodes its input (validated by its schema), calls one Broker method and returns the
// result as the schema serializes it; WeirErrors go to the server's error handler, which maps them
// through the error table. No broker logic lives here (STYLE 14).

import type { FastifyPluginAsync } from 'fastify';
import type { Broker } from './broker.js';
import { groupRoutes } from './http-group-routes.js';
import {
  alterConfigsBody,
  clusterBody,
  createPartitionsBody,
  reassignBody,
  createTopicBody,
  deleteRecordsBody,
  deletedRecordsBody,
  errorResponses,
  listTopicsQuery,
  partitionDetailBody,
  partitionParams,
  topicConfigsBody,
  topicDetailBody,
  topicListBody,
  topicNameParams,
} from './http-schemas.js';

export interface AdminRoutesOptions {
  readonly broker: Broker;
}

type ConfigInput = Record<string, string | number>;

interface NameParams {
  name: string;
}

/** Config values as the broker keeps them: strings. */
function configStrings(input: ConfigInput | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(input ?? {})) out[key] = String(value);
  return out;
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, { broker }) => {
  // The cluster view, and every partition this broker holds as it knows it: the in-sync replicas
  // and the followers' lag are whole only where it leads (broker/replica/replica-sync.ts).
  app.get('/cluster', { schema: { response: { 200: clusterBody, ...errorResponses } } }, async () => ({
    ...broker.cluster(),
    partitions: broker
      .allPartitionStats()
      .map(({ topic, stats: s }) => ({
        topic,
        partition: s.partition,
        leader: s.leader,
        leaderEpoch: s.term,
        replicas: s.replicas,
        isr: s.isr,
        followers: s.followers,
        highWatermark: s.highWatermark,
      }))
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition)),
  }));

  app.get<{ Querystring: { internal?: 'true' | 'false' } }>(
    '/topics',
    { schema: { querystring: listTopicsQuery, response: { 200: topicListBody, ...errorResponses } } },
    async (req) => broker.listTopics(req.query.internal === 'true'),
  );

  app.post<{
    Body: {
      name: string;
      partitions: number;
      replicationFactor?: number;
      configs?: ConfigInput;
      validateOnly?: boolean;
    };
  }>(
    '/topics',
    {
      schema: {
        body: createTopicBody,
        response: { 200: topicDetailBody, 201: topicDetailBody, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { name, partitions, replicationFactor, configs, validateOnly } = req.body;
      const detail = await broker.adminCreateTopic(
        name,
        partitions,
        replicationFactor ?? 0,
        configStrings(configs),
        validateOnly === true,
      );
      if (validateOnly === true) return detail;
      void reply.code(201).header('location', `${app.prefix}/topics/${encodeURIComponent(name)}`);
      return detail;
    },
  );

  app.get<{ Params: NameParams }>(
    '/topics/:name',
    { schema: { params: topicNameParams, response: { 200: topicDetailBody, ...errorResponses } } },
    async (req) => broker.describeTopic(req.params.name),
  );

  app.delete<{ Params: NameParams }>(
    '/topics/:name',
    { schema: { params: topicNameParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (req, reply) => {
      await broker.adminDeleteTopic(req.params.name);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: NameParams }>(
    '/topics/:name/configs',
    { schema: { params: topicNameParams, response: { 200: topicConfigsBody, ...errorResponses } } },
    async (req) => {
      const { configs, overrides } = broker.describeTopic(req.params.name);
      return { configs, overrides };
    },
  );

  app.patch<{ Params: NameParams; Body: { set?: ConfigInput; delete?: string[] } }>(
    '/topics/:name/configs',
    {
      schema: {
        params: topicNameParams,
        body: alterConfigsBody,
        response: { 200: topicDetailBody, ...errorResponses },
      },
    },
    async (req) =>
      broker.adminAlterTopicConfig(req.params.name, configStrings(req.body.set), req.body.delete ?? []),
  );

  app.post<{ Params: NameParams; Body: { count: number } }>(
    '/topics/:name/partitions',
    {
      schema: {
        params: topicNameParams,
        body: createPartitionsBody,
        response: { 200: topicDetailBody, ...errorResponses },
      },
    },
    async (req) => broker.adminCreatePartitions(req.params.name, req.body.count),
  );

  app.post<{ Params: NameParams; Body: { partitions: { partition: number; replicas: number[] }[] } }>(
    '/topics/:name/reassign',
    {
      schema: {
        params: topicNameParams,
        body: reassignBody,
        response: { 200: topicDetailBody, ...errorResponses },
      },
    },
    async (req) => broker.adminReassign(req.params.name, req.body.partitions),
  );

  app.get<{ Params: { name: string; partition: string } }>(
    '/topics/:name/partitions/:partition',
    { schema: { params: partitionParams, response: { 200: partitionDetailBody, ...errorResponses } } },
    async (req) => broker.describePartition(req.params.name, Number(req.params.partition)),
  );

  app.post<{ Params: { name: string; partition: string }; Body: { offset: number } }>(
    '/topics/:name/partitions/:partition/delete-records',
    {
      schema: {
        params: partitionParams,
        body: deleteRecordsBody,
        response: { 200: deletedRecordsBody, ...errorResponses },
      },
    },
    async (req) => {
      const { name } = req.params;
      const partition = Number(req.params.partition);
      const [outcome] = await broker.deleteRecords([{ topic: name, partition, offset: req.body.offset }]);
      if (typeof outcome !== 'number') throw outcome;
      return { topic: name, partition, lowWatermark: outcome };
    },
  );

  await app.register(groupRoutes, { broker });
};
