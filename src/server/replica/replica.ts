/**
 * The deterministic core of one member. In: client writes (with their session, cxid and auth ids),
 * session opens and touches, committed Txns, and ticks. Out, through ReplicaOutput: Txns to make
 * durable or agreed, replies keyed by (sessionId, cxid), handshake answers and ended sessions; and
 * watch events, to the watchers the member's reads registered. No sockets, no timers, no randomness:
 * the shell passes time in through the clock it is given.
 */
import { timingSafeEqual } from 'node:crypto';
import { Err, OpCode } from '../../protocol/constants.ts';
import type { Id } from '../../protocol/records.ts';
import type { Clock } from '../env/environment.ts';
import { JuteReader } from '../../protocol/jute.ts';
import { keepable } from '../../protocol/frame-decoder.ts';
import { decodeWrite } from '../pipeline/client-write.ts';
import { Prep, type WriteRequest } from '../pipeline/prep.ts';
import { SessionTracker, sessionIdHex, type Session } from '../session/session-tracker.ts';
import { ephemeralKind, ttlOf, type ApplyResult, type DataTree } from '../tree/data-tree.ts';
import type { Txn, TxnEntry } from '../tree/txn.ts';
import { Watches, type WatchEvent, type WatchLimit } from '../watches/watches.ts';
import { WriteGate, type HeldWrite } from '../pipeline/write-gate.ts';

/**
 * Standalone and leader prep writes into Txns; a follower forwards them to its leader, as they came
 * off the wire, and answers them when their Txns come back committed.
 */
export type ReplicaRole = 'standalone' | 'leader' | 'follower';

export interface ReplicaOutput {
  /** Make the Txn durable (a log) or agreed (a quorum); then hand it back to `committed`. */
  propose(entry: TxnEntry): void;
  /** A follower's client write, for the leader to prep (its session's owner is this member). */
  forward?(sessionId: bigint, cxid: number, authInfo: readonly Id[], type: number, body: Buffer): void;
  /**
   * This member's request failed with SESSIONMOVED: its client's connection has moved to another
   * member, so this one is closed instead of answered (ZOOKEEPER-710).
   */
  sessionMoved(sessionId: bigint): void;
  /** The answer to this member's request (sessionId, cxid). `failed`: it failed in prep. */
  reply(sessionId: bigint, cxid: number, zxid: number, result: ApplyResult, failed: boolean): void;
  /** A session this member opened is created: answer its handshake. */
  sessionOpened(sessionId: bigint, passwd: Buffer): void;
  /** A session ended (closed or expired): whatever connection this member holds for it goes. */
  sessionClosed(sessionId: bigint): void;
  /** A session's timeout passed: its end is proposed (ZooKeeper's stale_sessions_expired counts these). */
  sessionExpired?(sessionId: bigint): void;
}

