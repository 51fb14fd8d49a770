/**
 * Members reach each other over TCP: one connection per pair, dialled by the member with the higher
 * id (as ZooKeeper's QuorumCnxManager), used in both directions once both sides have said hello.
 *
 * Nothing waits for a connection: a message with none to go on, or with more than maxQueueBytes
 * already waiting for the socket, is dropped (Raft retries). Frames sent during one turn of the
 * event loop leave in one socket write.
 */
import { createServer, connect, isIP, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { NodeId } from './core/types.ts';
import type { PeerFrame, PeerMessage, PeerTransport } from './peer-messages.ts';
import type { Environment, Timer } from '../env/environment.ts';
import type { QuorumTls } from '../net/tls-quorum.ts';
import { Backoff } from '../../client/backoff.ts';
import {
  DEFAULT_MAX_FRAME_BYTES, FrameSplitter, WIRE_VERSION, WireError, WireWriter, decodeFrame, decodeHello, writeFrame, writeHello,
} from './wire.ts';

export interface PeerAddress {
  id: NodeId;
  host: string;
  /** The quorum port. */
  port: number;
}

/** A pino-compatible logger. */
export interface PeerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface TcpTransportOptions {
  myId: NodeId;
  /** Members of another ensemble are refused, whatever their id. */
  ensembleId: string;
  /** Every member, this one included (its entry says where to listen). */
  members: readonly PeerAddress[];
  env: Environment;
  log: PeerLog;
  /** Listen here rather than at this member's own entry (0.0.0.0 in a container, say). */
  listenHost?: string;
  /** Bytes waiting for one peer's socket beyond which messages to it are dropped. Default 32 MiB. */
  maxQueueBytes?: number;
  /** Largest frame sent or accepted. Default 256 MiB. */
  maxFrameBytes?: number;
  /** A connection must be open and have said hello within this. Default 5 s. */
  handshakeTimeoutMs?: number;
  /**
   * Pauses between dials of a peer: doubling from baseDelayMs to maxDelayMs, jittered. Default 50 ms
   * to 400 ms: a member with a lower id that restarts waits for this dial, so a long pause would hold
   * back its return (a refused dial on a network that answers costs little).
   */
  retry?: { baseDelayMs: number; maxDelayMs: number };
  /** sslQuorum: TLS on every connection, both ways; a member whose certificate is not trusted is refused. */
  tls?: QuorumTls;
}

export interface PeerStatus {
  id: NodeId;
  connected: boolean;
  /** Bytes encoded or handed to the socket and not yet sent. */
  queuedBytes: number;
  /** Messages dropped since the start. */
  dropped: number;
}

/** A hello is a few dozen bytes: a connection that sends more before its own is refused. */
const MAX_HELLO_BYTES = 4096;
/** Connections accepted and not yet past hello; more are refused (a member dials each peer once). */
const MAX_HANDSHAKING = 64;

interface Peer {
  readonly address: PeerAddress;
  /** The connection, once both hellos are through. */
  socket: Socket | null;
  /** The connection this member is dialling (higher ids only), until it closes. */
  dialling: Socket | null;
  retryTimer: Timer | null;
  readonly backoff: Backoff;
  readonly out: WireWriter;
  dropped: number;
}

export class TcpTransport implements PeerTransport {
  private readonly myId: NodeId;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly sockets = new Set<Socket>();
  private readonly server: Server | TlsServer;
  private handler: ((from: NodeId, message: PeerMessage) => void) | null = null;
  private readonly dirty = new Set<Peer>();
  private flushQueued = false;
  private handshaking = 0;
  private closed = false;
  private downHandler: ((id: NodeId) => void) | null = null;
  private readonly maxQueueBytes: number;
  private readonly maxFrameBytes: number;
  private readonly handshakeTimeoutMs: number;

  constructor(private readonly options: TcpTransportOptions) {
    this.myId = options.myId;
    this.maxQueueBytes = options.maxQueueBytes ?? 32 * 1024 * 1024;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
    const retry = options.retry ?? { baseDelayMs: 50, maxDelayMs: 400 };
    if (!options.members.some((m) => m.id === this.myId)) throw new Error(`member ${this.myId} is not among the members`);
    for (const address of options.members) {
      if (address.id === this.myId) continue;
      if (this.peers.has(address.id)) throw new Error(`member ${address.id} is listed twice`);
      this.peers.set(address.id, {
        address, socket: null, dialling: null, retryTimer: null,
        backoff: new Backoff(retry, options.env.random.float), out: new WireWriter(), dropped: 0,
      });
    }
    const tls = options.tls;
    if (tls === undefined) {
      this.server = createServer((socket) => this.accept(socket));
    } else {
      const server = createTlsServer(tls.serverOptions(), (socket) => this.acceptTls(socket, tls));
      server.on('tlsClientError', (err, socket) => {
        options.log.warn({ remote: socket.remoteAddress, err: err.message }, 'quorum connection refused: TLS handshake failed');
        socket.destroy();
      });
      tls.onReload((o) => server.setSecureContext(o));
      this.server = server;
    }
  }

  /** Listens on the quorum port and starts dialling the members with lower ids. */
  async listen(): Promise<{ host: string; port: number }> {
    const me = this.options.members.find((m) => m.id === this.myId)!;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.listenHost ?? me.host, port: me.port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (err) => this.options.log.warn({ err }, 'quorum listener error'));
    for (const peer of this.peers.values()) if (peer.address.id < this.myId) this.dial(peer);
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error('quorum listener has no address');
    return { host: a.address, port: a.port };
  }

  onPeerDown(handler: (id: NodeId) => void): void {
    this.downHandler = handler;
  }

  onMessage(handler: (from: NodeId, message: PeerMessage) => void): void {
    this.handler = handler;
  }

  send(to: NodeId, message: PeerMessage): void {
    const peer = this.peers.get(to);
    if (peer === undefined) return;
    const socket = peer.socket;
    if (socket === null || this.closed) {
      peer.dropped++;
      return;
    }
    const before = peer.out.pending;
    const queued = before + socket.writableLength;
    if (queued >= this.maxQueueBytes) {
      peer.dropped++;
      return;
    }
    try {
      writeFrame(peer.out, { from: this.myId, to, message });
    } catch (err) {
      this.options.log.warn({ err, to }, 'peer message cannot be encoded; dropped');
      peer.dropped++;
      return;
    }
    const size = peer.out.pending - before;
    // One message larger than the bound still goes alone (a snapshot): the bound is on what waits.
    if (size - 4 > this.maxFrameBytes || (queued > 0 && queued + size > this.maxQueueBytes)) {
      if (size - 4 > this.maxFrameBytes) this.options.log.warn({ to, bytes: size }, 'peer message larger than the largest frame; dropped');
      peer.out.rewind(before);
      peer.dropped++;
      return;
    }
    this.dirty.add(peer);
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.options.env.scheduler.soon(() => this.flush());
    }
  }

  status(): PeerStatus[] {
    return [...this.peers.values()].map((p) => ({
      id: p.address.id,
      connected: p.socket !== null,
      queuedBytes: p.out.pending + (p.socket?.writableLength ?? 0),
      dropped: p.dropped,
    }));
  }

  /** Ends every connection and the listener; resolves once all their sockets are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const listenerClosed = new Promise<void>((resolve) => {
      if (this.server.listening) this.server.close(() => resolve());
      else resolve();
    });
    for (const peer of this.peers.values()) {
      peer.retryTimer?.cancel();
      peer.retryTimer = null;
      peer.socket = null;
      peer.dialling = null;
    }
    const socketsClosed = [...this.sockets].map((s) => new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.destroy();
    }));
    await Promise.all([listenerClosed, ...socketsClosed]);
  }

  private flush(): void {
    this.flushQueued = false;
    for (const peer of this.dirty) {
      if (peer.socket !== null && peer.out.pending > 0) peer.socket.write(peer.out.take());
    }
    this.dirty.clear();
  }

  private dial(peer: Peer): void {
    peer.retryTimer = null;
    if (this.closed) return;
    const { host, port } = peer.address;
    // Dialled from this member's own address when it listens there, so that a connection shows
    // which member made it (members sharing a machine on 127.0.0.x, partitioned by address).
    const me = this.options.members.find((m) => m.id === this.myId)!.host;
    const bound = this.options.listenHost === undefined && isIP(me) !== 0;
    const from = bound ? { localAddress: me, family: isIP(me) } : {};
    const tls = this.options.tls;
    const socket = tls === undefined ? connect({ host, port, ...from }) : tlsConnect({ ...tls.connectOptions(host, port), ...from });
    peer.dialling = socket;
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => this.sayHello(socket));
    this.track(socket, peer);
  }

  private redial(peer: Peer): void {
    if (this.closed || peer.retryTimer !== null) return;
    peer.retryTimer = this.options.env.scheduler.after(peer.backoff.nextDelayMs(), () => this.dial(peer));
  }

  private accept(socket: Socket): void {
    if (this.closed || this.handshaking >= MAX_HANDSHAKING) {
      this.options.log.warn({ remote: socket.remoteAddress }, 'too many quorum connections saying hello; refused');
      socket.destroy();
      return;
    }
    this.track(socket, null);
  }

  private acceptTls(socket: TLSSocket, tls: QuorumTls): void {
    const refusal = tls.refusal(socket);
    if (refusal !== null) {
      this.options.log.warn({ remote: socket.remoteAddress }, `quorum connection refused: ${refusal}`);
      socket.destroy();
      return;
    }
    this.accept(socket);
  }

  /** Reads a connection: its hello first, then frames. `dialled` is the peer this member dialled, if it did. */
  private track(socket: Socket, dialled: Peer | null): void {
    const log = this.options.log;
    this.sockets.add(socket);
    this.handshaking++;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    const splitter = new FrameSplitter(this.maxFrameBytes);
    let peer: Peer | null = null;
    let helloTimer: Timer | null = this.options.env.scheduler.after(this.handshakeTimeoutMs, () => {
      log.warn({ remote: socket.remoteAddress, member: dialled?.address.id }, 'quorum connection said no hello in time; closed');
      socket.destroy();
    });
    const helloDone = () => {
      helloTimer?.cancel();
      helloTimer = null;
      this.handshaking--;
    };

    socket.on('data', (chunk: Buffer) => {
      let bodies: Buffer[];
      try {
        bodies = splitter.push(chunk);
        if (peer === null && splitter.buffered > MAX_HELLO_BYTES) throw new WireError('no hello in the first bytes');
      } catch (err) {
        this.refuse(socket, peer, err);
        return;
      }
      for (const body of bodies) {
        if (socket.destroyed) return;
        if (peer === null) {
          peer = this.hello(socket, body, dialled);
          if (peer !== null) helloDone();
          continue;
        }
        if (peer.socket !== socket) return;
        let frame: PeerFrame;
        try {
          frame = decodeFrame(body);
          if (frame.from !== peer.address.id || frame.to !== this.myId) throw new WireError(`frame from ${frame.from} to ${frame.to} on the connection with ${peer.address.id}`);
        } catch (err) {
          this.refuse(socket, peer, err);
          return;
        }
        this.handler?.(frame.from, frame.message);
      }
    });
    socket.on('error', (err) => log.debug({ err, member: peer?.address.id ?? dialled?.address.id }, 'quorum connection error'));
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (helloTimer !== null) helloDone();
      if (peer !== null && peer.socket === socket) {
        peer.socket = null;
        peer.out.reset();
        if (!this.closed) {
          log.info({ member: peer.address.id }, 'quorum connection lost');
          this.downHandler?.(peer.address.id);
        }
      }
      if (dialled !== null && dialled.dialling === socket) {
        dialled.dialling = null;
        this.redial(dialled);
      }
    });
  }

  /** Checks a hello; on success the connection becomes the peer's and answers with its own hello. */
  private hello(socket: Socket, body: Buffer, dialled: Peer | null): Peer | null {
    let version: number, from: NodeId, ensembleId: string;
    try {
      ({ version, from, ensembleId } = decodeHello(body));
    } catch (err) {
      this.refuse(socket, null, err);
      return null;
    }
    const peer = this.peers.get(from);
    const problem =
      version !== WIRE_VERSION ? `format version ${version}, expected ${WIRE_VERSION}`
      : ensembleId !== this.options.ensembleId ? `ensemble ${JSON.stringify(ensembleId)}, expected ${JSON.stringify(this.options.ensembleId)}`
      : peer === undefined ? `unknown member ${from}`
      : dialled !== null && peer !== dialled ? `member ${from} answered where member ${dialled.address.id} was expected`
      : dialled === null && from < this.myId ? `member ${from} has a lower id and must be dialled, not dial`
      : null;
    if (problem !== null || peer === undefined) {
      this.options.log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, member: from }, `quorum connection refused: ${problem}`);
      socket.destroy();
      return null;
    }
    if (dialled === null) this.sayHello(socket);
    const old = peer.socket;
    peer.socket = socket;
    peer.out.reset();
    peer.backoff.reset();
    // A peer that restarted dials again before this side saw its old connection end.
    old?.destroy();
    this.options.log.info({ member: from }, 'quorum connection established');
    return peer;
  }

  private sayHello(socket: Socket): void {
    const w = new WireWriter();
    writeHello(w, { version: WIRE_VERSION, from: this.myId, ensembleId: this.options.ensembleId });
    socket.write(w.take());
  }

  private refuse(socket: Socket, peer: Peer | null, err: unknown): void {
    this.options.log.warn({ err, remote: `${socket.remoteAddress}:${socket.remotePort}`, member: peer?.address.id }, 'quorum connection sent bad bytes; closed');
    if (peer !== null && peer.socket === socket) {
      peer.socket = null;
      peer.out.reset();
    }
    socket.destroy();
  }
}
