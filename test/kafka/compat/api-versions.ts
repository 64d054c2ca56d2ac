// Which Kafka APIs a listener serves, asked as a client asks (ApiVersions v0), so a test of a
// feature the listener does not serve yet (consumer groups) skips saying so, and runs once it does.

import { connect } from 'node:net';
import { FrameReader } from '../../../broker/kafka/frames.js';
import { ApiVersionsApi } from '../../../proto/kafka/generated/index.js';
import { Reader, Writer } from '../../../proto/kafka/wire.js';

/** The API keys `address` lists in its ApiVersions answer. */
export function apiKeysServed(address: string): Promise<Set<number>> {
  const at = address.lastIndexOf(':');
  const w = new Writer();
  w.int32(0);
  w.int16(ApiVersionsApi.apiKey);
  w.int16(0);
  w.int32(1);
  w.string('weir-compat', false);
  const frame = w.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(address.slice(at + 1)), address.slice(0, at), () => socket.write(frame));
    const reader = new FrameReader(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      const [answer] = reader.push(chunk);
      if (answer === undefined) return;
      socket.destroy();
      const r = new Reader(answer, 4);
      resolve(new Set(ApiVersionsApi.readResponse(r, 0).apiKeys.map((k) => k.apiKey)));
    });
    socket.on('error', reject);
  });
}

/** JoinGroup's key: a listener that lists it serves classic consumer groups. */
export const JOIN_GROUP_KEY = 11;
