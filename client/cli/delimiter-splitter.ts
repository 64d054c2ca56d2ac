// Splits produce input into records at a delimiter of one or more bytes (`weir produce
// --delimiter`), kept exactly: no \r is dropped, and a last record without a delimiter after it
// still counts. A delimiter may straddle two chunks. As the line splitter, it fails with
// MESSAGE_TOO_LARGE as soon as a record passes the largest the topic accepts, so a wrong
// --delimiter on a large file fails at once instead of buffering the file whole.

import { checkFrameSize, type Framer } from './line-splitter.js';

export class DelimiterSplitter implements Framer {
  private readonly delimiter: Buffer;
  private readonly maxFrameBytes: number;
  /** The start of a frame that continues in the next chunk. */
  private carry: Buffer[] = [];
  private carryBytes = 0;

  constructor(delimiter: Buffer, maxFrameBytes = Infinity) {
    this.delimiter = delimiter;
    this.maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer, out: Buffer[]): void {
    const d = this.delimiter.length;
    let start = 0;
    if (this.carryBytes > 0) {
      // A delimiter may straddle the seam: look in the carry's last d-1 bytes and the chunk's first
      // d-1, where any match starts inside the carry.
      const tail = Math.min(this.carryBytes, d - 1);
      const seam = Buffer.concat([this.lastCarried(tail), chunk.subarray(0, d - 1)]);
      const at = tail > 0 ? seam.indexOf(this.delimiter) : -1;
      if (at >= 0) {
        this.emit(Buffer.concat(this.carry).subarray(0, this.carryBytes - tail + at), out);
        start = at + d - tail;
      } else {
        const end = chunk.indexOf(this.delimiter);
        if (end < 0) return this.keep(chunk);
        this.emit(Buffer.concat([...this.carry, chunk.subarray(0, end)]), out);
        start = end + d;
      }
      this.reset();
    }
    let end = chunk.indexOf(this.delimiter, start);
    while (end >= 0) {
      this.emit(chunk.subarray(start, end), out);
      start = end + this.delimiter.length;
      end = chunk.indexOf(this.delimiter, start);
    }
    if (start < chunk.length) this.keep(chunk.subarray(start));
  }

  /** A last frame without a delimiter after it still counts. */
  end(out: Buffer[]): void {
    if (this.carryBytes > 0) out.push(Buffer.concat(this.carry));
    this.reset();
  }

  private emit(frame: Buffer, out: Buffer[]): void {
    checkFrameSize(frame.length, this.maxFrameBytes, 'record');
    out.push(frame);
  }

  /** The last `n` bytes carried (n at most the delimiter's length). */
  private lastCarried(n: number): Buffer {
    const pieces: Buffer[] = [];
    let have = 0;
    for (let i = this.carry.length - 1; i >= 0 && have < n; i--) {
      pieces.unshift(this.carry[i] as Buffer);
      have += (this.carry[i] as Buffer).length;
    }
    const joined = Buffer.concat(pieces);
    return joined.subarray(joined.length - n);
  }

  private keep(piece: Buffer): void {
    if (piece.length === 0) return;
    this.carry.push(piece);
    this.carryBytes += piece.length;
    // The carry may end with the first d-1 bytes of a delimiter that is not part of the record.
    checkFrameSize(this.carryBytes - (this.delimiter.length - 1), this.maxFrameBytes, 'record');
  }

  private reset(): void {
    this.carry = [];
    this.carryBytes = 0;
  }
}
