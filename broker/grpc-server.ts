// The gRPC surface (weir.v1.Weir): each handler decodes the request, calls the Broker, and maps
// WeirErrors to statuses (whole calls) or per-partition Error messages. No broker logic lives here.
//
// Requests larger than maxRequestBytes are refused by grpc-js from the message's length prefix,
// before the message is read into memory (RESOURCE_EXHAUSTED). Answers have no size cap here: a
// fetch's own limits bound them (about 1 MiB with the defaults, see replica-manager.ts).
//
// Beside weir.v1.Weir the port serves the standard grpc.health.v1.Health and server reflection
// (grpc.reflection.v1 and v1alpha), so grpcurl and similar tools can list and call the services
// without a copy of the proto files.

import { once } from 'node:events';
import type { ServerHttp2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { WeirError } from '../proto/errors.js';
import type { FetchResponse } from '../proto/generated/weir/v1/FetchResponse.js';
import type { PartitionProduceResult } from '../proto/generated/weir/v1/PartitionProduceResult.js';
import type { PartitionData__Output } from '../proto/generated/weir/v1/PartitionData.js';
import type { ProduceRequest__Output } from '../proto/generated/weir/v1/ProduceRequest.js';
import type { ProduceResponse } from '../proto/generated/weir/v1/ProduceResponse.js';
import type { StartPosition__Output } from '../proto/generated/weir/v1/StartPosition.js';
import type { TopicDescription as WireTopicDescription } from '../proto/generated/weir/v1/TopicDescription.js';
import type { WeirHandlers } from '../proto/generated/weir/v1/Weir.js';
import { toServiceError, toWireError, weirProto, weirProtoPath } from '../proto/grpc.js';
import {
  asWeirError,
  assertWellFormed,
  unary,
  withMalformedRequests,
  type GrpcSurfaceHooks,
} from './grpc-unary.js';
import { groupHandlers } from './grpc-group-handlers.js';
import { closeStalledHandshakes, http2ServersOf } from './grpc-handshake.js';
import { EARLIEST, LATEST, fetchMaxBytes, type Broker, type TopicDescription } from './broker.js';
import { fetchAnswer } from './fetch-records.js';
import type { Acks, ProduceOutcome } from './partition.js';
import { deadlineOf } from './produce-deadline.js';

/** The weir service's full name, as health checks ask for it. */
export const WEIR_SERVICE = 'weir.v1.Weir';
const SUBSCRIBE_POLL_MS = 1000;

function acksOf(acks: string): Acks {
  if (acks === 'ACKS_NONE') return 'none';
  if (acks === 'ACKS_ALL') return 'all';
  if (acks === 'ACKS_LEADER') return 'leader';
  throw new WeirError('INVALID_REQUIRED_ACKS', `unknown acks ${acks}`);
}

function describeToWire(d: TopicDescription): WireTopicDescription {
  return {
    ...d,
    partitions: d.partitions.map((p) => ({
      partition: p.partition,
      leader: p.leader,
      replicas: p.replicas,
      logStartOffset: p.logStartOffset,
      highWatermark: p.highWatermark,
      logEndOffset: p.logEndOffset,
      sizeBytes: p.sizeBytes,
      segments: p.segments,
      isr: p.isr,
      followers: p.followers,
      addingReplicas: p.addingReplicas ?? [],
      removingReplicas: p.removingReplicas ?? [],
    })),
  };
}

/**
 * One partition's part of a produce request, settled: a rejection is caught at once, so none is
 * left unhandled while earlier partitions of the request are still being awaited.
 */
type PartitionAppends = Promise<{ partition: number; outcome: ProduceOutcome }[] | { failed: unknown }>;

function startAppends(broker: Broker, data: PartitionData__Output, acks: Acks): PartitionAppends {
  return appendsOf(broker, data, acks).catch((failed: unknown) => ({ failed }));
}

function appendsOf(
  broker: Broker,
  data: PartitionData__Output,
  acks: Acks,
): Promise<{ partition: number; outcome: ProduceOutcome }[]> {
  try {
    if (data.batches.length > 0) {
      return broker
        .produce(data.topic, data.partition, data.batches, acks)
        .then((outcome) => [{ partition: data.partition, outcome }]);
    }
    const records = data.records.map((r) => ({
      key: r.key ?? null,
      value: r.value ?? null,
      headers: r.headers.map((h) => ({ key: h.key, value: h.value ?? null })),
      timestamp: r.timestamp,
    }));
    return broker.produceRecords(data.topic, data.partition, records, acks, {
      producerId: data.producerId,
      producerEpoch: data.producerEpoch,
      baseSequence: data.baseSequence,
    });
  } catch (err) {
    return Promise.reject(err);
  }
}

async function produce(
  broker: Broker,
  request: ProduceRequest__Output,
  hooks: GrpcSurfaceHooks,
): Promise<ProduceResponse> {
  const acks = acksOf(request.acks);
  const started = process.hrtime.bigint();
  // Every append of the request happens here, synchronously and in order, before anything waits
  // (only the wait for an fsync is asynchronous): requests on one stream append in arrival order.
  const appends = request.partitions.map((data) => startAppends(broker, data, acks));
  // acks=all waits for a majority of the partition's replicas, for at most the request's timeout
  // (Kafka's timeout.ms): past it the answer is REQUEST_TIMED_OUT, and the batch may still commit.
  const deadline = deadlineOf(request.timeoutMs);
  const results: PartitionProduceResult[] = [];
  for (let i = 0; i < appends.length; i++) {
    const data = request.partitions[i] as PartitionData__Output;
    try {
      const settled = await deadline.race(appends[i] as PartitionAppends);
      if ('failed' in settled) throw settled.failed;
      for (const { partition, outcome } of settled) {
        results.push({
          topic: data.topic,
          partition,
          baseOffset: outcome.baseOffset,
          lastOffset: outcome.lastOffset,
          // Batches keep the producer's timestamps (CreateTime), so, as Kafka, no append time is reported.
          logAppendTime: -1,
          logStartOffset: broker.partition(data.topic, partition).logStartOffset,
        });
        hooks.onProduce?.(data.topic, partition, outcome.records, outcome.bytes, elapsed(started), null);
      }
    } catch (err) {
      const error = asWeirError(err, hooks, 'Produce');
      results.push({
        topic: data.topic,
        partition: data.partition,
        baseOffset: -1,
        lastOffset: -1,
        logAppendTime: -1,
        logStartOffset: -1,
        error: toWireError(error),
      });
      hooks.onProduce?.(data.topic, data.partition, 0, data.batches.length, elapsed(started), error);
    }
  }
  deadline.cancel();
  return { correlationId: request.correlationId, results };
}

function elapsed(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function startOffset(
  broker: Broker,
  topic: string,
  partition: number,
  start: StartPosition__Output | null,
): number {
  switch (start?.position) {
    case 'offset':
      return start.offset ?? 0;
    case 'earliest':
      return broker.listOffset(topic, partition, EARLIEST).offset;
    case 'timestamp': {
      const found = broker.listOffset(topic, partition, start.timestamp ?? 0).offset;
      return found >= 0 ? found : broker.listOffset(topic, partition, LATEST).offset;
    }
    default:
      return broker.listOffset(topic, partition, LATEST).offset;
  }
}

/** Ends every open ProduceStream once its answers are written (shutdown). */
export type DrainStreams = () => void;

export function grpcHandlers(
  broker: Broker,
  hooks: GrpcSurfaceHooks,
  streams = new Set<() => void>(),
): WeirHandlers {
  return {
    GetMetadata: unary('GetMetadata', hooks, (req) => ({
      ...broker.cluster(),
      topics: broker.metadata(req.topics).map((t) => ({
        name: t.name,
        internal: t.internal,
        ...(t.error !== null ? { error: toWireError(t.error) } : {}),
        partitions: Array.from({ length: t.partitions }, (_, p) => ({
          partition: p,
          ...broker.placement(t.name, p),
          leaderEpoch: broker.find(t.name, p)?.leaderEpoch ?? 0,
        })),
      })),
    })),
    CreateTopic: unary('CreateTopic', hooks, async (req) =>
      describeToWire(
        await broker.adminCreateTopic(
          req.name,
          req.partitions,
          req.replicationFactor,
          req.configs,
          req.validateOnly,
        ),
      ),
    ),
    DeleteTopic: unary('DeleteTopic', hooks, async (req) => {
      await broker.adminDeleteTopic(req.name);
      return {};
    }),
    ListTopics: unary('ListTopics', hooks, (req) => ({ topics: broker.listTopics(req.includeInternal) })),
    DescribeTopic: unary('DescribeTopic', hooks, (req) => describeToWire(broker.describeTopic(req.name))),
    AlterTopicConfig: unary('AlterTopicConfig', hooks, async (req) =>
      describeToWire(await broker.adminAlterTopicConfig(req.name, req.set, req.delete)),
    ),
    CreatePartitions: unary('CreatePartitions', hooks, async (req) =>
      describeToWire(await broker.adminCreatePartitions(req.name, req.count)),
    ),
    ReassignPartitions: unary('ReassignPartitions', hooks, async (req) =>
      describeToWire(
        await broker.adminReassign(
          req.name,
          req.partitions.map((p) => ({ partition: p.partition, replicas: [...p.replicas] })),
        ),
      ),
    ),
    InitProducerId: unary('InitProducerId', hooks, () => broker.initProducerId()),
    Produce: unary('Produce', hooks, (req) => produce(broker, req, hooks)),
    ProduceStream(call) {
      // Responses go out as requests complete; the stream ends once the client ended it and every
      // response is written. A request that fails as a whole ends the stream with its status.
      let pending = 0;
      let clientEnded = false;
      let failed = false;
      let draining = false;
      const fail = (err: WeirError): void => {
        if (failed) return;
        failed = true;
        streams.delete(drain);
        call.emit('error', toServiceError(err));
      };
      const settle = (): void => {
        if (failed || pending > 0) return;
        if (clientEnded) {
          streams.delete(drain);
          call.end();
        } else if (draining) {
          fail(new WeirError('BROKER_SHUTTING_DOWN', 'the broker is shutting down'));
        }
      };
      // At shutdown an idle stream ends at once and a busy one after its last answer, so the
      // server's drain does not wait on a producer that merely keeps its stream open.
      const drain = (): void => {
        draining = true;
        settle();
      };
      streams.add(drain);
      call.on('data', (req: ProduceRequest__Output) => {
        pending++;
        Promise.resolve()
          .then(() => {
            assertWellFormed(req);
            return produce(broker, req, hooks);
          })
          .then(
            (res) => {
              if (!failed) call.write(res);
            },
            (err: unknown) => fail(asWeirError(err, hooks, 'ProduceStream')),
          )
          .finally(() => {
            pending--;
            settle();
          });
      });
      call.on('end', () => {
        clientEnded = true;
        settle();
      });
      call.on('error', () => undefined);
      call.on('cancelled', () => streams.delete(drain));
    },
    Fetch: unary('Fetch', hooks, async (req, call) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const requests = req.partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: p.offset,
        maxBytes: p.maxBytes,
      }));
      const started = process.hrtime.bigint();
      const results = await broker.fetch(requests, req.maxBytes, req.minBytes, req.maxWaitMs, abort.signal);
      const seconds = elapsed(started);
      for (const r of results) hooks.onFetch?.(r.topic, r.partition, r.batches.length, seconds, r.error);
      return {
        results: await fetchAnswer(results, requests, {
          asRecords: req.asRecords,
          maxBytes: req.maxBytes,
          maxInflatedBytes: broker.config.maxInflatedBatchBytes,
        }),
      };
    }),
    Subscribe(call) {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      call.on('error', () => abort.abort());
      const { topic, start, maxBytes, asRecords } = call.request;
      const run = async (): Promise<void> => {
        assertWellFormed(call.request);
        broker.partition(topic, 0); // the topic must exist (or be auto-created) before it is counted
        const count = broker.partitionCount(topic);
        const chosen =
          call.request.partitions.length > 0
            ? call.request.partitions
            : Array.from({ length: count }, (_, p) => p);
        // max_bytes bounds each message pushed, whichever partitions fill it.
        const budget = fetchMaxBytes(maxBytes);
        const positions = chosen.map((p) => ({
          topic,
          partition: p,
          offset: startOffset(broker, topic, p, start),
          maxBytes: budget,
        }));
        while (!abort.signal.aborted && !broker.isClosing) {
          const started = process.hrtime.bigint();
          const results = await broker.fetch(positions, budget, 1, SUBSCRIBE_POLL_MS, abort.signal);
          const failed = results.find((r) => r.error !== null);
          if (failed?.error) throw failed.error;
          const withData = results.filter((r) => r.batches.length > 0);
          if (withData.length === 0) continue;
          const seconds = elapsed(started);
          for (const r of withData) hooks.onFetch?.(r.topic, r.partition, r.batches.length, seconds, null);
          const message: FetchResponse = {
            results: await fetchAnswer(
              withData,
              withData.map((r) => ({
                offset: positions.find((p) => p.partition === r.partition)?.offset ?? 0,
                maxBytes: budget,
              })),
              { asRecords, maxBytes: budget, maxInflatedBytes: broker.config.maxInflatedBatchBytes },
            ),
          };
          // Records decoded past the budget are not sent, so the next offset is the answer's.
          for (const r of message.results ?? []) {
            const pos = positions.find((p) => p.partition === r.partition);
            if (pos !== undefined) pos.offset = Number(r.nextOffset);
          }
          if (!call.write(message))
            await once(call, 'drain', { signal: abort.signal }).catch(() => undefined);
        }
        if (broker.isClosing && !abort.signal.aborted)
          throw new WeirError('BROKER_SHUTTING_DOWN', 'the broker is shutting down');
      };
      run().then(
        () => call.end(),
        (err: unknown) => {
          if (abort.signal.aborted) return;
          call.emit('error', { ...toServiceError(asWeirError(err, hooks, 'Subscribe')) });
        },
      );
    },
    ListOffsets: unary('ListOffsets', hooks, (req) => ({
      results: req.partitions.map((p) => {
        try {
          return {
            topic: p.topic,
            partition: p.partition,
            ...broker.listOffset(p.topic, p.partition, p.timestamp),
          };
        } catch (err) {
          return {
            topic: p.topic,
            partition: p.partition,
            offset: -1,
            timestamp: -1,
            error: toWireError(asWeirError(err, hooks, 'ListOffsets')),
          };
        }
      }),
    })),
    DeleteRecords: unary('DeleteRecords', hooks, async (req) => {
      const outcomes = await broker.deleteRecords(req.partitions);
      return {
        results: req.partitions.map((p, i) => {
          const outcome = outcomes[i];
          return typeof outcome === 'number'
            ? { topic: p.topic, partition: p.partition, lowWatermark: outcome }
            : {
                topic: p.topic,
                partition: p.partition,
                lowWatermark: -1,
                error: toWireError(asWeirError(outcome, hooks, 'DeleteRecords')),
              };
        }),
      };
    }),
    ...groupHandlers(broker, hooks),
  };
}

