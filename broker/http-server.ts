// The HTTP side (fastify), in the broker's process: health and readiness for orchestrators.
// Routes are thin: they read the Broker and map WeirErrors through the error table.

import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { ERRORS, WeirError } from '../proto/errors.js';
import type { Broker } from './broker.js';
import type { Logger } from './logger.js';

export interface HttpSurfaceOptions {
  readonly broker: Broker;
  readonly logger: Logger;
  /** Whether the broker has finished starting (the gRPC side is bound). */
  readonly ready: () => boolean;
}

export async function startHttpServer(
  options: HttpSurfaceOptions,
  host: string,
  port: number,
): Promise<{ app: FastifyInstance; port: number }> {
  const { broker } = options;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ surface: 'http' }) as FastifyBaseLogger,
    disableRequestLogging: true,
  });
  app.setErrorHandler((err: FastifyError | WeirError, _req, reply) => {
    const weir = err instanceof WeirError ? err : null;
    const status =
      weir !== null ? ERRORS[weir.code].http : (('statusCode' in err ? err.statusCode : undefined) ?? 500);
    void reply.status(status).send({
      error: {
        code: weir?.code ?? (status < 500 ? 'INVALID_REQUEST' : 'UNKNOWN_SERVER_ERROR'),
        id: weir?.id ?? ERRORS.UNKNOWN_SERVER_ERROR.id,
        message: err.message,
      },
    });
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (broker.isClosing || !options.ready()) return reply.status(503).send({ status: 'not ready' });
    return { status: 'ready' };
  });
  await app.listen({ host, port });
  const address = app.server.address();
  return { app, port: typeof address === 'object' && address !== null ? address.port : port };
}
