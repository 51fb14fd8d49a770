/**
 * Members' frames on the wire: every message shape survives a round trip, frames cut anywhere in
 * the stream come out whole, and bad bytes are refused with a WireError and nothing else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { PeerFrame, PeerMessage } from '../../src/server/quorum/peer-messages.ts';
import type { ConfState, Entry, Message, MessageType, Snapshot } from '../../src/server/quorum/core/types.ts';
import {
  FrameSplitter, WIRE_VERSION, WireError, WireWriter, decodeFrame, decodeHello, encodeFrame, writeFrame, writeHello,
} from '../../src/server/quorum/wire.ts';

const roundTrip = (frame: PeerFrame): PeerFrame => {
  const bytes = encodeFrame(frame);
  assert.equal(bytes.readUInt32BE(0), bytes.length - 4);
  return decodeFrame(bytes.subarray(4));
};

const raft = (message: Message): PeerFrame => ({ from: message.from, to: message.to, message: { kind: 'raft', message } });

const conf: ConfState = { voters: [1, 2, 3], learners: [4] };

/** Objects as the decoder makes them (fast-check's records have no prototype by default). */
const plain = { noNullPrototype: true } as const;
const id = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.maxSafeNat();
const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
const text = fc.string({ unit: 'binary', maxLength: 20 });
const arbConf: fc.Arbitrary<ConfState> = fc.record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 3 }) }, plain);
const arbEntry: fc.Arbitrary<Entry> = fc.record(
  { term: u64, index: u64, data: fc.option(bytes, { nil: null }), conf: arbConf },
  { requiredKeys: ['term', 'index', 'data'], noNullPrototype: true },
);
const arbSnapshot: fc.Arbitrary<Snapshot> = fc.record({ index: u64, term: u64, conf: arbConf, data: bytes }, plain);
const arbMessage: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom<MessageType>('app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'readIndex', 'readIndexResp', 'snap', 'timeoutNow'),
  from: id, to: id, term: u64,
  index: u64, logTerm: u64, entries: fc.array(arbEntry, { maxLength: 5 }), commit: u64,
  reject: fc.boolean(), rejectHint: u64, rejectHintTerm: u64, context: text, snapshot: arbSnapshot, recovering: u64,
}, { requiredKeys: ['type', 'from', 'to', 'term'], noNullPrototype: true });
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const arbPeerMessage: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc.record({ kind: fc.constant('raft' as const), message: arbMessage }, plain),
  fc.record({
    kind: fc.constant('forward' as const), term: u64, sessionId: i64, cxid: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    opcode: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), body: bytes,
    auth: fc.array(fc.record({ scheme: text, id: text }, plain), { maxLength: 3 }),
  }, plain),
  fc.record({ kind: fc.constant('touch' as const), sessions: fc.array(i64, { maxLength: 10 }) }, plain),
  fc.constant({ kind: 'askEmpty' as const }),
  fc.record({ kind: fc.constant('empty' as const), empty: fc.boolean(), term: u64 }, plain),
  fc.record({ kind: fc.constant('reopened' as const), sessionId: i64 }, plain),
  fc.record({ kind: fc.constant('snapChunk' as const), offset: fc.nat({ max: 1000 }), total: fc.constant(2000), bytes: fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)) }, plain),
);
const arbFrame: fc.Arbitrary<PeerFrame> = fc.record({ from: id, to: id, message: arbPeerMessage }, plain);

