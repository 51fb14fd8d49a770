/**
 * The frame decoder: frames split at any boundary come out whole and in order; a large frame is read
 * into one buffer of about its size (not grown by doubling, which held up to four times the frame);
 * bytes handed out are never written over; a length out of bounds is an error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameDecoder, FrameTooLargeError, keepable } from '../../src/protocol/frame-decoder.ts';

const MAX = 0xfffff;

function frame(body: Buffer): Buffer {
  const f = Buffer.allocUnsafe(4 + body.length);
  f.writeInt32BE(body.length);
  body.copy(f, 4);
  return f;
}

const filled = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** Push `stream` in chunks cut at `cuts`, taking frames after each push. */
function decode(stream: Buffer, cuts: number[], d = new FrameDecoder(MAX)): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < stream.length).sort((a, b) => a - b), stream.length]) {
    if (cut <= at) continue;
    d.push(stream.subarray(at, cut));
    at = cut;
    for (let b = d.next(); b !== null; b = d.next()) out.push(b);
  }
  return out;
}

/** Cuts every `step` bytes, as socket reads of that size. */
const reads = (length: number, step: number): number[] => Array.from({ length: Math.ceil(length / step) }, (_, i) => i * step);

describe('frame decoder', () => {
  it('returns the same frames however the stream is cut', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(fc.nat(300), fc.integer({ min: 60_000, max: 300_000 })), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(2_000_000), { maxLength: 40 }),
      (sizes, cuts) => {
        const bodies = sizes.map((n, i) => filled(n, i));
        const stream = Buffer.concat(bodies.map(frame));
        const got = decode(stream, cuts);
        assert.equal(got.length, bodies.length);
        got.forEach((b, i) => assert.ok(b.equals(bodies[i]), `frame ${i}`));
      },
    ), { numRuns: 200 });
  });

  it('reads a 1 MB frame arriving in 64 KiB reads into one buffer of about its size', () => {
    const body = filled(1_000_000, 1);
    const stream = Buffer.concat([frame(body), frame(filled(10, 2))]);
    const [big, small] = decode(stream, reads(stream.length, 64 * 1024));
    assert.ok(big.equals(body));
    assert.ok(small.equals(filled(10, 2)));
    // Its own buffer: the frame and at most one read more (doubling held 2 MiB here).
    assert.ok(big.buffer.byteLength <= 4 + body.length + 64 * 1024, `the frame's buffer holds ${big.buffer.byteLength} bytes`);
    assert.equal(keepable(big), big, 'kept without a copy');
  });

  it('never writes over bytes it has handed out', () => {
    const bodies = [filled(200_000, 3), filled(50, 4), filled(100_000, 5), filled(70_000, 6)];
    const stream = Buffer.concat(bodies.map(frame));
    const d = new FrameDecoder(MAX);
    const handedOut: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 7_000) {
      d.push(Buffer.from(stream.subarray(at, at + 7_000)));
      for (let b = d.next(); b !== null; b = d.next()) handedOut.push(b);
    }
    d.push(frame(filled(90_000, 7)));
    assert.ok(d.next()?.equals(filled(90_000, 7)));
    handedOut.forEach((b, i) => assert.ok(b.equals(bodies[i]), `frame ${i} is intact`));
  });

  it('copies a small view (it would hold a whole read), keeps a large one in its own buffer', () => {
    const read = Buffer.alloc(64 * 1024, 1);
    const small = read.subarray(10, 110);
    assert.notEqual(keepable(small).buffer, read.buffer);
    assert.ok(keepable(small).equals(small));
    const mostlyOther = Buffer.alloc(1_000_000).subarray(0, 70_000);
    assert.notEqual(keepable(mostlyOther).buffer, mostlyOther.buffer, 'a large view of a much larger buffer is copied');
  });

  it('refuses a length out of bounds, as soon as the length is known', () => {
    const d = new FrameDecoder(1_000);
    d.push(Buffer.from([0, 0, 0x03]));
    assert.equal(d.next(), null);
    d.push(Buffer.from([0xe9]));
    assert.throws(() => d.next(), (e) => e instanceof FrameTooLargeError && e.length === 1_001);
    const negative = new FrameDecoder(1_000);
    negative.push(Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2]));
    assert.throws(() => negative.nextReader(), FrameTooLargeError);
  });

  it('an announced frame over the bound allocates nothing for it', () => {
    const d = new FrameDecoder(1_000);
    d.push(Buffer.from([0, 0]));
    d.push(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
    assert.throws(() => d.next(), FrameTooLargeError);
    assert.equal(d.buffered, 9);
  });
});
