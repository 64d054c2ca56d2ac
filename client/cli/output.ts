// Buffered stdout for commands that print many lines: pieces are gathered and written with one
// write per flush, waiting for 'drain' when the pipe is full, so a slow reader slows the consumer
// instead of growing memory. A reader that goes away (EPIPE, as with `| head`) is not an error: `closed`
// turns true and the command stops quietly. Any other write error is kept in `error`.

export class Output {
  private readonly stream: NodeJS.WritableStream;
  private pieces: (Buffer | string)[] = [];
  private onClosed: (() => void) | null = null;
  closed = false;
  error: Error | null = null;

  constructor(stream: NodeJS.WritableStream = process.stdout) {
    this.stream = stream;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') this.error ??= err;
      this.closed = true;
      this.pieces = [];
      this.onClosed?.();
    });
  }

  /** Called once when the reader goes away or writing fails. */
  whenClosed(callback: () => void): void {
    this.onClosed = callback;
  }

  push(piece: Buffer | string): void {
    this.pieces.push(piece);
  }

  async flush(): Promise<void> {
    if (this.pieces.length === 0 || this.closed) return;
    const pieces = this.pieces;
    this.pieces = [];
    const data = pieces.every((p) => typeof p === 'string')
      ? (pieces as string[]).join('')
      : Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    if (this.stream.write(data)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.removeListener('drain', done);
        this.stream.removeListener('error', done);
        resolve();
      };
      this.stream.once('drain', done);
      this.stream.once('error', done);
    });
  }
}
