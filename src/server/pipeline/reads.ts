/** Requests answered from the applied tree without a Txn (FinalRequestProcessor's read side). */
import { Err, KeeperError, OpCode, Perms, WatcherType } from '../../protocol/constants.ts';
import { JuteError, type JuteReader, type JuteWriter } from '../../protocol/jute.ts';
import {
  readAddWatch, readMulti, readPath, readPathType, readPathWatch, readSetWatches, writeACLs,
  writeMultiHeader, writeStat, type Id,
} from '../../protocol/records.ts';
import { checkACL, inJavaSetOrder, redactDigests, userOf } from '../auth/acl.ts';
import { statOf, type DataTree, type ZNode } from '../tree/data-tree.ts';
import type { Watcher, Watches } from '../watches/watches.ts';
import type { WatchTable } from '../watches/watch-table.ts';
import { writeFrame, writeHeader, writeNodeStat } from './replies.ts';

export interface ReadContext {
  tree: DataTree;
  /** The member's watch tables, where this connection's watches are set. */
  watches: Watches;
  watcher: Watcher;
  sessionId: bigint;
  authInfo: readonly Id[];
  /** reconfigEnabled: a standalone server then cannot reconfigure (UNIMPLEMENTED) rather than refusing it. */
  reconfigEnabled: boolean;
  /** ACL schemes without a registered provider: whoAmI names no user for them. */
  unregisteredSchemes?: ReadonlySet<string>;
}

export const READ_OPS = new Set<number>([
  OpCode.exists, OpCode.getData, OpCode.getACL, OpCode.getChildren, OpCode.sync, OpCode.ping,
  OpCode.getChildren2, OpCode.checkWatches, OpCode.removeWatches, OpCode.multiRead, OpCode.setWatches,
  OpCode.getEphemerals, OpCode.getAllChildrenNumber, OpCode.setWatches2, OpCode.addWatch, OpCode.whoAmI,
  // Answered without a txn: reconfig is refused (standalone, reconfigEnabled=false), SASL has no server.
  OpCode.reconfig, OpCode.sasl,
]);

type Body = ((w: JuteWriter) => void) | undefined;

/**
 * Execute one read and append its reply frame to w. Errors become ZooKeeper's error codes. The
 * common reads (getData, exists) write the node's data and Stat straight from the tree.
 */
export function executeRead(ctx: ReadContext, type: number, xid: number, r: JuteReader, w: JuteWriter): void {
  // ZooKeeperServer.processSasl answers with zxid 0, outside the pipeline's numbering.
  const zxid = type === OpCode.sasl ? 0 : ctx.tree.lastProcessedZxid;
  let err = 0;
  let body: Body;
  try {
    if (type === OpCode.getData || type === OpCode.exists) {
      const n = type === OpCode.getData ? getDataNode(ctx, r) : existsNode(ctx, r);
      // NONODE is answered without an exception: building one (its stack) costs more than the read.
      if (n === undefined) return writeFrame(w, xid, zxid, Err.NONODE, undefined);
      const mark = w.beginFrame();
      writeHeader(w, xid, zxid, 0);
      if (type === OpCode.getData) w.buffer(n.data);
      writeNodeStat(w, n, ctx.tree.extendedTypes);
      w.endFrame(mark);
      return;
    }
    body = read(ctx, type, r);
  } catch (e) {
    if (e instanceof KeeperError) err = e.code;
    else if (e instanceof JuteError) err = Err.MARSHALLINGERROR;
    else throw e;
  }
  writeFrame(w, xid, zxid, err, body);
}

/** GetDataRequest: the node (undefined: none), once its ACL allows the read (the watch is set only then). */
function getDataNode(ctx: ReadContext, r: JuteReader): ZNode | undefined {
  const path = r.string();
  const watch = r.bool();
  const n = ctx.tree.get(path);
  if (!n) return undefined;
  readable(ctx, n, path);
  if (watch) ctx.watches.watchData(path, ctx.watcher);
  return n;
}

/** ExistsRequest: the watch is set whether or not the node exists. */
function existsNode(ctx: ReadContext, r: JuteReader): ZNode | undefined {
  const path = r.string();
  const watch = r.bool();
  if (path.includes('\0')) throw new KeeperError(Err.BADARGUMENTS, path);
  if (watch) ctx.watches.watchData(path, ctx.watcher);
  return ctx.tree.get(path);
}

function readable(ctx: ReadContext, n: ZNode, path: string): void {
  checkACL(n.acl, Perms.READ, ctx.authInfo, path);
}

