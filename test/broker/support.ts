// Starting a real broker on port 0 in a temp dir, and a raw gRPC stub to talk to it.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { WeirClient } from '../../proto/generated/weir/v1/Weir.js';
import { fromServiceError, weirProto } from '../../proto/grpc.js';
import { startBroker, type RunningBroker, type StartBrokerOptions } from '../../broker/main.js';

export interface TestBroker {
  readonly running: RunningBroker;
  readonly client: WeirClient;
  readonly dataDir: string;
  /** Calls a unary method, mapping a failure to its WeirError. */
  call<Req, Res>(method: string, request: Req): Promise<Res>;
  close(): Promise<void>;
}

export function tempDir(prefix = 'weir-broker-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestBroker(
  options: Partial<StartBrokerOptions> = {},
  dataDir = tempDir(),
): Promise<TestBroker> {
  const running = await startBroker({ dataDir, logLevel: 'silent', ...options });
  const Weir = weirProto().weir.v1.Weir;
  const client = new Weir(running.grpcAddress, grpc.credentials.createInsecure()) as WeirClient;
  return {
    running,
    client,
    dataDir,
    async call<Req, Res>(method: string, request: Req): Promise<Res> {
      const fn = (
        client as unknown as Record<
          string,
          (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => void
        >
      )[method];
      if (fn === undefined) throw new Error(`no method ${method}`);
      try {
        return await promisify(fn.bind(client))(request);
      } catch (err) {
        throw fromServiceError(err as grpc.ServiceError);
      }
    },
    async close() {
      client.close();
      await running.close();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A port the OS just handed out (bound on loopback, then released), for an address that must be
 * written down before the process that binds it starts (a cluster's peer list).
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
