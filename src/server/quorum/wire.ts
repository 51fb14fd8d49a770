/**
 * How members' frames look on the wire: our own binary format, versioned, big-endian.
 *
 *   stream   = frame*                    frame = length:u32 body    (length <= maxFrameBytes)
 *   body     = version:u8 kind:u8 ...
 *   hello    = version kind=0 from:u32 ensembleId:string            (this layout never changes)
 *   raft     = version kind=1 from:u32 to:u32 message
 *   forward  = version kind=2 from:u32 to:u32 term:u64 sessionId:i64 cxid:i32 opcode:i32 body:bytes
 *              count:u32 (scheme:string id:string)*
 *   touch    = version kind=3 from:u32 to:u32 count:u32 sessionId:i64*
 *   askEmpty = version kind=4 from:u32 to:u32
 *   empty    = version kind=5 from:u32 to:u32 empty:u8 (0 or 1) term:u64
 *   reopened = version kind=6 from:u32 to:u32 sessionId:i64
 *   snapChunk = version kind=7 from:u32 to:u32 offset:u64 total:u64 bytes:bytes
 *   message  = type:u8 from:u32 to:u32 term:u64 fields:u16, then the fields present, in bit order:
 *              index:u64 logTerm:u64 commit:u64 rejectHint:u64 rejectHintTerm:u64 context:string
 *              count:u32 entry* snapshot recovering:u64 (reject is two bits: present, true)
 *   entry    = term:u64 index:u64 flags:u8 [data:bytes] [conf]
 *   snapshot = index:u64 term:u64 conf data:bytes
 *   conf     = count:u32 voter:u32* count:u32 learner:u32*
 *   bytes, string = length:u32 then the bytes (strings in UTF-8)
 *
 * u64 holds a JS number below 2^53 (terms, indexes); i64 a bigint (session ids).
 * A body must be read to its last byte: anything left over is malformed.
 */
import type { PeerFrame, PeerMessage } from './peer-messages.ts';
import type { ConfState, Entry, Message, MessageType, NodeId, Snapshot } from './core/types.ts';
import { OutputBuffer } from '../net/output-buffer.ts';

export const WIRE_VERSION = 2;
/** Large enough for a snapshot of a sizeable tree; a peer announcing more is refused. */
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024;

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/** The first frame each side of a connection sends. */
export interface Hello {
  version: number;
  ensembleId: string;
  from: NodeId;
}

const KIND_HELLO = 0;
const KIND_RAFT = 1;
const KIND_FORWARD = 2;
const KIND_TOUCH = 3;
const KIND_ASK_EMPTY = 4;
const KIND_EMPTY = 5;
const KIND_REOPENED = 6;
const KIND_SNAP_CHUNK = 7;

const TYPES: readonly MessageType[] = [
  'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp',
  'heartbeat', 'heartbeatResp', 'readIndex', 'readIndexResp', 'snap', 'timeoutNow',
];
const TYPE_CODES = new Map(TYPES.map((t, i) => [t, i]));

const F_INDEX = 1 << 0;
const F_LOG_TERM = 1 << 1;
const F_COMMIT = 1 << 2;
const F_REJECT_HINT = 1 << 3;
const F_REJECT_HINT_TERM = 1 << 4;
const F_CONTEXT = 1 << 5;
const F_ENTRIES = 1 << 6;
const F_SNAPSHOT = 1 << 7;
const F_REJECT = 1 << 8;
const F_REJECT_TRUE = 1 << 9;
const F_RECOVERING = 1 << 10;
const F_ALL = (1 << 11) - 1;

const E_DATA = 1;
const E_CONF = 2;

const TWO_32 = 4294967296;
/** The high word of 2^53: u64 values at or above it are not exact as JS numbers. */
const U64_HI_LIMIT = 0x200000;

// Smallest encodings, to bound a count by the bytes left before allocating for it.
const MIN_ENTRY_BYTES = 17;
const MIN_AUTH_BYTES = 8;

/**
 * Frames for the wire, appended one after another; `take()` hands what was written to the socket.
 * Values that do not fit their field throw a WireError.
 */