describe('peer wire: hand-written frames', () => {
  const cases: Array<[string, PeerFrame]> = [
    ['a heartbeat with only the required fields', raft({ type: 'heartbeat', from: 1, to: 2, term: 7 })],
    ['an append with every kind of entry', raft({
      type: 'app', from: 1, to: 3, term: 2 ** 53 - 1, index: 41, logTerm: 1, commit: 40,
      entries: [
        { term: 2, index: 42, data: null },
        { term: 2, index: 43, data: Buffer.from('payload') },
        { term: 2, index: 44, data: Buffer.alloc(0) },
        { term: 2, index: 45, data: null, conf },
        { term: 2, index: 46, data: Buffer.from([0, 255]), conf: { voters: [], learners: [] } },
      ],
    })],
    ['an append with no entries', raft({ type: 'app', from: 1, to: 2, term: 3, index: 0, logTerm: 0, entries: [], commit: 0 })],
    ['a rejection with hints', raft({ type: 'appResp', from: 2, to: 1, term: 3, index: 9, reject: true, rejectHint: 5, rejectHintTerm: 2 })],
    ['an acceptance (reject: false)', raft({ type: 'appResp', from: 2, to: 1, term: 3, index: 9, reject: false })],
    ['a vote for a transfer', raft({ type: 'vote', from: 3, to: 1, term: 4, index: 10, logTerm: 3, context: 'transfer' })],
    ['a read index with a non-ASCII context', raft({ type: 'readIndex', from: 2, to: 1, term: 1, context: 'lecture é 读 🎉' })],
    ['a heartbeat answer from a member that lost its data', raft({ type: 'heartbeatResp', from: 2, to: 1, term: 5, recovering: 17 })],
    ['a member with no data asks another', { from: 3, to: 1, message: { kind: 'askEmpty' } }],
    ['and is answered', { from: 1, to: 3, message: { kind: 'empty', empty: true, term: 7 } }],
    ['a session reopened on a follower', { from: 2, to: 1, message: { kind: 'reopened', sessionId: -5n } }],
    ['a piece of a snapshot', { from: 1, to: 3, message: { kind: 'snapChunk', offset: 4096, total: 10000, bytes: Buffer.from('piece') } }],
    ['a snapshot', raft({ type: 'snap', from: 1, to: 4, term: 5, snapshot: { index: 100, term: 4, conf, data: Buffer.from('tree') } })],
    ['a forwarded write', { from: 2, to: 1, message: {
      kind: 'forward', term: 2 ** 53 - 1, sessionId: -0x7fffffffffffffffn - 1n, cxid: -2, opcode: 1, body: Buffer.from('create /a'),
      auth: [{ scheme: 'digest', id: 'bob:hash' }, { scheme: 'ip', id: '' }],
    } }],
    ['a forwarded write without auth', { from: 3, to: 1, message: { kind: 'forward', term: 0, sessionId: 0x7fffffffffffffffn, cxid: 0x7fffffff, opcode: 5, body: Buffer.alloc(0), auth: [] } }],
    ['a touch', { from: 2, to: 1, message: { kind: 'touch', sessions: [0n, -1n, 0x0100000000000001n] } }],
    ['an empty touch', { from: 2, to: 1, message: { kind: 'touch', sessions: [] } }],
  ];
  for (const [name, frame] of cases) {
    it(name, () => assert.deepEqual(roundTrip(frame), frame));
  }

  it('every message type', () => {
    const types: MessageType[] = ['app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'readIndex', 'readIndexResp', 'snap', 'timeoutNow'];
    for (const type of types) {
      const frame = raft({ type, from: 1, to: 2, term: 1 });
      assert.deepEqual(roundTrip(frame), frame);
    }
  });

  it('decoded Buffers are copies, not views of the frame', () => {
    const bytes = encodeFrame({ from: 2, to: 1, message: { kind: 'forward', term: 3, sessionId: 1n, cxid: 1, opcode: 1, body: Buffer.from('abc'), auth: [] } });
    const frame = decodeFrame(bytes.subarray(4));
    bytes.fill(0);
    assert.deepEqual((frame.message as Extract<PeerMessage, { kind: 'forward' }>).body, Buffer.from('abc'));
  });

  it('a hello carries the version, the sender and the ensemble id', () => {
    const w = new WireWriter();
    writeHello(w, { version: WIRE_VERSION, from: 3, ensembleId: 'prod-eu' });
    const bytes = w.take();
    assert.deepEqual(decodeHello(bytes.subarray(4)), { version: WIRE_VERSION, from: 3, ensembleId: 'prod-eu' });
    assert.throws(() => decodeFrame(bytes.subarray(4)), WireError);
  });

  it('a hello of another version is still read (its layout is fixed)', () => {
    const w = new WireWriter();
    writeHello(w, { version: 9, from: 3, ensembleId: 'x' });
    assert.equal(decodeHello(w.take().subarray(4)).version, 9);
  });

  it('values that do not fit are refused when encoding, and leave nothing behind', () => {
    const bad: PeerFrame[] = [
      raft({ type: 'app', from: 1, to: 2, term: 2 ** 53 }),
      raft({ type: 'app', from: 1, to: 2, term: -1 }),
      raft({ type: 'app', from: 1, to: 2, term: 1.5 }),
      raft({ type: 'app', from: -1, to: 2, term: 1 }),
      raft({ type: 'nope' as MessageType, from: 1, to: 2, term: 1 }),
      { from: 1, to: 2, message: { kind: 'touch', sessions: [1n << 63n] } },
      { from: 1, to: 2, message: { kind: 'forward', term: 3, sessionId: 1n, cxid: 2 ** 31, opcode: 1, body: Buffer.alloc(0), auth: [] } },
      { from: 1, to: 2, message: { kind: 'other' } as unknown as PeerMessage },
    ];
    const w = new WireWriter();
    for (const frame of bad) {
      assert.throws(() => writeFrame(w, frame), WireError);
      assert.equal(w.pending, 0);
    }
  });
});

describe('peer wire: refusals', () => {
  const good = encodeFrame(raft({ type: 'app', from: 1, to: 2, term: 3, index: 4, entries: [{ term: 3, index: 5, data: Buffer.from('x') }] })).subarray(4);

  it('every truncation of a frame', () => {
    for (let n = 0; n < good.length; n++) assert.throws(() => decodeFrame(good.subarray(0, n)), WireError, `at ${n}`);
  });

  it('trailing bytes', () => {
    assert.throws(() => decodeFrame(Buffer.concat([good, Buffer.from([0])])), /trailing/);
  });

  it('another version, an unknown kind, an unknown message type', () => {
    const with_ = (at: number, v: number) => { const b = Buffer.from(good); b[at] = v; return b; };
    assert.throws(() => decodeFrame(with_(0, WIRE_VERSION + 1)), /version/);
    assert.throws(() => decodeFrame(with_(1, 77)), /unknown frame kind/);
    assert.throws(() => decodeFrame(with_(10, 200)), /unknown message type/);
  });

  it('a u64 of 2^53 or more', () => {
    const b = Buffer.from(good);
    b.writeUInt32BE(0x200000, 19); // the high word of the term
    assert.throws(() => decodeFrame(b), /2\^53/);
  });

  it('a count larger than the bytes left, without allocating for it', () => {
    const b = Buffer.from(good);
    const entriesCountAt = 10 + 1 + 4 + 4 + 8 + 2 + 8;
    assert.equal(b.readUInt32BE(entriesCountAt), 1);
    b.writeUInt32BE(0xffffffff, entriesCountAt);
    assert.throws(() => decodeFrame(b), /count/);
  });

  it('a frame longer than the maximum, before buffering it', () => {
    const splitter = new FrameSplitter(100);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(101);
    assert.throws(() => splitter.push(header), /exceeds the maximum/);
    header.writeUInt32BE(0xffffffff);
    assert.throws(() => new FrameSplitter().push(header), WireError);
  });

  it('random bytes throw WireError or decode, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      for (const decode of [decodeFrame, decodeHello]) {
        try {
          decode(Buffer.from(bytes));
        } catch (err) {
          if (!(err instanceof WireError)) throw err;
        }
      }
    }), { numRuns: 5000 });
  });

  it('mutated valid frames throw WireError or decode, nothing else', () => {
    fc.assert(fc.property(arbFrame, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (frame, edits) => {
      const body = Buffer.from(encodeFrame(frame).subarray(4));
      for (const [at, v] of edits) body[at % body.length] = v;
      try {
        decodeFrame(body);
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
      }
    }), { numRuns: 3000 });
  });
});

