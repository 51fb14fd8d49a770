/**
 * The floor the client libraries are measured against: no library at all. One socket, a
 * hand-encoded handshake, and per request a pre-encoded frame (only the xid changes) batched into
 * one write per turn of the event loop (as our client does); per reply only the frame length and
 * the error code are read. What a request costs here is what Node and the kernel charge for the
 * I/O at this concurrency; what a library costs beyond it is the library's.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { once } from 'node:events';

const OP_GET_DATA = 4;
const OP_SET_DATA = 5;
const OP_GET_CHILDREN = 8;
const OP_CLOSE_SESSION = -11;

export interface RawRequest {
  /** Encodes one request frame (length prefix included) for xid into out at offset; returns its size. */
  encode(out: Buffer, offset: number, xid: number): number;
  size: number;
}

export type RawOp = 'getData' | 'setData' | 'getChildren';

/**
 * A getData(path, watch=false), getChildren(path, watch=false) or setData(path, data, version=-1)
 * frame, pre-encoded.
 */
export function rawRequest(op: RawOp, path: string, data: Buffer): RawRequest {
  const p = Buffer.from(path, 'utf8');
  const body = op === 'setData' ? 8 + 4 + p.length + 4 + data.length + 4 : 8 + 4 + p.length + 1;
  const template = Buffer.alloc(4 + body);
  let o = template.writeInt32BE(body, 0);
  o = template.writeInt32BE(0, o); // xid, set per request
  o = template.writeInt32BE(op === 'getData' ? OP_GET_DATA : op === 'getChildren' ? OP_GET_CHILDREN : OP_SET_DATA, o);
  o = template.writeInt32BE(p.length, o);
  o += p.copy(template, o);
  if (op !== 'setData') {
    template[o] = 0;
  } else {
    o = template.writeInt32BE(data.length, o);
    o += data.copy(template, o);
    template.writeInt32BE(-1, o);
  }
  return {
    size: template.length,
    encode(out, offset, xid) {
      template.copy(out, offset);
      out.writeInt32BE(xid, offset + 4);
      return template.length;
    },
  };
}

/** A new session's ConnectRequest (protocol version 0, no previous session), length prefix included. */
export function connectRequestFrame(timeoutMs: number): Buffer {
  const frame = Buffer.alloc(4 + 4 + 8 + 4 + 8 + 4 + 16 + 1);
  let o = frame.writeInt32BE(frame.length - 4, 0);
  o = frame.writeInt32BE(0, o); // protocolVersion
  o = frame.writeBigInt64BE(0n, o); // lastZxidSeen
  o = frame.writeInt32BE(timeoutMs, o);
  o = frame.writeBigInt64BE(0n, o); // sessionId
  frame.writeInt32BE(16, o); // passwd (16 zero bytes), then readOnly false
  return frame;
}

/** One request on a new session; see requestOnNewSession. */
export interface NewSessionRequest {
  /** The reply's error code; null if the session was refused or the connection ended first. */
  reply: Promise<number | null>;
  /** Closes the connection (the reply, if still awaited, is null). */
  cancel(): void;
}

/**
 * A new session with no library: connect, handshake, then `frame` (one request, length prefix
 * included, with `xid`) once the session is open; the socket is closed as soon as its reply is in.
 */
export function requestOnNewSession(host: string, port: number, timeoutMs: number, frame: Buffer, xid: number): NewSessionRequest {
  let settle: (err: number | null) => void = () => {};
  const reply = new Promise<number | null>((resolve) => (settle = resolve));
  const socket = netConnect({ host, port, noDelay: true });
  const finish = (err: number | null): void => {
    socket.destroy();
    settle(err);
  };
  socket.on('error', () => finish(null));
  socket.on('close', () => finish(null));
  socket.on('connect', () => socket.write(connectRequestFrame(timeoutMs)));
  let pending: Buffer = Buffer.alloc(0);
  let sessionOpen = false;
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const body = pending.subarray(4, 4 + pending.readInt32BE(0));
      pending = pending.subarray(4 + body.length);
      if (!sessionOpen) {
        // ConnectResponse: protocolVersion, timeout (0: refused), sessionId, passwd.
        if (body.length < 8 || body.readInt32BE(4) <= 0) return finish(null);
        sessionOpen = true;
        socket.write(frame);
      } else if (body.length >= 16 && body.readInt32BE(0) === xid) {
        // ReplyHeader: xid, zxid, err.
        return finish(body.readInt32BE(12));
      }
    }
  });
  return { reply, cancel: () => finish(null) };
}

