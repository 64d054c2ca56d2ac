// The produce transport's streams follow where a node id goes. A producer that meets a node id it
// has no address for (a leader fenced while it restarted, so missing from the last Metadata)
// sends to any broker, which answers NOT_LEADER_OR_FOLLOWER; once a Metadata answer names the
// node again, the next request must go to it and not down the stream opened to the stand-in.

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { ProduceStreamCall } from '../../client/connection.js';
import { StreamProduceTransport, type ProduceStreams } from '../../client/produce-transport.js';
import type { ProduceRequest } from '../../proto/generated/weir/v1/ProduceRequest.js';

/** A produce stream in memory: it records what was written and answers when the test says. */
class FakeStream extends EventEmitter {
  readonly written: ProduceRequest[] = [];
  ended = false;
  constructor(readonly address: string) {
    super();
  }
  write(request: ProduceRequest, cb: (err?: unknown) => void): boolean {
    this.written.push({ ...request });
    cb();
    return true;
  }
  /** Answers the request with this correlation id. */
  answer(correlationId: number): void {
    this.emit('data', { correlationId, results: [] });
  }
  end(): void {
    this.ended = true;
    queueMicrotask(() => this.emit('close'));
  }
  cancel(): void {}
}

/** Node ids' addresses as the last Metadata gave them; an unknown one goes to `anyAddress`. */
class FakeStreams implements ProduceStreams {
  readonly nodes = new Map<number, string>();
  readonly opened: FakeStream[] = [];
  constructor(private readonly anyAddress: string) {}
  addressFor(broker?: number): string {
    return (broker === undefined ? undefined : this.nodes.get(broker)) ?? this.anyAddress;
  }
  openProduceStream(broker?: number): ProduceStreamCall {
    const stream = new FakeStream(this.addressFor(broker));
    this.opened.push(stream);
    return { address: stream.address, call: stream as unknown as ProduceStreamCall['call'] };
  }
}

const request = (): ProduceRequest => ({ acks: 'ACKS_ALL', partitions: [] });

describe('the produce transport', () => {
  it('sends a node id to the address Metadata now gives it, not down a stream opened to a stand-in', async () => {
    const streams = new FakeStreams('any:2');
    const transport = new StreamProduceTransport(streams, 10_000);
    // Node 1 is not known: its request goes to any broker.
    const first = transport.send(request(), true, 1);
    expect(streams.opened.map((s) => s.address)).toEqual(['any:2']);
    const standIn = streams.opened[0]!;

    // Metadata names node 1 again while the first request is still unanswered.
    streams.nodes.set(1, 'node:1');
    const second = transport.send(request(), true, 1);
    expect(streams.opened.map((s) => s.address)).toEqual(['any:2', 'node:1']);
    expect(standIn.written).toHaveLength(1);
    expect(streams.opened[1]!.written).toHaveLength(1);

    // The stand-in's stream still delivers its answer, and only then ends.
    expect(standIn.ended).toBe(false);
    standIn.answer(Number(standIn.written[0]!.correlationId));
    await expect(first).resolves.toMatchObject({ results: [] });
    expect(standIn.ended).toBe(true);

    const target = streams.opened[1]!;
    target.answer(Number(target.written[0]!.correlationId));
    await expect(second).resolves.toMatchObject({ results: [] });
    // A node whose address did not change keeps its stream.
    void transport.send(request(), true, 1).catch(() => {});
    expect(streams.opened).toHaveLength(2);
    expect(target.written).toHaveLength(2);
    await transport.close(0);
  });
});
