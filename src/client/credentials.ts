/**
 * The session's credentials (addauth): sent on every connection, in the order they were added.
 * The server answers each auth packet in order, so the waiters of the packets in flight form a queue.
 */
import { Err, OpCode, Xid } from '../protocol/constants.ts';
import { writeAuthPacket } from '../protocol/requests.ts';
import type { Dispatcher } from './dispatcher.ts';
import { AuthFailedError } from './errors.ts';
import type { FrameSocket } from './frame-socket.ts';

interface Waiter { resolve: () => void; reject: (err: unknown) => void }
interface Entry { scheme: string; auth: Buffer | null; waiters: Waiter[] }

export class Credentials {
  private readonly entries: Entry[] = [];
  private inflight: Waiter[][] = [];

  constructor(private readonly dispatcher: Dispatcher) {}

  /** Credentials to send from the first connection on (those given to connect()). */
  remember(scheme: string, auth: Buffer): void {
    this.entries.push({ scheme, auth, waiters: [] });
  }

  /** Adds credentials, sent now on `conn` if there is one; resolves once the server accepts them. */
  add(scheme: string, auth: Buffer | null, conn: FrameSocket | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = { scheme, auth, waiters: [{ resolve, reject }] };
      this.entries.push(entry);
      if (conn) this.send(conn, entry);
    });
  }

  /** Promises that every credential is accepted on the next connection. */
  accepted(): Promise<unknown> {
    return Promise.all(this.entries.map((entry) => new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject }))));
  }

  sendAll(conn: FrameSocket): void {
    for (const entry of this.entries) this.send(conn, entry);
  }

  private send(conn: FrameSocket, entry: Entry): void {
    conn.writeRequest(Xid.auth, OpCode.auth, (w) => writeAuthPacket(w, { type: 0, scheme: entry.scheme, auth: entry.auth }));
    conn.scheduleFlush();
    this.inflight.push(entry.waiters.splice(0));
  }

  /** The server's answer to the oldest auth packet in flight; returns the error of a refusal. */
  answered(err: number): AuthFailedError | null {
    const waiters = this.inflight.shift() ?? [];
    if (err === Err.OK) {
      for (const w of waiters) this.dispatcher.result(w.resolve);
      return null;
    }
    const error = new AuthFailedError(Err.AUTHFAILED, undefined, 'the server refused the credentials');
    for (const w of waiters) this.dispatcher.result(() => w.reject(error));
    return error;
  }

  /** The connection closed: the packets in flight will not be answered. */
  failInflight(reason: () => unknown): void {
    for (const waiters of this.inflight) for (const w of waiters) this.dispatcher.result(() => w.reject(reason()));
    this.inflight = [];
  }

  /** The session ended: nothing waiting will be sent. */
  failWaiting(error: () => unknown): void {
    for (const entry of this.entries) for (const w of entry.waiters.splice(0)) this.dispatcher.result(() => w.reject(error()));
  }
}
