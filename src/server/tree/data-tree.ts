/**
 * The znode tree and everything derived from it: ephemeral owners, containers, TTL nodes and the
 * sessions table: the replicated state. `apply` is the one function that changes it; it returns
 * the result and the watch events the Txn caused, and touches nothing outside the tree.
 */
import { CONTAINER_EPHEMERAL_OWNER, Err, EventType, KeeperError, OpCode, TTL_OWNER_MARK } from '../../protocol/constants.ts';
import type { ACL, Stat } from '../../protocol/records.ts';
import { parentOf, baseName } from '../../protocol/path.ts';
import { copiedCapacity, inHashTableOrder, javaHash } from '../java-hash.ts';
import { ChildSet } from './child-set.ts';
import { LIMIT_NODE, QUOTA_ROOT, QuotaError, STAT_NODE, StatsTrack, statPath } from '../../protocol/stats-track.ts';
import { NodeTable, type FrozenNodes } from './node-table.ts';
import { PathTrie } from './quota.ts';
import type { ReplicatedSettings } from './settings.ts';
import type { Txn, TxnEntry } from './txn.ts';
import { zxidFollows } from './zxid.ts';
import type { WatchEvent } from '../watches/watches.ts';

export const OPEN_ACL: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
export const READ_ACL: ACL[] = [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }];
const EMPTY = Buffer.alloc(0);

export interface ZNode {
  /** null when the client sent null: ZooKeeper keeps that distinct from empty. */
  data: Buffer | null;
  acl: ACL[];
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  pzxid: number;
  children: ChildSet;
}

export type EphemeralKind = 'void' | 'normal' | 'container' | 'ttl';

/** EphemeralType.get: what an ephemeralOwner value means. TTL encodings count only when enabled. */
export function ephemeralKind(owner: bigint, extendedTypes: boolean): EphemeralKind {
  if (owner === 0n) return 'void';
  if (owner === CONTAINER_EPHEMERAL_OWNER) return 'container';
  if (extendedTypes && owner < 0n && (BigInt.asUintN(64, owner) & TTL_OWNER_MARK) === TTL_OWNER_MARK) return 'ttl';
  return 'normal';
}

export function ttlOf(owner: bigint): number {
  return Number(BigInt.asUintN(64, owner) & 0xffffffffffn);
}

/**
 * The Stat clients see (DataNode.copyStat): cversion counts deletes too, and the owner of a
 * container or TTL node reads as 0 (only a session's own ephemerals show their owner).
 */
export function statOf(n: ZNode, extendedTypes: boolean): Stat {
  return {
    czxid: n.czxid, mzxid: n.mzxid, ctime: n.ctime, mtime: n.mtime,
    version: n.version, cversion: visibleCversion(n), aversion: n.aversion,
    ephemeralOwner: visibleOwner(n, extendedTypes), dataLength: n.data === null ? 0 : n.data.length, numChildren: n.children.size, pzxid: n.pzxid,
  };
}

/** The Stat's cversion: ZooKeeper counts a child's delete as well as its create. */
export function visibleCversion(n: ZNode): number {
  return n.cversion * 2 - n.children.size;
}

/** The Stat's ephemeralOwner: a session's own ephemerals show it, container and TTL nodes read as 0. */
export function visibleOwner(n: ZNode, extendedTypes: boolean): bigint {
  const owner = n.ephemeralOwner;
  return owner !== 0n && ephemeralKind(owner, extendedTypes) === 'normal' ? owner : 0n;
}

/**
 * The result type of a multi's sub-op, as ZooKeeper 3.8 reports it: a create2 op is logged as a
 * plain create txn, so both answer a CreateResult without stat (type create); container and TTL
 * creates answer one with a stat, which MultiResponse writes as create2.
 */
function multiResultType(opType: number): number {
  switch (opType) {
    case OpCode.create:
    case OpCode.create2:
      return OpCode.create;
    case OpCode.createContainer:
    case OpCode.createTTL:
      return OpCode.create2;
    default:
      return opType;
  }
}

