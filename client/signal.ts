// A level-free "something changed" signal: wait() resolves at the next notify(). The consumer's
// iterators wait on it for records, and its fetch loop for new work (assign, seek, resume, close).

export class ChangeSignal {
  private promise!: Promise<void>;
  private resolve!: () => void;

  constructor() {
    this.arm();
  }

  wait(): Promise<void> {
    return this.promise;
  }

  notify(): void {
    const resolve = this.resolve;
    this.arm();
    resolve();
  }

  private arm(): void {
    this.promise = new Promise<void>((resolve) => (this.resolve = resolve));
  }
}
