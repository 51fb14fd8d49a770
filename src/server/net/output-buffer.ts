/**
 * A connection's outgoing bytes. Replies and watch events are encoded straight into it, and what
 * was encoded during one turn of the event loop leaves in one socket write (`take`).
 *
 * The bytes handed to the socket are views of the current chunk and are never written again: new
 * frames go after them, or into a fresh chunk once this one is full (only the bytes not yet taken
 * move). So encoding allocates nothing per reply, and a write needs no copy.
 *
 * Frame marks are relative to the first byte not yet taken, so they survive a move to a new chunk.
 */
import { JuteWriter } from '../../protocol/jute.ts';

const CHUNK_BYTES = 16 * 1024;
const INITIAL_BYTES = 1024;

export class OutputBuffer extends JuteWriter {
  /** Offset of the first byte not yet taken. */
  private taken = 0;

  constructor() {
    // Most connections only ever hold a reply or two at a time; the first larger turn grows it.
    super(INITIAL_BYTES);
  }

  /** Bytes encoded and not yet taken. */
  get pending(): number {
    return this.offset - this.taken;
  }

  protected override ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    const pending = this.offset - this.taken;
    const next = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, (pending + n) * 2));
    this.buf.copy(next, 0, this.taken, this.offset);
    this.buf = next;
    this.taken = 0;
    this.offset = pending;
  }

  override beginFrame(): number {
    const mark = this.offset - this.taken;
    this.int(0);
    return mark;
  }

  override endFrame(mark: number): this {
    const at = this.taken + mark;
    this.buf.writeInt32BE(this.offset - at - 4, at);
    return this;
  }

  /** Drops what was encoded since `mark` (a beginFrame mark, or `pending` read earlier). */
  rewind(mark: number): void {
    this.offset = this.taken + mark;
  }

  /** The pending bytes, now owned by the caller (a view: it is never written again). */
  take(): Buffer {
    const out = this.buf.subarray(this.taken, this.offset);
    this.taken = this.offset;
    // A chunk grown for one large reply is not kept for the small ones after it.
    if (this.buf.length > CHUNK_BYTES * 4) {
      this.buf = Buffer.allocUnsafe(CHUNK_BYTES);
      this.offset = this.taken = 0;
    }
    return out;
  }

  override bytes(): Buffer {
    return this.buf.subarray(this.taken, this.offset);
  }

  override reset(): void {
    this.offset = this.taken;
  }
}
