/**
 * The standalone server: owns the tree, the pipeline (prep -> commit -> apply -> reply), the
 * sessions and the connections. Everything that changes the tree passes through submitWrite.
 */
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { OpCode } from '../protocol/constants.ts';
import type { Id } from '../protocol/records.ts';
import { authenticate } from './auth/acl.ts';
import type { ServerConfig } from './config.ts';
import { Connection, type Pending } from './net/connection.ts';
import { InMemoryCommit, type CommitStage } from './pipeline/commit.ts';
import { Prep, type WriteRequest } from './pipeline/prep.ts';
import type { ReadContext } from './pipeline/reads.ts';
import { SessionTracker } from './session/session-tracker.ts';
import { ServerStats } from './stats.ts';
import { DataTree, ephemeralKind, ttlOf } from './tree/data-tree.ts';
import type { TxnEntry } from './tree/txn.ts';

export interface ServerDeps {
  log?: Logger;
  commit?: CommitStage;
  now?: () => number;
  /** The recovered state (an empty tree otherwise). */
  tree?: DataTree;
  /** Key of the session passwords (random otherwise: sessions then cannot outlive the process). */
  sessionSecret?: Buffer;
}

export class EnsembleServer {
  readonly tree: DataTree;
  readonly sessions: SessionTracker;
  readonly stats = new ServerStats();
  readonly log: Logger;
  readonly connections = new Set<Connection>();
  readonly startedAtMs: number;
  private readonly prep: Prep;
  private readonly commit: CommitStage;
  private readonly now: () => number;
  private readonly bySession = new Map<bigint, Connection>();
  private readonly tcp: TcpServer;
  private readonly timers: NodeJS.Timeout[] = [];
  private closing = false;