function read(ctx: ReadContext, type: number, r: JuteReader): Body {
  const { tree } = ctx;
  switch (type) {
    case OpCode.ping:
      return undefined;
    case OpCode.getChildren: {
      const { path, watch } = readPathWatch(r);
      const children = getChildren(ctx, path, watch).children.list();
      return (w) => w.vector(children, (x, c) => x.ustring(c));
    }
    case OpCode.getChildren2: {
      const { path, watch } = readPathWatch(r);
      const n = getChildren(ctx, path, watch);
      const children = n.children.list();
      const stat = statOf(n, ctx.tree.extendedTypes);
      return (w) => writeStat(w.vector(children, (x, c) => x.ustring(c)), stat);
    }
    case OpCode.getACL: {
      const { path } = readPath(r);
      const n = tree.get(path);
      if (!n) throw new KeeperError(Err.NONODE, path);
      checkACL(n.acl, Perms.READ | Perms.ADMIN, ctx.authInfo, path);
      let acl = n.acl;
      try {
        checkACL(n.acl, Perms.ADMIN, ctx.authInfo, path);
      } catch {
        acl = redactDigests(acl);
      }
      const stat = statOf(n, ctx.tree.extendedTypes);
      return (w) => writeStat(writeACLs(w, acl), stat);
    }
    case OpCode.reconfig: {
      // ReconfigRequest must decode (else MARSHALLINGERROR); then ZooKeeper refuses it, no zxid used.
      r.ustring(); r.ustring(); r.ustring(); r.long();
      throw new KeeperError(ctx.reconfigEnabled ? Err.UNIMPLEMENTED : Err.RECONFIGDISABLED);
    }
    case OpCode.sasl: {
      // GetSASLRequest; with no SASL server configured the answer is a SetSASLResponse with a null token.
      r.buffer();
      return (w) => w.buffer(null);
    }
    case OpCode.sync: {
      const { path } = readPath(r);
      return (w) => w.ustring(path);
    }
    case OpCode.getAllChildrenNumber: {
      const { path } = readPath(r);
      const n = tree.get(path);
      if (!n) throw new KeeperError(Err.NONODE, path);
      readable(ctx, n, path);
      const count = tree.allChildrenNumber(path);
      return (w) => w.int(count);
    }
    case OpCode.getEphemerals: {
      const prefix = r.ustring();
      const all = tree.ephemeralsInZooKeeperOrder(ctx.sessionId);
      const trimmed = prefix?.trim() ?? '';
      const list = trimmed === '' || trimmed === '/' ? all : all.filter((p) => p.startsWith(prefix!));
      return (w) => w.vector(list, (x, p) => x.ustring(p));
    }
    case OpCode.whoAmI: {
      const infos = inJavaSetOrder(ctx.authInfo).map((id) => ({ scheme: id.scheme, user: userOf(id, ctx.unregisteredSchemes) }));
      return (w) => w.vector(infos, (x, i) => x.ustring(i.scheme).ustring(i.user));
    }
    case OpCode.addWatch: {
      const { path, mode } = readAddWatch(r);
      if (mode !== 0 && mode !== 1) throw new JuteError(`unknown addWatch mode ${mode}`);
      ctx.watches.addWatch(path, ctx.watcher, mode === 1);
      return (w) => w.int(0);
    }
    case OpCode.setWatches:
    case OpCode.setWatches2: {
      const sw = readSetWatches(r, type === OpCode.setWatches2);
      ctx.watches.setWatches(tree, sw.relativeZxid, sw, ctx.watcher);
      return undefined;
    }
    case OpCode.checkWatches:
    case OpCode.removeWatches: {
      const { path, type: watcherType } = readPathType(r);
      // ZooKeeper's containsWatcher walks up the path to its parents, and a path with no slash makes
      // that walk throw: MARSHALLINGERROR (removeWatches does not walk).
      if (type === OpCode.checkWatches && path !== '' && !path.includes('/')) {
        throw new KeeperError(Err.MARSHALLINGERROR, path);
      }
      const fn = type === OpCode.checkWatches
        ? (m: WatchTable) => m.contains(path, ctx.watcher)
        : (m: WatchTable) => m.remove(path, ctx.watcher);
      let found: boolean;
      switch (watcherType) {
        case WatcherType.Children: found = fn(ctx.watches.child); break;
        case WatcherType.Data: found = fn(ctx.watches.data); break;
        case WatcherType.Any: {
          const c = fn(ctx.watches.child);
          const d = fn(ctx.watches.data);
          found = c || d;
          break;
        }
        default: throw new JuteError(`unknown watcher type ${watcherType}`);
      }
      if (!found) throw new KeeperError(Err.NOWATCHER, path);
      return undefined;
    }
    case OpCode.multiRead: {
      const ops = readMulti(r, true);
      const results = ops.map((op) => {
        try {
          if (op.type === OpCode.getChildren) {
            return { type: op.type, err: 0, children: getChildren(ctx, op.req.path, false).children.list() };
          }
          const { data, stat } = getData(ctx, op.req.path, false);
          return { type: op.type, err: 0, data, stat };
        } catch (e) {
          if (!(e instanceof KeeperError)) throw e;
          return { type: OpCode.error, err: e.code };
        }
      });
      return (w) => {
        for (const res of results) {
          writeMultiHeader(w, res.type, false, res.err);
          if ('children' in res) w.vector(res.children!, (x, c) => x.ustring(c));
          else if ('data' in res) writeStat(w.buffer(res.data!), res.stat!);
          else w.int(res.err);
        }
        writeMultiHeader(w, -1, true, -1);
      };
    }
  }
  throw new KeeperError(Err.UNIMPLEMENTED);
}

function getData(ctx: ReadContext, path: string, watch: boolean) {
  const n = ctx.tree.get(path);
  if (!n) throw new KeeperError(Err.NONODE, path);
  readable(ctx, n, path);
  if (watch) ctx.watches.watchData(path, ctx.watcher);
  return { data: n.data, stat: statOf(n, ctx.tree.extendedTypes) };
}

function getChildren(ctx: ReadContext, path: string, watch: boolean): ZNode {
  const n = ctx.tree.get(path);
  if (!n) throw new KeeperError(Err.NONODE, path);
  readable(ctx, n, path);
  if (watch) ctx.watches.watchChildren(path, ctx.watcher);
  return n;
}
