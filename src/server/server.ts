/**
 * The standalone server's shell: the TCP listener, the connections, the commit stage and the timers,
 * around the replica core (src/server/replica) that holds the tree, prep, sessions and watches.
 * Replies come back from the core keyed by (sessionId, cxid) and go to the connection holding
 * that session.
 */
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import pino, { type Logger } from 'pino';
import { OpCode } from '../protocol/constants.ts';
import type { JuteReader } from '../protocol/jute.ts';
import type { Id } from '../protocol/records.ts';
import { fourLetterWord, type QuorumStatus } from './admin/four-letter.ts';
import { ClientCounters } from './admin/client-counters.ts';
import { authenticate } from './auth/acl.ts';
import { X509_SCHEME, x509Identities } from './auth/x509.ts';
import { AuthEnforcement, SaslAuthenticator, unregisteredSchemes } from './auth/sasl.ts';
import type { ServerConfig } from './config.ts';
import type { Clock, Environment, Scheduler, Timer } from './env/environment.ts';
import { realEnvironment } from './env/real.ts';
import { Connection, type ConnectionHost, type ConnectionSocket } from './net/connection.ts';
import { secureClientListener, unifiedClientPort } from './net/tls-listener.ts';
import { clientAddress, ConnectionLimits, heaviest, heldBy, type ByteLimit } from './net/limits.ts';
import { InMemoryCommit, type CommitStage } from './pipeline/commit.ts';
import type { ReadContext } from './pipeline/reads.ts';
import { Replica } from './replica/replica.ts';
import { sessionIdHex, type SessionTracker } from './session/session-tracker.ts';
import { ServerStats } from './stats.ts';
import { DataTree } from './tree/data-tree.ts';
import { SESSION_SECRET_BYTES } from './tree/settings.ts';
import type { Watches } from './watches/watches.ts';

/** Watches of connections gone taken out per turn of the event loop (about 20 ms of work). */
const WATCH_SWEEP_SLICE = 20_000;

/**
 * The ACL schemes with no provider here, whose ACLs ZooKeeper refuses (INVALIDACL): sasl unless
 * zoo.cfg registers SASL's provider, x509 unless there is a secure client port or a unified one
 * (ZooKeeper's TLS setup registers x509's; with none, an x509 ACL is refused there).
 */
function schemesWithoutProvider(config: ServerConfig): ReadonlySet<string> {
  const schemes = new Set(unregisteredSchemes(config.sasl));
  if (config.secureClientPort === undefined && config.clientPortUnification !== true) schemes.add(X509_SCHEME);
  return schemes;
}

/**
 * What an ensemble member adds to the server around it: its followers' writes go to the leader,
 * reads that must be current wait for a read barrier, and clients are taken only while the member
 * can serve them.
 */
export interface QuorumHooks {
  forward(sessionId: bigint, cxid: number, authInfo: readonly Id[], type: number, body: Buffer): void;
  /** Runs `then` once this member has applied everything committed before the call (ReadIndex). */
  readBarrier(then: () => void): void;
  /** A client was heard from on this member. */
  touched(sessionId: bigint): void;
  /** A client is reopening its session on this member (its password right): it will hold its connection. */
  reopening(sessionId: bigint): void;
  /** Whether this member takes clients now (it knows a leader and has caught up). */
  serving(): boolean;
  status(): QuorumStatus;
}

export interface ServerDeps {
  log?: Logger;
  commit?: CommitStage;
  /** Set when the server is a member of an ensemble (its session secret then comes from the ensemble). */
  quorum?: QuorumHooks;
  /** The member's id in its ensemble: the top byte of its session ids (0 standalone). */
  serverId?: number;
  /** Time, timers and randomness (the real ones otherwise). */
  env?: Environment;
  /** The recovered state (an empty tree otherwise). */
  tree?: DataTree;
}

