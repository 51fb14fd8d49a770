/**
 * Prep: validate a write against the tree plus the writes still in flight, check ACLs, and turn
 * it into a Txn with the next zxid. A failed write still consumes a zxid, as an error txn, exactly
 * as Apache ZooKeeper's PrepRequestProcessor does.
 */
import {
  CONTAINER_EPHEMERAL_OWNER, CreateFlag, Err, KeeperError, MAX_TTL_MS, OpCode, Perms, TTL_OWNER_MARK,
} from '../../protocol/constants.ts';
import { pathError } from '../../protocol/path.ts';
import { keepable } from '../../protocol/frame-decoder.ts';
import type { ACL, CheckVersionRequest, CreateRequest, DeleteRequest, Id, MultiOp, SetACLRequest, SetDataRequest } from '../../protocol/records.ts';
import { checkACL, fixupACL } from '../auth/acl.ts';
import { copiedCapacity, grownCapacity, inHashTableOrder, javaHash } from '../java-hash.ts';
import { ephemeralKind, type DataTree } from '../tree/data-tree.ts';
import { limitPath, QuotaError, statPath, StatsTrack } from '../../protocol/stats-track.ts';
import type { Txn, TxnEntry } from '../tree/txn.ts';

export type WriteRequest =
  | { type: typeof OpCode.create | typeof OpCode.create2 | typeof OpCode.createContainer | typeof OpCode.createTTL; req: CreateRequest }
  | { type: typeof OpCode.delete; req: DeleteRequest }
  | { type: typeof OpCode.setData; req: SetDataRequest }
  | { type: typeof OpCode.setACL; req: SetACLRequest }
  | { type: typeof OpCode.check; req: CheckVersionRequest }
  | { type: typeof OpCode.multi; ops: MultiOp[] }
  | { type: typeof OpCode.createSession; timeoutMs: number }
  | { type: typeof OpCode.closeSession }
  | { type: typeof OpCode.deleteContainer; path: string }
  /** A write refused before prep looks at it (a body that does not decode: MARSHALLINGERROR); it still takes a zxid. */
  | { type: number; rejectWith: number };

export interface PrepContext {
  sessionId: bigint;
  /** The member the request came through (the one holding the session's connection). */
  owner: number;
  cxid: number;
  authInfo: readonly Id[];
  timeMs: number;
}

/** What prep knows of a node: the tree's view plus in-flight changes. `exists: false` = being deleted. */
interface ChangeRecord {
  zxid: number;
  path: string;
  exists: boolean;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  childCount: number;
  acl: ACL[];
  /** The node's data as of this record (ZooKeeper's ChangeRecord.data: the quota check's "before"). */
  data: Buffer | null;
}

/**
 * What ZooKeeper's PrepRequestProcessor answers MARSHALLINGERROR for: a runtime exception while
 * preparing (here: limits or stats text that does not parse), which fails the whole request, a
 * multi included.
 */
class PrepFailure extends Error {}

export interface PrepOptions {
  maxDataBytes: number;
  /** zookeeper.enforceQuota: refuse creates and setData beyond a hard quota limit (QUOTAEXCEEDED). */
  enforceQuota?: boolean;
  /** ACL schemes without a registered provider (sasl unless authProvider.N names SASL's): INVALIDACL. */
  unregisteredSchemes?: ReadonlySet<string>;
  /**
   * SessionTrackerImpl.checkSession: throws SESSIONEXPIRED unless the session is live and not
   * closing, SESSIONMOVED unless `owner` holds its connection.
   */
  checkSession(sessionId: bigint, owner: number): void;
}

export class Prep {
  private readonly outstanding = new Map<string, ChangeRecord>();
  private readonly changes: ChangeRecord[] = [];
  private zxid: number;

  constructor(private readonly tree: DataTree, private readonly options: PrepOptions) {
    this.zxid = tree.lastProcessedZxid;
  }

