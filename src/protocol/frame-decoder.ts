/**
 * Splits a TCP byte stream into length-prefixed frames. Frames split across reads and many frames
 * in one read are the normal case; a length outside [0, maxBytes] is a protocol error.
 */
import { JuteReader } from './jute.ts';

export class FrameTooLargeError extends Error {
  constructor(readonly length: number) {
    super(`frame length ${length} out of bounds`);
  }
}

export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  private owned = false;

  constructor(public maxBytes: number) {}

  /** Bytes buffered but not yet returned as frames. */
  get buffered(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): void {
    if (this.start === this.end) {
      // Nothing pending: parse straight from the socket's buffer.
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    const pending = this.end - this.start;
    if (!this.owned || this.end + chunk.length > this.buf.length) {
      // Frames already returned keep the old buffer; pending bytes move to a new one.
      const next = Buffer.allocUnsafe(Math.max(64 * 1024, (pending + chunk.length) * 2));
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.start = 0;
      this.end = pending;
      this.owned = true;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /** Copies the pending bytes out of a borrowed buffer, one its owner is about to reuse. */
  detach(): void {
    if (this.owned || this.start === this.end) return;
    const pending = this.end - this.start;
    const next = Buffer.allocUnsafe(Math.max(64 * 1024, pending * 2));
    this.buf.copy(next, 0, this.start, this.end);
    this.buf = next;
    this.start = 0;
    this.end = pending;
    this.owned = true;
  }

  /** The first 4 bytes as an int, if buffered (used to spot four-letter words). */
  peekInt(): number | null {
    return this.end - this.start >= 4 ? this.buf.readInt32BE(this.start) : null;
  }

  /** A reader over the next complete frame body (no view is made), or null when more bytes are needed. */
  nextReader(): JuteReader | null {
    if (this.end - this.start < 4) return null;
    const len = this.buf.readInt32BE(this.start);
    if (len < 0 || len > this.maxBytes) throw new FrameTooLargeError(len);
    if (this.end - this.start < 4 + len) return null;
    const r = new JuteReader(this.buf, this.start + 4, this.start + 4 + len);
    this.start += 4 + len;
    return r;
  }

  /** Next complete frame body, or null when more bytes are needed. */
  next(): Buffer | null {
    if (this.end - this.start < 4) return null;
    const len = this.buf.readInt32BE(this.start);
    if (len < 0 || len > this.maxBytes) throw new FrameTooLargeError(len);
    if (this.end - this.start < 4 + len) return null;
    const body = this.buf.subarray(this.start + 4, this.start + 4 + len);
    this.start += 4 + len;
    return body;
  }
}