export class EnsembleServer implements ConnectionHost {
  /** Replaced only when an ensemble member installs a snapshot (replaceTree). */
  tree: DataTree;
  replica: Replica;
  readonly stats = new ServerStats();
  readonly clientCounters = new ClientCounters();
  readonly limits: ConnectionLimits;
  readonly log: Logger;
  readonly connections = new Set<Connection>();
  readonly startedAtMs: number;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** SASL DIGEST-MD5, when a JAAS file is configured. */
  readonly sasl: SaslAuthenticator | undefined;
  /** sessionRequireClientSASLAuth, enforce.auth.*: what a connection needs before its requests are served. */
  readonly authEnforcement: AuthEnforcement | undefined;
  private readonly commit: CommitStage;
  private readonly bySession = new Map<bigint, Connection>();
  /** Whoever waits for a session's end to be applied (expireSession). */
  private readonly sessionEndWaiters = new Map<bigint, Array<() => void>>();
  /** The client port, unless only the secure one is configured. */
  private readonly tcp: TcpServer | undefined;
  /** The secure client port, made at listen() (it reads the key and trust stores). */
  private secure: TlsServer | undefined;
  /** What the client port does with a connection: serve it, or first tell TLS from plain (client.portUnification). */
  private onClientPort = (socket: Socket): void => this.accept(socket);
  private readonly timers: Timer[] = [];
  private closing = false;
  private sweeping = false;
  private readonly quorum: QuorumHooks | undefined;
  private readonly serverId: number;
  /** ACL schemes with no provider in this configuration (schemesWithoutProvider). */
  private readonly unregistered: ReadonlySet<string>;

  constructor(readonly config: ServerConfig, deps: ServerDeps = {}) {
    const env = deps.env ?? realEnvironment;
    this.log = deps.log ?? pino({ name: 'ensemble' });
    this.clock = env.clock;
    this.scheduler = env.scheduler;
    this.startedAtMs = this.clock.now();
    this.sasl = SaslAuthenticator.load(config.sasl, (n) => env.random.bytes(n));
    if (this.sasl) this.log.info({ jaas: config.sasl?.jaasFile, users: this.sasl.userCount }, 'SASL DIGEST-MD5 authentication on');
    this.authEnforcement = AuthEnforcement.of(config.sasl);
    if (this.authEnforcement) this.log.info({ schemes: this.authEnforcement.describe() }, 'authentication enforced');
    this.limits = new ConnectionLimits(config, this.log, this.clock);
    this.tree = deps.tree ?? new DataTree({ extendedTypes: config.extendedTypesEnabled });
    // A tree that no storage created (in memory): its sessions need not outlive the process.
    if (this.tree.settings.sessionSecret.length === 0 && deps.quorum === undefined) {
      this.tree.adoptSettings({ ...this.tree.settings, sessionSecret: env.random.bytes(SESSION_SECRET_BYTES) });
    }
    this.watchQuotaErrors();
    this.commit = deps.commit ?? new InMemoryCommit();
    this.quorum = deps.quorum;
    this.serverId = deps.serverId ?? 0;
    this.unregistered = schemesWithoutProvider(config);
    this.replica = this.newReplica();
    this.tcp = config.clientPortEnabled ? createServer((socket) => this.onClientPort(socket)) : undefined;
  }

  /**
   * An ensemble member installs a leader's snapshot: the tree is replaced, and so is the replica
   * core around it; every connection goes (its session lives on, for its client to reconnect).
   */
  replaceTree(tree: DataTree): void {
    this.dropConnections();
    this.tree = tree;
    this.watchQuotaErrors();
    this.replica = this.newReplica();
  }

  private watchQuotaErrors(): void {
    this.tree.onQuotaError = (err, path) => {
      // Where ZooKeeper's own quota code throws (malformed stats text, a limits node right under
      // /zookeeper/quota): it stops serving; Ensemble applies the change and leaves the quota as is.
      this.log.warn({ path, err: err.message }, 'quota statistics not updated');
    };
  }

  private newReplica(): Replica {
    return new Replica(this.tree, {
      serverId: this.serverId,
      tickTimeMs: this.config.tickTimeMs,
      maxDataBytes: this.config.juteMaxBufferBytes,
      enforceQuota: this.config.enforceQuota,
      unregisteredSchemes: this.unregistered,
      clock: this.clock,
      log: this.log,
      watchLimit: {
        maxPerSession: this.config.maxWatchesPerSession,
        onRefused: (watcher, held) => this.log.warn({ session: sessionIdHex(watcher.sessionId), watches: held, max: this.config.maxWatchesPerSession }, 'watch limit reached (ensemble.maxWatchesPerSession): requests that would set more watches on this connection are refused with THROTTLEDOP'),
      },
    }, {
      propose: (entry) => this.commit.submit(entry, () => this.replica.committed(entry)),
      forward: (sessionId, cxid, authInfo, type, body) => this.quorum?.forward(sessionId, cxid, authInfo, type, body),
      sessionMoved: (sessionId) => this.bySession.get(sessionId)?.close(),
      reply: (sessionId, cxid, zxid, result, failed) => this.bySession.get(sessionId)?.writeDone(cxid, zxid, result, failed),
      sessionOpened: (sessionId, passwd) => {
        const conn = this.bySession.get(sessionId);
        if (conn) this.log.info({ session: sessionIdHex(sessionId), client: clientOf(conn), timeoutMs: conn.sessionTimeoutMs }, 'session established');
        conn?.sendConnectResponse(true, passwd);
      },
      sessionExpired: () => this.stats.sessionsExpired++,
      sessionClosed: (sessionId) => {
        this.bySession.get(sessionId)?.closeAfterFlush();
        for (const resolve of this.sessionEndWaiters.get(sessionId) ?? []) resolve();
        this.sessionEndWaiters.delete(sessionId);
      },
    });
  }

