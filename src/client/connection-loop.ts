/**
 * The IO loop of one session: connects to the hosts of the connection string in turn, does the
 * handshake (the session id and password, the last zxid seen, the read-only flag), re-registers the
 * watches on each new connection, pings an idle server, drops a silent one, and pauses between
 * rounds of failed attempts. With SASL configured, the DIGEST-MD5 exchange comes right after the
 * handshake, before anything else is sent (as ZooKeeper's Java client holds its packets while its
 * SASL authentication is in progress). Frames after that go to the owner, which sends its requests
 * on `connection` while it is not null.
 */
import { inspect, type InspectOptions } from 'node:util';
import { OpCode, Xid } from '../protocol/constants.ts';
import { JuteReader } from '../protocol/jute.ts';
import { readConnectResponse, writeConnectRequest } from '../protocol/records.ts';
import { writeSetWatches } from '../protocol/requests.ts';
import { DigestMd5ClientExchange, SaslError, type SaslOptions } from './sasl.ts';
import { Backoff } from './backoff.ts';
import type { HostPort } from './connect-string.ts';
import { FrameSocket } from './frame-socket.ts';
import type { Clock, Logger, RetryPolicy, Scheduler, SocketFactory, Timer } from './types.ts';
import type { WatchLists } from './watch-registry.ts';

const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** ClientCnxn splits setWatches so that no packet carries more than this many bytes of paths. */
const SET_WATCHES_MAX_BYTES = 128 * 1024;

export interface SessionHandlers {
  /** A session is up on `conn`, its watches already re-registered: send what waited for it. */
  established(conn: FrameSocket, readOnly: boolean): void;
  /** A frame that came after the handshake. */
  frame(body: Buffer): void;
  /**
   * A connection to `server` ('host:port') closed; `hadSession` says whether a session was up on
   * it; `error` is why, if it did not end cleanly (the socket's error: ECONNREFUSED, ENOTFOUND, …).
   */
  lost(hadSession: boolean, server: string, error?: Error): void;
  /** The server answered the handshake that the session is gone. */
  expired(): void;
  /** SASL authentication failed: the server refused it, or did not prove it knows the password. */
  authFailed(reason: string): void;
}

export interface ConnectionLoopOptions {
  hosts: HostPort[];
  requestedTimeoutMs: number;
  readOnlyAllowed: boolean;
  retry: RetryPolicy;
  /** 0n for a new session. */
  sessionId: bigint;
  sessionPassword: Buffer;
  socketFactory?: SocketFactory;
  clock: Clock;
  scheduler: Scheduler;
  /** The backoff's jitter (default Math.random). */
  random?: () => number;
  logger: Logger;
  watches: { readonly size: number; lists(): WatchLists };
  /** Authenticate with SASL on every connection, before anything else. */
  sasl?: SaslOptions;
}

export class ConnectionLoop {
  sessionId: bigint;
  sessionPassword: Buffer;
  /** The timeout the server granted (0 before the first session). */
  negotiatedTimeoutMs = 0;
  /** Sent in each handshake, so that a server behind this client's view refuses it. */
  lastZxidSeen = 0;
  private readonly backoff: Backoff;
  /** The connection under way or up, if any. */
  private socket: FrameSocket | null = null;
  private session: FrameSocket | null = null;
  private finished = false;
  private wake: (() => void) | null = null;

  constructor(private readonly options: ConnectionLoopOptions, private readonly handlers: SessionHandlers) {
    this.sessionId = options.sessionId;
    this.sessionPassword = options.sessionPassword;
    this.backoff = new Backoff(options.retry, options.random);
  }

  /** The session's facts, without its password (for console.log of the client). */
  describe(): Record<string, unknown> {
    const { hosts, requestedTimeoutMs } = this.options;
    return {
      servers: hosts.map((h) => `${h.host}:${h.port}`),
      sessionId: `0x${this.sessionId.toString(16)}`,
      sessionTimeoutMs: this.negotiatedTimeoutMs || requestedTimeoutMs,
    };
  }

  [inspect.custom](_depth: number, options: InspectOptions, show: typeof inspect): string {
    return `ConnectionLoop ${show(this.describe(), options)}`;
  }

  /** The connection a session is up on, or null. */
  get connection(): FrameSocket | null {
    return this.session;
  }

