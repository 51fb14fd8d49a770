/**
 * The few ZooKeeper frames the abuse bench sends, encoded by hand (no client library, so that the
 * abusers can misbehave and the probe measures the server, not a library), and a session over a raw
 * socket whose replies are matched to requests by xid.
 */
import type { Socket } from 'node:net';
import { connectRequestFrame, openSession } from './raw-socket.ts';

const OP_CREATE = 1;
const OP_EXISTS = 3;
const OP_GET_DATA = 4;
const OP_SET_DATA = 5;
/** ZooKeeper's xid for a watch notification. */
const XID_NOTIFICATION = -1;

export { connectRequestFrame };

/** A request body (after the length and the header): what one op carries. */
type Body = Buffer;

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(4 + b.length);
  out.writeInt32BE(b.length, 0);
  b.copy(out, 4);
  return out;
}

function int(v: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(v, 0);
  return out;
}

function bytes(data: Buffer): Buffer {
  return Buffer.concat([int(data.length), data]);
}

/** create(path, data, world:anyone ALL, persistent). */
export function createBody(path: string, data: Buffer): Body {
  return Buffer.concat([str(path), bytes(data), int(1), int(31), str('world'), str('anyone'), int(0)]);
}

export function getDataBody(path: string, watch = false): Body {
  return Buffer.concat([str(path), Buffer.from([watch ? 1 : 0])]);
}

export function existsBody(path: string, watch: boolean): Body {
  return getDataBody(path, watch);
}

export function setDataBody(path: string, data: Buffer, version = -1): Body {
  return Buffer.concat([str(path), bytes(data), int(version)]);
}

/** One whole frame: length, xid, op, body. */
export function frame(xid: number, op: number, body: Body): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeInt32BE(8 + body.length, 0);
  out.writeInt32BE(xid, 4);
  out.writeInt32BE(op, 8);
  body.copy(out, 12);
  return out;
}

export const Op = { create: OP_CREATE, exists: OP_EXISTS, getData: OP_GET_DATA, setData: OP_SET_DATA } as const;

export interface Reply {
  err: number;
  /** The reply's body after the header (a Stat, data…). */
  body: Buffer;
}

/**
 * A session on a raw socket. request() sends at once and resolves with the reply of the same xid;
 * replies come in order, so a FIFO of waiters is enough. Notifications are counted and dropped.
 */
export class WireSession {
  private xid = 0;
  private readonly waiting: Array<{ xid: number; resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  private pending: Buffer | null = null;
  private closedError: Error | null = null;
  notifications = 0;

  private constructor(readonly socket: Socket) {}

  /** Connects and opens a new session (`timeoutMs` asked for). */
  static async open(host: string, port: number, timeoutMs: number): Promise<WireSession> {
    const { socket, rest } = await openSession(host, port, timeoutMs);
    const session = new WireSession(socket);
    if (rest.length > 0) session.pending = rest;
    socket.on('data', (chunk: Buffer) => session.onData(chunk));
    const ended = (err?: Error): void => session.fail(err ?? new Error('connection closed'));
    socket.on('error', ended);
    socket.on('close', () => ended());
    return session;
  }

  get outstanding(): number {
    return this.waiting.length;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  request(op: number, body: Body): Promise<Reply> {
    if (this.closedError) return Promise.reject(this.closedError);
    this.xid = this.xid >= 0x7fffffff ? 1 : this.xid + 1;
    const xid = this.xid;
    this.socket.write(frame(xid, op, body));
    return new Promise((resolve, reject) => this.waiting.push({ xid, resolve, reject }));
  }

  /** Drops the connection without closing the session (as a crashed client does). */
  destroy(): void {
    this.socket.destroy();
    this.fail(new Error('destroyed'));
  }

  private onData(chunk: Buffer): void {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    let o = 0;
    while (buf.length - o >= 4) {
      const len = buf.readInt32BE(o);
      if (buf.length - o < 4 + len) break;
      const xid = buf.readInt32BE(o + 4);
      if (xid === XID_NOTIFICATION) {
        this.notifications++;
      } else if (xid >= 0) {
        const w = this.waiting.shift();
        if (w === undefined || w.xid !== xid) {
          this.fail(new Error(`reply xid ${xid} out of order (expected ${w?.xid})`));
          return;
        }
        w.resolve({ err: buf.readInt32BE(o + 16), body: buf.subarray(o + 20, o + 4 + len) });
      }
      o += 4 + len;
    }
    this.pending = o === buf.length ? null : Buffer.from(buf.subarray(o));
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}

/** The znode's version in a getData reply's body: data, then a Stat whose version is 32 bytes in. */
export function dataReplyVersion(body: Buffer): number {
  return body.readInt32BE(4 + body.readInt32BE(0) + 32);
}