  get sessions(): SessionTracker {
    return this.replica.sessions;
  }

  get watches(): Watches {
    return this.replica.watches;
  }

  get quorumStatus(): QuorumStatus | undefined {
    return this.quorum?.status();
  }

  get lastZxid(): number {
    return this.tree.lastProcessedZxid;
  }

  async listen(): Promise<{ host: string; port: number }> {
    if (this.config.clientPortUnification === true) {
      const tls = secureClientListener(this.config.clientTls, this.log, (socket, cert) => this.accept(socket, cert));
      this.onClientPort = unifiedClientPort(tls, (socket) => this.accept(socket), this.scheduler);
    }
    if (this.tcp) await listenOn(this.tcp, this.config.clientPort, this.config.clientPortAddress);
    if (this.config.secureClientPort !== undefined) {
      this.secure = secureClientListener(this.config.clientTls, this.log, (socket, cert) => this.accept(socket, cert));
      await listenOn(this.secure, this.config.secureClientPort, this.config.secureClientPortAddress);
    }
    this.start();
    return this.address;
  }

  /** Start the core's clockwork (session expiry, the container reaper); listen() does it too. */
  start(): void {
    if (this.timers.length > 0) return;
    this.timers.push(this.scheduler.every(this.config.tickTimeMs, () => {
      if (this.replica.tick()) this.expireMoreSoon();
    }));
    this.timers.push(this.scheduler.every(this.config.containerCheckIntervalMs, () => this.replica.reapContainers()));
  }

  /** A storm of expiries goes on over later turns, with requests served between its slices. */
  private expireMoreSoon(): void {
    this.scheduler.soon(() => {
      if (!this.closing && this.replica.expireMore()) this.expireMoreSoon();
    });
  }

  /** The client port's address (the secure port's when it is the only one). */
  get address(): { host: string; port: number } {
    return addressOf(this.tcp ?? this.secure);
  }

