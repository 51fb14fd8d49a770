/**
 * One client connection: the handshake, then requests in, replies out in request order, watch
 * events pushed as they fire. A connection is the Watcher its watches are registered to.
 */
import { Err, OpCode, Xid } from '../../protocol/constants.ts';
import { JuteError, JuteReader, JuteWriter } from '../../protocol/jute.ts';
import { readAuth, readConnectRequest, writeConnectResponse, writeWatcherEvent, type Id } from '../../protocol/records.ts';
import { KeeperState } from '../../protocol/constants.ts';
import type { ClientCounters } from '../admin/client-counters.ts';
import type { AuthEnforcement, SaslAuthenticator } from '../auth/sasl.ts';
import type { DigestMd5ServerExchange } from '../auth/sasl-digest-md5.ts';
import { SaslError } from '../../protocol/sasl-digest-md5.ts';
import type { ServerConfig } from '../config.ts';
import type { Clock, Scheduler, Timer } from '../env/environment.ts';
import { WRITE_OPS } from '../pipeline/client-write.ts';
import { READ_OPS, executeRead, type ReadContext } from '../pipeline/reads.ts';
import { frame, writeFrame, writeHeader, writeReply } from '../pipeline/replies.ts';
import type { ServerStats } from '../stats.ts';
import type { ApplyResult } from '../tree/data-tree.ts';
import type { Watcher } from '../watches/watches.ts';
import { clientAddress, type ByteLimit, type ConnectionLimits } from './limits.ts';
import { OutputBuffer } from './output-buffer.ts';
import { requestFields } from './request-log.ts';
import { sessionIdHex } from '../session/session-tracker.ts';
import { FrameDecoder, FrameTooLargeError } from '../../protocol/frame-decoder.ts';

/** What a connection uses of its socket: a TCP socket, or a simulated one. */
export interface ConnectionSocket {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
  setNoDelay(noDelay?: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error' | 'close' | 'drain', listener: () => void): unknown;
  write(data: Buffer): boolean;
  end(): unknown;
  end(data: string | Buffer): unknown;
  destroy(): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** What a connection needs from the server that accepted it. */
export interface ConnectionHost {
  readonly config: ServerConfig;
  readonly log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void; debug(obj: object, msg?: string): void; isLevelEnabled(level: string): boolean };
  readonly stats: ServerStats;
  readonly clientCounters: ClientCounters;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly limits: ConnectionLimits;
  /** Close connections, the one holding most first, until what `limit` counts over all of them is within it. */
  shed(limit: ByteLimit): void;
  /** The last zxid applied: the one replies carry. */
  readonly lastZxid: number;
  /** The answer to a four-letter word, or null when `code` is not one. */
  fourLetterWord(code: number): string | null;
  readContext(conn: Connection): ReadContext;
  authenticate(scheme: string, auth: Buffer | null, clientAddr: string): Id[] | null;
  /** Set when SASL is configured: each connection's SASL packets are a DIGEST-MD5 exchange. */
  readonly sasl?: SaslAuthenticator;
  /** Set when authentication is enforced (sessionRequireClientSASLAuth, enforce.auth.*). */
  readonly authEnforcement?: AuthEnforcement;
  /** The session was heard from; false when it is closing or gone (its request is then dropped). */
  touch(conn: Connection): boolean;
  createSession(conn: Connection, timeoutMs: number): void;
  reopenSession(conn: Connection, sessionId: bigint, passwd: Buffer, timeoutMs: number): void;
  /** A write as it came off the wire: its opcode, and its body still in `body`. */
  submitWrite(conn: Connection, xid: number, type: number, body: JuteReader): void;
  /** Set in an ensemble: a sync is answered only once `then` runs (ReadIndex). */
  readonly readBarrier?: (then: () => void) => void;
  /** The connection is closed. */
  forget(conn: Connection): void;
}

/**
 * Where a connection is in its life: waiting for the ConnectRequest, waiting for its session to be
 * created or checked (nothing more is read), serving, closing its session (ZooKeeper reads nothing
 * after closeSession), closed.
 */
const enum Phase { Handshake, AwaitingSession, Open, ClosingSession, Closed }

/** Requests of one connection taken in one turn of the event loop, at most (yieldTurn). */
export const REQUESTS_PER_TURN = 64;

/** A request waiting for its turn to be answered. One shape for every kind, so that the queue stays fast. */
class Pending {
  /** Reads run when they reach the head of the queue; writes are answered once applied. */
  reader: JuteReader | undefined = undefined;
  /** A write sent on for its Txn to be applied. */
  write = false;
  /** A reply prepared in advance. */
  reply: Buffer | undefined = undefined;
  /** An applied write: its result, encoded when it reaches the head of the queue. */
  result: ApplyResult | undefined = undefined;
  zxid = 0;
  /** The write failed in prep: the reply is the bare error, whatever the request type. */
  failed = false;
  /** Close the connection once this reply is sent. */
  closeAfter = false;
  /** A read that waits for a read barrier before it may run (an ensemble's sync). */
  held = false;
  /** A write that came behind a held sync: sent on once the syncs before it are done. */
  body: JuteReader | undefined = undefined;
  /** When the request came in (monotonic ms), for its latency. */
  startedMs = 0;

