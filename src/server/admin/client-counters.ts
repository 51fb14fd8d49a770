/**
 * Sizes of what the server sends its clients (replies and watch events, without the 4-byte length
 * prefix; not the handshake's answer), as ZooKeeper's client response BufferStats: -1 until the
 * first one.
 */
export class ResponseSizes {
  last = -1;
  min = -1;
  max = -1;

  record(bytes: number): void {
    this.last = bytes;
    this.min = this.min === -1 ? bytes : Math.min(this.min, bytes);
    this.max = Math.max(this.max, bytes);
  }

  reset(): void {
    this.last = -1;
    this.min = -1;
    this.max = -1;
  }
}
