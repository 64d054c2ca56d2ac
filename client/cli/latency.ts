// Latency samples for `weir bench`: a preallocated array of durations (ms) and nearest-rank
// percentiles over it. Samples are taken with process.hrtime.bigint() by the caller.

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export class LatencySamples {
  private readonly values: Float64Array;
  private count = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(Math.max(1, capacity));
  }

  /** Records the time since `startNs` (from process.hrtime.bigint()). */
  since(startNs: bigint): void {
    if (this.count < this.values.length) {
      this.values[this.count++] = Number(process.hrtime.bigint() - startNs) / 1e6;
    }
  }

  summary(): LatencySummary {
    const sorted = this.values.subarray(0, this.count).sort();
    const at = (q: number): number =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    return { samples: this.count, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) };
  }
}

/** `12.34` for ms values a person reads. */
export function ms(value: number): string {
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}
