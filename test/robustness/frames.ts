/**
 * Frame builders and a raw socket client for the robustness tests: they speak the client protocol
 * byte by byte, so that a test can send exactly the (bad) bytes it means to.
 */
import { connect, type Socket } from 'node:net';
import { OpCode } from '../../src/protocol/constants.ts';
import { JuteReader, JuteWriter } from '../../src/protocol/jute.ts';
import {
  readConnectResponse, readReplyHeader, writeACLs, writeConnectRequest, writeMultiHeader,
  type ACL, type ConnectResponse, type ReplyHeader,
} from '../../src/protocol/records.ts';

export const OPEN_ACL: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
/** jute.maxbuffer default, on both servers. */
export const JUTE_MAX_BUFFER = 0xfffff;

// ---- frames ----

/** A 4-byte big-endian length prefix followed by `body`. */
export function frameOf(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** Just a length prefix (no body), for lying about lengths. */
export function lengthPrefix(len: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(len | 0, 0);
  return b;
}

export function body(write: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter(64);
  write(w);
  return Buffer.from(w.bytes());
}

export interface ConnectOptions {
  protocolVersion?: number;
  lastZxidSeen?: number;
  timeOutMs?: number;
  sessionId?: bigint;
  passwd?: Buffer;
  readOnly?: boolean;
}

/** ConnectRequest body (45 bytes with the readOnly flag). */
export function connectBody(o: ConnectOptions = {}): Buffer {
  return body((w) => writeConnectRequest(w, {
    protocolVersion: o.protocolVersion ?? 0,
    lastZxidSeen: o.lastZxidSeen ?? 0,
    timeOutMs: o.timeOutMs ?? 10_000,
    sessionId: o.sessionId ?? 0n,
    passwd: o.passwd ?? Buffer.alloc(16),
    readOnly: o.readOnly ?? false,
  }));
}

export const connectFrame = (o: ConnectOptions = {}): Buffer => frameOf(connectBody(o));

/** RequestHeader + record body. */
export function requestBody(xid: number, type: number, record: Uint8Array = Buffer.alloc(0)): Buffer {
  const w = new JuteWriter(16 + record.length);
  w.int(xid).int(type).raw(record);
  return Buffer.from(w.bytes());
}

export const requestFrame = (xid: number, type: number, record?: Uint8Array): Buffer => frameOf(requestBody(xid, type, record));

// ---- request records ----

export const createRecord = (path: string, data: Buffer | null = Buffer.alloc(0), flags = 0, acl: ACL[] | null = OPEN_ACL): Buffer =>
  body((w) => { w.ustring(path).buffer(data); writeACLs(w, acl); w.int(flags); });
export const setDataRecord = (path: string, data: Buffer | null, version = -1): Buffer =>
  body((w) => w.ustring(path).buffer(data).int(version));
export const deleteRecord = (path: string, version = -1): Buffer => body((w) => w.ustring(path).int(version));
export const pathWatchRecord = (path: string, watch = false): Buffer => body((w) => w.ustring(path).bool(watch));
export const authRecord = (scheme: string, auth: Buffer | null): Buffer => body((w) => w.int(0).ustring(scheme).buffer(auth));
export const setWatchesRecord = (zxid: number, data: string[], exist: string[], child: string[]): Buffer =>
  body((w) => {
    w.long(zxid);
    for (const list of [data, exist, child]) w.vector(list, (x, p) => x.ustring(p));
  });

export type MultiSubOp = { type: number; record: Buffer };
export const multiRecord = (ops: MultiSubOp[]): Buffer =>
  body((w) => {
    for (const op of ops) {
      writeMultiHeader(w, op.type, false, -1);
      w.raw(op.record);
    }
    writeMultiHeader(w, -1, true, -1);
  });

/** Valid request frames of the kinds the fuzzer mutates (after a handshake). */
export function validRequestFrames(xid: number): Record<string, Buffer> {
  return {
    create: requestFrame(xid, OpCode.create, createRecord(`/fz-${xid}`, Buffer.from('data'))),
    create2: requestFrame(xid, OpCode.create2, createRecord(`/fz2-${xid}`, Buffer.from('data'), 2)),
    setData: requestFrame(xid, OpCode.setData, setDataRecord('/fuzz-target', Buffer.from('x'.repeat(20)))),
    multi: requestFrame(xid, OpCode.multi, multiRecord([
      { type: OpCode.create, record: createRecord(`/fzm-${xid}`, Buffer.from('a')) },
      { type: OpCode.setData, record: setDataRecord(`/fzm-${xid}`, Buffer.from('b')) },
      { type: OpCode.check, record: body((w) => w.ustring(`/fzm-${xid}`).int(1)) },
      { type: OpCode.delete, record: deleteRecord(`/fzm-${xid}`) },
    ])),
    multiRead: requestFrame(xid, OpCode.multiRead, multiRecord([
      { type: OpCode.getData, record: pathWatchRecord('/fuzz-target') },
      { type: OpCode.getChildren, record: pathWatchRecord('/') },
    ])),
    setWatches: requestFrame(-8, OpCode.setWatches, setWatchesRecord(0, ['/fuzz-target', '/a'], ['/b'], ['/', '/fuzz-target'])),
    setWatches2: requestFrame(-8, OpCode.setWatches2, body((w) => {
      w.long(0);
      for (const list of [['/fuzz-target'], [], ['/'], ['/p'], ['/r']]) w.vector(list, (x, p) => x.ustring(p));
    })),
    getChildren: requestFrame(xid, OpCode.getChildren, pathWatchRecord('/', true)),
    getChildren2: requestFrame(xid, OpCode.getChildren2, pathWatchRecord('/fuzz-target', true)),
    getData: requestFrame(xid, OpCode.getData, pathWatchRecord('/fuzz-target', true)),
    auth: requestFrame(-4, OpCode.auth, authRecord('digest', Buffer.from('user:password'))),
    addWatch: requestFrame(xid, OpCode.addWatch, body((w) => w.ustring('/fuzz-target').int(1))),
    setACL: requestFrame(xid, OpCode.setACL, body((w) => { w.ustring('/fuzz-target'); writeACLs(w, OPEN_ACL); w.int(-1); })),
  };
}

// ---- a raw client ----

export type Outcome =
  | { kind: 'reply'; header: ReplyHeader; body: Buffer }
  | { kind: 'closed' }
  | { kind: 'silent' };

/**
 * How long to wait for a reply or a close that is due: far beyond what it takes, so that only one
 * that never comes fails a test, not a busy machine. (Waits that watch for silence pass their own.)
 */
export const REPLY_WAIT_MS = 15_000;

/** A TCP client that sends raw bytes and splits what comes back into frames. */
export class RawClient {
  readonly socket: Socket;
  private pending: Buffer = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  /** Bytes received in total (frames or not). */
  received = 0;
  readonly closedPromise: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received += d.length;
      this.pending = this.pending.length === 0 ? d : Buffer.concat([this.pending, d]);
      while (this.pending.length >= 4) {
        const len = this.pending.readInt32BE(0);
        if (len < 0 || this.pending.length < 4 + len) break;
        this.frames.push(this.pending.subarray(4, 4 + len));
        this.pending = this.pending.subarray(4 + len);
      }
      this.wake();
    });
    socket.on('error', () => { /* a reset from the server is an expected outcome here */ });
    this.closedPromise = new Promise((resolve) => socket.once('close', () => {
      this.closed = true;
      this.wake();
      resolve();
    }));
  }

  static connect(host: string, port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      s.setNoDelay(true);
      const c = new RawClient(s);
      s.once('connect', () => resolve(c));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(b: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(b);
  }

  get framesWaiting(): number {
    return this.frames.length;
  }

  /** The next frame body, or null if the connection closed / the timeout passed first. */
  async nextFrame(timeoutMs = REPLY_WAIT_MS): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** The next reply (header + body), 'closed' once the server hung up, or 'silent' after the timeout. */
  async outcome(timeoutMs = REPLY_WAIT_MS): Promise<Outcome> {
    const f = await this.nextFrame(timeoutMs);
    if (f) {
      const r = new JuteReader(f);
      const header = readReplyHeader(r);
      return { kind: 'reply', header, body: f.subarray(16) };
    }
    return this.closed ? { kind: 'closed' } : { kind: 'silent' };
  }

  /** Resolves true once the server closes the connection (after reading any frames), false on timeout. */
  async waitClosed(timeoutMs = REPLY_WAIT_MS): Promise<boolean> {
    if (this.closed) return true;
    const t = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
    return Promise.race([this.closedPromise.then(() => true), t]);
  }

  /** Send a ConnectRequest and read the ConnectResponse. */
  async handshake(o: ConnectOptions = {}): Promise<ConnectResponse> {
    this.send(connectFrame(o));
    const f = await this.nextFrame();
    if (!f) throw new Error(`no ConnectResponse (${this.closed ? 'closed' : 'timeout'})`);
    return readConnectResponse(new JuteReader(f));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A well-behaved session: handshake, then one request at a time. */
export class HealthyClient {
  private xid = 0;
  private constructor(readonly raw: RawClient, readonly sessionId: bigint) {}

  static async connect(host: string, port: number): Promise<HealthyClient> {
    const raw = await RawClient.connect(host, port);
    const resp = await raw.handshake({ timeOutMs: 30_000 });
    if (resp.timeOutMs <= 0) throw new Error('healthy client: session refused');
    return new HealthyClient(raw, resp.sessionId);
  }

  async call(type: number, record?: Buffer, timeoutMs = REPLY_WAIT_MS): Promise<{ err: number; body: Buffer }> {
    const xid = ++this.xid;
    this.raw.send(requestFrame(xid, type, record));
    for (;;) {
      const o = await this.raw.outcome(timeoutMs);
      if (o.kind !== 'reply') throw new Error(`healthy client: ${o.kind} waiting for xid ${xid} (op ${type})`);
      if (o.header.xid === -1) continue; // a watch notification
      if (o.header.xid !== xid) throw new Error(`healthy client: reply xid ${o.header.xid}, expected ${xid}`);
      return { err: o.header.err, body: o.body };
    }
  }

  /** Create `path` with `data`, read it back, delete it; throws unless every step succeeds. */
  async roundTrip(path: string, data = Buffer.from('healthy')): Promise<void> {
    const c = await this.call(OpCode.create, createRecord(path, data));
    if (c.err !== 0) throw new Error(`healthy client: create ${path} failed with ${c.err}`);
    const g = await this.call(OpCode.getData, pathWatchRecord(path));
    if (g.err !== 0) throw new Error(`healthy client: getData ${path} failed with ${g.err}`);
    const got = new JuteReader(g.body).buffer();
    if (!got || !got.equals(data)) throw new Error(`healthy client: getData ${path} returned other data`);
    const d = await this.call(OpCode.delete, deleteRecord(path));
    if (d.err !== 0) throw new Error(`healthy client: delete ${path} failed with ${d.err}`);
  }

  close(): void {
    this.raw.destroy();
  }
}

/** Connect, send `bytes` (raw), and report what the server did. */
export async function probe(host: string, port: number, bytes: Uint8Array, timeoutMs = REPLY_WAIT_MS): Promise<Outcome> {
  const c = await RawClient.connect(host, port);
  try {
    c.send(bytes);
    return await c.outcome(timeoutMs);
  } finally {
    c.destroy();
  }
}