describe('peer wire: properties', () => {
  it('every frame survives a round trip', () => {
    fc.assert(fc.property(arbFrame, (frame) => assert.deepEqual(roundTrip(frame), frame)), { numRuns: 2000 });
  });

  it('frames written back to back come out whole, whatever the cuts', () => {
    fc.assert(fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, cuts) => {
      const w = new WireWriter();
      for (const f of frames) writeFrame(w, f);
      const stream = Buffer.from(w.take());
      const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const splitter = new FrameSplitter();
      const out: PeerFrame[] = [];
      let prev = 0;
      for (const c of [...at, stream.length]) {
        for (const body of splitter.push(stream.subarray(prev, c))) out.push(decodeFrame(body));
        prev = c;
      }
      assert.deepEqual(out, frames);
      assert.equal(splitter.buffered, 0);
    }), { numRuns: 500 });
  });
});

describe('peer wire: splitting', () => {
  const frames: PeerFrame[] = [
    raft({ type: 'app', from: 1, to: 2, term: 1, entries: [{ term: 1, index: 1, data: Buffer.alloc(300, 7) }] }),
    { from: 1, to: 2, message: { kind: 'touch', sessions: [] } },
    raft({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 1 }),
  ];
  const w = new WireWriter();
  for (const f of frames) writeFrame(w, f);
  const stream = Buffer.from(w.take());

  it('one cut at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const splitter = new FrameSplitter();
      const bodies = [...splitter.push(stream.subarray(0, cut)), ...splitter.push(stream.subarray(cut))];
      assert.deepEqual(bodies.map(decodeFrame), frames, `cut at ${cut}`);
    }
  });

  it('one byte at a time', () => {
    const splitter = new FrameSplitter();
    const out: PeerFrame[] = [];
    for (let i = 0; i < stream.length; i++) for (const body of splitter.push(stream.subarray(i, i + 1))) out.push(decodeFrame(body));
    assert.deepEqual(out, frames);
  });

  it('an empty frame body is a frame (and a malformed one)', () => {
    const splitter = new FrameSplitter();
    const bodies = splitter.push(Buffer.alloc(4));
    assert.equal(bodies.length, 1);
    assert.equal(bodies[0].length, 0);
    assert.throws(() => decodeFrame(bodies[0]), WireError);
  });

  it('random chunks never throw anything but WireError', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 10 }), (chunks) => {
      const splitter = new FrameSplitter(64);
      try {
        for (const c of chunks) for (const body of splitter.push(Buffer.from(c))) decodeFrame(body);
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
      }
    }), { numRuns: 3000 });
  });
});
