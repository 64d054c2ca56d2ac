// Connections that never finish the handshake are closed by the broker after handshakeTimeoutMs,
// on the gRPC port (no HTTP/2 client preface) and on the HTTP port (no request headers), while
// connections that did finish keep working.

import { once } from 'node:events';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, removeDir, type TestBroker } from './support.js';

const HANDSHAKE_TIMEOUT_MS = 300;
/** The first half of the 24-byte HTTP/2 client connection preface. */
const HALF_PREFACE = 'PRI * HTTP/2.0\r\n';

const sockets: Socket[] = [];
const sessions: ClientHttp2Session[] = [];
let broker: TestBroker | null = null;

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of sessions.splice(0)) s.destroy();
  if (broker !== null) {
    await broker.close();
    removeDir(broker.dataDir);
    broker = null;
  }
});

function split(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** A raw TCP connection that sends `bytes` (maybe nothing) once connected, then stays silent. */
async function rawSocket(address: string, bytes: string): Promise<Socket> {
  const { host, port } = split(address);
  const socket = connect(port, host);
  sockets.push(socket);
  socket.on('error', () => {
    // A reset from the broker closing it is what some of these tests wait for.
  });
  await once(socket, 'connect');
  if (bytes.length > 0) socket.write(bytes);
  // Whatever the broker answers is read and dropped, so its end of stream is seen and 'close' comes.
  socket.resume();
  return socket;
}

/** Resolves when the peer has closed `socket`; rejects after `ms`. */
function closedByPeer(socket: Socket, ms = 10_000): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('the handshake timeout', () => {
  it('closes gRPC connections that never complete the HTTP/2 handshake, and only those', async () => {
    broker = await startTestBroker({ handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS });
    await broker.call('CreateTopic', { name: 'kept', partitions: 1 });
    const address = broker.running.grpcAddress;

    // A connection that completed the handshake at the same time as the stalled ones.
    const handshaken = h2connect(`http://${address}`);
    sessions.push(handshaken);
    await once(handshaken, 'remoteSettings');
    let handshakenClosed = false;
    handshaken.on('close', () => (handshakenClosed = true));
    handshaken.on('error', () => {});

    const silent = await Promise.all(Array.from({ length: 20 }, () => rawSocket(address, '')));
    const half = await Promise.all(Array.from({ length: 20 }, () => rawSocket(address, HALF_PREFACE)));
    await Promise.all([...silent, ...half].map((s) => closedByPeer(s)));

    expect(handshakenClosed).toBe(false);
    expect(handshaken.destroyed).toBe(false);
    const listed = await broker.call<unknown, { topics: { name: string }[] }>('ListTopics', {});
    expect(listed.topics.map((t) => t.name)).toContain('kept');
  });

  it('closes HTTP connections that never send their request headers', async () => {
    broker = await startTestBroker({ handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS });
    const address = broker.running.httpAddress;
    const silent = await rawSocket(address, '');
    const half = await rawSocket(address, 'GET /healthz HTTP/1.1\r\nHo');
    await Promise.all([closedByPeer(silent), closedByPeer(half)]);
    const health = await fetch(`http://${address}/healthz`);
    expect(health.status).toBe(200);
  });

  it("accepts the largest timeout its bounds allow (above Node's default request timeout)", async () => {
    broker = await startTestBroker({ handshakeTimeoutMs: 600_000 });
    const health = await fetch(`http://${broker.running.httpAddress}/healthz`);
    expect(health.status).toBe(200);
  });
});