export interface ApplyResult {
  err: number;
  path?: string;
  stat?: Stat;
  /** Per-op results of a multi, each with the op type it answers (OpCode.error for a failed op). */
  multi?: Array<{ type: number; err: number; path?: string; stat?: Stat }>;
}

export class ZxidOrderError extends Error {}

function newNode(data: Buffer | null, acl: ACL[], zxid: number, timeMs: number, ephemeralOwner: bigint): ZNode {
  return {
    data, acl, czxid: zxid, mzxid: zxid, ctime: timeMs, mtime: timeMs,
    version: 0, cversion: 0, aversion: 0, ephemeralOwner, pzxid: zxid, children: new ChildSet(),
  };
}

/**
 * A session's ephemeral paths. ZooKeeper keeps them in a java.util.HashSet (default table of 16,
 * never shrunk, kept until the session ends) and getEphemerals answers in the order of that set's
 * clone: this set is in insertion order and remembers the table size, and `inZooKeeperOrder`
 * derives ZooKeeper's order when asked, so creating and deleting stay plain Set operations.
 */
export class EphemeralSet extends Set<string> {
  /** The Java table size: 16, doubled whenever the size passes 3/4 of it. */
  capacity: number;

  constructor() {
    super();
    this.capacity = 16;
  }

  override add(path: string): this {
    super.add(path);
    if (this.size > this.capacity * 0.75) this.capacity *= 2;
    return this;
  }

  /**
   * The paths as DataTree.getEphemerals lists them: it returns a clone of the set, and a cloned
   * HashMap is sized for its current size and filled in the original's iteration order.
   */
  inZooKeeperOrder(): string[] {
    const paths = [...this];
    return inHashTableOrder(paths, paths.map(javaHash), [this.capacity, copiedCapacity(paths.length)]);
  }
}

export class DataTree {
  readonly nodes = new NodeTable();
  readonly ephemerals = new Map<bigint, EphemeralSet>();
  readonly containers = new Set<string>();
  readonly ttls = new Set<string>();
  /** Live sessions and their negotiated timeouts: part of the state, like the nodes. */
  readonly sessions = new Map<bigint, number>();
  /** The quota'd paths (DataTree.pTrie); empty unless a client set a quota. */
  readonly quotaTrie = new PathTrie();
  /** Told of what ZooKeeper's quota code would have thrown out of a txn (the server logs it). */
  onQuotaError: (err: QuotaError, path: string) => void = () => {};
  lastProcessedZxid = 0;
  /** Where the events of the Txn being applied go (null: nowhere). */
  private events: WatchEvent[] | null = null;

  settings: ReplicatedSettings;

  constructor(settings: Partial<ReplicatedSettings> = {}) {
    this.settings = { extendedTypes: settings.extendedTypes ?? false, sessionSecret: settings.sessionSecret ?? Buffer.alloc(0) };
    const root = newNode(EMPTY, OPEN_ACL, 0, 0, 0n);
    this.nodes.set('/', root);
    this.addSystemNode('/zookeeper', OPEN_ACL);
    this.addSystemNode('/zookeeper/quota', OPEN_ACL);
    this.addSystemNode('/zookeeper/config', READ_ACL);
    // DataTree.addConfigNode sets its ACL with version -1, which becomes the aversion.
    this.nodes.get('/zookeeper/config')!.aversion = -1;
  }

  get extendedTypes(): boolean {
    return this.settings.extendedTypes;
  }

  private addSystemNode(path: string, acl: ACL[]): void {
    this.nodes.set(path, newNode(EMPTY, acl, 0, 0, 0n));
    this.nodes.get(parentOf(path))!.children.add(baseName(path));
  }

  /** A node by path. As in ZooKeeper's DataTree, "" is another key for the root (reads do not validate paths). */
  get(path: string): ZNode | undefined {
    return this.nodes.get(path === '' ? '/' : path);
  }

