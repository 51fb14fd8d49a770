/**
 * One client connection: the handshake, then requests in, replies out in request order, watch
 * events pushed as they fire. A connection is the Watcher its watches are registered to.
 */
import type { Socket } from 'node:net';
import { Err, OpCode, Xid } from '../../protocol/constants.ts';
import { JuteError, JuteReader, JuteWriter } from '../../protocol/jute.ts';
import {
  readAuth, readCheckVersion, readConnectRequest, readCreate, readCreateTTL, readDelete, readMulti,
  readRequestHeader, readSetACL, readSetData, writeConnectResponse, writeReplyHeader, writeWatcherEvent,
  type Id,
} from '../../protocol/records.ts';
import { KeeperState } from '../../protocol/constants.ts';
import type { WriteRequest } from '../pipeline/prep.ts';
import { READ_OPS, executeRead } from '../pipeline/reads.ts';
import { frame } from '../pipeline/replies.ts';
import type { Watcher } from '../tree/watch-manager.ts';
import { FrameDecoder, FrameTooLargeError } from '../../protocol/frame-decoder.ts';
import { fourLetterWord } from '../admin/four-letter.ts';
import type { EnsembleServer } from '../server.ts';

/** A request waiting for its turn to be answered. */
export interface Pending {
  xid: number;
  type: number;
  /** Reads run when they reach the head of the queue; writes are answered once applied. */
  reader?: JuteReader;
  reply?: Buffer;
  /** Close the connection once this reply is sent. */
  closeAfter?: boolean;
}

const MAX_QUEUED_OUTPUT_BYTES = 64 * 1024 * 1024;