  get lastZxid(): number {
    return this.zxid;
  }

  /**
   * Start over from the applied tree, numbering from `lastZxid` (a member that became its
   * ensemble's leader, once it has applied its whole log): no write is in flight.
   */
  restart(lastZxid: number): void {
    this.outstanding.clear();
    this.changes.length = 0;
    this.zxid = lastZxid;
  }

  /**
   * The paths closeSession deletes, in the order ZooKeeper's prep lists them (and so deletes them and
   * fires their watches): a copy of the session's HashSet, then each write in flight removes a path
   * it deletes or adds one of the session's ephemerals.
   */
  private ephemeralsInFlight(sessionId: bigint): string[] {
    const es = new Set(this.tree.ephemeralsInZooKeeperOrder(sessionId));
    // An empty set's copy gets the default table; a copy of n entries is sized for n.
    let capacity = es.size === 0 ? 16 : copiedCapacity(es.size);
    for (const c of this.changes) {
      if (!c.exists) es.delete(c.path);
      else if (c.ephemeralOwner === sessionId && !es.has(c.path)) {
        es.add(c.path);
        capacity = grownCapacity(es.size, capacity);
      }
    }
    const paths = [...es];
    return inHashTableOrder(paths, paths.map(javaHash), [capacity]);
  }

  prepare(ctx: PrepContext, request: WriteRequest): TxnEntry {
    const zxid = ++this.zxid;
    const header = { sessionId: ctx.sessionId, cxid: ctx.cxid, zxid, timeMs: ctx.timeMs, type: request.type };
    if ('rejectWith' in request) return { header: { ...header, type: OpCode.error }, txn: { kind: 'error', err: request.rejectWith } };
    const mark = this.changes.length;
    try {
      if (request.type === OpCode.multi) return { header, txn: this.prepareMulti(ctx, zxid, request.ops) };
      return { header, txn: this.toTxn(ctx, zxid, request) };
    } catch (e) {
      this.rollBackTo(mark);
      if (e instanceof PrepFailure) return { header: { ...header, type: OpCode.error }, txn: { kind: 'error', err: Err.MARSHALLINGERROR } };
      if (!(e instanceof KeeperError)) throw e;
      return { header: { ...header, type: OpCode.error }, txn: { kind: 'error', err: e.code } };
    }
  }

  /**
   * All-or-nothing: on the first failure, every in-flight record this multi made is rolled back,
   * whatever op failed and wherever (ZooKeeper's rollbackPendingChanges).
   */
  private prepareMulti(ctx: PrepContext, zxid: number, ops: MultiOp[]): Txn {
    const mark = this.changes.length;
    const out: Array<{ type: number; txn: Txn }> = [];
    let failed = false;
    for (const op of ops) {
      if (failed) {
        out.push({ type: OpCode.error, txn: { kind: 'error', err: Err.RUNTIMEINCONSISTENCY } });
        continue;
      }
      try {
        out.push({ type: op.type, txn: this.toTxn(ctx, zxid, op as WriteRequest) });
      } catch (e) {
        this.rollBackTo(mark);
        if (!(e instanceof KeeperError)) throw e;
        failed = true;
        out.push({ type: OpCode.error, txn: { kind: 'error', err: e.code } });
      }
    }
    return { kind: 'multi', ops: out };
  }

  /**
   * Forget the records made since `changes` had `mark` entries: each path they touched goes back to
   * its latest earlier record, or to the tree's view when no earlier write is in flight.
   */
  private rollBackTo(mark: number): void {
    const undone = new Set<string>();
    for (let i = this.changes.length - 1; i >= mark; i--) undone.add(this.changes[i].path);
    this.changes.length = mark;
    for (const path of undone) this.outstanding.delete(path);
    for (let i = mark - 1; i >= 0 && undone.size > 0; i--) {
      const c = this.changes[i];
      if (undone.delete(c.path)) this.outstanding.set(c.path, c);
    }
  }

