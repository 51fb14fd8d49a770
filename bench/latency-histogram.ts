/**
 * Request latencies in microseconds, counted in buckets 1% wide (log scale), so that a load
 * process can record millions of them for free and the driver can merge those of every process
 * before reading percentiles. A percentile read from it is within 1% of the exact one.
 */

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Bucket 0 holds everything below 1 µs; the last one everything from about 10^9 µs (17 min) up. */
const BUCKETS = 2 + Math.ceil(Math.log(1e9) / LOG_GROWTH);

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  maxUs = 0;

  record(us: number): void {
    const i = us < 1 ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(us) / LOG_GROWTH));
    this.counts[i]++;
    this.count++;
    if (us > this.maxUs) this.maxUs = us;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    if (other.maxUs > this.maxUs) this.maxUs = other.maxUs;
  }

  /**
   * The nearest-rank percentile (p in 0..1): the geometric middle of the bucket holding it (the
   * largest value seen, if that is smaller). NaN when empty.
   */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(p * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i === 0 ? Math.min(0.5, this.maxUs) : Math.min(GROWTH ** (i - 0.5), this.maxUs);
    }
    return this.maxUs;
  }

  /** A compact form for IPC: the non-empty buckets as [index, count] pairs. */
  toJSON(): { buckets: [number, number][]; maxUs: number } {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { buckets, maxUs: this.maxUs };
  }

  static fromJSON(json: { buckets: [number, number][]; maxUs: number }): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const [i, n] of json.buckets) {
      h.counts[i] += n;
      h.count += n;
    }
    h.maxUs = json.maxUs;
    return h;
  }
}
