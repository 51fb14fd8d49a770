/**
 * What the simulator checks. On the wire (every byte the server sends): each connection's replies
 * come in the order of their requests, and a session never sees the zxid go back, across
 * reconnections and restarts. On the state: a restarted server holds every zxid a client has seen
 * and exactly the tree that replaying the Txns it applied produces; every ephemeral belongs to a
 * live session.
 */
import { createHash } from 'node:crypto';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { DataTree, ephemeralKind } from '../../src/server/tree/data-tree.ts';
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
  /** The tree as replaying every Txn the server applied makes it. */
  private reference: DataTree;

  /** `onFail` runs at the first violation (the simulator stops there). */
  constructor(private readonly now: () => number, private readonly onFail: () => void = () => {}) {
    this.reference = new DataTree();
  }

  fail(what: string): void {
    this.violations.push(`t=${this.now().toFixed(1)}ms ${what}`);
    this.onFail();
  }

  /** A fresh server started from empty stores: the reference starts from its (empty) tree's settings. */
  started(tree: DataTree): void {
    if (this.reference.lastProcessedZxid === 0) this.reference = new DataTree(tree.settings);
  }

  applied(entry: TxnEntry): void {
    this.reference.apply(entry);
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
        continue;
      }
      this.reply(link, s, frame.readInt32BE(0), Number(frame.readBigInt64BE(4)));
    }
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

  /** A server restarted on what its disk kept. */
  restarted(tree: DataTree): void {
    if (tree.lastProcessedZxid < this.maxZxidSeen) {
      this.fail(`restart lost acknowledged state: clients saw zxid 0x${this.maxZxidSeen.toString(16)}, the server restarted at 0x${tree.lastProcessedZxid.toString(16)}`);
    }
    this.sameAsReference(tree, 'after restart');
  }

  sameAsReference(tree: DataTree, when: string): void {
    const got = digest(tree);
    const want = digest(this.reference);
    if (got !== want) this.fail(`${when}: the tree (zxid 0x${tree.lastProcessedZxid.toString(16)}, digest ${got.slice(0, 12)}) differs from the replay of the Txns applied (zxid 0x${this.reference.lastProcessedZxid.toString(16)}, ${want.slice(0, 12)})`);
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
