// Closing gRPC connections that never complete the HTTP/2 handshake.
//
// A TCP connection that sends nothing, or half the client preface, holds a socket, a session and
// nghttp2 state forever: grpc-js only times out sessions that have finished the handshake (keepalive,
// max idle, max age), and Node's HTTP/2 server has no handshake timeout of its own. A session whose
// peer has not sent its SETTINGS frame (the end of the client preface) by the deadline is destroyed.
//
// grpc-js 1.14 offers no option or hook for this and does not expose its HTTP/2 servers, so this
// reaches into its internals, as the flow-control window does; where they are not as expected the
// caller is told and can say so.

import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/** The HTTP/2 servers grpc-js bound for `server`, or null where its internals are not as expected. */
export function http2ServersOf(server: grpc.Server): Http2Server[] | null {
  const internals = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(internals instanceof Map)) return null;
  const servers = [...(internals.keys() as IterableIterator<Http2Server>)];
  return servers.every((h2) => typeof h2.on === 'function') ? servers : null;
}

/** Destroys every new session of `server` that has not completed the handshake in `timeoutMs`. */
export function closeStalledHandshakes(server: grpc.Server, timeoutMs: number): boolean {
  const servers = http2ServersOf(server);
  if (servers === null || servers.length === 0) return false;
  const guard = (session: ServerHttp2Session): void => guardHandshake(session, timeoutMs);
  for (const h2 of servers) h2.on('session', guard);
  return true;
}

function guardHandshake(session: ServerHttp2Session, timeoutMs: number): void {
  const timer = setTimeout(destroyStalled, timeoutMs, session);
  // A deadline for someone else's connection must not keep the broker process alive.
  timer.unref();
  const done = (): void => clearTimeout(timer);
  session.once('remoteSettings', done);
  session.once('close', done);
}

function destroyStalled(session: ServerHttp2Session): void {
  if (!session.destroyed) session.destroy();
}
