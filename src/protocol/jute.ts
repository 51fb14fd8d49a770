/**
 * Jute binary encoding, as Apache ZooKeeper's BinaryInputArchive / BinaryOutputArchive:
 * big-endian ints and longs, length-prefixed buffers and strings (-1 = null), no tags.
 *
 * Longs that are counters or times (zxids, ms) are JS numbers (exact below 2^53); session ids and
 * ephemeral owners use every bit and are bigints.
 */

const TWO_32 = 4294967296;

export class JuteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JuteError';
  }
}

export class JuteReader {
  offset: number;

  constructor(readonly buf: Buffer, offset = 0, readonly end = buf.length) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): void {
    if (n < 0 || this.offset + n > this.end) throw new JuteError(`record truncated: need ${n} bytes at ${this.offset}, have ${this.remaining}`);
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  long(): number {
    this.need(8);
    const hi = this.buf.readInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return hi * TWO_32 + lo;
  }

  bigLong(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  /** bigLong() without allocating a BigInt for 0, the ephemeralOwner of most znodes. */
  ownerLong(): bigint {
    this.need(8);
    const o = this.offset;
    const b = this.buf;
    if ((b[o] | b[o + 1] | b[o + 2] | b[o + 3] | b[o + 4] | b[o + 5] | b[o + 6] | b[o + 7]) === 0) {
      this.offset += 8;
      return 0n;
    }
    return this.bigLong();
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.offset++] !== 0;
  }

  buffer(): Buffer | null {
    const len = this.int();
    if (len === -1) return null;
    if (len < -1) throw new JuteError(`negative buffer length ${len}`);
    this.need(len);
    const b = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return b;
  }

  ustring(): string | null {
    const len = this.int();
    if (len === -1) return null;
    if (len < -1) throw new JuteError(`negative buffer length ${len}`);
    this.need(len);
    const start = this.offset;
    this.offset += len;
    const s = this.buf.toString('utf8', start, start + len);
    return s.includes('\uFFFD') ? decodeCesu8(this.buf.subarray(start, start + len)) ?? s : s;
  }

  /** A string that must be present; null on the wire is a malformed record. */
  string(): string {
    const s = this.ustring();
    if (s === null) throw new JuteError('unexpected null string');
    return s;
  }

  vector<T>(read: (r: JuteReader) => T): T[] | null {
    const n = this.int();
    if (n === -1) return null;
    if (n < -1) throw new JuteError(`negative vector length ${n}`);
    // Every element takes at least one byte: a count larger than the rest is malformed, not a huge allocation.
    if (n > this.remaining) throw new JuteError(`vector length ${n} exceeds record`);
    const out: T[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = read(this);
    return out;
  }
}

/**
 * Java writes strings with its modified encoder: a non-BMP character becomes two 3-byte
 * surrogate sequences. Node's decoder turns those into U+FFFD; this folds them back (null when
 * the bytes are not that either, and the U+FFFDs stay).
 */
function decodeCesu8(b: Buffer): string | null {
  let out = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    if (c < 0x80) { out += String.fromCharCode(c); i++; }
    else if ((c & 0xe0) === 0xc0 && i + 1 < b.length) { out += String.fromCharCode(((c & 0x1f) << 6) | (b[i + 1] & 0x3f)); i += 2; }
    else if ((c & 0xf0) === 0xe0 && i + 2 < b.length) { out += String.fromCharCode(((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f)); i += 3; }
    else if ((c & 0xf8) === 0xf0 && i + 3 < b.length) {
      const cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f);
      // F4 90.. to F7 BF BF BF encode past U+10FFFF: String.fromCodePoint would throw a RangeError.
      if (cp > 0x10ffff) return null;
      out += String.fromCodePoint(cp); i += 4;
    } else return null;
  }
  return out;
}

/** Big-endian 32 bits of v (its low 32 bits, as `v | 0`), stored byte by byte: no bounds checks or calls. */
function putInt(b: Buffer, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Big-endian 64 bits of v, an integer within ±2^53 (as a jute long), stored without a BigInt. */
export function putLong(b: Buffer, o: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  putInt(b, o, hi);
  putInt(b, o + 4, v - hi * TWO_32);
}

export class JuteWriter {
  protected buf: Buffer;
  offset = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  protected ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.offset + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  int(v: number): this {
    this.ensure(4);
    putInt(this.buf, this.offset, v);
    this.offset += 4;
    return this;
  }

  long(v: number): this {
    this.ensure(8);
    putLong(this.buf, this.offset, v);
    this.offset += 8;
    return this;
  }

  bigLong(v: bigint): this {
    // 0 (the ephemeralOwner of most znodes) without the BigInt conversions.
    if (v === 0n) return this.int(0).int(0);
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.offset);
    this.offset += 8;
    return this;
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.offset++] = v ? 1 : 0;
    return this;
  }

  buffer(b: Buffer | Uint8Array | null): this {
    if (b === null) return this.int(-1);
    this.int(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  ustring(s: string | null): this {
    if (s === null) return this.int(-1);
    const n = s.length;
    if (n <= 64) {
      // Short ASCII strings (paths, schemes, ids) byte by byte; anything else through the encoder.
      this.ensure(4 + n);
      const b = this.buf;
      const at = this.offset + 4;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + i] = c;
      }
      if (i === n) {
        putInt(b, this.offset, n);
        this.offset = at + n;
        return this;
      }
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.int(len);
    this.ensure(len);
    this.buf.write(s, this.offset, len, 'utf8');
    this.offset += len;
    return this;
  }

  vector<T>(items: readonly T[] | null, write: (w: JuteWriter, item: T) => void): this {
    if (items === null) return this.int(-1);
    this.int(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** Overwrites 4 bytes already written at `at` (a length or checksum filled in afterwards). */
  putInt(at: number, v: number): this {
    if (at < 0 || at + 4 > this.offset) throw new RangeError(`putInt at ${at} outside the ${this.offset} bytes written`);
    putInt(this.buf, at, v);
    return this;
  }

  /** A view of bytes [start, end) written so far (valid until the writer grows or is reset). */
  view(start: number, end: number): Buffer {
    return this.buf.subarray(start, end);
  }

  /** Reserve a 4-byte length prefix; call endFrame(mark) once the body is written. */
  beginFrame(): number {
    const mark = this.offset;
    this.int(0);
    return mark;
  }

  endFrame(mark: number): this {
    this.buf.writeInt32BE(this.offset - mark - 4, mark);
    return this;
  }

  /** The bytes written so far (a view; copy it if the writer is reused). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.offset);
  }

  reset(): void {
    this.offset = 0;
  }
}
