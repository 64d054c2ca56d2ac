// One Kafka request over a fresh TCP connection, with the generated codecs: for tests of APIs or
// versions a Kafka client library does not send (IncrementalAlterConfigs, OffsetForLeaderEpoch,
// DescribeConfigs v4).

import { connect } from 'node:net';
import { FrameReader } from '../../broker/kafka/frames.js';
import { Reader, Writer } from '../../proto/kafka/wire.js';

export interface RequestCodec<Req, Res> {
  readonly apiKey: number;
  readonly flexibleFrom: number;
  writeRequest(w: Writer, v: number, m: Req): void;
  readResponse(r: Reader, v: number): Res;
}

/** Sends `request` at `version` and reads its answer (header v1 for flexible versions), within 10 s. */
export async function kafkaRequest<Req, Res>(
  port: number,
  codec: RequestCodec<Req, Res>,
  version: number,
  request: Req,
): Promise<Res> {
  const flexible = version >= codec.flexibleFrom;
  const w = new Writer();
  w.int32(0);
  w.int16(codec.apiKey);
  w.int16(version);
  w.int32(1);
  w.string('weir-test', false);
  if (flexible) w.uvarint(0);
  codec.writeRequest(w, version, request);
  const frame = w.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);

  const answer = await new Promise<Buffer>((resolve, reject) => {
    const reader = new FrameReader(64 * 1024 * 1024);
    const socket = connect(port, '127.0.0.1', () => socket.write(frame));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to API ${codec.apiKey} v${version} within 10 s`));
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      const frames = reader.push(chunk);
      if (frames.length === 0) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(frames[0]!);
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`connection closed without an answer to API ${codec.apiKey} v${version}`));
    });
  });
  if (answer.readInt32BE(0) !== 1) throw new Error('answer to another correlation id');
  const r = new Reader(answer, 4);
  if (flexible) r.taggedFields(() => {});
  const out = codec.readResponse(r, version);
  if (r.remaining !== 0) throw new Error(`${r.remaining} bytes left after the answer`);
  return out;
}
