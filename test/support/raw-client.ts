/**
 * A minimal ZooKeeper protocol client for tests: one socket, the handshake, requests with automatic
 * xids answered in FIFO order, and an ordered log of every frame received (replies and watch
 * events), so a test can assert what arrived before what.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from 'node:tls';
import { CreateFlag, Err, KeeperError, OpCode, Xid, errName } from '../../src/protocol/constants.ts';
import { JuteReader, JuteWriter } from '../../src/protocol/jute.ts';
import {
  readConnectResponse, readReplyHeader, writeConnectRequest,
  type ACL, type MultiOp, type ReplyHeader, type SetWatchesRequest, type Stat,
} from '../../src/protocol/records.ts';
import {
  readCreate2Response, readCreateResponse, readErrorResponse, readGetACLResponse, readGetAllChildrenNumberResponse,
  readGetChildren2Response, readGetChildrenResponse, readGetDataResponse, readGetEphemeralsResponse,
  readMultiResponse, readStatResponse, readSyncResponse, readWatcherEvent, readWhoAmIResponse,
  writeAddWatchRequest, writeAuthPacket, writeCheckVersionRequest, writeCreateRequest, writeCreateTTLRequest,
  writeDeleteRequest, writeMultiRequest, writePathRequest, writePathTypeRequest, writePathWatchRequest,
  writeRequestHeader, writeSetACLRequest, writeSetDataRequest, writeSetWatches,
  type ClientInfo, type Create2Response, type GetACLResponse, type GetChildren2Response, type GetDataResponse,
  type MultiResult, type WatcherEvent,
} from '../../src/protocol/requests.ts';

export const OPEN_ACL_UNSAFE: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

export interface ConnectOptions {
  /** Requested session timeout (ms). */
  timeoutMs?: number;
  sessionId?: bigint;
  passwd?: Buffer;
  lastZxidSeen?: number;
  readOnly?: boolean;
  /** Give up on the handshake after this long (ms). */
  handshakeTimeoutMs?: number;
  /** Send pings every third of the negotiated timeout (default true). */
  autoPing?: boolean;
  /** Connect with TLS (a secure client port): the CA, and a client certificate if any. */
  tls?: TlsOptions;
}

export interface SessionInfo {
  protocolVersion: number;
  /** Negotiated timeout; 0 (or less) means the server refused the session (expired / bad password). */
  timeoutMs: number;
  sessionId: bigint;
  passwd: Buffer;
  readOnly: boolean;
}

export type LogEntry =
  | { kind: 'reply'; xid: number; zxid: number; err: number; type: number }
  | { kind: 'event'; zxid: number; type: number; state: number; path: string | null }
  | { kind: 'closed' };

export interface Reply {
  header: ReplyHeader;
  body: JuteReader;
}