export class Connection implements Watcher {
  sessionId = 0n;
  sessionTimeoutMs = 0;
  readonly authInfo: Id[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly connectedAtMs = Date.now();
  private readonly decoder: FrameDecoder;
  private readonly queue: Pending[] = [];
  private handshakeDone = false;
  private awaitingSession = false;
  /** closeSession was received: ZooKeeper reads nothing after it. */
  private sessionClosing = false;
  private oldClient = false;
  private closed = false;
  private corked = false;
  private paused = false;
  inFlightWrites = 0;
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

  constructor(private readonly socket: Socket, private readonly server: EnsembleServer) {
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.remotePort = socket.remotePort ?? 0;
    this.authInfo = [{ scheme: 'ip', id: this.remoteAddress }];
    this.decoder = new FrameDecoder(server.config.juteMaxBufferBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.on('drain', () => this.updateFlow());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get outstanding(): number {
    return this.queue.length;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.decoder.push(chunk);
    this.processFrames();
  }

  private processFrames(): void {
    try {
      if (!this.handshakeDone) {
        const word = this.decoder.peekInt();
        if (word !== null && this.packetsReceived === 0) {
          const reply = fourLetterWord(word, this.server);
          if (reply !== null) {
            this.socket.end(reply);
            this.closed = true;
            this.server.forget(this);
            return;
          }
        }
      }
      let body: Buffer | null;
      while (!this.closed && !this.awaitingSession && !this.sessionClosing && (body = this.decoder.next()) !== null) {
        this.packetsReceived++;
        this.server.stats.packetsReceived++;
        if (!this.handshakeDone) this.handleConnect(body);
        else this.handleRequest(body);
      }
    } catch (e) {
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

  private handleConnect(body: Buffer): void {
    const r = new JuteReader(body);
    const req = readConnectRequest(r);
    this.oldClient = !req.hasReadOnlyFlag;
    if (req.lastZxidSeen > this.server.tree.lastProcessedZxid) {
      this.server.log.info({ remote: this.remoteAddress }, `refusing session: client has seen zxid 0x${req.lastZxidSeen.toString(16)}, ours is 0x${this.server.tree.lastProcessedZxid.toString(16)}`);
      this.close();
      return;
    }
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.server.config;
    this.sessionTimeoutMs = Math.min(Math.max(req.timeOutMs, minSessionTimeoutMs), maxSessionTimeoutMs);
    this.handshakeDone = true;
    // Nothing after the handshake is read until it is answered, so no reply overtakes it.
    this.awaitingSession = true;
    if (req.sessionId === 0n) this.server.createSession(this, this.sessionTimeoutMs);
    else this.server.reopenSession(this, req.sessionId, req.passwd, this.sessionTimeoutMs);
  }

  /** Answer the handshake; an invalid session gets timeout 0 and the connection closes. */
  sendConnectResponse(valid: boolean, passwd: Buffer): void {
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
    this.awaitingSession = false;
    if (!valid) this.closeAfterFlush();
    else if (this.decoder.buffered > 0) queueMicrotask(() => this.processFrames());
  }

  private handleRequest(body: Buffer): void {
    const r = new JuteReader(body);
    const { xid, type } = readRequestHeader(r);
    this.server.touch(this);
    this.lastCxid = xid;
    if (type === OpCode.auth) return this.handleAuth(xid, r);
    if (READ_OPS.has(type)) {
      // Pings are answered with the ping xid whatever the request carried.
      this.queue.push({ xid: type === OpCode.ping ? Xid.ping : xid, type, reader: r });
      this.pump();
      return;
    }
    const write = decodeWrite(type, r);
    if (write === null) {
      // UnimplementedRequestProcessor: answer, then close.
      this.queue.push({ xid, type, reply: frame(xid, -1, Err.UNIMPLEMENTED), closeAfter: true });
      this.pump();
      return;
    }
    const pending: Pending = { xid, type };
    if (type === OpCode.closeSession) {
      pending.closeAfter = true;
      this.sessionClosing = true;
    }
    this.queue.push(pending);
    this.inFlightWrites++;
    this.server.submitWrite(this, xid, write, pending);
  }

  private handleAuth(xid: number, r: JuteReader): void {
    const { scheme, auth } = readAuth(r);
    const ids = this.server.authenticate(scheme, auth, this.remoteAddress);
    if (ids === null) {
      this.queue.push({ xid, type: OpCode.auth, reply: frame(xid, 0, Err.AUTHFAILED), closeAfter: true });
    } else {
      for (const id of ids) {
        if (!this.authInfo.some((a) => a.scheme === id.scheme && a.id === id.id)) this.authInfo.push(id);
      }
      this.queue.push({ xid, type: OpCode.auth, reply: frame(xid, 0, 0) });
    }
    this.pump();
  }

  /** A write was applied: record its reply and answer whatever is now at the head of the queue. */
  writeDone(pending: Pending, reply: Buffer): void {
    pending.reply = reply;
    this.inFlightWrites--;
    this.pump();
  }

  /** Send replies in request order: reads run when they reach the head, writes wait to be applied. */
  pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0];
      if (head.reply === undefined) {
        if (!head.reader) return; // a write still in commit
        const started = Date.now();
        head.reply = executeRead(this.server.readContext(this), head.type, head.xid, head.reader);
        head.reader = undefined;
        this.recordLatency(head, started);
      }
      this.queue.shift();
      this.lastOp = opShortName(head.type);
      this.lastZxid = this.server.tree.lastProcessedZxid;
      this.send(head.reply);
      if (head.closeAfter) {
        this.closeAfterFlush();
        return;
      }
    }
    this.updateFlow();
  }

  private recordLatency(_p: Pending, startedMs: number): void {
    const ms = Date.now() - startedMs;
    this.lastLatencyMs = ms;
    this.minLatencyMs = Math.min(this.minLatencyMs, ms);
    this.maxLatencyMs = Math.max(this.maxLatencyMs, ms);
    this.totalLatencyMs += ms;
    this.latencyCount++;
    this.server.stats.recordLatency(ms);
  }

  notify(type: number, path: string, _zxid: number): void {
    if (this.closed) return;
    const w = new JuteWriter(32 + path.length * 3);
    const mark = w.beginFrame();
    writeReplyHeader(w, { xid: Xid.notification, zxid: -1, err: 0 });
    writeWatcherEvent(w, type, KeeperState.SyncConnected, path);
    w.endFrame(mark);
    this.send(w.bytes());
  }

  send(buf: Buffer): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.packetsSent++;
    this.server.stats.packetsSent++;
    this.socket.write(buf);
    if (this.socket.writableLength > MAX_QUEUED_OUTPUT_BYTES) {
      this.server.log.warn({ remote: this.remoteAddress }, 'closing connection: client is not reading its replies');
      this.close();
    }
  }

  /** Backpressure: stop reading while too many requests wait or the client does not read. */
  private updateFlow(): void {
    if (this.closed) return;
    const busy = this.queue.length >= this.server.config.maxOutstandingPerConnection || this.socket.writableNeedDrain;
    if (busy && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!busy && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  closeAfterFlush(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    this.server.forget(this);
  }

  close(): void {
    if (this.closed) {
      if (!this.socket.destroyed) this.socket.destroy();
      return;
    }
    this.closed = true;
    this.socket.destroy();
    this.server.forget(this);
  }
}

/** Decode a write request; a body that does not parse still becomes a write that fails. Null = unknown opcode. */
function decodeWrite(type: number, r: JuteReader): WriteRequest | null {
  try {
    switch (type) {
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createContainer:
        return { type, req: readCreate(r) };
      case OpCode.createTTL: return { type, req: readCreateTTL(r) };
      case OpCode.delete: return { type, req: readDelete(r) };
      case OpCode.setData: return { type, req: readSetData(r) };
      case OpCode.setACL: return { type, req: readSetACL(r) };
      case OpCode.check: return { type, req: readCheckVersion(r) };
      case OpCode.multi: return { type, ops: readMulti(r, false) };
      case OpCode.closeSession: return { type };
      // The container reaper's opcode: ZooKeeper preps it from a client too, and refuses it.
      case OpCode.deleteContainer: return { type, rejectWith: Err.BADARGUMENTS };
    }
  } catch (e) {
    if (e instanceof JuteError) return { type, rejectWith: Err.MARSHALLINGERROR };
    throw e;
  }
  return null;
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