export class WireWriter extends OutputBuffer {
  u8(v: number): this {
    this.ensure(1);
    this.buf[this.offset++] = v;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.offset++] = v >>> 8;
    this.buf[this.offset++] = v;
    return this;
  }

  u32(v: number): this {
    if (!(Number.isInteger(v) && v >= 0 && v < TWO_32)) throw new WireError(`cannot encode ${v} as u32`);
    return this.int(v);
  }

  i32(v: number): this {
    if (!(Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff)) throw new WireError(`cannot encode ${v} as i32`);
    return this.int(v);
  }

  u64(v: number): this {
    if (!(Number.isSafeInteger(v) && v >= 0)) throw new WireError(`cannot encode ${v} as u64`);
    return this.long(v);
  }

  i64(v: bigint): this {
    if (BigInt.asIntN(64, v) !== v) throw new WireError(`cannot encode ${v} as i64`);
    return this.bigLong(v);
  }

  blob(b: Buffer): this {
    return this.buffer(b);
  }

  string(s: string): this {
    return this.ustring(s);
  }
}

export class WireReader {
  private offset: number;

  constructor(private readonly buf: Buffer, offset = 0, private readonly end = buf.length) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.end) throw new WireError(`truncated: ${what} needs ${n} bytes at ${this.offset}, ${this.remaining} left`);
  }

  u8(): number {
    this.need(1, 'u8');
    return this.buf[this.offset++];
  }

  u16(): number {
    this.need(2, 'u16');
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4, 'u32');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  i32(): number {
    this.need(4, 'i32');
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  u64(): number {
    this.need(8, 'u64');
    const hi = this.buf.readUInt32BE(this.offset);
    if (hi >= U64_HI_LIMIT) throw new WireError(`u64 at ${this.offset} is 2^53 or more`);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return hi * TWO_32 + lo;
  }

  i64(): bigint {
    this.need(8, 'i64');
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  /** A copy: the message outlives the socket's buffer, and a view would pin all of it. */
  bytes(): Buffer {
    const n = this.u32();
    this.need(n, 'bytes');
    const b = Buffer.allocUnsafe(n);
    this.buf.copy(b, 0, this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  string(): string {
    const n = this.u32();
    this.need(n, 'string');
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }

  /** A count of items of at least `minBytes` each: more than the bytes left could hold is malformed. */
  count(minBytes: number): number {
    const n = this.u32();
    if (n * minBytes > this.remaining) throw new WireError(`count ${n} exceeds the ${this.remaining} bytes left`);
    return n;
  }

  done(): void {
    if (this.offset !== this.end) throw new WireError(`${this.end - this.offset} trailing bytes`);
  }
}

export function writeHello(w: WireWriter, hello: Hello): void {
  const mark = w.beginFrame();
  w.u8(hello.version).u8(KIND_HELLO).u32(hello.from).string(hello.ensembleId);
  w.endFrame(mark);
}

/** A hello of any version (its layout is the same in all): the caller decides whether to talk. */
export function decodeHello(body: Buffer): Hello {
  const r = new WireReader(body);
  const version = r.u8();
  const kind = r.u8();
  if (kind !== KIND_HELLO) throw new WireError(`expected a hello, got kind ${kind}`);
  const hello = { version, from: r.u32(), ensembleId: r.string() };
  r.done();
  return hello;
}

/** Appends one length-prefixed frame. Nothing is left in `w` if a value does not fit. */
export function writeFrame(w: WireWriter, frame: PeerFrame): void {
  const mark = w.beginFrame();
  try {
    writeBody(w, frame);
  } catch (err) {
    w.rewind(mark);
    throw err;
  }
  w.endFrame(mark);
}

/** One frame, length prefix included, in a Buffer of its own. */
export function encodeFrame(frame: PeerFrame): Buffer {
  const w = new WireWriter();
  writeFrame(w, frame);
  return w.take();
}

function writeBody(w: WireWriter, { from, to, message: m }: PeerFrame): void {
  switch (m.kind) {
    case 'raft':
      w.u8(WIRE_VERSION).u8(KIND_RAFT).u32(from).u32(to);
      writeMessage(w, m.message);
      return;
    case 'forward':
      w.u8(WIRE_VERSION).u8(KIND_FORWARD).u32(from).u32(to).u64(m.term);
      w.i64(m.sessionId).i32(m.cxid).i32(m.opcode).blob(m.body).u32(m.auth.length);
      for (const a of m.auth) w.string(a.scheme).string(a.id);
      return;
    case 'touch':
      w.u8(WIRE_VERSION).u8(KIND_TOUCH).u32(from).u32(to).u32(m.sessions.length);
      for (const s of m.sessions) w.i64(s);
      return;
    case 'askEmpty':
      w.u8(WIRE_VERSION).u8(KIND_ASK_EMPTY).u32(from).u32(to);
      return;
    case 'empty':
      w.u8(WIRE_VERSION).u8(KIND_EMPTY).u32(from).u32(to).u8(m.empty ? 1 : 0).u64(m.term);
      return;
    case 'reopened':
      w.u8(WIRE_VERSION).u8(KIND_REOPENED).u32(from).u32(to).i64(m.sessionId);
      return;
    case 'snapChunk':
      w.u8(WIRE_VERSION).u8(KIND_SNAP_CHUNK).u32(from).u32(to).u64(m.offset).u64(m.total).blob(m.bytes);
      return;
    default:
      throw new WireError(`unknown peer message kind ${(m as { kind: unknown }).kind}`);
  }
}

function writeMessage(w: WireWriter, m: Message): void {
  const type = TYPE_CODES.get(m.type);
  if (type === undefined) throw new WireError(`unknown message type ${m.type}`);
  let fields = 0;
  if (m.index !== undefined) fields |= F_INDEX;
  if (m.logTerm !== undefined) fields |= F_LOG_TERM;
  if (m.commit !== undefined) fields |= F_COMMIT;
  if (m.rejectHint !== undefined) fields |= F_REJECT_HINT;
  if (m.rejectHintTerm !== undefined) fields |= F_REJECT_HINT_TERM;
  if (m.context !== undefined) fields |= F_CONTEXT;
  if (m.entries !== undefined) fields |= F_ENTRIES;
  if (m.snapshot !== undefined) fields |= F_SNAPSHOT;
  if (m.reject !== undefined) fields |= m.reject ? F_REJECT | F_REJECT_TRUE : F_REJECT;
  if (m.recovering !== undefined) fields |= F_RECOVERING;
  w.u8(type).u32(m.from).u32(m.to).u64(m.term).u16(fields);
  if (m.index !== undefined) w.u64(m.index);
  if (m.logTerm !== undefined) w.u64(m.logTerm);
  if (m.commit !== undefined) w.u64(m.commit);
  if (m.rejectHint !== undefined) w.u64(m.rejectHint);
  if (m.rejectHintTerm !== undefined) w.u64(m.rejectHintTerm);
  if (m.context !== undefined) w.string(m.context);
  if (m.entries !== undefined) {
    w.u32(m.entries.length);
    for (const e of m.entries) writeEntry(w, e);
  }
  if (m.snapshot !== undefined) writeSnapshot(w, m.snapshot);
  if (m.recovering !== undefined) w.u64(m.recovering);
}

function writeEntry(w: WireWriter, e: Entry): void {
  const flags = (e.data !== null ? E_DATA : 0) | (e.conf !== undefined ? E_CONF : 0);
  w.u64(e.term).u64(e.index).u8(flags);
  if (e.data !== null) w.blob(e.data);
  if (e.conf !== undefined) writeConf(w, e.conf);
}

function writeSnapshot(w: WireWriter, s: Snapshot): void {
  w.u64(s.index).u64(s.term);
  writeConf(w, s.conf);
  w.blob(s.data);
}

function writeConf(w: WireWriter, c: ConfState): void {
  w.u32(c.voters.length);
  for (const id of c.voters) w.u32(id);
  w.u32(c.learners.length);
  for (const id of c.learners) w.u32(id);
}

/** A frame body (without its length prefix) back into a PeerFrame; its Buffers are copies. */
export function decodeFrame(body: Buffer): PeerFrame {
  const r = new WireReader(body);
  const version = r.u8();
  if (version !== WIRE_VERSION) throw new WireError(`format version ${version}, expected ${WIRE_VERSION}`);
  const kind = r.u8();
  if (kind === KIND_HELLO) throw new WireError('unexpected hello');
  if (kind < KIND_RAFT || kind > KIND_SNAP_CHUNK) throw new WireError(`unknown frame kind ${kind}`);
  const from = r.u32();
  const to = r.u32();
  let message: PeerMessage;
  switch (kind) {
    case KIND_RAFT:
      message = { kind: 'raft', message: readMessage(r) };
      break;
    case KIND_FORWARD: {
      const term = r.u64();
      const sessionId = r.i64();
      const cxid = r.i32();
      const opcode = r.i32();
      const fwdBody = r.bytes();
      const auth = new Array<{ scheme: string; id: string }>(r.count(MIN_AUTH_BYTES));
      for (let i = 0; i < auth.length; i++) auth[i] = { scheme: r.string(), id: r.string() };
      message = { kind: 'forward', term, sessionId, cxid, opcode, body: fwdBody, auth };
      break;
    }
    case KIND_TOUCH: {
      const sessions = new Array<bigint>(r.count(8));
      for (let i = 0; i < sessions.length; i++) sessions[i] = r.i64();
      message = { kind: 'touch', sessions };
      break;
    }
    case KIND_ASK_EMPTY:
      message = { kind: 'askEmpty' };
      break;
    case KIND_EMPTY: {
      const empty = r.u8();
      if (empty > 1) throw new WireError(`bad empty flag ${empty}`);
      message = { kind: 'empty', empty: empty === 1, term: r.u64() };
      break;
    }
    case KIND_REOPENED:
      message = { kind: 'reopened', sessionId: r.i64() };
      break;
    case KIND_SNAP_CHUNK: {
      const offset = r.u64();
      const total = r.u64();
      const bytes = r.bytes();
      if (offset + bytes.length > total) throw new WireError(`snapshot piece at ${offset} of ${bytes.length} bytes past its total ${total}`);
      message = { kind: 'snapChunk', offset, total, bytes };
      break;
    }
    default:
      throw new WireError(`unknown frame kind ${kind}`);
  }
  r.done();
  return { from, to, message };
}

function readMessage(r: WireReader): Message {
  const code = r.u8();
  const type = TYPES[code];
  if (type === undefined) throw new WireError(`unknown message type ${code}`);
  const m: Message = { type, from: r.u32(), to: r.u32(), term: r.u64() };
  const fields = r.u16();
  if ((fields & ~F_ALL) !== 0 || (fields & (F_REJECT | F_REJECT_TRUE)) === F_REJECT_TRUE) throw new WireError(`bad message fields ${fields}`);
  if (fields & F_INDEX) m.index = r.u64();
  if (fields & F_LOG_TERM) m.logTerm = r.u64();
  if (fields & F_COMMIT) m.commit = r.u64();
  if (fields & F_REJECT_HINT) m.rejectHint = r.u64();
  if (fields & F_REJECT_HINT_TERM) m.rejectHintTerm = r.u64();
  if (fields & F_CONTEXT) m.context = r.string();
  if (fields & F_ENTRIES) {
    const entries = new Array<Entry>(r.count(MIN_ENTRY_BYTES));
    for (let i = 0; i < entries.length; i++) entries[i] = readEntry(r);
    m.entries = entries;
  }
  if (fields & F_SNAPSHOT) m.snapshot = readSnapshot(r);
  if (fields & F_RECOVERING) m.recovering = r.u64();
  if (fields & F_REJECT) m.reject = (fields & F_REJECT_TRUE) !== 0;
  return m;
}

function readEntry(r: WireReader): Entry {
  const term = r.u64();
  const index = r.u64();
  const flags = r.u8();
  if ((flags & ~(E_DATA | E_CONF)) !== 0) throw new WireError(`bad entry flags ${flags}`);
  const e: Entry = { term, index, data: flags & E_DATA ? r.bytes() : null };
  if (flags & E_CONF) e.conf = readConf(r);
  return e;
}

function readSnapshot(r: WireReader): Snapshot {
  const index = r.u64();
  const term = r.u64();
  const conf = readConf(r);
  return { index, term, conf, data: r.bytes() };
}

function readConf(r: WireReader): ConfState {
  const voters = new Array<NodeId>(r.count(4));
  for (let i = 0; i < voters.length; i++) voters[i] = r.u32();
  const learners = new Array<NodeId>(r.count(4));
  for (let i = 0; i < learners.length; i++) learners[i] = r.u32();
  return { voters, learners };
}

/**
 * Splits a byte stream into frame bodies. Chunks may cut frames anywhere; a frame is assembled
 * (one copy) only once all its bytes are in. A length over `maxFrameBytes` is refused before
 * anything is buffered for it.
 */
export class FrameSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the pending ones can yield a frame (or a length to check). */
  private needBytes = 4;

  constructor(readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received and not yet returned as frames. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** The frame bodies completed by `chunk` (views: valid as long as the chunk is). */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    let buf: Buffer;
    if (this.pendingBytes === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.needBytes) return [];
      buf = Buffer.concat(this.pending, this.pendingBytes);
    }
    const frames: Buffer[] = [];
    let at = 0;
    this.needBytes = 4;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (len > this.maxFrameBytes) throw new WireError(`frame of ${len} bytes exceeds the maximum of ${this.maxFrameBytes}`);
      if (buf.length - at < 4 + len) {
        this.needBytes = 4 + len;
        break;
      }
      frames.push(buf.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    const rest = buf.length - at;
    this.pending = rest === 0 ? [] : [buf.subarray(at)];
    this.pendingBytes = rest;
    return frames;
  }
}