/** HTTP/2 flow-control window the broker grants per stream and (x4) per connection. */
export const FLOW_CONTROL_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * HTTP/2 lets a peer send only 64 KiB per stream before the receiver grants more; one pipelined
 * ProduceStream is one stream, so at the default window produce throughput is one window per round
 * trip (about 140 MB/s here, measured). grpc-js has no server option for it, so after binding we
 * raise the window on its HTTP/2 servers. This reaches into grpc-js internals: where they are not
 * as expected, the server keeps the default and says so.
 */
function widenFlowControlWindow(server: grpc.Server, bytes: number): boolean {
  let widened = false;
  for (const h2 of http2ServersOf(server) ?? []) {
    if (typeof h2.updateSettings !== 'function') continue;
    h2.updateSettings({ initialWindowSize: bytes });
    h2.on('session', (session: ServerHttp2Session) => {
      try {
        session.setLocalWindowSize(bytes * 4);
      } catch {
        // A session closing as it opens: nothing to widen.
      }
    });
    widened = true;
  }
  return widened;
}

/** A gRPC server with the weir service bound to `host:port`; resolves with the port bound. */
export async function startGrpcServer(
  broker: Broker,
  hooks: GrpcSurfaceHooks,
  host: string,
  port: number,
): Promise<{ server: grpc.Server; port: number; drainStreams: DrainStreams }> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': broker.config.maxRequestBytes,
    'grpc.max_send_message_length': -1,
  });
  const streams = new Set<() => void>();
  server.addService(
    withMalformedRequests(weirProto().weir.v1.Weir.service),
    grpcHandlers(broker, hooks, streams),
  );
  // The standard grpc.health.v1 service, which load balancers and orchestrators probe: the server
  // as a whole ('') and the weir service by name; both turn NOT_SERVING once shutdown begins.
  const health = new HealthImplementation({ '': 'SERVING', [WEIR_SERVICE]: 'SERVING' });
  health.addToServer(server);
  // Reflection describes the services served above from their own proto files, loaded as written
  // (keepCase), so tools see the field names of the files, not the camelCase of weir's stubs.
  const described = protoLoader.loadSync([weirProtoPath(), healthProtoPath], { keepCase: true });
  new ReflectionService(described).addToServer(server);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  if (!widenFlowControlWindow(server, FLOW_CONTROL_WINDOW_BYTES))
    hooks.onWarning?.('could not widen the HTTP/2 flow-control window; produce throughput will be lower');
  if (!closeStalledHandshakes(server, broker.config.handshakeTimeoutMs))
    hooks.onWarning?.('cannot time out HTTP/2 handshakes; connections that never complete one stay open');
  const drainStreams = (): void => {
    health.setStatus('', 'NOT_SERVING');
    health.setStatus(WEIR_SERVICE, 'NOT_SERVING');
    for (const drain of [...streams]) drain();
  };
  return { server, port: bound, drainStreams };
}
