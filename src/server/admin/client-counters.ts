/**
 * What the server counts of its clients beyond ServerStats, as ZooKeeper's ServerStats does: the
 * sizes of what it sends them (replies and watch events, without the 4-byte length prefix; not
 * the handshake's answer; -1 until the first).
 */
export class ClientCounters {
  lastResponseBytes = -1;
  minResponseBytes = -1;
  maxResponseBytes = -1;

  recordResponse(bytes: number): void {
    this.lastResponseBytes = bytes;
    this.minResponseBytes = this.minResponseBytes === -1 ? bytes : Math.min(this.minResponseBytes, bytes);
    this.maxResponseBytes = Math.max(this.maxResponseBytes, bytes);
  }

  resetResponses(): void {
    this.lastResponseBytes = -1;
    this.minResponseBytes = -1;
    this.maxResponseBytes = -1;
  }
}
