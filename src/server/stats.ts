/** Server-wide counters reported by the four-letter words. */
export class ServerStats {
  packetsReceived = 0;
  packetsSent = 0;
  minLatencyMs = Infinity;
  maxLatencyMs = 0;
  totalLatencyMs = 0;
  latencyCount = 0;

  recordLatency(ms: number): void {
    if (ms < this.minLatencyMs) this.minLatencyMs = ms;
    if (ms > this.maxLatencyMs) this.maxLatencyMs = ms;
    this.totalLatencyMs += ms;
    this.latencyCount++;
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
