// The Kafka listener of a running broker: the server with every API handler wired to the broker.
// On a cluster every broker may have one: each registers its listener's port in the metadata log
// with its registration, so Metadata on any broker names every live broker with a listener, at its
// advertised host and Kafka port, and a Kafka client bootstrapped at one broker finds the rest.

import type { Broker } from '../broker.js';
import { createPartitionsHandler, createTopicsHandler, deleteTopicsHandler } from './admin-handlers.js';
import {
  alterConfigsHandler,
  describeConfigsHandler,
  incrementalAlterConfigsHandler,
} from './config-handlers.js';
import { describeClusterHandler } from './describe-cluster-handler.js';
import { fetchHandler, listOffsetsHandler } from './fetch-handlers.js';
import {
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  syncGroupHandler,
} from './classic-group-handlers.js';
import { consumerGroupDescribeHandler, consumerGroupHeartbeatHandler } from './consumer-group-handlers.js';
import { deleteGroupsHandler, describeGroupsHandler, listGroupsHandler } from './group-admin-handlers.js';
import { findCoordinatorHandler, offsetCommitHandler, offsetFetchHandler } from './group-handlers.js';
import { metadataHandler, type KafkaAddressOf } from './metadata-handler.js';
import { KafkaServer } from './kafka-server.js';
import { offsetForLeaderEpochHandler } from './leader-epochs.js';
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
  // Where Kafka clients reach a broker: Metadata's brokers and FindCoordinator's answers. This
  // broker's own port from the server (the broker's config carries it only once the listener is
  // bound and started); the others' from their registrations in the metadata log.
  const kafkaAddressOf: KafkaAddressOf = (id) => {
    if (id !== self()) return broker.kafkaAddressOf(id);
    return server === null ? undefined : { host: options.advertisedHost, port: server.port };
  };
  server = await KafkaServer.start({
    host: options.host,
    port: options.port,
    maxFrameBytes: options.maxRequestBytes,
    onInternalError: options.onInternalError,
    handlers: [
      metadataHandler(broker, kafkaAddressOf),
      produceHandler(broker, options.onInternalError),
      initProducerIdHandler(broker),
      fetchHandler(broker),
      listOffsetsHandler(broker),
      createTopicsHandler(broker),
      deleteTopicsHandler(broker),
      createPartitionsHandler(broker),
      describeConfigsHandler(broker),
      alterConfigsHandler(broker),
      incrementalAlterConfigsHandler(broker),
      // The same brokers at the same addresses as Metadata's.
      describeClusterHandler(broker, kafkaAddressOf),
      offsetForLeaderEpochHandler(broker),
      findCoordinatorHandler(broker, kafkaAddressOf),
      offsetCommitHandler(broker),
      offsetFetchHandler(broker),
      joinGroupHandler(broker),
      syncGroupHandler(broker),
      heartbeatHandler(broker),
      leaveGroupHandler(broker),
      listGroupsHandler(broker),
      describeGroupsHandler(broker),
      deleteGroupsHandler(broker),
      consumerGroupHeartbeatHandler(broker),
      consumerGroupDescribeHandler(broker),
    ],
  });
  return server;
}
