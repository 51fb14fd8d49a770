/**
 * What the simulator checks. On the wire (every byte the server sends): each connection's replies
 * come in the order of their requests, and a session never sees the zxid go back, across
 * reconnections and restarts. On the state: a restarted server holds every zxid a client has seen,
 * and its tree is exactly what replaying its durable log from the start produces (a plain loop of
 * apply, not the snapshot-and-replay path under test); every ephemeral belongs to a live session.
 */
import { createHash } from 'node:crypto';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { DataTree, ephemeralKind } from '../../src/server/tree/data-tree.ts';
import type { ReplicatedSettings } from '../../src/server/tree/settings.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';
import type { Link } from './network.ts';

const NOTIFICATION_XID = -1;

interface LinkState {
  frames: FrameDecoder;
  /** The ConnectResponse is the first frame, and has no reply header. */
  handshook: boolean;
  sessionId: bigint;
  lastXid: number;
}

export class Checker {
  readonly violations: string[] = [];
  /** The highest zxid any client has been told of. */
  maxZxidSeen = 0;
  private readonly links = new Map<number, LinkState>();
  private readonly sessionZxid = new Map<bigint, number>();
  /** Sessions known closed (the leader's tree lost them), with when that was seen. */
  readonly closedAt = new Map<bigint, number>();
  /** The settings of the first tree (its secret): a replay from the start begins with them. */
  private settings: ReplicatedSettings | null = null;

  /** `onFail` runs at the first violation (the simulator stops there). */
  constructor(private readonly now: () => number, private readonly onFail: () => void = () => {}) {}

  fail(what: string): void {
    this.violations.push(`t=${this.now().toFixed(1)}ms ${what}`);
    this.onFail();
  }

  /** The first server started, on empty stores. */
  started(tree: DataTree): void {
    this.settings = { ...tree.settings };
  }

  /** Bytes the server sent on a connection. */
  observe(link: Link, chunk: Buffer): void {
    let s = this.links.get(link.id);
    if (!s) this.links.set(link.id, (s = { frames: new FrameDecoder(1 << 30), handshook: false, sessionId: 0n, lastXid: 0 }));
    s.frames.push(chunk);
    for (let frame = s.frames.next(); frame !== null; frame = s.frames.next()) {
      if (!s.handshook) {
        s.handshook = true;
        s.sessionId = frame.readBigInt64BE(8);
        const closed = this.closedAt.get(s.sessionId);
        // A connection opened after its session closed must be told it expired (timeout 0).
        if (closed !== undefined && link.openedAt > closed && frame.readInt32BE(4) > 0) this.fail(`connection ${link.id} to member ${link.target}: session 0x${BigInt.asUintN(64, s.sessionId).toString(16)} reopened, closed since t=${closed.toFixed(1)}`);
        continue;
      }
      this.reply(link, s, frame.readInt32BE(0), Number(frame.readBigInt64BE(4)));
    }
  }

  /** The session a connection's handshake gave (0 before it, or when refused). */
  sessionOn(link: Link): bigint {
    return this.links.get(link.id)?.sessionId ?? 0n;
  }

  private reply(link: Link, s: LinkState, xid: number, zxid: number): void {
    if (xid === NOTIFICATION_XID) return;
    if (xid > 0) {
      if (xid <= s.lastXid) this.fail(`connection ${link.id}: reply xid ${xid} after ${s.lastXid}`);
      s.lastXid = xid;
    }
    const last = this.sessionZxid.get(s.sessionId) ?? 0;
    if (zxid < last) this.fail(`session 0x${BigInt.asUintN(64, s.sessionId).toString(16)}: reply zxid 0x${zxid.toString(16)} after 0x${last.toString(16)}`);
    this.sessionZxid.set(s.sessionId, Math.max(last, zxid));
    if (zxid > this.maxZxidSeen) this.maxZxidSeen = zxid;
  }

  /** A server restarted on what its disk kept (`log`: every Txn durable in it). */
  restarted(tree: DataTree, log: readonly TxnEntry[]): void {
    if (tree.lastProcessedZxid < this.maxZxidSeen) {
      this.fail(`restart lost acknowledged state: clients saw zxid 0x${this.maxZxidSeen.toString(16)}, the server restarted at 0x${tree.lastProcessedZxid.toString(16)}`);
    }
    this.sameAsLog(tree, log, 'after restart');
  }

  /**
   * The tree equals the replay of the durable log. Between events that holds at any time: a Txn is
   * applied right when it becomes durable.
   */
  sameAsLog(tree: DataTree, log: readonly TxnEntry[], when: string): void {
    const replay = new DataTree(this.settings ?? {});
    for (const entry of log) replay.apply(entry);
    const got = digest(tree);
    const want = digest(replay);
    if (got !== want) this.fail(`${when}: the tree (zxid 0x${tree.lastProcessedZxid.toString(16)}, digest ${got.slice(0, 12)}) differs from a replay of the durable log (zxid 0x${replay.lastProcessedZxid.toString(16)}, ${want.slice(0, 12)})`);
  }

  /** Every ephemeral belongs to a session that is live; the tracker and the tree agree on sessions. */
  ephemeralsOwned(tree: DataTree, trackerSessions: Iterable<bigint>): void {
    const tracked = new Set(trackerSessions);
    for (const [path, node] of tree.nodes.entries()) {
      if (ephemeralKind(node.ephemeralOwner, tree.extendedTypes) !== 'normal') continue;
      if (!tree.sessions.has(node.ephemeralOwner)) this.fail(`ephemeral ${path} outlives its session 0x${BigInt.asUintN(64, node.ephemeralOwner).toString(16)}`);
    }
    for (const id of tree.sessions.keys()) if (!tracked.has(id)) this.fail(`session 0x${BigInt.asUintN(64, id).toString(16)} is in the tree but not tracked (it can never expire)`);
  }
}

/** A digest of everything replicated: nodes with their Stat and ACL, sessions, the last zxid. */
export function digest(tree: DataTree): string {
  const h = createHash('sha256');
  const nodes = [...tree.nodes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [path, n] of nodes) {
    h.update(`${path}\0${n.data === null ? '-' : n.data.toString('hex')}\0${n.czxid},${n.mzxid},${n.ctime},${n.mtime},${n.version},${n.cversion},${n.aversion},${n.ephemeralOwner},${n.pzxid},${n.children.size}\0`);
    h.update(JSON.stringify(n.acl));
  }
  for (const [id, timeout] of [...tree.sessions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) h.update(`${id}:${timeout};`);
  h.update(String(tree.lastProcessedZxid));
  return h.digest('hex');
}