/** The socket closed (or was never answered) before a reply arrived. */
export class ConnectionClosedError extends Error {
  constructor(message = 'connection closed') {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

/** The server answered a later request without ever answering this one. */
export class NoReplyError extends Error {
  constructor(readonly xid: number, readonly answeredXid: number) {
    super(`no reply to xid ${xid}: the server answered xid ${answeredXid} first`);
    this.name = 'NoReplyError';
  }
}

interface Waiter {
  xid: number;
  type: number;
  resolve(r: Reply): void;
  reject(e: Error): void;
}

export class RawClient {
  /** Everything received after the handshake, in arrival order (ping replies excluded). */
  readonly log: LogEntry[] = [];
  readonly closed: Promise<void>;
  private nextXid = 1;
  private readonly pending: Waiter[] = [];
  private buffered: Buffer = Buffer.alloc(0);
  private isClosed = false;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();

  private constructor(private readonly socket: Socket, readonly session: SessionInfo) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  get sessionId(): bigint {
    return this.session.sessionId;
  }

  /** The server answered the handshake with a timeout of 0 or less: the session is gone. */
  get expired(): boolean {
    return this.session.timeoutMs <= 0;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /**
   * Connect and perform the handshake. Resolves as soon as a ConnectResponse arrives (check
   * `expired`); rejects with ConnectionClosedError if the server closes without one.
   */
  static connect(host: string, port: number, opts: ConnectOptions = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = opts.tls ? tlsConnect({ host, port, ...opts.tls }) : netConnect({ host, port });
      socket.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      let done = false;
      const timer = setTimeout(() => fail(new Error('handshake timed out')), opts.handshakeTimeoutMs ?? 5000);
      const fail = (e: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      const onData = (chunk: Buffer): void => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 4) return;
        const len = buf.readInt32BE(0);
        if (buf.length < 4 + len) return;
        done = true;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', fail);
        socket.off('close', onClose);
        const res = readConnectResponse(new JuteReader(buf, 4, 4 + len));
        const session: SessionInfo = {
          protocolVersion: res.protocolVersion, timeoutMs: res.timeOutMs, sessionId: res.sessionId,
          passwd: Buffer.from(res.passwd), readOnly: res.readOnly,
        };
        const client = new RawClient(socket, session);
        client.attach(buf.subarray(4 + len), opts.autoPing ?? true);
        resolve(client);
      };
      const onClose = (): void => fail(new ConnectionClosedError('closed during handshake'));
      socket.on('data', onData);
      socket.once('error', fail);
      socket.once('close', onClose);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        const w = new JuteWriter(64);
        const mark = w.beginFrame();
        writeConnectRequest(w, {
          protocolVersion: 0,
          lastZxidSeen: opts.lastZxidSeen ?? 0,
          timeOutMs: opts.timeoutMs ?? 30_000,
          sessionId: opts.sessionId ?? 0n,
          passwd: opts.passwd ?? Buffer.alloc(16),
          readOnly: opts.readOnly ?? false,
        });
        w.endFrame(mark);
        socket.write(w.bytes());
      });
    });
  }

  private attach(rest: Buffer, autoPing: boolean): void {
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.onClose());
    if (autoPing && this.session.timeoutMs > 0) {
      this.pingTimer = setInterval(() => {
        if (!this.isClosed) this.request(OpCode.ping, undefined, { xid: Xid.ping }).catch(() => undefined);
      }, Math.max(50, Math.floor(this.session.timeoutMs / 3)));
      this.pingTimer.unref();
    }
    if (rest.length > 0) this.onData(rest);
    if (this.socket.destroyed || this.socket.readableEnded) this.onClose();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const len = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + len) break;
      const frame = this.buffered.subarray(4, 4 + len);
      this.buffered = this.buffered.subarray(4 + len);
      this.onFrame(frame);
    }
    this.wake();
  }

  private onFrame(frame: Buffer): void {
    const r = new JuteReader(frame);
    const header = readReplyHeader(r);
    if (header.xid === Xid.notification) {
      const ev = readWatcherEvent(r);
      this.log.push({ kind: 'event', zxid: header.zxid, type: ev.type, state: ev.state, path: ev.path });
      return;
    }
    // Special xids (ping, auth, setWatches) may be answered out of band; normal ones FIFO. A normal
    // reply for a later xid means the server skipped the earlier requests: they fail with NoReplyError.
    const i = this.pending.findIndex((p) => p.xid === header.xid);
    if (i < 0) {
      this.log.push({ kind: 'reply', xid: header.xid, zxid: header.zxid, err: header.err, type: NaN });
      return;
    }
    const waiter = this.pending[i];
    if (header.xid >= 0) {
      for (let j = i - 1; j >= 0; j--) {
        const skipped = this.pending[j];
        if (skipped.xid < 0) continue;
        this.pending.splice(j, 1);
        skipped.reject(new NoReplyError(skipped.xid, header.xid));
      }
    }
    this.pending.splice(this.pending.indexOf(waiter), 1);
    if (header.xid !== Xid.ping) this.log.push({ kind: 'reply', xid: header.xid, zxid: header.zxid, err: header.err, type: waiter.type });
    waiter.resolve({ header, body: r });
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.log.push({ kind: 'closed' });
    const waiting = this.pending.splice(0);
    for (const p of waiting) p.reject(new ConnectionClosedError());
    this.wake();
  }

  private wake(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves when `predicate` holds (checked after every frame), or rejects after timeoutMs. */
  waitFor(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        this.listeners.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  /** Watch events received so far. */
  events(): Array<Extract<LogEntry, { kind: 'event' }>> {
    return this.log.filter((e): e is Extract<LogEntry, { kind: 'event' }> => e.kind === 'event');
  }

  /** Wait until at least `count` events have been received in total. */
  waitForEvents(count: number, timeoutMs = 3000): Promise<void> {
    return this.waitFor(() => this.events().length >= count, timeoutMs, `${count} watch events`);
  }

  /** Wait for the server to close the connection. */
  waitForClose(timeoutMs = 3000): Promise<void> {
    return this.waitFor(() => this.isClosed, timeoutMs, 'the connection to close');
  }

  /**
   * Send one request; resolves with its reply header and a reader positioned at the body (empty
   * when err != 0). `xid` overrides the automatic one (ping -2, auth -4, setWatches -8).
   */
  request(type: number, writeBody?: (w: JuteWriter) => void, opts: { xid?: number } = {}): Promise<Reply> {
    if (this.isClosed) return Promise.reject(new ConnectionClosedError());
    let xid = opts.xid;
    if (xid === undefined) {
      xid = this.nextXid;
      this.nextXid = this.nextXid === 0x7fffffff ? 1 : this.nextXid + 1;
    }
    const w = new JuteWriter(128);
    const mark = w.beginFrame();
    writeRequestHeader(w, xid, type);
    writeBody?.(w);
    w.endFrame(mark);
    const frame = Buffer.from(w.bytes());
    return new Promise((resolve, reject) => {
      this.pending.push({ xid: xid!, type, resolve, reject });
      this.socket.write(frame);
    });
  }

  /** Send raw bytes (a whole frame, length included). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** request() + decode: `value` is set only when err is 0. */
  async call<T>(type: number, writeBody: ((w: JuteWriter) => void) | undefined, read: ((r: JuteReader) => T) | null, opts: { xid?: number } = {}): Promise<Result<T>> {
    const { header, body } = await this.request(type, writeBody, opts);
    // multi answers with a body even when err != 0 (but not when the session is gone)
    const decode = read !== null && (header.err === 0 || (type === OpCode.multi && body.remaining > 0));
    return { zxid: header.zxid, err: header.err, value: decode ? read(body) : undefined };
  }

  /** closeSession as a plain request (close() also waits for the socket to close). */
  tryClose(): Promise<Result<void>> {
    return this.call(OpCode.closeSession, undefined, null);
  }

  ping(): Promise<Reply> {
    return this.request(OpCode.ping, undefined, { xid: Xid.ping });
  }

  /** Sends closeSession and waits for its reply and for the server to close the socket. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    try {
      await this.request(OpCode.closeSession);
      await this.waitForClose(3000);
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) throw e;
    } finally {
      this.destroy();
    }
  }

  /** Drops the socket without closing the session. */
  destroy(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.socket.destroy();
  }

  // ---- typed operations: try* return the error code, the others throw KeeperError ----

  tryCreate(path: string, data: Buffer | string | null = null, o: CreateOpts = {}): Promise<Result<Create2Response | { path: string }>> {
    const flags = o.flags ?? CreateFlag.persistent;
    const acl = o.acl === undefined ? OPEN_ACL_UNSAFE : o.acl;
    const req = { path, data: toBuf(data), acl, flags, ttl: o.ttl ?? -1 };
    const type = o.opcode ?? (o.ttl !== undefined ? OpCode.createTTL : flags === CreateFlag.container ? OpCode.createContainer : OpCode.create2);
    if (type === OpCode.create) return this.call(type, (w) => writeCreateRequest(w, req), readCreateResponse);
    return this.call(type, (w) => (type === OpCode.createTTL ? writeCreateTTLRequest(w, req) : writeCreateRequest(w, req)), readCreate2Response);
  }

  async create(path: string, data: Buffer | string | null = null, o: CreateOpts = {}): Promise<string> {
    return ok(await this.tryCreate(path, data, o), path).path;
  }

  tryDelete(path: string, version = -1): Promise<Result<void>> {
    return this.call(OpCode.delete, (w) => writeDeleteRequest(w, { path, version }), null);
  }

  async delete(path: string, version = -1): Promise<void> {
    ok(await this.tryDelete(path, version), path, true);
  }

  tryExists(path: string, watch = false): Promise<Result<Stat>> {
    return this.call(OpCode.exists, (w) => writePathWatchRequest(w, { path, watch }), readStatResponse);
  }

  /** The Stat, or null for NONODE. */
  async exists(path: string, watch = false): Promise<Stat | null> {
    const r = await this.tryExists(path, watch);
    if (r.err === Err.NONODE) return null;
    return ok(r, path);
  }

  tryGetData(path: string, watch = false): Promise<Result<GetDataResponse>> {
    return this.call(OpCode.getData, (w) => writePathWatchRequest(w, { path, watch }), readGetDataResponse);
  }

  async getData(path: string, watch = false): Promise<GetDataResponse> {
    return ok(await this.tryGetData(path, watch), path);
  }

  trySetData(path: string, data: Buffer | string | null, version = -1): Promise<Result<Stat>> {
    return this.call(OpCode.setData, (w) => writeSetDataRequest(w, { path, data: toBuf(data), version }), readStatResponse);
  }

  async setData(path: string, data: Buffer | string | null, version = -1): Promise<Stat> {
    return ok(await this.trySetData(path, data, version), path);
  }

  tryGetChildren(path: string, watch = false): Promise<Result<string[]>> {
    return this.call(OpCode.getChildren, (w) => writePathWatchRequest(w, { path, watch }), readGetChildrenResponse);
  }

  async getChildren(path: string, watch = false): Promise<string[]> {
    return ok(await this.tryGetChildren(path, watch), path);
  }

  tryGetChildren2(path: string, watch = false): Promise<Result<GetChildren2Response>> {
    return this.call(OpCode.getChildren2, (w) => writePathWatchRequest(w, { path, watch }), readGetChildren2Response);
  }

  async getChildren2(path: string, watch = false): Promise<GetChildren2Response> {
    return ok(await this.tryGetChildren2(path, watch), path);
  }

  tryGetACL(path: string): Promise<Result<GetACLResponse>> {
    return this.call(OpCode.getACL, (w) => writePathRequest(w, path), readGetACLResponse);
  }

  async getACL(path: string): Promise<GetACLResponse> {
    return ok(await this.tryGetACL(path), path);
  }

  trySetACL(path: string, acl: ACL[] | null, version = -1): Promise<Result<Stat>> {
    return this.call(OpCode.setACL, (w) => writeSetACLRequest(w, { path, acl, version }), readStatResponse);
  }

  async setACL(path: string, acl: ACL[] | null, version = -1): Promise<Stat> {
    return ok(await this.trySetACL(path, acl, version), path);
  }

  trySync(path: string): Promise<Result<string>> {
    return this.call(OpCode.sync, (w) => writePathRequest(w, path), readSyncResponse);
  }

  /** Standalone check (opcode 13 outside a multi): the body is decoded as a Stat when present. */
  tryCheck(path: string, version: number): Promise<Result<Stat | null>> {
    return this.call(OpCode.check, (w) => writeCheckVersionRequest(w, { path, version }), (r) => (r.remaining >= 68 ? readStatResponse(r) : null));
  }

  tryMulti(ops: MultiOp[]): Promise<Result<MultiResult[]>> {
    return this.call(OpCode.multi, (w) => writeMultiRequest(w, ops), readMultiResponse);
  }

  tryMultiRead(ops: MultiOp[]): Promise<Result<MultiResult[]>> {
    return this.call(OpCode.multiRead, (w) => writeMultiRequest(w, ops), readMultiResponse);
  }

  /** AuthPacket with xid -4. A failure (AUTHFAILED) is followed by the server closing. */
  tryAuth(scheme: string, auth: Buffer | string): Promise<Result<void>> {
    return this.call(OpCode.auth, (w) => writeAuthPacket(w, { type: 0, scheme, auth: toBuf(auth) }), null, { xid: Xid.auth });
  }

  async addAuth(scheme: string, auth: Buffer | string): Promise<void> {
    ok(await this.tryAuth(scheme, auth), scheme, true);
  }

  tryWhoAmI(): Promise<Result<ClientInfo[]>> {
    return this.call(OpCode.whoAmI, undefined, readWhoAmIResponse);
  }

  tryGetEphemerals(prefix: string | null): Promise<Result<string[]>> {
    return this.call(OpCode.getEphemerals, (w) => writePathRequest(w, prefix), readGetEphemeralsResponse);
  }

  tryGetAllChildrenNumber(path: string): Promise<Result<number>> {
    return this.call(OpCode.getAllChildrenNumber, (w) => writePathRequest(w, path), readGetAllChildrenNumberResponse);
  }

  tryAddWatch(path: string, mode: number): Promise<Result<number>> {
    return this.call(OpCode.addWatch, (w) => writeAddWatchRequest(w, { path, mode }), readErrorResponse);
  }

  tryCheckWatches(path: string, type: number): Promise<Result<void>> {
    return this.call(OpCode.checkWatches, (w) => writePathTypeRequest(w, { path, type }), null);
  }

  tryRemoveWatches(path: string, type: number): Promise<Result<void>> {
    return this.call(OpCode.removeWatches, (w) => writePathTypeRequest(w, { path, type }), null);
  }

  /** Any opcode with a raw body; the reply body is returned undecoded. */
  tryRaw(type: number, body: Buffer): Promise<Result<Buffer>> {
    return this.call(type, (w) => w.raw(body), (r) => Buffer.from(r.buf.subarray(r.offset, r.end)));
  }

  /** SetWatches (v1) or SetWatches2, with xid -8 as the Java client sends it. */
  trySetWatches(req: Partial<SetWatchesRequest> & { relativeZxid: number }, v2 = false): Promise<Result<void>> {
    const full: SetWatchesRequest = {
      dataWatches: [], existWatches: [], childWatches: [], persistentWatches: [], persistentRecursiveWatches: [], ...req,
    };
    return this.call(v2 ? OpCode.setWatches2 : OpCode.setWatches, (w) => writeSetWatches(w, full, v2), null, { xid: Xid.setWatches });
  }
}

export interface Result<T> {
  zxid: number;
  err: number;
  value: T | undefined;
}

export interface CreateOpts {
  flags?: number;
  acl?: ACL[] | null;
  ttl?: number;
  /** Force the opcode (default: create2, createTTL when ttl is given, createContainer for flags 4). */
  opcode?: number;
}

function toBuf(d: Buffer | string | null): Buffer | null {
  return typeof d === 'string' ? Buffer.from(d, 'utf8') : d;
}

function ok<T>(r: Result<T>, path: string, voidOk = false): T {
  if (r.err !== 0) throw new KeeperError(r.err, path);
  if (r.value === undefined && !voidOk) throw new Error(`no body in reply for ${path}`);
  return r.value as T;
}

export function errorName(code: number): string {
  return errName.get(code) ?? String(code);
}

export type { WatcherEvent, MultiResult };

/** A reply, or what became of a request that got none within `timeoutMs`. */
export async function outcomeOf<T>(p: Promise<T>, timeoutMs: number): Promise<T | 'connectionClosed' | 'noReply'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'noReply'>((resolve) => { timer = setTimeout(() => resolve('noReply'), timeoutMs); });
  try {
    return await Promise.race([p, timeout]);
  } catch (e) {
    if (e instanceof ConnectionClosedError) return 'connectionClosed';
    if (e instanceof NoReplyError) return 'noReply';
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
