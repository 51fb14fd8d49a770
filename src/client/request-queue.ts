/**
 * The requests of a session: those waiting for a connection, and those sent on it, which the
 * server answers in the order they were sent. Results and errors go out through the Dispatcher.
 */
import { Err } from '../protocol/constants.ts';
import { JuteError, type JuteReader, type JuteWriter } from '../protocol/jute.ts';
import type { Dispatcher } from './dispatcher.ts';
import { MarshallingError } from './errors.ts';
import type { FrameSocket } from './frame-socket.ts';

export interface Request {
  op: number;
  xid: number;
  encode: (w: JuteWriter) => void;
  /** Runs when the reply arrives, in reply order: returns the result or throws the error. */
  complete: (err: number, body: JuteReader) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  settled: boolean;
  cleanup?: () => void;
  rescue?: (err: unknown) => boolean;
}

export class RequestQueue {
  private xid = 0;
  private readonly waiting: Request[] = [];
  private inflight: Request[] = [];
  private inflightHead = 0;

  /** `seen` hears the zxid of every reply that carries one. */
  constructor(private readonly dispatcher: Dispatcher, private readonly seen: (zxid: number) => void) {}

  /** Sends on `conn`, or keeps the request until sendWaiting() when there is no connection. */
  submit(req: Request, conn: FrameSocket | null): void {
    if (conn) this.send(conn, req);
    else this.waiting.push(req);
  }

  sendWaiting(conn: FrameSocket): void {
    for (const req of this.waiting.splice(0)) this.send(conn, req);
  }

  private send(conn: FrameSocket, req: Request): void {
    this.xid = this.xid >= 0x7fffffff ? 1 : this.xid + 1;
    req.xid = this.xid;
    conn.writeRequest(req.xid, req.op, req.encode);
    conn.scheduleFlush();
    this.inflight.push(req);
  }

  /** Settles a request with an error (in order); a reply that comes later for it is dropped. */
  fail(req: Request, err: unknown): void {
    if (req.settled) return;
    req.settled = true;
    req.cleanup?.();
    const i = this.waiting.indexOf(req);
    if (i >= 0) this.waiting.splice(i, 1);
    this.dispatcher.result(() => (req.rescue?.(err) ? req.resolve(undefined) : req.reject(err)));
  }

  /** Fails every request sent or waiting, sent ones first. */
  failAll(reason: () => unknown): void {
    const inflight = this.inflight.slice(this.inflightHead);
    this.inflight = [];
    this.inflightHead = 0;
    for (const req of inflight) this.fail(req, reason());
    for (const req of [...this.waiting]) this.fail(req, reason());
  }

  /** The reply to the oldest request sent; a reply out of order is a protocol error (JuteError). */
  reply(xid: number, zxid: number, err: number, body: JuteReader): void {
    const req = this.inflight[this.inflightHead];
    if (req === undefined || req.xid !== xid) {
      throw new JuteError(`reply xid ${xid} out of order (expected ${req?.xid ?? 'none'})`);
    }
    this.inflight[this.inflightHead++] = undefined as unknown as Request;
    if (this.inflightHead === this.inflight.length) {
      this.inflight = [];
      this.inflightHead = 0;
    }
    if (zxid > 0) this.seen(zxid);
    if (req.settled) return;
    req.settled = true;
    req.cleanup?.();
    let value: unknown;
    let error: unknown;
    let failed = false;
    try {
      value = req.complete(err, body);
    } catch (e) {
      failed = true;
      error = e instanceof JuteError ? new MarshallingError(Err.MARSHALLINGERROR, undefined, e.message) : e;
    }
    if (failed) this.dispatcher.result(() => req.reject(error));
    else this.dispatcher.resolve(req.resolve, value);
  }
}
