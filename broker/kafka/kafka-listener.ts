// The Kafka listener of a running broker: the server with every API handler wired to the broker.
// On a cluster every broker may have one: each registers its listener's port in the metadata log
// with its registration, so Metadata on any broker names every live broker with a listener, at its
// advertised host and Kafka port, and a Kafka client bootstrapped at one broker finds the rest.

import type { Broker } from '../broker.js';
import { createPartitionsHandler, createTopicsHandler, deleteTopicsHandler } from './admin-handlers.js';
import { fetchHandler, listOffsetsHandler } from './fetch-handlers.js';
import { metadataHandler } from './metadata-handler.js';
import { KafkaServer } from './kafka-server.js';
import { initProducerIdHandler, produceHandler } from './produce-handlers.js';

export interface KafkaListenerOptions {
  host: string;
  port: number;
  advertisedHost: string;
  /** The largest request frame accepted. */
  maxRequestBytes: number;
  onInternalError: (err: unknown, api: string) => void;
}

export async function startKafkaListener(
  broker: Broker,
  options: KafkaListenerOptions,
): Promise<KafkaServer> {
  const self = (): number => broker.config.nodeId;
  let server: KafkaServer | null = null;
  server = await KafkaServer.start({
    host: options.host,
    port: options.port,
    maxFrameBytes: options.maxRequestBytes,
    onInternalError: options.onInternalError,
    handlers: [
      // This broker's own port from the server: the broker's config carries it only once the
      // listener is bound and started; the others' from the metadata log.
      metadataHandler(broker, (id) =>
        id === self() && server !== null
          ? { host: options.advertisedHost, port: server.port }
          : broker.kafkaAddressOf(id),
      ),
      produceHandler(broker, options.onInternalError),
      initProducerIdHandler(broker),
      fetchHandler(broker),
      listOffsetsHandler(broker),
      createTopicsHandler(broker),
      deleteTopicsHandler(broker),
      createPartitionsHandler(broker),
    ],
  });
  return server;
}