  get secureAddress(): { host: string; port: number } | undefined {
    return this.secure && addressOf(this.secure);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.timers) t.cancel();
    const closed = Promise.all([this.tcp, this.secure].map((l) => new Promise<void>((resolve) => {
      if (l?.listening === true) l.close(() => resolve());
      else resolve();
    })));
    for (const c of [...this.connections]) c.close();
    await this.commit.close();
    await closed;
  }

  /** Serve a client connection: one a listener accepted (with the client's certificate on the secure port), or a simulated one. */
  accept(socket: ConnectionSocket, certificate?: Buffer): void {
    if (this.closing || !this.limits.admit(clientAddress(socket.remoteAddress))) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, this);
    this.limits.opened(conn.remoteAddress);
    if (certificate) conn.authInfo.push(...x509Identities(certificate, this.config.x509SuperUser));
    this.connections.add(conn);
    if (this.log.isLevelEnabled('debug')) this.log.debug({ client: clientOf(conn) }, 'connection accepted');
  }

  // ---- what connections ask of the server ----

  fourLetterWord(code: number): string | null {
    return fourLetterWord(code, this);
  }

  /** A connection went away: its watches go with it; its session lives on until it expires. */
  forget(conn: Connection): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ client: clientOf(conn), session: conn.sessionId === 0n ? undefined : sessionIdHex(conn.sessionId) }, 'connection closed');
    if (this.connections.delete(conn)) this.limits.closed(conn.remoteAddress);
    conn.account();
    this.replica.watches.removeWatcher(conn);
    this.sweepWatches();
    if (this.bySession.get(conn.sessionId) === conn) this.bySession.delete(conn.sessionId);
  }

  shed(limit: ByteLimit): void {
    // Sockets drain without telling: first every connection's own figure, up to date.
    for (const c of this.connections) c.account();
    while (this.limits.over(limit)) {
      const conn = heaviest(this.connections, limit);
      if (conn === undefined) return;
      const { total, max } = this.limits.bytes(limit);
      this.limits.reached(limit, { remote: conn.remoteAddress, heldBytes: heldBy(conn, limit), totalBytes: total, max });
      conn.close();
    }
  }

  /** Watches of connections gone leave the tables a slice per turn of the event loop. */
  private sweepWatches(): void {
    if (this.sweeping) return;
    this.sweeping = true;
    const step = (): void => {
      if (this.replica.watches.sweep(WATCH_SWEEP_SLICE)) this.scheduler.soon(step);
      else this.sweeping = false;
    };
    this.scheduler.soon(step);
  }

  readContext(conn: Connection): ReadContext {
    return { tree: this.tree, watches: this.replica.watches, watcher: conn, sessionId: conn.sessionId, authInfo: conn.authInfo, reconfigEnabled: this.config.reconfigEnabled,
      unregisteredSchemes: this.unregistered };
  }

  authenticate(scheme: string, auth: Buffer | null, clientAddr: string): Id[] | null {
    return authenticate(scheme, auth, clientAddr, this.config.superDigest);
  }

  touch(conn: Connection): boolean {
    this.quorum?.touched(conn.sessionId);
    return this.replica.touch(conn.sessionId);
  }

  /** Set for an ensemble member: sync waits until this member has applied all that was committed before it. */
  get readBarrier(): ((then: () => void) => void) | undefined {
    const quorum = this.quorum;
    return quorum === undefined ? undefined : (then) => quorum.readBarrier(then);
  }

  createSession(conn: Connection, timeoutMs: number): void {
    if (this.quorum !== undefined && !this.quorum.serving()) {
      // A member with no leader takes no sessions: the client tries another.
      conn.close();
      return;
    }
    // The connection is found by its session id when the createSession Txn is applied.
    const id = this.replica.newSessionId();
    conn.sessionId = id;
    this.bySession.set(id, conn);
    this.replica.openSession(id, timeoutMs);
  }

  reopenSession(conn: Connection, sessionId: bigint, passwd: Buffer, timeoutMs: number): void {
    if (this.quorum !== undefined && !this.quorum.serving()) {
      conn.close();
      return;
    }
    // In an ensemble the session may have been created, or ended, through another member: judge it
    // on a tree that has applied everything committed before the client asked.
    if (this.quorum !== undefined) {
      if (this.replica.passwordMatches(sessionId, passwd)) this.quorum.reopening(sessionId);
      this.quorum.readBarrier(() => this.reopenNow(conn, sessionId, passwd, timeoutMs));
    } else {
      this.reopenNow(conn, sessionId, passwd, timeoutMs);
    }
  }

  private reopenNow(conn: Connection, sessionId: bigint, passwd: Buffer, timeoutMs: number): void {
    if (conn.isClosed) return;
    const previous = this.bySession.get(sessionId);
    if (previous && previous !== conn) previous.close();
    conn.sessionId = sessionId;
    const valid = this.replica.reopenSession(sessionId, passwd, timeoutMs);
    const fields = { session: sessionIdHex(sessionId), client: clientOf(conn), timeoutMs: conn.sessionTimeoutMs };
    if (valid) {
      this.bySession.set(sessionId, conn);
      this.quorum?.touched(sessionId);
      this.log.info({ ...fields, reconnected: true }, 'session established');
    } else {
      this.log.info(fields, 'session refused: expired, or a wrong password');
    }
    conn.sendConnectResponse(valid, this.replica.passwordFor(sessionId));
  }

  submitWrite(conn: Connection, xid: number, type: number, body: JuteReader): void {
    if (type === OpCode.closeSession) this.log.info({ session: sessionIdHex(conn.sessionId), client: clientOf(conn) }, 'session closed');
    this.replica.submit(conn.sessionId, xid, conn.authInfo, type, body);
  }

  // ---- for tests ----

  /**
   * End a live session now, exactly as its expiry would (its ephemerals go, its client is told the
   * session expired when it reconnects). Resolves once that is applied; false when the session is
   * not live.
   */
  expireSession(id: bigint): Promise<boolean> {
    if (!this.replica.expireSession(id, 'on request')) return Promise.resolve(false);
    return new Promise((resolve) => {
      let waiters = this.sessionEndWaiters.get(id);
      if (!waiters) this.sessionEndWaiters.set(id, (waiters = []));
      waiters.push(() => resolve(true));
    });
  }

  /** Close every client connection; the sessions live on, for their clients to reconnect to. */
  dropConnections(): number {
    const all = [...this.connections];
    for (const c of all) c.close();
    return all.length;
  }
}

function listenOn(server: TcpServer | TlsServer, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function addressOf(server: TcpServer | TlsServer | undefined): { host: string; port: number } {
  const a = server?.address();
  if (a === null || a === undefined || typeof a === 'string') throw new Error('server is not listening');
  return { host: a.address, port: a.port };
}

const clientOf = (conn: Connection): string => `${conn.remoteAddress}:${conn.remotePort}`;