  /** The tree has applied everything up to zxid: forget the records it now reflects. */
  applied(zxid: number): void {
    let i = 0;
    while (i < this.changes.length && this.changes[i].zxid <= zxid) {
      const c = this.changes[i];
      if (this.outstanding.get(c.path) === c) this.outstanding.delete(c.path);
      i++;
    }
    if (i > 0) this.changes.splice(0, i);
  }

  private record(path: string): ChangeRecord {
    const c = this.outstanding.get(path);
    if (c) {
      if (!c.exists) throw new KeeperError(Err.NONODE, path);
      return c;
    }
    const n = this.tree.get(path);
    if (!n) throw new KeeperError(Err.NONODE, path);
    return {
      zxid: n.mzxid, path, exists: true, version: n.version, cversion: n.cversion, aversion: n.aversion,
      ephemeralOwner: n.ephemeralOwner, childCount: n.children.size, acl: n.acl, data: n.data,
    };
  }

  private exists(path: string): boolean {
    const c = this.outstanding.get(path);
    return c ? c.exists : this.tree.get(path) !== undefined;
  }

  private add(c: ChangeRecord): ChangeRecord {
    this.changes.push(c);
    this.outstanding.set(c.path, c);
    return c;
  }


  private toTxn(ctx: PrepContext, zxid: number, request: WriteRequest): Txn {
    switch (request.type) {
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createContainer:
      case OpCode.createTTL:
        return this.create(ctx, zxid, (request as { req: CreateRequest }).req);
      case OpCode.delete: {
        this.options.checkSession(ctx.sessionId, ctx.owner);
        const { path, version } = (request as { req: DeleteRequest }).req;
        const parentPath = this.parentForDelete(path);
        const parent = this.record(parentPath);
        checkACL(parent.acl, Perms.DELETE, ctx.authInfo, path);
        const node = this.record(path);
        checkVersion(node.version, version, path);
        if (node.childCount > 0) throw new KeeperError(Err.NOTEMPTY, path);
        this.add(derive(parent, zxid)).childCount--;
        this.add(derive(node, zxid)).exists = false;
        return { kind: 'delete', path };
      }
      case OpCode.deleteContainer: {
        const { path } = request as { path: string };
        const parentPath = this.parentForDelete(path);
        const node = this.record(path);
        if (node.childCount > 0) throw new KeeperError(Err.NOTEMPTY, path);
        if (ephemeralKind(node.ephemeralOwner, this.tree.extendedTypes) === 'normal') throw new KeeperError(Err.BADVERSION, path);
        const parent = this.record(parentPath);
        this.add(derive(parent, zxid)).childCount--;
        this.add(derive(node, zxid)).exists = false;
        return { kind: 'delete', path };
      }
      case OpCode.setData: {
        this.options.checkSession(ctx.sessionId, ctx.owner);
        const { path, data, version } = (request as { req: SetDataRequest }).req;
        this.validatePath(path);
        const node = this.record(path);
        checkACL(node.acl, Perms.WRITE, ctx.authInfo, path);
        if (this.options.enforceQuota) this.checkQuota(path, lengthOf(data) - lengthOf(node.data), 0);
        const newVersion = checkVersion(node.version, version, path);
        const copy = copyOf(data);
        const next = this.add(derive(node, zxid));
        next.version = newVersion;
        next.data = copy;
        return { kind: 'setData', path, data: copy, version: newVersion };
      }
      case OpCode.setACL: {
        this.options.checkSession(ctx.sessionId, ctx.owner);
        const { path, acl, version } = (request as { req: SetACLRequest }).req;
        this.validatePath(path);
        const fixed = fixupACL(path, ctx.authInfo, acl, this.options.unregisteredSchemes);
        const node = this.record(path);
        checkACL(node.acl, Perms.ADMIN, ctx.authInfo, path);
        const newVersion = checkVersion(node.aversion, version, path);
        const next = this.add(derive(node, zxid));
        next.aversion = newVersion;
        next.acl = fixed;
        return { kind: 'setACL', path, acl: fixed, version: newVersion };
      }
      case OpCode.check: {
        this.options.checkSession(ctx.sessionId, ctx.owner);
        const { path, version } = (request as { req: CheckVersionRequest }).req;
        this.validatePath(path);
        const node = this.record(path);
        checkACL(node.acl, Perms.READ, ctx.authInfo, path);
        checkVersion(node.version, version, path);
        return { kind: 'check', path };
      }
      case OpCode.createSession:
        return { kind: 'createSession', timeoutMs: (request as { timeoutMs: number }).timeoutMs };
      case OpCode.closeSession: {
        const paths = this.ephemeralsInFlight(ctx.sessionId);
        for (const path of paths) {
          this.add(derive(this.recordOrEmpty(path), zxid)).exists = false;
        }
        return { kind: 'closeSession', paths };
      }
    }
    throw new KeeperError(Err.UNIMPLEMENTED);
  }

