/**
 * Large writes wait before prep while the commit stage already holds a large write's bytes. The log
 * is written in zxid order, so a small write that gets its zxid behind a queue of 1 MB writes waits
 * for every one of them to be fsynced; held here, the large writes take their zxids one budget at a
 * time, and a small write from another session arriving meanwhile is prepped at once, ahead of them:
 * it waits for at most the large writes already in the commit stage. A session's writes keep their
 * order: once one of its writes waits, its later writes (small ones too) wait behind it.
 */

/** A write held as it came off the wire (its body copied: the socket's buffer is not ours to keep). */
export interface HeldWrite {
  sessionId: bigint;
  cxid: number;
  type: number;
  body: Buffer;
}

export interface WriteGateOptions {
  /** A write whose body has at least this many bytes is large. */
  largeBytes: number;
  /** Bytes of large writes allowed in the commit stage together (one is always allowed). */
  budgetBytes: number;
}

export const DEFAULT_WRITE_GATE: WriteGateOptions = { largeBytes: 64 * 1024, budgetBytes: 1024 * 1024 };

export class WriteGate<W extends HeldWrite = HeldWrite> {
  private inFlightBytes = 0;
  /** Large writes in the commit stage: zxid -> bytes. */
  private readonly inFlight = new Map<number, number>();
  private readonly waiting: W[] = [];
  private readonly waitingPerSession = new Map<bigint, number>();

  constructor(private readonly options: WriteGateOptions = DEFAULT_WRITE_GATE) {}

  /** Writes held now. */
  get held(): number {
    return this.waiting.length;
  }

  /** Whether a write of `bytes` from `sessionId` may be prepped now (else: hold it). */
  admits(sessionId: bigint, bytes: number): boolean {
    return !this.waitingPerSession.has(sessionId) && this.fits(bytes);
  }

  hold(write: W): void {
    this.waiting.push(write);
    this.waitingPerSession.set(write.sessionId, (this.waitingPerSession.get(write.sessionId) ?? 0) + 1);
  }

  /** A write was prepped as `zxid`: a large one counts until it is committed. */
  proposed(zxid: number, bytes: number): void {
    if (bytes < this.options.largeBytes) return;
    this.inFlight.set(zxid, bytes);
    this.inFlightBytes += bytes;
  }

  /**
   * The Txn `zxid` was committed. Returns the held writes that may go now, in order; the caller
   * preps each (and tells proposed()) before the next is looked at.
   */
  *committed(zxid: number): Generator<W> {
    const bytes = this.inFlight.get(zxid);
    if (bytes !== undefined) {
      this.inFlight.delete(zxid);
      this.inFlightBytes -= bytes;
    }
    while (this.waiting.length > 0 && this.fits(this.waiting[0].body.length)) {
      const next = this.waiting.shift()!;
      const left = this.waitingPerSession.get(next.sessionId)! - 1;
      if (left === 0) this.waitingPerSession.delete(next.sessionId);
      else this.waitingPerSession.set(next.sessionId, left);
      yield next;
    }
  }

  private fits(bytes: number): boolean {
    return bytes < this.options.largeBytes || this.inFlightBytes === 0 || this.inFlightBytes + bytes <= this.options.budgetBytes;
  }
}
