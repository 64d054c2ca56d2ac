// The standard gRPC health service (grpc.health.v1.Health), as a load balancer or an orchestrator
// probes it, through a client built from the service's own proto: the server and the weir service
// are SERVING while the broker runs, an unknown service is NOT_FOUND, and both turn NOT_SERVING
// once shutdown begins draining the server.

import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';
import { afterEach, describe, expect, it } from 'vitest';
import { startGrpcServer } from '../../broker/grpc-server.js';
import { removeDir, startTestBroker, type TestBroker } from './support.js';

type Check = (req: { service: string }) => Promise<{ status: string }>;

interface HealthClient extends grpc.Client {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
}

function healthClient(address: string): { check: Check; close: () => void } {
  const definition = protoLoader.loadSync(protoPath, { enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } };
  };
  const client = new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  return { check: promisify(client.check.bind(client)), close: () => client.close() };
}

let broker: TestBroker | null = null;
afterEach(async () => {
  if (broker !== null) {
    await broker.close();
    removeDir(broker.dataDir);
    broker = null;
  }
});

describe('the gRPC health service', () => {
  it('answers SERVING for the server and for weir.v1.Weir, and NOT_FOUND for another service', async () => {
    broker = await startTestBroker();
    const health = healthClient(broker.running.grpcAddress);
    try {
      expect(await health.check({ service: '' })).toEqual({ status: 'SERVING' });
      expect(await health.check({ service: 'weir.v1.Weir' })).toEqual({ status: 'SERVING' });
      await expect(health.check({ service: 'no.such.Service' })).rejects.toMatchObject({
        code: grpc.status.NOT_FOUND,
      });
    } finally {
      health.close();
    }
  });

  it('answers NOT_SERVING once shutdown begins draining the server', async () => {
    broker = await startTestBroker();
    // A second gRPC surface over the same broker, so the test holds its shutdown step.
    const surface = await startGrpcServer(
      broker.running.broker,
      { onInternalError: () => {} },
      '127.0.0.1',
      0,
    );
    const health = healthClient(`127.0.0.1:${surface.port}`);
    try {
      expect(await health.check({ service: 'weir.v1.Weir' })).toEqual({ status: 'SERVING' });
      surface.drainStreams();
      expect(await health.check({ service: '' })).toEqual({ status: 'NOT_SERVING' });
      expect(await health.check({ service: 'weir.v1.Weir' })).toEqual({ status: 'NOT_SERVING' });
    } finally {
      health.close();
      surface.server.forceShutdown();
    }
  });
});
