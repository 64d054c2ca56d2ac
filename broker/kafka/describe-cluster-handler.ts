// DescribeCluster on the Kafka listener: the cluster id, the controller and the brokers with their
// Kafka listeners, the same view Metadata gives (metadata-handler.ts). This listener is a broker
// endpoint: a request for controller endpoints (version 1, endpoint type 2) is
// MISMATCHED_ENDPOINT_TYPE, as Kafka's brokers answer it. weir has no ACLs, so it reports no
// authorized operations (Kafka's "not asked" value) even when asked.

import { WeirError } from '../../proto/errors.js';
import { DescribeClusterApi } from '../../proto/kafka/generated/index.js';
import type { Broker } from '../broker.js';
import { kafkaHandler, type KafkaHandler } from './kafka-server.js';
import { kafkaBrokers, type KafkaAddressOf } from './metadata-handler.js';

const ENDPOINT_BROKER = 1;

export function describeClusterHandler(broker: Broker, kafkaAddressOf: KafkaAddressOf): KafkaHandler {
  return kafkaHandler({
    api: DescribeClusterApi,
    handle: (request) => {
      const answer = { ...DescribeClusterApi.defaultResponse(), endpointType: ENDPOINT_BROKER };
      if (request.endpointType !== ENDPOINT_BROKER) {
        const err = new WeirError(
          'MISMATCHED_ENDPOINT_TYPE',
          `this is a broker endpoint; endpoint type ${request.endpointType} was asked for`,
        );
        return { ...answer, errorCode: err.id, errorMessage: err.message };
      }
      const cluster = broker.cluster();
      const brokers = kafkaBrokers(cluster.brokers, kafkaAddressOf).map(({ nodeId, ...b }) => ({
        brokerId: nodeId,
        ...b,
      }));
      return { ...answer, clusterId: cluster.clusterId, controllerId: cluster.controllerId, brokers };
    },
  });
}