export interface ReplicaOptions {
  /** This member's id: the top byte of the session ids it creates, and the owner of its sessions. */
  serverId: number;
  tickTimeMs: number;
  maxDataBytes: number;
  enforceQuota: boolean;
  /** ACL schemes without a registered provider (Prep's). */
  unregisteredSchemes?: ReadonlySet<string>;
  clock: Clock;
  log: { info(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
  /** Watches per session (none: no limit). */
  watchLimit?: WatchLimit;
}

/**
 * Expired sessions whose ends are proposed per call of tick or expireMore: a storm of expiries
 * (thousands of sessions left together) is ended over several turns of the event loop, with other
 * requests served between them. Before, 20,000 to 30,000 ends in one turn (prep, log line, commit)
 * stalled a server 0.5 to 0.8 s; the core's own prep and propose take about 1 µs an end.
 */
export const EXPIRIES_PER_SLICE = 500;

export class Replica {
  readonly watches: Watches;
  /** Standalone: large writes wait here while others' are in the commit stage (write-gate.ts). */
  private readonly gate = new WriteGate<HeldWrite & { authInfo: readonly Id[] }>();
  readonly sessions: SessionTracker;
  private readonly prep: Prep;
  /** The watch events of the Txn being applied (one array for all). */
  private readonly events: WatchEvent[] = [];
  /**
   * This member's writes not yet applied (session and cxid), in the order it proposed them, which
   * is the order they are applied in: a committed Txn that is not the oldest of them came from
   * elsewhere (another member's client, a session's expiry).
   */
  private readonly local = new LocalWrites();
  private role: ReplicaRole = 'standalone';
  /** Sessions found expired (marked closing) whose ends are not yet proposed, oldest first. */
  private expiring: Session[] = [];
  private expiringHead = 0;

  constructor(readonly tree: DataTree, private readonly options: ReplicaOptions, private readonly out: ReplicaOutput) {
    const { clock } = options;
    this.watches = new Watches(options.watchLimit);
    this.sessions = new SessionTracker(options.tickTimeMs, clock.now(), options.serverId, () => tree.settings.sessionSecret);
    // Recovered sessions start with fresh timers: those that are not renewed expire as usual.
    for (const [id, timeoutMs] of tree.sessions) this.sessions.add(id, timeoutMs, clock.monotonic(), options.serverId);
    this.prep = new Prep(tree, {
      maxDataBytes: options.maxDataBytes,
      enforceQuota: options.enforceQuota,
      unregisteredSchemes: options.unregisteredSchemes,
      checkSession: (id, owner) => this.sessions.check(id, owner),
    });
  }

  get currentRole(): ReplicaRole {
    return this.role;
  }

  /**
   * This member leads its ensemble, and has applied its whole log: prep starts over from the tree,
   * numbering Txns on from `lastZxid`; every session's timer starts afresh (the leader runs expiry).
   */
  lead(lastZxid: number): void {
    this.role = 'leader';
    this.dropExpiring();
    this.prep.restart(lastZxid);
    this.sessions.renewAll(this.options.clock.monotonic());
  }

  /**
   * This member follows (or knows no leader). `forget`: its writes in flight may never commit (the
   * leader changed), so they are forgotten; the shell drops the connections that sent them.
   */
  follow(forget: boolean): void {
    this.role = 'follower';
    if (forget) this.local.clear();
    // The leader expires sessions from now on; those whose end this member never proposed are live.
    for (let i = this.expiringHead; i < this.expiring.length; i++) this.expiring[i].closing = false;
    this.dropExpiring();
  }

  // ---- sessions ----

  /** An id for a new session of a client of this member. */
  newSessionId(): bigint {
    return this.sessions.newSessionId();
  }

  /** Create the session `id`: answered by sessionOpened once it is committed. */
  openSession(id: bigint, timeoutMs: number): void {
    this.sessions.add(id, timeoutMs, this.options.clock.monotonic(), this.options.serverId);
    this.submitRequest(id, 0, [], { type: OpCode.createSession, timeoutMs });
  }

  /** A client reconnects with its session id and password: true when both hold and it is live. */
  reopenSession(id: bigint, passwd: Buffer, timeoutMs: number): boolean {
    const valid = this.passwordMatches(id, passwd) && this.sessions.isLive(id);
    if (valid) this.sessions.add(id, timeoutMs, this.options.clock.monotonic(), this.options.serverId);
    return valid;
  }

  /** The password is the session's (whether the session is live or not). */
  passwordMatches(id: bigint, passwd: Buffer): boolean {
    const expected = this.sessions.passwordFor(id);
    return passwd.length === expected.length && timingSafeEqual(passwd, expected);
  }

  passwordFor(id: bigint): Buffer {
    return this.sessions.passwordFor(id);
  }

  /**
   * The session's client was heard from: its deadline moves. False when the session is unknown or
   * closing (ZooKeeperServer.touch): its request is dropped unanswered, as ZooKeeper does.
   */
  touch(sessionId: bigint): boolean {
    return this.sessions.touch(sessionId, this.options.clock.monotonic());
  }

  /** End a live session now, as its expiry would. False when it is not live. */
  expireSession(id: bigint, why: string): boolean {
    if (!this.sessions.isLive(id)) return false;
    this.options.log.info({ session: sessionIdHex(id), reason: why }, 'session expired');
    this.sessions.setClosing(id);
    this.proposeClose(id);
    return true;
  }

  private proposeClose(id: bigint): void {
    this.propose(id, 0, [], { type: OpCode.closeSession });
  }

  // ---- ticks ----

  /**
   * Find the sessions whose deadline passed (only where Txns are prepped: a follower's leader does
   * it) and propose the ends of the first EXPIRIES_PER_SLICE. All of them are closing at once, so
   * none is served meanwhile (SessionTrackerImpl.run marks a whole bucket closing before it expires
   * each). True when ends are left for expireMore, on a later turn.
   */
  tick(): boolean {
    if (this.role === 'follower') return false;
    for (const s of this.sessions.expire(this.options.clock.monotonic())) this.expiring.push(s);
    return this.expireMore();
  }

  /** Propose the ends of the next EXPIRIES_PER_SLICE expired sessions; true when some are left. */
  expireMore(): boolean {
    const end = Math.min(this.expiring.length, this.expiringHead + EXPIRIES_PER_SLICE);
    if (this.role === 'follower' || end === this.expiringHead) return false;
    const { log } = this.options;
    let count = 0;
    for (let i = this.expiringHead; i < end; i++) {
      const s = this.expiring[i];
      // Ended meanwhile some other way (a closeSession committed) or live again (a new term).
      if (this.sessions.get(s.id) !== s || !s.closing) continue;
      // One line a session, as ZooKeeper's "Expiring session": cheap enough at a slice's size.
      log.info({ session: sessionIdHex(s.id), reason: `timeout of ${s.timeoutMs}ms exceeded` }, 'session expired');
      this.out.sessionExpired?.(s.id);
      this.proposeClose(s.id);
      count++;
    }
    this.expiringHead = end;
    const left = this.expiring.length - end;
    if (count > 0) log.debug?.({ sessions: count, left }, 'sessions expired: timeout exceeded');
    if (left === 0) this.dropExpiring();
    return left > 0;
  }

  private dropExpiring(): void {
    this.expiring = [];
    this.expiringHead = 0;
  }

  /** ContainerManager: empty containers that once had children, and TTL nodes past their time. */
  reapContainers(): void {
    if (this.role === 'follower') return;
    const tree = this.tree;
    const now = this.options.clock.now();
    const candidates: string[] = [];
    for (const path of tree.containers) {
      const n = tree.get(path);
      if (n && n.children.size === 0 && n.cversion > 0) candidates.push(path);
    }
    for (const path of tree.ttls) {
      const n = tree.get(path);
      if (!n || n.children.size !== 0 || ephemeralKind(n.ephemeralOwner, tree.extendedTypes) !== 'ttl') continue;
      const ttl = ttlOf(n.ephemeralOwner);
      if (ttl !== 0 && now - n.mtime > ttl) candidates.push(path);
    }
    for (const path of candidates) this.propose(0n, 0, [], { type: OpCode.deleteContainer, path });
  }

  // ---- writes ----

  /**
   * A write from a client of this member as it came off the wire (its opcode, and a reader over its
   * body); answered by `reply` once its Txn is applied.
   */
  submit(sessionId: bigint, cxid: number, authInfo: readonly Id[], type: number, body: JuteReader): void {
    if (this.role === 'follower') {
      this.local.push(sessionId, cxid);
      if (type === OpCode.closeSession) this.sessions.setClosing(sessionId);
      this.out.forward!(sessionId, cxid, authInfo, type, body.buf.subarray(body.offset, body.end));
      return;
    }
    const bytes = body.end - body.offset;
    if (this.role === 'standalone' && !this.gate.admits(sessionId, bytes)) {
      this.gate.hold({ sessionId, cxid, authInfo, type, body: keepable(body.buf.subarray(body.offset, body.end)) });
      return;
    }
    this.submitRequest(sessionId, cxid, authInfo, decodeWrite(type, body), bytes);
  }

  /** The leader preps a write a follower forwarded for its client (`owner`: that follower). */
  submitForwarded(owner: number, sessionId: bigint, cxid: number, authInfo: readonly Id[], type: number, body: Buffer): void {
    const request = type === OpCode.createSession ? { type, timeoutMs: body.readInt32BE(0) } : decodeWrite(type, new JuteReader(body));
    // Known from now on, as ZooKeeper's leader adds a session when it preps it: the member that asked
    // may learn of the commit, answer its client and forward that client's next write before this
    // member has applied it.
    if ('timeoutMs' in request) this.sessions.add(sessionId, request.timeoutMs, this.options.clock.monotonic(), owner);
    if (request.type === OpCode.closeSession) this.sessions.setClosing(sessionId);
    this.propose(sessionId, cxid, authInfo, request, owner);
  }

  private submitRequest(sessionId: bigint, cxid: number, authInfo: readonly Id[], request: WriteRequest, bytes = 0): void {
    this.local.push(sessionId, cxid);
    if (request.type === OpCode.closeSession) this.sessions.setClosing(sessionId);
    if (this.role === 'follower') {
      // Only createSession comes here on a follower: the other writes arrive as bytes (submit).
      const body = Buffer.alloc(4);
      body.writeInt32BE((request as { timeoutMs: number }).timeoutMs);
      this.out.forward!(sessionId, cxid, authInfo, request.type, body);
      return;
    }
    const zxid = this.propose(sessionId, cxid, authInfo, request);
    if (this.role === 'standalone') this.gate.proposed(zxid, bytes);
  }

  /** Preps and proposes a write; returns its zxid. */
  private propose(sessionId: bigint, cxid: number, authInfo: readonly Id[], request: WriteRequest, owner = this.options.serverId): number {
    const entry = this.prep.prepare({ sessionId, cxid, owner, authInfo, timeMs: this.options.clock.now() }, request);
    this.out.propose(entry);
    return entry.header.zxid;
  }

  /** A member heard from the session's client: its deadline moves (its owner does not). */
  touchFrom(sessionId: bigint): void {
    this.sessions.touch(sessionId, this.options.clock.monotonic());
  }

  /** The session's client reopened it on `owner`, which holds its connection from now on. */
  reopenedOn(owner: number, sessionId: bigint): void {
    this.sessions.touch(sessionId, this.options.clock.monotonic(), owner);
  }

  /** A Txn is committed: apply it, fire the watches it triggers, then answer it if it is ours. */
  committed(entry: TxnEntry): void {
    this.apply(entry);
    if (this.role !== 'standalone') return;
    for (const w of this.gate.committed(entry.header.zxid)) {
      this.submitRequest(w.sessionId, w.cxid, w.authInfo, decodeWrite(w.type, new JuteReader(w.body)), w.body.length);
    }
  }

  private apply(entry: TxnEntry): void {
    const applied = this.tree.apply(entry, this.watches.isEmpty ? null : this.events);
    const { zxid, type, sessionId, cxid } = entry.header;
    this.prep.applied(zxid);
    if (this.events.length > 0) {
      try {
        this.watches.deliver(this.events, zxid);
      } finally {
        this.events.length = 0;
      }
    }
    const ours = this.local.takeIf(sessionId, cxid);
    switch (type) {
      case OpCode.createSession:
        if (ours) this.out.sessionOpened(sessionId, this.sessions.passwordFor(sessionId));
        else if (entry.txn.kind === 'createSession') {
          // Opened through another member (the one in its id's top byte), which holds its connection.
          this.sessions.add(sessionId, entry.txn.timeoutMs, this.options.clock.monotonic(), Number(BigInt.asUintN(64, sessionId) >> 56n));
        }
        return;
      case OpCode.closeSession:
        this.sessions.remove(sessionId);
        if (ours) this.out.reply(sessionId, cxid, zxid, applied, false);
        this.out.sessionClosed(sessionId);
        return;
    }
    if (!ours) return;
    if (sessionMoved(entry.txn)) this.out.sessionMoved(sessionId);
    else this.out.reply(sessionId, cxid, zxid, applied, type === OpCode.error);
  }
}

/** The write failed SESSIONMOVED: as a whole, or a multi at one of its ops (prep checks each). */
function sessionMoved(txn: Txn): boolean {
  if (txn.kind === 'error') return txn.err === Err.SESSIONMOVED;
  return txn.kind === 'multi' && txn.ops.some((op) => op.txn.kind === 'error' && op.txn.err === Err.SESSIONMOVED);
}

/** A FIFO of (sessionId, cxid) without an allocation per entry. */
class LocalWrites {
  private sessions: bigint[] = [];
  private cxids: number[] = [];
  private head = 0;

  push(sessionId: bigint, cxid: number): void {
    this.sessions.push(sessionId);
    this.cxids.push(cxid);
  }

  clear(): void {
    this.head = 0;
    this.sessions.length = 0;
    this.cxids.length = 0;
  }

  /** Removes the oldest entry if it is (sessionId, cxid): the write is this member's to answer. */
  takeIf(sessionId: bigint, cxid: number): boolean {
    const i = this.head;
    if (i === this.cxids.length || this.cxids[i] !== cxid || this.sessions[i] !== sessionId) return false;
    this.head = i + 1;
    if (this.head === this.cxids.length) {
      this.head = 0;
      this.sessions.length = 0;
      this.cxids.length = 0;
    } else if (this.head >= 1024) {
      this.sessions = this.sessions.slice(this.head);
      this.cxids = this.cxids.slice(this.head);
      this.head = 0;
    }
    return true;
  }
}