  get nodeCount(): number {
    return this.nodes.size;
  }

  /** Descendants of path (the system nodes count under "/"). */
  allChildrenNumber(path: string): number {
    if (path === '/') return this.nodes.size - 1;
    // ZooKeeper counts the keys that start with path + "/": for "" that is every node, root included.
    if (path === '') return this.nodes.size;
    let count = 0;
    const stack = [path];
    while (stack.length > 0) {
      const p = stack.pop()!;
      // Counted without thawing frozen nodes.
      for (const c of this.nodes.childNames(p) ?? []) {
        count++;
        stack.push(p + '/' + c);
      }
    }
    return count;
  }

  /** The session's ephemeral paths, in insertion order. */
  ephemeralsOf(sessionId: bigint): ReadonlySet<string> {
    return this.ephemerals.get(sessionId) ?? new Set();
  }

  /** The session's ephemeral paths in the order ZooKeeper's getEphemerals lists them. */
  ephemeralsInZooKeeperOrder(sessionId: bigint): string[] {
    return this.ephemerals.get(sessionId)?.inZooKeeperOrder() ?? [];
  }

  // ---- loading a snapshot (recovery only) ----

  /**
   * Takes in a snapshot's nodes, which stay frozen until first used (see NodeTable), and rebuilds
   * the indexes from them: ephemerals, containers, TTL nodes, quotas.
   */
  load(frozen: FrozenNodes, lastZxid: number): void {
    this.ephemerals.clear();
    this.containers.clear();
    this.ttls.clear();
    for (const [path, owner] of frozen.owners()) this.index(path, owner);
    this.nodes.attach(frozen);
    this.setupQuota();
    this.lastProcessedZxid = lastZxid;
  }

  /**
   * Takes new settings (a data dir started with a different extendedTypesEnabled): the owners are
   * indexed again, since whether an owner marks a TTL node depends on it.
   */
  /**
   * /zookeeper/config's data: an ensemble member's view of its membership, as ZooKeeper's members
   * show it (set by each member, not replicated). ZooKeeper's members set it with DataTree.setData
   * at version -1, which becomes its dataVersion.
   */
  setConfigData(data: Buffer): void {
    const node = this.nodes.get('/zookeeper/config')!;
    node.data = data;
    node.version = -1;
  }

  /** Settings agreed by an ensemble, at the zxid of the entry that carried them. */
  applySettings(zxid: number, settings: ReplicatedSettings): void {
    this.advance(zxid);
    this.adoptSettings(settings);
  }

  /**
   * An ensemble's entry that changes no node (a new leader's first, whose zxid opens its epoch)
   * still moves the tree's zxid on, as a ZooKeeper follower's moves to its new leader's.
   */
  advance(zxid: number): void {
    if (!zxidFollows(this.lastProcessedZxid, zxid)) {
      throw new ZxidOrderError(`entry at 0x${zxid.toString(16)} does not follow 0x${this.lastProcessedZxid.toString(16)}`);
    }
    this.lastProcessedZxid = zxid;
  }

  adoptSettings(settings: ReplicatedSettings): void {
    const reindex = settings.extendedTypes !== this.settings.extendedTypes;
    this.settings = { ...settings };
    if (!reindex) return;
    this.ephemerals.clear();
    this.containers.clear();
    this.ttls.clear();
    for (const [path, node] of this.nodes.entries()) this.index(path, node.ephemeralOwner);
  }

  private index(path: string, ephemeralOwner: bigint): void {
    switch (ephemeralKind(ephemeralOwner, this.extendedTypes)) {
      case 'container': this.containers.add(path); break;
      case 'ttl': this.ttls.add(path); break;
      case 'normal': {
        let set = this.ephemerals.get(ephemeralOwner);
        if (!set) this.ephemerals.set(ephemeralOwner, (set = new EphemeralSet()));
        set.add(path);
        break;
      }
      case 'void': break;
    }
  }

  // ---- the one mutator ----