  private recordOrEmpty(path: string): ChangeRecord {
    try {
      return this.record(path);
    } catch {
      return { zxid: 0, path, exists: false, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n, childCount: 0, acl: [], data: null };
    }
  }

  private create(ctx: PrepContext, zxid: number, req: CreateRequest): Txn {
    const { flags, ttl } = req;
    if (flags < 0 || flags > CreateFlag.persistentSequentialWithTtl) throw new KeeperError(Err.BADARGUMENTS, req.path);
    const isTTL = flags === CreateFlag.persistentWithTtl || flags === CreateFlag.persistentSequentialWithTtl;
    const isContainer = flags === CreateFlag.container;
    const isEphemeral = flags === CreateFlag.ephemeral || flags === CreateFlag.ephemeralSequential;
    const isSequential = flags === CreateFlag.persistentSequential || flags === CreateFlag.ephemeralSequential || flags === CreateFlag.persistentSequentialWithTtl;
    if (isTTL && !this.tree.extendedTypes) throw new KeeperError(Err.UNIMPLEMENTED, req.path);
    if (isTTL ? ttl <= 0 || ttl > Number(MAX_TTL_MS) : ttl >= 0) throw new KeeperError(Err.BADARGUMENTS, req.path);
    this.options.checkSession(ctx.sessionId, ctx.owner);

    let path = req.path;
    const lastSlash = path.lastIndexOf('/');
    if (lastSlash === -1 || path.includes('\0')) throw new KeeperError(Err.BADARGUMENTS, path);
    const parentPath = lastSlash === 0 ? '/' : path.slice(0, lastSlash);
    const acl = fixupACL(path, ctx.authInfo, req.acl, this.options.unregisteredSchemes);
    const parent = this.record(parentPath);
    checkACL(parent.acl, Perms.CREATE, ctx.authInfo, path);
    if (isSequential) path += sequenceSuffix(parent.cversion);
    this.validatePath(path);
    if (this.exists(path)) throw new KeeperError(Err.NODEEXISTS, path);
    if (ephemeralKind(parent.ephemeralOwner, this.tree.extendedTypes) === 'normal') throw new KeeperError(Err.NOCHILDRENFOREPHEMERALS, path);
    const data = copyOf(req.data);
    if (data !== null && data.length > this.options.maxDataBytes) throw new KeeperError(Err.BADARGUMENTS, path);
    if (this.options.enforceQuota) this.checkQuota(path, lengthOf(data), 1);

    const newCversion = parent.cversion + 1;
    const ephemeralOwner = isContainer ? CONTAINER_EPHEMERAL_OWNER
      : isTTL ? BigInt.asIntN(64, TTL_OWNER_MARK | BigInt(ttl))
      : isEphemeral ? ctx.sessionId : 0n;
    const nextParent = this.add(derive(parent, zxid));
    nextParent.cversion = newCversion;
    nextParent.childCount++;
    this.add({ zxid, path, exists: true, version: 0, cversion: 0, aversion: 0, ephemeralOwner, childCount: 0, acl, data });
    return { kind: 'create', path, data, acl, ephemeralOwner, parentCVersion: newCversion };
  }

