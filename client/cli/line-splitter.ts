// Splits a byte stream into lines without decoding it, so a record's value is exactly the bytes of
// its line (any encoding, any bytes but `\n`). A line ends at `\n`; a `\r` before it is dropped too
// (files written on Windows). A last line without `\n` still counts; an empty input has no lines.

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

function withoutCarriageReturn(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.subarray(0, -1) : line;
}

export class LineSplitter {
  /** The start of a line that continues in the next chunk, kept as pieces (no copy per chunk). */
  private carry: Buffer[] = [];

  /** Appends to `out` every line that `chunk` completes. Lines may be views into `chunk`. */
  push(chunk: Buffer, out: Buffer[]): void {
    let start = 0;
    let end = chunk.indexOf(NEWLINE);
    if (end < 0) {
      if (chunk.length > 0) this.carry.push(chunk);
      return;
    }
    if (this.carry.length > 0) {
      this.carry.push(chunk.subarray(0, end));
      out.push(withoutCarriageReturn(Buffer.concat(this.carry)));
      this.carry = [];
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    while (end >= 0) {
      out.push(withoutCarriageReturn(chunk.subarray(start, end)));
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.carry.push(chunk.subarray(start));
  }

  /** Appends the last line if the input did not end with a newline. */
  end(out: Buffer[]): void {
    if (this.carry.length > 0) out.push(withoutCarriageReturn(Buffer.concat(this.carry)));
    this.carry = [];
  }
}
