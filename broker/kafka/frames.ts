// Kafka's framing on a TCP connection: each request is an int32 size then that many bytes. Bytes
// arrive in arbitrary pieces; FrameReader joins them into whole frames. A size above the broker's
// limit (or negative) is refused as soon as the 4 size bytes are in, before anything of the frame
// is buffered, so one client cannot make the broker hold more than a frame's worth of its bytes.

import { WeirError } from '../../proto/errors.js';

export class FrameReader {
  private readonly parts: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held that do not make a whole frame yet. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Takes a piece of the stream; returns the frames it completed (their bodies, without the size),
   * in order. Throws WeirError INVALID_REQUEST for a size out of bounds (the connection is closed).
   */
  push(chunk: Buffer): Buffer[] {
    this.parts.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const size = this.peekSize();
      if (size < 0 || size > this.maxFrameBytes)
        throw new WeirError(
          'INVALID_REQUEST',
          `frame of ${size} bytes (the limit is ${this.maxFrameBytes}, socket.request.max.bytes)`,
        );
      if (this.buffered < 4 + size) break;
      frames.push(this.take(4 + size).subarray(4));
    }
    return frames;
  }

  private peekSize(): number {
    const first = this.parts[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    // The size is split across pieces: join just enough of them.
    const joined = Buffer.concat(this.parts, Math.min(this.buffered, 4));
    return joined.readInt32BE(0);
  }

  /** Removes and returns the first n buffered bytes (a view when they lie in one piece). */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.parts[0]!;
    if (first.length >= n) {
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const part = this.parts[0]!;
      const k = Math.min(part.length, n - at);
      part.copy(out, at, 0, k);
      at += k;
      if (k === part.length) this.parts.shift();
      else this.parts[0] = part.subarray(k);
    }
    return out;
  }
}
