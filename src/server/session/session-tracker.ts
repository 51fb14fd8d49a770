/**
 * Session expiry by tick buckets (SessionTrackerImpl): a session's deadline is rounded up to the next
 * tick, so one timer per tick expires a whole bucket. Pure: the caller passes the time in.
 *
 * Ids carry the id of the member that created them in their top byte, as ZooKeeper's do, and
 * passwords are derived from the id and the ensemble's secret (replicated state), so any member can
 * check a reconnecting client's. Each session has an owner: the member holding its connection.
 */
import { hash } from 'node:crypto';
import { Err, KeeperError } from '../../protocol/constants.ts';

/** A session id as ZooKeeper prints it: 0x and unsigned hex. */
export const sessionIdHex = (id: bigint): string => `0x${BigInt.asUintN(64, id).toString(16)}`;

export interface Session {
  readonly id: bigint;
  timeoutMs: number;
  /** Deadline bucket, a multiple of tickMs. */
  expiresAtMs: number;
  closing: boolean;
  /** The member that holds the session's connection. */
  owner: number;
}

export class SessionTracker {
  private readonly sessions = new Map<bigint, Session>();
  private readonly buckets = new Map<number, Set<Session>>();
  private nextId: bigint;

  /**
   * `wallMs` seeds the ids: as ZooKeeper, the time in the high bits keeps them unique across
   * restarts; the top byte is the server id. `secret` is read at each use (it is replicated state).
   */
  constructor(private readonly tickMs: number, wallMs: number, serverId: number, private readonly secret: () => Buffer) {
    this.nextId = (BigInt.asUintN(64, BigInt(Math.floor(wallMs)) << 24n) >> 8n) | (BigInt(serverId & 0xff) << 56n);
  }

  newSessionId(): bigint {
    return BigInt.asIntN(64, this.nextId++);
  }

  /** The session password is derived from its id, so it needs no storage. */
  passwordFor(id: bigint): Buffer {
    // secret || id, both of fixed length: a keyed hash without an Hmac object per session.
    const secret = this.secret();
    const b = Buffer.allocUnsafe(secret.length + 8);
    secret.copy(b);
    b.writeBigInt64BE(id, secret.length);
    return hash('sha256', b, 'buffer').subarray(0, 16);
  }

  get(id: bigint): Session | undefined {
    return this.sessions.get(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<Session> {
    return this.sessions.values();
  }

  private bucketFor(nowMs: number, timeoutMs: number): number {
    return (Math.floor((nowMs + timeoutMs) / this.tickMs) + 1) * this.tickMs;
  }

  add(id: bigint, timeoutMs: number, nowMs: number, owner: number): Session {
    let s = this.sessions.get(id);
    if (!s) {
      s = { id, timeoutMs, expiresAtMs: 0, closing: false, owner };
      this.sessions.set(id, s);
    }
    s.timeoutMs = timeoutMs;
    s.owner = owner;
    this.touch(id, nowMs);
    return s;
  }

  /**
   * Extend a live session's deadline (`owner`: the member that now holds its connection, as its
   * client reopened it there). False when it is unknown or closing.
   */
  touch(id: bigint, nowMs: number, owner?: number): boolean {
    const s = this.sessions.get(id);
    if (!s || s.closing) return false;
    if (owner !== undefined) s.owner = owner;
    const at = this.bucketFor(nowMs, s.timeoutMs);
    if (at <= s.expiresAtMs) return true;
    this.buckets.get(s.expiresAtMs)?.delete(s);
    s.expiresAtMs = at;
    let bucket = this.buckets.get(at);
    if (!bucket) this.buckets.set(at, (bucket = new Set()));
    bucket.add(s);
    return true;
  }

  isLive(id: bigint): boolean {
    const s = this.sessions.get(id);
    return s !== undefined && !s.closing;
  }

  /**
   * SessionTrackerImpl.checkSession: SESSIONEXPIRED for a session that is unknown or closing,
   * SESSIONMOVED when another member now holds its connection.
   */
  check(id: bigint, owner: number): void {
    const s = this.sessions.get(id);
    if (s === undefined || s.closing) throw new KeeperError(Err.SESSIONEXPIRED);
    if (s.owner !== owner) throw new KeeperError(Err.SESSIONMOVED);
  }

  setClosing(id: bigint): void {
    const s = this.sessions.get(id);
    if (s) s.closing = true;
  }

  remove(id: bigint): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    this.buckets.get(s.expiresAtMs)?.delete(s);
  }

  /**
   * A new leader, its whole log applied: every session it still holds is live (a close it had begun
   * as an earlier leader was committed and applied, or lost with that term) and its timer starts
   * afresh (it knows nothing of the old leader's).
   */
  renewAll(nowMs: number): void {
    for (const s of this.sessions.values()) {
      s.closing = false;
      this.touch(s.id, nowMs);
    }
  }

  /** Sessions whose deadline has passed; they are marked closing. */
  expire(nowMs: number): Session[] {
    const out: Session[] = [];
    for (const [at, bucket] of this.buckets) {
      if (at > nowMs) continue;
      this.buckets.delete(at);
      for (const s of bucket) {
        s.closing = true;
        out.push(s);
      }
    }
    return out;
  }
}