/** One session's life with no library: connect, handshake, closeSession and its reply. */
export async function rawConnectClose(host: string, port: number, timeoutMs: number): Promise<void> {
  const err = await requestOnNewSession(host, port, timeoutMs, closeSessionFrame(1), 1).reply;
  if (err !== 0) throw new Error(`raw-socket: ${err === null ? 'no session, or no reply to closeSession' : `closeSession failed with ${err}`}`);
}

function closeSessionFrame(xid: number): Buffer {
  const frame = Buffer.alloc(12);
  frame.writeInt32BE(8, 0);
  frame.writeInt32BE(xid, 4);
  frame.writeInt32BE(OP_CLOSE_SESSION, 8);
  return frame;
}

/**
 * Connects and establishes a session: the socket once the handshake's reply is read whole, and
 * whatever came after it. Throws (the socket destroyed) when the server refuses the session.
 */
export async function openSession(host: string, port: number, timeoutMs: number): Promise<{ socket: Socket; rest: Buffer }> {
  const socket = netConnect({ host, port, noDelay: true });
  await once(socket, 'connect');
  socket.write(connectRequestFrame(timeoutMs));
  let got = Buffer.alloc(0);
  while (got.length < 4 || got.length < 4 + got.readInt32BE(0)) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    got = Buffer.concat([got, chunk]);
  }
  const len = got.readInt32BE(0);
  if (got.readInt32BE(4 + 4) <= 0) { // the negotiated timeout, after the length and protocolVersion
    socket.destroy();
    throw new Error('the server refused the session');
  }
  return { socket, rest: got.subarray(4 + len) };
}

export class RawSession {
  private out = Buffer.allocUnsafe(64 * 1024);
  private outLen = 0;
  private flushScheduled = false;
  private pending: Buffer | null = null;
  private xid = 0;
  private onReply: ((err: number) => void) | null = null;

  private constructor(private readonly socket: Socket) {}

  /** Connects and establishes a session (protocol version 0, no previous session, 30 s timeout). */
  static async open(connectString: string, timeoutMs: number): Promise<RawSession> {
    const [host, portText] = connectString.split(',')[0].split(':');
    const { socket, rest } = await openSession(host, Number(portText), timeoutMs);
    const session = new RawSession(socket);
    if (rest.length > 0) session.pending = rest;
    socket.on('data', (chunk: Buffer) => session.onData(chunk));
    return session;
  }

  /** Every reply (in order) calls this with its error code. */
  setReplyHandler(handler: (err: number) => void): void {
    this.onReply = handler;
  }

  send(req: RawRequest): void {
    if (this.outLen + req.size > this.out.length) this.flush();
    this.xid = this.xid >= 0x7fffffff ? 1 : this.xid + 1;
    this.outLen += req.encode(this.out, this.outLen, this.xid);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.outLen === 0) return;
    this.socket.write(Buffer.from(this.out.subarray(0, this.outLen)));
    this.outLen = 0;
  };

  private onData(chunk: Buffer): void {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    let o = 0;
    while (buf.length - o >= 4) {
      const len = buf.readInt32BE(o);
      if (buf.length - o < 4 + len) break;
      const xid = buf.readInt32BE(o + 4);
      // Replies carry xid, zxid (8), err; pings (-2) and notifications (-1) are not requests'.
      if (xid >= 0) this.onReply?.(buf.readInt32BE(o + 16));
      o += 4 + len;
    }
    this.pending = o === buf.length ? null : Buffer.from(buf.subarray(o));
  }

  async close(): Promise<void> {
    this.flush();
    this.socket.end(closeSessionFrame(this.xid + 1));
    await Promise.race([once(this.socket, 'close'), new Promise((r) => setTimeout(r, 2_000))]);
    this.socket.destroy();
  }
}