  /**
   * ZooKeeperServer.checkQuota, against the applied tree (as ZooKeeper: writes in flight do not
   * count): a hard limit the change would pass is QUOTAEXCEEDED; a soft one only logs in ZooKeeper.
   */
  private checkQuota(path: string, bytesDiff: number, countDiff: number): void {
    const prefix = this.tree.maxPrefixWithQuota(path);
    if (prefix === null) return;
    const limitNode = this.tree.get(limitPath(prefix));
    if (!limitNode) return;
    const limits = parseStats(limitNode.data);
    const checkCount = countDiff !== 0 && (limits.count > -1n || limits.countHardLimit > -1n);
    const checkBytes = bytesDiff !== 0 && (limits.bytes > -1n || limits.byteHardLimit > -1n);
    if (!checkCount && !checkBytes) return;
    const statNode = this.tree.get(statPath(prefix));
    if (!statNode) return;
    const current = parseStats(statNode.data);
    if (checkCount && limits.countHardLimit > -1n && BigInt.asIntN(64, current.count + BigInt(countDiff)) > limits.countHardLimit) {
      throw new KeeperError(Err.QUOTAEXCEEDED, prefix);
    }
    if (checkBytes && limits.byteHardLimit > -1n && BigInt.asIntN(64, current.bytes + BigInt(bytesDiff)) > limits.byteHardLimit) {
      throw new KeeperError(Err.QUOTAEXCEEDED, prefix);
    }
  }

  private validatePath(path: string): void {
    if (pathError(path) !== null) throw new KeeperError(Err.BADARGUMENTS, path);
  }

  /** getParentPathAndValidate: no parent, a NUL, or a system path is BadArguments. */
  private parentForDelete(path: string): string {
    const lastSlash = path.lastIndexOf('/');
    if (lastSlash === -1 || path.includes('\0') || isSpecialPath(path)) throw new KeeperError(Err.BADARGUMENTS, path);
    return lastSlash === 0 ? '/' : path.slice(0, lastSlash);
  }
}

/** ZKDatabase.isSpecialPath: the paths no client may delete. */
function isSpecialPath(path: string): boolean {
  return path === '/' || path === '/zookeeper' || path === '/zookeeper/quota' || path === '/zookeeper/config';
}

function checkVersion(current: number, expected: number, path: string): number {
  if (expected !== -1 && expected !== current) throw new KeeperError(Err.BADVERSION, path);
  return current + 1;
}

/** Java's String.format("%010d", n). */
export function sequenceSuffix(n: number): string {
  return n < 0 ? '-' + String(-n).padStart(9, '0') : String(n).padStart(10, '0');
}

function lengthOf(data: Buffer | null): number {
  return data === null ? 0 : data.length;
}

function parseStats(data: Buffer | null): StatsTrack {
  try {
    return new StatsTrack(data);
  } catch (e) {
    if (e instanceof QuotaError) throw new PrepFailure(e.message);
    throw e;
  }
}

/** A new change record for c's node at zxid, as c left it (the caller then sets what changes). */
function derive(c: ChangeRecord, zxid: number): ChangeRecord {
  return {
    zxid, path: c.path, exists: c.exists, version: c.version, cversion: c.cversion, aversion: c.aversion,
    ephemeralOwner: c.ephemeralOwner, childCount: c.childCount, acl: c.acl, data: c.data,
  };
}

/** Request bodies are views of socket buffers: the tree keeps data it may hold on to (keepable). */
function copyOf(data: Buffer | null): Buffer | null {
  return data === null ? null : data.length === 0 ? EMPTY : keepable(data);
}

const EMPTY = Buffer.alloc(0);