  constructor(readonly config: ServerConfig, deps: ServerDeps = {}) {
    this.log = deps.log ?? pino({ name: 'ensemble' });
    this.now = deps.now ?? Date.now;
    this.startedAtMs = this.now();
    this.tree = deps.tree ?? new DataTree({ extendedTypes: config.extendedTypesEnabled });
    this.tree.onQuotaError = (err, path) => {
      // Where ZooKeeper's own quota code throws (malformed stats text, a limits node right under
      // /zookeeper/quota): it stops serving; Ensemble applies the change and leaves the quota as is.
      this.log.warn({ path, err: err.message }, 'quota statistics not updated');
    };
    this.sessions = new SessionTracker(config.tickTimeMs, this.now(), 0n, deps.sessionSecret);
    // Recovered sessions start with fresh timers: those that are not renewed expire as usual.
    for (const [id, timeoutMs] of this.tree.sessions) this.sessions.add(id, timeoutMs, this.now());
    this.prep = new Prep(this.tree, {
      extendedTypes: config.extendedTypesEnabled,
      maxDataBytes: config.juteMaxBufferBytes,
      enforceQuota: config.enforceQuota,
      sessionLive: (id) => this.sessions.isLive(id),
    });
    this.commit = deps.commit ?? new InMemoryCommit();
    this.tcp = createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen({ port: this.config.clientPort, host: this.config.clientPortAddress }, () => {
        this.tcp.off('error', reject);
        resolve();
      });
    });
    this.timers.push(setInterval(() => this.expireSessions(), this.config.tickTimeMs));
    this.timers.push(setInterval(() => this.reapContainers(), this.config.containerCheckIntervalMs));
    for (const t of this.timers) t.unref();
    return this.address;
  }

  get address(): { host: string; port: number } {
    const a = this.tcp.address();
    if (a === null || typeof a === 'string') throw new Error('server is not listening');
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    const closed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    for (const c of [...this.connections]) c.close();
    await this.commit.close();
    await closed;
  }

  private accept(socket: Socket): void {
    const max = this.config.maxClientCnxns;
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (max > 0) {
      const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      let count = 0;
      for (const c of this.connections) if (c.remoteAddress === ip) count++;
      if (count >= max) {
        this.log.warn({ ip, max }, 'too many connections from this address');
        socket.destroy();
        return;
      }
    }
    this.connections.add(new Connection(socket, this));
  }

  /** A connection went away: its watches go with it; its session lives on until it expires. */
  forget(conn: Connection): void {
    this.connections.delete(conn);
    this.tree.removeWatcher(conn);
    if (this.bySession.get(conn.sessionId) === conn) this.bySession.delete(conn.sessionId);
  }

  readContext(conn: Connection): ReadContext {
    return { tree: this.tree, watcher: conn, sessionId: conn.sessionId, authInfo: conn.authInfo, reconfigEnabled: this.config.reconfigEnabled };
  }

  authenticate(scheme: string, auth: Buffer | null, clientAddr: string): Id[] | null {
    return authenticate(scheme, auth, clientAddr, this.config.superDigest);
  }

  touch(conn: Connection): void {
    this.sessions.touch(conn.sessionId, this.now());
  }

  // ---- sessions ----

  createSession(conn: Connection, timeoutMs: number): void {
    const id = this.sessions.newSessionId();
    conn.sessionId = id;
    this.sessions.add(id, timeoutMs, this.now());
    this.bySession.set(id, conn);
    this.submit(conn, id, 0, [], { type: OpCode.createSession, timeoutMs }, null);
  }

  reopenSession(conn: Connection, sessionId: bigint, passwd: Buffer, timeoutMs: number): void {
    const previous = this.bySession.get(sessionId);
    if (previous && previous !== conn) previous.close();
    const expected = this.sessions.passwordFor(sessionId);
    const valid = passwd.length === expected.length && timingSafeEqual(passwd, expected)
      && this.sessions.isLive(sessionId);
    conn.sessionId = sessionId;
    if (valid) {
      this.sessions.add(sessionId, timeoutMs, this.now());
      this.bySession.set(sessionId, conn);
    }
    conn.sendConnectResponse(valid, expected);
  }

  private expireSessions(): void {
    for (const s of this.sessions.expire(this.now())) {
      this.log.info(`expiring session 0x${BigInt.asUintN(64, s.id).toString(16)}, timeout of ${s.timeoutMs}ms exceeded`);
      this.submit(null, s.id, 0, [], { type: OpCode.closeSession }, null);
    }
  }

  /**
   * End a live session now, exactly as its expiry would (its ephemerals go, its client is told the
   * session expired when it reconnects). For tests; false when the session is not live.
   */
  expireSession(id: bigint): boolean {
    if (!this.sessions.isLive(id)) return false;
    this.log.info(`expiring session 0x${BigInt.asUintN(64, id).toString(16)} on request`);
    this.submit(null, id, 0, [], { type: OpCode.closeSession }, null);
    return true;
  }

  /** Close every client connection; the sessions live on, for their clients to reconnect to. */
  dropConnections(): number {
    const all = [...this.connections];
    for (const c of all) c.close();
    return all.length;
  }

  /** ContainerManager: empty containers that once had children, and TTL nodes past their time. */
  private reapContainers(): void {
    const now = this.now();
    const candidates: string[] = [];
    for (const path of this.tree.containers) {
      const n = this.tree.get(path);
      if (n && n.children.size === 0 && n.cversion > 0) candidates.push(path);
    }
    for (const path of this.tree.ttls) {
      const n = this.tree.get(path);
      if (!n || n.children.size !== 0 || ephemeralKind(n.ephemeralOwner, this.config.extendedTypesEnabled) !== 'ttl') continue;
      const ttl = ttlOf(n.ephemeralOwner);
      if (ttl !== 0 && now - n.mtime > ttl) candidates.push(path);
    }
    for (const path of candidates) this.submit(null, 0n, 0, [], { type: OpCode.deleteContainer, path }, null);
  }

  // ---- the write pipeline ----

  submitWrite(conn: Connection, xid: number, request: WriteRequest, pending: Pending): void {
    this.submit(conn, conn.sessionId, xid, conn.authInfo, request, pending);
  }

  private submit(conn: Connection | null, sessionId: bigint, cxid: number, authInfo: readonly Id[], request: WriteRequest, pending: Pending | null): void {
    const entry = this.prep.prepare({ sessionId, cxid, authInfo, timeMs: this.now() }, request);
    if (entry.header.type === OpCode.closeSession) this.sessions.setClosing(sessionId);
    this.commit.submit(entry, () => this.apply(entry, conn, pending));
  }

  private apply(entry: TxnEntry, conn: Connection | null, pending: Pending | null): void {
    const result = this.tree.apply(entry);
    const { zxid, type, sessionId } = entry.header;
    this.prep.applied(zxid);
    switch (type) {
      case OpCode.createSession:
        if (conn && !conn.isClosed) conn.sendConnectResponse(true, this.sessions.passwordFor(sessionId));
        return;
      case OpCode.closeSession: {
        this.sessions.remove(sessionId);
        const owner = this.bySession.get(sessionId);
        if (owner && owner !== conn) owner.closeAfterFlush();
        break;
      }
    }
    if (conn && pending && !conn.isClosed) conn.writeDone(pending, zxid, result, type === OpCode.error);
  }
}

