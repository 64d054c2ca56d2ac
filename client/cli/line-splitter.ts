// Splits a byte stream into lines without decoding it, so a record's value is exactly the bytes of
// its line (any encoding, any bytes but `\n`). A line ends at `\n`; a `\r` before it is dropped too
// (files written on Windows). A last line without `\n` still counts; an empty input has no lines.
//
// Every framer of produce input (this one, delimiter-splitter.ts, WholeInput) takes the largest
// frame the broker could accept, and fails with MESSAGE_TOO_LARGE as soon as a frame passes it,
// rather than holding a whole file in memory because its separator is not the one expected.

import { WeirError } from '../index.js';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

function withoutCarriageReturn(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.subarray(0, -1) : line;
}

/** Cuts input bytes into frames: push each chunk, then end. */
export interface Framer {
  push(chunk: Buffer, out: Buffer[]): void;
  end(out: Buffer[]): void;
}

/** Throws MESSAGE_TOO_LARGE when a frame of `bytes` (whole or so far) passes `limit`. */
export function checkFrameSize(bytes: number, limit: number, frame: string): void {
  if (bytes > limit)
    throw new WeirError(
      'MESSAGE_TOO_LARGE',
      `a ${frame} passed ${limit} bytes, more than the topic accepts in one record (max.message.bytes)`,
    );
}

export class LineSplitter implements Framer {
  /** The start of a line that continues in the next chunk, kept as pieces (no copy per chunk). */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private readonly maxFrameBytes: number;

  constructor(maxFrameBytes = Infinity) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Appends to `out` every line that `chunk` completes. Lines may be views into `chunk`. */
  push(chunk: Buffer, out: Buffer[]): void {
    let start = 0;
    let end = chunk.indexOf(NEWLINE);
    if (end < 0) {
      this.keep(chunk);
      return;
    }
    if (this.carry.length > 0) {
      this.keep(chunk.subarray(0, end));
      out.push(withoutCarriageReturn(Buffer.concat(this.carry)));
      this.carry = [];
      this.carryBytes = 0;
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    while (end >= 0) {
      const line = withoutCarriageReturn(chunk.subarray(start, end));
      checkFrameSize(line.length, this.maxFrameBytes, 'line');
      out.push(line);
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    this.keep(chunk.subarray(start));
  }

  /** Appends the last line if the input did not end with a newline. */
  end(out: Buffer[]): void {
    if (this.carry.length > 0) out.push(withoutCarriageReturn(Buffer.concat(this.carry)));
    this.carry = [];
    this.carryBytes = 0;
  }

  private keep(piece: Buffer): void {
    if (piece.length === 0) return;
    this.carryBytes += piece.length;
    // A \r at the end is dropped, so a line of limit + 1 bytes may still fit.
    checkFrameSize(this.carryBytes - 1, this.maxFrameBytes, 'line');
    this.carry.push(piece);
  }
}
