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

/** The least a buffer of the decoder's own holds: room for many small frames. */
const MIN_BUFFER_BYTES = 64 * 1024;
/**
 * Room past a large frame's end in the buffer read into, for the rest of the socket read that
 * completes it (Node reads at most 64 KiB at a time): that read is not copied a second time.
 */
const READ_SLACK_BYTES = 64 * 1024;

/**
 * Bytes of a frame to keep after it is handled (a znode's data, a held write): the view itself when
 * it is large and its buffer is about its size (the decoder reads a large frame into a buffer of its
 * own and never writes over bytes it has handed out), otherwise a copy, as a small view would hold a
 * whole socket read. Not for a decoder fed from a read buffer that is reused (see detach).
 */
export function keepable(view: Buffer): Buffer {
  const own = view.length >= MIN_BUFFER_BYTES && view.buffer.byteLength - view.length <= 2 * READ_SLACK_BYTES;
  return own ? view : Buffer.from(view);
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
      this.moveTo(Buffer.allocUnsafe(this.sizeFor(pending + chunk.length)));
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /**
   * A new buffer for `bytes`: a large frame whose length is known gets one of its own size (and a
   * read's slack) once, instead of doublings that copy it again and hold up to four times its size.
   */
  private sizeFor(bytes: number): number {
    const frame = this.end - this.start >= 4 ? 4 + this.buf.readInt32BE(this.start) : 0;
    if (frame < MIN_BUFFER_BYTES || frame > 4 + this.maxBytes) return Math.max(MIN_BUFFER_BYTES, bytes * 2);
    return frame > bytes ? frame + READ_SLACK_BYTES : bytes;
  }

  private moveTo(next: Buffer): void {
    this.buf.copy(next, 0, this.start, this.end);
    this.buf = next;
    this.end -= this.start;
    this.start = 0;
    this.owned = true;
  }

  /** Copies the pending bytes out of a borrowed buffer, one its owner is about to reuse. */
  detach(): void {
    if (this.owned || this.start === this.end) return;
    this.moveTo(Buffer.allocUnsafe(this.sizeFor(this.end - this.start)));
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
