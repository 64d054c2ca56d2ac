// gRPC server reflection, as grpcurl and other generic tools use it: through clients built from
// the reflection protos (v1 and v1alpha) that @grpc/reflection ships, the broker lists weir.v1.Weir
// and grpc.health.v1.Health and answers weir.proto's descriptor for a symbol in it.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startTestBroker, type TestBroker } from '../broker/support.js';

const REFLECTION_ROOT = join(
  dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json')),
  'build/proto',
);

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

type ReflectionClient = grpc.Client & {
  ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse>;
};

function reflectionClient(version: 'v1' | 'v1alpha', address: string): ReflectionClient {
  const definition = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
    includeDirs: [REFLECTION_ROOT],
    keepCase: false,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: {
      reflection: Record<
        string,
        { ServerReflection: new (a: string, c: grpc.ChannelCredentials) => ReflectionClient }
      >;
    };
  };
  const Service = pkg.grpc.reflection[version]!.ServerReflection;
  return new Service(address, grpc.credentials.createInsecure());
}

/** Sends one reflection request on a fresh stream and returns the one answer. */
function ask(client: ReflectionClient, request: object): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.on('data', (res: ReflectionResponse) => {
      resolve(res);
      call.end();
    });
    call.on('error', reject);
    call.write(request);
  });
}

let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker();
});
afterAll(async () => {
  await b.close();
  removeDir(b.dataDir);
});

describe('gRPC server reflection', () => {
  it.each(['v1', 'v1alpha'] as const)('lists the weir and health services (%s)', async (version) => {
    const client = reflectionClient(version, b.running.grpcAddress);
    try {
      const res = await ask(client, { listServices: '' });
      const names = res.listServicesResponse?.service.map((s) => s.name) ?? [];
      expect(names).toEqual(expect.arrayContaining(['weir.v1.Weir', 'grpc.health.v1.Health']));
    } finally {
      client.close();
    }
  });

  it('answers the descriptor of weir.proto for a symbol in it', async () => {
    const client = reflectionClient('v1', b.running.grpcAddress);
    try {
      const res = await ask(client, { fileContainingSymbol: 'weir.v1.Weir' });
      const files = res.fileDescriptorResponse?.fileDescriptorProto ?? [];
      expect(files.length).toBeGreaterThan(0);
      const text = Buffer.concat(files).toString('latin1');
      for (const part of ['weir.v1', 'Produce', 'FetchRequest', 'producer_id', 'weir/gen/go/weir/v1;weirv1'])
        expect(text).toContain(part);
    } finally {
      client.close();
    }
  });
});
