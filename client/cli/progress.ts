// A one-line progress display on stderr for `weir produce --file`: bytes read of the file's size,
// records sent and the rate, redrawn at most ten times a second. Hand-rolled (a carriage return and
// an erase-line escape) rather than a dependency: one line is all it needs. Only used when stderr
// is a terminal, so logs and pipes never see the escapes.

import { formatBytes, grouped } from './units.js';

const REDRAW_MS = 100;
const WIDTH = 24;

export class ProgressLine {
  private readonly total: number;
  private readonly stream: NodeJS.WriteStream;
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;
  private bytes = 0;
  private records = 0;

  constructor(totalBytes: number, stream: NodeJS.WriteStream = process.stderr) {
    this.total = totalBytes;
    this.stream = stream;
    this.timer = setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
  }

  update(bytes: number, records: number): void {
    this.bytes = bytes;
    this.records = records;
  }

  /** Erases the line, leaving the terminal as it was. */
  stop(): void {
    clearInterval(this.timer);
    this.stream.write('\r\x1b[K');
  }

  private draw(): void {
    const fraction = this.total > 0 ? Math.min(1, this.bytes / this.total) : 1;
    const filled = Math.round(fraction * WIDTH);
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000);
    this.stream.write(
      `\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${(fraction * 100).toFixed(0)}% ` +
        `${formatBytes(this.bytes)} / ${formatBytes(this.total)}  ${grouped(this.records)} records ` +
        `(${grouped(this.records / seconds)}/s)`,
    );
  }
}
