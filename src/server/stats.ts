/** A request answered: its op code, how long it took (monotonic ms, fractional), and whether it was a write. */
export type RequestObserver = (type: number, ms: number, write: boolean) => void;

/** Server-wide counters reported by the four-letter words, and the hook the metrics observe requests by. */
export class ServerStats {
  packetsReceived = 0;
  packetsSent = 0;
  minLatencyMs = Infinity;
  maxLatencyMs = 0;
  totalLatencyMs = 0;
  latencyCount = 0;
  /** Sessions ended because their timeout passed (where sessions are expired: standalone, or the leader); a counter, which srst leaves. */
  sessionsExpired = 0;

  recordLatency(ms: number): void {
    if (ms < this.minLatencyMs) this.minLatencyMs = ms;
    if (ms > this.maxLatencyMs) this.maxLatencyMs = ms;
    this.totalLatencyMs += ms;
    this.latencyCount++;
  }

  /** Set while metrics are exported; the four-letter words' counters do not depend on it. */
  requestObserver: RequestObserver | undefined = undefined;

  /** Every request answered, reads and writes (recordLatency above counts reads only). */
  recordRequest(type: number, ms: number, write: boolean): void {
    this.requestObserver?.(type, ms, write);
  }

  get avgLatencyMs(): number {
    return this.latencyCount === 0 ? 0 : this.totalLatencyMs / this.latencyCount;
  }

  reset(): void {
    this.packetsReceived = 0;
    this.packetsSent = 0;
    this.minLatencyMs = Infinity;
    this.maxLatencyMs = 0;
    this.totalLatencyMs = 0;
    this.latencyCount = 0;
  }
}