  /**
   * Applies the Txn that follows the last one applied (zxid last + 1, or the first of a later
   * epoch): anything else is a bug upstream, refused before the tree changes. Returns the result;
   * the changes that watches may wait for are appended to `events`, in order (the caller's array,
   * so that a member reuses one for every Txn; null when nobody is listening).
   */
  apply(entry: TxnEntry, events: WatchEvent[] | null = null): ApplyResult {
    const { header, txn } = entry;
    if (!zxidFollows(this.lastProcessedZxid, header.zxid)) {
      throw new ZxidOrderError(`txn 0x${header.zxid.toString(16)} does not follow 0x${this.lastProcessedZxid.toString(16)}`);
    }
    this.events = events;
    const result = this.applyTxn(header.sessionId, header.zxid, header.timeMs, txn);
    this.lastProcessedZxid = header.zxid;
    return result;
  }

  private applyTxn(sessionId: bigint, zxid: number, timeMs: number, txn: Txn): ApplyResult {
    try {
      switch (txn.kind) {
        case 'create': {
          const stat = this.createNode(txn.path, txn.data, txn.acl, txn.ephemeralOwner, txn.parentCVersion, zxid, timeMs);
          return { err: 0, path: txn.path, stat };
        }
        case 'delete':
          this.deleteNode(txn.path, zxid);
          return { err: 0, path: txn.path };
        case 'setData':
          return { err: 0, path: txn.path, stat: this.setData(txn.path, txn.data, txn.version, zxid, timeMs) };
        case 'setACL':
          return { err: 0, path: txn.path, stat: this.setACL(txn.path, txn.acl, txn.version) };
        case 'check':
          return { err: 0, path: txn.path };
        case 'error':
          return { err: txn.err };
        case 'createSession':
          this.sessions.set(sessionId, txn.timeoutMs);
          return { err: 0 };
        case 'closeSession':
          this.killSession(sessionId, txn.paths, zxid);
          return { err: 0 };
        case 'multi':
          return this.applyMulti(sessionId, zxid, timeMs, txn.ops);
      }
    } catch (e) {
      if (e instanceof KeeperError) return { err: e.code };
      throw e;
    }
  }

  private applyMulti(sessionId: bigint, zxid: number, timeMs: number, ops: Array<{ type: number; txn: Txn }>): ApplyResult {
    const failedAt = ops.findIndex((op) => op.txn.kind === 'error');
    const results: NonNullable<ApplyResult['multi']> = [];
    let err = 0;
    ops.forEach((op, i) => {
      if (failedAt >= 0) {
        const code = op.txn.kind === 'error' ? op.txn.err : i > failedAt ? Err.RUNTIMEINCONSISTENCY : Err.OK;
        results.push({ type: OpCode.error, err: code });
        if (code !== 0 && err === 0) err = code;
        return;
      }
      const r = this.applyTxn(sessionId, zxid, timeMs, op.txn);
      results.push({ type: r.err === 0 ? multiResultType(op.type) : OpCode.error, err: r.err, path: r.path, stat: r.stat });
      if (r.err !== 0 && err === 0) err = r.err;
    });
    return { err, multi: results };
  }