  constructor(readonly xid: number, readonly type: number) {}

  static read(xid: number, type: number, reader: JuteReader): Pending {
    const p = new Pending(xid, type);
    p.reader = reader;
    return p;
  }

  static write(xid: number, type: number): Pending {
    const p = new Pending(xid, type);
    p.write = true;
    return p;
  }

  static answered(xid: number, type: number, reply: Buffer, closeAfter = false): Pending {
    const p = new Pending(xid, type);
    p.reply = reply;
    p.closeAfter = closeAfter;
    return p;
  }
}

export class Connection implements Watcher {
  sessionId = 0n;
  /** Syncs waiting for their read barrier. */
  private heldSyncs = 0;
  sessionTimeoutMs = 0;
  readonly authInfo: Id[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly connectedAtMs: number;
  private readonly decoder: FrameDecoder;
  private readonly queue: Pending[] = [];
  private phase = Phase.Handshake;
  private oldClient = false;
  /** Replies and events of this turn of the event loop, written to the socket at its end. */
  private readonly out = new OutputBuffer();
  private flushScheduled = false;
  /** Inside onData, which writes what its requests produced when it is done. */
  private inData = false;
  /** Requests are left in the decoder until a later turn (yieldTurn). */
  private yielded = false;
  private readContext: ReadContext | null = null;
  private saslExchange: DigestMd5ServerExchange | null = null;
  private paused = false;
  /** Not read because of globalOutstandingLimit (counted once each time it starts). */
  private throttled = false;
  /** What this connection last added to the server's totals of requests in flight, bytes not yet sent and bytes not yet read. */
  private countedOutstanding = 0;
  private countedOutputBytes = 0;
  private countedInputBytes = 0;
  private readonly handshakeTimer: Timer;
  inFlightWrites = 0;
  /** Each request logged (the level is read once per connection: the check costs on every request). */
  private readonly debugLog: boolean;
  // Statistics for cons/stat.
  packetsReceived = 0;
  packetsSent = 0;
  lastZxid = -1;
  lastOp = 'NA';
  lastCxid = -1;
  lastLatencyMs = 0;
  minLatencyMs = Infinity;
  maxLatencyMs = 0;
  totalLatencyMs = 0;
  latencyCount = 0;

  constructor(private readonly socket: ConnectionSocket, private readonly server: ConnectionHost) {
    this.connectedAtMs = server.clock.now();
    this.remoteAddress = clientAddress(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
    this.authInfo = [{ scheme: 'ip', id: this.remoteAddress }];
    this.decoder = new FrameDecoder(server.config.juteMaxBufferBytes);
    this.debugLog = server.log.isLevelEnabled('debug');
    // From the opening, not from the last byte as ZooKeeper does: one byte at a time does not keep it open.
    this.handshakeTimer = server.scheduler.after(server.config.sessionlessCnxnTimeoutMs, () => this.handshakeTimedOut());
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.on('drain', () => this.updateFlow());
  }

  get isClosed(): boolean {
    return this.phase === Phase.Closed;
  }

  get outstanding(): number {
    return this.queue.length;
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    this.decoder.push(chunk);
    this.account();
    if (this.server.limits.over('ensemble.maxInputBytes')) {
      this.server.shed('ensemble.maxInputBytes');
      if (this.isClosed) return;
    }
    this.processTurn();
  }

  /** The replies to the requests taken in one turn leave in one write as soon as they are processed. */
  private processTurn(): void {
    this.inData = true;
    this.processFrames();
    this.inData = false;
    if (this.isClosed || this.out.pending === 0) return;
    this.flush();
    this.updateFlow();
  }

  /**
   * A client with many requests in one read (a deep pipeline) has REQUESTS_PER_TURN of them taken
   * now and the rest on a later turn, so that other connections' requests are taken in between.
   */
  private yieldTurn(): void {
    this.yielded = true;
    this.server.scheduler.soon(() => {
      this.yielded = false;
      if (this.isClosed) return;
      this.processTurn();
      this.updateFlow();
    });
  }

  private processFrames(): void {
    try {
      if (this.phase === Phase.Handshake) {
        const word = this.decoder.peekInt();
        if (word !== null && this.packetsReceived === 0) {
          const reply = this.server.fourLetterWord(word);
          if (reply !== null) {
            this.endSocket(reply);
            this.phase = Phase.Closed;
            this.server.forget(this);
            return;
          }
        }
      }
      let body: JuteReader | null;
      let taken = 0;
      while (!this.yielded && (this.phase === Phase.Handshake || this.phase === Phase.Open) && (body = this.decoder.nextReader()) !== null) {
        this.packetsReceived++;
        this.server.stats.packetsReceived++;
        if (this.phase === Phase.Handshake) this.handleConnect(body);
        else {
          this.handleRequest(body);
          // The requests after it wait in the decoder until reading resumes.
          if (this.mustPause()) break;
          if (++taken >= REQUESTS_PER_TURN && this.decoder.buffered > 0) {
            this.yieldTurn();
            break;
          }
        }
      }
    } catch (e) {
      if (e instanceof FrameTooLargeError && e.length > this.decoder.maxBytes) {
        this.server.limits.reached('jute.maxbuffer', { remote: this.remoteAddress, length: e.length, max: this.decoder.maxBytes });
        this.close();
        return;
      }
      if (e instanceof FrameTooLargeError || e instanceof JuteError) {
        this.server.log.warn({ remote: this.remoteAddress, err: e.message }, 'closing connection: malformed packet');
        this.close();
        return;
      }
      // A bug must cost this connection, never the server.
      this.server.log.error({ remote: this.remoteAddress, err: e instanceof Error ? e.stack : String(e) }, 'closing connection: internal error');
      this.close();
      return;
    }
    this.updateFlow();
  }

  private handleConnect(r: JuteReader): void {
    const req = readConnectRequest(r);
    this.handshakeTimer.cancel();
    this.oldClient = !req.hasReadOnlyFlag;
    if (req.lastZxidSeen > this.server.lastZxid) {
      this.server.log.info({ remote: this.remoteAddress }, `refusing session: client has seen zxid 0x${req.lastZxidSeen.toString(16)}, ours is 0x${this.server.lastZxid.toString(16)}`);
      this.close();
      return;
    }
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.server.config;
    this.sessionTimeoutMs = Math.min(Math.max(req.timeOutMs, minSessionTimeoutMs), maxSessionTimeoutMs);
    // Nothing after the handshake is read until it is answered, so no reply overtakes it.
    this.phase = Phase.AwaitingSession;
    if (req.sessionId === 0n) this.server.createSession(this, this.sessionTimeoutMs);
    else this.server.reopenSession(this, req.sessionId, req.passwd, this.sessionTimeoutMs);
  }

  /** nio.sessionlessCnxnTimeout has passed since the connection opened, and its ConnectRequest is not in. */
  private handshakeTimedOut(): void {
    if (this.phase !== Phase.Handshake) return;
    const { sessionlessCnxnTimeoutMs } = this.server.config;
    this.server.limits.reached('nio.sessionlessCnxnTimeout', { remote: this.remoteAddress, bytesReceived: this.decoder.buffered, timeoutMs: sessionlessCnxnTimeoutMs });
    this.close();
  }

  /** Answer the handshake; an invalid session gets timeout 0 and the connection closes. */
  sendConnectResponse(valid: boolean, passwd: Buffer): void {
    if (this.isClosed) return;
    const w = new JuteWriter(64);
    const mark = w.beginFrame();
    writeConnectResponse(w, {
      protocolVersion: 0,
      timeOutMs: valid ? this.sessionTimeoutMs : 0,
      sessionId: valid ? this.sessionId : 0n,
      passwd: valid ? passwd : Buffer.alloc(16),
      readOnly: false,
    }, !this.oldClient);
    w.endFrame(mark);
    this.send(w.bytes());
    this.phase = Phase.Open;
    if (!valid) this.closeAfterFlush();
    else if (this.decoder.buffered > 0) queueMicrotask(() => this.processFrames());
  }

  private handleRequest(r: JuteReader): void {
    // RequestHeader: xid, type.
    const requestXid = r.int();
    const type = r.int();
    if (this.debugLog) this.server.log.debug(requestFields(this.sessionId, requestXid, type, r), 'request');
    if (!this.server.touch(this)) {
      // ZooKeeperServer.submitRequest drops a closing session's request unanswered ("Dropping
      // request"): its end is on the way, and closes this connection.
      if (this.debugLog) this.server.log.debug({ session: sessionIdHex(this.sessionId), xid: requestXid }, 'request of a closing session dropped');
      return;
    }
    this.lastCxid = requestXid;
    if (type === OpCode.auth) return this.handleAuth(requestXid, r);
    if (type === OpCode.sasl && this.server.sasl !== undefined) return this.handleSasl(requestXid, r, this.server.sasl);
    if (type !== OpCode.sasl && this.server.authEnforcement?.allows(this.authInfo) === false) return this.refuseUnauthenticated(requestXid);
    const arrivedMs = this.server.clock.monotonic();
    if (type === OpCode.sync && this.server.readBarrier !== undefined) {
      const pending = Pending.read(requestXid, type, r);
      pending.startedMs = arrivedMs;
      pending.held = true;
      this.queue.push(pending);
      this.heldSyncs++;
      this.server.readBarrier(() => {
        // A write held behind the sync of a connection gone must never go: its client has given it
        // up, and may have written since through another member.
        if (this.isClosed) return;
        pending.held = false;
        this.heldSyncs--;
        this.releaseWrites();
        this.pump();
      });
      return;
    }
    if (READ_OPS.has(type)) {
      // Pings are answered with the ping xid whatever the request carried.
      const xid = type === OpCode.ping ? Xid.ping : requestXid;
      // Nothing ahead of it: answered at once, with nothing queued.
      if (this.queue.length === 0) this.answerRead(xid, type, r, arrivedMs);
      else {
        const pending = Pending.read(xid, type, r);
        pending.startedMs = arrivedMs;
        this.queue.push(pending);
      }
      return;
    }
    const xid = requestXid;
    if (!WRITE_OPS.has(type)) {
      // UnimplementedRequestProcessor: answer, then close.
      this.queue.push(Pending.answered(xid, type, frame(xid, -1, Err.UNIMPLEMENTED), true));
      this.pump();
      return;
    }
    const pending = Pending.write(xid, type);
    pending.startedMs = arrivedMs;
    if (type === OpCode.closeSession) {
      pending.closeAfter = true;
      this.phase = Phase.ClosingSession;
    }
    this.queue.push(pending);
    this.inFlightWrites++;
    // A session's write follows its sync (its Txn, and so its zxid, comes after the sync's point).
    if (this.heldSyncs > 0) pending.body = r;
    else this.server.submitWrite(this, xid, type, r);
  }

  /** Writes that waited behind syncs now done go on, in order, up to the next sync still held. */
  private releaseWrites(): void {
    for (const p of this.queue) {
      if (p.held) return;
      if (p.body === undefined) continue;
      const body = p.body;
      p.body = undefined;
      this.server.submitWrite(this, p.xid, p.type, body);
    }
  }

  private handleAuth(xid: number, r: JuteReader): void {
    const { scheme, auth } = readAuth(r);
    const ids = this.server.authenticate(scheme, auth, this.remoteAddress);
    if (ids === null) {
      this.queue.push(Pending.answered(xid, OpCode.auth, frame(xid, 0, Err.AUTHFAILED), true));
    } else {
      for (const id of ids) {
        if (!this.authInfo.some((a) => a.scheme === id.scheme && a.id === id.id)) this.authInfo.push(id);
      }
      this.queue.push(Pending.answered(xid, OpCode.auth, frame(xid, 0, 0)));
    }
    this.pump();
  }

  /**
   * ZooKeeperServer.processSasl: a GetSASLRequest's token goes to this connection's exchange; the
   * SetSASLResponse carries the reply (zxid 0). A failed exchange is answered AUTHFAILED with a
   * null token, and the connection closes (its session lives on until it expires).
   */
  private handleSasl(xid: number, r: JuteReader, sasl: SaslAuthenticator): void {
    const token = r.buffer();
    // ZooKeeper fails on a null token (it reads its length) and drops the connection unanswered.
    if (token === null) throw new JuteError('GetSASLRequest without a token');
    this.saslExchange ??= sasl.exchange();
    try {
      const { reply, user } = this.saslExchange.evaluate(token);
      if (user !== undefined) {
        for (const id of sasl.identitiesOf(user)) {
          if (!this.authInfo.some((a) => a.scheme === id.scheme && a.id === id.id)) this.authInfo.push(id);
        }
        this.server.log.info({ session: `0x${this.sessionId.toString(16)}`, user }, 'SASL authenticated');
      }
      this.queue.push(Pending.answered(xid, OpCode.sasl, frame(xid, 0, 0, (w) => w.buffer(reply))));
    } catch (e) {
      if (!(e instanceof SaslError)) throw e;
      if (sasl.keepsFailedClients && this.server.authEnforcement?.saslRequired !== true) {
        // ZooKeeper then answers as it answers a finished exchange: OK, no token.
        this.server.log.warn({ remote: this.remoteAddress, err: e.message }, 'SASL authentication failed: keeping the connection (allowSaslFailedClients)');
        this.queue.push(Pending.answered(xid, OpCode.sasl, frame(xid, 0, 0, (w) => w.buffer(null))));
        this.pump();
        return;
      }
      this.server.log.warn({ remote: this.remoteAddress, err: e.message }, 'closing connection: SASL authentication failed');
      const err = this.server.authEnforcement?.saslRequired === true ? Err.SESSIONCLOSEDREQUIRESASLAUTH : Err.AUTHFAILED;
      // Unlike other errors, this one carries its (null) SetSASLResponse.
      const w = new JuteWriter(24);
      const mark = w.beginFrame();
      writeHeader(w, xid, 0, err).buffer(null);
      w.endFrame(mark);
      this.queue.push(Pending.answered(xid, OpCode.sasl, w.bytes(), true));
    }
    this.pump();
  }

  /** AuthenticationHelper.enforceAuthentication: answered SESSIONCLOSEDREQUIRESASLAUTH, then closed. */
  private refuseUnauthenticated(xid: number): void {
    this.server.log.warn({ remote: this.remoteAddress, schemes: this.authInfo.map((a) => a.scheme) }, 'closing connection: it has not authenticated as required');
    this.queue.push(Pending.answered(xid, -1, frame(xid, 0, Err.SESSIONCLOSEDREQUIRESASLAUTH), true));
    this.pump();
  }

  /**
   * The write `xid` was applied: keep its result (the reply is encoded when its turn comes) and
   * answer whatever is now at the head of the queue. `failed`: it failed in prep (an error txn).
   */
  writeDone(xid: number, zxid: number, result: ApplyResult, failed: boolean): void {
    if (this.isClosed) return;
    // Writes are applied in the order they were sent: the oldest one waiting is this one.
    let pending: Pending | undefined;
    const queue = this.queue;
    for (let i = 0; i < queue.length; i++) {
      if (queue[i].write && queue[i].result === undefined) {
        pending = queue[i];
        break;
      }
    }
    if (pending === undefined || pending.xid !== xid) return;
    pending.zxid = zxid;
    pending.result = result;
    pending.failed = failed;
    this.inFlightWrites--;
    this.pump();
  }

  /** Send replies in request order: reads run when they reach the head, writes wait to be applied. */
  pump(): void {
    while (this.queue.length > 0 && !this.isClosed) {
      const head = this.queue[0];
      if (head.reader !== undefined) {
        if (head.held) break;
        this.queue.shift();
        this.answerRead(head.xid, head.type, head.reader, head.startedMs);
        continue;
      }
      if (head.result !== undefined) {
        this.queue.shift();
        const out = this.out;
        const from = out.pending;
        if (head.failed) writeFrame(out, head.xid, head.zxid, head.result.err);
        else writeReply(out, head.type, head.xid, head.zxid, head.result);
        this.server.clientCounters.recordResponse(out.pending - from - 4);
        this.server.stats.recordRequest(head.type, this.server.clock.monotonic() - head.startedMs, true);
        this.recordLatency(head.startedMs);
        this.sent(head.type);
      } else if (head.reply !== undefined) {
        this.queue.shift();
        this.send(head.reply);
        this.server.clientCounters.recordResponse(head.reply.length - 4);
        this.lastOp = opShortName(head.type);
        this.lastZxid = this.server.lastZxid;
      } else {
        break; // a write still in commit
      }
      if (head.closeAfter) {
        this.closeAfterFlush();
        return;
      }
    }
    this.updateFlow();
  }

  /** Run a read against the applied tree and encode its reply. */
  private answerRead(xid: number, type: number, r: JuteReader, arrivedMs: number): void {
    const startedMs = this.server.clock.monotonic();
    this.readContext ??= this.server.readContext(this);
    const from = this.out.pending;
    executeRead(this.readContext, type, xid, r, this.out);
    this.server.clientCounters.recordResponse(this.out.pending - from - 4);
    this.recordLatency(arrivedMs);
    this.server.stats.recordRequest(type, this.server.clock.monotonic() - startedMs, false);
    this.sent(type);
  }

  /** A reply was encoded into the output: count it and have it written at the end of this turn. */
  private sent(type: number): void {
    this.lastOp = opShortName(type);
    this.lastZxid = this.server.lastZxid;
    this.queued();
  }

  /**
   * As ZooKeeper's ServerStats: every answered request (pings, reads, writes), in whole ms from its
   * arrival (the difference of two ms clock readings).
   */
  private recordLatency(arrivedMs: number): void {
    const ms = Math.floor(this.server.clock.monotonic()) - Math.floor(arrivedMs);
    this.lastLatencyMs = ms;
    this.minLatencyMs = Math.min(this.minLatencyMs, ms);
    this.maxLatencyMs = Math.max(this.maxLatencyMs, ms);
    this.totalLatencyMs += ms;
    this.latencyCount++;
    this.server.stats.recordLatency(ms);
  }

  /** crst: this connection's figures start again. */
  resetStats(): void {
    this.packetsReceived = 0;
    this.packetsSent = 0;
    this.lastZxid = -1;
    this.lastOp = 'NA';
    this.lastCxid = -1;
    this.lastLatencyMs = 0;
    this.minLatencyMs = Infinity;
    this.maxLatencyMs = 0;
    this.totalLatencyMs = 0;
    this.latencyCount = 0;
  }

  notify(type: number, path: string, _zxid: number): void {
    if (this.isClosed) return;
    const w = this.out;
    const mark = w.beginFrame();
    writeHeader(w, Xid.notification, -1, 0);
    writeWatcherEvent(w, type, KeeperState.SyncConnected, path);
    w.endFrame(mark);
    this.server.clientCounters.recordResponse(w.pending - mark - 4);
    this.queued();
  }

  /** Queue a complete frame for the end of this turn. */
  send(buf: Buffer): void {
    if (this.isClosed) return;
    this.out.raw(buf);
    this.queued();
  }

  /** A frame was added to the output: count it, and have it written at the end of this turn. */
  private queued(): void {
    this.packetsSent++;
    this.server.stats.packetsSent++;
    const held = this.heldOutputBytes;
    const max = this.server.config.maxOutputBytesPerConnection;
    if (held > max) {
      this.server.limits.reached('ensemble.maxOutputBytesPerConnection', { remote: this.remoteAddress, heldBytes: held, max });
      this.close();
      return;
    }
    this.account();
    if (this.server.limits.over('ensemble.maxOutputBytes')) {
      this.server.shed('ensemble.maxOutputBytes');
      if (this.isClosed) return;
    }
    if (this.flushScheduled || this.inData) return;
    this.flushScheduled = true;
    this.server.scheduler.soon(this.flushBound);
  }

  private readonly flushBound = (): void => {
    this.flushScheduled = false;
    if (this.isClosed) return;
    this.flush();
    this.updateFlow();
  };

  /** One socket write for everything encoded since the last one. */
  private flush(): void {
    if (this.out.pending > 0) this.socket.write(this.out.take());
  }

  /** Bytes of replies and events encoded or written and not yet taken by the kernel. */
  get heldOutputBytes(): number {
    return this.isClosed ? 0 : this.out.pending + this.socket.writableLength;
  }

  /** Bytes received and not yet handed on as whole requests. */
  get heldInputBytes(): number {
    return this.isClosed ? 0 : this.decoder.buffered;
  }

  /** Bring this connection's share of the server's totals (requests in flight, bytes not yet sent or read) up to date. */
  account(): void {
    const limits = this.server.limits;
    const outstanding = this.isClosed ? 0 : this.queue.length;
    const output = this.heldOutputBytes;
    const input = this.heldInputBytes;
    limits.outstanding += outstanding - this.countedOutstanding;
    limits.outputBytes += output - this.countedOutputBytes;
    limits.inputBytes += input - this.countedInputBytes;
    this.countedOutstanding = outstanding;
    this.countedOutputBytes = output;
    this.countedInputBytes = input;
  }

  /**
   * Backpressure: reading stops while too many requests wait, or the client does not read, or (as
   * ZooKeeper's throttling) too many requests are in flight in all and some of them are this one's.
   */
  private mustPause(): boolean {
    this.account();
    const limits = this.server.limits;
    const throttled = this.queue.length > 0 && limits.throttling;
    if (throttled && !this.throttled) {
      limits.reached('globalOutstandingLimit', { remote: this.remoteAddress, outstanding: limits.outstanding, max: this.server.config.globalOutstandingLimit });
    }
    this.throttled = throttled;
    return throttled || this.yielded || this.queue.length >= this.server.config.maxOutstandingPerConnection || this.socket.writableNeedDrain;
  }

  private updateFlow(): void {
    if (this.isClosed) return;
    const busy = this.mustPause();
    if (busy && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!busy && this.paused) {
      this.paused = false;
      this.socket.resume();
      // The requests left in the decoder when reading stopped.
      if (this.decoder.buffered > 0) queueMicrotask(() => this.processFrames());
    }
  }

  closeAfterFlush(): void {
    if (this.isClosed) return;
    this.flush();
    if (this.isClosed) return;
    this.phase = Phase.Closed;
    this.endSocket();
    this.server.forget(this);
  }

  /**
   * Send what is left, then a FIN: the socket closes when the peer closes its side. A peer that
   * never does (it need not read, and may keep sending) must not keep it: it goes after
   * nio.sessionlessCnxnTimeout.
   */
  private endSocket(last?: string): void {
    if (last === undefined) this.socket.end();
    else this.socket.end(last);
    this.server.scheduler.after(this.server.config.sessionlessCnxnTimeoutMs, () => {
      if (!this.socket.destroyed) this.socket.destroy();
    });
  }

  close(): void {
    if (this.isClosed) {
      if (!this.socket.destroyed) this.socket.destroy();
      return;
    }
    this.phase = Phase.Closed;
    this.socket.destroy();
    this.server.forget(this);
  }
}

const SHORT_NAMES: Record<number, string> = {
  [OpCode.ping]: 'PING', [OpCode.create]: 'CREA', [OpCode.create2]: 'CREA', [OpCode.createTTL]: 'CREA',
  [OpCode.createContainer]: 'CREA', [OpCode.delete]: 'DELE', [OpCode.setData]: 'SETD', [OpCode.setACL]: 'SETA',
  [OpCode.getData]: 'GETD', [OpCode.exists]: 'EXIS', [OpCode.getChildren]: 'GETC', [OpCode.getChildren2]: 'GETC',
  [OpCode.getACL]: 'GETA', [OpCode.sync]: 'SYNC', [OpCode.multi]: 'MULT', [OpCode.multiRead]: 'MLTR',
  [OpCode.closeSession]: 'CLOS', [OpCode.setWatches]: 'SETW', [OpCode.setWatches2]: 'STW2', [OpCode.addWatch]: 'ADDW',
  [OpCode.check]: 'CHEC', [OpCode.whoAmI]: 'HOMI', [OpCode.getEphemerals]: 'GETE', [OpCode.auth]: 'AUTH',
  [OpCode.checkWatches]: 'CHKW', [OpCode.removeWatches]: 'REMW', [OpCode.getAllChildrenNumber]: 'GETACN',
};

function opShortName(type: number): string {
  return SHORT_NAMES[type] ?? 'NA';
}