  /** Whether a connection is under way or up. */
  get connecting(): boolean {
    return this.socket !== null;
  }

  start(): void {
    void this.run();
  }

  /** No connection attempt after the current one. */
  finish(): void {
    this.finished = true;
  }

  /** No connection attempt after the current one, which closes now. */
  stop(): void {
    this.finished = true;
    this.wake?.();
    this.socket?.destroy();
  }

  private async run(): Promise<void> {
    const { hosts } = this.options;
    let failedInARow = 0;
    for (let i = 0; !this.finished; i++) {
      const established = await this.attempt(hosts[i % hosts.length]);
      if (this.finished) break;
      if (established) {
        failedInARow = 0;
        this.backoff.reset();
        continue;
      }
      failedInARow++;
      if (failedInARow % hosts.length === 0) await this.sleep(this.backoff.nextDelayMs());
    }
  }

  /** Ends early on stop(). */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        timer.cancel();
        this.wake = null;
        resolve();
      };
      const timer = this.options.scheduler.after(ms, done);
      this.wake = done;
    });
  }

  /** One connection, from connect to close. Resolves whether a session was established on it. */
  private attempt(host: HostPort): Promise<boolean> {
    const { clock, scheduler, socketFactory, logger } = this.options;
    return new Promise((resolve) => {
      let established = false;
      /** Between the handshake and the session's use: the SASL exchange under way. */
      let sasl: DigestMd5ClientExchange | null = null;
      /** The handshake's answer: whether the server is read-only (null before it comes). */
      let readOnly: boolean | null = null;
      let ticker: Timer | undefined;
      const timeoutMs = this.negotiatedTimeoutMs || this.options.requestedTimeoutMs;
      const handshakeTimeoutMs = Math.max(1, Math.floor(timeoutMs / this.options.hosts.length));
      const server = `${host.host}:${host.port}`;
      const handshakeTimer = scheduler.after(handshakeTimeoutMs, () => {
        sock.destroy(Object.assign(new Error(`no handshake with ${server} within ${handshakeTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      const now = (): number => clock.now();
      const sock: FrameSocket = new FrameSocket(host.host, host.port, { maxFrameBytes: MAX_FRAME_BYTES, socketFactory, now }, {
        connected: () => this.sendConnectRequest(sock),
        frame: (body) => {
          if (established) {
            this.handlers.frame(body);
            return;
          }
          if (readOnly === null) {
            readOnly = this.onHandshake(body);
            if (readOnly === null) {
              handshakeTimer.cancel();
              sock.destroy();
              return;
            }
            if (this.options.sasl !== undefined) {
              sasl = new DigestMd5ClientExchange(this.options.sasl);
              this.sendSasl(sock, 1, sasl.initial());
              return;
            }
          } else if (sasl !== null && !this.onSaslReply(sock, sasl, body)) {
            return;
          }
          // The handshake's timeout covers the SASL exchange too.
          handshakeTimer.cancel();
          established = true;
          this.open(sock, readOnly);
          ticker = this.startTicker(sock);
        },
        closed: (error) => {
          handshakeTimer.cancel();
          ticker?.cancel();
          if (this.socket === sock) this.socket = null;
          if (this.session === sock) this.session = null;
          if (error) logger.debug({ host: server, err: error.message }, 'connection closed');
          this.handlers.lost(established, server, error);
          resolve(established);
        },
      });
      this.socket = sock;
    });
  }

  private sendConnectRequest(sock: FrameSocket): void {
    const w = sock.out;
    const mark = w.beginFrame();
    writeConnectRequest(w, {
      protocolVersion: 0,
      lastZxidSeen: this.lastZxidSeen,
      timeOutMs: this.options.requestedTimeoutMs,
      sessionId: this.sessionId,
      passwd: this.sessionPassword,
      readOnly: this.options.readOnlyAllowed,
    });
    w.endFrame(mark);
    sock.flush();
  }

  /** The session the server granted; returns whether it is read-only, or null if the session is gone. */
  private onHandshake(body: Buffer): boolean | null {
    const res = readConnectResponse(new JuteReader(body));
    if (res.timeOutMs <= 0) {
      this.handlers.expired();
      return null;
    }
    this.sessionId = res.sessionId;
    this.sessionPassword = Buffer.from(res.passwd);
    this.negotiatedTimeoutMs = res.timeOutMs;
    return res.readOnly;
  }

  /** The session is ready for use on `sock`. */
  private open(sock: FrameSocket, readOnly: boolean): void {
    this.session = sock;
    this.resetWatches(sock);
    this.handlers.established(sock, readOnly);
  }

  /**
   * A GetSASLRequest. Its xid is `step` (1, 2), as kazoo numbers them: the owner sends nothing on
   * this connection before the exchange is over, so no reply can be taken for one of its own.
   */
  private sendSasl(sock: FrameSocket, step: number, token: Buffer): void {
    sock.writeRequest(step, OpCode.sasl, (w) => w.buffer(token));
    sock.flush();
  }

  /**
   * The server's answer to a SASL packet: sends the next token, and returns whether the exchange
   * is complete. A refusal (AUTHFAILED; the server then closes) or a bad answer ends the session.
   */
  private onSaslReply(sock: FrameSocket, exchange: DigestMd5ClientExchange, body: Buffer): boolean {
    const r = new JuteReader(body);
    const xid = r.int();
    r.long();
    const err = r.int();
    try {
      if (err !== 0) throw new SaslError(`the server refused SASL authentication (error ${err})`);
      const next = exchange.evaluate(r.buffer() ?? Buffer.alloc(0));
      if (next !== null) this.sendSasl(sock, xid + 1, next);
      return exchange.complete;
    } catch (e) {
      if (!(e instanceof SaslError)) throw e;
      this.finished = true;
      this.handlers.authFailed(e.message);
      sock.destroy();
      return false;
    }
  }

  /** Re-registers every watch on the new connection, with the last zxid seen, so that missed events fire. */
  private resetWatches(sock: FrameSocket): void {
    const { watches } = this.options;
    if (watches.size === 0) return;
    const lists = watches.lists();
    const order = ['dataWatches', 'existWatches', 'childWatches', 'persistentWatches', 'persistentRecursiveWatches'] as const;
    let batch = emptyLists();
    let bytes = 0;
    const flush = (): void => {
      const v2 = batch.persistentWatches.length > 0 || batch.persistentRecursiveWatches.length > 0;
      const watches = { relativeZxid: this.lastZxidSeen, ...batch };
      sock.writeRequest(Xid.setWatches, v2 ? OpCode.setWatches2 : OpCode.setWatches, (w) => writeSetWatches(w, watches, v2));
      batch = emptyLists();
      bytes = 0;
    };
    for (const key of order) {
      for (const path of lists[key]) {
        if (bytes > 0 && bytes + path.length > SET_WATCHES_MAX_BYTES) flush();
        batch[key].push(path);
        bytes += path.length;
      }
    }
    if (bytes > 0) flush();
    sock.scheduleFlush();
  }

  /** Pings at a third of the session timeout when idle; a silent server is dropped after two thirds. */
  private startTicker(sock: FrameSocket): Timer {
    const { clock, scheduler, logger } = this.options;
    const timeoutMs = this.negotiatedTimeoutMs;
    const readTimeoutMs = (timeoutMs * 2) / 3;
    const pingAfterMs = timeoutMs / 3;
    const intervalMs = Math.max(10, Math.floor(timeoutMs / 10));
    let lastTickAt = clock.now();
    const ping = (): void => {
      sock.writeRequest(Xid.ping, OpCode.ping);
      sock.flush();
    };
    return scheduler.every(intervalMs, () => {
      const now = clock.now();
      const stalled = now - lastTickAt > 3 * intervalMs;
      lastTickAt = now;
      if (stalled) {
        // This process was blocked (a slow listener, a long GC): the server's answers may be sitting
        // unread. Ping, and judge the silence at the next tick, once they have been read.
        ping();
        return;
      }
      if (now - sock.lastReceiveAt >= readTimeoutMs) {
        logger.warn({ sessionId: this.sessionId.toString(16) }, `no answer from the server for ${now - sock.lastReceiveAt} ms: reconnecting`);
        sock.destroy(new Error('read timeout'));
        return;
      }
      if (now - sock.lastSendAt >= pingAfterMs) ping();
    });
  }
}

function emptyLists(): WatchLists {
  return { dataWatches: [], existWatches: [], childWatches: [], persistentWatches: [], persistentRecursiveWatches: [] };
}