  private createNode(path: string, data: Buffer | null, acl: ACL[], ephemeralOwner: bigint, parentCVersion: number, zxid: number, timeMs: number): Stat {
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath);
    if (!parent) throw new KeeperError(Err.NONODE, path);
    const name = baseName(path);
    if (parent.children.has(name)) {
      // The parent's count is still carried: replaying the log over a fuzzy snapshot that caught
      // the child but not its parent's count (DataTree.processTxn does the same).
      if (parentCVersion > parent.cversion) {
        parent.cversion = parentCVersion;
        parent.pzxid = zxid;
      }
      throw new KeeperError(Err.NODEEXISTS, path);
    }
    if (parentCVersion === -1) parentCVersion = parent.cversion + 1;
    if (parentCVersion > parent.cversion) {
      parent.cversion = parentCVersion;
      parent.pzxid = zxid;
    }
    const node = newNode(data, acl, zxid, timeMs, ephemeralOwner);
    parent.children.add(name);
    this.nodes.set(path, node);
    this.index(path, ephemeralOwner);
    // The reply's Stat is taken before the quota work, which may rewrite this very node's data.
    const stat = statOf(node, this.extendedTypes);
    if (parentPath.startsWith(QUOTA_ROOT)) this.quotaNodeCreated(parentPath, name, path);
    if (this.quotaTrie.size !== 0) this.updateQuotaStat(path, data === null ? 0 : data.length, 1);
    this.events?.push({ type: EventType.NodeCreated, path, acl }, { type: EventType.NodeChildrenChanged, path: parentPath, acl: parent.acl });
    return stat;
  }

  private deleteNode(path: string, zxid: number): void {
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath);
    if (!parent) throw new KeeperError(Err.NONODE, path);
    const name = baseName(path);
    parent.children.delete(name);
    if (zxid > parent.pzxid) parent.pzxid = zxid;
    const node = this.nodes.get(path);
    if (!node) throw new KeeperError(Err.NONODE, path);
    this.nodes.delete(path);
    switch (ephemeralKind(node.ephemeralOwner, this.extendedTypes)) {
      case 'container': this.containers.delete(path); break;
      case 'ttl': this.ttls.delete(path); break;
      case 'normal': this.ephemerals.get(node.ephemeralOwner)?.delete(path); break;
      case 'void': break;
    }
    if (name === LIMIT_NODE && parentPath.startsWith('/zookeeper')) this.quotaLimitDeleted(parentPath, path);
    if (this.quotaTrie.size !== 0) this.updateQuotaStat(path, node.data === null ? 0 : -node.data.length, -1);
    this.events?.push({ type: EventType.NodeDeleted, path, acl: node.acl }, { type: EventType.NodeChildrenChanged, path: parentPath, acl: parent.acl });
  }

  private setData(path: string, data: Buffer | null, version: number, zxid: number, timeMs: number): Stat {
    const n = this.nodes.get(path);
    if (!n) throw new KeeperError(Err.NONODE, path);
    const old = n.data;
    n.data = data;
    n.mtime = timeMs;
    n.mzxid = zxid;
    n.version = version;
    const stat = statOf(n, this.extendedTypes);
    if (this.quotaTrie.size !== 0) this.updateQuotaStat(path, (data === null ? 0 : data.length) - (old === null ? 0 : old.length), 0);
    this.events?.push({ type: EventType.NodeDataChanged, path, acl: n.acl });
    return stat;
  }

  private setACL(path: string, acl: ACL[], version: number): Stat {
    const n = this.nodes.get(path);
    if (!n) throw new KeeperError(Err.NONODE, path);
    n.aversion = version;
    n.acl = acl;
    return statOf(n, this.extendedTypes);
  }

  // ---- quotas (DataTree's pTrie, updateQuotaStat, updateQuotaForPath, setupQuota) ----

  /**
   * getMaxPrefixWithQuota: the deepest quota'd path that is path or a component-wise prefix of it
   * (null when none, or when it would be the root).
   */
  maxPrefixWithQuota(path: string): string | null {
    if (this.quotaTrie.size === 0) return null;
    const prefix = this.quotaTrie.findMaxPrefix(path);
    return prefix === '/' || prefix === '' ? null : prefix;
  }

  /** createNode under /zookeeper/quota: a limits node marks its path, a stats node is (re)counted. */
  private quotaNodeCreated(parentPath: string, name: string, path: string): void {
    // Quotas.trimQuotaPath, on the parent as ZooKeeper names it.
    const quotaPath = parentPath.slice(QUOTA_ROOT.length);
    try {
      if (name === LIMIT_NODE) this.quotaTrie.add(quotaPath);
      if (name === STAT_NODE) this.updateQuotaForPath(quotaPath);
    } catch (e) {
      if (!(e instanceof QuotaError)) throw e;
      this.onQuotaError(e, path);
    }
  }

  /** deleteNode of a limits node anywhere below /zookeeper: its path is no longer quota'd. */
  private quotaLimitDeleted(parentPath: string, path: string): void {
    try {
      // trimQuotaPath is substring(16): Java throws on a shorter parent.
      if (parentPath.length < QUOTA_ROOT.length) throw new QuotaError(`StringIndexOutOfBoundsException: begin ${QUOTA_ROOT.length}, length ${parentPath.length}`);
      this.quotaTrie.delete(parentPath.slice(QUOTA_ROOT.length));
    } catch (e) {
      if (!(e instanceof QuotaError)) throw e;
      this.onQuotaError(e, path);
    }
  }

  /**
   * updateQuotaStat, for a change at path: adds the differences to the stats node of the quota
   * above it, without touching that node's version or mzxid (only its data, hence dataLength).
   */
  private updateQuotaStat(path: string, bytesDiff: number, countDiff: number): void {
    const prefix = this.maxPrefixWithQuota(path);
    if (prefix === null) return;
    const stats = this.nodes.get(statPath(prefix));
    if (!stats) return;
    try {
      const track = new StatsTrack(stats.data);
      track.count = track.count + BigInt(countDiff);
      track.bytes = track.bytes + BigInt(bytesDiff);
      stats.data = track.bytesOf();
    } catch (e) {
      // ZooKeeper's txn processor dies on this (and its restarts replay into it again); Ensemble
      // keeps serving and leaves the stats as they were.
      if (!(e instanceof QuotaError)) throw e;
      this.onQuotaError(e, path);
    }
  }

  /** updateQuotaForPath: counts the subtree at path (itself included) into its stats node. */
  private updateQuotaForPath(path: string): void {
    let count = 0;
    let bytes = 0;
    const stack = [path];
    while (stack.length > 0) {
      const p = stack.pop()!;
      // getNode: "" is the root's alias; the children of "/" are looked up as "//name" and missed.
      const n = this.get(p);
      if (!n) continue;
      count++;
      bytes += n.data === null ? 0 : n.data.length;
      for (const c of n.children) stack.push(p + '/' + c);
    }
    const stats = this.nodes.get(statPath(path));
    if (!stats) return;
    const track = new StatsTrack();
    track.bytes = BigInt(bytes);
    track.count = BigInt(count);
    stats.data = track.bytesOf();
  }

  /**
   * setupQuota, after loading a snapshot: every limits node that is a leaf marks its path again,
   * whose stats node is recounted. Txns replayed from the log then update them as usual.
   */
  private setupQuota(): void {
    this.quotaTrie.clear();
    if (!this.nodes.has(QUOTA_ROOT)) return;
    const suffix = '/' + LIMIT_NODE;
    const stack = [QUOTA_ROOT];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const n = this.nodes.get(p);
      if (!n) continue;
      if (n.children.size > 0) {
        for (const c of n.children) stack.push(p + '/' + c);
        continue;
      }
      if (!p.endsWith(suffix)) continue;
      const quotaPath = p.slice(QUOTA_ROOT.length, p.indexOf(suffix));
      try {
        this.updateQuotaForPath(quotaPath);
        this.quotaTrie.add(quotaPath);
      } catch (e) {
        if (!(e instanceof QuotaError)) throw e;
        this.onQuotaError(e, p);
      }
    }
  }

  private killSession(sessionId: bigint, paths: string[], zxid: number): void {
    this.sessions.delete(sessionId);
    const local = this.ephemerals.get(sessionId);
    this.ephemerals.delete(sessionId);
    const all = new Set(paths);
    if (local) for (const p of local) all.add(p);
    for (const p of all) {
      try {
        this.deleteNode(p, zxid);
      } catch (e) {
        if (!(e instanceof KeeperError)) throw e;
      }
    }
  }
}
